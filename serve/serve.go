// Package serve is initscope's local web explorer, the server behind
// `initscope serve`: a page whose assets are embedded in the binary, and the
// JSON and server-sent-event endpoints it calls.
//
// The page has four views. Design parses a net, an initialization, a bias law
// and an input as the CLI does (task.Resolve), runs theory.Predict and draws
// the per-layer prediction, the FM1 and FM2 verdicts and their advice, with
// up to four designs overlaid. Measure runs probe.Run on the current design
// and streams its progress and partial results. Audit runs audit.Run on an
// uploaded ONNX or safetensors file. Results shows a reproduce or sweep
// results directory: the claims with their verdicts, the figures, and the
// progress of the sweeps in it.
//
// The endpoints:
//
//	GET  /                     the page (and /assets/...)
//	GET  /api/meta             presets, examples, inputs and the limits in force
//	POST /api/predict          a design -> the prediction, verdicts, advice and fixes
//	POST /api/probe            a design and a probe's settings -> server-sent events
//	POST /api/audit            a model file (multipart) -> the audit
//	GET  /api/results          the results directories under --results
//	GET  /api/results/{dir}    one directory: claims, figures, sweep progress
//	GET  /results/{dir}/{file} a plot, the report or a CSV file of a results directory
//
// Safety: the server is meant for 127.0.0.1. Requests whose Host is not a
// loopback name are refused while it listens on a loopback address (a DNS
// rebinding page cannot reach it); state-changing requests are POST and pass
// a same-origin check (http.CrossOriginProtection); bodies and uploads have
// size limits, every request a time limit, probes and audits a limit on how
// many run at once; files are read only under the results directory, through
// an os.Root.
package serve

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/initscope/initscope/task"
)

//go:embed assets
var assets embed.FS

// Config holds the server's settings; Defaults gives those of `initscope
// serve`.
type Config struct {
	// Addr is the address the server listens on: the Host check allows any
	// Host header when it is not a loopback address.
	Addr string
	// Results is the directory whose results the Results view shows: a
	// results directory, or a folder of them; "" for none.
	Results string
	// MaxBody is the largest JSON request body, in bytes; MaxUpload the
	// largest model file the Audit view takes.
	MaxBody, MaxUpload int64
	// Timeout bounds every request but a probe's; ProbeTimeout bounds a
	// probe.
	Timeout, ProbeTimeout time.Duration
	// MaxProbes and MaxAudits are how many probes and audits may run at
	// once; a request beyond them is refused as busy.
	MaxProbes, MaxAudits int
	// MaxSamples bounds a probe's samples.
	MaxSamples int
	// ProbeWorkers is the number of goroutines of a probe (probe.Options's
	// Workers); 0 means one fewer than the CPUs, at least 1, so that the
	// page stays responsive while a probe runs.
	ProbeWorkers int
	// Version is shown in the page's footer.
	Version string
}

// Defaults returns the settings of `initscope serve` without flags.
func Defaults() Config {
	return Config{
		Addr:         "127.0.0.1:8080",
		MaxBody:      256 << 10,
		MaxUpload:    256 << 20,
		Timeout:      30 * time.Second,
		ProbeTimeout: 10 * time.Minute,
		MaxProbes:    1,
		MaxAudits:    1,
		MaxSamples:   100_000,
	}
}

// ConfigError is a setting that cannot be used; Field names it as the
// flag of `initscope serve` that sets it.
type ConfigError struct {
	Field string
	Msg   string
}

// Error writes "FIELD: MSG".
func (e *ConfigError) Error() string { return e.Field + ": " + e.Msg }

// check validates c.
func (c Config) check() error {
	type limit struct {
		field string
		v     int64
	}
	for _, l := range []limit{
		{"max-body", c.MaxBody}, {"max-upload", c.MaxUpload},
		{"max-probes", int64(c.MaxProbes)}, {"max-audits", int64(c.MaxAudits)},
	} {
		if l.v < 1 {
			return &ConfigError{l.field, fmt.Sprintf("%d: want at least 1", l.v)}
		}
	}
	if c.MaxSamples < 2 {
		return &ConfigError{"max-samples", fmt.Sprintf("%d: a probe needs at least 2 samples", c.MaxSamples)}
	}
	if c.Timeout <= 0 {
		return &ConfigError{"timeout", fmt.Sprintf("%v: want a positive duration such as 30s", c.Timeout)}
	}
	if c.ProbeTimeout <= 0 {
		return &ConfigError{"probe-timeout", fmt.Sprintf("%v: want a positive duration such as 10m", c.ProbeTimeout)}
	}
	if c.ProbeWorkers < 0 || c.ProbeWorkers > 1024 {
		return &ConfigError{"probe-workers", fmt.Sprintf("%d: want 0 (one fewer than the CPUs) to 1024", c.ProbeWorkers)}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return &ConfigError{"addr", fmt.Sprintf("%q: want HOST:PORT such as 127.0.0.1:8080", c.Addr)}
	}
	return nil
}

// Server is the explorer's HTTP handler.
type Server struct {
	cfg      Config
	results  *os.Root // nil without a results directory
	handler  http.Handler
	probes   chan struct{}
	audits   chan struct{}
	loopback bool

	inputMu sync.Mutex
	inputs  map[inputKey]task.Input
}

// New checks cfg and returns the server. The results directory, when
// given, must exist; it is opened as an os.Root, which no path can leave.
func New(cfg Config) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		probes: make(chan struct{}, cfg.MaxProbes),
		audits: make(chan struct{}, cfg.MaxAudits),
		inputs: map[inputKey]task.Input{},
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	s.loopback = isLoopback(host)
	if cfg.Results != "" {
		fi, err := os.Stat(cfg.Results)
		if err != nil {
			return nil, &ConfigError{"results", fmt.Sprintf("%s: %v", cfg.Results, unwrapPath(err))}
		}
		if !fi.IsDir() {
			return nil, &ConfigError{"results", fmt.Sprintf("%s is not a directory", cfg.Results)}
		}
		if s.results, err = os.OpenRoot(cfg.Results); err != nil {
			return nil, &ConfigError{"results", err.Error()}
		}
	}
	s.handler = s.routes(static)
	return s, nil
}

// Close releases the results directory.
func (s *Server) Close() error {
	if s.results != nil {
		return s.results.Close()
	}
	return nil
}

// ServeHTTP serves the page and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// probeWorkers is the number of goroutines a probe runs on.
func (s *Server) probeWorkers() int {
	if s.cfg.ProbeWorkers > 0 {
		return s.cfg.ProbeWorkers
	}
	return max(1, runtime.GOMAXPROCS(0)-1)
}

// routes builds the handler: the routes, each with its method, time and
// size limits, behind the Host check and the same-origin check; static
// holds the page's files.
func (s *Server) routes(static fs.FS) http.Handler {
	timed := func(h http.HandlerFunc) http.Handler {
		msg, _ := json.Marshal(apiError{Error: fmt.Sprintf("the request took longer than %v (--timeout)", s.cfg.Timeout)})
		return http.TimeoutHandler(h, s.cfg.Timeout, string(msg))
	}
	mux := http.NewServeMux()
	mux.Handle("/", timed(method(http.MethodGet, s.page(static))))
	mux.Handle("/assets/", timed(method(http.MethodGet, s.assetsHandler(static))))
	mux.Handle("/api/meta", timed(method(http.MethodGet, s.handleMeta)))
	mux.Handle("/api/predict", timed(method(http.MethodPost, s.handlePredict)))
	mux.Handle("/api/audit", timed(method(http.MethodPost, s.handleAudit)))
	// A probe streams for longer than --timeout: it has its own limit.
	mux.Handle("/api/probe", method(http.MethodPost, s.handleProbe))
	mux.Handle("/api/results", timed(method(http.MethodGet, s.handleResultsList)))
	mux.Handle("/api/results/", timed(method(http.MethodGet, s.handleResultsDir)))
	mux.Handle("/results/", timed(method(http.MethodGet, s.handleResultsFile)))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, errors.New("cross-origin request refused: state-changing requests must come from this page"))
	}))
	return s.hostCheck(cop.Handler(mux))
}

// method refuses requests of any other method than m with 405.
func method(m string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != m && !(m == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: want %s", r.Method, r.URL.Path, m))
			return
		}
		h(w, r)
	}
}

// hostCheck refuses, while the server listens on a loopback address,
// requests whose Host is not a loopback name: a page on another site
// whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends its
// own name.
func (s *Server) hostCheck(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.loopback {
			host := r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				host = h
			}
			if !isLoopback(host) {
				writeError(w, http.StatusMisdirectedRequest, fmt.Errorf("host %q refused: the server listens on %s and answers only to localhost, 127.0.0.1 or [::1]", r.Host, s.cfg.Addr))
				return
			}
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// isLoopback reports whether host names this machine only: localhost or a
// loopback IP.
func isLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pageCSP is the page's content security policy: its own scripts and
// styles only, images from itself and data: URLs, no frames, no forms
// elsewhere.
const pageCSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// page serves index.html at / and 404 elsewhere.
func (s *Server) page(static fs.FS) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			writeError(w, http.StatusNotFound, fmt.Errorf("%s: no such page (the explorer is at /)", r.URL.Path))
			return
		}
		b, err := fs.ReadFile(static, "index.html")
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", pageCSP)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	}
}

// assetsHandler serves the embedded scripts and styles.
func (s *Server) assetsHandler(static fs.FS) http.HandlerFunc {
	files := http.StripPrefix("/assets/", http.FileServerFS(static))
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			writeError(w, http.StatusNotFound, fmt.Errorf("%s: no listing", r.URL.Path))
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}
}

// apiError is the body of every error response: one line, as the CLI
// writes it, and for a bad design the field it is about and, for a net,
// where in the spec the wrong item is.
type apiError struct {
	Error string `json:"error"`
	// Field is the design field: arch, init, bias, input or m0, or a
	// probe setting (samples, seed, method).
	Field string `json:"field,omitempty"`
	// Span is [start, end) of the wrong item in the arch text, in UTF-16
	// code units as the page's text field counts them.
	Span *[2]int `json:"span,omitempty"`
}

// writeError writes err as an apiError with the status code.
func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, apiError{Error: oneLine(err.Error())})
}

// writeJSON writes v as JSON with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// oneLine folds a message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// readJSON decodes a request body of at most MaxBody bytes into v,
// rejecting unknown fields. Its errors are ready for the page.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: want application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %s (--max-body)", byteSize(s.cfg.MaxBody))
		}
		return http.StatusBadRequest, fmt.Errorf("request body: %v", err)
	}
	if dec.More() {
		return http.StatusBadRequest, errors.New("request body: one JSON object expected")
	}
	return http.StatusOK, nil
}

// byteSize writes n bytes as KiB, MiB or GiB when it is a whole number of
// them.
func byteSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// acquire takes a slot of sem without waiting; false when all are taken.
func acquire(sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
		return false
	}
}
