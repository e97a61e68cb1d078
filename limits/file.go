package limits

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
)

// ReadFile reads a whole file of at most max bytes. It refuses, with an
// error naming path, what Open refuses, and a file that grows past max
// while it is read.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := Open(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, fi.Size()+1)
	b, err := readAll(io.LimitReader(f, min(max, math.MaxInt64-1)+1), buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: grew past %s while read, more than a file of this kind may hold", path, Bytes(max))
	}
	return b, nil
}

// Open opens a regular file of at most max bytes for reading. It refuses,
// with an error naming path, anything that is not a regular file once
// symbolic links are followed (a device such as /dev/zero, a FIFO, a
// directory), without opening it (opening a FIFO would wait for a writer),
// and a file of more than max bytes.
func Open(path string, max int64) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi, max); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// Check again what was opened: the path may have changed in between.
	if fi, err = f.Stat(); err == nil {
		err = regular(path, fi, max)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// regular refuses a file that is not regular or is larger than max.
func regular(path string, fi fs.FileInfo, max int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (%s): want a regular file", path, kind(fi.Mode()))
	}
	if fi.Size() > max {
		return fmt.Errorf("%s: %s, more than the %s a file of this kind may hold", path, Bytes(fi.Size()), Bytes(max))
	}
	return nil
}

// kind names a file mode that is not regular.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

// readAll appends all of r to buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// ReadAt fills b from r at offset off, and says so plainly when the file
// ends before b is full: the file was shorter than its size promised (it
// changed while it was read).
func ReadAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == io.EOF {
		return fmt.Errorf("the file ends before byte %d, which its size promised: was it changed while read?", off+int64(len(b)))
	}
	return err
}
