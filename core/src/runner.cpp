#include "nasx/core/runner.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/serialize/archive.h>

#include "nasx/context.hpp"
#include "nasx/core/files.hpp"
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

std::atomic<bool> g_stop_requested{false};

class StopRequested : public Error {
 public:
  using Error::Error;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string format_metrics(const std::map<std::string, double>& metrics) {
  std::ostringstream out;
  for (const auto& [name, value] : metrics) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "  %s %.4f", name.c_str(), value);
    out << buffer;
  }
  return out.str();
}

void check_finite(const std::map<std::string, double>& metrics, const std::string& where,
                  const RunPaths& paths) {
  for (const auto& [name, value] : metrics) {
    if (std::isfinite(value)) continue;
    throw NonFiniteError(
        "training diverged: " + name + " is " + (std::isnan(value) ? "NaN" : "infinite") + " " +
        where + ". Nothing final was written; " + paths.dir.string() +
        " keeps the log and the checkpoint of the last completed step, if any. Lower the learning rates in [search] (or check the "
        "data), then start a new run");
  }
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

class HostContext final : public Context {
 public:
  HostContext(const SearchSpace& space, Supernet& net, const DataSplits& data,
              const RunConfig& config, c10::Device device, Progress& progress,
              JsonlLog& events, const RunPaths& paths)
      : space_(space), net_(net), data_(data), config_(config), device_(device),
        progress_(progress), events_(events), paths_(paths) {}

  void set_params(const ParamValues* params) { params_ = params; }
  void set_step(int64_t step) { step_ = step; }

  const SearchSpace& space() const override { return space_; }
  Supernet& supernet() override { return net_; }
  const DataSplits& data() const override { return data_; }
  int64_t batch_size() const override { return config_.data.batch_size; }
  c10::Device device() const override { return device_; }
  uint64_t seed() const override { return static_cast<uint64_t>(config_.experiment.seed); }
  const ParamValues& params() const override { return *params_; }

  void report_progress(int64_t done, int64_t total, const MetricsMeter& meter) override {
    if (g_stop_requested.load()) throw StopRequested("stopped by request");
    // Read the device-side metrics at least every ~5% of a step, so a NaN is
    // caught early even when the display refreshes less often.
    const bool check_now = total <= 20 || done % std::max<int64_t>(1, total / 20) == 0;
    const bool show_now = progress_.due(done, total);
    if (!check_now && !show_now) return;
    const auto metrics = meter.means();
    check_finite(metrics, "at step " + std::to_string(step_ + 1) + ", minibatch " +
                              std::to_string(done) + "/" + std::to_string(total),
                 paths_);
    if (show_now) progress_.update(done, total, metrics);
  }

  void log_event(const std::string& type, const std::string& fields) override {
    std::string line = JsonObject().add("type", type).add("step", step_).str();
    if (!fields.empty()) line = line.substr(0, line.size() - 1) + ", " + fields + "}";
    events_.append(line);
  }

  void info(const std::string& message) override { progress_.line(message); }
  bool stop_requested() const override { return g_stop_requested.load(); }

 private:
  const SearchSpace& space_;
  Supernet& net_;
  const DataSplits& data_;
  const RunConfig& config_;
  c10::Device device_;
  Progress& progress_;
  JsonlLog& events_;
  const RunPaths& paths_;
  const ParamValues* params_ = nullptr;
  int64_t step_ = 0;
};

/// Host-side progress of a run, saved in every checkpoint.
struct HostState {
  int64_t next_step = 0;
  int64_t events_size = 0;
  int64_t genotypes_size = 0;
  double elapsed_seconds = 0;
};

void save_checkpoint(const RunPaths& paths, Supernet& net, const SearchStrategy& strategy,
                     const HostState& state) {
  torch::serialize::OutputArchive root;
  torch::serialize::OutputArchive net_archive;
  net.save(net_archive);
  root.write("supernet", net_archive);
  torch::serialize::OutputArchive strategy_archive;
  strategy.save(strategy_archive);
  root.write("strategy", strategy_archive);
  root.write("next_step", c10::IValue(state.next_step));
  root.write("events_size", c10::IValue(state.events_size));
  root.write("genotypes_size", c10::IValue(state.genotypes_size));
  root.write("elapsed_seconds", c10::IValue(state.elapsed_seconds));
  root.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
  fs::create_directories(paths.checkpoint_dir);
  const fs::path temporary = paths.checkpoint.string() + ".tmp";
  try {
    root.save_to(temporary.string());
  } catch (const std::exception& e) {
    throw IoError("cannot write checkpoint " + temporary.string() + ": " + e.what());
  }
  fsync_path(temporary);
  commit_rename(temporary, paths.checkpoint);
}

HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy) {
  torch::serialize::InputArchive root;
  try {
    root.load_from(paths.checkpoint.string());
    torch::serialize::InputArchive net_archive;
    root.read("supernet", net_archive);
    net.load(net_archive);
    torch::serialize::InputArchive strategy_archive;
    root.read("strategy", strategy_archive);
    strategy.load(strategy_archive);
    HostState state;
    c10::IValue value;
    root.read("next_step", value);
    state.next_step = value.toInt();
    root.read("events_size", value);
    state.events_size = value.toInt();
    root.read("genotypes_size", value);
    state.genotypes_size = value.toInt();
    root.read("elapsed_seconds", value);
    state.elapsed_seconds = value.toDouble();
    at::Tensor rng;
    root.read("torch_rng", rng, /*is_buffer=*/true);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
    return state;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw IoError("cannot read checkpoint " + paths.checkpoint.string() + ": " +
                  std::string(e.what()).substr(0, 400) +
                  "\nThe file is damaged or from another configuration; delete the checkpoint "
                  "folder to restart this run from the beginning");
  }
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
    throw ConfigError("experiment.device: '" + text + "' is not a device (use \"cpu\" or \"cuda:0\")");
  }
}

}  // namespace

void request_stop() { g_stop_requested.store(true); }

RunPaths::RunPaths(fs::path root)
    : dir(root), config(root / "config.toml"), events(root / "events.jsonl"),
      genotypes(root / "genotypes.jsonl"), checkpoint_dir(root / "checkpoint"),
      checkpoint(root / "checkpoint" / "state.pt"), genotype(root / "genotype.txt"),
      summary(root / "summary.json") {}

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

  if (!resume) {
    std::error_code error;
    if (fs::exists(paths.config, error))
      throw IoError("run folder " + run_dir.string() +
                    " already holds a run; continue it with `nasx resume " + run_dir.string() +
                    "` or choose another --out");
    fs::create_directories(run_dir, error);
    if (error)
      throw IoError("cannot create run folder " + run_dir.string() + ": " + error.message() +
                    "; choose a writable --out or experiment.output_dir");
    write_file_atomically(paths.config, config.to_toml());
  } else if (fs::exists(paths.summary)) {
    throw IoError("run " + run_dir.string() + " has already finished (summary.json exists); " +
                  "nothing to resume");
  }

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
    progress.line("resuming " + run_dir.string() + " at step " + std::to_string(state.next_step + 1) +
                  " of " + std::to_string(strategy->total_steps()));
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
      if (g_stop_requested.load()) throw StopRequested("stopped by request");
      check_finite(metrics, "at the end of step " + std::to_string(step + 1), paths);

      const EvalResult valid = evaluate_supernet(*net, data.search, config.data.batch_size);
      metrics["valid_loss"] = valid.loss;
      metrics["valid_acc"] = valid.accuracy;
      last_valid = {{"valid_loss", valid.loss}, {"valid_acc", valid.accuracy}};
      const double step_seconds = seconds_since(step_start);
      const Genotype genotype = net->derive_genotype();

      events.append(JsonObject()
                        .add("type", "step")
                        .add("step", step)
                        .add_all(metrics)
                        .add("seconds", step_seconds)
                        .str());
      JsonObject weights;
      weights.add("type", "arch_weights").add("step", step);
      const auto arch_weights = net->arch_weights();
      const auto cell_types = net->cell_types();
      for (size_t i = 0; i < arch_weights.size(); ++i)
        weights.add_raw(cell_types[i], matrix_json(arch_weights[i]));
      std::string operations = "[";
      for (const auto& op : space->operations())
        operations += (operations.size() > 1 ? ", " : "") + json_string(op);
      weights.add_raw("operations", operations + "]");
      events.append(weights.str());
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
  if (last_valid.empty()) {
    const EvalResult valid = evaluate_supernet(*net, data.search, config.data.batch_size);
    last_valid = {{"valid_loss", valid.loss}, {"valid_acc", valid.accuracy}};
  }
  RunResult result;
  result.run_dir = run_dir;
  result.genotype = genotype;
  result.metrics = last_valid;
  result.metrics["supernet_test_loss"] = test.loss;
  result.metrics["supernet_test_acc"] = test.accuracy;
  check_finite(result.metrics, "in the final evaluation", paths);

  const std::string genotype_text = space->format_genotype(genotype);
  events.append(JsonObject().add("type", "selected").add("selector", config.select.selector)
                    .add("genotype", genotype_text).str());
  write_file_atomically(paths.genotype, genotype_text + "\n");
  write_file_atomically(
      paths.summary,
      JsonObject()
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
