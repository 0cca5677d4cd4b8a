#include "nasx/core/runner.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "nasx/context.hpp"
#include "nasx/core/checkpoint.hpp"
#include "nasx/core/distributed.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/selection.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/evaluator.hpp"
#include "nasx/metrics.hpp"
#include "nasx/scorer.hpp"
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

namespace {

/// The [train] part of a run: the found architecture trained in run_dir/train,
/// continuing an interrupted training there.
void train_answer(const RunConfig& config, const fs::path& run_dir, const std::string& genotype,
                  RunResult& result, std::ostream& out, bool interactive) {
  const fs::path dir = run_dir / "train";
  const TrainRunResult trained =
      run_training(config, genotype, dir, is_training_folder(dir), out, interactive);
  for (const auto& [name, value] : trained.metrics) result.metrics["trained_" + name] = value;
}

/// What a data-parallel search needs, checked by every rank before any work.
void check_data_parallel(const RunConfig& config, bool gradient_strategy, int world_size) {
  const std::string ranks = std::to_string(world_size);
  if (!gradient_strategy)
    throw ConfigError("--nproc " + ranks + ": strategy '" + config.search.strategy +
                      "' does not train a supernet by gradient, so there is nothing to split "
                      "over ranks; data-parallel search runs darts, milenas, nadarts (run "
                      "this one without --nproc, or several at once with nasx sweep --jobs)");
  if (config.data.batch_size % world_size != 0)
    throw ConfigError("--nproc " + ranks +
                      ": data.batch_size = " + std::to_string(config.data.batch_size) +
                      " does not split over " + ranks + " ranks; make it a multiple of " + ranks +
                      " (each rank takes an equal slice of every batch)");
}

/// Rank 0's weights, architecture and BatchNorm statistics on every rank (as
/// DistributedDataParallel does when it wraps a model): the ranks start identical even
/// where their initialisation or checkpoint would differ.
void broadcast_state(Supernet& net, ProcessGroup& ranks) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors = net.weight_parameters();
  for (const auto& alpha : net.arch_parameters()) tensors.push_back(alpha);
  for (const auto& buffer : net.buffers()) tensors.push_back(buffer);
  for (at::Tensor& tensor : tensors) {
    std::vector<at::Tensor> contiguous = {tensor.contiguous()};  // Gloo's layout
    ranks.broadcast(contiguous, 0);
    if (!contiguous[0].is_same(tensor)) tensor.copy_(contiguous[0]);
  }
}

/// A step's metrics averaged over the ranks (each measured its own slice of the batches,
/// all slices the same size).
void average_metrics(std::map<std::string, double>& metrics) {
  std::vector<double> values;
  for (const auto& [name, value] : metrics) values.push_back(value);
  std::vector<at::Tensor> buffer = {at::tensor(values, at::kDouble)};
  average_over_ranks(buffer);
  const at::Tensor mean = buffer[0].contiguous();
  size_t i = 0;
  for (auto& [name, value] : metrics) value = mean[static_cast<int64_t>(i++)].item<double>();
}

std::string encode_metrics(const std::map<std::string, double>& metrics) {
  std::string text;
  char number[40];
  for (const auto& [name, value] : metrics) {
    std::snprintf(number, sizeof number, "%.17g", value);
    text += name + "=" + number + "\n";
  }
  return text;
}

std::map<std::string, double> decode_metrics(const std::string& text) {
  std::map<std::string, double> metrics;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.rfind('=');
    if (eq != std::string::npos)
      metrics[line.substr(0, eq)] = std::strtod(line.c_str() + eq + 1, nullptr);
  }
  return metrics;
}

}  // namespace

void check_data_parallel_run(const RunConfig& config, const PluginRegistry& registry,
                             int world_size) {
  const auto strategy = create_plugin<SearchStrategy>(
      registry, registry.find(NASX_KIND_STRATEGY, config.search.strategy));
  check_data_parallel(config, strategy->trains_arch_parameters(), world_size);
}

RunResult run_search(const RunConfig& config, const fs::path& run_dir, bool resume,
                     const PluginRegistry& registry, std::ostream& out, bool interactive,
                     ProcessGroup* ranks) {
  const RunPaths paths(run_dir);
  // Data-parallel: rank 0 writes the run folder and the terminal; the others compute.
  const bool root = ranks == nullptr || ranks->rank() == 0;
  std::ostream quiet(nullptr);
  // A finished search whose [train] part was interrupted: only the training is left.
  if (resume && config.train.present && fs::exists(paths.summary) &&
      !fs::exists(TrainPaths(run_dir / "train").summary)) {
    std::ifstream in(paths.genotype);
    RunResult result;
    result.run_dir = run_dir;
    std::getline(in, result.genotype);
    train_answer(config, run_dir, result.genotype, result, out, interactive);
    return result;
  }
  const c10::Device device = parse_device(config.experiment.device);
  set_threads(config.experiment.threads);

  // Everything that can fail on bad input happens before the run folder is touched.
  const PluginInfo& strategy_info = registry.find(NASX_KIND_STRATEGY, config.search.strategy);
  const PluginInfo& selector_info = registry.find(NASX_KIND_SELECTOR, config.select.selector);
  const DataSplits data =
      to_device(load_data(config.data, static_cast<uint64_t>(config.experiment.seed)), device);
  at::manual_seed(static_cast<uint64_t>(config.experiment.seed));
  const auto space = make_search_space(config.space);
  std::shared_ptr<Supernet> net = space->build_supernet(data.shape);
  net->to(device);
  const uint64_t seed = static_cast<uint64_t>(config.experiment.seed);
  // A scorer plugin's evaluator: "score:NAME", and Context::score() with [evaluator] scorer.
  const auto make_scorer = [&](const std::string& scorer) {
    std::shared_ptr<ArchScorer> plugin =
        create_plugin<ArchScorer>(registry, registry.find(NASX_KIND_SCORER, scorer));
    return make_score_evaluator(plugin, scorer, *space, data, config.evaluator, seed);
  };
  const std::string scored_by = scorer_of(config.evaluator.name);
  const auto evaluator =
      scored_by.empty() ? make_evaluator(config.evaluator, *net, data, config.data.batch_size, seed)
                        : make_scorer(scored_by);
  auto strategy = create_plugin<SearchStrategy>(registry, strategy_info);
  auto selector = create_plugin<Selector>(registry, selector_info);

  Progress progress(root ? out : quiet, interactive && root);
  const auto log_path = [&](const fs::path& path) { return root ? path : fs::path(); };
  JsonlLog events(log_path(paths.events)), genotypes(log_path(paths.genotypes)),
      evaluations(log_path(paths.evaluations));
  HostContext ctx(*space, *net, data, config, device, progress, events, evaluations, *evaluator,
                  paths, [&] { return make_scorer(config.evaluator.scorer); });
  ctx.set_params(&config.search.params);
  net->train();
  // setup() is where a strategy refuses a space or a setting: before the folder exists.
  strategy->setup(ctx);
  const bool gradient_strategy = strategy->trains_arch_parameters();
  if (ranks != nullptr) check_data_parallel(config, gradient_strategy, ranks->world_size());

  if (root) open_run_folder(paths, config, resume);

  HostState state;
  // A selection checkpoint exists only once the search has finished; the selection then
  // cuts the logs back to its own point.
  const SelectionFiles selection{paths.select_checkpoint, events, evaluations};
  if (resume && fs::exists(paths.checkpoint)) {
    state = load_checkpoint(paths, *net, *strategy);
    if (!has_selection_checkpoint(selection)) {
      events.truncate(static_cast<uint64_t>(state.events_size));
      evaluations.truncate(static_cast<uint64_t>(state.evaluations_size));
    }
    genotypes.truncate(static_cast<uint64_t>(state.genotypes_size));
    progress.line("resuming " + run_dir.string() + " at step " +
                  std::to_string(state.next_step + 1) + " of " +
                  std::to_string(strategy->total_steps()));
  } else if (resume) {
    events.truncate(0);
    genotypes.truncate(0);
    evaluations.truncate(0);
    progress.line("no checkpoint in " + run_dir.string() + "; starting from the first step");
  }
  if (state.next_step == 0)
    events.append(JsonObject()
                      .add("type", "start")
                      .add("time", now_iso8601())
                      .add("strategy", config.search.strategy)
                      .add("space", config.space.name)
                      .add("evaluator", config.evaluator.name)
                      .add("seed", config.experiment.seed)
                      .add("train_images", data.train.size())
                      .add("search_images", data.search.size())
                      .add("test_images", data.test.size())
                      .str());

  const int64_t total_steps = strategy->total_steps();
  std::map<std::string, double> last_metrics;
  DataParallelScope data_parallel(ranks, config.experiment.sync_batchnorm);
  if (ranks != nullptr) broadcast_state(*net, *ranks);
  try {
    for (int64_t step = state.next_step; step < total_steps; ++step) {
      const auto step_start = std::chrono::steady_clock::now();
      ctx.set_step(step);
      progress.begin_step(step, total_steps);
      net->train();
      std::map<std::string, double> metrics = strategy->step(ctx, step);
      if (ctx.stop_requested()) throw StopRequested("stopped by request");
      if (ranks != nullptr) average_metrics(metrics);
      check_finite(metrics, "at the end of step " + std::to_string(step + 1), paths);

      if (gradient_strategy && root) {
        const auto valid = validation_metrics(*net, data, config.data.batch_size);
        metrics.insert(valid.begin(), valid.end());
      }
      // Every rank decides what comes next (end_step) from rank 0's metrics.
      if (ranks != nullptr)
        metrics = decode_metrics(
            ranks->share_from_root("metrics/" + std::to_string(step), encode_metrics(metrics)));
      const double step_seconds = seconds_since(step_start);
      const bool keep_going = strategy->end_step(ctx, step, metrics);
      last_metrics = metrics;
      const std::optional<Architecture> current =
          gradient_strategy ? std::optional<Architecture>(net->derive_architecture())
                            : strategy->best();

      events.append(JsonObject()
                        .add("type", "step")
                        .add("step", step)
                        .add_all(metrics)
                        .add("seconds", step_seconds)
                        .str());
      if (gradient_strategy) events.append(arch_weights_event(*net, *space, step));
      if (current)
        genotypes.append(JsonObject()
                             .add("step", step)
                             .add("genotype", space->format(*current))
                             .add_raw("cells", space->json(*current))
                             .str());
      progress.line("step " + std::to_string(step + 1) + "/" + std::to_string(total_steps) +
                    format_metrics(metrics) + "  (" + format_duration(step_seconds) + ")");
      if (!keep_going) {
        events.append(JsonObject()
                          .add("type", "early_stop")
                          .add("step", step)
                          .add("strategy", config.search.strategy)
                          .str());
        progress.line("the strategy ended the search after step " + std::to_string(step + 1));
      }

      state.next_step = keep_going ? step + 1 : total_steps;
      state.evaluations_size = static_cast<int64_t>(evaluations.sync());
      state.events_size = static_cast<int64_t>(events.sync());
      state.genotypes_size = static_cast<int64_t>(genotypes.sync());
      state.elapsed_seconds += step_seconds;
      if (root) save_checkpoint(paths, *net, *strategy, state);
      if (!keep_going) break;
    }
  } catch (const StopRequested&) {
    progress.line("stopped; the last checkpoint is at step " + std::to_string(state.next_step) +
                  ". Continue with: nasx resume " + run_dir.string());
    throw Error("interrupted by the user");
  }

  // The answer, the selection and the training: rank 0 alone.
  data_parallel.release();
  if (!root) return RunResult{run_dir, {}, {}, last_metrics};

  // The answer: the strategy's own, or the selector's from the supernet.
  net->eval();
  const std::optional<Architecture> own = strategy->best();
  if (!own && !gradient_strategy)
    throw Error("strategy '" + config.search.strategy +
                "' finished without an architecture (no candidate was evaluated); give it a "
                "larger budget");
  RunResult result;
  result.run_dir = run_dir;
  if (gradient_strategy) {
    // Measured before selecting: a selector may fine-tune the supernet (DARTS-PT).
    const EvalResult test = evaluate_supernet(*net, data.test, config.data.batch_size);
    // A run resumed after its last checkpoint has no step left to measure it.
    result.metrics = last_metrics.empty() ? validation_metrics(*net, data, config.data.batch_size)
                                          : last_metrics;
    result.metrics["supernet_test_loss"] = test.loss;
    result.metrics["supernet_test_acc"] = test.accuracy;
  }
  ctx.set_params(&config.select.params);
  Architecture arch;
  try {
    arch = own ? *own : run_selection(ctx, *selector, *net, selection, progress);
  } catch (const StopRequested&) {
    progress.line("stopped during the selection; continue with: nasx resume " + run_dir.string());
    throw Error("interrupted by the user");
  }
  const std::string chosen_by = own ? config.search.strategy : config.select.selector;
  result.architecture = arch;
  if (!gradient_strategy) {
    result.metrics = last_metrics;
    if (config.evaluator.name == "shared") {
      // The answer on the shared weights: what weight sharing predicts for it.
      const EvalResult test = evaluate_path(*net, arch, data.test, config.data.batch_size, 0,
                                            config.evaluator.batchnorm == "batch");
      result.metrics["shared_test_loss"] = test.loss;
      result.metrics["shared_test_acc"] = test.accuracy;
    }
  }
  check_finite(result.metrics, "in the final evaluation", paths);

  const std::string genotype_text = space->format(arch);
  result.genotype = genotype_text;
  events.append(JsonObject()
                    .add("type", "selected")
                    .add("by", chosen_by)
                    .add("genotype", genotype_text)
                    .str());
  write_file_atomically(paths.genotype, genotype_text + "\n");
  write_file_atomically(paths.summary, JsonObject()
                                               .add("experiment", config.experiment.name)
                                               .add("strategy", config.search.strategy)
                                               .add("selected_by", chosen_by)
                                               .add("space", config.space.name)
                                               .add("evaluator", config.evaluator.name)
                                               .add("data", config.data.name)
                                               .add("seed", config.experiment.seed)
                                               .add("steps", total_steps)
                                               .add("genotype", genotype_text)
                                               .add_raw("genotype_cells", space->json(arch))
                                               .add_all(result.metrics)
                                               .add("search_seconds", state.elapsed_seconds)
                                               .add("finished", now_iso8601())
                                               .str() +
                                           "\n");
  events.append(JsonObject().add("type", "end").add("time", now_iso8601()).str());
  if (config.train.present) train_answer(config, run_dir, genotype_text, result, out, interactive);
  return result;
}

}  // namespace nasx::core
