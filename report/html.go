package report

import (
	"encoding/base64"
	"html/template"
	"io"
)

// Document is a self-contained HTML report: every figure is embedded.
type Document struct {
	Title string
	// Intro is a paragraph under the title.
	Intro string
	// Meta lists facts about the run (version, backend, seeds, time).
	Meta []KV
	// Sections are the report's parts, e.g. one per figure of the paper.
	Sections []Section
}

// KV is one labelled fact.
type KV struct{ Key, Value string }

// Section is one claim with its evidence.
type Section struct {
	Title string
	// Claim is what the paper says.
	Claim string
	// Criterion is how code decides whether the claim held.
	Criterion string
	// Verdict is the outcome of the check.
	Verdict Verdict
	// Measured are the findings the verdict rests on, in words and numbers.
	Measured []Finding
	// Settings are the hyperparameters and other choices of the section.
	Settings []KV
	Figures  []Figure
	Tables   []Table
}

// Figure is one embedded plot.
type Figure struct {
	Caption string
	// PNG is the image; it is embedded as a data URI.
	PNG []byte
}

// Table is a captioned table of strings.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"png": func(b []byte) template.URL {
		return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	},
	"verdictClass": func(v Verdict) string {
		switch v {
		case Held:
			return "ok"
		case NotHeld:
			return "bad"
		case Inconclusive:
			return "mid"
		}
		return "none"
	},
	"findingTag": func(k FindingKind) string {
		switch k {
		case Passed:
			return "met"
		case Failed:
			return "failed"
		case Unchecked:
			return "not checked"
		case Undecided:
			return "open"
		}
		return ""
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.verdict{display:inline-block;padding:.15em .6em;border-radius:.3em;font-weight:bold}
.ok{background:#d8f5d8;color:#135213}.bad{background:#f8d8d8;color:#7a1111}.mid{background:#fbefc8;color:#6b4e00}.none{background:#eee;color:#555}
.tag{display:inline-block;min-width:5.5em;font-size:.8em;font-weight:bold;text-transform:uppercase;letter-spacing:.03em}
.passed .tag{color:#135213}.failed .tag{color:#7a1111}.unchecked .tag{color:#555}.inconclusive .tag{color:#6b4e00}li.failed{background:#fdf0f0}li.inconclusive{background:#fdf8e8}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#555}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{font-weight:bold}dd{margin:0}
</style></head><body>
<h1>{{.Title}}</h1>
{{if .Intro}}<p>{{.Intro}}</p>{{end}}
{{if .Meta}}<dl>{{range .Meta}}<dt>{{.Key}}</dt><dd>{{.Value}}</dd>{{end}}</dl>{{end}}
{{range .Sections}}<section>
<h2>{{.Title}}</h2>
<p><b>Claim.</b> {{.Claim}}</p>
<p><b>Criterion.</b> {{.Criterion}}</p>
<p><b>Verdict:</b> <span class="verdict {{verdictClass .Verdict}}">{{.Verdict}}</span></p>
{{if .Measured}}<ul class="findings">{{range .Measured}}<li class="{{.Kind}}">{{with findingTag .Kind}}<span class="tag">{{.}}</span> {{end}}{{.Text}}</li>{{end}}</ul>{{end}}
{{range .Figures}}<figure><img src="{{png .PNG}}" alt="{{.Caption}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}
{{range .Tables}}<table><caption>{{.Caption}}</caption><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{if .Settings}}<p><b>Settings</b></p><dl>{{range .Settings}}<dt>{{.Key}}</dt><dd>{{.Value}}</dd>{{end}}</dl>{{end}}
</section>{{end}}
</body></html>
`))

// WriteHTML writes the document as one HTML file.
func (d Document) WriteHTML(w io.Writer) error { return page.Execute(w, d) }
