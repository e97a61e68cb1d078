package report

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"testing"
)

func TestLineChartRenders(t *testing.T) {
	c := LineChart{Title: "mean length", XLabel: "depth", YLabel: "E[M_d]/M_0", LogY: true, Series: []Series{
		{Name: "theory", X: []float64{1, 2, 3}, Y: []float64{1, 0.5, 0.25}, Dashed: true},
		{Name: "measured", X: []float64{1, 2, 3}, Y: []float64{1.1, 0.45, math.NaN()},
			YLow: []float64{1, 0.4, 0}, YHigh: []float64{1.2, 0.5, 0}, Missing: []float64{3}},
	}}
	p, err := c.Plot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(p, "png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() < 100 {
		t.Errorf("image width %d", img.Bounds().Dx())
	}
	svg, err := Render(p, "svg")
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("not reached")) {
		t.Errorf("svg render: %v", err)
	}
	bad := LineChart{Series: []Series{{X: []float64{1}, Y: []float64{1, 2}}}}
	if _, err := bad.Plot(); err == nil {
		t.Error("mismatched series lengths: no error")
	}
}

func TestHeatMapRenders(t *testing.T) {
	h := HeatMap{Title: "epochs", X: []float64{8, 16}, Y: []float64{2, 4, 8}, ZLabel: "epochs to 20%",
		Z: [][]float64{{1, 2}, {math.NaN(), 3}, {4, 5}}}
	p, err := h.Plot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Render(p, "png"); err != nil {
		t.Fatal(err)
	}
	h.Z = h.Z[:2]
	if _, err := h.Plot(); err == nil {
		t.Error("missing row: no error")
	}
}

func TestDocumentEscapesAndEmbeds(t *testing.T) {
	d := Document{Title: "t <1>", Sections: []Section{{Title: "Fig 1", Claim: "a & b", Verdict: "held",
		Figures: []Figure{{Caption: "c", PNG: []byte{1, 2, 3}}},
		Tables:  []Table{{Header: []string{"x"}, Rows: [][]string{{"<y>"}}}}}}}
	var b bytes.Buffer
	if err := d.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"t &lt;1&gt;", "a &amp; b", "data:image/png;base64,AQID", "&lt;y&gt;", `class="verdict ok"`} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
