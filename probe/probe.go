// Package probe measures by Monte Carlo, at initialization, what package
// theory predicts: for N independently initialized copies of a net and one
// fixed input, the normalized squared length M_j = ||act_j||^2/n_j after
// every layer, the empirical variance of the lengths across the ReLU layers
// (FM2's Var_hat) and the squared Jacobian-vector norm ||J u||^2/||u||^2 for
// a random unit u, summarized with standard errors (THEORY.md sections 1-6).
//
// Two samplers produce the same quantities:
//
//   - the network sampler draws every weight of a real float32 network and
//     pushes the input and the tangent through its graph node by node
//     (dense nodes, conv nodes by im2col and GEMM, ReLUs, pooling, scales
//     and the adds that join residual paths, in any arrangement the graph
//     holds; normalization placeholders it refuses), for any law;
//   - the exact sampler draws the lengths of a fully connected net (every
//     layer a dense layer) with Gaussian weights and zero biases from their
//     exact law, O(depth) scalar draws per sample instead of
//     sum_j n_j n_{j-1} (THEORY.md 3.1).
//
// Both report per layer as package arch recognizes layers (Graph.Layers):
// one row per layer, measured at the layer's last node.
//
// Results do not depend on the number of workers: sample i always draws from
// the PCG stream (seed, i), each sample's values land in a row of a table
// indexed by sample, and the statistics reduce that table in order.
package probe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/limits"
	"github.com/initscope/initscope/tensor"
	"github.com/initscope/initscope/weightinit"
)

// Method selects a sampler.
type Method string

// The methods.
const (
	// Auto is Exact where the exact law applies (fully connected, Gaussian
	// weights, zero biases) and Network otherwise.
	Auto Method = "auto"
	// Exact draws the lengths from their exact law.
	Exact Method = "exact"
	// Network draws and runs real networks.
	Network Method = "network"
)

// ParseMethod reads auto, exact or network.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case Auto, Exact, Network:
		return m, nil
	}
	return "", fmt.Errorf("method %q: want auto, exact or network", s)
}

// MaxValues bounds samples x (layers + 1), the float64 table of per-sample
// results (1 GiB), so that a typo cannot ask for a run of days. The
// buffers of the network sampler's workers are bounded by the memory the
// process may use (package limits), checked before they are allocated.
const MaxValues = 1 << 27

// Options describe a probe run.
type Options struct {
	// Net is the network.
	Net *arch.Graph
	// Init gives the weight and bias laws.
	Init weightinit.Init
	// Input is the fixed input, Net.Input().Size() values in C x H x W order.
	Input []float64
	// Samples is the number of independent initializations, at least 2.
	Samples int
	// Seed selects the random streams: sample i draws from PCG(Seed, i).
	Seed uint64
	// Method selects the sampler; "" means Auto.
	Method Method
	// Workers is the number of goroutines; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// Progress, if not nil, is called from Run's goroutine now and then with
	// the number of samples done, and once at the end.
	Progress func(done, total int)
}

// OptionError reports an option that cannot be used, naming it as Options
// does (in lower case: "samples", "input", "method", "workers", "net").
type OptionError struct {
	// Option names the option, Msg says what is wrong and what would do.
	Option string
	Msg    string
}

// Error writes the option's name, then the message.
func (e *OptionError) Error() string { return e.Option + ": " + e.Msg }

// optErr returns an *OptionError about option.
func optErr(option, format string, a ...any) error {
	return &OptionError{Option: option, Msg: fmt.Sprintf(format, a...)}
}

// Result is the outcome of a run.
type Result struct {
	// Samples is the number of initializations drawn; Seed their seed.
	Samples int
	Seed    uint64
	// Method is the sampler that ran: Exact or Network.
	Method Method
	// Backend is the BLAS backend of the network sampler (tensor.Backend),
	// or "none" for the exact sampler, which multiplies no matrices.
	Backend string
	// Workers is the number of goroutines that ran.
	Workers int
	// M0 is ||x||^2/n0 of the input.
	M0 float64
	// Outputs is n_d, the number of values the net outputs.
	Outputs int
	// Layers summarizes M_j/M_0 after each layer of the net (each of
	// Net.Layers(), measured at its last node), in order.
	Layers []Summary
	// EmpiricalVariance summarizes Var_hat[M]/M_0^2, the variance of
	// M_j/M_0 across the ReLU layers (dense and conv layers with a ReLU; not
	// those inside residual modules) of each sample: THEORY.md 1.
	EmpiricalVariance Summary
	// VarianceLayers is the number of ReLU layers Var_hat runs over.
	VarianceLayers int
	// Jacobian summarizes ||J u||^2/||u||^2 for a unit u drawn uniformly
	// on the sphere, independently for each sample.
	Jacobian Summary
}

// sampler draws the row of one sample.
type sampler interface {
	sample(seed, index uint64, row []float64)
}

// Run draws the samples and summarizes them. Errors about the options are
// *OptionError values; a cancelled context returns ctx.Err().
func Run(ctx context.Context, opt Options) (*Result, error) {
	res, rows, layers, err := collect(ctx, opt)
	if err != nil {
		return nil, err
	}
	res.summarize(layers, rows, len(layers)+1)
	return res, nil
}

// collect draws the samples: it returns the result without its summaries,
// the table of rows, one per sample, each log(M_j/M_0) for every layer then
// log(||J u||^2/||u||^2), and the net's layers.
func collect(ctx context.Context, opt Options) (*Result, []float64, []arch.Layer, error) {
	if opt.Net == nil || len(opt.Net.Nodes) < 2 {
		return nil, nil, nil, optErr("net", "no layers")
	}
	layers := opt.Net.Layers()
	method, err := opt.validate(layers)
	if err != nil {
		return nil, nil, nil, err
	}
	n, width := opt.Samples, len(layers)+1
	workers := opt.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	res := &Result{Samples: n, Seed: opt.Seed, Method: method, Workers: workers, M0: meanSquare(opt.Input), Outputs: opt.Net.Output().Size()}
	var newSampler func() sampler
	if method == Exact {
		res.Backend = "none"
		ex := newExactSampler(layers, opt.Init)
		newSampler = func() sampler { return &exactWorker{exactSampler: ex} }
		if err := checkMemory(0, workers, n, width); err != nil {
			return nil, nil, nil, err
		}
	} else {
		plan, err := newNetPlan(opt.Net, layers, opt.Init, opt.Input)
		if err != nil {
			return nil, nil, nil, optErr("net", "%v", err)
		}
		if err := tensor.Init(); err != nil {
			return nil, nil, nil, err
		}
		res.Backend = tensor.Backend()
		if err := checkMemory(int64(4*plan.workFloats()), workers, n, width); err != nil {
			return nil, nil, nil, err
		}
		newSampler = func() sampler { return newNetWorker(plan) }
	}
	rows := make([]float64, n*width)
	if err := runSamples(ctx, opt, workers, width, rows, newSampler); err != nil {
		return nil, nil, nil, err
	}
	return res, rows, layers, nil
}

// runSamples fills rows, one row of width values per sample, on workers
// goroutines, reporting progress from the calling goroutine. Workers take
// samples in chunks, so that the shared counters are not contended when a
// sample takes a microsecond.
func runSamples(ctx context.Context, opt Options, workers, width int, rows []float64, newSampler func() sampler) error {
	n := opt.Samples
	chunk := int64(max(1, min(256, n/(16*workers))))
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSampler()
			for ctx.Err() == nil {
				lo := next.Add(chunk) - chunk
				if lo >= int64(n) {
					return
				}
				hi := min(lo+chunk, int64(n))
				for i := lo; i < hi; i++ {
					s.sample(opt.Seed, uint64(i), rows[int(i)*width:int(i+1)*width])
				}
				done.Add(hi - lo)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if err := ctx.Err(); err != nil {
				return err
			}
			if opt.Progress != nil {
				opt.Progress(n, n)
			}
			return nil
		case <-tick.C:
			if opt.Progress != nil {
				opt.Progress(int(done.Load()), n)
			}
		}
	}
}

// validate checks the options for a net with these layers and resolves
// the method.
func (opt Options) validate(layers []arch.Layer) (Method, error) {
	net := opt.Net
	if !opt.Init.Weight.Family.Valid() || !opt.Init.Bias.Family.Valid() {
		return "", optErr("init", "unknown law family in %s / %s", opt.Init.Weight, opt.Init.Bias)
	}
	if opt.Samples < 2 {
		return "", optErr("samples", "%d: want at least 2 (standard errors need two samples)", opt.Samples)
	}
	width := len(layers) + 1
	if opt.Samples > MaxValues/width {
		return "", optErr("samples", "%d samples x %d values each (one per layer, plus the Jacobian) is more than the %d values (1 GiB) a run may hold: use at most %d samples for this net",
			opt.Samples, width, MaxValues, MaxValues/width)
	}
	if opt.Workers < 0 {
		return "", optErr("workers", "%d: want >= 1, or 0 for one per CPU", opt.Workers)
	}
	if len(opt.Input) != net.Input().Size() {
		return "", optErr("input", "%d values, but the net's input %s has %d", len(opt.Input), net.Input(), net.Input().Size())
	}
	for i, v := range opt.Input {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", optErr("input", "value %d is %v: inputs must be finite", i, v)
		}
	}
	if meanSquare(opt.Input) == 0 {
		return "", optErr("input", "all zero: M_0 = 0, so no ratio M_j/M_0 exists; use a nonzero input")
	}
	exactErr := exactApplies(layers, opt.Init)
	switch opt.Method {
	case "", Auto:
		if exactErr == nil {
			return Exact, nil
		}
		return Network, nil
	case Exact:
		if exactErr != nil {
			return "", optErr("method", "exact %v; use auto or network", exactErr)
		}
		return Exact, nil
	case Network:
		return Network, nil
	}
	return "", optErr("method", "%q: want auto, exact or network", opt.Method)
}

// meanSquare is ||x||^2/len(x).
func meanSquare(x []float64) float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	return ss / float64(len(x))
}

// checkMemory checks what a run allocates against the memory the process
// may use (limits.Check): perWorker bytes of activation, weight and im2col
// buffers for each of workers goroutines (none for the exact sampler), and
// the table of n rows of width values with the columns its summaries copy.
// Its error names the samples if the table alone would not fit, the
// workers if one worker would, with the number that would, and the net
// otherwise.
func checkMemory(perWorker int64, workers, n, width int) error {
	table := 8 * int64(n) * int64(width+2)
	need := func(w int) int64 { return int64(w)*perWorker + table }
	what := func(w int) string {
		s := fmt.Sprintf("%s of per-sample results", limits.Bytes(table))
		switch {
		case perWorker == 0:
			return s
		case w == 1:
			return fmt.Sprintf("one worker's %s of activation, weight and im2col buffers, %s", limits.Bytes(perWorker), s)
		}
		return fmt.Sprintf("%d workers x %s of activation, weight and im2col buffers, %s", w, limits.Bytes(perWorker), s)
	}
	err := limits.Check(what(workers), need(workers))
	var le *limits.Error
	if !errors.As(err, &le) {
		return err
	}
	switch {
	case table > le.Left:
		return optErr("samples", "%d: %v: use fewer", n, err)
	case workers > 1 && need(1) <= le.Left:
		return optErr("workers", "%d: %v: use at most %d", workers, err, (le.Left-table)/perWorker)
	case workers > 1:
		err = limits.Check(what(1), need(1))
	}
	return optErr("net", "%v: use a smaller net", err)
}
