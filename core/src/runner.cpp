#include "nasx/core/runner.hpp"

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <ATen/ATen.h>

#include "nasx/context.hpp"
#include "nasx/core/checkpoint.hpp"
#include "nasx/core/distributed.hpp"
#include "nasx/core/evaluators.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/kill_points.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_lock.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/selection.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/step_loop.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/metrics.hpp"
#include "nasx/scorer.hpp"
#include "nasx/selector.hpp"
#include "nasx/space.hpp"
#include "nasx/strategy.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// [[e00, e01, ...], ...] for an [edges, ops] tensor.
Json matrix_json(const at::Tensor& matrix) {
  const at::Tensor m = matrix.detach().to(at::kCPU, at::kDouble).contiguous();
  Json rows = Json::array();
  for (int64_t i = 0; i < m.size(0); ++i) {
    const double* row = m[i].data_ptr<double>();
    rows.push_back(std::vector<double>(row, row + m.size(1)));
  }
  return rows;
}

/// The architecture weights of every cell type as one events.jsonl line, after step
/// index `step` (logged from 1, as the console counts).
std::string arch_weights_event(Supernet& net, const SearchSpace& space, int64_t step) {
  JsonObject event;
  event.add("type", "arch_weights").add("step", step + 1);
  const auto weights = net.arch_weights();
  const auto cell_types = net.cell_types();
  for (size_t i = 0; i < weights.size(); ++i) event.add(cell_types[i], matrix_json(weights[i]));
  return event.add("operations", space.operations()).str();
}

std::map<std::string, double> validation_metrics(Supernet& net, const DataSplits& data,
                                                 int64_t batch_size) {
  const EvalResult valid = evaluate_supernet(net, data.search, batch_size);
  return {{"valid_loss", valid.loss}, {"valid_acc", valid.accuracy}};
}

/// A new run folder with its resolved config, or a check that a resume has something
/// to do; then a check that checkpoints can be written there (before a step's work
/// would be lost to a read-only or full folder). The caller holds the folder's lock.
void open_run_folder(const RunPaths& paths, const RunConfig& config, bool resume,
                     Progress& progress) {
  const std::string dir = paths.dir.string();
  std::error_code error;
  if (resume) {
    if (fs::exists(paths.summary, error))
      throw IoError("run " + dir +
                    " has already finished (summary.json exists); nothing to resume");
    remove_leftover_temporaries(paths.dir);
    remove_leftover_temporaries(paths.checkpoint_dir);
  } else {
    if (fs::exists(paths.config, error))
      throw IoError("run folder " + dir +
                    " already holds a run; continue it with `nasx resume " + dir +
                    "` or choose another --out");
    write_file_atomically(paths.config, config.to_toml());
    progress.line("run folder: " + dir);
  }
  check_writable(paths.checkpoint_dir);
}

/// The [train] part of a run: the found architecture trained in run_dir/train,
/// continuing an interrupted training there.
void train_answer(const RunConfig& config, const PluginRegistry& registry, const fs::path& run_dir,
                  const std::string& genotype, RunResult& result, std::ostream& out,
                  bool interactive) {
  const fs::path dir = run_dir / "train";
  const TrainRunResult trained =
      run_training(config, registry, genotype, dir,
                   is_training_folder(dir) ? StartMode::resume : StartMode::fresh, out,
                   interactive);
  for (const auto& [name, value] : trained.metrics) result.metrics["trained_" + name] = value;
}

/// What a data-parallel search needs, checked by every rank before any work.
void check_data_parallel(const RunConfig& config, bool gradient_strategy, int world_size) {
  require_gloo();
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

/// Rank 0's metrics on every rank, through the store (exact: the JSON numbers read back
/// as the same doubles).
std::map<std::string, double> share_metrics(ProcessGroup& ranks, int64_t step,
                                            const std::map<std::string, double>& metrics) {
  const Json shared = parse_json_or_empty(
      ranks.share_from_root("metrics/" + std::to_string(step), json_line(json_object(metrics))));
  std::map<std::string, double> out;
  for (const auto& [name, value] : shared.items())
    out[name] = value.is_number() ? value.get<double>() : std::nan("");
  return out;
}

/// Everything a search needs, made before the run folder is touched: anything that can
/// fail on bad input fails here.
struct Search {
  c10::Device device;
  DataSplits data;
  std::unique_ptr<SearchSpace> space;
  std::shared_ptr<Supernet> net;
  std::unique_ptr<Evaluator> evaluator;
  std::unique_ptr<SearchStrategy> strategy;
  std::unique_ptr<Selector> selector;

  Search(const RunConfig& config, const PluginRegistry& registry)
      : device(parse_device(config.experiment.device)) {
    set_threads(config.experiment.threads);
    const PluginInfo& strategy_info = registry.find(NASX_KIND_STRATEGY, config.search.strategy);
    const PluginInfo& selector_info = registry.find(NASX_KIND_SELECTOR, config.select.selector);
    const uint64_t seed = static_cast<uint64_t>(config.experiment.seed);
    data = to_device(load_data(config.data, seed), device);
    at::manual_seed(seed);
    space = make_space(registry, config.space);
    net = space->build_supernet(data.shape);
    net->to(device);
    const std::string scored_by = scorer_of(config.evaluator.name);
    evaluator = scored_by.empty()
                    ? make_evaluator(config.evaluator, *net, data, config.data.batch_size, seed)
                    : make_scorer(config, registry, scored_by);
    strategy = create_plugin<SearchStrategy>(registry, strategy_info);
    selector = create_plugin<Selector>(registry, selector_info);
  }

  /// A scorer plugin's evaluator: "score:NAME", and Context::score() with [evaluator] scorer.
  std::unique_ptr<Evaluator> make_scorer(const RunConfig& config, const PluginRegistry& registry,
                                         const std::string& scorer) const {
    std::shared_ptr<ArchScorer> plugin =
        create_plugin<ArchScorer>(registry, registry.find(NASX_KIND_SCORER, scorer));
    return make_score_evaluator(plugin, scorer, *space, data, config.evaluator,
                                static_cast<uint64_t>(config.experiment.seed));
  }
};

/// The run's logs; in a data-parallel run only rank 0's are files.
struct SearchLogs {
  JsonlLog events, genotypes, evaluations;
  SearchLogs(const RunPaths& paths, bool root)
      : events(root ? paths.events : fs::path()),
        genotypes(root ? paths.genotypes : fs::path()),
        evaluations(root ? paths.evaluations : fs::path()) {}
};

/// A strategy's steps for the host loop: the step, then (gradient strategies) the
/// supernet's validation, rank agreement, end_step, and the architecture after the step.
class SearchJob final : public StepJob {
 public:
  SearchJob(const RunConfig& config, Search& search, HostContext& ctx, SearchLogs& logs,
            const RunPaths& paths, ProcessGroup* ranks)
      : config_(config),
        search_(search),
        ctx_(ctx),
        logs_(logs),
        paths_(paths),
        ranks_(ranks),
        root_(ranks == nullptr || ranks->rank() == 0),
        gradient_(search.strategy->trains_arch_parameters()) {}

  int64_t total_steps() const override { return search_.strategy->total_steps(); }

  std::map<std::string, double> run_step(int64_t step) override {
    ctx_.set_step(step);
    search_.net->train();
    std::map<std::string, double> metrics = search_.strategy->step(ctx_, step);
    if (ctx_.stop_requested()) throw StopRequested("stopped by request");
    if (ranks_ != nullptr) average_metrics(metrics);
    return metrics;
  }

  void check(int64_t step, const std::map<std::string, double>& metrics) const override {
    check_finite(metrics, "at the end of step " + std::to_string(step + 1), paths_);
  }

  bool finish_step(int64_t step, std::map<std::string, double>& metrics) override {
    if (gradient_ && root_) {
      const auto valid = validation_metrics(*search_.net, search_.data, config_.data.batch_size);
      metrics.insert(valid.begin(), valid.end());
    }
    const double budget = config_.evaluator.budget_seconds;
    if (!gradient_) metrics["evaluation_seconds"] = ctx_.evaluation_seconds();
    // Every rank decides what comes next (end_step) from rank 0's metrics.
    if (ranks_ != nullptr) metrics = share_metrics(*ranks_, step, metrics);
    const bool keep_going = search_.strategy->end_step(ctx_, step, metrics);
    if (keep_going && budget > 0 && !gradient_ && metrics["evaluation_seconds"] >= budget) {
      ctx_.info("the evaluation budget is spent (" + json_line(metrics["evaluation_seconds"]) +
                " of " + json_line(budget) + " s): the search ends after step " +
                std::to_string(step + 1));
      return false;
    }
    return keep_going;
  }

  void log_step(int64_t step, const std::map<std::string, double>&, bool keep_going) override {
    const SearchSpace& space = *search_.space;
    if (gradient_) logs_.events.append(arch_weights_event(*search_.net, space, step));
    const std::optional<Architecture> current =
        gradient_ ? std::optional<Architecture>(search_.net->derive_architecture())
                  : search_.strategy->best();
    if (current)
      logs_.genotypes.append(JsonObject()
                                 .add("step", step + 1)
                                 .add("genotype", space.format(*current))
                                 .add("cells", space.json(*current))
                                 .str());
    if (!keep_going)
      logs_.events.append(JsonObject()
                              .add("type", "early_stop")
                              .add("step", step + 1)
                              .add("strategy", config_.search.strategy)
                              .str());
  }

  void save_checkpoint(const HostState& state) override {
    if (root_) core::save_checkpoint(paths_, *search_.net, *search_.strategy, state);
  }

 private:
  const RunConfig& config_;
  Search& search_;
  HostContext& ctx_;
  SearchLogs& logs_;
  const RunPaths& paths_;
  ProcessGroup* ranks_;
  bool root_;
  bool gradient_;
};

/// The host state to continue from, the logs cut back to it (a resume), and the start
/// event of a run that starts now.
HostState restore(const RunPaths& paths, const RunConfig& config, Search& search, SearchLogs& logs,
                  StartMode mode, Progress& progress) {
  HostState state;
  const std::string resolved = config.to_toml();
  const SelectionFiles selection{paths.select_checkpoint, logs.events, logs.evaluations, resolved,
                                 mode};
  const std::string restart = "delete " + paths.checkpoint_dir.string() +
                              " to restart this run from the first step";
  if (resuming(mode) && fs::exists(paths.checkpoint)) {
    state = load_checkpoint(paths, *search.net, *search.strategy, [&](const HostState& saved) {
      check_checkpoint_config(paths.checkpoint, saved, resolved, mode, progress);
    });
    // A selection checkpoint exists only once the search has finished; the selection
    // then cuts the logs back to its own point.
    if (!has_selection_checkpoint(selection)) {
      logs.events.truncate(static_cast<uint64_t>(state.events_size), restart);
      logs.evaluations.truncate(static_cast<uint64_t>(state.evaluations_size), restart);
    }
    logs.genotypes.truncate(static_cast<uint64_t>(state.genotypes_size), restart);
    // Who reads the log sees where the run was taken up again.
    logs.events.append(JsonObject()
                           .add("type", "resume")
                           .add("time", now_iso8601())
                           .add("step", state.next_step + 1)  // the first step it runs
                           .str());
    const int64_t total = search.strategy->total_steps();
    progress.line(state.next_step >= total
                      ? "resuming " + paths.dir.string() + ": all " + std::to_string(total) +
                            " steps are done; finishing the run"
                      : "resuming " + paths.dir.string() + " at step " +
                            std::to_string(state.next_step + 1) + " of " + std::to_string(total));
  } else if (resuming(mode)) {
    logs.events.truncate(0, restart);
    logs.genotypes.truncate(0, restart);
    logs.evaluations.truncate(0, restart);
    progress.line("no checkpoint in " + paths.dir.string() + "; starting from the first step");
  }
  state.config = resolved;
  if (state.next_step == 0)
    logs.events.append(JsonObject()
                           .add("type", "start")
                           .add("time", now_iso8601())
                           .add("strategy", config.search.strategy)
                           .add("space", config.space.name)
                           .add("evaluator", config.evaluator.name)
                           .add("seed", config.experiment.seed)
                           .add("train_images", search.data.train.size())
                           .add("search_images", search.data.search.size())
                           .add("test_images", search.data.test.size())
                           .str());
  return state;
}

/// The metrics summary.json reports besides the answer: the supernet's (gradient
/// strategies, measured before a selector may fine-tune it) or the strategy's own last
/// ones, with what the shared weights predict for the answer.
std::map<std::string, double> final_metrics(const RunConfig& config, Search& search,
                                            const std::map<std::string, double>& last) {
  Supernet& net = *search.net;
  std::map<std::string, double> metrics = last;
  if (search.strategy->trains_arch_parameters()) {
    const EvalResult test = evaluate_supernet(net, search.data.test, config.data.batch_size);
    // A run resumed after its last checkpoint has no step left to measure it.
    if (last.empty()) metrics = validation_metrics(net, search.data, config.data.batch_size);
    metrics["supernet_test_loss"] = test.loss;
    metrics["supernet_test_acc"] = test.accuracy;
  }
  return metrics;
}

/// The answer: the strategy's own, or the selector's from the supernet.
Architecture choose_answer(const RunConfig& config, Search& search, HostContext& ctx,
                           SearchLogs& logs, const RunPaths& paths, StartMode mode,
                           Progress& progress) {
  if (const std::optional<Architecture> own = search.strategy->best()) return *own;
  if (!search.strategy->trains_arch_parameters())
    throw Error("strategy '" + config.search.strategy +
                "' finished without an architecture (no candidate was evaluated); give it a "
                "larger budget");
  ctx.set_params(&config.select.params);
  const SelectionFiles selection{paths.select_checkpoint, logs.events, logs.evaluations,
                                 config.to_toml(), mode};
  try {
    return run_selection(ctx, *search.selector, *search.net, selection, progress,
                         "nasx resume " + paths.dir.string());
  } catch (const StopRequested&) {
    progress.line("stopped during the selection; continue with: nasx resume " + paths.dir.string());
    throw Error("interrupted by the user");
  }
}

/// genotype.txt, summary.json and the end event of a finished search.
void write_answer(const RunConfig& config, const Search& search, const RunPaths& paths,
                  SearchLogs& logs, const RunResult& result, const std::string& chosen_by,
                  const HostState& state) {
  // summary.json is written last: it marks the run finished, so a kill before it
  // resumes (the logs cut back to the last checkpoint) and writes all of this again.
  logs.events.append(JsonObject()
                         .add("type", "selected")
                         .add("by", chosen_by)
                         .add("genotype", result.genotype)
                         .str());
  logs.events.append(JsonObject().add("type", "end").add("time", now_iso8601()).str());
  logs.events.sync();
  logs.genotypes.sync();
  logs.evaluations.sync();
  kill_point("answer_logged");
  write_file_atomically(paths.genotype, result.genotype + "\n");
  kill_point("genotype_written");
  write_file_atomically(paths.summary,
                        JsonObject()
                                .add("experiment", config.experiment.name)
                                .add("strategy", config.search.strategy)
                                .add("selected_by", chosen_by)
                                .add("space", config.space.name)
                                .add("evaluator", config.evaluator.name)
                                .add("data", config.data.name)
                                .add("seed", config.experiment.seed)
                                .add("steps", search.strategy->total_steps())
                                .add("genotype", result.genotype)
                                .add("genotype_cells", search.space->json(result.architecture))
                                .add_all(result.metrics)
                                .add("search_seconds", state.elapsed_seconds)
                                .add("finished", now_iso8601())
                                .str() +
                            "\n");
}

/// After the last step (rank 0): the answer, its final metrics and the run's final files.
RunResult finish_search(const RunConfig& config, Search& search, HostContext& ctx, SearchLogs& logs,
                        const RunPaths& paths, const StepLoopResult& done, StartMode mode,
                        Progress& progress) {
  search.net->eval();
  RunResult result;
  result.run_dir = paths.dir;
  result.metrics = final_metrics(config, search, done.last_metrics);
  const bool own = search.strategy->best().has_value();
  result.architecture = choose_answer(config, search, ctx, logs, paths, mode, progress);
  if (!search.strategy->trains_arch_parameters() && config.evaluator.name == "shared") {
    // The answer on the shared weights: what weight sharing predicts for it.
    const EvalResult test =
        evaluate_path(*search.net, result.architecture, search.data.test, config.data.batch_size, 0,
                      config.evaluator.batchnorm == "batch");
    result.metrics["shared_test_loss"] = test.loss;
    result.metrics["shared_test_acc"] = test.accuracy;
  }
  if (config.evaluator.name == "table")  // the answer's true accuracy, not logged as a query
    result.metrics["table_test_acc"] = search.evaluator->evaluate(result.architecture).accuracy;
  check_finite(result.metrics, "in the final evaluation", paths);
  result.genotype = search.space->format(result.architecture);
  write_answer(config, search, paths, logs, result,
               own ? config.search.strategy : config.select.selector, done.state);
  return result;
}

/// A finished search whose [train] part was interrupted: only the training is left.
RunResult continue_training(const RunConfig& config, const PluginRegistry& registry,
                            const fs::path& run_dir, const RunPaths& paths, std::ostream& out,
                            bool interactive) {
  std::ifstream in(paths.genotype);
  RunResult result;
  result.run_dir = run_dir;
  std::getline(in, result.genotype);
  train_answer(config, registry, run_dir, result.genotype, result, out, interactive);
  return result;
}

}  // namespace

void check_data_parallel_run(const RunConfig& config, const PluginRegistry& registry,
                             int world_size) {
  const auto strategy = create_plugin<SearchStrategy>(
      registry, registry.find(NASX_KIND_STRATEGY, config.search.strategy));
  check_data_parallel(config, strategy->trains_arch_parameters(), world_size);
}

RunResult run_search(const RunConfig& config, const fs::path& run_dir, StartMode mode,
                     const PluginRegistry& registry, std::ostream& out, bool interactive,
                     ProcessGroup* ranks) {
  const RunPaths paths(run_dir);
  const bool resume = resuming(mode);
  // Data-parallel: rank 0 writes the run folder and the terminal; the others compute.
  const bool root = ranks == nullptr || ranks->rank() == 0;
  // Held until the run, its selection and its training end. A resume takes it before
  // it reads anything of the folder; a new run once its settings have been checked (a
  // refused config leaves no folder behind).
  std::optional<RunLock> lock;
  if (root && resume) lock.emplace(paths.dir);
  if (resume && config.train.present && fs::exists(paths.summary) &&
      !fs::exists(TrainPaths(run_dir / "train").summary))
    return continue_training(config, registry, run_dir, paths, out, interactive);

  std::ostream quiet(nullptr);
  Search search(config, registry);
  Progress progress(root ? out : quiet, interactive && root);
  SearchLogs logs(paths, root);
  HostContext ctx(*search.space, *search.net, search.data, config, search.device, progress,
                  logs.events, logs.evaluations, *search.evaluator, paths,
                  [&] { return search.make_scorer(config, registry, config.evaluator.scorer); });
  ctx.set_params(&config.search.params);
  search.net->train();
  // setup() is where a strategy refuses a space or a setting: before the folder exists,
  // so what it logs is held until the folder is there.
  ctx.hold_lines();
  search.strategy->setup(ctx);
  if (ranks != nullptr)
    check_data_parallel(config, search.strategy->trains_arch_parameters(), ranks->world_size());
  if (root) {
    if (!lock) lock.emplace(paths.dir);
    open_run_folder(paths, config, resume, progress);
    remember_plugin_directories(registry, paths.dir);
  }
  // The held lines come first in the logs (a resume then cuts them back to its
  // checkpoint, which holds them from the first run).
  ctx.write_held_lines();

  const HostState state = restore(paths, config, search, logs, mode, progress);
  if (root && resume) ctx.set_evaluation_seconds(logged_evaluation_seconds(paths.evaluations));
  SearchJob job(config, search, ctx, logs, paths, ranks);
  StepLog log;
  log.log = &logs.events;
  log.record = [](int64_t step, const std::map<std::string, double>& metrics, double seconds) {
    return JsonObject()
        .add("type", "step")
        .add("step", step)
        .add_all(metrics)
        .add("seconds", seconds)
        .json();
  };
  log.synced = {{&logs.evaluations, &HostState::evaluations_size},
                {&logs.events, &HostState::events_size},
                {&logs.genotypes, &HostState::genotypes_size}};
  log.resume_command = "nasx resume " + run_dir.string();
  DataParallelScope data_parallel(ranks, config.experiment.sync_batchnorm);
  if (ranks != nullptr) broadcast_state(*search.net, *ranks);
  const StepLoopResult done = run_steps(job, state, log, progress);

  // The answer, the selection and the training: rank 0 alone.
  data_parallel.release();
  if (!root) return RunResult{run_dir, {}, {}, done.last_metrics};
  RunResult result = finish_search(config, search, ctx, logs, paths, done, mode, progress);
  if (config.train.present)
    train_answer(config, registry, run_dir, result.genotype, result, out, interactive);
  return result;
}

}  // namespace nasx::core
