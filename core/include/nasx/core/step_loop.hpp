#pragma once
/// The host's one loop. A search's steps, a selection's steps and a training's epochs
/// all run through run_steps(): it times each step, checks its metrics, logs and shows
/// it, checkpoints after it (with the sizes of the logs, so a resume cuts them back to
/// the checkpoint), and stops cleanly at a step boundary on request. A job says only
/// what one step does, what else belongs to a finished step, and how its checkpoint is
/// written.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nasx/core/checkpoint.hpp"
#include "nasx/json.hpp"

namespace nasx::core {

class JsonlLog;
class Progress;

/// One kind of work the loop runs: a strategy's search, a selector's tuning, a trainer.
class StepJob {
 public:
  virtual ~StepJob() = default;

  virtual int64_t total_steps() const = 0;
  /// Does step `step` and returns its metrics. Throws StopRequested when the person
  /// asked to stop (the step's work is then discarded).
  virtual std::map<std::string, double> run_step(int64_t step) = 0;
  /// Throws NonFiniteError naming the metric when one is NaN or infinite.
  virtual void check(int64_t step, const std::map<std::string, double>& metrics) const = 0;
  /// Called with the checked metrics: adds what the host measures after a step
  /// (validation) and returns whether to go on (false: the job ends early, after this
  /// step's checkpoint).
  virtual bool finish_step(int64_t step, std::map<std::string, double>& metrics) = 0;
  /// After the step's record is logged: what else belongs to the step in the logs.
  virtual void log_step(int64_t step, const std::map<std::string, double>& metrics,
                        bool keep_going) {
    (void)step, (void)metrics, (void)keep_going;
  }
  /// Writes the checkpoint after a step; `state` is what the loop keeps.
  virtual void save_checkpoint(const HostState& state) = 0;
};

/// How the loop logs and shows a job's steps.
struct StepLog {
  std::string noun = "step";  ///< progress lines: "step 3/8", "epoch 3/8"
  JsonlLog* log = nullptr;    ///< one record per step goes here
  /// The record of a finished step (its metrics as finish_step left them).
  std::function<Json(int64_t step, const std::map<std::string, double>& metrics, double seconds)>
      record;
  /// Logs whose durable size the checkpoint records, and where in HostState.
  std::vector<std::pair<JsonlLog*, int64_t HostState::*>> synced;
  /// What continues the job after a stop ("nasx resume runs/x").
  std::string resume_command;
};

/// The last step's metrics (empty when no step ran) and the state after it.
struct StepLoopResult {
  HostState state;
  std::map<std::string, double> last_metrics;
};

/// Runs `job`'s steps from state.next_step to the end (or until finish_step says stop).
/// A stop request ends it at a step boundary: the line says where the last checkpoint
/// is and how to continue, then Error("interrupted by the user") is thrown.
StepLoopResult run_steps(StepJob& job, HostState state, const StepLog& log, Progress& progress);

}  // namespace nasx::core
