// Package dnnl runs float32 2-D convolutions on oneDNN, the library under
// PyTorch's CPU convolutions, loaded at run time from the system's
// libdnnl.so.2 (Debian package libdnnl2, version 2.x) with purego: the
// build needs neither cgo nor oneDNN's headers, and a machine without the
// library builds and runs the same binary, [Available] saying why oneDNN
// is not there.
//
// A [Conv] holds the forward, backward-data and backward-weights
// primitives of one convolution shape, batch size included: oneDNN
// compiles kernels for each shape, so a caller creates a Conv once and
// executes it many times. The caller's tensors stay in PyTorch's plain
// layouts (NCHW activations, OIHW kernels, GOIHW when grouped); where
// oneDNN's fastest kernel wants a blocked layout, a Conv reorders into
// and out of buffers of its own (see [NewConv]).
//
// Threads: Debian builds oneDNN on OpenMP (libgomp). A primitive runs on
// the number of threads that the OpenMP runtime allows the calling OS
// thread when it is created and when it runs; a Conv sets that number to
// its shape's Threads (omp_set_num_threads, which binds the calling thread
// only) around both, with the goroutine locked to its OS thread, so that
// convolutions of different thread counts can run in one process. With
// Threads 1, oneDNN runs on the calling thread alone and creates no
// OpenMP threads: callers that split their work over goroutines
// themselves (as package nn does) should use it. Above 1, each OS thread
// that runs a Conv leads an OpenMP team of its own, and Go moves
// goroutines between OS threads: the idle teams' threads would spin
// beside the working one (OpenMP's default), which made training steps
// several times slower; this package therefore sets OMP_WAIT_POLICY to
// passive before it loads oneDNN, unless the user set it.
//
// oneDNN's own scratchpads are thread-local, which a goroutine moving
// between OS threads cannot use: a Conv gives its primitives scratchpads
// of its own, in its [Workspace].
package dnnl

import (
	"errors"
	"fmt"
	"sync"
)

// libNames are the shared-library names tried, in order, by dlopen.
var libNames = []string{"libdnnl.so.2", "libdnnl.so"}

var (
	loadOnce sync.Once
	loaded   *library
	loadErr  error
)

// load returns the library, opening it on first use.
func load() (*library, error) {
	loadOnce.Do(func() {
		loaded, loadErr = open()
		if loadErr != nil {
			loadErr = fmt.Errorf("oneDNN: %w", loadErr)
		}
	})
	return loaded, loadErr
}

// Available reports whether oneDNN could be loaded and returns its
// description ("onednn 2.6.3 (OpenMP)") or the reason it could not be.
// The first call loads the library.
func Available() (bool, string) {
	l, err := load()
	if err != nil {
		return false, err.Error()
	}
	return true, l.label
}

// ChannelBlock returns the number of channels that the blocked layouts
// of oneDNN's kernels group on this CPU (16 with AVX-512, 8 without), for
// bounding the memory of their copies, or 0 if oneDNN is not available.
func ChannelBlock() int {
	l, err := load()
	if err != nil {
		return 0
	}
	return l.block
}

// Status is a oneDNN error status (dnnl_status_t): the error of a call
// that oneDNN refused.
type Status int32

// StatusUnimplemented is oneDNN's answer to a convolution it has no
// kernel for.
const StatusUnimplemented Status = 3

// Error names the status as dnnl_types.h does.
func (s Status) Error() string {
	names := []string{"dnnl_success", "dnnl_out_of_memory", "dnnl_invalid_arguments",
		"dnnl_unimplemented", "dnnl_iterator_ends", "dnnl_runtime_error", "dnnl_not_required"}
	if s >= 0 && int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("dnnl status %d", int32(s))
}

// errClosed is the error of executing a closed Conv.
var errClosed = errors.New("dnnl: the convolution is closed")
