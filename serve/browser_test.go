package serve

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive a real Chromium, headless, through the page:
// Debian's chromium package, or the browser INITSCOPE_CHROMIUM names.
// Without one they are skipped, unless INITSCOPE_REQUIRE_BROWSER=1 (as in
// CI) makes that a failure. INITSCOPE_SCREENSHOTS=DIR also saves the
// screenshots in DIR (relative to the module's root), as the README's
// docs/explorer/*.png are made:
//
//	INITSCOPE_SCREENSHOTS=docs/explorer go test ./serve -run Browser
const (
	browserEnv     = "INITSCOPE_CHROMIUM"
	requireEnv     = "INITSCOPE_REQUIRE_BROWSER"
	screenshotsEnv = "INITSCOPE_SCREENSHOTS"
)

// findChromium returns the browser to drive, or "" when there is none.
func findChromium() string {
	if p := os.Getenv(browserEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium for t, flags fit for root in a
// container, a window of 1400 x 1100.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium()
	if path == "" {
		msg := "no Chromium found (install Debian's chromium, or set " + browserEnv + "): the browser tests are skipped"
		if os.Getenv(requireEnv) == "1" {
			t.Fatal(msg + ", but " + requireEnv + "=1 requires them")
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1400, 1100),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(func() { cancelTime(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// screenshot saves the window as name in dir (the test's temporary
// directory) and, with INITSCOPE_SCREENSHOTS, in that directory.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{dir}
	if d := os.Getenv(screenshotsEnv); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join("..", d) // the test runs in serve/
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s", filepath.Join(dir, name))
}

// waitFor polls the JavaScript condition until it holds, failing t with
// what after timeout. A poll that a navigation interrupts (the page's
// JavaScript context replaced) is started again.
func waitFor(t *testing.T, ctx context.Context, what, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), "Cannot find context") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText.slice(0, 1500)`))
		t.Fatalf("%s: %v; the page shows:\n%s", what, err, state)
	}
}

// typeInto replaces the text of the field sel by typing text, key by key,
// as a person would.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).select()`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text),
	)
}

func verdictIs(card, verdict string) string {
	return fmt.Sprintf(`(document.querySelector("#%s .verdict")?.firstChild?.textContent || "") === %q`, card, verdict)
}

// TestBrowserDesign types nets into the Design view and watches the
// verdicts change, the inline error at the wrong item of a bad spec, and
// a fix applied from the advice; then three designs overlaid, the
// screenshot of the README.
func TestBrowserDesign(t *testing.T) {
	ctx := browser(t)
	shots := t.TempDir()
	_, ts := newTestServer(t, testConfig())
	start := ts.URL + "/#view=design&a1=" + url.QueryEscape("fc:784-100x50-10") + "&i1=he-normal"
	if err := chromedp.Do(ctx, chromedp.Navigate(start)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the first prediction", verdictIs("card-fm1", "OK")+" && "+verdictIs("card-fm2", "WARNING"), 15*time.Second)

	// A wider net: FM2 becomes ok as the spec is typed.
	if err := chromedp.Do(ctx, typeInto("#arch", "fc:784-512x100-10")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "FM2 ok for width 512", verdictIs("card-fm2", "OK"), 10*time.Second)
	// PyTorch's default: FM1 vanishing.
	if err := chromedp.Do(ctx, typeInto("#init", "pytorch-default")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "FM1 vanishing for pytorch-default", verdictIs("card-fm1", "VANISHING"), 10*time.Second)

	// A bad spec: the wrong item is marked in place, with the CLI's error.
	if err := chromedp.Do(ctx, typeInto("#init", "he-normal"), typeInto("#arch", "net:784,dense100,foo3,dense10")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the inline error at foo3", `document.querySelector("#arch-mark")?.textContent === "foo3" && document.querySelector("#arch-msg").textContent.includes('--arch: spec "net:784,dense100,foo3,dense10": item 3 "foo3"') && !document.querySelector("#arch-error").hidden`, 10*time.Second)
	screenshot(t, ctx, shots, "design-error.png")

	// Apply the advice: width 32 fails FM2; the fix widens the net.
	if err := chromedp.Do(ctx, typeInto("#arch", "fc:784-32x100-10")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "FM2 failing for width 32", verdictIs("card-fm2", "FAILING")+` && document.querySelector("#arch-error").hidden`, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.Search(`//button[contains(., "constant width")]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the fix applied", `document.querySelector("#arch").value === "fc:784-504x100-10" && `+verdictIs("card-fm2", "OK")+` && location.hash.includes("a1=fc%3A784-504x100-10")`, 10*time.Second)

	// Three designs overlaid, from a shared link.
	three := ts.URL + "/#view=design&a1=" + url.QueryEscape("fc:784-100x50-10") + "&i1=pytorch-default&a2=" + url.QueryEscape("fc:784-100x50-10") + "&i2=he-normal&a3=" + url.QueryEscape("fc:784-32x100-10") + "&i3=he-normal"
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(three)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "three designs overlaid", `document.querySelectorAll("#compare-table tr").length === 4 && document.querySelectorAll("#design-chart .legend-item").length === 5 && `+verdictIs("card-fm1", "VANISHING"), 15*time.Second)
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#config-C a"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	link := attr.Value
	if !strings.Contains(link, "a1=fc%3A784-32x100-10") || strings.Contains(link, "a2=") {
		t.Errorf("design C's link %q: want C alone", link)
	}
	screenshot(t, ctx, shots, "design.png")

	// The link opens design C alone.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(ts.URL+link)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "design C alone", verdictIs("card-fm2", "FAILING")+` && document.querySelectorAll(".config").length === 1`, 10*time.Second)
}

// TestBrowserMeasure runs a probe to completion and watches the measured
// lengths drawn over the theory; then a long one, during which the Design
// view still answers, cancelled from the page.
func TestBrowserMeasure(t *testing.T) {
	ctx := browser(t)
	shots := t.TempDir()
	_, ts := newTestServer(t, testConfig())
	page := ts.URL + "/#view=measure&a1=" + url.QueryEscape("fc:784-32x60-10") + "&i1=he-normal&samples=2000"
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the theory drawn", `document.querySelectorAll("#measure-chart path").length >= 2`, 15*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#probe-run"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the probe done", `document.querySelector("#probe-text").textContent.startsWith("done: 2000 samples") && document.querySelectorAll("#probe-table tr").length > 5 && document.querySelector("#measure-chart .chart-title").textContent.includes("2000 of 2000")`, 30*time.Second)
	screenshot(t, ctx, shots, "measure.png")

	// A long probe: the page stays responsive, then it is cancelled.
	long := ts.URL + "/#view=measure&a1=" + url.QueryEscape("fc:784-100x50-10") + "&i1=he-uniform&samples=100000&method=network"
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(long)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the theory drawn", `document.querySelectorAll("#measure-chart path").length >= 2`, 15*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#probe-run"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the long probe running", `document.querySelector("#probe-text").textContent.includes("samples drawn")`, 15*time.Second)
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-design")), typeInto("#init", "pytorch-default")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "a prediction while the probe runs", verdictIs("card-fm1", "VANISHING"), 10*time.Second)
	t.Logf("a design change answered %v after the probe started", time.Since(start).Round(time.Millisecond))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-measure"))); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#probe-text")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(text, "done") {
		t.Fatalf("the long probe finished before it could be cancelled: %s", text)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#probe-cancel"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the probe cancelled", `document.querySelector("#probe-text").textContent.startsWith("cancelled") && !document.querySelector("#probe-run").disabled`, 10*time.Second)
}

// TestBrowserAudit uploads the README's MLP at PyTorch's default and sees
// its audit: FM1 vanishing, 21 layers charted and tabulated.
func TestBrowserAudit(t *testing.T) {
	ctx := browser(t)
	shots := t.TempDir()
	_, ts := newTestServer(t, testConfig())
	model, err := filepath.Abs(filepath.Join(models, "mlp20_default.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/#view=audit"),
		chromedp.WaitVisible(chromedp.CSS("#audit-file")),
		chromedp.SetUploadFiles(chromedp.CSS("#audit-file"), []string{model}),
		typeInto("#audit-samples", "20"),
		chromedp.Click(chromedp.CSS("#audit-run")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the audit", `(document.querySelector("#audit-out .card .verdict")?.firstChild?.textContent || "") === "VANISHING" && document.querySelectorAll("#audit-layers tr").length === 22 && document.querySelector("#audit-advice pre").textContent.includes("kaiming_normal_")`, 30*time.Second)
	screenshot(t, ctx, shots, "audit.png")
}

// TestBrowserResults opens the tiny results directory (its claims, its
// figures), then a sweep half run, whose progress moves when records are
// appended.
func TestBrowserResults(t *testing.T) {
	ctx := browser(t)
	shots := t.TempDir()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(fixtures)); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Results = root
	_, ts := newTestServer(t, cfg)
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/#view=results&dir=tiny")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the claims and figures", `document.querySelectorAll(".claim").length === 7 && document.querySelectorAll(".figure img").length > 5 && [...document.querySelectorAll(".figure img")].every((i) => i.complete && i.naturalWidth > 0) && document.querySelector("#results-progress h2").textContent.startsWith("sweeps: 78 of 78 tasks done")`, 20*time.Second)
	// The first claim's findings opened: each with its kind, and fields the
	// page does not know (an interval) written out generically.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector(".findings-box").open = true`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, shots, "results.png")

	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#results-dir"), "running"), chromedp.Evaluate[chromedp.Void](`document.querySelector("#results-dir").dispatchEvent(new Event("change"))`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the running sweep", `document.querySelector("#results-progress h2")?.textContent.startsWith("sweeps: 39 of 78 tasks done")`, 10*time.Second)
	lines := tinyLines(t)
	f, err := os.OpenFile(filepath.Join(root, "running", "shard-0-of-1.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Join(lines[len(lines)/2:], "") + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitFor(t, ctx, "the progress refreshed", `document.querySelector("#results-progress h2")?.textContent.startsWith("sweeps: 78 of 78 tasks done")`, 10*time.Second)
}
