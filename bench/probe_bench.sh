#!/usr/bin/env bash
# Speed of `initscope probe --method network` against PyTorch sampling exactly
# the same thing (bench/torch_probe.py: He-normal float32 networks, input all
# ones, input and tangent pushed together, same sample counts), in one run.
# For each workload PyTorch is first calibrated on a tenth of the samples over
# 1 and 2 threads, one sample at a time or batched (torch.bmm / grouped conv,
# 8 or 32 samples per step); its best configuration is then timed against
# initscope (2 workers, BLAS at 1 thread each), REPS times alternately, and the
# medians and their ratio printed. initscope's time is the whole process (start,
# theory, sampling, statistics, JSON); PyTorch's is its sampling loop only.
# CPU seconds (all threads) are printed beside the wall-clock seconds: on a
# machine shared with other jobs they show the work each side does, which
# the wall clock, at the mercy of the other jobs, does not.
# Last, the exact sampler against the network sampler, per sample on one
# goroutine (go test -bench Samplers ./probe/).
#
# usage: bash bench/probe_bench.sh        (REPS=5 for more repetitions)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
REPS=${REPS:-3}
PY=/usr/bin/python3 # Debian's python3-torch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/initscope" ./cmd/initscope
"$PY" -c 'import torch' || { echo "needs PyTorch for $PY (Debian package python3-torch)"; exit 1; }

workloads=(
	"fc:784-256x50-10 2000"
	"fc:784-1000x20-10 200"
	"net:1x28x28,conv16k3x3,maxpool2,conv32k3x3,gap,dense10 500"
)

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
field() { "$PY" -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
now() { date +%s.%N; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "initscope backend: $("$tmp/initscope" probe --arch fc:4-2 --init he-normal --samples 2 --method network --input ones --format json | field 'd["backend"]')"
echo "PyTorch: $("$PY" -c 'import torch; print(torch.__version__)')"
echo

summary=()
for w in "${workloads[@]}"; do
	read -r arch n <<<"$w"
	echo "== $arch, $n samples"
	cal=$((n / 10))
	best="" bestt=""
	for threads in 1 2; do
		for mode in "loop" "batch 8" "batch 32"; do
			set -- $mode
			args=(--arch "$arch" --samples "$cal" --threads "$threads" --mode "$1")
			[ $# -gt 1 ] && args+=(--batch "$2")
			t=$("$PY" bench/torch_probe.py "${args[@]}" | field 'd["seconds"]')
			echo "  calibrate PyTorch, $cal samples: threads $threads, $mode: $t s"
			if [ -z "$bestt" ] || awk "BEGIN {exit !($t < $bestt)}"; then
				best="${args[*]:4}" bestt=$t
			fi
		done
	done
	echo "  PyTorch's best: $best"
	ours=() theirs=() ourcpu=() theircpu=()
	for r in $(seq "$REPS"); do
		t0=$(now)
		/usr/bin/time -f "%U %S" -o "$tmp/cpu" "$tmp/initscope" probe --arch "$arch" --init he-normal --samples "$n" --method network --input ones --workers 2 --format json >"$tmp/ours.json"
		t1=$(now)
		ours+=("$(awk "BEGIN {print $t1 - $t0}")")
		ourcpu+=("$(awk '{print $1 + $2}' "$tmp/cpu")")
		# shellcheck disable=SC2086
		"$PY" bench/torch_probe.py --arch "$arch" --samples "$n" $best >"$tmp/theirs.json"
		theirs+=("$(field 'd["seconds"]' <"$tmp/theirs.json")")
		theircpu+=("$(field 'd["cpu_seconds"]' <"$tmp/theirs.json")")
		echo "  rep $r: initscope ${ours[-1]} s (CPU ${ourcpu[-1]} s), PyTorch ${theirs[-1]} s (CPU ${theircpu[-1]} s)"
	done
	mo=$(printf '%s\n' "${ours[@]}" | median)
	mt=$(printf '%s\n' "${theirs[@]}" | median)
	co=$(printf '%s\n' "${ourcpu[@]}" | median)
	ct=$(printf '%s\n' "${theircpu[@]}" | median)
	ratio=$(awk "BEGIN {printf \"%.3f\", $mo / $mt}")
	cratio=$(awk "BEGIN {printf \"%.3f\", $co / $ct}")
	echo "  same law? ln(M_d/M_0): initscope $(field '"%.3f +- %.3f" % (d["layers"][-1]["log_mean"], d["layers"][-1]["log_mean_se"])' <"$tmp/ours.json"), PyTorch $(field '"%.3f +- %.3f" % (d["log_mean_last"], d["log_mean_last_se"])' <"$tmp/theirs.json")"
	echo "  median: initscope $mo s, PyTorch $mt s ($best): ratio initscope/PyTorch = $ratio; CPU seconds $co and $ct, ratio $cratio"
	summary+=("$(printf '%-58s %6d %10.2f %10.2f %8s %9.2f %9.2f %8s  %s' "$arch" "$n" "$mo" "$mt" "$ratio" "$co" "$ct" "$cratio" "$best")")
	echo
done

echo "== exact sampler against network sampler, one goroutine, ns per sample"
go test -run XXX -bench Samplers -benchtime 2s ./probe/ | tee "$tmp/bench.txt" | grep Benchmark
speedups=$(awk '/Samplers\/width=/ {split($1, a, "/"); w = a[2]; m = a[3]; sub(/-[0-9]+$/, "", m); ns[w, m] = $3; ws[w] = 1}
	END {for (w in ws) printf "  %s: exact %s ns, network %s ns, exact is %.0fx faster\n", w, ns[w, "exact"], ns[w, "network"], ns[w, "network"] / ns[w, "exact"]}' "$tmp/bench.txt" | sort)
echo "$speedups"
echo

echo "== summary (medians of $REPS; seconds)"
printf '%-58s %6s %10s %10s %8s %9s %9s %8s  %s\n' "workload" "samples" "initscope" "PyTorch" "ratio" "CPU ours" "CPU torch" "ratio" "PyTorch config"
printf '%s\n' "${summary[@]}"
echo "$speedups"
