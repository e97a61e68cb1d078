//go:build linux

package limits

import (
	"math"
	"syscall"
)

// addressSpace returns RLIMIT_AS, the soft limit ulimit -v sets, or 0
// where there is none (RLIM_INFINITY reads as more than any int64).
func addressSpace() int64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &r); err != nil || r.Cur > math.MaxInt64 {
		return 0
	}
	return int64(r.Cur)
}
