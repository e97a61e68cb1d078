package data

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestFixedInput(t *testing.T) {
	x, err := FixedInput("ones", "", 5)
	if err != nil || !slices.Equal(x, []float64{1, 1, 1, 1, 1}) {
		t.Errorf("ones: %v, %v; want five 1s", x, err)
	}
	g1, err := FixedInput("gaussian", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := FixedInput("gaussian", "", 100)
	if !slices.Equal(g1, g2) {
		t.Error("gaussian differs from call to call")
	}
	if m0, _ := InputMoments(g1); m0 < 0.5 || m0 > 1.5 {
		t.Errorf("gaussian: M0 %v, want about 1", m0)
	}

	dir := t.TempDir()
	f := newFakeIDX()
	f.write(t, dir, false)
	x, err = FixedInput("mnist:1", dir, 784)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := Image("mnist", dir, Test, 1)
	if !slices.Equal(x, want) {
		t.Error("mnist:1 is not test image 1")
	}

	for _, c := range []struct{ name, msg string }{
		{"mnist", `"mnist": want ones, gaussian or DATASET:K with DATASET one of mnist, fashion-mnist, cifar10`},
		{"nope:0", `"nope:0": want ones, gaussian or DATASET:K`},
		{"mnist:-1", `"mnist:-1": image index "-1": the mnist test set has 10000 images: want mnist:K with K one of 0, 1, ..., 9999`},
		{"mnist:x", `"mnist:x": image index "x": the mnist test set has 10000 images`},
		{"mnist:10000", `image index "10000": the mnist test set has 10000 images: want mnist:K with K one of 0, 1, ..., 9999`},
		{"mnist:99999999", `image index "99999999": the mnist test set has 10000 images`},
		{"mnist:99999999999999999999999", `image index "99999999999999999999999": the mnist test set has 10000 images`},
		{"fashion-mnist:12345", `image index "12345": the fashion-mnist test set has 10000 images: want fashion-mnist:K with K one of 0, 1, ..., 9999`},
		{"cifar10:-3", `image index "-3": the cifar10 test set has 10000 images`},
		{"mnist:", `image index "": the mnist test set`},
		{"mnist:+1", `image index "+1": the mnist test set`},
		{"mnist:01", `image index "01": the mnist test set`},
		{"mnist:1.5", `image index "1.5": the mnist test set`},
		{"mnist:1:2", `image index "1:2": the mnist test set`},
		{"cifar10:0", `"cifar10:0": a cifar10 image has 3072 values but the net's input has 784`},
	} {
		_, err := FixedInput(c.name, dir, 784)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want an *InputError containing %q", c.name, err, c.msg)
		}
	}
	_, err = FixedInput("mnist:9", dir, 784)
	var ie *InputError
	if err == nil || errors.As(err, &ie) {
		t.Errorf("mnist:9 of 2 test images: error %v, want a read error", err)
	}
}

func TestInputMoments(t *testing.T) {
	m0, l4 := InputMoments([]float64{1, -1, 2, 0})
	if math.Abs(m0-1.5) > 1e-15 || math.Abs(l4-18.0/36) > 1e-15 {
		t.Errorf("got M0 %v, L4 %v; want 1.5, 0.5", m0, l4)
	}
	if m0, l4 := InputMoments(make([]float64, 3)); m0 != 0 || l4 != 0 {
		t.Errorf("zeros: got %v, %v; want 0, 0", m0, l4)
	}
}
