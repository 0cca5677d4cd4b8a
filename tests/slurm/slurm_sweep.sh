#!/usr/bin/env bash
# The slurm executor on a real one-node cluster (slurmctld + slurmd + munged on
# localhost): a sweep of 2 strategies x 2 seeds submitted as a job array, one task
# cancelled while pending, the status read from the queue and the run folders, the
# re-submission running only the cancelled trial, every result collected.
#   slurm_sweep.sh BUILD_DIR
# Exit 77 (skipped) only where the daemons cannot start; the reason is printed.
set -euo pipefail
build="$(cd "$1" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nasx="$build/bin/nasx"
work="$(mktemp -d "${TMPDIR:-/tmp}/nasx-slurm.XXXXXX")"
cleanup() {
  local status=$?
  "$here/local_cluster.sh" stop "$work/cluster"
  if [[ $status -eq 0 || $status -eq 77 ]]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
chmod 755 "$work"  # the daemons run as the slurm user and write below it
fail() { echo "FAIL: $*" >&2; exit 1; }

start_status=0
cluster="$("$here/local_cluster.sh" start "$work/cluster")" || start_status=$?
if [[ $start_status -eq 77 ]]; then
  echo "SKIPPED: the one-node SLURM cluster cannot start here (reason above)"
  exit 77
fi
[[ $start_status -eq 0 ]] || fail "local_cluster.sh start exited $start_status"
eval "$cluster"
echo "cluster up: $(sinfo --noheader --format='%P %t %c CPUs on %n')"

cd "$work"
cat > base.toml <<TOML
[experiment]
name = "slurm"
seed = 0
threads = 1
output_dir = "$work/runs"

[data]
name = "synthetic"
synthetic_train = 256
synthetic_test = 64
synthetic_image_size = 8
synthetic_classes = 4
batch_size = 32

[space]
name = "nb201"
channels = 4
layers = 1

[search]
strategy = "darts"
epochs = 1
TOML
# Each task asks for every CPU, so the tasks run one after another and the last one is
# still pending when it is cancelled.
cat > sweep.toml <<TOML
[sweep]
name = "s"
base = "base.toml"
seeds = [0, 1]

[grid]
"search.strategy" = ["darts", "milenas"]

[slurm]
cpus = $(nproc)
time = "00:10:00"
mem = "512M"
extra = ["--comment=nasx-slurm-test"]
TOML

submitted="$("$nasx" sweep sweep.toml --executor slurm)" || fail "submission: $submitted"
echo "$submitted"
job="$(sed -n 's/^submitted 4 trials as job array \([0-9]*\) .*/\1/p' <<< "$submitted")"
[[ -n $job ]] || fail "no job array of 4 trials submitted"
scancel "${job}_3"
script="$(ls runs/s/slurm/array-*.sh)"
for line in "--array=0-3" "--cpus-per-task=$(nproc)" "--time=00:10:00" "--mem=512M" \
  "--comment=nasx-slurm-test" "--job-name=nasx-s"; do
  grep -q -- "^#SBATCH $line\$" "$script" || fail "the script lacks #SBATCH $line"
done
early="$("$nasx" sweep status runs/s)"
echo "$early"
grep -q "queued (job ${job}_" <<< "$early" || fail "no trial shown queued right after submission"

wait_for_queue() {  # until none of the sweep's jobs is pending or running
  for _ in $(seq 600); do
    [[ -z "$(squeue --noheader --name=nasx-s)" ]] && return 0
    sleep 0.5
  done
  squeue
  fail "the sweep's jobs did not leave the queue in 5 minutes"
}
wait_for_queue
after="$("$nasx" sweep status runs/s)"
echo "$after"
grep -q "^4 trials: 3 done 1 failed$" <<< "$after" || fail "expected 3 done, 1 failed"
grep -q "^003_strategy-milenas_seed1 .*failed (job ${job}_3 left the queue without starting" \
  <<< "$after" || fail "the cancelled task is not reported as such"

again="$("$nasx" sweep sweep.toml --executor slurm)" || fail "re-submission: $again"
echo "$again"
grep -q "4 trials, 3 already done, 0 still in the queue, 1 to submit" <<< "$again" ||
  fail "the re-submission does not skip the done trials"
grep -q "^submitted 1 trials as job array" <<< "$again" || fail "the cancelled trial was not resubmitted"
wait_for_queue
final="$("$nasx" sweep status runs/s)"
echo "$final"
grep -q "^4 trials: 4 done$" <<< "$final" || fail "not every trial is done"

for trial in runs/s/0*; do
  [[ -s $trial/summary.json && -s $trial/genotype.txt ]] || fail "$trial has no result"
  grep -q '"status": "done", "executor": "slurm", "job": "[0-9]*_[0-9]*"' "$trial/trial.json" ||
    fail "$trial/trial.json does not record its slurm task: $(cat "$trial/trial.json")"
  job_of_trial="$(sed -n 's/.*"job": "\([0-9_]*\)".*/\1/p' "$trial/trial.json")"
  [[ -f runs/s/slurm/$job_of_trial.out ]] || fail "no output file of task $job_of_trial"
done
# Each done trial ran once: the first three in the first array, the last in the second.
[[ $(grep -l "\"job\": \"${job}_" runs/s/0*/trial.json | wc -l) -eq 3 ]] || fail "first array"

nothing="$("$nasx" sweep sweep.toml --executor slurm)"
grep -q "4 already done, 0 still in the queue, 0 to submit" <<< "$nothing" ||
  fail "a finished sweep was submitted again: $nothing"

collected="$("$nasx" sweep collect runs/s)"
echo "$collected"
grep -q "mean ± std" <<< "$collected" || fail "collect printed no mean ± std"
[[ $(grep -c "done" runs/s/collect.csv) -eq 4 ]] || fail "collect.csv lacks a done trial"
if [[ ${NASX_HAS_GLOO:-ON} == OFF ]]; then
  echo "PASS: 4 trials through sbatch on a one-node cluster (no 2-rank search: this nasx is built without Gloo)"
  exit 0
fi
# A data-parallel search under srun: the ranks come from SLURM_PROCID / SLURM_NTASKS,
# the rendezvous from MASTER_ADDR / MASTER_PORT, as in a multi-node allocation.
port=$((20000 + RANDOM % 20000))
ranked="$(MASTER_ADDR=127.0.0.1 MASTER_PORT=$port srun --ntasks=2 --cpus-per-task=1 \
  "$nasx" run base.toml --out "$work/srun-dp" 2>&1)" || fail "srun -n 2 nasx run: $ranked"
echo "$ranked" | head -3
grep -Eq ", 2 ranks \((shared memory|Gloo)\)$" <<< "$ranked" && grep -q "^run folder: $work/srun-dp" <<< "$ranked" || fail "the run did not see 2 ranks"
[[ $(grep -c "found genotype" <<< "$ranked") -eq 1 ]] || fail "more than rank 0 printed the answer"
[[ -s $work/srun-dp/summary.json ]] || fail "the srun data-parallel run left no summary"
echo "PASS: 4 trials through sbatch on a one-node cluster; a 2-rank search under srun"
