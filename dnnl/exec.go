//go:build (darwin || freebsd || linux || netbsd) && !android && !faketime

package dnnl

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Constants of oneDNN 2.x's dnnl_types.h.
const (
	engineCPU          = 1  // dnnl_cpu
	streamDefaultFlags = 1  // dnnl_stream_default_flags
	dataF32            = 3  // dnnl_f32
	dataU8             = 6  // dnnl_u8
	tagAny             = 1  // dnnl_format_tag_any
	tagA               = 2  // dnnl_a, dnnl_x
	tagABCD            = 5  // dnnl_abcd, dnnl_nchw, dnnl_oihw
	tagABCDE           = 7  // dnnl_abcde, dnnl_goihw
	forwardTraining    = 64 // dnnl_forward_training
	convolutionDirect  = 1  // dnnl_convolution_direct
	eltwiseReLU        = 0x1f
	queryImplInfoStr   = 8   // dnnl_query_impl_info_str
	queryScratchpadMD  = 136 // dnnl_query_scratchpad_md
	queryExecArgMD     = 255 // dnnl_query_exec_arg_md
	scratchpadUser     = 1   // dnnl_scratchpad_mode_user

	argSrc         = 1   // DNNL_ARG_SRC, DNNL_ARG_FROM
	argDst         = 17  // DNNL_ARG_DST, DNNL_ARG_TO
	argWeights     = 33  // DNNL_ARG_WEIGHTS
	argBias        = 41  // DNNL_ARG_BIAS
	argDiffSrc     = 129 // DNNL_ARG_DIFF_SRC
	argDiffDst     = 145 // DNNL_ARG_DIFF_DST
	argDiffWeights = 161 // DNNL_ARG_DIFF_WEIGHTS
	argDiffBias    = 169 // DNNL_ARG_DIFF_BIAS
	argScratchpad  = 80  // DNNL_ARG_SCRATCHPAD

	// memoryAllocate is DNNL_MEMORY_ALLOCATE, ((void *)(size_t)-1): the
	// library allocates the memory object's buffer.
	memoryAllocate = ^uintptr(0)

	// align is the alignment of the buffers in a workspace, in bytes.
	align = 64
)

// memDesc is a dnnl_memory_desc_t (696 bytes in 2.6), opaque here, with
// room to spare.
type memDesc [96]uint64

// opDesc is a dnnl_convolution_desc_t (5976 bytes in 2.6), opaque here,
// with room to spare.
type opDesc [800]uint64

// dims is a dnnl_dims_t: DNNL_MAX_NDIMS (12) int64_t.
type dims [12]int64

// execArg is a dnnl_exec_arg_t: an argument index and a memory object.
type execArg struct {
	arg    int32
	_      int32
	memory uintptr
}

// resources are the oneDNN objects a Conv owns, with their destructors,
// destroyed in reverse order of creation.
type resources struct {
	lib  *library
	objs []object
}

// object is a oneDNN handle and its destructor.
type object struct{ destroy, handle uintptr }

func (r *resources) add(destroy, handle uintptr) {
	r.objs = append(r.objs, object{destroy, handle})
}

// release destroys the objects; it may be called again.
func (r *resources) release() {
	for i := len(r.objs) - 1; i >= 0; i-- {
		purego.SyscallN(r.objs[i].destroy, r.objs[i].handle)
	}
	r.objs = nil
}

// pass is one primitive with its arguments.
type pass struct {
	prim uintptr
	args []execArg
	ops  []operand
	// stream is the Conv's execution stream.
	stream uintptr
	// impl names oneDNN's implementation of the primitive.
	impl string
}

// operand is a tensor argument of a primitive: a memory object over the
// caller's buffer, rebound on each call, and, when the primitive wants
// another layout, the reorder between it and a buffer of the library's.
type operand struct {
	buf     int     // the index of the caller's buffer among the method's arguments
	user    uintptr // the memory object over the caller's buffer
	output  bool
	reorder uintptr // the reorder primitive, 0 if there is none
	// inner is the memory object in the primitive's layout, bound to the
	// workspace at offset.
	inner, offset uintptr
	// reorderArgs are the reorder's source, destination and scratchpad;
	// nargs is 2 when it needs no scratchpad.
	reorderArgs [3]execArg
	nargs       int
}

// builder creates the primitives of a Conv.
type builder struct {
	c      *Conv
	l      *library
	stream uintptr
	// attr is the primitives' attributes: a scratchpad of the caller's
	// (oneDNN's own is thread-local, and a goroutine does not keep its
	// OS thread from one call to the next); reluAttr adds a ReLU.
	attr, reluAttr uintptr
	// scratchpad is the descriptor of the largest scratchpad a primitive
	// asks for, size its size: the primitives run one at a time and
	// share one.
	scratchpad, size uintptr
	// inner is the most workspace that the blocked copies of one pass
	// take.
	inner uintptr
}

// build creates the primitives. The caller has locked the goroutine to
// its OS thread and set its OpenMP thread count.
func (c *Conv) build() error {
	l, s := c.res.lib, &c.shape
	b := &builder{c: c, l: l}
	if err := l.call(l.streamCreate, uintptr(unsafe.Pointer(&b.stream)), l.engine, streamDefaultFlags); err != nil {
		return fmt.Errorf("creating a stream: %w", err)
	}
	c.res.add(l.streamDestroy, b.stream)
	var err error
	if b.attr, err = b.newAttr(false); err != nil {
		return err
	}
	if s.ReLU {
		if b.reluAttr, err = b.newAttr(true); err != nil {
			return err
		}
	}
	// The caller's buffers have plain layouts (user); the primitives'
	// descriptors leave the layout to oneDNN (prim).
	var user, prim struct{ src, weights, bias, dst memDesc }
	g := int64(s.Groups)
	srcDims := dims{int64(s.Batch), int64(s.InC), int64(s.InH), int64(s.InW)}
	dstDims := dims{int64(s.Batch), int64(s.OutC), int64(s.OutH()), int64(s.OutW())}
	wDims, wRank, wTag := dims{int64(s.OutC), int64(s.InC), int64(s.KH), int64(s.KW)}, 4, tagABCD
	if g > 1 {
		wDims, wRank, wTag = dims{g, int64(s.OutC) / g, int64(s.InC) / g, int64(s.KH), int64(s.KW)}, 5, tagABCDE
	}
	for _, m := range []struct {
		md        *memDesc
		d         dims
		rank, tag int
	}{
		{&user.src, srcDims, 4, tagABCD}, {&prim.src, srcDims, 4, tagAny},
		{&user.dst, dstDims, 4, tagABCD}, {&prim.dst, dstDims, 4, tagAny},
		{&user.weights, wDims, wRank, wTag}, {&prim.weights, wDims, wRank, tagAny},
		{&user.bias, dims{int64(s.OutC)}, 1, tagA},
	} {
		if err := l.call(l.mdInitByTag, uintptr(unsafe.Pointer(m.md)), uintptr(m.rank),
			uintptr(unsafe.Pointer(&m.d)), dataF32, uintptr(m.tag)); err != nil {
			return fmt.Errorf("memory descriptor: %w", err)
		}
	}
	var bias uintptr // no bias: NULL
	if s.Bias {
		bias = uintptr(unsafe.Pointer(&user.bias))
	}
	geo := struct{ strides, dilates, padL, padR dims }{
		strides: dims{int64(s.StrideH), int64(s.StrideW)},
		dilates: dims{int64(s.DilationH - 1), int64(s.DilationW - 1)},
		padL:    dims{int64(s.PadTop), int64(s.PadLeft)},
		padR:    dims{int64(s.PadBottom), int64(s.PadRight)},
	}
	var desc opDesc

	// Forward.
	if err := l.call(l.convForwardInit, uintptr(unsafe.Pointer(&desc)), forwardTraining, convolutionDirect,
		uintptr(unsafe.Pointer(&prim.src)), uintptr(unsafe.Pointer(&prim.weights)), bias, uintptr(unsafe.Pointer(&prim.dst)),
		uintptr(unsafe.Pointer(&geo.strides)), uintptr(unsafe.Pointer(&geo.dilates)),
		uintptr(unsafe.Pointer(&geo.padL)), uintptr(unsafe.Pointer(&geo.padR))); err != nil {
		return fmt.Errorf("forward descriptor: %w", err)
	}
	attr := b.attr
	if s.ReLU {
		attr = b.reluAttr
	}
	fwdPD, err := b.primitiveDesc(&desc, attr, 0)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	ops := []operandSpec{{argSrc, &user.src, 0, false}, {argWeights, &user.weights, 1, false}, {argDst, &user.dst, 3, true}}
	if s.Bias {
		ops = append(ops, operandSpec{argBias, &user.bias, 2, false})
	}
	if c.fwd, err = b.newPass(fwdPD, ops); err != nil {
		return fmt.Errorf("forward: %w", err)
	}

	// Backward data.
	// Below 8 input channels, oneDNN's blocked backward kernels pad the
	// channels to a block of 8 and run 1.3 to 5 times slower than its
	// im2col + GEMM ones on plain layouts (measured on AVX2 at batch 64,
	// 28×28 pixels; the forward kernel has a plain-input variant for
	// them).
	bwd := &prim
	if s.InC < 8 {
		bwd = &user
	}
	if err := l.call(l.convBackwardDataInit, uintptr(unsafe.Pointer(&desc)), convolutionDirect,
		uintptr(unsafe.Pointer(&bwd.src)), uintptr(unsafe.Pointer(&bwd.weights)), uintptr(unsafe.Pointer(&bwd.dst)),
		uintptr(unsafe.Pointer(&geo.strides)), uintptr(unsafe.Pointer(&geo.dilates)),
		uintptr(unsafe.Pointer(&geo.padL)), uintptr(unsafe.Pointer(&geo.padR))); err != nil {
		return fmt.Errorf("backward-data descriptor: %w", err)
	}
	pd, err := b.primitiveDesc(&desc, b.attr, fwdPD)
	if err != nil {
		return fmt.Errorf("backward data: %w", err)
	}
	ops = []operandSpec{{argDiffDst, &user.dst, 0, false}, {argWeights, &user.weights, 1, false}, {argDiffSrc, &user.src, 2, true}}
	if c.bwdData, err = b.newPass(pd, ops); err != nil {
		return fmt.Errorf("backward data: %w", err)
	}

	// Backward weights.
	if err := l.call(l.convBackwardWeightsInit, uintptr(unsafe.Pointer(&desc)), convolutionDirect,
		uintptr(unsafe.Pointer(&bwd.src)), uintptr(unsafe.Pointer(&bwd.weights)), bias, uintptr(unsafe.Pointer(&bwd.dst)),
		uintptr(unsafe.Pointer(&geo.strides)), uintptr(unsafe.Pointer(&geo.dilates)),
		uintptr(unsafe.Pointer(&geo.padL)), uintptr(unsafe.Pointer(&geo.padR))); err != nil {
		return fmt.Errorf("backward-weights descriptor: %w", err)
	}
	if pd, err = b.primitiveDesc(&desc, b.attr, fwdPD); err != nil {
		return fmt.Errorf("backward weights: %w", err)
	}
	ops = []operandSpec{{argSrc, &user.src, 0, false}, {argDiffDst, &user.dst, 1, false}, {argDiffWeights, &user.weights, 2, true}}
	if s.Bias {
		ops = append(ops, operandSpec{argDiffBias, &user.bias, 3, true})
	}
	if c.bwdWeights, err = b.newPass(pd, ops); err != nil {
		return fmt.Errorf("backward weights: %w", err)
	}
	c.impl = c.fwd.impl + ", " + c.bwdData.impl + ", " + c.bwdWeights.impl
	if err := b.bindScratchpad(); err != nil {
		return err
	}
	_, err = c.ws.ensure(l, c.need)
	return err
}

// newAttr returns primitive attributes with a scratchpad of the caller's
// and, if relu is set, a ReLU post-op.
func (b *builder) newAttr(relu bool) (uintptr, error) {
	l := b.l
	var attr uintptr
	if err := l.call(l.attrCreate, uintptr(unsafe.Pointer(&attr))); err != nil {
		return 0, fmt.Errorf("attributes: %w", err)
	}
	b.c.res.add(l.attrDestroy, attr)
	if err := l.call(l.attrSetScratchpadMode, attr, scratchpadUser); err != nil {
		return 0, fmt.Errorf("scratchpad mode: %w", err)
	}
	if !relu {
		return attr, nil
	}
	var postOps uintptr
	if err := l.call(l.postOpsCreate, uintptr(unsafe.Pointer(&postOps))); err != nil {
		return 0, fmt.Errorf("post-ops: %w", err)
	}
	b.c.res.add(l.postOpsDestroy, postOps)
	if s := Status(l.appendEltwise(postOps, 1, eltwiseReLU, 0, 0)); s != 0 {
		return 0, fmt.Errorf("ReLU post-op: %w", s)
	}
	if err := l.call(l.attrSetPostOps, attr, postOps); err != nil {
		return 0, fmt.Errorf("post-ops: %w", err)
	}
	return attr, nil
}

// primitiveDesc creates the primitive descriptor of desc with attributes
// attr and, for a backward pass, the forward one as hint (0 for none).
func (b *builder) primitiveDesc(desc *opDesc, attr, hint uintptr) (uintptr, error) {
	l := b.l
	var pd uintptr
	if err := l.call(l.pdCreate, uintptr(unsafe.Pointer(&pd)), uintptr(unsafe.Pointer(desc)), attr, l.engine, hint); err != nil {
		return 0, err
	}
	b.c.res.add(l.pdDestroy, pd)
	return pd, b.noteScratchpad(pd)
}

// noteScratchpad keeps the scratchpad descriptor of pd if it is the
// largest yet.
func (b *builder) noteScratchpad(pd uintptr) error {
	md, _, _ := purego.SyscallN(b.l.pdQueryMD, pd, queryScratchpadMD, 0)
	if md == 0 {
		return errors.New("no scratchpad descriptor")
	}
	if size, _, _ := purego.SyscallN(b.l.mdGetSize, md); size > b.size {
		b.scratchpad, b.size = md, size
	}
	return nil
}

// bindScratchpad creates the scratchpad that the primitives share, if
// any asks for one, after the blocked copies in the workspace, and adds
// it to their arguments. It sets the Conv's need of workspace.
func (b *builder) bindScratchpad() error {
	l, c := b.l, b.c
	c.need = b.inner
	if b.size == 0 {
		return nil
	}
	var mem uintptr
	if err := l.call(l.memCreate, uintptr(unsafe.Pointer(&mem)), b.scratchpad, l.engine, 0); err != nil {
		return fmt.Errorf("scratchpad of %d bytes: %w", b.size, err)
	}
	c.res.add(l.memDestroy, mem)
	c.scratch, c.scratchOffset = mem, b.inner
	c.need = b.inner + b.size
	arg := execArg{arg: argScratchpad, memory: mem}
	for _, p := range []*pass{&c.fwd, &c.bwdData, &c.bwdWeights} {
		p.args = append(p.args, arg)
		for i := range p.ops {
			if op := &p.ops[i]; op.reorder != 0 {
				op.reorderArgs[2], op.nargs = arg, 3
			}
		}
	}
	return nil
}

// operandSpec is a tensor argument of a primitive: its argument index,
// the descriptor of the caller's buffer, the buffer's index among the
// method's arguments, and whether the primitive writes it.
type operandSpec struct {
	arg    int32
	user   *memDesc
	buf    int
	output bool
}

// newPass creates the primitive of descriptor pd and its operands, with
// reorders where pd's layout of an operand is not the caller's.
func (b *builder) newPass(pd uintptr, specs []operandSpec) (pass, error) {
	l, res := b.l, b.c.res
	p := pass{stream: b.stream, impl: l.implInfo(pd)}
	var used uintptr // workspace, by the blocked copies
	if err := l.call(l.primCreate, uintptr(unsafe.Pointer(&p.prim)), pd); err != nil {
		return pass{}, err
	}
	res.add(l.primDestroy, p.prim)
	for _, sp := range specs {
		op := operand{buf: sp.buf, output: sp.output}
		if err := l.call(l.memCreate, uintptr(unsafe.Pointer(&op.user)), uintptr(unsafe.Pointer(sp.user)), l.engine, 0); err != nil {
			return pass{}, fmt.Errorf("memory: %w", err)
		}
		res.add(l.memDestroy, op.user)
		inner := op.user
		want, _, _ := purego.SyscallN(l.pdQueryMD, pd, queryExecArgMD, uintptr(sp.arg))
		if want == 0 {
			return pass{}, fmt.Errorf("no memory descriptor for argument %d", sp.arg)
		}
		if same, _, _ := purego.SyscallN(l.mdEqual, want, uintptr(unsafe.Pointer(sp.user))); same == 0 {
			if err := l.call(l.memCreate, uintptr(unsafe.Pointer(&inner)), want, l.engine, 0); err != nil {
				return pass{}, fmt.Errorf("memory: %w", err)
			}
			res.add(l.memDestroy, inner)
			size, _, _ := purego.SyscallN(l.mdGetSize, want)
			op.inner, op.offset = inner, used
			used += (size + align - 1) &^ (align - 1)
			from, to, fromMem, toMem := uintptr(unsafe.Pointer(sp.user)), want, op.user, inner
			if sp.output {
				from, to, fromMem, toMem = to, from, toMem, fromMem
			}
			var rpd uintptr
			if err := l.call(l.reorderPDCreate, uintptr(unsafe.Pointer(&rpd)), from, l.engine, to, l.engine, b.attr); err != nil {
				return pass{}, fmt.Errorf("reorder: %w", err)
			}
			res.add(l.pdDestroy, rpd)
			if err := b.noteScratchpad(rpd); err != nil {
				return pass{}, fmt.Errorf("reorder: %w", err)
			}
			if err := l.call(l.primCreate, uintptr(unsafe.Pointer(&op.reorder)), rpd); err != nil {
				return pass{}, fmt.Errorf("reorder: %w", err)
			}
			res.add(l.primDestroy, op.reorder)
			op.reorderArgs = [3]execArg{{arg: argSrc, memory: fromMem}, {arg: argDst, memory: toMem}}
			op.nargs = 2
		}
		p.args = append(p.args, execArg{arg: sp.arg, memory: inner})
		p.ops = append(p.ops, op)
	}
	b.inner = max(b.inner, used)
	return p, nil
}

// implInfo returns the name of the implementation behind descriptor pd,
// "?" if oneDNN does not say.
func (l *library) implInfo(pd uintptr) string {
	var str *byte
	if err := l.call(l.pdQuery, pd, queryImplInfoStr, 0, uintptr(unsafe.Pointer(&str))); err != nil || str == nil {
		return "?"
	}
	var b []byte
	for p := str; *p != 0; p = (*byte)(unsafe.Add(unsafe.Pointer(p), 1)) {
		b = append(b, *p)
	}
	return string(b)
}

// run executes pass p on the caller's buffers: it binds them, reorders
// the inputs that need it, runs the primitive, reorders the outputs back
// and waits for the stream. The buffers are pinned while oneDNN holds
// their addresses, and unbound before it returns. It allocates nothing.
func (c *Conv) run(p *pass, bufs [4][]float32) error {
	if c.res.objs == nil {
		return errClosed
	}
	l := c.res.lib
	base, err := c.ws.ensure(l, c.need)
	if err != nil {
		return fmt.Errorf("dnnl: convolution %s: %w", c.shape, err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.setThreads()
	err = c.bindWorkspace(p, base)
	for _, op := range p.ops {
		b := &bufs[op.buf][0]
		c.pin.Pin(b)
		err = errors.Join(err, c.sys(l.memSetHandle, op.user, uintptr(unsafe.Pointer(b))))
	}
	if err == nil {
		err = c.execute(p)
	}
	for _, op := range p.ops {
		err = errors.Join(err, c.sys(l.memSetHandle, op.user, 0))
	}
	c.pin.Unpin()
	if err != nil {
		return fmt.Errorf("dnnl: convolution %s: %w", c.shape, err)
	}
	return nil
}

// bindWorkspace binds the blocked copies of pass p and the scratchpad
// to their places in the workspace at base.
func (c *Conv) bindWorkspace(p *pass, base uintptr) error {
	l := c.res.lib
	for i := range p.ops {
		if op := &p.ops[i]; op.inner != 0 {
			if err := c.sys(l.memSetHandle, op.inner, base+op.offset); err != nil {
				return err
			}
		}
	}
	if c.scratch == 0 {
		return nil
	}
	return c.sys(l.memSetHandle, c.scratch, base+c.scratchOffset)
}

// execute runs the input reorders, the primitive and the output reorders
// of p, and waits for them.
func (c *Conv) execute(p *pass) error {
	l := c.res.lib
	for i := range p.ops {
		if op := &p.ops[i]; op.reorder != 0 && !op.output {
			if err := c.sys(l.primExecute, op.reorder, p.stream, uintptr(op.nargs), uintptr(unsafe.Pointer(&op.reorderArgs[0]))); err != nil {
				return err
			}
		}
	}
	if err := c.sys(l.primExecute, p.prim, p.stream, uintptr(len(p.args)), uintptr(unsafe.Pointer(&p.args[0]))); err != nil {
		return err
	}
	for i := range p.ops {
		if op := &p.ops[i]; op.reorder != 0 && op.output {
			if err := c.sys(l.primExecute, op.reorder, p.stream, uintptr(op.nargs), uintptr(unsafe.Pointer(&op.reorderArgs[0]))); err != nil {
				return err
			}
		}
	}
	return c.sys(l.streamWait, p.stream)
}

// sys calls the oneDNN function fn like library.call, without allocating:
// its arguments go through the Conv's own argument buffer rather than a
// slice of their own. The memory they point to must be kept alive and in
// place by the caller (the Conv's fields and the pinned buffers are).
func (c *Conv) sys(fn uintptr, args ...uintptr) error {
	n := copy(c.argv[:], args)
	r, _, _ := purego.SyscallN(fn, c.argv[:n]...)
	if s := Status(int32(r)); s != 0 {
		return s
	}
	return nil
}

// setThreads sets the OpenMP thread count of the calling OS thread to
// the shape's, without allocating.
func (c *Conv) setThreads() {
	c.argv[0] = uintptr(max(c.shape.Threads, 1))
	purego.SyscallN(c.res.lib.ompSetNumThreads, c.argv[:1]...)
}

// Workspace is the memory in which Convs that never run at the same time
// keep the blocked copies of their operands and their scratchpads,
// allocated by oneDNN and grown to the largest need (the Convs of one
// layer for several batch sizes, say). The zero Workspace is empty and
// ready to use. A Workspace is not safe for concurrent use: neither are
// the Convs that share it. An unreachable Workspace frees its memory.
type Workspace struct {
	res  *resources // the memory object, once there is one
	base uintptr    // its address
	size uintptr    // its size in bytes
}

// ensure returns the address of the workspace's memory, first grown to
// need bytes if it is smaller.
func (w *Workspace) ensure(l *library, need uintptr) (uintptr, error) {
	if need <= w.size {
		return w.base, nil
	}
	if w.res == nil {
		w.res = &resources{lib: l}
		runtime.AddCleanup(w, (*resources).release, w.res)
	}
	w.Close()
	var md memDesc
	d := dims{int64(need)}
	if err := l.call(l.mdInitByTag, uintptr(unsafe.Pointer(&md)), 1, uintptr(unsafe.Pointer(&d)), dataU8, tagA); err != nil {
		return 0, fmt.Errorf("workspace descriptor: %w", err)
	}
	var mem, base uintptr
	if err := l.call(l.memCreate, uintptr(unsafe.Pointer(&mem)), uintptr(unsafe.Pointer(&md)), l.engine, memoryAllocate); err != nil {
		return 0, fmt.Errorf("workspace of %d bytes: %w", need, err)
	}
	w.res.add(l.memDestroy, mem)
	if err := l.call(l.memGetHandle, mem, uintptr(unsafe.Pointer(&base))); err != nil {
		w.Close()
		return 0, fmt.Errorf("workspace: %w", err)
	}
	w.base, w.size = base, need
	return base, nil
}

// Bytes returns the size of the workspace's memory.
func (w *Workspace) Bytes() int { return int(w.size) }

// Close frees the workspace's memory; the Convs that use it allocate it
// again when they run.
func (w *Workspace) Close() {
	if w.res != nil {
		w.res.release()
	}
	w.base, w.size = 0, 0
}
