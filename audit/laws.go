package audit

import (
	"fmt"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/weightinit"
)

// nodeLawSet is what the audit knows of each parameterized node of the
// graph, by node ID: the laws fitted to the values a dense or conv node
// computes with (batch norms folded in), and an affine node's moments.
type nodeLawSet struct {
	theory map[int]theory.NodeParams
	fits   map[int]weightinit.Fit // weights
	biases map[int]weightinit.Fit
	inits  map[int]weightinit.Init
}

// nodeLaws fits the laws of every dense and conv node of g to its
// parameters, and takes the moments of every affine node's.
func nodeLaws(g *arch.Graph, params map[int]lower.Params) (nodeLawSet, error) {
	s := nodeLawSet{theory: map[int]theory.NodeParams{}, fits: map[int]weightinit.Fit{},
		biases: map[int]weightinit.Fit{}, inits: map[int]weightinit.Init{}}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		p, ok := params[n.ID]
		switch {
		case !n.HasWeights() && n.Op != arch.OpAffine:
			continue
		case !ok:
			return s, fmt.Errorf("node %q (%s): no parameters", n.Name, n.Op)
		case n.Op == arch.OpAffine:
			s.theory[n.ID] = theory.NodeParams{ScaleSquare: meanSquare(p.Weight), ShiftSquare: meanSquare(p.Bias), Known: true}
			continue
		}
		fi, fo := n.FanIn(), n.FanOut()
		f := weightinit.FitTensor(p.Weight, fi, fo)
		in := weightinit.Init{Name: "fitted", Weight: f.Law(), Bias: weightinit.Law{Family: weightinit.Zero}}
		if p.Bias != nil {
			b := weightinit.FitTensor(p.Bias, fi, fo)
			s.biases[n.ID] = b
			in.Bias = b.Law()
		}
		s.fits[n.ID], s.inits[n.ID] = f, in
		s.theory[n.ID] = theory.NodeParams{Init: &in}
	}
	return s, nil
}

// meanSquare is the mean of v's squares, 0 for nil.
func meanSquare(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x * x
	}
	return s / float64(len(v))
}
