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
// shapes as PyTorch does (a bias x.bias carries the fans of x.weight) and
// roles from their names. With a graph (a spec the user gives), the
// graph's dense and conv nodes take, in order, the weight tensors (rank 2
// and more) of the shape PyTorch gives them: each the first unused one in
// the natural order of their names (layers.2 before layers.10), with the
// bias of the same prefix (x.weight, x.bias) if there is one, and the
// node is renamed after the module (x). Every weight tensor must find its
// node.
func FromSafetensors(f *safetensors.File, g *arch.Graph) (*lower.Model, error) {
	m := &lower.Model{Params: map[int]lower.Params{}}
	byName := map[string]int{}
	var order []int
	for _, t := range f.Tensors {
		if t.Float == nil {
			continue
		}
		lt := lower.Tensor{Name: t.Name, Role: roleOf(t.Name), Shape: t.Shape, Values: t.Float, GraphNode: -1}
		lt.FanIn, lt.FanOut = lower.TorchFans(t.Shape)
		byName[t.Name] = len(m.Tensors)
		order = append(order, len(m.Tensors))
		m.Tensors = append(m.Tensors, lt)
	}
	for i := range m.Tensors {
		b := &m.Tensors[i]
		if prefix, ok := strings.CutSuffix(b.Name, "bias"); ok && b.Role == lower.RoleBias {
			if w, ok := byName[prefix+"weight"]; ok {
				b.FanIn, b.FanOut = m.Tensors[w].FanIn, m.Tensors[w].FanOut
			}
		}
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
	used := make([]bool, len(weights))
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if !n.HasWeights() {
			continue
		}
		want := weightShape(n)
		k := -1
		for j, w := range weights {
			if !used[j] && slices.Equal(m.Tensors[w].Shape, want) {
				k = j
				break
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("layer %s (%s) of %s needs a weight of shape %v: no unused tensor has it (unused: %s)", n.Name, n.Op, g.Source, want, describeTensors(m.Tensors, weights, used))
		}
		used[k] = true
		t := &m.Tensors[weights[k]]
		if module, ok := strings.CutSuffix(t.Name, ".weight"); ok && module != "" {
			n.Name = module // report the layer by its PyTorch module
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
	if slices.Contains(used, false) {
		return nil, fmt.Errorf("%s has no layer for the weight tensors %s: the net must have a dense or conv layer for each", g.Source, describeTensors(m.Tensors, weights, used))
	}
	m.Graph = g
	return m, nil
}

// describeTensors lists the unused ones of the weight tensors, with their
// shapes: `"fc.weight" [10 64], ...`, the first six and a count ("none"
// for none).
func describeTensors(ts []lower.Tensor, weights []int, used []bool) string {
	var parts []string
	for k, w := range weights {
		if !used[k] {
			parts = append(parts, fmt.Sprintf("%q %v", ts[w].Name, ts[w].Shape))
		}
	}
	switch {
	case len(parts) == 0:
		return "none"
	case len(parts) > 6:
		return fmt.Sprintf("%s and %d more", strings.Join(parts[:6], ", "), len(parts)-6)
	}
	return strings.Join(parts, ", ")
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
