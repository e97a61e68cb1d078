package nn

import (
	"math"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/dnnl"
)

// Size is an estimate of the memory a [Model] of a graph holds, in values
// of its element type, counted in float64 so that no net and batch
// overflow it.
type Size struct {
	// Params counts the parameters' values. The model holds each twice,
	// as Data and Grad; an optimizer holds more of the same size (SGD one
	// buffer, Adam two).
	Params float64
	// Buffers counts the values of the buffers that a Forward and a
	// Backward of a batch size: every node's output and input gradient,
	// the gradients summed where the graph forks, the conv nodes'
	// per-chunk parameter gradients and per-goroutine scratch (or, for
	// convolutions on oneDNN, its blocked copies and scratchpads, which
	// it allocates outside Go's heap), and the loss's gradient of the
	// logits.
	Buffers float64
}

// Estimate returns the size of a model of g (which NewModel accepts)
// running batches of batch samples on threads goroutines, without
// allocating it, so that a caller can check it against the memory it may
// use first. Its convolutions are counted as a float32 model runs them:
// on oneDNN when [ConvBackend] says so.
func Estimate(g *arch.Graph, batch, threads int) Size {
	var s Size
	b, threads := float64(batch), max(threads, 1)
	readers := g.Consumers()
	trainable := make([]bool, len(g.Nodes))
	for id := 1; id < len(g.Nodes); id++ {
		n := &g.Nodes[id]
		out, in := float64(n.Out.Size()), float64(n.In.Size())
		for _, i := range n.Inputs {
			trainable[id] = trainable[id] || trainable[i]
		}
		// The input gradient exists only where a parameter lies before.
		dx := 0.0
		if trainable[id] {
			dx = in
		}
		trainable[id] = trainable[id] || n.HasWeights()
		if len(readers[id]) > 1 {
			s.Buffers += b * out // the sum of its readers' gradients
		}
		switch n.Op {
		case arch.OpDense:
			s.Params += float64(n.Params())
			s.Buffers += b * (out + dx)
		case arch.OpConv:
			s.Params += float64(n.Params())
			if convOnOneDNN(&n.Window) {
				s.Buffers += dnnBuffers(n.Window, batch, threads) + b*(out+dx)
			} else {
				s.Buffers += convBuffers(n.Window, batch, threads, dx > 0) + b*(out+dx)
			}
		case arch.OpMaxPool, arch.OpAvgPool:
			s.Buffers += b * (2*out + dx) // the output, the argmax, dx
		case arch.OpReLU:
			// Fused with the weighted node it reads, or in place backward.
			if in := &g.Nodes[n.Inputs[0]]; !in.HasWeights() || len(readers[in.ID]) > 1 {
				s.Buffers += b * out
			}
		case arch.OpScale:
			// Applied by the add that alone reads it, or on its own.
			if r := readers[id]; len(r) != 1 || g.Nodes[r[0]].Op != arch.OpAdd {
				s.Buffers += b * (out + dx)
			}
		case arch.OpAdd:
			// Its scaled input's gradient needs a buffer of its own.
			s.Buffers += b * out
			if scaledInput(g, readers, id) >= 0 {
				s.Buffers += b * dx
			}
		case arch.OpGAP:
			s.Buffers += b * (out + dx)
		}
	}
	s.Buffers += b * float64(g.Output().Size()) // the loss's gradient
	return s
}

// convBuffers counts the values a conv node of window w holds beyond its
// output and input gradient: the flipped kernel, one parameter gradient
// per chunk of the batch, and each goroutine's unfolded chunk and product,
// larger where the input gradient is computed (needInput).
func convBuffers(w arch.Window, batch, threads int, needInput bool) float64 {
	taps, cout := float64(w.Taps()), float64(w.Out.C)
	inPix, outPix := float64(w.In.H*w.In.W), float64(w.Out.H*w.Out.W)
	backTaps := cout * float64(w.KH*w.KH) // of the input gradient as a convolution
	// As newConv sizes chunks.
	chunk := max(1, math.Floor(chunkBudget/max(taps*outPix, backTaps*inPix)))
	chunks := math.Ceil(float64(batch) / chunk)
	unfolded, product := (taps+1)*outPix, cout*outPix
	values := chunks * (taps + 1) * cout // the per-chunk gradients
	if needInput {
		unfolded, product = max(unfolded, backTaps*inPix), max(product, float64(w.In.C)*inPix)
		values += taps * cout // the flipped kernel
	}
	workers := min(float64(threads), chunks)
	return values + workers*chunk*(unfolded+product)
}

// dnnBuffers bounds the values a conv node of window w on oneDNN holds
// beyond its output and input gradient, its batch cut as dnnConv.split
// cuts it: the parameter gradients of each chunk and their sum, and in
// each worker's workspace the blocked copies of a chunk's input and
// output with their channels padded to a block (see dnnl.ChannelBlock),
// two of the kernel, and the scratchpad of a GEMM-based kernel (the
// unfolded inputs of one sample).
func dnnBuffers(w arch.Window, batch, threads int) float64 {
	block := max(dnnl.ChannelBlock(), 1)
	pad := func(c int) float64 { return float64((c + block - 1) / block * block) }
	chunk := min(dnnChunk, (batch+dnnSplit*threads-1)/(dnnSplit*threads))
	chunks := (batch + chunk - 1) / chunk
	workers := float64(min(threads, chunks))
	inPix, outPix := float64(w.In.H*w.In.W), float64(w.Out.H*w.Out.W)
	params := float64(w.Out.C * (w.Taps() + 1))
	kernel := float64(w.Groups) * pad(w.Out.C/w.Groups) * pad(w.In.C/w.Groups) * float64(w.KH*w.KW)
	copies := float64(chunk)*(pad(w.In.C)*inPix+pad(w.Out.C)*outPix) + 2*kernel + float64(w.Taps())*outPix
	return float64(chunks+1)*params + workers*copies
}
