package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{"1": 1, "262144": 262144, "256KiB": 256 << 10, "64MiB": 64 << 20, "2GiB": 2 << 30, "3K": 3 << 10, "5 M": 5 << 20, "7B": 7}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5MiB", "10MB", "abc", "2000GiB", "99999999999999999999"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

// TestServeUsage checks that every setting that cannot be used is a usage
// error of one line naming its flag.
func TestServeUsage(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--max-body", "lots"}, "--max-body: \"lots\": want a size"},
		{[]string{"--max-upload", "0"}, "--max-upload: \"0\": want a size from 1 byte"},
		{[]string{"--max-probes", "0"}, "--max-probes: 0: want at least 1"},
		{[]string{"--max-audits", "-2"}, "--max-audits: -2: want at least 1"},
		{[]string{"--max-samples", "1"}, "--max-samples: 1: a probe needs at least 2 samples"},
		{[]string{"--timeout", "0s"}, "--timeout: 0s: want a positive duration"},
		{[]string{"--probe-timeout", "-1m"}, "--probe-timeout: -1m0s: want a positive duration"},
		{[]string{"--probe-workers", "-1"}, "--probe-workers: -1"},
		{[]string{"--addr", "8080"}, "--addr: \"8080\": want HOST:PORT"},
		{[]string{"--results", "/nonexistent/results"}, "--results: /nonexistent/results: no such file or directory"},
		{[]string{"--results", "serve.go"}, "--results: serve.go is not a directory"},
		{[]string{"--colour", "red"}, "--colour"},
		{[]string{"extra"}, "unexpected argument \"extra\""},
	}
	for _, c := range cases {
		code, out, errs := runCLI(append([]string{"serve"}, c.args...)...)
		if code != exitUsage || out != "" || !strings.HasPrefix(errs, "initscope serve: ") || !strings.Contains(errs, c.msg) || strings.Count(errs, "\n") != 1 {
			t.Errorf("serve %v: exit %d, stdout %q, stderr %q: want exit 2 and one line with %q", c.args, code, out, errs, c.msg)
		}
	}
	if code, out, _ := runCLI("serve", "-h"); code != exitOK || !strings.Contains(out, "usage: initscope serve") || !strings.Contains(out, "-max-upload") {
		t.Errorf("serve -h: exit %d, %q", code, out)
	}
}

// syncBuffer is a buffer written by the server's goroutine and read by
// the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeRuns starts the server on a free port, asks it for the page's
// settings and a prediction, and stops it as an interrupt would.
func TestServeRuns(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	saved := serveContext
	serveContext = func() (context.Context, context.CancelFunc) { return ctx, stop }
	defer func() { serveContext = saved }()

	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "--addr", "127.0.0.1:0", "--results", "../../reproduce/testdata/tiny"}, &out, &errs)
	}()
	urlRe := regexp.MustCompile(`the explorer is at (http://127\.0\.0\.1:\d+/)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed in 10 s: stdout %q, stderr %q", out.String(), errs.String())
		}
	}
	resp, err := http.Get(base + "api/meta")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Results bool }
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !meta.Results {
		t.Errorf("GET /api/meta: %d, results %v", resp.StatusCode, meta.Results)
	}
	resp, err = http.Post(base+"api/predict", "application/json", strings.NewReader(`{"arch":"fc:784-100x20-10","init":"he-normal","m0":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"fm1":{"verdict":"ok"`) {
		t.Errorf("POST /api/predict: %d %.200s", resp.StatusCode, b)
	}
	stop()
	select {
	case code := <-done:
		if code != exitOK || !strings.Contains(out.String(), "stopped") || errs.String() != "" {
			t.Errorf("after the interrupt: exit %d, stdout %q, stderr %q", code, out.String(), errs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop within 10 s of the interrupt")
	}
}

// TestServeListenError checks that an address already taken is a failed
// run, not a usage error.
func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errs := runCLI("serve", "--addr", ln.Addr().String())
	if code != exitFail || !strings.Contains(errs, "--addr "+ln.Addr().String()) || strings.Count(errs, "\n") != 1 {
		t.Errorf("address in use: exit %d, %q", code, errs)
	}
}
