package reproduce

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/task"
)

// planTasks returns the figures' sweeps and their distinct tasks.
func planTasks(t *testing.T, names []string, c Config) ([]*experiment.Sweep, []experiment.Task) {
	t.Helper()
	sweeps, err := Plan(names, c)
	if err != nil {
		t.Fatal(err)
	}
	tasks, owner, err := experiment.Tasks(sweeps)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if figureOf(owner[task.ID].Name) == nil {
			t.Fatalf("task %s: owner %s", task, owner[task.ID].Name)
		}
	}
	return sweeps, tasks
}

func TestPlan(t *testing.T) {
	ids := func(tasks []experiment.Task) map[string]bool {
		m := map[string]bool{}
		for _, task := range tasks {
			if m[task.ID] {
				t.Fatalf("task %s twice", task)
			}
			m[task.ID] = true
		}
		return m
	}
	_, full := planTasks(t, []string{"all"}, Config{})
	sweeps, quick := planTasks(t, []string{"all"}, Config{Scale: Quick})
	fullIDs := ids(full)
	for _, task := range quick {
		if !fullIDs[task.ID] {
			t.Errorf("quick task %s is not part of the full run", task)
		}
	}
	for _, s := range sweeps {
		if f := figureOf(s.Name); f == nil {
			t.Errorf("sweep %s belongs to no figure", s.Name)
		}
	}
	// The runs multiply the figures' training points only (the
	// predictive zoo trains each net once, with its own seed).
	_, quick5 := planTasks(t, []string{"fig1", "fig2", "fig3"}, Config{Scale: Quick, Runs: 5})
	_, quick = planTasks(t, []string{"fig1", "fig2", "fig3"}, Config{Scale: Quick})
	trainTasks := func(ts []experiment.Task) (n int) {
		for _, tk := range ts {
			if tk.Kind == task.KindTrain {
				n++
			}
		}
		return n
	}
	if 3*trainTasks(quick5) != 5*trainTasks(quick) || len(quick5)-trainTasks(quick5) != len(quick)-trainTasks(quick) {
		t.Errorf("5 runs: %d tasks (%d train), 3 runs: %d (%d train)", len(quick5), trainTasks(quick5), len(quick), trainTasks(quick))
	}
	// Figure 3 on CIFAR-10 trains and probes on it.
	sweeps, _ = planTasks(t, []string{"fig3"}, Config{Scale: Tiny, ImageData: "cifar10"})
	for _, s := range sweeps {
		if s.Fixed["inputs"] != 3072 || !strings.HasPrefix(s.Derived["arch"], "net:{inputs},") {
			t.Errorf("%s: fixed %v, derived %v", s.Name, s.Fixed, s.Derived)
		}
	}
	for _, bad := range [][]string{{"fig4"}, {}, {"fig1", "x"}} {
		if _, err := Plan(bad, Config{}); err == nil {
			t.Errorf("Plan(%q) accepted", bad)
		}
	}
	if _, err := Plan([]string{"all"}, Config{Scale: "huge"}); err == nil {
		t.Error("scale huge accepted")
	}
}

// TestShardsPartition checks that the shards of a reproduction split its
// tasks exactly: every task in one shard, none in two.
func TestShardsPartition(t *testing.T) {
	_, tasks := planTasks(t, []string{"all"}, Config{Scale: Quick})
	for _, n := range []int{1, 3, 7} {
		owner := map[string]int{}
		for i := 0; i < n; i++ {
			for _, task := range (experiment.Shard{Index: i, Count: n}).Select(tasks) {
				if prev, dup := owner[task.ID]; dup {
					t.Fatalf("%d shards: task %s in shards %d and %d", n, task, prev, i)
				}
				owner[task.ID] = i
			}
		}
		if len(owner) != len(tasks) {
			t.Errorf("%d shards hold %d of %d tasks", n, len(owner), len(tasks))
		}
	}
}

// runShard runs one shard of tasks into dir, workers at a time.
func runShard(t *testing.T, dir string, tasks []experiment.Task, shard experiment.Shard, r *task.Runner, workers int) experiment.Counts {
	t.Helper()
	store, err := experiment.OpenStore(dir, shard)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	counts, err := experiment.Run(context.Background(), tasks, shard, store, r.Run, experiment.Options{Backend: "test", Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// TestTinyReproduction runs the tiny grids of every figure and checks that
// rendering writes every output, with every task in results.csv and every
// figure's sections in the report; run in two shards, the first shard
// alone leaves the claims unchecked.
func TestTinyReproduction(t *testing.T) {
	dir := t.TempDir()
	sweeps, tasks := planTasks(t, []string{"all"}, Config{Scale: Tiny})
	if err := experiment.WriteSweeps(dir, sweeps); err != nil {
		t.Fatal(err)
	}
	r := &task.Runner{}
	first := runShard(t, dir, tasks, experiment.Shard{Index: 0, Count: 2}, r, 1)
	res, err := experiment.Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := Render(res)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Tasks != len(tasks) || rd.Done != first.Done || rd.Missing != len(tasks)-first.Done {
		t.Errorf("half done: %d tasks, %d done, %d missing; ran %d of %d", rd.Tasks, rd.Done, rd.Missing, first.Done, len(tasks))
	}
	for _, c := range rd.Claims {
		if c.Verdict != report.NotChecked {
			t.Errorf("%s: verdict %q with half the tasks missing", c.Panel, c.Verdict)
		}
	}

	runShard(t, dir, tasks, experiment.Shard{Index: 1, Count: 2}, r, 3) // the Runner is safe for concurrent use
	// A re-run of the whole grid finds every task done.
	if again := runShard(t, dir, tasks, experiment.Shard{}, r, 1); again.Skipped != len(tasks) || again.Done != 0 {
		t.Errorf("re-run: %+v, want all %d tasks skipped", again, len(tasks))
	}
	if res, err = experiment.Collect(dir); err != nil {
		t.Fatal(err)
	}
	if rd, err = Render(res); err != nil {
		t.Fatal(err)
	}
	if rd.Done != len(tasks) || rd.Missing != 0 || rd.Failed != 0 {
		t.Errorf("%d tasks: %d done, %d failed, %d missing", len(tasks), rd.Done, rd.Failed, rd.Missing)
	}
	if strings.Join(rd.Figures, ",") != "fig1,fig2,fig3,predictive" || len(rd.Claims) != 8 {
		t.Errorf("figures %v, %d claims", rd.Figures, len(rd.Claims))
	}
	want := []string{ResultsCSV, ReportHTML, ClaimsJSON, "fig1_length.csv", "fig1_epochs.csv", "fig2_grid.csv", "fig2_profiles.csv",
		"fig3_length.csv", "fig3_epochs.csv", "predictive_zoo.csv", "predictive_scores.csv"}
	for _, p := range []string{"fig1a_length", "fig1b_epochs", "fig2a_epochs_heatmap", "fig2a_logvar_heatmap", "fig2a_epochs_beta",
		"fig2b_profiles", "fig2b_profiles_lr0.001", "fig2c_empirical_variance", "fig3a_length_relu", "fig3a_length_linear", "fig3b_epochs",
		"fig3b_epochs_scaled", "predictive_roc", "predictive_epochs"} {
		want = append(want, p+".png", p+".svg")
	}
	for _, name := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v (size %v)", name, err, fi)
		}
	}
	if len(rd.Files) != len(want) {
		t.Errorf("wrote %d files %v, want %d", len(rd.Files), rd.Files, len(want))
	}

	f, err := os.Open(filepath.Join(dir, ResultsCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(tasks)+1 {
		t.Errorf("%s: %d rows, want a header and %d tasks", ResultsCSV, len(rows), len(tasks))
	}

	html, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, s := range []string{"Figure 1(a)", "Figure 1(b)", "Figure 2(a)", "Figure 2(b)", "Figure 2(c)", "Figure 3(a)", "Figure 3(b)",
		"data:image/png;base64,", "lr", "momentum", "seeds", "BLAS backend", "Criterion", "mnist"} {
		if !strings.Contains(page, s) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	if n := strings.Count(page, "<img "); n != 14 {
		t.Errorf("report.html embeds %d plots, want 14", n)
	}
}

// TestUserSweep runs a sweep of the user's own (the example file, cut down)
// and checks that collecting lists every task without rendering figures.
func TestUserSweep(t *testing.T) {
	sw, err := experiment.LoadSweep("testdata/example-sweep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := sw.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3*3*2*3 {
		t.Errorf("example sweep: %d tasks", len(tasks))
	}
	// Run only the predict tasks: instant.
	dir := t.TempDir()
	if err := experiment.WriteSweeps(dir, []*experiment.Sweep{sw}); err != nil {
		t.Fatal(err)
	}
	var predicts []experiment.Task
	for _, tk := range tasks {
		if tk.Kind == task.KindPredict {
			predicts = append(predicts, tk)
		}
	}
	runShard(t, dir, predicts, experiment.Shard{}, &task.Runner{}, 1)
	res, err := experiment.Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := Render(res)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Tasks != len(tasks) || rd.Done != len(predicts) || rd.Missing != len(tasks)-len(predicts) || len(rd.Figures) != 0 {
		t.Errorf("%+v", rd)
	}
	if strings.Join(rd.Files, ",") != ResultsCSV {
		t.Errorf("wrote %v, want only %s", rd.Files, ResultsCSV)
	}
}

// TestFig1Seeds checks Figure 1(b)'s seeds per initialization: all the
// runs for the 2/fan-in laws, half of them but at least 5 for the others,
// the same seeds 1..n at every depth.
func TestFig1Seeds(t *testing.T) {
	critical := map[string]bool{"he-normal": true, "he-uniform": true, "xavier2": true}
	for _, c := range []struct{ runs, off int }{{1, 1}, {3, 3}, {5, 5}, {8, 5}, {10, 5}, {11, 6}, {20, 10}} {
		sweeps, err := Plan([]string{"fig1"}, Config{Runs: c.runs})
		if err != nil {
			t.Fatal(err)
		}
		seeds := map[string]map[int][]int{} // init -> depth -> seeds
		for _, s := range sweeps {
			if s.Name != fig1Train {
				continue
			}
			tasks, err := s.Expand()
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range tasks {
				in := tk.Params["init"].(string)
				depth, seed := int(tk.Params["depth"].(float64)), int(tk.Params["seed"].(float64))
				if seeds[in] == nil {
					seeds[in] = map[int][]int{}
				}
				seeds[in][depth] = append(seeds[in][depth], seed)
			}
		}
		if len(seeds) != len(fig1Inits) {
			t.Fatalf("runs %d: %d initializations trained, want %d", c.runs, len(seeds), len(fig1Inits))
		}
		for in, byDepth := range seeds {
			want := c.off
			if critical[in] {
				want = c.runs
			}
			for depth, got := range byDepth {
				if len(got) != want || got[0] != 1 || got[len(got)-1] != want {
					t.Errorf("runs %d: %s at depth %d trains seeds %v, want 1..%d", c.runs, in, depth, got, want)
				}
			}
		}
	}
}
