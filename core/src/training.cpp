#include "nasx/core/training.hpp"

#include <cmath>
#include <ostream>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "nasx/core/checkpoint.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/network_budget.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_lock.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/step_loop.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/precision.hpp"
#include "nasx/probe.hpp"
#include "nasx/space.hpp"
#include "nasx/state.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// The space's text form of `text`, or an error naming both spaces when it is another's.
Architecture parse_for_space(const PluginRegistry& registry, const SearchSpace& space,
                             const std::string& text) {
  try {
    return space.parse(text);
  } catch (const GenotypeError&) {
    const std::string guessed = guess_space(registry, text);
    if (guessed.empty() || guessed == space.name()) throw;
    throw GenotypeError("the architecture is one of space '" + guessed + "' but the space is '" +
                        space.name() + "'; set space.name = \"" + guessed +
                        "\" (or --set space.name=" + guessed + ") or give a " + space.name() +
                        " architecture");
  }
}

TensorDataset concatenate(const TensorDataset& a, const TensorDataset& b) {
  if (b.size() == 0) return a;
  return {at::cat({a.images, b.images}), at::cat({a.labels, b.labels})};
}

/// The network and what its checkpoint holds: its weights and the trainer's state.
CheckpointParts training_parts(Network& net, Trainer& trainer) {
  return {net, "network", "trainer",
          [&trainer](StateArchive& state) { state.object("optimizer_and_progress", trainer); }};
}

/// A network's epochs for the host loop; the test split is measured every
/// `test_every` epochs and after the last.
class TrainingJob final : public StepJob {
 public:
  TrainingJob(Network& net, Trainer& trainer, const TrainSection& train, const DataSplits& data,
              const TrainPaths& paths)
      : net_(net), trainer_(trainer), train_(train), data_(data), paths_(paths) {}

  int64_t total_steps() const override { return trainer_.epochs(); }

  std::map<std::string, double> run_step(int64_t epoch) override {
    const EpochResult result = trainer_.run_epoch(&stop_was_requested);
    if (!result.complete) throw StopRequested("stopped by request");
    lr_ = result.lr;
    std::map<std::string, double> metrics{{"train_loss", result.train_loss},
                                          {"train_acc", result.train_acc}};
    const bool last = trainer_.next_epoch() == trainer_.epochs();
    tested_ = last || (epoch + 1) % train_.test_every == 0;
    if (tested_) {
      test_ = evaluate_network(net_, data_.test, train_.options.batch_size);
      metrics["test_loss"] = test_.loss;
      metrics["test_acc"] = test_.accuracy;
    }
    return metrics;
  }

  void check(int64_t epoch, const std::map<std::string, double>& metrics) const override {
    for (const auto& [name, value] : metrics) {
      if (std::isfinite(value)) continue;
      throw NonFiniteError("training diverged: " + name + " is " +
                           (std::isnan(value) ? "NaN" : "infinite") + " in epoch " +
                           std::to_string(epoch + 1) + ". Nothing final was written; " +
                           paths_.dir.string() +
                           " keeps the log and the checkpoint of the last completed epoch. Lower "
                           "train.lr (or check the data), then start a new training");
    }
  }

  bool finish_step(int64_t, std::map<std::string, double>&) override { return true; }

  void save_checkpoint(const HostState& state) override {
    core::save_checkpoint(paths_.checkpoint, training_parts(net_, trainer_), state);
  }

  double lr() const { return lr_; }
  /// The test split's result of the finished network (measured again when the last
  /// epoch ran before a resume).
  EvalResult final_test() {
    if (!tested_) test_ = evaluate_network(net_, data_.test, train_.options.batch_size);
    return test_;
  }

 private:
  Network& net_;
  Trainer& trainer_;
  const TrainSection& train_;
  const DataSplits& data_;
  const TrainPaths& paths_;
  double lr_ = 0;
  EvalResult test_;
  bool tested_ = false;
};

/// Checks that `dir` can take the training (a new folder, or an unfinished one to
/// resume) and, for a new one, writes its genotype and resolved config.
/// The caller holds the folder's lock. A new folder gets the genotype and the resolved
/// config; either way the checkpoint folder must be writable before an epoch is spent.
void open_training_folder(const TrainPaths& paths, const RunConfig& resolved,
                          const std::string& genotype, bool resume) {
  const std::string dir = paths.dir.string();
  if (resume) {
    if (fs::exists(paths.summary))
      throw IoError("training " + dir +
                    " has already finished (summary.json exists); nothing to resume");
  } else {
    if (fs::exists(paths.config))
      throw IoError("folder " + dir + " already holds a training; continue it with " +
                    "`nasx resume " + dir + "` or choose another --out");
    write_file_atomically(paths.genotype, genotype + "\n");
    write_file_atomically(paths.config, resolved.to_toml());
  }
  check_writable(paths.checkpoint_dir);
}

/// Where a resumed training continues: the checkpoint's state, the log cut back to it.
HostState restore_training(const TrainPaths& paths, const std::string& resolved, StartMode mode,
                           Network& net, Trainer& trainer, JsonlLog& log, Progress& progress) {
  HostState state;
  const std::string restart =
      "delete " + paths.checkpoint_dir.string() + " to restart the training from the first epoch";
  if (resuming(mode) && fs::exists(paths.checkpoint)) {
    state = load_checkpoint(
        paths.checkpoint, training_parts(net, trainer), restart, [&](const HostState& saved) {
          check_checkpoint_config(paths.checkpoint, saved, resolved, mode, progress);
        });
    log.truncate(static_cast<uint64_t>(state.events_size), restart);
    progress.line(trainer.next_epoch() >= trainer.epochs()
                      ? "resuming " + paths.dir.string() + ": all " +
                            std::to_string(trainer.epochs()) + " epochs are done; finishing"
                      : "resuming " + paths.dir.string() + " at epoch " +
                            std::to_string(trainer.next_epoch() + 1) + " of " +
                            std::to_string(trainer.epochs()));
  } else if (resuming(mode)) {
    log.truncate(0, restart);
  }
  state.config = resolved;
  return state;
}

/// What a trained network is: its size and cost, counted once before training.
struct NetworkFigures {
  int64_t parameters = 0, parameters_with_auxiliary = 0, macs = 0;
};

void write_training_summary(const RunConfig& config, const TrainSection& train,
                            const TrainPaths& paths, Network& net, const TrainRunResult& result,
                            const NetworkFigures& figures) {
  {
    torch::serialize::OutputArchive model;
    net.save(model);
    save_archive_atomically(model, paths.model);
  }
  write_file_atomically(paths.summary,
                        JsonObject()
                                .add("genotype", result.genotype)
                                .add("space", config.space.name)
                                .add("data", config.data.name)
                                .add("seed", config.experiment.seed)
                                .add("protocol", train.protocol)
                                .add("epochs", train.options.epochs)
                                .add("channels", train.channels)
                                .add("layers", train.layers)
                                .add("test_acc", result.metrics.at("test_acc"))
                                .add("test_loss", result.metrics.at("test_loss"))
                                .add("parameters", figures.parameters)
                                .add("parameters_with_auxiliary", figures.parameters_with_auxiliary)
                                .add("flops", figures.macs)
                                .add("train_seconds", result.metrics.at("train_seconds"))
                                .add("finished", now_iso8601())
                                .str() +
                            "\n");
}

}  // namespace

TrainSection resolved_train_section(const RunConfig& config) {
  TrainSection section = config.train;
  section.present = true;
  return section;
}

bool is_training_folder(const fs::path& dir) { return fs::exists(TrainPaths(dir).config); }

TrainRunResult run_training(const RunConfig& config, const PluginRegistry& registry,
                            const std::string& architecture, const fs::path& dir, StartMode mode,
                            std::ostream& out, bool interactive) {
  const TrainPaths paths(dir);
  const c10::Device device = parse_device(config.experiment.device);
  set_threads(config.experiment.threads);
  const uint64_t seed = static_cast<uint64_t>(config.experiment.seed);
  RunConfig resolved = config;
  resolved.train = resolved_train_section(config);
  const TrainSection& train = resolved.train;
  // For every forward pass of the network here: the epochs' and the test split's.
  const ConvolutionPrecisionScope precision(train.precision);

  // Everything that can fail on bad input, before the folder is touched.
  const auto space = make_space(registry, config.space);
  const Architecture arch = parse_for_space(registry, *space, architecture);
  const std::string genotype = space->format(arch);
  const DataSplits data = to_device(load_data(config.data, seed), device);
  const TensorDataset train_set = concatenate(data.train, data.search);
  if (train.channels > 64)
    check_parameters_fit(
        estimated_parameters(*space, arch, data.shape, train.channels, train.layers), 4,
        "lower train.channels or train.layers");
  at::manual_seed(derive_seed(seed, 0x7a17));
  std::shared_ptr<Network> net =
      space->build_network(arch, data.shape, train.channels, train.layers);
  NetworkFigures figures;
  figures.parameters = count_parameters(*net, /*with_auxiliary=*/false);
  figures.parameters_with_auxiliary = count_parameters(*net, /*with_auxiliary=*/true);
  figures.macs = network_macs(*net, data.shape);
  net->to(device);
  Trainer trainer(*net, train_set, train.options, derive_seed(seed, 0x7a18));
  const RunLock lock(paths.dir);  // held until the training's files are written
  open_training_folder(paths, resolved, genotype, resuming(mode));
  remember_plugin_directories(registry, paths.dir);

  Progress progress(out, interactive);
  if (!resuming(mode)) progress.line("training folder: " + dir.string());
  JsonlLog log(paths.epochs);
  const HostState state =
      restore_training(paths, resolved.to_toml(), mode, *net, trainer, log, progress);
  progress.line("training " + genotype + "\n  " + std::to_string(figures.parameters) +
                " parameters (" + std::to_string(figures.parameters_with_auxiliary) +
                " with the auxiliary head), " + std::to_string(figures.macs) +
                " multiply-adds per image, " + std::to_string(train_set.size()) +
                " training images" +
                (train.precision == ConvolutionPrecision::float32
                     ? std::string()
                     : ", convolutions in " + precision_name(train.precision)));
  TrainingJob job(*net, trainer, train, data, paths);
  StepLog steps;
  steps.noun = "epoch";
  steps.log = &log;
  steps.record = [&job](int64_t epoch, const std::map<std::string, double>& metrics,
                        double seconds) {
    return JsonObject()
        .add("epoch", epoch)
        .add("lr", job.lr())
        .add_all(metrics)
        .add("seconds", seconds)
        .json();
  };
  steps.synced = {{&log, &HostState::events_size}};
  steps.resume_command = "nasx resume " + dir.string();
  const StepLoopResult done = run_steps(job, state, steps, progress);

  const EvalResult test = job.final_test();
  TrainRunResult result;
  result.dir = dir;
  result.genotype = genotype;
  result.metrics = {
      {"test_acc", test.accuracy},
      {"test_loss", test.loss},
      {"parameters", static_cast<double>(figures.parameters)},
      {"parameters_with_auxiliary", static_cast<double>(figures.parameters_with_auxiliary)},
      {"flops", static_cast<double>(figures.macs)},
      {"train_seconds", done.state.elapsed_seconds}};
  write_training_summary(config, train, paths, *net, result, figures);
  return result;
}

}  // namespace nasx::core
