// Package zoo draws a zoo of random ReLU networks under random
// initializations from a seed, and scores how well what is known of a net
// at initialization predicts whether it starts training: the experiment
// behind `initscope reproduce predictive`, which asks the question of
// Hanin & Rolnick (2018) across many nets instead of by example.
//
// # The zoo
//
// Net i is drawn from its own PCG stream (seed, i), so the first n nets of
// a larger zoo are the zoo of n nets, and a net does not change when the
// zoo grows. Half of the nets are drawn fully connected, a fifth
// convolutional and the rest residual:
//
//   - fully connected (fc:784-...-10): depth 3-60 and a base width 8-96,
//     both log-uniform, with a width profile that is constant, increasing
//     (from half to twice the base), decreasing, alternating (half and
//     twice the base) or random (each layer log-uniform within a factor 2
//     of the base); no width below 4;
//   - convolutional, on MNIST's 1x28x28: a 3x3 stem of stride 2, then 1-8
//     more 3x3 layers of the same 4-16 channels, the first of them of
//     stride 2 in half of the nets, then global average pooling or
//     flattening, and a dense layer of 10;
//   - residual (net:784,denseW,resdenseWxL:eta=E[:end=linear],dense10):
//     width 16-96 and 2-60 blocks, log-uniform, the module ending in a
//     ReLU or linear, and a schedule E that is constant (0.1-1.6,
//     log-uniform), geometric b^l (b in 0.5-1), harmonic c/l (c in 0.3-3)
//     or c/L (c in 0.5-10).
//
// One net in three takes one of weightinit's presets, uniformly; the
// others a law FAMILY:C/fan_in (or C/fan_avg, one in four), FAMILY one of
// normal, uniform, truncnormal, truncnormal-corrected, rademacher, and
// C = 2 x 10^u with u uniform in [-0.6, 0.6], so that the FM1 factor c/2
// lies between 0.25 and 4 per layer and both directions of FM1 occur. Each
// net has a seed of its own (its id + 1) for its initialization, its
// example order and its measurement. Of the first 300 nets, the theory
// calls FM1 ok in 161, FM2 ok in 116 and both in 88 (TestGainMatchesVerdict
// logs the counts).
//
// The nets are split into two halves by a fixed random choice within each
// consecutive pair: scores are fitted on half 1 and judged on half 2.
package zoo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// Seed is the seed of the zoo reproduce draws.
const Seed = 2018

// The families of nets.
const (
	FC       = "fc"
	Conv     = "conv"
	Residual = "residual"
)

// The halves of the zoo.
const (
	// FitHalf is the half on which scores are fitted and thresholds chosen.
	FitHalf = 1
	// HeldOut is the half on which they are judged.
	HeldOut = 2
)

// Net is one network of the zoo with its initialization.
type Net struct {
	// ID is the net's index in the zoo, from 0.
	ID int
	// Family is fc, conv or residual; Variant says how it was drawn within
	// its family: the width profile (fc), the head and strides (conv), the
	// schedule's form and the module's end (residual).
	Family, Variant string
	// Arch is the net as arch.Parse reads it, Init the initialization as
	// weightinit.ParseInit reads it.
	Arch, Init string
	// Seed is the seed of the net's training run and measurement.
	Seed int
	// Half is FitHalf or HeldOut.
	Half int
}

// MaxNets is the largest zoo Draw draws.
const MaxNets = 100000

// Draw draws the first n nets of the zoo of the seed. Every net's Arch and
// Init parse (it is checked).
func Draw(n int, seed uint64) ([]Net, error) {
	if n < 1 || n > MaxNets {
		return nil, fmt.Errorf("zoo size %d: want 1 to %d nets", n, MaxNets)
	}
	nets := make([]Net, n)
	for i := range nets {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		nt := Net{ID: i, Seed: i + 1}
		switch u := r.Float64(); {
		case u < 0.5:
			nt.Family = FC
			nt.Variant, nt.Arch = drawFC(r)
		case u < 0.7:
			nt.Family = Conv
			nt.Variant, nt.Arch = drawConv(r)
		default:
			nt.Family = Residual
			nt.Variant, nt.Arch = drawResidual(r)
		}
		nt.Init = drawInit(r)
		if _, err := arch.Parse(nt.Arch); err != nil {
			return nil, fmt.Errorf("zoo net %d: %v", i, err)
		}
		if _, err := weightinit.ParseInit(nt.Init); err != nil {
			return nil, fmt.Errorf("zoo net %d: init %v", i, err)
		}
		nets[i] = nt
	}
	// Within each pair (2k, 2k+1), a coin from the stream (seed, 2^32 + k)
	// says which net is held out.
	for k := 0; 2*k < n; k++ {
		r := rand.New(rand.NewPCG(seed, 1<<32+uint64(k)))
		first := FitHalf
		if r.IntN(2) == 1 {
			first = HeldOut
		}
		nets[2*k].Half = first
		if 2*k+1 < n {
			nets[2*k+1].Half = FitHalf + HeldOut - first
		}
	}
	return nets, nil
}

// logUniformInt draws an integer log-uniformly from [lo, hi].
func logUniformInt(r *rand.Rand, lo, hi int) int {
	v := math.Exp(math.Log(float64(lo)) + r.Float64()*(math.Log(float64(hi)+1)-math.Log(float64(lo))))
	return min(hi, max(lo, int(v)))
}

// uniform draws a number uniformly from [lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

// round2 writes a number with two significant digits.
func round2(v float64) string { return strconv.FormatFloat(v, 'g', 2, 64) }

// minWidth is the narrowest layer of a fully connected net of the zoo.
const minWidth = 4

// The width profiles of fully connected nets.
var profiles = []string{"constant", "increasing", "decreasing", "alternating", "random"}

// drawFC draws a fully connected net: its profile and spec.
func drawFC(r *rand.Rand) (profile, spec string) {
	depth := logUniformInt(r, 3, 60)
	base := float64(logUniformInt(r, 8, 96))
	profile = profiles[r.IntN(len(profiles))]
	widths := make([]int, depth)
	for j := range widths {
		var w float64
		switch profile {
		case "constant":
			w = base
		case "increasing", "decreasing":
			t := float64(j) / float64(max(1, depth-1))
			if profile == "decreasing" {
				t = 1 - t
			}
			w = base / 2 * math.Pow(4, t)
		case "alternating":
			w = base / 2
			if j%2 == 1 {
				w = 2 * base
			}
		default:
			w = base * math.Pow(2, uniform(r, -1, 1))
		}
		widths[j] = max(minWidth, int(math.Round(w)))
	}
	return profile, fcSpec(widths)
}

// fcSpec writes fc:784-...-10 with runs of equal widths as WxK.
func fcSpec(widths []int) string {
	parts := []string{"784"}
	for i := 0; i < len(widths); {
		j := i
		for j < len(widths) && widths[j] == widths[i] {
			j++
		}
		if j-i > 1 {
			parts = append(parts, fmt.Sprintf("%dx%d", widths[i], j-i))
		} else {
			parts = append(parts, strconv.Itoa(widths[i]))
		}
		i = j
	}
	return "fc:" + strings.Join(append(parts, "10"), "-")
}

// convChannels are the channel counts of the conv nets.
var convChannels = []int{4, 6, 8, 12, 16}

// drawConv draws a small conv net on 1x28x28: its variant and spec.
func drawConv(r *rand.Rand) (variant, spec string) {
	c := convChannels[r.IntN(len(convChannels))]
	more := 1 + r.IntN(8)
	items := []string{"1x28x28", fmt.Sprintf("conv%dk3s2", c)}
	strides := "s2"
	if r.IntN(2) == 1 {
		items = append(items, fmt.Sprintf("conv%dk3s2", c))
		strides = "s2s2"
		more--
	}
	if more > 0 {
		items = append(items, fmt.Sprintf("conv%dk3x%d", c, more))
	}
	head := "gap"
	if r.IntN(2) == 1 {
		head = "flatten"
	}
	items = append(items, head, "dense10")
	return head + "," + strides, "net:" + strings.Join(items, ",")
}

// drawResidual draws a dense residual net: its variant and spec.
func drawResidual(r *rand.Rand) (variant, spec string) {
	w := logUniformInt(r, 16, 96)
	blocks := logUniformInt(r, 2, 60)
	var eta, form string
	switch r.IntN(4) {
	case 0:
		form, eta = "constant", round2(math.Pow(10, uniform(r, -1, 0.2)))
	case 1:
		form, eta = "b^l", round2(uniform(r, 0.5, 1))+"^l"
	case 2:
		form, eta = "c/l", round2(uniform(r, 0.3, 3))+"/l"
	default:
		form, eta = "c/L", round2(uniform(r, 0.5, 10))+"/L"
	}
	end := "relu"
	if r.IntN(2) == 1 {
		end = "linear"
	}
	item := fmt.Sprintf("resdense%dx%d:eta=%s", w, blocks, eta)
	if end == "linear" {
		item += ":end=linear"
	}
	return form + ",end=" + end, fmt.Sprintf("net:784,dense%d,%s,dense10", w, item)
}

// lawFamilies are the weight families of the drawn laws.
var lawFamilies = []weightinit.Family{weightinit.Normal, weightinit.Uniform, weightinit.TruncNormal, weightinit.TruncNormalCorrected, weightinit.Rademacher}

// fm1Spread is the half-width, in decades, of the log-uniform law of C/2
// in the drawn laws C/fan_in.
const fm1Spread = 0.6

// drawInit draws an initialization: a preset or a law.
func drawInit(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		ps := weightinit.Presets()
		return ps[r.IntN(len(ps))].Name
	}
	fam := lawFamilies[r.IntN(len(lawFamilies))]
	fan := "fan_in"
	if r.IntN(4) == 0 {
		fan = "fan_avg"
	}
	c := 2 * math.Pow(10, uniform(r, -fm1Spread, fm1Spread))
	return fmt.Sprintf("%s:%s/%s", fam, strconv.FormatFloat(c, 'g', 3, 64), fan)
}
