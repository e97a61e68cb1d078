package reproduce

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/train"
)

// TestEpochCell checks that a point where fewer than half of the runs
// reached the target is never shown as a number.
func TestEpochCell(t *testing.T) {
	e := func(v float64) *float64 { return &v }
	c := &epochCell{}
	c.add(&train.Result{ReachedTarget: true, EpochsToTarget: e(0.2), Setup: train.Setup{Epochs: 3}})
	c.add(&train.Result{Diverged: true, Setup: train.Setup{Epochs: 3}})
	c.add(&train.Result{Setup: train.Setup{Epochs: 3}})
	if c.runs != 3 || c.reached != 1 || c.diverged != 1 || c.shown() {
		t.Fatalf("cell %+v: shown %v", c, c.shown())
	}
	if m, _ := c.mean(); !math.IsNaN(m) {
		t.Errorf("mean %v: want NaN", m)
	}
	// Runs that did not reach the target count at their cap, by seed.
	if len(c.logEpochs) != 1 || c.logEpochs[0] != math.Log(3) {
		t.Errorf("ln epochs by seed %v: the three runs share seed 0, the last (not reached) counts at ln 3", c.logEpochs)
	}
	if txt := c.text(); txt != "not reached (1/3), 1 diverged" {
		t.Errorf("text %q", txt)
	}
	if row := c.csv(); row[3] != "" || row[4] != "" || row[5] != "0.2" {
		t.Errorf("csv %q: mean and SE must be empty when not shown", row)
	}
	s := epochSeries("x", []float64{5}, []*epochCell{c})
	if len(s.Y) != 0 || !slices.Equal(s.Missing, []float64{5}) {
		t.Errorf("series %+v: want only a not-reached marker", s)
	}

	c.add(&train.Result{ReachedTarget: true, EpochsToTarget: e(0.4), Setup: train.Setup{Epochs: 3}})
	if !c.shown() {
		t.Fatalf("2 of 4 reached: shown %v", c.shown())
	}
	if m, se := c.mean(); math.Abs(m-0.3) > 1e-12 || math.Abs(se-0.1) > 1e-12 {
		t.Errorf("mean %v ± %v, want 0.3 ± 0.1", m, se)
	}
	if txt := c.text(); !strings.HasPrefix(txt, "0.3 ± 0.1 (2/4)") {
		t.Errorf("text %q", txt)
	}
	var nilCell *epochCell
	if nilCell.shown() || nilCell.text() != "-" || len(nilCell.csv()) != len(epochHeader) {
		t.Error("a missing point must read as no data")
	}
}

func TestProfiles(t *testing.T) {
	for _, scale := range []Scale{Full, Quick, Tiny} {
		sweeps, err := Plan([]string{"fig2"}, Config{Scale: scale})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sweeps {
			if s.Name != fig2ProfilesTrain {
				continue
			}
			zip := s.Axes[0].Zip
			seen := map[float64]map[string]bool{}
			for i, p := range zip["profile"] {
				beta, kind := zip["beta"][i].(float64), p.(string)
				ws := widthsOf(t, zip["arch"][i].(string))
				if got := betaOf(ws); math.Abs(got/beta-1) > betaTolerance {
					t.Errorf("%s %s beta %g: widths %v have beta %g", scale, kind, beta, ws, got)
				}
				if len(ws) != s.Fixed["depth"] {
					t.Errorf("%s %s: %d layers, want depth %v", scale, kind, len(ws), s.Fixed["depth"])
				}
				checkShape(t, kind, ws)
				if seen[beta] == nil {
					seen[beta] = map[string]bool{}
				}
				seen[beta][kind] = true
			}
			for beta, kinds := range seen {
				if len(kinds) != len(profiles) {
					t.Errorf("%s beta %g: profiles %v, want all of %v", scale, beta, kinds, profiles)
				}
			}
		}
	}
	if _, err := profileWidths("zigzag", 10, 1); err == nil {
		t.Error("unknown profile accepted")
	}
	if _, err := profileWidths("constant", 10, 3); err == nil {
		t.Error("constant profile with beta 3 at depth 10 (width 3.33) accepted")
	}
}

// widthsOf reads the hidden widths of an fc spec.
func widthsOf(t *testing.T, spec string) []int {
	t.Helper()
	var ws []int
	parts := strings.Split(strings.TrimPrefix(spec, "fc:"), "-")
	for _, p := range parts[1 : len(parts)-1] {
		var w int
		for _, ch := range p {
			w = 10*w + int(ch-'0')
		}
		ws = append(ws, w)
	}
	return ws
}

// checkShape checks that widths have their profile's shape.
func checkShape(t *testing.T, kind string, ws []int) {
	t.Helper()
	n := len(ws)
	ok := true
	switch kind {
	case "constant":
		ok = slices.Min(ws) == slices.Max(ws)
	case "increasing":
		ok = slices.IsSorted(ws) && ws[0] < ws[n-1]
	case "decreasing":
		ok = slices.IsSortedFunc(ws, func(a, b int) int { return b - a }) && ws[0] > ws[n-1]
	case "alternating":
		for i := range ws {
			ok = ok && ws[i] == ws[i%2] && ws[0] < ws[1]
		}
	}
	if !ok {
		t.Errorf("%s widths %v do not have the shape", kind, ws)
	}
}
