package serve

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPage checks the page and its assets: served from the binary, with
// the content security policy; other paths are 404.
func TestPage(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	code, hdr, body := get(t, ts, "/", nil)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || hdr.Get("Content-Security-Policy") != pageCSP || !strings.Contains(string(body), `<script src="/assets/app.js"`) {
		t.Errorf("/: %d, %q, CSP %q", code, hdr.Get("Content-Type"), hdr.Get("Content-Security-Policy"))
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/: no nosniff header")
	}
	for _, a := range []string{"/assets/app.js", "/assets/chart.js", "/assets/style.css"} {
		code, hdr, body := get(t, ts, a, nil)
		if code != http.StatusOK || len(body) < 1000 || hdr.Get("Content-Type") == "" {
			t.Errorf("%s: %d, %d bytes, %q", a, code, len(body), hdr.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/nope", "/assets/", "/assets/nope.js"} {
		if code, _, _ := get(t, ts, p, nil); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
	resp, err := http.Post(ts.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

// do sends a request with the headers.
func do(t *testing.T, h http.Handler, method, target string, headers map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range headers {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestSameOriginAndHost checks the two checks in front of every route:
// state-changing requests from another origin are refused, and while the
// server listens on a loopback address, so are requests for a Host that is
// not a loopback name (DNS rebinding).
func TestSameOriginAndHost(t *testing.T) {
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := `{"arch":"fc:784-10-10","init":"he-normal","m0":"1"}`
	json := map[string]string{"Content-Type": "application/json", "Host": "127.0.0.1:8080"}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range json {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	cases := []struct {
		name    string
		method  string
		headers map[string]string
		code    int
	}{
		{"no browser headers (curl)", http.MethodPost, json, http.StatusOK},
		{"same origin", http.MethodPost, with(map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}), http.StatusOK},
		{"cross-site fetch", http.MethodPost, with(map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}), http.StatusForbidden},
		{"cross-origin, old browser", http.MethodPost, with(map[string]string{"Origin": "http://evil.example"}), http.StatusForbidden},
		{"same site, other port", http.MethodPost, with(map[string]string{"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}), http.StatusForbidden},
		{"rebound host name", http.MethodPost, with(map[string]string{"Host": "evil.example:8080"}), http.StatusMisdirectedRequest},
		{"rebound host name, GET", http.MethodGet, with(map[string]string{"Host": "evil.example"}), http.StatusMisdirectedRequest},
		{"localhost", http.MethodPost, with(map[string]string{"Host": "localhost:8080"}), http.StatusOK},
		{"IPv6 loopback", http.MethodPost, with(map[string]string{"Host": "[::1]:8080"}), http.StatusOK},
	}
	for _, c := range cases {
		target := "/api/predict"
		if c.method == http.MethodGet {
			target = "/api/meta"
		}
		w := do(t, s, c.method, target, c.headers, body)
		if w.Code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.code)
		}
		if c.code != http.StatusOK && !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("%s: body %s, want a JSON error", c.name, w.Body)
		}
	}
	// Listening on every interface, any Host is answered (the user asked
	// for it), the same-origin check still holds.
	cfg := testConfig()
	cfg.Addr = "0.0.0.0:8080"
	open, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if w := do(t, open, http.MethodPost, "/api/predict", with(map[string]string{"Host": "myhost.lan:8080"}), body); w.Code != http.StatusOK {
		t.Errorf("0.0.0.0, Host myhost.lan: %d %s", w.Code, w.Body)
	}
	if w := do(t, open, http.MethodPost, "/api/predict", with(map[string]string{"Host": "myhost.lan:8080", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}), body); w.Code != http.StatusForbidden {
		t.Errorf("0.0.0.0, cross-site: %d", w.Code)
	}
}

// TestConfig checks that every setting that cannot be used is refused with
// the flag that sets it.
func TestConfig(t *testing.T) {
	cases := []struct {
		edit  func(*Config)
		field string
	}{
		{func(c *Config) { c.MaxBody = 0 }, "max-body"},
		{func(c *Config) { c.MaxUpload = -1 }, "max-upload"},
		{func(c *Config) { c.MaxProbes = 0 }, "max-probes"},
		{func(c *Config) { c.MaxAudits = 0 }, "max-audits"},
		{func(c *Config) { c.MaxSamples = 1 }, "max-samples"},
		{func(c *Config) { c.Timeout = 0 }, "timeout"},
		{func(c *Config) { c.ProbeTimeout = -time.Second }, "probe-timeout"},
		{func(c *Config) { c.ProbeWorkers = -1 }, "probe-workers"},
		{func(c *Config) { c.Addr = "8080" }, "addr"},
		{func(c *Config) { c.Results = "/nonexistent/results" }, "results"},
		{func(c *Config) { c.Results = "serve.go" }, "results"},
	}
	for _, c := range cases {
		cfg := testConfig()
		c.edit(&cfg)
		_, err := New(cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%s: error %v, want a ConfigError about it", c.field, err)
		}
	}
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.probeWorkers() < 1 {
		t.Errorf("probe workers %d", s.probeWorkers())
	}
}

// TestHead checks that GET routes answer HEAD.
func TestHead(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	resp, err := http.Head(ts.URL + "/api/meta")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(b) != 0 {
		t.Errorf("HEAD /api/meta: %d, %d bytes", resp.StatusCode, len(b))
	}
}
