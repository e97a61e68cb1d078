package nn

import (
	"fmt"

	"github.com/initscope/initscope/tensor"
)

// Data parallelism: a model and its replicas run Forward and Backward on
// parts of one batch at the same time, each on a goroutine of its own,
// reading one copy of the weights; a GradSum then adds the replicas'
// gradients to the model's, and an optimizer steps the model (and with it
// the replicas, whose weights are the model's).

// NewReplica returns a model of m's graph whose parameters share m's
// values (each Param's Data is the array that m's holds now) and own their
// gradients; its passes use up to threads goroutines. m and its replicas
// may run Forward and Backward concurrently, as long as nothing writes the
// values meanwhile: an optimizer steps m only after every pass has
// returned. Replacing a Param's Data of m later breaks the link.
func NewReplica[T tensor.Float](m *Model[T], threads int) (*Model[T], error) {
	r, err := NewModel[T](m.graph, threads)
	if err != nil {
		return nil, err
	}
	for i, p := range r.params {
		p.Data = m.params[i].Data
	}
	return r, nil
}

// GradSum adds the gradients of a model's replicas to the model's own
// gradients, so that the model holds the gradient of the sum of the
// replicas' losses and its own; for the mean loss of a whole batch, each
// part's loss must count with the weight rows/batch (scale each part's
// loss gradient by it before its Backward). A parameter whose gradient was
// zeroed by ZeroGrad and not written by a Backward since counts as zero,
// in the model and in a replica alike.
type GradSum[T tensor.Float] struct {
	// Threads is the most goroutines Add uses (< 1 counts as 1).
	Threads int

	segmented[T]
	replicas [][]*Param[T] // per replica, its parameters
	task     gradSumTask[T]
}

// NewGradSum returns the GradSum of m and replicas, which must be models
// of m's graph (see NewReplica).
func NewGradSum[T tensor.Float](m *Model[T], replicas ...*Model[T]) (*GradSum[T], error) {
	s := &GradSum[T]{segmented: newSegmented(m.params)}
	for i, r := range replicas {
		if r.graph != m.graph || len(r.params) != len(m.params) {
			return nil, fmt.Errorf("nn: replica %d runs another graph than the model: make replicas with NewReplica", i)
		}
		s.replicas = append(s.replicas, r.params)
	}
	return s, nil
}

// Add adds the replicas' gradients to the model's. Once they have been
// added, the replicas' gradients count as zeroed, as after ZeroGrad.
func (s *GradSum[T]) Add() {
	s.task = gradSumTask[T]{s: s}
	tensor.Parallel(s.Threads, len(s.segs), s.grain, &s.task)
	for i, p := range s.params {
		for _, r := range s.replicas {
			if !r[i].stale {
				p.stale = false
			}
			r[i].stale = true
		}
	}
}

// gradSumTask is one GradSum.Add; its range runs over segments. It reads
// the stale marks and leaves them to Add, which updates them afterwards:
// the segments of one parameter may run on different goroutines.
type gradSumTask[T tensor.Float] struct{ s *GradSum[T] }

func (t *gradSumTask[T]) Range(lo, hi int) {
	for _, seg := range t.s.segs[lo:hi] {
		p := t.s.params[seg.p]
		dst := p.Grad[seg.lo:seg.hi]
		written := !p.stale
		for _, r := range t.s.replicas {
			q := r[seg.p]
			if q.stale {
				continue
			}
			src := q.Grad[seg.lo:seg.hi]
			if written {
				axpy(dst, dst, src, 1)
			} else {
				copy(dst, src)
				written = true
			}
		}
	}
}
