package train

import (
	"fmt"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/weightinit"
)

// The PCG streams of a run: with seed s, Initialize draws every weight and
// bias from rand.NewPCG(s, InitStream), and Run shuffles the training set
// from rand.NewPCG(s, ShuffleStream). The two never share draws, so the
// initialization of a seed does not depend on the batch size or the data.
const (
	// InitStream is the PCG stream of the weight and bias initialization.
	InitStream uint64 = 0
	// ShuffleStream is the PCG stream of the order of the training examples.
	ShuffleStream uint64 = 1
)

// Build turns an arch net into an nn network in float32, with all weights
// and biases zero (see Initialize). Each dense or conv layer becomes an
// nn.Dense or nn.Conv2d (with the same padding), followed by an nn.ReLU if
// it is a ReLU layer; pooling layers become nn.MaxPool2d or nn.AvgPool2d
// (without padding, as in arch), gap nn.GlobalAvgPool, flatten nn.Flatten,
// and a residual block nn.NewResidual(module, eta) whose module is an
// nn.Sequential of its two layers and their ReLUs. A flat input of n values
// is a vector of n features: data images are flattened in NCHW order.
func Build(net *arch.Graph) (*nn.Sequential[float32], error) {
	if net == nil || len(net.Nodes) < 2 {
		return nil, fmt.Errorf("build: the net has no layers")
	}
	layers, err := buildLayers(net.Layers())
	if err != nil {
		return nil, err
	}
	return nn.NewSequential(layers...)
}

// buildLayers maps arch layers to nn layers, each followed by its ReLU.
func buildLayers(ls []arch.Layer) ([]nn.Layer[float32], error) {
	var out []nn.Layer[float32]
	for i := range ls {
		l := &ls[i]
		layer, err := buildLayer(l)
		if err != nil {
			return nil, fmt.Errorf("build: layer %d (%s): %w", i+1, l, err)
		}
		out = append(out, layer)
		if l.ReLU {
			out = append(out, nn.NewReLU[float32](shape(l.Out)))
		}
	}
	return out, nil
}

// buildLayer maps one arch layer, without its ReLU.
func buildLayer(l *arch.Layer) (nn.Layer[float32], error) {
	in := shape(l.In)
	w := l.Window()
	switch l.Kind {
	case arch.Dense:
		return nn.NewDense[float32](l.In.Size(), l.Out.C)
	case arch.Conv:
		return nn.NewConv2d[float32](in, l.Out.C, w.Kernel, w.Stride, w.Pad)
	case arch.MaxPool:
		return nn.NewMaxPool2d[float32](in, w.Kernel, w.Stride)
	case arch.AvgPool:
		return nn.NewAvgPool2d[float32](in, w.Kernel, w.Stride)
	case arch.GlobalAvgPool:
		return nn.NewGlobalAvgPool[float32](in)
	case arch.Flatten:
		return nn.NewFlatten[float32](in), nil
	case arch.Residual:
		if len(l.Shortcut) > 0 || l.PostReLU {
			return nil, fmt.Errorf("projection shortcuts and post-join ReLUs are not supported yet")
		}
		inner, err := buildLayers(l.Module)
		if err != nil {
			return nil, err
		}
		module, err := nn.NewSequential(inner...)
		if err != nil {
			return nil, err
		}
		return nn.NewResidual[float32](module, l.Eta)
	}
	return nil, fmt.Errorf("unknown layer kind %q", l.Kind)
}

// shape converts an arch shape to an nn shape: a flat vector of n features
// is {n, 1, 1} in both.
func shape(s arch.Shape) nn.Shape { return nn.Shape{C: s.C, H: s.H, W: s.W} }

// Initialize fills every weight and bias of model from init, with the one
// random stream rand.NewPCG(seed, InitStream). It visits the parameters in
// the order of model.Params(): layer by layer from the input, a residual
// block's module in its place, each layer's weight before its bias. A weight
// is filled in its storage order (row-major: a dense weight out×in, a conv
// kernel Cout×Cin×k×k) with init.Weight.Sampler(fanIn, fanOut), a bias with
// init.Bias's sampler, at the fans of the parameter's layer (PyTorch's
// convention). The same seed therefore gives the same network, whatever
// else the run does.
func Initialize(model *nn.Sequential[float32], init weightinit.Init, seed uint64) error {
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
