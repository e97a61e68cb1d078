package zoo

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/weightinit"
)

// TestDrawDeterministic checks that the zoo is a function of its seed, that
// a smaller zoo is the start of a larger one, that every net parses, that
// the halves split each pair, and that every family and profile occurs.
func TestDrawDeterministic(t *testing.T) {
	nets, err := Draw(300, Seed)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Draw(300, Seed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nets, again) {
		t.Fatal("two draws of the same zoo differ")
	}
	small, err := Draw(61, Seed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(small[:60], nets[:60]) || small[60].Arch != nets[60].Arch || small[60].Init != nets[60].Init {
		t.Error("the zoo of 61 nets is not the start of the zoo of 300")
	}
	other, err := Draw(300, Seed+1)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := range other {
		if other[i].Arch == nets[i].Arch {
			same++
		}
	}
	if same > 30 {
		t.Errorf("another seed draws %d of 300 nets alike", same)
	}
	families, variants, inits := map[string]int{}, map[string]bool{}, map[string]bool{}
	laws := 0
	for i, n := range nets {
		if n.ID != i || n.Seed != i+1 {
			t.Errorf("net %d: id %d seed %d", i, n.ID, n.Seed)
		}
		if _, err := arch.Parse(n.Arch); err != nil {
			t.Errorf("net %d: %v", i, err)
		}
		if _, err := weightinit.ParseInit(n.Init); err != nil {
			t.Errorf("net %d: %v", i, err)
		}
		families[n.Family]++
		variants[n.Family+" "+n.Variant] = true
		inits[n.Init] = true
		if strings.Contains(n.Init, ":") {
			laws++
		}
		if i%2 == 1 && nets[i-1].Half+n.Half != FitHalf+HeldOut {
			t.Errorf("pair %d: halves %d and %d", i/2, nets[i-1].Half, n.Half)
		}
	}
	// 150, 60 and 90 expected; 5 SE of a binomial count of 300 is about 40.
	for fam, want := range map[string]int{FC: 150, Conv: 60, Residual: 90} {
		if math.Abs(float64(families[fam]-want)) > 40 {
			t.Errorf("%d %s nets of 300, want about %d", families[fam], fam, want)
		}
	}
	for _, p := range profiles {
		if !variants[FC+" "+p] {
			t.Errorf("no fc net with the %s profile", p)
		}
	}
	if laws < 160 || laws > 240 { // 200 expected, 5 SE about 40
		t.Errorf("%d of 300 nets take a drawn law, want about 200", laws)
	}
	for _, p := range weightinit.Presets() {
		if !inits[p.Name] {
			t.Errorf("preset %s never drawn", p.Name)
		}
	}
}

func TestDrawRefuses(t *testing.T) {
	for _, n := range []int{0, -1, MaxNets + 1} {
		if _, err := Draw(n, Seed); err == nil {
			t.Errorf("Draw(%d): no error", n)
		}
	}
}

func TestFCSpec(t *testing.T) {
	if got := fcSpec([]int{8, 8, 8, 16, 4, 4}); got != "fc:784-8x3-16-4x2-10" {
		t.Errorf("fcSpec = %q", got)
	}
}

// mnistM0 is M_0 = ||x||^2/784 of MNIST test image 0, the zoo's fixed input.
const mnistM0 = 0.07547

// predictResult runs the theory for a net of the zoo as a predict task
// records it.
func predictResult(t *testing.T, n Net) (*task.PredictResult, *theory.Prediction) {
	t.Helper()
	g, err := arch.Parse(n.Arch)
	if err != nil {
		t.Fatal(err)
	}
	in, err := weightinit.ParseInit(n.Init)
	if err != nil {
		t.Fatal(err)
	}
	p, err := theory.Predict(g, theory.Options{Init: in, M0: mnistM0})
	if err != nil {
		t.Fatalf("net %d %s %s: %v", n.ID, n.Arch, n.Init, err)
	}
	return &task.PredictResult{Net: n.Arch, Init: n.Init, Depth: p.Depth, Beta: p.Beta, OutputLayer: task.OutputLayer(g),
		FM1: p.FM1.Verdict, FM2: p.FM2.Verdict, FM2LogVar: p.FM2.LogVar, Layers: p.Layers}, p
}

// TestGainMatchesVerdict checks, over the whole zoo, that the signal gain
// summed from the predicted layers is the one theory's FM1 verdict rests
// on (its product, or its bounds), and that every net gets finite
// features for every score. It logs how the verdicts fall.
func TestGainMatchesVerdict(t *testing.T) {
	nets, err := Draw(300, Seed)
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]int{}
	ok := 0
	for _, n := range nets {
		pr, p := predictResult(t, n)
		o := NewOutcome(n)
		if err := o.SetPrediction(pr); err != nil {
			t.Fatal(err)
		}
		lo, hi := float64(p.FM1.Log10Product), float64(p.FM1.Log10Product)
		if !p.FM1.Log10Product.Known() {
			lo, hi = float64(p.FM1.Log10ProductLower), float64(p.FM1.Log10ProductUpper)
		}
		if math.Abs(o.Log10GainLower-lo) > 1e-9*(1+math.Abs(lo)) || math.Abs(o.Log10GainUpper-hi) > 1e-9*(1+math.Abs(hi)) {
			t.Errorf("net %d %s %s: log10 gain [%v, %v], FM1 verdict's [%v, %v]", n.ID, n.Arch, n.Init, o.Log10GainLower, o.Log10GainUpper, lo, hi)
		}
		if o.FM2Stat != float64(p.FM2.LogVar) || o.Beta != p.Beta {
			t.Errorf("net %d: V %v beta %v, prediction %v %v", n.ID, o.FM2Stat, o.Beta, p.FM2.LogVar, p.Beta)
		}
		o.Measured, o.MeasuredLog10 = true, o.Log10Gain // any finite measurement
		if !finiteFeatures(o) {
			t.Errorf("net %d %s %s: a score's features are not finite", n.ID, n.Arch, n.Init)
		}
		verdicts[n.Family+" FM1 "+o.FM1]++
		verdicts[n.Family+" FM2 "+o.FM2]++
		if o.PredictedToTrain() {
			ok++
		}
	}
	t.Logf("verdicts %v; %d of %d nets predicted to train", verdicts, ok, len(nets))
	if verdicts["fc FM1 ok"] == 0 || verdicts["fc FM1 vanishing"] == 0 || verdicts["fc FM1 exploding"] == 0 ||
		verdicts["fc FM2 failing"] == 0 || verdicts["residual FM1 exploding"] == 0 || ok < 30 {
		t.Errorf("the zoo lacks a failure mode or a working net: %v, %d predicted to train", verdicts, ok)
	}
}

// TestLog10Factor checks the per-layer FM1 factor against hand-computed
// values.
func TestLog10Factor(t *testing.T) {
	for _, c := range []struct {
		spec, init string
		want       float64
	}{
		{"fc:784-100x5-10", "he-normal", 0},
		{"fc:784-100x5-10", "lecun-uniform", math.Log10(0.5)},
		{"fc:784-100x5-10", "he-truncated", math.Log10(0.7737413)},
		// xavier2: c/2 = 2 fan_in/(fan_in+fan_out) per layer.
		{"fc:784-100-10", "xavier2", (math.Log10(2*784.0/884) + math.Log10(2*100.0/110)) / 2},
		// conv fan_in 9 and 72, fan_out 72 each; then dense 8 -> 10.
		{"net:1x28x28,conv8k3s2,conv8k3,gap,dense10", "glorot-normal",
			(math.Log10(9.0/81) + math.Log10(72.0/144) + math.Log10(8.0/18)) / 3},
		// A residual module's two dense layers count as layers.
		{"net:784,dense20,resdense20x2:eta=0.5,dense10", "normal:4/fan_in", math.Log10(2)},
	} {
		got, err := Log10Factor(c.spec, c.init)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%s %s: %v, want %v", c.spec, c.init, got, c.want)
		}
	}
	if _, err := Log10Factor("fc:784-0-10", "he-normal"); err == nil {
		t.Error("a bad spec: no error")
	}
	if _, err := Log10Factor("fc:784-10", "bogus"); err == nil {
		t.Error("a bad init: no error")
	}
}
