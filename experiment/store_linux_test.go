//go:build linux

package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAppendCutsAFailedWrite fills the file system (a file size limit)
// mid-record: Append must fail and cut the part it wrote, so that the file
// still holds whole records only and the next Append starts a line.
func TestAppendCutsAFailedWrite(t *testing.T) {
	dir := t.TempDir()
	grid := tinyGrid(t, 3)
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	s := mustStore(t, dir, Shard{})
	if err := s.Append(doneRecord(grid[0], `1`, now)); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skip(err)
	}
	low := limit
	low.Cur = uint64(len(before)) + 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low); err != nil {
		t.Skip(err)
	}
	err = s.Append(doneRecord(grid[1], `{"long": "enough to pass the limit"}`, now))
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Fatal("Append past the file size limit: no error")
	}
	if after, _ := os.ReadFile(s.Path()); string(after) != string(before) {
		t.Errorf("after a failed Append the file is\n%q\nwant\n%q", after, before)
	}
	if err := s.Append(doneRecord(grid[2], `1`, now)); err != nil {
		t.Fatal(err)
	}
	recs, warnings, err := ReadDir(dir)
	if err != nil || len(recs) != 2 || recs[1].ID != grid[2].ID || warnings != nil {
		t.Errorf("after a failed Append and a good one: %d records, warnings %q, %v", len(recs), warnings, err)
	}
}

// TestStoreRefusesFilesThatAreNotRegular puts a device and a FIFO where
// shard files belong: OpenStore and ReadDir refuse them by name, unread.
func TestStoreRefusesFilesThatAreNotRegular(t *testing.T) {
	for _, create := range []func(path string) error{
		func(path string) error { return os.Symlink("/dev/zero", path) },
		func(path string) error { return syscall.Mkfifo(path, 0o644) },
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "shard-0-of-1.jsonl")
		if err := create(path); err != nil {
			t.Skip(err)
		}
		if _, _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), path+": not a regular file") {
			t.Errorf("ReadDir: error %v, want one naming %s", err, path)
		}
		if s, err := OpenStore(dir, Shard{}); err == nil || !strings.Contains(err.Error(), path+": not a regular file") {
			t.Errorf("OpenStore: error %v, want one naming %s", err, path)
			if err == nil {
				s.Close()
			}
		}
	}
}
