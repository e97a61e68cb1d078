package nn

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/tensor"
)

// SoftmaxCrossEntropy is the cross-entropy of the softmax of the logits
// against integer class labels, averaged over the batch: PyTorch's
// nn.CrossEntropyLoss with its default mean reduction.
type SoftmaxCrossEntropy[T tensor.Float] struct {
	grad []T
}

// Loss returns the mean loss of logits (len(labels) rows of classes values)
// against labels, and the gradient of that mean with respect to the logits,
// in a buffer the loss owns, valid until the next call. It computes each
// row's log-sum-exp after subtracting the row's maximum, so large logits do
// not overflow, and accumulates in float64. It panics if a label is outside
// [0, classes) or the sizes do not match.
func (s *SoftmaxCrossEntropy[T]) Loss(logits []T, labels []int, classes int) (float64, []T) {
	batch := len(labels)
	if classes < 1 || len(logits) != batch*classes {
		panic(fmt.Sprintf("nn: cross-entropy of %d logits for %d labels of %d classes", len(logits), batch, classes))
	}
	s.grad = grow(s.grad, len(logits))
	var total float64
	for r, label := range labels {
		if label < 0 || label >= classes {
			panic(fmt.Sprintf("nn: cross-entropy: label %d of sample %d is outside [0, %d)", label, r, classes))
		}
		z, g := logits[r*classes:][:classes], s.grad[r*classes:][:classes]
		top := float64(z[0])
		for _, v := range z {
			top = max(top, float64(v))
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v) - top)
		}
		logSum := top + math.Log(sum)
		total += logSum - float64(z[label])
		for i, v := range z {
			g[i] = T(math.Exp(float64(v)-logSum) / float64(batch))
		}
		g[label] -= T(1 / float64(batch))
	}
	return total / float64(batch), s.grad
}
