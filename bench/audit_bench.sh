#!/usr/bin/env bash
# Speed of `initscope audit` on a ResNet-18 (11.7 M parameters, 3x224x224,
# PyTorch's default init, exported by bench/torch_resnet18.py), against the
# issue's targets (read, fit and predict under 2 s; one forward pass under
# 0.5 s) and against PyTorch's own forward pass of the same model and input
# size, in one run. Go benchmarks (audit's BenchmarkAuditModel: read+lower,
# fit+predict, forward in float64 on 2 threads) run -count REPS times; PyTorch
# times REPS forward passes (float32, eval, no_grad) at 1 and 2 threads; the
# medians and the ratio are printed. Last, the whole command
# `initscope audit resnet18.onnx --input gaussian` is timed REPS times.
#
# usage: bash bench/audit_bench.sh        (REPS=7 for more repetitions)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
REPS=${REPS:-5}
PY=/usr/bin/python3 # Debian's python3-torch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -c 'import torch' || { echo "needs PyTorch for $PY (Debian package python3-torch)"; exit 1; }
model="$tmp/resnet18.onnx"
"$PY" bench/torch_resnet18.py --onnx "$model" 2>/dev/null
go build -o "$tmp/initscope" ./cmd/initscope

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $(du -h "$model" | cut -f1) ONNX, PyTorch $("$PY" -c 'import torch; print(torch.__version__)')"

INITSCOPE_AUDIT_MODEL="$model" go test ./audit/ -run '^$' -bench BenchmarkAuditModel -benchtime 3x -count "$REPS" | tee "$tmp/go.txt"
for sub in read fit+predict forward; do
	s=$(grep "BenchmarkAuditModel/$sub-" "$tmp/go.txt" | awk '{print $3 / 1e9}' | median)
	echo "initscope $sub: median $s s"
	eval "go_${sub//[^a-z]/_}=$s"
done
best=""
for threads in 1 2; do
	s=$("$PY" bench/torch_resnet18.py --time "$REPS" --threads "$threads" |
		"$PY" -c 'import json, statistics, sys; print(statistics.median(json.load(sys.stdin)["seconds"]))')
	echo "PyTorch forward, $threads threads: median $s s"
	if [ -z "$best" ] || awk "BEGIN {exit !($s < $best)}"; then best=$s; fi
done
echo "forward ratio initscope/PyTorch (best threads): $(awk "BEGIN {printf \"%.2f\", $go_forward / $best}")"
echo "read + fit + predict: $(awk "BEGIN {printf \"%.3f\", $go_read + $go_fit_predict}") s (target < 2 s); forward $go_forward s (target < 0.5 s)"

for _ in $(seq "$REPS"); do
	/usr/bin/time -f %e -o "$tmp/t" "$tmp/initscope" audit "$model" --input gaussian >/dev/null
	cat "$tmp/t"
done | median | xargs echo "whole command initscope audit resnet18.onnx --input gaussian: median s"
