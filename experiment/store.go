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
// directory (see SweepDir for the whole layout). Each record is written with one write(2) of a whole line to a
// file opened with O_APPEND, then fsynced. A process killed mid-write leaves
// at most a torn final line, which readers ignore and OpenStore cuts off. An
// exclusive lock (flock) keeps a second process from writing the same file.
// A Store is safe for concurrent use.
type Store struct {
	dir  string
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenStore opens (creating dir and the file if needed) the results file for
// the shard in dir, locks it and repairs a torn final line.
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
	if err := repair(f, path); err != nil {
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
	return &Store{dir: dir, path: path, f: f}, nil
}

// repair truncates the file after its last whole, valid record.
func repair(f *os.File, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, good, err := parseRecords(b, path)
	if err != nil {
		return err
	}
	if good == len(b) {
		return nil
	}
	if err := f.Truncate(int64(good)); err != nil {
		return fmt.Errorf("%s: cutting off a torn final record: %v", path, err)
	}
	return f.Sync()
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
	if s.f == nil {
		return fmt.Errorf("%s: store is closed", s.path)
	}
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("%s: %v", s.path, err)
	}
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

// parseRecords reads JSON Lines records and returns them with the length of
// the valid prefix. Lines after the last valid record that are invalid or lack
// their newline are a torn tail, left out; an invalid line followed by a valid
// one is corruption, an error naming the line.
func parseRecords(b []byte, path string) (recs []Record, good int, err error) {
	badLine := 0
	for off, line := 0, 1; off < len(b); line++ {
		end := bytes.IndexByte(b[off:], '\n')
		if end < 0 {
			break // no newline: torn
		}
		text := b[off : off+end]
		off += end + 1
		if len(bytes.TrimSpace(text)) == 0 {
			if badLine == 0 {
				good = off
			}
			continue
		}
		r, ok := decodeRecord(text)
		if !ok {
			if badLine == 0 {
				badLine = line
			}
			continue
		}
		if badLine != 0 {
			return nil, 0, fmt.Errorf("%s:%d: not a valid record, yet valid records follow: the file is corrupt", path, badLine)
		}
		recs = append(recs, r)
		good = off
	}
	return recs, good, nil
}

// decodeRecord parses one line, requiring an id and a known status.
func decodeRecord(line []byte) (Record, bool) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, false
	}
	return r, r.ID != "" && (r.Status == StatusDone || r.Status == StatusFailed)
}

// ReadDir returns the records of every *.jsonl file in dir, file by file in
// name order, each file's in the order written, leaving out torn tails.
func ReadDir(dir string) ([]Record, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var all []Record
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		recs, _, err := parseRecords(b, p)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
	}
	return all, nil
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
