package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestFormatNumber(t *testing.T) {
	for v, want := range map[float64]string{25: "25", 0.15: "0.15", 0.1234: "0.123", 1234.6: "1235", -0.5: "−0.5", 1e-5: "1e−5",
		2.5e7: "2.5e7", 0: "0", 3: "3", 100: "100"} {
		if got := FormatNumber(v); got != want {
			t.Errorf("FormatNumber(%g) = %q, want %q", v, got, want)
		}
	}
}

func TestValidateAndRender(t *testing.T) {
	for _, bad := range []Chart{
		LineChart{Series: []Series{{X: []float64{1}, Y: []float64{1, 2}}}},
		LineChart{Series: []Series{{X: []float64{1}, Y: []float64{1}, YLow: []float64{0}}}},
		HeatMap{X: []float64{1, 2}, Y: []float64{1}, Z: [][]float64{{1, 2}, {3, 4}}},
		HeatMap{X: []float64{1, 2}, Y: []float64{1}, Z: [][]float64{{1}}},
		LineChart{Series: []Series{{X: []float64{1, 2}, Y: []float64{1, 2}, YLow: []float64{0, 1}, YHigh: []float64{2}}}},
		LineChart{Series: []Series{{X: []float64{1}, Y: []float64{1}, YLow: []float64{}, YHigh: []float64{2}}}},
		LineChart{Series: []Series{{X: []float64{1}, Y: []float64{1}, YHigh: []float64{2}}}},
		LineChart{XTicks: []float64{1, math.NaN()}},
		LineChart{XTicks: []float64{math.Inf(1)}},
		LineChart{LogX: true, XTicks: []float64{0, 10}},
		LineChart{Series: []Series{{Missing: []float64{math.NaN()}}}},
		LineChart{LogX: true, Series: []Series{{Missing: []float64{-1}}}},
		HeatMap{},
		HeatMap{X: []float64{1}, Z: [][]float64{}},
		HeatMap{X: []float64{math.NaN()}, Y: []float64{1}, Z: [][]float64{{1}}},
		HeatMap{X: []float64{1}, Y: []float64{math.Inf(-1)}, Z: [][]float64{{1}}},
	} {
		if _, err := Render(bad, "png"); err == nil || errors.Is(err, ErrNoRenderer) {
			t.Errorf("%+v: error %v, want a validation error", bad, err)
		}
	}
	good := LineChart{Series: []Series{{X: []float64{1}, Y: []float64{1}}}}
	if _, err := Render(good, "png"); !errors.Is(err, ErrNoRenderer) {
		t.Errorf("no renderer registered: error %v", err)
	}
	RegisterRenderer(func(c Chart, format string) ([]byte, error) { return []byte(format), nil })
	defer RegisterRenderer(nil)
	if b, err := Render(good, "svg"); err != nil || string(b) != "svg" {
		t.Errorf("registered renderer: %q, %v", b, err)
	}
}

func TestVerdictJSON(t *testing.T) {
	type claim struct {
		Verdict  Verdict   `json:"verdict"`
		Measured []Finding `json:"measured"`
	}
	c := claim{Verdict: NotHeld, Measured: []Finding{{Kind: Failed, Text: "x"}, {Kind: Note, Text: "y"}}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"verdict":"did not hold","measured":[{"kind":"failed","text":"x"},{"kind":"note","text":"y"}]}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back claim
	if err := json.Unmarshal(b, &back); err != nil || back.Verdict != NotHeld || !slices.Equal(back.Measured, c.Measured) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"verdict":"maybe"}`), &back); err == nil {
		t.Error("verdict maybe: no error")
	}
	if _, err := json.Marshal(claim{Verdict: 7}); err == nil {
		t.Error("verdict 7: no error")
	}
	if Held.String() != "held" || Verdict(9).String() != "verdict(9)" {
		t.Errorf("String: %s, %s", Held, Verdict(9))
	}
}

func TestDocumentEscapesAndEmbeds(t *testing.T) {
	d := Document{Title: "t <1>", Sections: []Section{{Title: "Fig 1", Claim: "a & b", Verdict: Held,
		Measured: []Finding{{Kind: Failed, Text: "x < 1"}, {Kind: Note, Text: "plain"}},
		Figures:  []Figure{{Caption: "c", PNG: []byte{1, 2, 3}}},
		Tables:   []Table{{Header: []string{"x"}, Rows: [][]string{{"<y>"}}}}}}}
	var b bytes.Buffer
	if err := d.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"t &lt;1&gt;", "a &amp; b", "data:image/png;base64,AQID", "&lt;y&gt;", `class="verdict ok"`,
		`<li class="failed"><span class="tag">failed</span> x &lt; 1</li>`, `<li class="note">plain</li>`} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
