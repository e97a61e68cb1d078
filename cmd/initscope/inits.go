package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/initscope/initscope/weightinit"
)

// presetInfo is one preset as `initscope inits` reports it.
type presetInfo struct {
	Name string `json:"name"`
	// Weight is the weight law, Family and Rule its parts.
	Weight string `json:"weight_law"`
	Family string `json:"family"`
	Rule   string `json:"variance_rule"`
	// VarianceFactor is the realised variance over the rule's nominal one
	// (0.7737413 for an uncorrected truncated normal).
	VarianceFactor float64 `json:"variance_factor"`
	Kurtosis       float64 `json:"kurtosis"`
	Bias           string  `json:"bias_law"`
	// FM1Factor is c/2, the factor by which a square ReLU layer multiplies
	// E[M] (1 for He).
	FM1Factor float64 `json:"fm1_factor_square"`
	About     string  `json:"source"`
}

// squareWidth is the width of the square layer the FM1 factor is quoted for;
// every preset's factor is the same at any square width.
const squareWidth = 100

func runInits(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("inits", "[--format text|json]")
	format := fs.addFormat("text", "json")
	if code, ok := fs.parse(args, stdout, stderr); !ok {
		return code
	}
	if err := checkFormat(*format, "text", "json"); err != nil {
		return fail(stderr, "inits", exitUsage, "%v", err)
	}
	var infos []presetInfo
	for _, p := range weightinit.Presets() {
		infos = append(infos, presetInfo{
			Name: p.Name, Weight: p.Weight.String(), Family: string(p.Weight.Family), Rule: p.Weight.Rule.String(),
			VarianceFactor: p.Weight.Family.VarianceFactor(), Kurtosis: p.Weight.Family.Kurtosis(),
			Bias: p.Bias.String(), FM1Factor: p.FM1Factor(squareWidth, squareWidth), About: p.About,
		})
	}
	var err error
	if *format == "json" {
		err = writeJSON(stdout, infos)
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "preset\tweights\tVar rule\tkurtosis\tbiases\tc/2 (square)\tsource")
		for _, in := range infos {
			rule := in.Rule
			if in.VarianceFactor != 1 {
				rule = fmt.Sprintf("%.7g * %s", in.VarianceFactor, rule)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.4g\t%s\t%.4g\t%s\n", in.Name, in.Family, rule, in.Kurtosis, in.Bias, in.FM1Factor, in.About)
		}
		err = tw.Flush()
		if err == nil {
			_, err = fmt.Fprintln(stdout, "\nc/2 = fan_in*Var(W)/2 is the factor by which a square ReLU layer multiplies E[M]: FM1 is avoided only at 1 (THEORY 2).")
		}
	}
	if err != nil {
		return fail(stderr, "inits", exitFail, "writing the output: %v", err)
	}
	return exitOK
}
