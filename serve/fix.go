package serve

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/theory"
)

// Fix is one piece of the theory's advice applied to a design: the design
// to try, and what was changed.
type Fix struct {
	// Label says what the fix changes, in a few words.
	Label string `json:"label"`
	// For is the verdict whose advice it follows: fm1 or fm2.
	For string `json:"for"`
	// Design is the design with the change made.
	Design Design `json:"design"`
}

// fixes applies the advice of p, the prediction for d, to d: the preset
// with variance 2/fan_in for FM1, the constant width (or the depth at the
// current width) and the eta schedules for FM2. A fix whose net would not
// parse, or that changes nothing, is left out.
func fixes(d Design, p *theory.Prediction) []Fix {
	out := []Fix{}
	add := func(verdict, label string, nd Design) {
		if nd == d {
			return
		}
		for _, f := range out {
			if f.Design == nd {
				return
			}
		}
		out = append(out, Fix{Label: label, For: verdict, Design: nd})
	}
	for k, a := range []theory.Advice{p.FM1.Advice, p.FM2.Advice} {
		verdict := []string{"fm1", "fm2"}[k]
		if a.Preset != "" {
			nd := d
			nd.Init = a.Preset
			add(verdict, "init "+a.Preset+" (variance "+a.WeightVariance+")", nd)
		}
		if a.Width > 0 {
			// A new width can break the net (a residual group keeps its
			// stream's width): the whole net is built to check it.
			if spec, ok := withWidth(d.Arch, a.Width); ok && builds(spec) {
				nd := d
				nd.Arch = spec
				add(verdict, fmt.Sprintf("constant width %d", a.Width), nd)
			}
		}
		if a.MaxDepth > 0 {
			if spec, ok := withDepth(d.Arch, a.MaxDepth); ok && reads(spec) {
				nd := d
				nd.Arch = spec
				add(verdict, fmt.Sprintf("depth %d at this width", a.MaxDepth), nd)
			}
		}
		for _, eta := range []string{a.EtaGeometric, a.EtaOverL} {
			if _, err := arch.ParseSchedule(eta, 1); eta == "" || err != nil {
				continue
			}
			if spec, ok := withEta(d.Arch, eta); ok && reads(spec) {
				nd := d
				nd.Arch = spec
				add(verdict, "eta = "+eta, nd)
			}
		}
	}
	return out
}

// builds reports whether spec is a net arch.Parse accepts.
func builds(spec string) bool {
	_, err := arch.Parse(spec)
	return err == nil
}

// reads reports whether spec follows its grammar, without building the
// net: a new repeat count or a valid eta schedule changes no shape, and
// building a net of a thousand residual blocks takes milliseconds.
func reads(spec string) bool {
	var err error
	switch spec = strings.TrimSpace(spec); {
	case strings.HasPrefix(spec, "fc:"):
		_, err = arch.ParseFC(spec)
	case strings.HasPrefix(spec, "net:"):
		_, err = arch.ParseCompact(spec)
	default:
		_, err = arch.ParseJSON([]byte(spec))
	}
	return err == nil
}

// compactLayerRe splits a compact dense or conv item: kind, width, the
// kernel, stride and pad numbers, the repeat, the options.
var compactLayerRe = regexp.MustCompile(`^(dense|conv)(\d+)((?:[ksp]\d+)*)(?:x(\d+))?((?::[^:]*)*)$`)

// compactLayer is a dense or conv item of the compact grammar.
type compactLayer struct {
	kind, width, geometry string
	repeat                int
	options               string
}

// parseCompactLayer reads a dense or conv item; false for other items.
func parseCompactLayer(item string) (compactLayer, bool) {
	m := compactLayerRe.FindStringSubmatch(item)
	if m == nil {
		return compactLayer{}, false
	}
	c := compactLayer{kind: m[1], width: m[2], geometry: m[3], repeat: 1, options: m[5]}
	if m[4] != "" {
		c.repeat, _ = strconv.Atoi(m[4])
	}
	return c, true
}

func (c compactLayer) String() string {
	s := c.kind + c.width + c.geometry
	if c.repeat != 1 {
		s += "x" + strconv.Itoa(c.repeat)
	}
	return s + c.options
}

// reluItems returns, for each item of a compact spec's items (the input
// first), how many of its layers are ReLU layers of the theory's dense or
// conv kind, and whether it is such an item at all: a dense or conv item
// is a ReLU layer unless it says :linear or is the net's last item without
// :relu, whose last layer is then linear.
func reluItems(items []string) (relu []int, layer []bool) {
	relu = make([]int, len(items))
	layer = make([]bool, len(items))
	for i := 1; i < len(items); i++ {
		c, ok := parseCompactLayer(items[i])
		if !ok {
			continue
		}
		layer[i] = true
		switch {
		case strings.Contains(c.options, ":linear"):
		case i == len(items)-1 && !strings.Contains(c.options, ":relu"):
			relu[i] = c.repeat - 1
		default:
			relu[i] = c.repeat
		}
	}
	return relu, layer
}

// withWidth returns spec with every ReLU dense or conv layer of width w
// (units or channels); false for specs it cannot rewrite (residual groups
// keep their stream's width, and the JSON form is rewritten through
// arch.Spec).
func withWidth(spec string, w int) (string, bool) {
	spec = strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(spec, "fc:"):
		parts := strings.Split(strings.TrimPrefix(spec, "fc:"), "-")
		for i := 1; i < len(parts); i++ {
			width, rep, _ := strings.Cut(parts[i], "x")
			switch {
			case i < len(parts)-1:
				parts[i] = strconv.Itoa(w)
				if rep != "" {
					parts[i] += "x" + rep
				}
			case rep != "":
				k, err := strconv.Atoi(rep)
				if err != nil || k < 2 {
					return "", false
				}
				parts[i] = strconv.Itoa(w) + repeatSuffix(k-1) + "-" + width
			}
		}
		return "fc:" + strings.Join(parts, "-"), true
	case strings.HasPrefix(spec, "net:"):
		items := strings.Split(strings.TrimPrefix(spec, "net:"), ",")
		relu, _ := reluItems(items)
		var out []string
		for i, item := range items {
			c, ok := parseCompactLayer(item)
			if !ok || relu[i] == 0 {
				out = append(out, item)
				continue
			}
			if relu[i] < c.repeat { // the last item: its last layer stays linear
				last := c
				last.repeat = 1
				c.width, c.repeat = strconv.Itoa(w), relu[i]
				out = append(out, c.String(), last.String())
				continue
			}
			c.width = strconv.Itoa(w)
			out = append(out, c.String())
		}
		return "net:" + strings.Join(out, ","), true
	case strings.HasPrefix(spec, "{"):
		return rewriteJSON(spec, func(s *arch.Spec) bool {
			var layers []arch.LayerSpec
			changed := false
			for i, l := range s.Layers {
				if l.Type != "dense" && l.Type != "conv" || l.Activation == "linear" {
					layers = append(layers, l)
					continue
				}
				rep := 1
				if l.Repeat != nil {
					rep = *l.Repeat
				}
				if i == len(s.Layers)-1 && l.Activation == "" {
					if rep == 1 {
						layers = append(layers, l)
						continue
					}
					last := l
					one := 1
					last.Repeat = &one
					k := rep - 1
					l.Repeat = &k
					setWidth(&l, w)
					layers = append(layers, l, last)
					changed = true
					continue
				}
				setWidth(&l, w)
				layers = append(layers, l)
				changed = true
			}
			s.Layers = layers
			return changed
		})
	}
	return "", false
}

func repeatSuffix(k int) string {
	if k == 1 {
		return ""
	}
	return "x" + strconv.Itoa(k)
}

// setWidth sets a dense layer's units or a conv layer's channels.
func setWidth(l *arch.LayerSpec, w int) {
	v := w
	if l.Type == "dense" {
		l.Units = &v
	} else {
		l.Channels = &v
	}
}

// withDepth returns spec with depth ReLU layers, when one item holds all of
// its ReLU layers (fc:784-100x50-10, net:1x28x28,conv16k3x20,gap,dense10)
// and the net has no residual group; false otherwise.
func withDepth(spec string, depth int) (string, bool) {
	spec = strings.TrimSpace(spec)
	var items []string
	var prefix, sep string
	switch {
	case strings.HasPrefix(spec, "fc:"):
		prefix, sep = "fc:", "-"
		for i, p := range strings.Split(strings.TrimPrefix(spec, "fc:"), "-") {
			item := "dense" + p
			if i == 0 {
				item = p
			}
			items = append(items, item)
		}
	case strings.HasPrefix(spec, "net:"):
		prefix, sep = "net:", ","
		items = strings.Split(strings.TrimPrefix(spec, "net:"), ",")
		if strings.Contains(spec, "res") {
			return "", false
		}
	default:
		return "", false
	}
	relu, _ := reluItems(items)
	at := -1
	for i, n := range relu {
		if n == 0 {
			continue
		}
		if at >= 0 {
			return "", false
		}
		at = i
	}
	if at < 0 {
		return "", false
	}
	c, _ := parseCompactLayer(items[at])
	if relu[at] < c.repeat { // the last item: keep its linear layer
		c.repeat = depth + 1
	} else {
		c.repeat = depth
	}
	items[at] = c.String()
	if prefix == "fc:" {
		for i := 1; i < len(items); i++ {
			items[i] = strings.TrimPrefix(items[i], "dense")
		}
	}
	return prefix + strings.Join(items, sep), true
}

// withEta returns spec with every residual group's schedule set to eta;
// false for a net without residual groups.
func withEta(spec, eta string) (string, bool) {
	spec = strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(spec, "net:"):
		items := strings.Split(strings.TrimPrefix(spec, "net:"), ",")
		changed := false
		for i, item := range items {
			if i == 0 || !strings.HasPrefix(item, "res") {
				continue
			}
			opts := strings.Split(item, ":")
			found := false
			for j := 1; j < len(opts); j++ {
				if strings.HasPrefix(opts[j], "eta=") {
					opts[j], found = "eta="+eta, true
				}
			}
			if !found {
				opts = append(opts, "eta="+eta)
			}
			items[i], changed = strings.Join(opts, ":"), true
		}
		return "net:" + strings.Join(items, ","), changed
	case strings.HasPrefix(spec, "{"):
		return rewriteJSON(spec, func(s *arch.Spec) bool {
			changed := false
			for i := range s.Layers {
				if s.Layers[i].Type == "residual" {
					s.Layers[i].Eta, changed = eta, true
				}
			}
			return changed
		})
	}
	return "", false
}

// rewriteJSON applies edit to the JSON form spec and writes it back; false
// when it does not parse or edit changes nothing.
func rewriteJSON(spec string, edit func(*arch.Spec) bool) (string, bool) {
	s, err := arch.ParseJSON([]byte(spec))
	if err != nil || !edit(&s) {
		return "", false
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", false
	}
	return string(b), true
}
