package reproduce

import (
	"fmt"
	"math"
	"strings"

	"github.com/initscope/initscope/stats"
	"github.com/initscope/initscope/train"
)

// epochCell gathers the training runs of one point of a figure (one
// initialization at one depth, say): how many reached the target and when.
type epochCell struct {
	// runs, reached and diverged count the runs.
	runs, reached, diverged int
	// epochs are the epochs to the target of the runs that reached it.
	epochs []float64
	// logEpochs is each run's ln(epochs to the target) by seed, with a run
	// that did not reach the target (or diverged) at ln(its cap): a lower
	// bound on its epochs, so that a slowdown is understated, never
	// invented.
	logEpochs map[uint64]float64
}

// add counts one run.
func (c *epochCell) add(r *train.Result) {
	c.runs++
	if c.logEpochs == nil {
		c.logEpochs = map[uint64]float64{}
	}
	c.logEpochs[r.Setup.Seed] = math.Log(r.Setup.Epochs)
	switch {
	case r.ReachedTarget && r.EpochsToTarget != nil:
		c.reached++
		c.epochs = append(c.epochs, *r.EpochsToTarget)
		c.logEpochs[r.Setup.Seed] = math.Log(*r.EpochsToTarget)
	case r.Diverged:
		c.diverged++
	}
}

// shown reports whether the point is drawn as a number: at least half of
// its runs reached the target. Otherwise it is drawn as "not reached".
func (c *epochCell) shown() bool { return c != nil && c.reached > 0 && 2*c.reached >= c.runs }

// mean returns the mean epochs to the target over the runs that reached it
// and its standard error; NaN when the point is not shown.
func (c *epochCell) mean() (float64, float64) {
	if !c.shown() {
		return nan, nan
	}
	return stats.MeanSE(c.epochs)
}

// text writes the point for tables: "0.15 ± 0.02 (5/5)", "0.9 (3/5
// reached)", or "not reached (0/5)"; never a number for a point not shown.
func (c *epochCell) text() string {
	if c == nil || c.runs == 0 {
		return "-"
	}
	if !c.shown() {
		s := fmt.Sprintf("not reached (%d/%d)", c.reached, c.runs)
		if c.diverged > 0 {
			s += fmt.Sprintf(", %d diverged", c.diverged)
		}
		return s
	}
	m, se := c.mean()
	s := fmt.Sprintf("%.3g", m)
	if len(c.epochs) > 1 {
		s += fmt.Sprintf(" ± %.2g", se)
	}
	return s + fmt.Sprintf(" (%d/%d)", c.reached, c.runs)
}

// csv returns the point's CSV cells: runs, reached, diverged, mean and SE
// over the runs that reached (empty unless the point is shown) and the
// epochs of each run that reached.
func (c *epochCell) csv() []string {
	if c == nil {
		c = &epochCell{}
	}
	m, se := c.mean()
	var each []string
	for _, e := range c.epochs {
		each = append(each, fmt.Sprintf("%.4g", e))
	}
	return []string{fmt.Sprint(c.runs), fmt.Sprint(c.reached), fmt.Sprint(c.diverged), csvFloat(m), csvFloat(se), strings.Join(each, " ")}
}

// epochHeader names the columns of epochCell.csv.
var epochHeader = []string{"runs", "reached", "diverged", "epochs_mean", "epochs_se", "epochs_each"}

// csvFloat writes a number in full precision, or "" for NaN or Inf.
func csvFloat(v float64) string {
	if !finite(v) {
		return ""
	}
	return fmt.Sprintf("%.6g", v)
}
