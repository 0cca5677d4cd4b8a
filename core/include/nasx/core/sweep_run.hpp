#pragma once
/// Running a sweep's trials and reading their results back.

#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nasx/core/sweep.hpp"

namespace nasx::core {

/// Runs every trial that is not done, `jobs` at a time, each in its own `nasx` process
/// (`nasx_binary`) with its output in <trial>/log.txt; finished trials are skipped,
/// started ones resumed. A trial that exits non-zero or is killed is recorded as failed
/// in <trial>/trial.json (exit status, log tail) while the others go on. Returns the
/// number of failed trials.
int run_sweep_local(const Sweep& sweep, const std::string& nasx_binary, int jobs,
                    const std::vector<std::string>& plugin_paths, std::ostream& out);

/// Where a trial process runs, as its trial.json records it.
struct TrialLaunch {
  std::string executor = "local";
  std::string job;   ///< slurm: "<array job id>_<task id>"
  std::string host;  ///< slurm: the node
};

/// Runs the one trial `trial_name` (unless it is done) as a child `nasx` process, as
/// run_sweep_local does for each: what a SLURM array task executes. Returns 1 when it
/// failed, 0 otherwise; throws ConfigError for a name the sweep does not have.
int run_sweep_trial(const Sweep& sweep, const std::string& trial_name,
                    const std::string& nasx_binary, const std::vector<std::string>& plugin_paths,
                    const TrialLaunch& launch, std::ostream& out);

/// The sbatch script that runs `trials` as one job array: the [slurm] options as
/// #SBATCH lines, output to <sweep>/slurm/%A_%a.out, each task
/// `nasx sweep SWEEP --trial NAME` (paths absolute, working folder = `workdir`).
std::string slurm_array_script(const Sweep& sweep, const std::vector<const SweepTrial*>& trials,
                               const std::string& nasx_binary,
                               const std::vector<std::string>& plugin_paths,
                               const std::filesystem::path& workdir);

/// The SLURM job name of a sweep's arrays: nasx-<sweep name>.
std::string slurm_job_name(const Sweep& sweep);

/// `nasx sweep --executor slurm`: submits every trial that is neither done nor still in
/// the queue as one job array (sbatch), and records the job in <trial>/slurm.json.
/// Returns the number of trials submitted. Throws Error when sbatch is missing or fails
/// (its message included); nothing is recorded then.
int submit_sweep_slurm(const Sweep& sweep, const std::string& nasx_binary,
                       const std::vector<std::string>& plugin_paths, std::ostream& out);

/// Array tasks in the queue and their state: "123_4" -> "PENDING", "RUNNING", ...
using QueueStates = std::map<std::string, std::string>;

/// The queue's jobs named `job_name`, one per array task (squeue). nullopt when squeue
/// cannot be run or fails.
std::optional<QueueStates> slurm_queue(const std::string& job_name);

/// A finished job's state from SLURM's accounting (sacct), e.g. "TIMEOUT", "CANCELLED";
/// nullopt where accounting is not configured (the default of a small cluster).
std::optional<std::string> slurm_accounting_state(const std::string& job);

/// One trial's row: its state and what its run folder reports.
struct TrialRow {
  std::string name;
  std::string setting;              ///< the axis values, seed excluded
  std::vector<std::string> values;  ///< per axis, TOML
  long long seed = 0;
  std::string status;  ///< pending, running, done, failed, interrupted (slurm: queued, ...)
  std::string genotype;
  double search_acc = -1;  ///< valid_acc (gradient) or best_acc (sampling); -1: none
  double test_acc = -1;    ///< trained_test_acc, else the supernet's/shared test accuracy
  std::string test_kind;   ///< "trained", "supernet", "shared", "table" or ""
  double seconds = -1;     ///< search (+ training) wall time
  /// The evaluations' cost (a table's simulated training seconds, or measured ones) that
  /// sampling strategies spend against [evaluator] budget_seconds.
  double evaluation_seconds = -1;
  /// With [sweep] truth: the answer's accuracy in the ground-truth table (mean over its
  /// seeds) and its rank there (1: the best; ties share the better rank); -1: none.
  double true_acc = -1;
  double true_rank = -1;
  std::string detail;  ///< failure: exit status
};

/// The rows of a sweep folder (written by `nasx sweep`), in trial order.
std::vector<TrialRow> read_sweep_rows(const std::filesystem::path& sweep_dir,
                                      std::vector<std::string>* axes = nullptr);

/// Whether any row was judged by a ground-truth table ([sweep] truth).
bool judged_by_truth(const std::vector<TrialRow>& rows);

/// `nasx sweep collect`: the aligned table (with mean ± std over seeds per setting) to
/// `out`; collect.csv and collect.json into the sweep folder.
void collect_sweep(const std::filesystem::path& sweep_dir, std::ostream& out);

}  // namespace nasx::core
