//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package experiment

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on f, released when f is
// closed or the process dies. On Linux NFS it becomes a POSIX lock on the
// server.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
