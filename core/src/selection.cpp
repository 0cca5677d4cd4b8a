#include "nasx/core/selection.hpp"

#include <torch/serialize/archive.h>

#include "nasx/core/checkpoint.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/step_loop.hpp"
#include "nasx/error.hpp"
#include "nasx/selector.hpp"
#include "nasx/state.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

namespace {

CheckpointParts selection_parts(Supernet& net, Selector& selector) {
  return {net, "supernet", "selector", [&selector](StateArchive& state) { selector.state(state); }};
}

void save_selection(const SelectionFiles& files, Supernet& net, Selector& selector,
                    const HostState& state) {
  save_checkpoint(files.checkpoint, selection_parts(net, selector), state);
}

HostState load_selection(const SelectionFiles& files, Supernet& net, Selector& selector,
                         Progress& progress) {
  const std::string where = files.checkpoint.string();
  const HostState state = load_checkpoint(
      files.checkpoint, selection_parts(net, selector), "delete it to select from the start",
      [&](const HostState& saved) {
        if (!files.config.empty() && !saved.config.empty())
          check_checkpoint_config(files.checkpoint, saved, files.config, files.mode, progress);
      });
  if (state.total_steps != selector.total_steps())
    throw IoError("the selection checkpoint " + where + " was made for " +
                  std::to_string(state.total_steps) + " steps but the selector now takes " +
                  std::to_string(selector.total_steps()) +
                  " (its settings changed); delete it to select from the start");
  return state;
}

/// A selector's steps (DARTS-PT: a decision, then fine-tuning) for the host loop.
class SelectionJob final : public StepJob {
 public:
  SelectionJob(HostContext& ctx, Selector& selector, Supernet& net, const SelectionFiles& files)
      : ctx_(ctx), selector_(selector), net_(net), files_(files) {}

  int64_t total_steps() const override { return selector_.total_steps(); }

  std::map<std::string, double> run_step(int64_t step) override {
    ctx_.set_step(step);
    net_.train();
    std::map<std::string, double> metrics = selector_.step(ctx_, step);
    if (stop_was_requested()) throw StopRequested("stopped by request");
    return metrics;
  }

  void check(int64_t step, const std::map<std::string, double>& metrics) const override {
    check_finite(metrics, "in selection step " + std::to_string(step + 1),
                 RunPaths(files_.events.path().parent_path()));
  }

  bool finish_step(int64_t, std::map<std::string, double>&) override { return true; }

  void save_checkpoint(const HostState& state) override {
    save_selection(files_, net_, selector_, state);
  }

 private:
  HostContext& ctx_;
  Selector& selector_;
  Supernet& net_;
  const SelectionFiles& files_;
};

}  // namespace

bool has_selection_checkpoint(const SelectionFiles& files) {
  std::error_code error;
  return std::filesystem::exists(files.checkpoint, error);
}

Architecture run_selection(HostContext& ctx, Selector& selector, Supernet& net,
                           const SelectionFiles& files, Progress& progress,
                           const std::string& resume_command) {
  selector.setup(ctx);
  const int64_t total = selector.total_steps();
  HostState state;
  state.total_steps = total;
  if (total == 0 && has_selection_checkpoint(files))
    throw IoError(files.checkpoint.string() +
                  " holds a selection with steps, but this selector takes none (the selector "
                  "was changed): delete it to select with the new one");
  if (total > 0 && has_selection_checkpoint(files)) {
    state = load_selection(files, net, selector, progress);
    const std::string restart = "delete " + files.checkpoint.string() + " to select from the start";
    files.events.truncate(static_cast<uint64_t>(state.events_size), restart);
    files.evaluations.truncate(static_cast<uint64_t>(state.evaluations_size), restart);
    progress.line("resuming the selection at step " + std::to_string(state.next_step + 1) + " of " +
                  std::to_string(total));
  }
  state.config = files.config;
  SelectionJob job(ctx, selector, net, files);
  StepLog log;
  log.noun = "selection step";
  log.log = &files.events;
  log.record = [](int64_t step, const std::map<std::string, double>& metrics, double seconds) {
    return JsonObject()
        .add("type", "select_step")
        .add("step", step)
        .add_all(metrics)
        .add("seconds", seconds)
        .json();
  };
  log.synced = {{&files.events, &HostState::events_size},
                {&files.evaluations, &HostState::evaluations_size}};
  log.resume_command = resume_command;
  run_steps(job, state, log, progress);
  net.eval();
  return selector.select(ctx);
}

}  // namespace nasx::core
