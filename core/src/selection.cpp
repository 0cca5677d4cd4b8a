#include "nasx/core/selection.hpp"

#include <chrono>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/archive.h>

#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/error.hpp"
#include "nasx/selector.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

namespace {

struct SelectionState {
  int64_t next_step = 0;
  int64_t total_steps = 0;
  int64_t events_size = 0;
  int64_t evaluations_size = 0;
  double elapsed_seconds = 0;
};

void save_selection(const SelectionFiles& files, Supernet& net, const Selector& selector,
                    const SelectionState& state) {
  torch::serialize::OutputArchive root, net_archive, selector_archive;
  net.save(net_archive);
  selector.save(selector_archive);
  root.write("supernet", net_archive);
  root.write("selector", selector_archive);
  root.write("next_step", c10::IValue(state.next_step));
  root.write("total_steps", c10::IValue(state.total_steps));
  root.write("events_size", c10::IValue(state.events_size));
  root.write("evaluations_size", c10::IValue(state.evaluations_size));
  root.write("elapsed_seconds", c10::IValue(state.elapsed_seconds));
  root.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
  std::filesystem::create_directories(files.checkpoint.parent_path());
  save_archive_atomically(root, files.checkpoint);
}

SelectionState load_selection(const SelectionFiles& files, Supernet& net, Selector& selector) {
  const std::string where = files.checkpoint.string();
  SelectionState state;
  try {
    torch::serialize::InputArchive root, net_archive, selector_archive;
    root.load_from(where);
    c10::IValue value;
    root.read("total_steps", value);
    state.total_steps = value.toInt();
    if (state.total_steps != selector.total_steps())
      throw IoError("the selection checkpoint " + where + " was made for " +
                    std::to_string(state.total_steps) + " steps but the selector now takes " +
                    std::to_string(selector.total_steps()) +
                    " (its settings changed); delete it to select from the start");
    root.read("supernet", net_archive);
    net.load(net_archive);
    root.read("selector", selector_archive);
    selector.load(selector_archive);
    root.read("next_step", value);
    state.next_step = value.toInt();
    root.read("events_size", value);
    state.events_size = value.toInt();
    root.read("evaluations_size", value);
    state.evaluations_size = value.toInt();
    root.read("elapsed_seconds", value);
    state.elapsed_seconds = value.toDouble();
    at::Tensor rng;
    root.read("torch_rng", rng, /*is_buffer=*/true);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw IoError("cannot read the selection checkpoint " + where + ": " +
                  std::string(e.what()).substr(0, 400) +
                  "\nThe file is damaged or from another configuration; delete it to select "
                  "from the start");
  }
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
  SelectionState state;
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
