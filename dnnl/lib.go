//go:build (darwin || freebsd || linux || netbsd) && !android && !faketime

package dnnl

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// library is the loaded oneDNN: the C entry points that Conv calls, and
// the CPU engine that all Convs share (never destroyed).
type library struct {
	label  string
	engine uintptr
	// block is the channel block of the blocked layouts of oneDNN's
	// kernels on this CPU.
	block int

	engineCreate, streamCreate, streamWait, streamDestroy          uintptr
	mdInitByTag, mdEqual, mdGetSize                                uintptr
	convForwardInit, convBackwardDataInit, convBackwardWeightsInit uintptr
	pdCreate, pdDestroy, pdQuery, pdQueryMD, reorderPDCreate       uintptr
	primCreate, primExecute, primDestroy                           uintptr
	memCreate, memSetHandle, memGetHandle, memDestroy              uintptr
	attrCreate, attrDestroy, attrSetPostOps, attrSetScratchpadMode uintptr
	postOpsCreate, postOpsDestroy                                  uintptr
	ompSetNumThreads                                               uintptr

	// appendEltwise is dnnl_post_ops_append_eltwise, whose float
	// arguments SyscallN cannot pass.
	appendEltwise func(postOps uintptr, scale float32, alg int32, alpha, beta float32) int32
}

// version mirrors dnnl_version_t.
type version struct {
	major, minor, patch int32
	_                   int32
	hash                *byte
	cpuRuntime          uint32
	gpuRuntime          uint32
}

// open loads the library, resolves its symbols and creates the CPU engine.
// Unless the user set OMP_WAIT_POLICY, it first sets it to passive (see
// the package documentation).
func open() (*library, error) {
	if _, set := os.LookupEnv("OMP_WAIT_POLICY"); !set {
		if err := os.Setenv("OMP_WAIT_POLICY", "passive"); err != nil {
			return nil, fmt.Errorf("setting OMP_WAIT_POLICY: %w", err)
		}
	}
	var handle uintptr
	var errs []string
	for _, name := range libNames {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			handle = h
			break
		}
		errs = append(errs, err.Error())
	}
	if handle == 0 {
		return nil, fmt.Errorf("cannot load libdnnl.so.2 (%s); install the Debian package libdnnl2", strings.Join(errs, "; "))
	}
	l := &library{}
	for _, s := range []struct {
		name string
		fn   *uintptr
	}{
		{"dnnl_engine_create", &l.engineCreate},
		{"dnnl_stream_create", &l.streamCreate},
		{"dnnl_stream_wait", &l.streamWait},
		{"dnnl_stream_destroy", &l.streamDestroy},
		{"dnnl_memory_desc_init_by_tag", &l.mdInitByTag},
		{"dnnl_memory_desc_equal", &l.mdEqual},
		{"dnnl_memory_desc_get_size", &l.mdGetSize},
		{"dnnl_dilated_convolution_forward_desc_init", &l.convForwardInit},
		{"dnnl_dilated_convolution_backward_data_desc_init", &l.convBackwardDataInit},
		{"dnnl_dilated_convolution_backward_weights_desc_init", &l.convBackwardWeightsInit},
		{"dnnl_primitive_desc_create", &l.pdCreate},
		{"dnnl_primitive_desc_destroy", &l.pdDestroy},
		{"dnnl_primitive_desc_query", &l.pdQuery},
		{"dnnl_primitive_desc_query_md", &l.pdQueryMD},
		{"dnnl_reorder_primitive_desc_create", &l.reorderPDCreate},
		{"dnnl_primitive_create", &l.primCreate},
		{"dnnl_primitive_execute", &l.primExecute},
		{"dnnl_primitive_destroy", &l.primDestroy},
		{"dnnl_memory_create", &l.memCreate},
		{"dnnl_memory_set_data_handle", &l.memSetHandle},
		{"dnnl_memory_get_data_handle", &l.memGetHandle},
		{"dnnl_memory_destroy", &l.memDestroy},
		{"dnnl_primitive_attr_create", &l.attrCreate},
		{"dnnl_primitive_attr_destroy", &l.attrDestroy},
		{"dnnl_primitive_attr_set_post_ops", &l.attrSetPostOps},
		{"dnnl_primitive_attr_set_scratchpad_mode", &l.attrSetScratchpadMode},
		{"dnnl_post_ops_create", &l.postOpsCreate},
		{"dnnl_post_ops_destroy", &l.postOpsDestroy},
		// libgomp's, found through libdnnl's dependencies.
		{"omp_set_num_threads", &l.ompSetNumThreads},
	} {
		fn, err := purego.Dlsym(handle, s.name)
		if err != nil {
			return nil, fmt.Errorf("libdnnl.so.2 lacks %s (oneDNN 2.x on OpenMP is needed): %w", s.name, err)
		}
		*s.fn = fn
	}
	for _, s := range []struct {
		name string
		fn   any
	}{{"dnnl_post_ops_append_eltwise", &l.appendEltwise}} {
		fn, err := purego.Dlsym(handle, s.name)
		if err != nil {
			return nil, fmt.Errorf("libdnnl.so.2 lacks %s: %w", s.name, err)
		}
		purego.RegisterFunc(s.fn, fn)
	}
	var err error
	if l.label, err = describe(handle); err != nil {
		return nil, err
	}
	isa, err := purego.Dlsym(handle, "dnnl_get_effective_cpu_isa")
	if err != nil {
		return nil, fmt.Errorf("libdnnl.so.2 lacks dnnl_get_effective_cpu_isa: %w", err)
	}
	// The dnnl_cpu_isa_t bits of AVX-512 (avx512_mic, avx512_core).
	l.block = 8
	if r, _, _ := purego.SyscallN(isa); r&0x28 != 0 {
		l.block = 16
	}
	if err := l.call(l.engineCreate, uintptr(unsafe.Pointer(&l.engine)), engineCPU, 0); err != nil {
		return nil, fmt.Errorf("creating the CPU engine: %w", err)
	}
	return l, nil
}

// describe returns "onednn MAJOR.MINOR.PATCH (RUNTIME)" from the library's
// dnnl_version, and an error for a version other than 2.x, whose
// descriptor structures differ from those this package lays out.
func describe(handle uintptr) (string, error) {
	sym, err := purego.Dlsym(handle, "dnnl_version")
	if err != nil {
		return "", fmt.Errorf("libdnnl.so.2 lacks dnnl_version: %w", err)
	}
	var get func() *version
	purego.RegisterFunc(&get, sym)
	v := get()
	if v.major != 2 {
		return "", fmt.Errorf("libdnnl is version %d.%d.%d; this build speaks the 2.x interface", v.major, v.minor, v.patch)
	}
	runtimes := map[uint32]string{1: "sequential", 2: "OpenMP", 4: "TBB", 8: "threadpool"}
	rt, ok := runtimes[v.cpuRuntime]
	if !ok {
		rt = fmt.Sprintf("CPU runtime %#x", v.cpuRuntime)
	}
	if v.cpuRuntime != 2 {
		return "", fmt.Errorf("libdnnl %d.%d.%d runs on %s; this build sets thread counts through OpenMP", v.major, v.minor, v.patch, rt)
	}
	return fmt.Sprintf("onednn %d.%d.%d (%s)", v.major, v.minor, v.patch, rt), nil
}

// call calls the oneDNN function fn and converts its status to an error.
// Like purego.SyscallN, it keeps the objects whose addresses its arguments
// hold alive and in place for the duration of the call.
//
//go:uintptrescapes
func (l *library) call(fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if s := Status(int32(r)); s != 0 {
		return s
	}
	return nil
}
