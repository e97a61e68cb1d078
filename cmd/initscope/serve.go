package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/initscope/initscope/serve"
)

// serveContext is the context that stops the server: cancelled on an
// interrupt or SIGTERM. Tests replace it.
var serveContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runServe(args []string, stdout, stderr io.Writer) int {
	d := serve.Defaults()
	fs := newFlags("serve", "[--addr HOST:PORT] [--results DIR] [--max-body SIZE] [--max-upload SIZE] [--timeout D] [--probe-timeout D] [--max-probes N] [--max-audits N] [--max-samples N] [--probe-workers W]")
	addr := fs.String("addr", d.Addr, "address to listen on; the default answers this machine only (give 0.0.0.0:8080 to open it to the network, at your own risk)")
	results := fs.String("results", "", "a reproduce or sweep results directory, or a folder of them, for the Results view; only files under it can be read")
	maxBody := fs.String("max-body", "256KiB", "largest JSON request body (bytes, or with KiB, MiB, GiB)")
	maxUpload := fs.String("max-upload", "256MiB", "largest model file the Audit view takes (bytes, or with KiB, MiB, GiB)")
	timeout := fs.Duration("timeout", d.Timeout, "time limit of every request but a probe")
	probeTimeout := fs.Duration("probe-timeout", d.ProbeTimeout, "time limit of a probe")
	maxProbes := fs.Int("max-probes", d.MaxProbes, "probes that may run at once; beyond them the page is told the server is busy")
	maxAudits := fs.Int("max-audits", d.MaxAudits, "audits that may run at once")
	maxSamples := fs.Int("max-samples", d.MaxSamples, "the most samples a probe may ask for")
	workers := fs.Int("probe-workers", 0, "goroutines of a probe or an audit (default: one fewer than the CPUs, at least 1, so that the page stays responsive)")
	if code, ok := fs.parse(args, stdout, stderr); !ok {
		return code
	}
	cfg := d
	cfg.Addr, cfg.Results = *addr, *results
	cfg.Timeout, cfg.ProbeTimeout = *timeout, *probeTimeout
	cfg.MaxProbes, cfg.MaxAudits, cfg.MaxSamples, cfg.ProbeWorkers = *maxProbes, *maxAudits, *maxSamples, *workers
	cfg.Version = serveVersion()
	var err error
	if cfg.MaxBody, err = parseSize(*maxBody); err != nil {
		return fail(stderr, "serve", exitUsage, "--max-body: %v", err)
	}
	if cfg.MaxUpload, err = parseSize(*maxUpload); err != nil {
		return fail(stderr, "serve", exitUsage, "--max-upload: %v", err)
	}
	srv, err := serve.New(cfg)
	if err != nil {
		var ce *serve.ConfigError
		if errors.As(err, &ce) {
			return fail(stderr, "serve", exitUsage, "--%v", err)
		}
		return fail(stderr, "serve", exitFail, "%v", err)
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fail(stderr, "serve", exitFail, "--addr %s: %v", cfg.Addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.Timeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(stderr, "initscope serve: warning: listening on %s: anyone who can reach this machine can run probes and upload models\n", ln.Addr())
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	fmt.Fprintf(stdout, "initscope serve: the explorer is at http://%s/ (Ctrl-C to stop)\n", net.JoinHostPort(host, port))
	if cfg.Results != "" {
		fmt.Fprintf(stdout, "initscope serve: results from %s\n", cfg.Results)
	}

	ctx, stop := serveContext()
	defer stop()
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err = <-done:
		return fail(stderr, "serve", exitFail, "%v", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil {
		hs.Close()
	}
	fmt.Fprintf(stdout, "initscope serve: stopped\n")
	return exitOK
}

// sizeRe reads a size: a whole number with an optional binary unit.
var sizeRe = regexp.MustCompile(`^(\d+)\s*(|B|KiB|MiB|GiB|K|M|G)$`)

// parseSize reads a size in bytes: 1048576, 256KiB, 1MiB, 2GiB (K, M and
// G are read as KiB, MiB and GiB).
func parseSize(s string) (int64, error) {
	m := sizeRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q: want a size such as 262144, 256KiB or 64MiB", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]int64{"": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30}[m[2]]
	if err != nil || n < 1 || n > (1<<40)/unit {
		return 0, fmt.Errorf("%q: want a size from 1 byte to 1 TiB", s)
	}
	return n * unit, nil
}

// serveVersion is the version the page's footer shows, as `initscope
// version` finds it.
func serveVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
