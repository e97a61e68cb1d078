package serve

import (
	"net/http"
	"strings"
	"testing"
)

func TestWithWidth(t *testing.T) {
	cases := []struct{ in, want string }{
		{"fc:784-100x50-10", "fc:784-254x50-10"},
		{"fc:784-10x5-100x3-10", "fc:784-254x5-254x3-10"},
		{"fc:784-100-10x3", "fc:784-254-254x2-10"},
		{"fc:784-100", "fc:784-100"},
		{"net:1x28x28,conv8k3x30,gap,dense10", "net:1x28x28,conv254k3x30,gap,dense10"},
		{"net:784,dense100x3:relu,dense50:linear,dense10x2", "net:784,dense254x3:relu,dense50:linear,dense254,dense10"},
		{"net:1x28x28,conv16k3s2p1x2,maxpool2,flatten,dense10:relu", "net:1x28x28,conv254k3s2p1x2,maxpool2,flatten,dense254:relu"},
		{`{"input":[784],"layers":[{"type":"dense","units":100,"repeat":3},{"type":"dense","units":10,"repeat":2}]}`,
			`{"input":[784],"layers":[{"type":"dense","units":254,"repeat":3},{"type":"dense","units":254,"repeat":1},{"type":"dense","units":10,"repeat":1}]}`},
	}
	for _, c := range cases {
		got, ok := withWidth(c.in, 254)
		if !ok || got != c.want {
			t.Errorf("withWidth(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	if got, ok := withWidth("garbage", 3); ok {
		t.Errorf("withWidth(garbage) = %q, true", got)
	}
}

func TestWithDepth(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"fc:784-100x50-10", "fc:784-100x19-10", true},
		{"fc:784-100-10", "fc:784-100x19-10", true},
		{"fc:784-10x3", "fc:784-10x20", true},
		{"fc:784-100-10x3", "", false},
		{"net:1x28x28,conv8k3x30,gap,dense10", "net:1x28x28,conv8k3x19,gap,dense10", true},
		{"fc:784-100x5-50x5-10", "", false},
		{"net:784,dense100,resdense100x5,dense10", "", false},
	}
	for _, c := range cases {
		got, ok := withDepth(c.in, 19)
		if ok != c.ok || got != c.want {
			t.Errorf("withDepth(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestWithEta(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"net:784,dense100,resdense100x50:eta=1:end=linear,dense10", "net:784,dense100,resdense100x50:eta=0.85^l:end=linear,dense10", true},
		{"net:784,dense100,resdense100x50,dense10", "net:784,dense100,resdense100x50:eta=0.85^l,dense10", true},
		{`{"input":[784],"layers":[{"type":"residual","module":"dense","repeat":4,"eta":"1"}]}`,
			`{"input":[784],"layers":[{"type":"residual","repeat":4,"module":"dense","eta":"0.85^l"}]}`, true},
		{"fc:784-100-10", "", false},
		{"net:784,dense100,dense10", "net:784,dense100,dense10", false},
	}
	for _, c := range cases {
		got, ok := withEta(c.in, "0.85^l")
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("withEta(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestFixesCure applies each fix the server offers and checks that the
// verdict it follows becomes ok, as the theory's advice promises (the
// preset with variance 2/fan_in cures FM1; the width, the depth and the
// eta schedules are computed to make FM2, and for residual nets both, ok).
func TestFixesCure(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	designs := []Design{
		{Arch: "fc:784-100x50-10", Init: "pytorch-default", M0: "1"},
		{Arch: "fc:784-32x100-10", Init: "he-normal", M0: "1"},
		{Arch: "fc:784-10x5-100x3-10", Init: "lecun-normal", M0: "1"},
		{Arch: "net:784,dense100,resdense100x50:eta=1:end=linear,dense10", Init: "he-normal", M0: "1"},
		{Arch: `{"input":[784],"layers":[{"type":"dense","units":32,"repeat":60},{"type":"dense","units":10}]}`, Init: "he-normal", M0: "1"},
	}
	for _, d := range designs {
		var r DesignResult
		if code := post(t, ts, "/api/predict", d, &r); code != http.StatusOK {
			t.Fatalf("%+v: status %d", d, code)
		}
		if len(r.Fixes) == 0 {
			t.Errorf("%s %s: no fixes for FM1 %s, FM2 %s", d.Arch, d.Init, r.FM1.Verdict, r.FM2.Verdict)
		}
		for _, f := range r.Fixes {
			var fixed DesignResult
			if code := post(t, ts, "/api/predict", f.Design, &fixed); code != http.StatusOK {
				t.Errorf("fix %q of %s: status %d", f.Label, d.Arch, code)
				continue
			}
			verdict := fixed.FM1.Verdict
			if f.For == "fm2" {
				verdict = fixed.FM2.Verdict
			}
			if verdict != "ok" {
				t.Errorf("fix %q (%s) of %s %s: %s %s after it, want ok", f.Label, f.Design.Arch, d.Arch, d.Init, strings.ToUpper(f.For), verdict)
			}
			if f.Design.M0 != d.M0 {
				t.Errorf("fix %q changed the input", f.Label)
			}
		}
	}
}
