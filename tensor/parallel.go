package tensor

import (
	"sync"
	"sync/atomic"
)

// Ranger is work over an index range [0, n) that can be split into parts
// run concurrently: Range(lo, hi) does the part [lo, hi).
type Ranger interface {
	Range(lo, hi int)
}

// freeParts is how many parts a new split on up to threads goroutines may
// have: threads, less the parts already handed to workers and not
// finished. A product computed inside a parallel task while the other
// tasks still run is thus not split, only to be run piecewise by its own
// goroutine.
func freeParts(threads int) int { return max(1, threads-int(workers.busy.Load())) }

// job is one part of a Parallel call.
type job struct {
	task   Ranger
	lo, hi int
	done   *sync.WaitGroup
}

func (j job) run() {
	j.task.Range(j.lo, j.hi)
	workers.busy.Add(-1)
	j.done.Done()
}

// workers is a pool of goroutines, shared by all callers, started on first
// use and grown to the largest thread count asked for, that run the parts of Parallel calls; the
// calling goroutine runs one part itself. Handing work to it allocates
// nothing.
var workers struct {
	mu      sync.Mutex
	started atomic.Int64
	busy    atomic.Int64 // jobs handed out and not finished
	jobs    chan job
	wgs     sync.Pool
}

func init() {
	workers.jobs = make(chan job, 64)
	workers.wgs.New = func() any { return new(sync.WaitGroup) }
}

// ensureWorkers starts workers until n-1 run.
func ensureWorkers(n int) {
	if workers.started.Load() >= int64(n-1) {
		return
	}
	workers.mu.Lock()
	defer workers.mu.Unlock()
	for ; workers.started.Load() < int64(n-1); workers.started.Add(1) {
		go func() {
			for j := range workers.jobs {
				j.run()
			}
		}()
	}
}

// Parallel runs task over [0, n) in up to threads parts (fewer when called
// from a task while other tasks run), each of at least grain indices, and
// returns when all are done. threads < 1 counts as 1. Work too small to split
// runs on the calling goroutine. Tasks may call Parallel and Gemm
// themselves: a call waiting for its parts runs queued parts (its own or
// others') rather than idle, so nested calls cannot deadlock.
func Parallel(threads, n, grain int, task Ranger) {
	parts := min(freeParts(threads), n/max(grain, 1))
	if parts <= 1 {
		task.Range(0, n)
		return
	}
	ensureWorkers(parts)
	wg := workers.wgs.Get().(*sync.WaitGroup)
	wg.Add(parts - 1)
	workers.busy.Add(int64(parts - 1))
	for i := 1; i < parts; i++ {
		j := job{task: task, lo: i * n / parts, hi: (i + 1) * n / parts, done: wg}
		select {
		case workers.jobs <- j:
		default: // the queue is full: no goroutine is free anyway
			j.run()
		}
	}
	task.Range(0, n/parts)
	for helping := true; helping; {
		select {
		case j := <-workers.jobs:
			j.run()
		default:
			helping = false
		}
	}
	wg.Wait()
	workers.wgs.Put(wg)
}
