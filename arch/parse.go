package arch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
		s.Layers = append(s.Layers, LayerSpec{Type: "dense", Units: &w, Activation: act})
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
		ls.Repeat = &k
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
	switch {
	case key == "size" && (name == "dense" || name == "resdense"):
		ls.Units = &n
	case key == "size" && (name == "conv" || name == "resconv"):
		ls.Channels = &n
	case key == "size" && (name == "maxpool" || name == "avgpool"):
		ls.Kernel = &n
	case key == "k" && (name == "conv" || name == "resconv"):
		ls.Kernel = &n
	case key == "s" && (name == "conv" || name == "maxpool" || name == "avgpool" || name == "resconv"):
		ls.Stride = &n
	case key == "p" && name == "conv":
		ls.Pad = &n
	case key == "size":
		return fmt.Errorf("%s takes no size", name)
	default:
		return fmt.Errorf("%s takes no %s", name, map[string]string{"k": "kernel (k)", "s": "stride (s)", "p": "pad (p)"}[key])
	}
	return nil
}

// setOptions reads an item's :options. Each option may be given once, and
// an option with = needs a value.
func setOptions(ls *LayerSpec, opts string) error {
	if opts == "" {
		return nil
	}
	given := map[string]string{}
	for _, o := range strings.Split(opts[1:], ":") {
		key, val, hasVal := strings.Cut(o, "=")
		var field *string
		switch {
		case !hasVal && (key == "relu" || key == "linear") && ls.Type != "residual":
			field, key, val = &ls.Activation, "activation", key
		case hasVal && key == "eta" && ls.Type == "residual":
			field = &ls.Eta
		case hasVal && key == "end" && ls.Type == "residual":
			field = &ls.End
		case hasVal && key == "shortcut" && ls.Type == "residual":
			field = &ls.Shortcut
		case hasVal && key == "post" && ls.Type == "residual":
			field = &ls.Post
		case ls.Type == "residual":
			return fmt.Errorf("option %q: a residual item takes :eta=SCHEDULE, :end=relu|linear, :shortcut=identity|proj and :post=none|relu", o)
		default:
			return fmt.Errorf("option %q: this item takes :relu or :linear", o)
		}
		if prev, twice := given[key]; twice {
			return fmt.Errorf("option %q: %s is already given (%q): give each option once", o, key, prev)
		}
		if strings.TrimSpace(val) == "" {
			return fmt.Errorf("option %q: %s has an empty value", o, key)
		}
		given[key], *field = o, val
	}
	return nil
}

// ParseJSON reads the JSON form of a Spec, rejecting unknown fields, keys
// given twice in one object, null values and empty strings:
//
//	{"input": [1, 28, 28], "layers": [
//	  {"type": "conv", "channels": 16, "kernel": 3, "repeat": 4},
//	  {"type": "residual", "module": "conv", "kernel": 3, "repeat": 8, "eta": "0.9^l", "end": "relu"},
//	  {"type": "gap"}, {"type": "dense", "units": 10}]}
func ParseJSON(b []byte) (Spec, error) {
	if err := checkJSON(b); err != nil {
		return Spec{}, fmt.Errorf("JSON spec: %v", err)
	}
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

// jsonFrame is an object or array that checkJSON is inside.
type jsonFrame struct {
	path   string
	object bool
	// keys holds an object's keys so far, folded as encoding/json matches
	// them to fields; wantKey says the next token is a key.
	keys    map[string]bool
	wantKey bool
	key     string
	// index is the position of an array's next element.
	index int
}

// child is the path of the frame's next value.
func (f *jsonFrame) child() string {
	if f.object {
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
	}
	return fmt.Sprintf("%s[%d]", f.path, f.index)
}

// checkJSON walks the tokens of a JSON document and rejects what
// encoding/json would accept without a word: a key given twice in one
// object (json keeps the last, and matches keys to fields without regard
// to case), a null value (json leaves the field at its default) and an
// empty string. Errors name the value's path, e.g. layers[2].eta.
func checkJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*jsonFrame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.wantKey {
			key := tok.(string)
			folded := strings.ToLower(strings.ToUpper(key))
			if top.keys[folded] {
				return fmt.Errorf("%s: key %q is given twice: give each field once", orRoot(top.path), key)
			}
			top.keys[folded], top.key, top.wantKey = true, key, false
			continue
		}
		path := ""
		if top != nil {
			path = top.child()
			top.wantKey = top.object
			top.index++
		}
		switch v := tok.(type) {
		case json.Delim:
			stack = append(stack, &jsonFrame{path: path, object: v == '{', keys: map[string]bool{}, wantKey: v == '{'})
		case nil:
			return fmt.Errorf("%s: null: give a value or leave the field out", orRoot(path))
		case string:
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("%s: empty string: give a value or leave the field out", orRoot(path))
			}
		}
	}
}

// orRoot names the top-level value for an empty path.
func orRoot(path string) string {
	if path == "" {
		return "the top-level object"
	}
	return path
}
