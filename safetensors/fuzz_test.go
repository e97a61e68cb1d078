package safetensors

import (
	"os"
	"strings"
	"testing"
)

// FuzzDecode checks that Decode never panics, that its errors are one
// line, and that what it accepts is consistent: tensors tiling the data
// section in order, each with the values its shape announces.
func FuzzDecode(f *testing.F) {
	fixture, err := os.ReadFile("testdata/fixture.safetensors")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	f.Add(st(`{}`, nil))
	f.Add(st(`{"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}, "__metadata__": {"k": "v"}}`, []byte{0, 0x3c, 0xff, 0x7f}))
	f.Add(st(`{"a": {"dtype": "BF16", "shape": [1, 1], "data_offsets": [0, 2]}, "b": {"dtype": "U8", "shape": [3], "data_offsets": [2, 5]}}`, make([]byte, 5)))
	f.Add(st(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}`, make([]byte, 12)))
	f.Add(st(`{"a": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}`, make([]byte, 8)))
	f.Add(st(`{"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}`, make([]byte, 2)))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one non-empty line", msg)
			}
			return
		}
		checkDecoded(t, file, b)
	})
}

// checkDecoded checks the invariants of a file Decode accepted from b.
func checkDecoded(t *testing.T, f *File, b []byte) {
	end := int64(0)
	for _, ts := range f.Tensors {
		if ts.Begin != end || ts.End < ts.Begin {
			t.Fatalf("tensor %q at [%d, %d], want it to begin at %d", ts.Name, ts.Begin, ts.End, end)
		}
		end = ts.End
		n, ok := count(ts.Shape)
		if !ok {
			t.Fatalf("tensor %q: shape %v overflows", ts.Name, ts.Shape)
		}
		if (ts.Float == nil) == (ts.NotFloat == "") {
			t.Fatalf("tensor %q: Float %v and NotFloat %q", ts.Name, ts.Float, ts.NotFloat)
		}
		if ts.Float != nil && uint64(len(ts.Float)) != n {
			t.Fatalf("tensor %q: %d values for shape %v", ts.Name, len(ts.Float), ts.Shape)
		}
	}
	if len(f.Tensors) > 0 && end > int64(len(b)) {
		t.Fatalf("tensors end at %d, past the %d bytes of the file", end, len(b))
	}
}
