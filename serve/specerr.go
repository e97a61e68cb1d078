package serve

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// The item an arch.Parse error names, in each of its forms:
//
//	spec "fc:...": element 2 "100x0": ...     ParseFC, 1-based, the input is element 1
//	spec "net:...": item 3 "foo3": ...        ParseCompact, 1-based, the input is item 1
//	spec "fc:...": the input "784x2" cannot repeat
//	layer item 2 (residual): ...              Build, 1-based over the layers after the input
//	input [0]: ...                            Build, the input shape
var (
	elementRe   = regexp.MustCompile(`^spec ".*?": element (\d+) "`)
	itemRe      = regexp.MustCompile(`^spec ".*?": item (\d+) "`)
	inputRepRe  = regexp.MustCompile(`^spec ".*?": the input ".*" cannot repeat`)
	layerItemRe = regexp.MustCompile(`^layer item (\d+) \(`)
	inputRe     = regexp.MustCompile(`^input `)
)

// locateSpecError finds in text, a net spec, the item that msg (the error
// arch.Parse returned for it) names: the byte offsets [start, end) of the
// item, and false when msg names none or text has no such item.
func locateSpecError(text, msg string) (start, end int, ok bool) {
	items := specItems(text)
	if items == nil {
		return 0, 0, false
	}
	switch {
	case elementRe.MatchString(msg):
		return items.at(atoiMatch(elementRe, msg) - 1)
	case itemRe.MatchString(msg):
		return items.at(atoiMatch(itemRe, msg) - 1)
	case inputRepRe.MatchString(msg), inputRe.MatchString(msg):
		return items.at(0)
	case layerItemRe.MatchString(msg):
		return items.layer(atoiMatch(layerItemRe, msg))
	}
	return 0, 0, false
}

func atoiMatch(re *regexp.Regexp, msg string) int {
	n, _ := strconv.Atoi(re.FindStringSubmatch(msg)[1])
	return n
}

// span is an item of a spec: its byte offsets in the text and how many of
// arch.Spec's layer items it stands for (0 for the input).
type span struct {
	start, end int
	layers     int
}

// spanList is a spec's items in order, the input first.
type spanList []span

// at returns the i-th item (0-based).
func (l spanList) at(i int) (int, int, bool) {
	if i < 0 || i >= len(l) || l[i].end <= l[i].start {
		return 0, 0, false
	}
	return l[i].start, l[i].end, true
}

// layer returns the item that holds arch.Spec's n-th layer item (1-based).
func (l spanList) layer(n int) (int, int, bool) {
	for _, s := range l {
		if n <= s.layers {
			return s.start, s.end, true
		}
		n -= s.layers
	}
	return 0, 0, false
}

// specItems splits a spec into its items with their offsets: fc: elements
// separated by '-' (a WxK element stands for K layer items, as ParseFC
// expands it), net: items separated by ',' (one layer item each), or the
// JSON form's input and the elements of its layers array. Nil when text is
// none of these.
func specItems(text string) spanList {
	lead := len(text) - len(strings.TrimLeft(text, " \t\r\n"))
	body := text[lead:]
	var sep string
	switch {
	case strings.HasPrefix(body, "fc:"):
		sep = "-"
	case strings.HasPrefix(body, "net:"):
		sep = ","
	case strings.HasPrefix(body, "{"):
		return jsonItems(text)
	default:
		return nil
	}
	prefix := strings.Index(body, ":") + 1
	var out spanList
	pos := lead + prefix
	for i, part := range strings.Split(text[pos:], sep) {
		trimmed := strings.TrimRight(part, " \t\r\n")
		s := span{start: pos, end: pos + len(trimmed), layers: 1}
		switch {
		case i == 0:
			s.layers = 0
		case sep == "-":
			if _, k, rep := strings.Cut(part, "x"); rep {
				if n, err := strconv.Atoi(k); err == nil && n >= 1 {
					s.layers = n
				}
			}
		}
		out = append(out, s)
		pos += len(part) + len(sep)
	}
	return out
}

// jsonItems finds the "input" value and each element of the "layers"
// array of the JSON form in text. Nil when text does not decode.
func jsonItems(text string) spanList {
	var v struct {
		Input  json.RawMessage   `json:"input"`
		Layers []json.RawMessage `json:"layers"`
	}
	if json.Unmarshal([]byte(text), &v) != nil {
		return nil
	}
	var out spanList
	if i := strings.Index(text, `"input"`); i >= 0 && len(v.Input) > 0 {
		if j := strings.Index(text[i:], string(v.Input)); j >= 0 {
			out = append(out, span{start: i + j, end: i + j + len(v.Input)})
		}
	}
	if len(out) == 0 {
		out = append(out, span{}) // the input, not found
	}
	pos := strings.Index(text, `"layers"`)
	if pos < 0 {
		return out
	}
	for _, l := range v.Layers {
		j := strings.Index(text[pos:], string(l))
		if j < 0 {
			break
		}
		out = append(out, span{start: pos + j, end: pos + j + len(l), layers: 1})
		pos += j + len(l)
	}
	return out
}

// utf16Len is the length of s in UTF-16 code units, as a browser's text
// field counts its selection.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
