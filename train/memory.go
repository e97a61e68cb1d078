package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/limits"
	"github.com/initscope/initscope/nn"
)

// batchFor returns the most samples one Forward of a run on these data
// sets holds: a batch never holds more images than the training set (a
// larger Batch trains on the whole set at each step), nor an evaluation
// more than it evaluates.
func (c *Config) batchFor(trainSet, testSet *data.Dataset) int {
	evalSamples := c.EvalSamples
	if evalSamples == 0 {
		evalSamples = testSet.Len()
	}
	return min(c.Batch, max(trainSet.Len(), evalSamples))
}

// footprint is an estimate of the memory a run allocates beyond the data
// sets, in bytes.
type footprint struct {
	params, buffers, inputs float64
}

// total is the whole estimate.
func (f footprint) total() float64 { return f.params + f.buffers + f.inputs }

// footprint estimates the memory of a run of batches of batch samples on a
// training set of trainLen images of size values (0: not known yet): the
// model's parameters, their gradients and the optimizer's state (SGD's
// velocity, Adam's two moments), its activation and gradient buffers
// (nn.Estimate), and the batch's images and labels with the order of the
// training set. A data-parallel run (see dataParts) also holds, per
// replica, a gradient of every parameter and the values that NewModel
// allocates before NewReplica points them at the model's, and the buffers
// of a block of batch over the parts, rounded up, on one thread per model;
// on more than one thread without data parallelism, also the copy of the
// model that evaluations run on.
func (c *Config) footprint(batch, size, trainLen int) footprint {
	rows := batch
	if trainLen > 0 {
		rows = min(batch, trainLen)
	}
	parts := c.dataParts(rows)
	copies := 3.0 // Data, Grad and SGD's velocity
	if c.Optimizer == "adam" {
		copies = 4
	}
	var buffers float64
	s := nn.Estimate(c.Net, batch, c.threads())
	switch {
	case parts > 1:
		block := (batch + parts - 1) / parts
		copies += 2 * float64(parts-1) // each replica's Grad, and its Data allocated and dropped
		buffers = float64(parts) * nn.Estimate(c.Net, block, 1).Buffers
		batch = parts * block
	case c.threads() > 1:
		buffers = s.Buffers
		copies += 2        // the evaluation copy's Data and Grad
		evalBatch := batch // evaluations run in batches of at most Batch
		if c.EvalSamples > 0 {
			evalBatch = min(batch, c.EvalSamples)
		}
		buffers += nn.Estimate(c.Net, evalBatch, 1).Buffers
	default:
		buffers = s.Buffers
	}
	const f32, word = 4, 8
	b := float64(batch)
	return footprint{
		params:  f32 * copies * s.Params,
		buffers: f32 * buffers,
		inputs:  b*(f32*float64(size)+word) + word*float64(trainLen),
	}
}

// checkMemory refuses a run of batches of batch samples of size values on
// a training set of trainLen images whose footprint is more than the
// process may use (limits.Check): an error about Batch when a batch of one
// would fit, with the largest batch that would, and about Net when it
// would not.
func (c *Config) checkMemory(batch, size, trainLen int) error {
	f := c.footprint(batch, size, trainLen)
	what := fmt.Sprintf("a batch of %d", batch)
	if trainLen > 0 && batch < c.Batch {
		what += ", the whole training set"
	}
	what += fmt.Sprintf(": %s of activations and gradients, %s of inputs; %s parameters with their gradients and %s's state: %s",
		limits.Bytes(toBytes(f.buffers)), limits.Bytes(toBytes(f.inputs)), count(c.Net.Params()), c.Optimizer, limits.Bytes(toBytes(f.params)))
	err := limits.Check(what, toBytes(f.total()))
	var le *limits.Error
	if !errors.As(err, &le) {
		return err
	}
	one := c.footprint(1, size, trainLen).total()
	if batch == 1 || float64(le.Left) < one {
		return configErr("Net", "%v: use a smaller net", err)
	}
	perSample := (f.total() - one) / float64(batch-1)
	return configErr("Batch", "%d: %v: use a batch of at most %d", c.Batch, err, int((float64(le.Left)-one)/perSample))
}

// toBytes rounds an estimate to a byte count, saturating far below the
// int64 limit.
func toBytes(b float64) int64 { return int64(min(math.Ceil(b), 1<<62)) }

// count writes a number of parameters for people: 15.9 M, 2.1 G.
func count(n int) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f G", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f M", float64(n)/1e6)
	}
	return fmt.Sprint(n)
}
