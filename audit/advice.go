package audit

import (
	"fmt"
	"math"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/theory"
)

// cTolerance is how far a layer's c may lie from its target (2 before a
// ReLU, 1 for a linear layer) before the advice names it: 10%, well
// outside the sampling error of any layer of more than a few hundred
// weights, and small beside the factors FM1 compounds.
const cTolerance = 0.10

// pytorchAdvice phrases what to change for PyTorch: the layers whose
// variance is off and the torch.nn.init calls that fix them, the residual
// branches to scale, the widths that fix FM2.
func pytorchAdvice(r *Report, g *arch.Graph, laws nodeLawSet) []string {
	p := r.Prediction
	var out []string
	if len(r.Unsupported) > 0 {
		out = append(out, fmt.Sprintf("The theory covers the model up to the first unsupported op, %s; what follows it is not judged.", r.Unsupported[0].Node))
	}
	off := offLayers(g, laws)
	fm1Bad := p.FM1.Verdict != theory.OK
	switch {
	case fm1Bad:
		out = append(out, fm1Advice(p, off)...)
	case len(off) > 0:
		out = append(out, fmt.Sprintf("FM1 is ok, although %d layer(s) have c more than 10%% from their target (%s): over the net their factors stay within the ok band, so nothing needs re-initializing for FM1.",
			len(off), describeC(off, true, false)))
	}
	if p.FM2.Verdict != theory.OK {
		out = append(out, fmt.Sprintf("FM2 is %s: %s", p.FM2.Verdict, p.FM2.Summary))
		out = append(out, p.FM2.Advice.Text...)
	}
	switch {
	case fm1Bad || p.FM2.Verdict != theory.OK:
	case p.FM1.UnknownLayers > 0:
		out = append(out, fmt.Sprintf("FM1 and FM2 are ok on the layers the theory has laws for; %d layer(s) it has none for are left out: their measured lengths are in the layer table.", p.FM1.UnknownLayers))
	default:
		out = append(out, "FM1 and FM2 are ok: nothing to change.")
	}
	if n := foldedWeights(r.Tensors); n > 0 {
		out = append(out, fmt.Sprintf("%d conv or linear weight tensor(s) have names the exporter generated (onnx::Conv_*, onnx::Gemm_*): PyTorch folds a BatchNorm into the layer before it in an eval-mode export, so these are the folded weights, and in training batch norm renormalizes each such layer by its batch statistics. To audit the net as it trains, export it with torch.onnx.export(..., training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False).", n))
	}
	return out
}

// foldedWeights counts the weight tensors of conv and Gemm nodes whose
// names the exporter generated, as it does for weights it folded a batch
// norm into.
func foldedWeights(ts []TensorStat) int {
	n := 0
	for _, t := range ts {
		if t.Role == "weight" && (strings.HasPrefix(t.Name, "onnx::Conv_") || strings.HasPrefix(t.Name, "onnx::Gemm_")) {
			n++
		}
	}
	return n
}

// offLayer is a weighted layer whose c is off its target.
type offLayer struct {
	module    string
	c, target float64
	relu      bool
}

// offLayers lists the weighted layers (those of residual modules and
// shortcuts included) whose c lies more than cTolerance from 2 (followed
// by a ReLU) or 1 (linear).
func offLayers(g *arch.Graph, laws nodeLawSet) []offLayer {
	var out []offLayer
	for _, l := range g.Layers() {
		for _, w := range weightedOf(l) {
			f, ok := laws.fits[w.Node.ID]
			if !ok {
				continue
			}
			target := 1.0
			if w.ReLU {
				target = 2
			}
			if math.Abs(f.C/target-1) > cTolerance {
				out = append(out, offLayer{module: ModulePath(w.Node.Name), c: f.C, target: target, relu: w.ReLU})
			}
		}
	}
	return out
}

// weightedOf returns the dense and conv layers of l: l itself, or a
// residual block's module and shortcut layers.
func weightedOf(l arch.Layer) []arch.Layer {
	if l.Kind == arch.Residual {
		return append(append([]arch.Layer{}, l.Module...), l.Shortcut...)
	}
	if l.HasWeights() {
		return []arch.Layer{l}
	}
	return nil
}

// fm1Advice says which layers to re-initialize and how, or which residual
// branches to scale.
func fm1Advice(p *theory.Prediction, off []offLayer) []string {
	var out []string
	if p.FM1.Verdict != theory.OK {
		out = append(out, fmt.Sprintf("FM1 is %s: %s", p.FM1.Verdict, p.FM1.Summary))
	}
	var relu, linear []string
	for _, o := range off {
		if o.relu {
			relu = append(relu, o.module)
		} else {
			linear = append(linear, o.module)
		}
	}
	if len(relu) > 0 {
		out = append(out, fmt.Sprintf("%d layer(s) before a ReLU have c = fan_in Var(W) away from 2 (%s): give them Kaiming's variance 2/fan_in, zero biases:", len(relu), describeC(off, true, true)),
			initLoop(relu, `torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")`))
	}
	if len(linear) > 0 {
		out = append(out, fmt.Sprintf("%d linear layer(s) (no ReLU after) have c away from 1 (%s): variance 1/fan_in keeps their output's mean square:", len(linear), describeC(off, false, true)),
			initLoop(linear, `torch.nn.init.kaiming_normal_(m.weight, nonlinearity="linear")`))
	}
	if p.FM1.Verdict != theory.OK && len(off) == 0 {
		out = append(out, "Every layer's c is on target: the residual joins compound the length. Scale each residual branch, out = x + eta_l * branch(x), or start it at zero (torch.nn.init.zeros_ on the weight of the branch's last BatchNorm or conv).")
	}
	if a := p.FM1.Advice; a.EtaGeometric != "" || a.EtaOverL != "" {
		out = append(out, fmt.Sprintf("Residual scales that keep E[M] bounded here: eta_l = %s or eta_l = %s.", orDash(a.EtaGeometric), orDash(a.EtaOverL)))
	}
	return out
}

// describeC lists the c values of the layers before a ReLU (relu) or the
// linear ones, or of all of them unless only, the first few and a count.
func describeC(off []offLayer, relu, only bool) string {
	var parts []string
	for _, o := range off {
		if o.relu == relu || !only {
			parts = append(parts, fmt.Sprintf("%s c = %.3g", o.module, o.c))
		}
	}
	if len(parts) > 4 {
		parts = append(parts[:3], fmt.Sprintf("... %d more", len(parts)-3))
	}
	return strings.Join(parts, ", ")
}

// initLoop is the PyTorch code that applies call to the named modules.
func initLoop(modules []string, call string) string {
	quoted := make([]string, len(modules))
	for i, m := range modules {
		quoted[i] = fmt.Sprintf("%q", m)
	}
	return fmt.Sprintf("    for name in [%s]:\n        m = model.get_submodule(name)\n        %s\n        if m.bias is not None:\n            torch.nn.init.zeros_(m.bias)",
		strings.Join(quoted, ", "), call)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
