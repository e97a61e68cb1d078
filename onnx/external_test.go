package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/onnx/onnxpb"
)

// withExternal moves the values of p to external data at location, with
// further external_data entries given as key, value pairs.
func withExternal(p *onnxpb.TensorProto, location string, kv ...string) *onnxpb.TensorProto {
	p.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	p.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(location)}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.ExternalData = append(p.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	return p
}

// externalModel returns modelProto's model with w [2, 3] at offset 8 of
// w.bin, b [2] in the rest of b.bin from offset 4, and the files, holding
// the values of weights(); dir is where they are written.
func externalModel(t *testing.T, dir string) *onnxpb.ModelProto {
	t.Helper()
	pad := []byte{9, 9, 9, 9, 9, 9, 9, 9}
	w := withExternal(tensorProto("w", Float32, 2, 3), "w.bin", "offset", "8", "length", "24", "checksum", "ignored")
	writeFile(t, filepath.Join(dir, "w.bin"), slices.Concat(pad, float32Raw(1, -2, 0.5, 0.25, 3, -1), pad))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := withExternal(tensorProto("b", Float32, 2), "sub/b.bin", "offset", "4")
	writeFile(t, filepath.Join(dir, "sub", "b.bin"), slices.Concat(pad[:4], float32Raw(0.125, -0.125)))
	return modelProto(8, 14, w, b)
}

// TestExternalData reads a model whose weights lie in external files, by
// Read and by Decode, and through symbolic links that stay inside the
// model's folder.
func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	p := externalModel(t, dir)
	path := filepath.Join(dir, "m.onnx")
	writeFile(t, path, marshal(t, p))
	check := func(what string, m *Model, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		w, b := m.Graph.Initializer("w"), m.Graph.Initializer("b")
		if !slices.Equal(w.Float, []float64{1, -2, 0.5, 0.25, 3, -1}) || !slices.Equal(b.Float, []float64{0.125, -0.125}) {
			t.Errorf("%s: w %v, b %v: want the values of weights()", what, w.Float, b.Float)
		}
	}
	m, err := Read(path)
	check("Read", m, err)
	m, err = Decode(marshal(t, p), dir)
	check("Decode", m, err)

	// The model's folder reached through a link, a link to a file inside
	// it, and a location with a "." and a ".." that stay inside.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	m, err = Decode(marshal(t, p), link)
	check("folder through a link", m, err)
	if err := os.Symlink("w.bin", filepath.Join(dir, "sub", "w-link.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "w.bin"), filepath.Join(dir, "sub", "w.bin")); err != nil {
		t.Fatal(err)
	}
	p.Graph.Initializer[0].ExternalData[0].Value = proto.String("./sub/w-link.bin")
	p.Graph.Initializer[1].ExternalData[0].Value = proto.String("sub/../sub/b.bin")
	m, err = Decode(marshal(t, p), dir)
	check("link inside the folder", m, err)
}

// TestExternalDataRefused checks that external data leaving the model's
// folder, or lying outside its file, is refused with an error naming its
// location.
func TestExternalDataRefused(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir()) // as errors write it
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(root, "x.bin")
	writeFile(t, outside, float32Raw(1, 2, 3, 4, 5, 6))
	writeFile(t, filepath.Join(dir, "w.bin"), float32Raw(1, 2, 3, 4, 5, 6))
	if err := os.Symlink(outside, filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(dir, "up")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "folder.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := func(location string, kv ...string) *onnxpb.TensorProto {
		return withExternal(tensorProto("", Float32, 2, 3), location, kv...)
	}
	tests := []struct {
		name   string
		p      *onnxpb.TensorProto
		dir    string
		errors []string
	}{
		{"absolute path", w(outside), dir, []string{`external data location "` + outside + `": want a relative path inside the model's folder`}},
		{"absolute path inside", w(filepath.Join(dir, "w.bin")), dir, []string{`location "` + filepath.Join(dir, "w.bin") + `": want a relative path`}},
		{"dot dot", w("../x.bin"), dir, []string{`external data location "../x.bin": want a relative path inside the model's folder, without ".." leading out`}},
		{"dot dot in the middle", w("sub/../../x.bin"), dir, []string{`location "sub/../../x.bin": want a relative path`}},
		{"link to a file outside", w("link.bin"), dir, []string{`external data location "link.bin": a link to "` + outside + `", outside the model's folder "` + dir + `"`}},
		{"link to a folder outside", w("up/x.bin"), dir, []string{`external data location "up/x.bin": a link to "` + outside + `", outside`}},
		{"link to the folder above", w("up"), dir, []string{`external data location "up": a link to "` + root + `", outside`}},
		{"missing file", w("nothing.bin"), dir, []string{`external data location "nothing.bin": lstat "` + filepath.Join(dir, "nothing.bin") + `": no such file or directory`}},
		{"missing file, newline", w("a\nb.bin"), dir, []string{`external data location "a\nb.bin": lstat "`, `\nb.bin": no such file or directory`}},
		{"missing file behind a link", w("up/a\nb.bin"), dir, []string{`external data location "up/a\nb.bin": lstat "` + root + `/a\nb.bin": no such`}},
		{"a folder", w("folder.bin"), dir, []string{`external data "folder.bin"`, "not a regular file"}},
		{"empty location", w(""), dir, []string{`external data without a location: want an external_data entry "location"`}},
		{"no location", withExternal(tensorProto("", Float32, 6), "w.bin", "location", ""), dir, []string{"external data without a location"}},
		{"no folder", w("w.bin"), "", []string{`external data in "w.bin": the model was given as bytes, without a folder`}},
		{"offset past the end", w("w.bin", "offset", "25"), dir, []string{`external data "w.bin": offset 25, length -1: past the end of the file (24 bytes)`}},
		{"length past the end", w("w.bin", "offset", "4", "length", "24"), dir, []string{`external data "w.bin": offset 4, length 24: past the end of the file (24 bytes)`}},
		{"huge length", w("w.bin", "offset", "1", "length", "9223372036854775807"), dir, []string{`external data "w.bin": offset 1, length 9223372036854775807: past the end`}},
		{"length too short", w("w.bin", "length", "20"), dir, []string{`external data "w.bin": 20 bytes from offset 0: 6 values need 24`}},
		{"rest too short", w("w.bin", "offset", "4"), dir, []string{`external data "w.bin": 20 bytes from offset 4: 6 values need 24`}},
		{"non-numeric offset", w("w.bin", "offset", "eight"), dir, []string{`external data "w.bin": offset "eight": want a byte count >= 0`}},
		{"negative length", w("w.bin", "length", "-24"), dir, []string{`external data "w.bin": length "-24": want a byte count >= 0`}},
		{"offset overflowing", w("w.bin", "offset", "9223372036854775808"), dir, []string{`external data "w.bin": offset "9223372036854775808"`}},
		{"and raw_data", withRaw(w("w.bin"), float32Raw(1, 2, 3, 4, 5, 6)), dir, []string{"values in external data and raw_data: want them in one field"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeTensor(t, tc.p, tc.dir)
			wantErr(t, err, append([]string{`onnx model: initializer 0: tensor "w": `}, tc.errors...)...)
		})
	}
}
