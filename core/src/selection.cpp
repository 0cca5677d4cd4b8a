#include "nasx/core/selection.hpp"

#include <chrono>

#include <torch/serialize/archive.h>

#include "nasx/core/checkpoint.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/error.hpp"
#include "nasx/selector.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

namespace {

void save_selection(const SelectionFiles& files, Supernet& net, const Selector& selector,
                    const HostState& state) {
  save_checkpoint(
      files.checkpoint, net, "selector",
      [&](torch::serialize::OutputArchive& archive) { selector.save(archive); }, state);
}

HostState load_selection(const SelectionFiles& files, Supernet& net, Selector& selector) {
  const std::string where = files.checkpoint.string();
  const HostState state = load_checkpoint(
      files.checkpoint, net, "selector",
      [&](torch::serialize::InputArchive& archive) { selector.load(archive); },
      "delete it to select from the start");
  if (state.total_steps != selector.total_steps())
    throw IoError("the selection checkpoint " + where + " was made for " +
                  std::to_string(state.total_steps) + " steps but the selector now takes " +
                  std::to_string(selector.total_steps()) +
                  " (its settings changed); delete it to select from the start");
  return state;
}

}  // namespace

bool has_selection_checkpoint(const SelectionFiles& files) {
  std::error_code error;
  return std::filesystem::exists(files.checkpoint, error);
}

Architecture run_selection(HostContext& ctx, Selector& selector, Supernet& net,
                           const SelectionFiles& files, Progress& progress) {
  selector.setup(ctx);
  const int64_t total = selector.total_steps();
  HostState state;
  state.total_steps = total;
  if (total > 0 && has_selection_checkpoint(files)) {
    state = load_selection(files, net, selector);
    files.events.truncate(static_cast<uint64_t>(state.events_size));
    files.evaluations.truncate(static_cast<uint64_t>(state.evaluations_size));
    progress.line("resuming the selection at step " + std::to_string(state.next_step + 1) + " of " +
                  std::to_string(total));
  }
  for (int64_t step = state.next_step; step < total; ++step) {
    const auto start = std::chrono::steady_clock::now();
    ctx.set_step(step);
    progress.begin_step(step, total);
    net.train();
    const std::map<std::string, double> metrics = selector.step(ctx, step);
    if (stop_was_requested()) throw StopRequested("stopped by request");
    check_finite(metrics, "in selection step " + std::to_string(step + 1),
                 RunPaths(files.events.path().parent_path()));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    files.events.append(JsonObject()
                            .add("type", "select_step")
                            .add("step", step)
                            .add_all(metrics)
                            .add("seconds", seconds)
                            .str());
    progress.line("selection step " + std::to_string(step + 1) + "/" + std::to_string(total) +
                  format_metrics(metrics) + "  (" + format_duration(seconds) + ")");
    state.next_step = step + 1;
    state.events_size = static_cast<int64_t>(files.events.sync());
    state.evaluations_size = static_cast<int64_t>(files.evaluations.sync());
    state.elapsed_seconds += seconds;
    save_selection(files, net, selector, state);
  }
  net.eval();
  return selector.select(ctx);
}

}  // namespace nasx::core
