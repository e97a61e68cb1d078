package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/initscope/initscope/experiment"
	// Rendering the plots of the fixtures needs a chart renderer.
	_ "github.com/initscope/initscope/report/render"
	"github.com/initscope/initscope/reproduce"
)

// fixtures is a folder of results directories made once for the tests:
//
//	tiny/     reproduce/testdata/tiny rendered (claims.json, plots, report.html)
//	running/  the same sweeps with the first half of the records: a sweep
//	          still running
var fixtures string

// tinyRecords is the number of records in reproduce/testdata/tiny.
var tinyRecords int

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "initscope-serve-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtures = dir
	err = makeFixtures(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "making the results fixtures:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func makeFixtures(dir string) error {
	src := filepath.Join("..", "reproduce", "testdata", "tiny")
	tiny := filepath.Join(dir, "tiny")
	if err := os.CopyFS(tiny, os.DirFS(src)); err != nil {
		return err
	}
	res, err := experiment.Collect(tiny)
	if err != nil {
		return err
	}
	if _, err := reproduce.Render(res); err != nil {
		return err
	}
	running := filepath.Join(dir, "running")
	if err := os.CopyFS(filepath.Join(running, experiment.SweepDir), os.DirFS(filepath.Join(src, experiment.SweepDir))); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(src, "shard-0-of-1.jsonl"))
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
	tinyRecords = len(lines)
	half := strings.Join(lines[:len(lines)/2], "")
	return os.WriteFile(filepath.Join(running, "shard-0-of-1.jsonl"), []byte(half), 0o644)
}

// tinyLines returns the records of reproduce/testdata/tiny, one a line.
func tinyLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "reproduce", "testdata", "tiny", "shard-0-of-1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
}

// testConfig is Defaults with the fixtures as the results directory.
func testConfig() Config {
	c := Defaults()
	c.Addr = "127.0.0.1:0"
	c.Results = fixtures
	c.Version = "test"
	return c
}

// newTestServer starts a server on cfg behind httptest.
func newTestServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

// post sends body as JSON to path and decodes the answer into out (when
// not nil); it returns the status code.
func post(t *testing.T, ts *httptest.Server, path string, body any, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(ts.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("POST %s: decoding the answer: %v", path, err)
		}
	}
	return resp.StatusCode
}

// get fetches path and decodes a JSON answer into out (when not nil).
func get(t *testing.T, ts *httptest.Server, path string, out any) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode, resp.Header, b
}

// event is one server-sent event.
type event struct {
	name string
	data json.RawMessage
}

// readEvents reads the events of a stream until it ends, calling each
// (when not nil) as they come.
func readEvents(t *testing.T, r io.Reader, each func(event)) []event {
	t.Helper()
	var out []event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var cur event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = json.RawMessage(strings.TrimPrefix(line, "data: "))
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
				if each != nil {
					each(cur)
				}
			}
			cur = event{}
		}
	}
	return out
}
