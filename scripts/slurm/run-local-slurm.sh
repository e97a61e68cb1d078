#!/usr/bin/env bash
# run-local-slurm.sh: submit an sbatch script to a throwaway one-node Slurm
# cluster on this machine, wait for it (job arrays included), print every
# task's output, and tear the cluster down.
#
# Usage (as root):
#   scripts/slurm/run-local-slurm.sh JOB.sbatch [SBATCH_OPTION...]
#
# The job is submitted from the current directory, so relative paths in the
# script (a sweep file, --out DIR, --output=...) mean what they mean here.
# Exit status: 0 if every task of the job COMPLETED, 1 otherwise, 2 on a usage
# error.
#
# Needs the Debian packages (this script installs nothing):
#   apt-get update && apt-get install -y slurm-wlm munge
#
# Environment:
#   SLURM_LOCAL_STATE    state directory: slurm.conf, munge key and socket,
#                        daemon logs, spool, state. Default: a fresh temporary
#                        directory, removed at exit. A given one is kept, and
#                        reused (its munge key too).
#   SLURM_LOCAL_TIMEOUT  seconds to wait for the job (default 600); on
#                        timeout the job is cancelled and the exit status is 1.
#   SLURM_LOCAL_PORT     slurmctld port (default 6817); slurmd uses the next.
#
# Everything lives in the state directory: the daemons are started with
# explicit config, pid, log and socket paths, and clients find the config
# through SLURM_CONF, so nothing in /etc is read or written and a system Slurm
# or munge, if any, is left alone (as long as the ports are free).
#
# Things that needed care:
# - Containers and VMs without systemd often lack a usable cgroup hierarchy
#   (here: cgroup v1 controllers plus an empty v2 mount, no delegation). So
#   the config avoids every cgroup plugin: ProctrackType=proctrack/linuxproc
#   (tracks job processes through /proc), TaskPlugin=task/none,
#   JobAcctGatherType=jobacct_gather/none. It is then not a cluster for
#   enforcing limits: --mem and --time are checked against the node but not
#   enforced by the kernel.
# - The node line gives only CPUs=`nproc` and RealMemory (MemTotal minus a
#   margin); SlurmdParameters=config_overrides keeps slurmd from draining the
#   node when its detected sockets/cores/threads differ from that.
# - SelectTypeParameters=CR_CPU: CPUs are the only consumable, so array tasks
#   that give no --mem still run side by side (with CR_*_Memory and no
#   DefMemPerCPU each job would take the node's whole memory).
# - SlurmctldHost and NodeAddr are pinned to 127.0.0.1: no DNS needed.
# - munged runs as root with its own key and socket in the state directory,
#   and slurm.conf points Slurm at that socket (AuthInfo=socket=...). munged
#   refuses a key or socket directory that others can write, and warns unless
#   every user can reach the socket: the directories are made 0711.
# - slurmd loads every MPI plugin at start and logs errors for PMIx, which
#   Debian's build cannot load here; harmless with MpiDefault=none.
# - There is no accounting database (slurmdbd), so sacct does not work: the
#   job is followed with squeue and its tasks' states and exit codes are read
#   with `scontrol show job`, which keeps finished jobs for MinJobAge seconds.
set -euo pipefail

usage() {
	echo "usage: $0 JOB.sbatch [SBATCH_OPTION...]  (as root; see the header for the environment)" >&2
	exit 2
}
[[ $# -ge 1 ]] || usage
job_script=$1
shift
[[ -r $job_script ]] || { echo "$0: cannot read the sbatch script $job_script" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "$0: run as root: slurmd must be able to start jobs as any user" >&2; exit 2; }
for cmd in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
	command -v "$cmd" >/dev/null || {
		echo "$0: $cmd not found: apt-get update && apt-get install -y slurm-wlm munge" >&2
		exit 2
	}
done

timeout_s=${SLURM_LOCAL_TIMEOUT:-600}
port=${SLURM_LOCAL_PORT:-6817}
if [[ -n ${SLURM_LOCAL_STATE:-} ]]; then
	state=$(realpath -m "$SLURM_LOCAL_STATE")
	mkdir -p "$state"
	keep_state=1
else
	state=$(mktemp -d /tmp/slurm-local.XXXXXX)
	keep_state=0
fi

pids=()
cleanup() {
	local status=$?
	# Cancel what is still queued or running (this private cluster holds only
	# our jobs) and let slurmd reap it: slurmstepd outlives a stopped slurmd.
	if [[ -n ${SLURM_CONF:-} ]]; then
		local left
		left=$(squeue -h -o '%A' 2>/dev/null | sort -u || true)
		if [[ -n $left ]]; then
			# shellcheck disable=SC2086 # one word per job id
			scancel $left 2>/dev/null || true
			for _ in $(seq 60); do
				[[ -z $(squeue -h -o '%A' 2>/dev/null) ]] && break
				sleep 0.5
			done
		fi
	fi
	# Stop only the daemons this script started, newest first.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	if ((keep_state)); then
		echo "== state, config and daemon logs kept in $state" >&2
	else
		rm -rf "$state"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "$0: $*" >&2
	for log in "$state"/log/*.log; do
		[[ -s $log ]] || continue
		echo "== last lines of $log" >&2
		tail -n 12 "$log" >&2
	done
	exit 1
}

mkdir -p "$state"/{munge,log,ctld,spool}
# munged wants its socket directory searchable by all (clients of any user),
# and nothing in it writable by others.
chmod 711 "$state" "$state/munge"

# --- munge -------------------------------------------------------------------
key=$state/munge/munge.key
if [[ ! -s $key ]]; then
	mungekey --create --keyfile="$key" --force
fi
chmod 600 "$key"
socket=$state/munge/munge.socket
munged --foreground --force --key-file="$key" --socket="$socket" \
	--pid-file="$state/munge/munged.pid" --seed-file="$state/munge/munged.seed" \
	--log-file="$state/log/munged.log" 2>"$state/log/munged.stderr.log" &
pids+=($!)
for _ in $(seq 50); do
	[[ -S $socket ]] && break
	sleep 0.1
done
[[ -S $socket ]] || die "munged did not start"

# --- slurm.conf --------------------------------------------------------------
node=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
# Leave 10% (at least 512 MiB) for the system: a node claiming more memory
# than slurmd finds is drained.
margin=$((mem_mb / 10 > 512 ? mem_mb / 10 : 512))
real_mem=$((mem_mb - margin))
conf=$state/slurm.conf
cat >"$conf" <<EOF
# Generated by $(basename "$0") for a one-node test cluster.
ClusterName=local
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SlurmdParameters=config_overrides
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf

# --- daemons -----------------------------------------------------------------
# -D: stay in the foreground (we background them and own their pids);
# -c: cold start, forgetting jobs from an earlier run of a reused state dir.
# Their stderr repeats the log files, but also says why a daemon died before
# opening its log.
slurmctld -D -c -f "$conf" 2>"$state/log/slurmctld.stderr.log" &
pids+=($!)
slurmd -D -f "$conf" -N "$node" 2>"$state/log/slurmd.stderr.log" &
pids+=($!)

echo "== waiting for node $node (CPUs=$cpus RealMemory=${real_mem}M) to be idle" >&2
node_state=
for _ in $(seq 120); do
	node_state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null || true)
	[[ $node_state == idle ]] && break
	sleep 0.5
done
[[ $node_state == idle ]] || die "node $node is '${node_state:-unknown}', not idle, after 60 s"
sinfo >&2

# --- the job -----------------------------------------------------------------
submitted=$(sbatch --parsable "$@" "$job_script") || die "sbatch $job_script failed"
job=${submitted%%;*}
echo "== submitted $job_script as job $job" >&2

deadline=$((SECONDS + timeout_s))
while [[ -n $(squeue -h -j "$job" -o '%i' 2>/dev/null) ]]; do
	if ((SECONDS > deadline)); then
		scancel "$job" || true
		die "job $job still queued or running after ${timeout_s}s: cancelled"
	fi
	sleep 1
done

# One record per array task (or one for a plain job): print its state, exit
# code and output.
failed=0
tasks=0
while read -r line; do
	[[ -n $line ]] || continue
	field() { grep -oP "(^| )$1=\K\S*" <<<"$line" || true; }
	task=$(field ArrayTaskId)
	jstate=$(field JobState)
	code=$(field ExitCode)
	out=$(field StdOut)
	tasks=$((tasks + 1))
	echo "== job $job${task:+ array task $task}: $jstate, exit code $code, output $out"
	if [[ -r $out ]]; then
		cat "$out"
	fi
	[[ $jstate == COMPLETED ]] || failed=$((failed + 1))
done < <(scontrol -o show job "$job" |
	awk '{ n = match($0, /ArrayTaskId=[0-9]+/) ? substr($0, RSTART + 12, RLENGTH - 12) : 0; print n "\t" $0 }' |
	sort -n -k1,1 | cut -f2-)
((tasks > 0)) || die "scontrol knows no job $job"
echo "== $((tasks - failed)) of $tasks tasks completed"
((failed == 0))
