package task

import (
	"errors"
	"strings"
	"testing"

	"github.com/initscope/initscope/data"
)

func TestResolveDefaultInput(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{Spec{Arch: "fc:100-8-10", Init: "he-normal"}, "gaussian"},
		{Spec{Arch: "fc:100-8-10", Init: "he-normal", Input: "ones"}, "ones"},
		{Spec{Arch: "fc:784-8-10", Init: "he-normal"}, DefaultData + ":0"},
		{Spec{Arch: "net:1x28x28,conv4k3,gap,dense10", Init: "he-normal"}, DefaultData + ":0"},
		{Spec{Arch: "fc:784-8-10", Init: "he-normal", Data: "mnist"}, "mnist:0"},
	} {
		s, err := Resolve(c.spec)
		if err != nil {
			if _, _, ierr := data.Image("mnist", "", data.Test, 0); ierr != nil {
				t.Skipf("MNIST not available: %v", ierr)
			}
			t.Fatalf("%+v: %v", c.spec, err)
		}
		if s.Input.Name != c.want || len(s.Input.X) != s.Net.Input().Size() || !(s.Input.M0 > 0) || !(s.Input.L4 > 0) {
			t.Errorf("%+v: input %q of %d values, M0 %g, L4 %g; want %s", c.spec, s.Input.Name, len(s.Input.X), s.Input.M0, s.Input.L4, c.want)
		}
	}
	s, err := Resolve(Spec{Arch: "fc:784-8-10", Init: "he-normal", M0: "2.5"})
	if err != nil || s.Input.Name != "m0" || s.Input.M0 != 2.5 || s.Input.X != nil {
		t.Errorf("m0 2.5: %+v, %v", s, err)
	}
}

func TestResolveErrors(t *testing.T) {
	he := func(s Spec) Spec { s.Init = "he-normal"; return s }
	for _, c := range []struct {
		spec  Spec
		field string
		want  string
	}{
		{Spec{Init: "he-normal"}, "arch", "missing: give a net such as fc:784-100-10"},
		{Spec{Init: "he-normal", Data: "cifar10"}, "arch", "fc:3072-100-10"},
		{Spec{Arch: "fc:784-8-10"}, "init", "missing: give a preset (glorot-normal"},
		{he(Spec{Arch: "fc:784-0-10"}), "arch", "width 0"},
		{Spec{Arch: "fc:784-8-10", Init: "kaiming"}, "init", "kaiming"},
		{he(Spec{Arch: "fc:784-8-10", Bias: "big"}), "bias", "big"},
		{he(Spec{Arch: "fc:784-8-10", Data: "imagenet"}), "data", "imagenet"},
		{he(Spec{Arch: "fc:784-8-10", Input: "noise"}), "input", "ones, gaussian or DATASET:K"},
		{he(Spec{Arch: "fc:784-8-10", Input: "mnist:x"}), "input", "index"},
		{he(Spec{Arch: "fc:100-8-10", Input: "mnist:0"}), "input", "784 values but the net's input has 100"},
		{he(Spec{Arch: "fc:100-8-10", Data: "mnist"}), "input", "(the default: test image 0 of the data set mnist)"},
		{he(Spec{Arch: "fc:784-8-10", Input: "ones", M0: "1"}), "m0", "not both"},
		{he(Spec{Arch: "fc:784-8-10", M0: "-1"}), "m0", "> 0"},
		{he(Spec{Arch: "fc:784-8-10", M0: "nan"}), "m0", "> 0"},
	} {
		_, err := Resolve(c.spec)
		var se *SpecError
		if !errors.As(err, &se) || se.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want a SpecError about %s containing %q", c.spec, err, c.field, c.want)
		}
	}
	// A data set that cannot be read is not a usage error.
	_, err := Resolve(he(Spec{Arch: "fc:3072-8-10", Input: "cifar10:0", DataDirs: map[string]string{"cifar10": t.TempDir()}}))
	var se *SpecError
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "input cifar10:0") {
		t.Errorf("unreadable CIFAR-10: %v, want an error naming the input that is no SpecError", err)
	}
}
