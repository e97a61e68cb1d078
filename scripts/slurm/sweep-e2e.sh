#!/usr/bin/env bash
# sweep-e2e.sh: end-to-end test of initscope's Slurm path on a throwaway
# one-node Slurm cluster (run-local-slurm.sh).
#
# A driver job plays the user on a login node: it runs
# `initscope sweep slurm --submit` for two sweeps (the tiny user sweep of
# testdata/tiny-sweep.yaml, and Figure 3 of `initscope reproduce` at its tiny
# scale, which is two sweeps), so each becomes a job array whose tasks run
# `initscope sweep run` on one shard each; the driver waits for the arrays and
# checks that every array task COMPLETED. Then this script runs
# `initscope sweep collect` on both results directories and checks that
# results.csv has every task of the grid, all done, and that Figure 3's
# report, CSVs and plots are there.
#
# Usage (as root): scripts/slurm/sweep-e2e.sh [WORKDIR]
#   WORKDIR keeps the binary, the sweeps, the results and the logs (default: a
#   fresh directory under /tmp, kept). Needs Go and the Debian packages
#   slurm-wlm and munge (see run-local-slurm.sh). Takes about a minute.
# Exit status: 0 if everything checked out, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${1:-$(mktemp -d /tmp/sweep-e2e.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
export PATH=$PATH:/usr/local/go/bin

fail() {
	echo "sweep-e2e: FAILED: $*" >&2
	exit 1
}

echo "== building initscope into $work"
(cd "$repo" && go build -o "$work/initscope" ./cmd/initscope)
bin=$work/initscope
tiny_sweep=$repo/scripts/slurm/testdata/tiny-sweep.yaml
"$bin" reproduce fig3 --tiny --plan --out "$work/fig3"

# The driver job submits the arrays with `sweep slurm --submit` and waits for
# them. It holds one of the node's CPUs; the array tasks ask for the other.
cat >"$work/driver.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=sweep-e2e-driver
#SBATCH --cpus-per-task=1
#SBATCH --output=$work/driver.out
set -euo pipefail
ids=()
submit() {
	local out
	out=\$("$bin" sweep slurm --submit --cpus 1 --array-max 4 "\$@")
	echo "\$out"
	ids+=("\$(sed -n 's/^submitted job \([0-9]*\).*/\1/p' <<<"\$out")")
}
submit --out "$work/tiny" "$tiny_sweep"
for f in "$work"/fig3/sweeps/*.json; do
	submit --out "$work/fig3" "\$f"
done
joined=\$(IFS=,; echo "\${ids[*]}")
echo "== waiting for jobs \$joined"
while [[ -n \$(squeue -h -j "\$joined" -o %i 2>/dev/null) ]]; do
	sleep 1
done
bad=0
for id in "\${ids[@]}"; do
	while read -r line; do
		task=\$(grep -oP 'ArrayTaskId=\K\S+' <<<"\$line" || true)
		state=\$(grep -oP 'JobState=\K\S+' <<<"\$line")
		code=\$(grep -oP ' ExitCode=\K\S+' <<<"\$line")
		echo "array job \$id task \$task: \$state, exit code \$code"
		[[ \$state == COMPLETED ]] || bad=\$((bad + 1))
	done < <(scontrol -o show job "\$id")
done
echo "== last lines of the array tasks' logs"
for log in "$work"/tiny/logs/*.out "$work"/fig3/logs/*.out; do
	echo "-- \$log"
	tail -n 2 "\$log"
done
((bad == 0)) || { echo "\$bad array tasks did not complete"; exit 1; }
EOF

echo "== running the driver job on a local one-node Slurm"
SLURM_LOCAL_TIMEOUT=${SLURM_LOCAL_TIMEOUT:-900} "$here/run-local-slurm.sh" "$work/driver.sbatch" ||
	fail "the driver job or an array task failed (see $work/driver.out and the logs in $work/*/logs)"

echo "== collecting"
"$bin" sweep collect "$work/tiny" | tee "$work/tiny.collect"
"$bin" sweep collect "$work/fig3" | tee "$work/fig3.collect"

echo "== checking"
# Every task of each grid is in results.csv, done.
check_csv() {
	local dir=$1 collect=$2
	local tasks
	tasks=$(sed -n 's/.*: \([0-9]*\) tasks: .*/\1/p' "$collect" | head -n 1)
	grep -q ": $tasks tasks: $tasks done, 0 failed, 0 never run" "$collect" || fail "$dir: not every task is done: $(head -n 1 "$collect")"
	local rows
	rows=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") s = i; next } $s == "done" { n++ } END { print n + 0 }' "$dir/results.csv")
	[[ $rows == "$tasks" ]] || fail "$dir/results.csv: $rows tasks done, want $tasks"
	local shards
	shards=$(find "$dir" -maxdepth 1 -name 'shard-*-of-*.jsonl' | wc -l)
	echo "ok: $dir: $tasks tasks, all done, from $shards shard files"
}
check_csv "$work/tiny" "$work/tiny.collect"
check_csv "$work/fig3" "$work/fig3.collect"
for f in report.html claims.json fig3_length.csv fig3_epochs.csv fig3a_length_relu.png fig3a_length_relu.svg \
	fig3a_length_linear.png fig3a_length_linear.svg fig3b_epochs.png fig3b_epochs.svg; do
	[[ -s $work/fig3/$f ]] || fail "$work/fig3/$f is missing or empty"
done
for s in 'Figure 3(a)' 'Figure 3(b)' 'data:image/png;base64,'; do
	grep -qF "$s" "$work/fig3/report.html" || fail "report.html lacks '$s'"
done
echo "ok: $work/fig3: report.html (both sections, plots embedded), CSVs, PNG and SVG plots"
echo "sweep-e2e: PASSED (results in $work)"
