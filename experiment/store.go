package experiment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/initscope/initscope/limits"
)

// Status is the outcome of a task.
type Status string

// The outcomes of a task.
const (
	// StatusDone marks a task whose runner returned a result.
	StatusDone Status = "done"
	// StatusFailed marks a task whose runner returned an error.
	StatusFailed Status = "failed"
)

// Record is one line of a results file: one attempt at one task.
type Record struct {
	// ID is the task's stable id.
	ID string `json:"id"`
	// Kind is the task's kind.
	Kind string `json:"kind"`
	// Params are the task's params.
	Params Params `json:"params"`
	// Status is done or failed.
	Status Status `json:"status"`
	// Result is the runner's JSON result (done only).
	Result json.RawMessage `json:"result,omitempty"`
	// Error is the runner's error text (failed only).
	Error string `json:"error,omitempty"`
	// Started and Finished bracket the runner's call.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Host is the machine that ran the task.
	Host string `json:"host"`
	// Shard is the shard that ran the task, as "index/count".
	Shard string `json:"shard"`
	// Backend says which compute backend ran the task (e.g. the BLAS).
	Backend string `json:"backend,omitempty"`
	// Version is the version of the program that ran the task.
	Version string `json:"version,omitempty"`
}

// Task returns the task the record is about.
func (r Record) Task() Task { return Task{ID: r.ID, Kind: r.Kind, Params: r.Params} }

// Decode unmarshals a done record's result into v; its error names the task.
func (r Record) Decode(v any) error {
	if err := json.Unmarshal(r.Result, v); err != nil {
		return fmt.Errorf("task %s (%s): reading its result: %v", r.ID, r.Kind, err)
	}
	return nil
}

// Store appends records to one results file, shard-<i>-of-<n>.jsonl in its
// directory (see SweepDir for the whole layout). Each record is written with
// one write(2) of a whole line to a file opened with O_APPEND, then fsynced;
// a write that fails part way (a full disk) is cut off again. A process
// killed mid-write leaves at most a torn final line without its newline,
// which readers ignore and OpenStore cuts off. An exclusive lock (flock)
// keeps a second process from writing the same file. A Store is safe for
// concurrent use.
type Store struct {
	dir  string
	path string
	mu   sync.Mutex
	f    *os.File
	size int64 // the length of the file's whole lines
	err  error // why the store can no longer append, if it cannot
}

// OpenStore opens (creating dir and the file if needed) the results file for
// the shard in dir, locks it and repairs it (see repair): it never appends to
// a file that holds anything but records, and then says why.
func OpenStore(dir string, shard Shard) (*Store, error) {
	s, err := shard.normalized()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := shardPath(dir, s)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: another process is writing this shard's results (%v): wait for it, or run another shard", path, err)
	}
	size, err := repair(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// Make the new file's directory entry durable too.
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &Store{dir: dir, path: path, f: f, size: size}, nil
}

// repair readies a results file for appending and returns its length. It
// changes only what a Store's own writes can have left: a final record
// without its newline gets one; a torn record (the start of a line as
// Append writes it, after the last newline) is cut off. Any line that is not
// a record, or a tail that is not the start of one, is an error naming the
// file and the line: the file is then not (only) ours, and is left alone.
func repair(f *os.File, path string) (int64, error) {
	b, err := limits.ReadFile(path, MaxResultsBytes)
	if err != nil {
		return 0, err
	}
	c := scanRecords(b, path)
	if len(c.bad) > 0 {
		more := ""
		if len(c.bad) > 1 {
			more = fmt.Sprintf(" (and %d more lines)", len(c.bad)-1)
		}
		return 0, fmt.Errorf("%s%s; refusing to append to a file that holds more than records: move it away or remove the line%s",
			c.bad[0], more, plural(len(c.bad), "", "s"))
	}
	switch {
	case c.tail == nil:
		return int64(len(b)), nil
	case c.tailRecord:
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return 0, fmt.Errorf("%s: ending its last record's line: %v", path, err)
		}
		return int64(len(b)) + 1, f.Sync()
	case !torn(c.tail):
		return 0, fmt.Errorf("%s: ends in %d bytes after its last line that are not a record (%.40q); refusing to append to a file that holds more than records: move it away",
			path, len(c.tail), c.tail)
	}
	if err := f.Truncate(int64(c.whole)); err != nil {
		return 0, fmt.Errorf("%s: cutting off a torn final record: %v", path, err)
	}
	return int64(c.whole), f.Sync()
}

// recordStart is how every line Append writes begins.
var recordStart = []byte(`{"id":"`)

// torn reports whether tail, text after the last newline of a results file,
// can be a line Append began and did not finish.
func torn(tail []byte) bool {
	return bytes.HasPrefix(tail, recordStart) || bytes.HasPrefix(recordStart, tail)
}

// plural returns one if n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// syncDir fsyncs a directory.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Path is the results file's path.
func (s *Store) Path() string { return s.path }

// Dir is the results directory.
func (s *Store) Dir() string { return s.dir }

// Append writes one record as one line and fsyncs it.
func (s *Store) Append(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("task %s: encoding its record: %v", r.ID, err)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.f == nil:
		return fmt.Errorf("%s: store is closed", s.path)
	case s.err != nil:
		return s.err
	}
	if n, err := s.f.Write(b); err != nil {
		// Part of the line may be written (a full disk): cut it off, so
		// that the file holds whole records only and the next one starts a
		// line.
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				s.err = fmt.Errorf("%s: a write failed (%v) and cutting off its part failed too (%v): the store takes no more records", s.path, err, terr)
				return s.err
			}
		}
		return fmt.Errorf("%s: %v", s.path, err)
	}
	s.size += int64(len(b))
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("%s: %v", s.path, err)
	}
	return nil
}

// Close releases the lock and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// contents is what a results file holds.
type contents struct {
	// recs are the records of its whole lines (those ending in a newline)
	// and of its tail if that is one.
	recs []Record
	// bad say, for each whole line that is neither blank nor a record,
	// "PATH:LINE: what is wrong".
	bad []string
	// whole is the length of the whole lines; tail is what follows them,
	// nil if nothing does, and tailRecord whether it is a record.
	whole      int
	tail       []byte
	tailRecord bool
}

// scanRecords reads the JSON Lines records of a results file.
func scanRecords(b []byte, path string) contents {
	var c contents
	for line := 1; c.whole < len(b); line++ {
		end := bytes.IndexByte(b[c.whole:], '\n')
		if end < 0 {
			c.tail = b[c.whole:]
			if r, err := decodeRecord(c.tail); err == nil {
				c.recs, c.tailRecord = append(c.recs, r), true
			}
			break
		}
		text := b[c.whole : c.whole+end]
		c.whole += end + 1
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		r, err := decodeRecord(text)
		if err != nil {
			c.bad = append(c.bad, fmt.Sprintf("%s:%d: %v", path, line, err))
			continue
		}
		c.recs = append(c.recs, r)
	}
	return c
}

// decodeRecord parses one line, requiring an id and a known status.
func decodeRecord(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, fmt.Errorf("not a record: not JSON (%v)", err)
	}
	switch {
	case r.ID == "":
		return Record{}, errors.New("not a record: no id")
	case r.Status != StatusDone && r.Status != StatusFailed:
		return Record{}, fmt.Errorf("not a record: status %q, want %q or %q", r.Status, StatusDone, StatusFailed)
	}
	return r, nil
}

// warnings describes what a reader of a results file leaves out: lines
// that are not records (the first few) and a tail that is not one.
func (c contents) warnings(path string) []string {
	const maxListed = 3
	var w []string
	for i, b := range c.bad {
		if i == maxListed {
			w = append(w, fmt.Sprintf("%s: %d more lines that are not records", path, len(c.bad)-maxListed))
			break
		}
		w = append(w, b+": left out")
	}
	switch {
	case c.tail == nil || c.tailRecord:
	case torn(c.tail):
		w = append(w, fmt.Sprintf("%s: left out a torn last line (%d bytes, no newline): a record cut off by a killed run, or one being written", path, len(c.tail)))
	default:
		w = append(w, fmt.Sprintf("%s: left out %d bytes after the last line that are not a record (%.40q)", path, len(c.tail), c.tail))
	}
	if len(w) > 0 && len(c.recs) == 0 {
		w = append(w, fmt.Sprintf("%s: no records at all: is it a results file of initscope?", path))
	}
	return w
}

// MaxResultsBytes bounds the size of a results file (4 GiB), which readers
// read whole: a sweep that needs more runs in more shards.
const MaxResultsBytes = 4 << 30

// ReadDir returns the records of every *.jsonl file in dir, file by file in
// name order, each file's in the order written; each must be a regular file
// of at most MaxResultsBytes. It leaves out what is not a record (torn last lines, lines or files of something else) and returns a
// warning about each, naming the file and the line.
func ReadDir(dir string) (recs []Record, warnings []string, err error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, err
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := limits.ReadFile(p, MaxResultsBytes)
		if err != nil {
			return nil, nil, err
		}
		c := scanRecords(b, p)
		recs = append(recs, c.recs...)
		warnings = append(warnings, c.warnings(p)...)
	}
	return recs, warnings, nil
}

// latest returns, for each task id, the record that counts: the last done
// record (by finish time, then order read), or if there is none, the last
// failed one.
func latest(recs []Record) map[string]Record {
	best := map[string]Record{}
	for _, r := range recs {
		if b, seen := best[r.ID]; !seen || supersedes(r, b) {
			best[r.ID] = r
		}
	}
	return best
}

// supersedes reports whether r, read after b, replaces it as the record that
// counts for their task.
func supersedes(r, b Record) bool {
	if (r.Status == StatusDone) != (b.Status == StatusDone) {
		return r.Status == StatusDone
	}
	return !r.Finished.Before(b.Finished)
}
