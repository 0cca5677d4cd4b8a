#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the slurm executor's test. Needs root,
# slurm-wlm and munge.
#
#   local_cluster.sh start DIR   writes DIR/slurm.conf, starts munged (if not running),
#                                slurmctld and slurmd; prints `export SLURM_CONF=...`
#   local_cluster.sh stop DIR    stops what start started
#
# Exit status 77 from start: the cluster cannot run here (no root, no packages, a
# daemon that does not come up); the reason is on stderr.
set -uo pipefail
action="$1"
dir="$(mkdir -p "$2" && cd "$2" && pwd)"
cannot() { echo "local_cluster: $*" >&2; exit 77; }

stop() {  # TERM, then KILL what is still there after 10 s (slurmd can hang on exit)
  local pids=()
  for daemon in slurmd slurmctld; do
    [[ -f "$dir/$daemon.pid" ]] && pids+=("$(cat "$dir/$daemon.pid")")
  done
  [[ -f "$dir/munged.started" && -f /run/munge/munged.pid ]] && pids+=("$(cat /run/munge/munged.pid)")
  rm -f "$dir/munged.started"
  ((${#pids[@]})) || return 0
  kill "${pids[@]}" 2>/dev/null
  for _ in $(seq 100); do
    kill -0 "${pids[@]}" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "${pids[@]}" 2>/dev/null
  return 0
}

if [[ $action == stop ]]; then stop; exit 0; fi
[[ $action == start ]] || { echo "usage: local_cluster.sh start|stop DIR" >&2; exit 2; }

[[ $(id -u) -eq 0 ]] || cannot "needs root to run slurmd and munged"
for tool in slurmctld slurmd sbatch squeue sinfo munge unmunge; do
  command -v "$tool" > /dev/null || cannot "$tool is not installed (apt-get install slurm-wlm munge; tools/setup --tests does)"
done
[[ -x /usr/sbin/munged ]] || cannot "munged is not installed (apt-get install munge)"
id slurm > /dev/null 2>&1 || cannot "no slurm user (slurm-wlm's install makes it)"

if ! munge -n 2>/dev/null | unmunge > /dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge
  runuser -u munge -- /usr/sbin/munged || cannot "munged does not start"
  touch "$dir/munged.started"
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge > /dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge > /dev/null 2>&1 || cannot "munge does not answer (munge -n | unmunge)"
fi

host="$(hostname -s)"
cpus="$(nproc)"
memory_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
# Ports away from the defaults, so that a real cluster on this machine is not disturbed.
port=$((20000 + RANDOM % 20000))
chmod 755 "$dir"
mkdir -p "$dir/state" "$dir/spool"
chown slurm:slurm "$dir/state"
runuser -u slurm -- test -w "$dir/state" ||
  cannot "the slurm user cannot write $dir/state: make its parent folders readable (chmod 755)"
cat > "$dir/slurm.conf" <<CONF
ClusterName=nasxtest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=nasx Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
touch "$dir/slurmctld.log" && chown slurm:slurm "$dir/slurmctld.log"
export SLURM_CONF="$dir/slurm.conf"
slurmctld -c > "$dir/slurmctld.out" 2>&1 || { stop; cannot "slurmctld does not start: $(tail -3 "$dir/slurmctld.log")"; }
slurmd > "$dir/slurmd.out" 2>&1 || { stop; cannot "slurmd does not start: $(tail -3 "$dir/slurmd.log")"; }
node_state() { timeout 5 sinfo --noheader --format=%t 2>&1; }
deadline=$((SECONDS + 30))
while [[ "$(node_state)" != idle && $SECONDS -lt $deadline ]]; do sleep 0.5; done
if [[ "$(node_state)" != idle ]]; then
  state="$(node_state)"
  stop
  cannot "the node does not become idle in 30 s (sinfo: $state); slurmctld.log ends:
$(tail -n 5 "$dir/slurmctld.log"); slurmd.log ends:
$(tail -n 5 "$dir/slurmd.log" 2>/dev/null)"
fi
echo "export SLURM_CONF=$dir/slurm.conf"
