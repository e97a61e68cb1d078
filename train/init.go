package train

import (
	"fmt"

	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/weightinit"
)

// The PCG streams of a run: with seed s, Initialize draws every weight and
// bias from weightinit.NewStream(s, InitStream), and Run shuffles the
// training set from rand.NewPCG(s, ShuffleStream). The two never share
// draws, so the initialization of a seed does not depend on the batch size
// or the data.
const (
	// InitStream is the PCG stream of the weight and bias initialization.
	InitStream uint64 = 0
	// ShuffleStream is the PCG stream of the order of the training examples.
	ShuffleStream uint64 = 1
)

// Initialize fills every weight and bias of model from init, with the one
// random stream weightinit.NewStream(seed, InitStream), which draws what
// rand.NewPCG(seed, InitStream) would. It visits the parameters in the
// order of model.Params(): node by node in the graph's order (layer by
// layer from the input; in a residual block, the branch, then the
// projection shortcut), each node's weight before its bias. A weight is
// filled in its storage order (row-major: a dense weight out×in, a conv
// kernel Cout×Cin×k×k) with init.Weight.Sampler(fanIn, fanOut), a bias with
// init.Bias's sampler, at the fans of the parameter's node (PyTorch's
// convention). The same seed therefore gives the same network, whatever
// else the run does.
func Initialize(model *nn.Model[float32], init weightinit.Init, seed uint64) error {
	if init.Weight.IsZero() {
		return fmt.Errorf("initialize: weight law %s is all zeros: every ReLU unit would stay identical", init.Weight)
	}
	r := weightinit.NewStream(seed, InitStream)
	for _, p := range model.Params() {
		if p.FanIn < 1 || p.FanOut < 1 {
			return fmt.Errorf("initialize: parameter %s has fan-in %d, fan-out %d: want both >= 1", p.Name, p.FanIn, p.FanOut)
		}
		law := init.Weight
		if p.Role == nn.Bias {
			law = init.Bias
		}
		law.Sampler(p.FanIn, p.FanOut).Fill(r, p.Data)
	}
	return nil
}

// scaleLogits multiplies the weights of the model's last weighted node, the
// logits, by f (Config.LogitScale).
func scaleLogits(model *nn.Model[float32], f float32) {
	ps := model.Params()
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Role == nn.Weight {
			for j := range ps[i].Data {
				ps[i].Data[j] *= f
			}
			return
		}
	}
}
