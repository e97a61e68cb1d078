package train

import (
	"reflect"
	"testing"

	"github.com/initscope/initscope/data"
)

// TestAsyncEvaluation checks that evaluating beside training (two threads)
// gives the run that evaluating in line (one thread) gives, field for
// field and progress call for progress call, whether it stops at the cap,
// at its target (after taking steps beyond it that must not count), on
// divergence, or at a target reached just before diverging; on a net too
// small for any product to be split, so that both compute the same floats.
func TestAsyncEvaluation(t *testing.T) {
	tr, te := synthetic(400, data.Train, 1), synthetic(200, data.Test, 2)
	for _, c := range []struct {
		name string
		stop string
		edit func(*Config)
	}{
		{"cap", StopCap, func(c *Config) { c.Epochs, c.EvalEvery = 3, 5 }},
		{"target", StopTarget, func(c *Config) { c.Epochs, c.EvalEvery, c.TargetAcc, c.StopAtTarget = 20, 5, 0.7, true }},
		{"target, every step", StopTarget, func(c *Config) { c.Epochs, c.EvalEvery, c.TargetAcc, c.StopAtTarget = 20, 1, 0.7, true }},
		{"diverged", StopDiverged, func(c *Config) { c.LR, c.EvalEvery, c.TargetAcc = 1e20, 1, 0.05 }},
		{"target, then diverged", StopTarget, func(c *Config) { c.LR, c.EvalEvery, c.TargetAcc, c.StopAtTarget = 1e20, 1, 0.05, true }},
	} {
		cfg := syntheticConfig(t)
		c.edit(&cfg)
		var results []*Result
		var progress [][]Eval
		for _, threads := range []int{1, 2} {
			cfg.Threads = threads
			var seen []Eval
			res, err := Run(t.Context(), cfg, tr, te, func(e Eval) { seen = append(seen, e) })
			if err != nil {
				t.Fatal(err)
			}
			res.Seconds, res.Setup.Threads = 0, 0
			results, progress = append(results, res), append(progress, seen)
		}
		if results[0].Stop != c.stop {
			t.Errorf("%s: the run stopped: %s, want %s", c.name, results[0].Stop, c.stop)
		}
		if !reflect.DeepEqual(results[0], results[1]) || !reflect.DeepEqual(progress[0], progress[1]) || !reflect.DeepEqual(progress[0], results[0].Evals) {
			t.Errorf("%s: in line\n%+v\nbeside training\n%+v\nprogress %v and %v", c.name, results[0], results[1], progress[0], progress[1])
		}
	}
}
