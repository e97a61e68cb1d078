//go:build (darwin || freebsd || linux || netbsd) && !android && !faketime && amd64

package tensor

import "unsafe"

// call calls the C function c.fn with c.args through runtime.cgocall, as
// purego.SyscallN does, but without SyscallN's allocation: its
// go:uintptrescapes moves the argument slice of every call to the heap,
// which made a training step allocate once per product. c must be on the
// heap, and stays reachable, with the memory its arguments point to, until
// the call returns.
func (c *cCall13) call() { runtimeCgocall(cCall13ABI0, unsafe.Pointer(c)) }

// runtimeCgocall runs fn(arg) on the system stack with the C calling
// convention, arg in DI; purego uses the same entry point.
//
//go:linkname runtimeCgocall runtime.cgocall
func runtimeCgocall(fn uintptr, arg unsafe.Pointer) int32

// cCall13ABI0 is the address of the trampoline of ccall_amd64.s.
var cCall13ABI0 uintptr
