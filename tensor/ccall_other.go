//go:build (darwin || freebsd || linux || netbsd) && !android && !faketime && !amd64

package tensor

import "github.com/ebitengine/purego"

// call calls the C function c.fn with c.args through purego.SyscallN
// (which allocates the argument slice on the heap).
func (c *cCall13) call() {
	a := &c.args
	purego.SyscallN(c.fn, uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]),
		uintptr(a[6]), uintptr(a[7]), uintptr(a[8]), uintptr(a[9]), uintptr(a[10]), uintptr(a[11]), uintptr(a[12]))
}
