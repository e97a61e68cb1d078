package arch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Parse reads a net in any of the supported forms:
//
//	fc:784-100x20-10                      fully connected (see ParseFC)
//	net:1x28x28,conv16k3x6,gap,dense10    the general compact grammar (see ParseCompact)
//	{"input":[784],"layers":[...]}        the JSON form (see ParseJSON)
func Parse(text string) (*Graph, error) {
	t := strings.TrimSpace(text)
	var s Spec
	var err error
	switch {
	case strings.HasPrefix(t, "fc:"):
		s, err = ParseFC(t)
	case strings.HasPrefix(t, "net:"):
		s, err = ParseCompact(t)
	case strings.HasPrefix(t, "{"):
		s, err = ParseJSON([]byte(t))
	default:
		return nil, fmt.Errorf("spec %q: must start with fc:, net: or { (JSON)", clip(t))
	}
	if err != nil {
		return nil, err
	}
	g, err := Build(s)
	if err != nil {
		return nil, err
	}
	g.Source = t
	return g, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// ParseFC reads the fully connected grammar fc:N0-N1-...-Nd, where any element
// may be WxK for K consecutive layers of width W. Every layer after the input
// is a ReLU layer except the last, which is linear (the logits).
func ParseFC(text string) (Spec, error) {
	body := strings.TrimPrefix(strings.TrimSpace(text), "fc:")
	parts := strings.Split(body, "-")
	if len(parts) < 2 {
		return Spec{}, fmt.Errorf("spec %q: fc needs an input and at least one layer, e.g. fc:784-100x20-10", clip(text))
	}
	var widths []int
	for i, p := range parts {
		w, k, err := widthRepeat(p)
		if err != nil {
			return Spec{}, fmt.Errorf("spec %q: element %d %q: %v", clip(text), i+1, p, err)
		}
		if i == 0 && k != 1 {
			return Spec{}, fmt.Errorf("spec %q: the input %q cannot repeat", clip(text), p)
		}
		for j := 0; j < k; j++ {
			widths = append(widths, w)
		}
	}
	s := Spec{Input: []int{widths[0]}}
	for i, w := range widths[1:] {
		act := "relu"
		if i == len(widths)-2 {
			act = "linear"
		}
		s.Layers = append(s.Layers, LayerSpec{Type: "dense", Units: w, Activation: act})
	}
	return s, nil
}

// widthRepeat reads W or WxK.
func widthRepeat(p string) (w, k int, err error) {
	ws, ks, rep := strings.Cut(p, "x")
	if w, err = atoi(ws, "width"); err != nil {
		return 0, 0, err
	}
	k = 1
	if rep {
		if k, err = atoi(ks, "repeat"); err != nil {
			return 0, 0, err
		}
		if k < 1 {
			return 0, 0, fmt.Errorf("repeat %d: must be >= 1", k)
		}
	}
	if w < 1 {
		return 0, 0, fmt.Errorf("width %d: widths must be >= 1", w)
	}
	if k > maxLayers {
		return 0, 0, fmt.Errorf("repeat %d: at most %d layers are supported", k, maxLayers)
	}
	return w, k, nil
}

func atoi(s, what string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a whole number", what, s)
	}
	return v, nil
}

// itemRe matches one compact item: a name, numbers with letter keys, an
// optional repeat, then options.
var itemRe = regexp.MustCompile(`^(dense|conv|maxpool|avgpool|gap|flatten|resdense|resconv)((?:[ksp]?\d+)*)(?:x(\d+))?((?::[^:]*)*)$`)

// keyNumRe splits the number part of an item: a leading number, then k/s/p numbers.
var keyNumRe = regexp.MustCompile(`([ksp]?)(\d+)`)

// ParseCompact reads the general compact grammar: net: followed by
// comma-separated items, the first being the input shape (N or CxHxW):
//
//	denseW[xK][:relu|:linear]           K dense layers of width W
//	convCkK[sS][pP][xR][:relu|:linear]  conv, C channels, kernel K, stride S (1), pad P (K/2)
//	maxpoolK[sS], avgpoolK[sS]          pooling without padding, stride defaults to K
//	gap, flatten                        global average pooling, flattening
//	resdenseW[xL][:eta=E][:end=relu|linear]     L residual blocks, module dense-ReLU-dense
//	resconvCkK[sS][xL][:eta=E][:end=relu|linear]  L residual blocks, module conv-ReLU-conv
//
// Residual items also take :shortcut=proj (a linear projection on the skip
// path, dense or a 1x1 conv with the module's stride S, so the block may
// change the width) and :post=relu (a ReLU after the join): together, the
// ResNet v1 block, e.g. resconv32k3s2:shortcut=proj:post=relu.
//
// Dense and conv layers are ReLU layers, except the net's last layer, which is
// linear unless it says :relu. E is a schedule for ParseSchedule; a residual
// module ends with a ReLU unless it says :end=linear.
func ParseCompact(text string) (Spec, error) {
	body := strings.TrimPrefix(strings.TrimSpace(text), "net:")
	items := strings.Split(body, ",")
	var s Spec
	for _, d := range strings.Split(strings.TrimSpace(items[0]), "x") {
		v, err := atoi(d, "input size")
		if err != nil {
			return Spec{}, fmt.Errorf("spec %q: input %q: %v (want N or CxHxW)", clip(text), items[0], err)
		}
		s.Input = append(s.Input, v)
	}
	if len(items) < 2 {
		return Spec{}, fmt.Errorf("spec %q: give the input then at least one layer, e.g. net:784,dense100,dense10", clip(text))
	}
	for i, it := range items[1:] {
		ls, err := parseItem(strings.TrimSpace(it))
		if err != nil {
			return Spec{}, fmt.Errorf("spec %q: item %d %q: %v", clip(text), i+2, it, err)
		}
		s.Layers = append(s.Layers, ls)
	}
	return s, nil
}

func parseItem(it string) (LayerSpec, error) {
	m := itemRe.FindStringSubmatch(it)
	if m == nil {
		return LayerSpec{}, fmt.Errorf("not an item: want denseW, convCkK[sS][pP], maxpoolK, avgpoolK, gap, flatten, resdenseW or resconvCkK, with optional xK and :options")
	}
	name, nums, rep, opts := m[1], m[2], m[3], m[4]
	ls := LayerSpec{Type: name}
	if name == "resdense" || name == "resconv" {
		ls.Type, ls.Module = "residual", strings.TrimPrefix(name, "res")
	}
	if rep != "" {
		k, err := atoi(rep, "repeat")
		if err != nil {
			return ls, err
		}
		if k < 1 {
			return ls, fmt.Errorf("repeat %d: must be >= 1", k)
		}
		ls.Repeat = k
	}
	seen := map[string]bool{}
	for i, kv := range keyNumRe.FindAllStringSubmatch(nums, -1) {
		key, v := kv[1], kv[2]
		n, err := atoi(v, "number")
		if err != nil {
			return ls, err
		}
		if i == 0 && key == "" {
			key = "size"
		}
		if key == "" || seen[key] {
			return ls, fmt.Errorf("number %q is misplaced: the size comes first, then k, s and p once each", kv[0])
		}
		seen[key] = true
		if err := setNumber(&ls, name, key, n); err != nil {
			return ls, err
		}
	}
	if err := setOptions(&ls, opts); err != nil {
		return ls, err
	}
	return ls, nil
}

func setNumber(ls *LayerSpec, name, key string, n int) error {
	v := n
	switch {
	case key == "size" && (name == "dense" || name == "resdense"):
		ls.Units = n
	case key == "size" && (name == "conv" || name == "resconv"):
		ls.Channels = n
	case key == "size" && (name == "maxpool" || name == "avgpool"):
		ls.Kernel = n
	case key == "k" && (name == "conv" || name == "resconv"):
		ls.Kernel = n
	case key == "s" && (name == "conv" || name == "maxpool" || name == "avgpool" || name == "resconv"):
		ls.Stride = &v
	case key == "p" && name == "conv":
		ls.Pad = &v
	case key == "size":
		return fmt.Errorf("%s takes no size", name)
	default:
		return fmt.Errorf("%s takes no %s", name, map[string]string{"k": "kernel (k)", "s": "stride (s)", "p": "pad (p)"}[key])
	}
	return nil
}

func setOptions(ls *LayerSpec, opts string) error {
	if opts == "" {
		return nil
	}
	for _, o := range strings.Split(opts[1:], ":") {
		key, val, hasVal := strings.Cut(o, "=")
		switch {
		case !hasVal && (key == "relu" || key == "linear") && ls.Type != "residual":
			ls.Activation = key
		case hasVal && key == "eta" && ls.Type == "residual":
			ls.Eta = val
		case hasVal && key == "end" && ls.Type == "residual":
			ls.End = val
		case hasVal && key == "shortcut" && ls.Type == "residual":
			ls.Shortcut = val
		case hasVal && key == "post" && ls.Type == "residual":
			ls.Post = val
		default:
			if ls.Type == "residual" {
				return fmt.Errorf("option %q: a residual item takes :eta=SCHEDULE, :end=relu|linear, :shortcut=identity|proj and :post=none|relu", o)
			}
			return fmt.Errorf("option %q: this item takes :relu or :linear", o)
		}
	}
	return nil
}

// ParseJSON reads the JSON form of a Spec, rejecting unknown fields:
//
//	{"input": [1, 28, 28], "layers": [
//	  {"type": "conv", "channels": 16, "kernel": 3, "repeat": 4},
//	  {"type": "residual", "module": "conv", "kernel": 3, "repeat": 8, "eta": "0.9^l", "end": "relu"},
//	  {"type": "gap"}, {"type": "dense", "units": 10}]}
func ParseJSON(b []byte) (Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("JSON spec: %v", err)
	}
	if dec.More() {
		return Spec{}, fmt.Errorf("JSON spec: unexpected data after the object")
	}
	return s, nil
}
