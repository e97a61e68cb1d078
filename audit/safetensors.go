package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/safetensors"
)

// FromSafetensors makes an auditable model of a safetensors file. Without
// a graph it carries only the tensors, with fans computed from their
// shapes as PyTorch does and roles from their names. With a graph (a spec
// the user gives), the weight tensors (rank 2 and more), in the natural
// order of their names (layers.2 before layers.10), fill the graph's dense
// and conv nodes in order, each with the bias of the same prefix
// (x.weight, x.bias) if there is one; shapes must match.
func FromSafetensors(f *safetensors.File, g *arch.Graph) (*lower.Model, error) {
	m := &lower.Model{Params: map[int]lower.Params{}}
	byName := map[string]int{}
	var order []int
	for _, t := range f.Tensors {
		if t.Float == nil {
			continue
		}
		lt := lower.Tensor{Name: t.Name, Role: roleOf(t.Name), Shape: t.Shape, Values: t.Float, GraphNode: -1}
		lt.FanIn, lt.FanOut = torchFans(t.Shape)
		byName[t.Name] = len(m.Tensors)
		order = append(order, len(m.Tensors))
		m.Tensors = append(m.Tensors, lt)
	}
	if g == nil {
		m.Notes = []string{"no --arch: the tensors' statistics only; give the net (--arch) to map them to its layers and get the theory's verdicts"}
		return m, nil
	}
	slices.SortStableFunc(order, func(a, b int) int { return naturalCompare(m.Tensors[a].Name, m.Tensors[b].Name) })
	var weights []int
	for _, i := range order {
		if len(m.Tensors[i].Shape) >= 2 {
			weights = append(weights, i)
		}
	}
	var nodes []*arch.Node
	for i := range g.Nodes {
		if g.Nodes[i].HasWeights() {
			nodes = append(nodes, &g.Nodes[i])
		}
	}
	if len(weights) != len(nodes) {
		return nil, fmt.Errorf("%d weight tensors (rank 2 or more) for the %d dense and conv layers of %s: they must match one to one", len(weights), len(nodes), g.Source)
	}
	for k, n := range nodes {
		t := &m.Tensors[weights[k]]
		if want := weightShape(n); !slices.Equal(t.Shape, want) {
			return nil, fmt.Errorf("tensor %q of shape %v for layer %s (%s): want shape %v", t.Name, t.Shape, n.Name, n.Op, want)
		}
		p := lower.Params{Weight: t.Values}
		t.Node, t.Role, t.GraphNode, t.FanIn, t.FanOut = n.Name, lower.RoleWeight, n.ID, n.FanIn(), n.FanOut()
		if prefix, ok := strings.CutSuffix(t.Name, "weight"); ok {
			if bi, ok := byName[prefix+"bias"]; ok {
				b := &m.Tensors[bi]
				if !slices.Equal(b.Shape, []int{n.Width()}) {
					return nil, fmt.Errorf("tensor %q of shape %v for the bias of layer %s: want shape [%d]", b.Name, b.Shape, n.Name, n.Width())
				}
				b.Node, b.Role, b.GraphNode, b.FanIn, b.FanOut = n.Name, lower.RoleBias, n.ID, n.FanIn(), n.FanOut()
				p.Bias = b.Values
			}
		}
		m.Params[n.ID] = p
	}
	m.Graph = g
	return m, nil
}

// weightShape is the shape PyTorch gives node n's weight: [out, in] for a
// dense node, [Cout, Cin/groups, KH, KW] for a conv node.
func weightShape(n *arch.Node) []int {
	if n.Op == arch.OpDense {
		return []int{n.Out.C, n.In.Size()}
	}
	w := n.Window
	return []int{n.Out.C, w.In.C / w.Groups, w.KH, w.KW}
}

// torchFans returns the fans PyTorch computes for a tensor of this shape
// (torch.nn.init._calculate_fan_in_and_fan_out), 0, 0 below rank 2.
func torchFans(shape []int) (fanIn, fanOut int) {
	if len(shape) < 2 {
		return 0, 0
	}
	field := 1
	for _, d := range shape[2:] {
		field *= d
	}
	return shape[1] * field, shape[0] * field
}

// roleOf guesses a tensor's role from PyTorch's parameter names.
func roleOf(name string) string {
	for _, r := range []struct{ suffix, role string }{
		{".running_mean", lower.RoleRunningMean}, {".running_var", lower.RoleRunningVar},
		{"weight", lower.RoleWeight}, {"bias", lower.RoleBias},
	} {
		if strings.HasSuffix(name, r.suffix) {
			return r.role
		}
	}
	return lower.RoleOther
}

// naturalCompare orders names with their digit runs compared as numbers:
// layers.2.weight before layers.10.weight.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			x, y := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(x) != len(y) {
				return len(x) - len(y)
			}
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

// digitRun is the length of the run of ASCII digits s starts with.
func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
