#include "nasx/core/runner.hpp"

#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "nasx/context.hpp"
#include "nasx/core/checkpoint.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/metrics.hpp"
#include "nasx/selector.hpp"
#include "nasx/space.hpp"
#include "nasx/strategy.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// [[e00, e01, ...], ...] for an [edges, ops] tensor.
std::string matrix_json(const at::Tensor& matrix) {
  const at::Tensor m = matrix.detach().to(at::kCPU, at::kDouble).contiguous();
  std::string out = "[";
  for (int64_t i = 0; i < m.size(0); ++i) {
    out += i ? ", [" : "[";
    for (int64_t j = 0; j < m.size(1); ++j)
      out += (j ? ", " : "") + json_number(m[i][j].item<double>());
    out += "]";
  }
  return out + "]";
}

std::string now_iso8601() {
  const std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buffer;
}

c10::Device parse_device(const std::string& text) {
  try {
    c10::Device device(text);
    if (device.is_cuda() && !at::hasCUDA())
      throw ConfigError("experiment.device = \"" + text +
                        "\" but this LibTorch has no CUDA device available; use \"cpu\"");
    return device;
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception&) {
    throw ConfigError("experiment.device: '" + text +
                      "' is not a device (use \"cpu\" or \"cuda:0\")");
  }
}

/// A new run folder with its resolved config, or a check that `resume` has something to do.
void open_run_folder(const RunPaths& paths, const RunConfig& config, bool resume) {
  const std::string dir = paths.dir.string();
  std::error_code error;
  if (resume) {
    if (fs::exists(paths.summary, error))
      throw IoError("run " + dir +
                    " has already finished (summary.json exists); nothing to resume");
    return;
  }
  if (fs::exists(paths.config, error))
    throw IoError("run folder " + dir + " already holds a run; continue it with `nasx resume " +
                  dir + "` or choose another --out");
  fs::create_directories(paths.dir, error);
  if (error)
    throw IoError("cannot create run folder " + dir + ": " + error.message() +
                  "; choose a writable --out or experiment.output_dir");
  write_file_atomically(paths.config, config.to_toml());
}

/// The architecture weights of every cell type as one events.jsonl line.
std::string arch_weights_event(Supernet& net, const SearchSpace& space, int64_t step) {
  JsonObject event;
  event.add("type", "arch_weights").add("step", step);
  const auto weights = net.arch_weights();
  const auto cell_types = net.cell_types();
  for (size_t i = 0; i < weights.size(); ++i) event.add_raw(cell_types[i], matrix_json(weights[i]));
  std::string operations = "[";
  for (const auto& op : space.operations())
    operations += (operations.size() > 1 ? ", " : "") + json_string(op);
  return event.add_raw("operations", operations + "]").str();
}

std::map<std::string, double> validation_metrics(Supernet& net, const DataSplits& data,
                                                 int64_t batch_size) {
  const EvalResult valid = evaluate_supernet(net, data.search, batch_size);
  return {{"valid_loss", valid.loss}, {"valid_acc", valid.accuracy}};
}

}  // namespace

RunResult run_search(const RunConfig& config, const fs::path& run_dir, bool resume,
                     const PluginRegistry& registry, std::ostream& out, bool interactive) {
  const RunPaths paths(run_dir);
  const c10::Device device = parse_device(config.experiment.device);
  // This LibTorch starts with one OpenMP thread whatever the machine has; 0 means all cores.
  at::set_num_threads(config.experiment.threads > 0
                          ? static_cast<int>(config.experiment.threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));

  // Everything that can fail on bad input happens before the run folder is touched.
  const PluginInfo& strategy_info = registry.find(NASX_KIND_STRATEGY, config.search.strategy);
  const PluginInfo& selector_info = registry.find(NASX_KIND_SELECTOR, config.select.selector);
  const DataSplits data =
      to_device(load_data(config.data, static_cast<uint64_t>(config.experiment.seed)), device);
  at::manual_seed(static_cast<uint64_t>(config.experiment.seed));
  const auto space = make_search_space(config.space);
  std::shared_ptr<Supernet> net = space->build_supernet(data.shape);
  net->to(device);
  auto strategy = create_plugin<SearchStrategy>(registry, strategy_info);
  auto selector = create_plugin<Selector>(registry, selector_info);

  open_run_folder(paths, config, resume);

  Progress progress(out, interactive);
  JsonlLog events(paths.events), genotypes(paths.genotypes);
  HostContext ctx(*space, *net, data, config, device, progress, events, paths);
  ctx.set_params(&config.search.params);
  net->train();
  strategy->setup(ctx);

  HostState state;
  if (resume && fs::exists(paths.checkpoint)) {
    state = load_checkpoint(paths, *net, *strategy);
    events.truncate(static_cast<uint64_t>(state.events_size));
    genotypes.truncate(static_cast<uint64_t>(state.genotypes_size));
    progress.line("resuming " + run_dir.string() + " at step " +
                  std::to_string(state.next_step + 1) + " of " +
                  std::to_string(strategy->total_steps()));
  } else if (resume) {
    events.truncate(0);
    genotypes.truncate(0);
    progress.line("no checkpoint in " + run_dir.string() + "; starting from the first step");
  }
  if (state.next_step == 0)
    events.append(JsonObject()
                      .add("type", "start")
                      .add("time", now_iso8601())
                      .add("strategy", config.search.strategy)
                      .add("space", config.space.name)
                      .add("seed", config.experiment.seed)
                      .add("train_images", data.train.size())
                      .add("search_images", data.search.size())
                      .add("test_images", data.test.size())
                      .str());

  const int64_t total_steps = strategy->total_steps();
  std::map<std::string, double> last_valid;
  try {
    for (int64_t step = state.next_step; step < total_steps; ++step) {
      const auto step_start = std::chrono::steady_clock::now();
      ctx.set_step(step);
      progress.begin_step(step, total_steps);
      net->train();
      std::map<std::string, double> metrics = strategy->step(ctx, step);
      if (stop_was_requested()) throw StopRequested("stopped by request");
      check_finite(metrics, "at the end of step " + std::to_string(step + 1), paths);

      last_valid = validation_metrics(*net, data, config.data.batch_size);
      metrics.insert(last_valid.begin(), last_valid.end());
      const double step_seconds = seconds_since(step_start);
      const Genotype genotype = net->derive_genotype();

      events.append(JsonObject()
                        .add("type", "step")
                        .add("step", step)
                        .add_all(metrics)
                        .add("seconds", step_seconds)
                        .str());
      events.append(arch_weights_event(*net, *space, step));
      genotypes.append(JsonObject()
                           .add("step", step)
                           .add("genotype", space->format_genotype(genotype))
                           .add_raw("cells", genotype.json())
                           .str());
      progress.line("step " + std::to_string(step + 1) + "/" + std::to_string(total_steps) +
                    format_metrics(metrics) + "  (" + format_duration(step_seconds) + ")");

      state.next_step = step + 1;
      state.events_size = static_cast<int64_t>(events.sync());
      state.genotypes_size = static_cast<int64_t>(genotypes.sync());
      state.elapsed_seconds += step_seconds;
      save_checkpoint(paths, *net, *strategy, state);
    }
  } catch (const StopRequested&) {
    progress.line("stopped; the last checkpoint is at step " + std::to_string(state.next_step) +
                  ". Continue with: nasx resume " + run_dir.string());
    throw Error("interrupted by the user");
  }

  // Selection and the final files.
  ctx.set_params(&config.select.params);
  net->eval();
  const Genotype genotype = selector->select(ctx);
  const EvalResult test = evaluate_supernet(*net, data.test, config.data.batch_size);
  // A run resumed after its last checkpoint has no step left to measure it.
  if (last_valid.empty()) last_valid = validation_metrics(*net, data, config.data.batch_size);
  RunResult result;
  result.run_dir = run_dir;
  result.genotype = genotype;
  result.metrics = last_valid;
  result.metrics["supernet_test_loss"] = test.loss;
  result.metrics["supernet_test_acc"] = test.accuracy;
  check_finite(result.metrics, "in the final evaluation", paths);

  const std::string genotype_text = space->format_genotype(genotype);
  events.append(JsonObject()
                    .add("type", "selected")
                    .add("selector", config.select.selector)
                    .add("genotype", genotype_text)
                    .str());
  write_file_atomically(paths.genotype, genotype_text + "\n");
  write_file_atomically(paths.summary, JsonObject()
                                               .add("experiment", config.experiment.name)
                                               .add("strategy", config.search.strategy)
                                               .add("selector", config.select.selector)
                                               .add("space", config.space.name)
                                               .add("data", config.data.name)
                                               .add("seed", config.experiment.seed)
                                               .add("steps", total_steps)
                                               .add("genotype", genotype_text)
                                               .add_raw("genotype_cells", genotype.json())
                                               .add_all(result.metrics)
                                               .add("search_seconds", state.elapsed_seconds)
                                               .add("finished", now_iso8601())
                                               .str() +
                                           "\n");
  events.append(JsonObject().add("type", "end").add("time", now_iso8601()).str());
  return result;
}

}  // namespace nasx::core
