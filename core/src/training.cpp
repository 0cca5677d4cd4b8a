#include "nasx/core/training.hpp"

#include <chrono>
#include <cmath>
#include <ostream>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/probe.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// The space's text form of `text`, or an error naming both spaces when it is another's.
Architecture parse_for_space(const SearchSpace& space, const std::string& text) {
  const std::string guessed = guess_space(text);
  if (!guessed.empty() && guessed != space.name())
    throw GenotypeError("the architecture is a " + guessed + " " +
                        (guessed == "nb201" ? "arch string" : "genotype") + " but the space is '" +
                        space.name() + "'; set space.name = \"" + guessed +
                        "\" (or --set space.name=" + guessed + ") or give a " + space.name() +
                        " architecture");
  return space.parse(text);
}

TensorDataset concatenate(const TensorDataset& a, const TensorDataset& b) {
  if (b.size() == 0) return a;
  return {at::cat({a.images, b.images}), at::cat({a.labels, b.labels})};
}

void save_training_checkpoint(const TrainPaths& paths, Network& net, const Trainer& trainer,
                              int64_t log_size, double seconds) {
  torch::serialize::OutputArchive root, net_archive, trainer_archive;
  net.save(net_archive);
  trainer.save(trainer_archive);
  root.write("network", net_archive);
  root.write("trainer", trainer_archive);
  root.write("log_size", c10::IValue(log_size));
  root.write("seconds", c10::IValue(seconds));
  save_archive_atomically(root, paths.checkpoint);
}

/// Restores the network and trainer; returns (log size, seconds so far).
std::pair<int64_t, double> load_training_checkpoint(const TrainPaths& paths, Network& net,
                                                    Trainer& trainer) {
  try {
    torch::serialize::InputArchive root, net_archive, trainer_archive;
    root.load_from(paths.checkpoint.string());
    root.read("network", net_archive);
    net.load(net_archive);
    root.read("trainer", trainer_archive);
    trainer.load(trainer_archive);
    c10::IValue log_size, seconds;
    root.read("log_size", log_size);
    root.read("seconds", seconds);
    return {log_size.toInt(), seconds.toDouble()};
  } catch (const std::exception& e) {
    throw IoError("cannot read checkpoint " + paths.checkpoint.string() + ": " +
                  std::string(e.what()).substr(0, 400) +
                  "\nThe file is damaged or from another configuration; delete the checkpoint "
                  "folder to restart the training from the first epoch");
  }
}

void check_finite_epoch(const std::map<std::string, double>& metrics, int64_t epoch,
                        const TrainPaths& paths) {
  for (const auto& [name, value] : metrics) {
    if (std::isfinite(value)) continue;
    throw NonFiniteError("training diverged: " + name + " is " +
                         (std::isnan(value) ? "NaN" : "infinite") + " in epoch " +
                         std::to_string(epoch + 1) + ". Nothing final was written; " +
                         paths.dir.string() +
                         " keeps the log and the checkpoint of the last completed epoch. Lower "
                         "train.lr (or check the data), then start a new training");
  }
}

}  // namespace

TrainSection resolved_train_section(const RunConfig& config) {
  if (config.train.present) return config.train;
  TrainSection section = train_protocol(config.space.name);
  section.present = true;
  return section;
}

bool is_training_folder(const fs::path& dir) { return fs::exists(TrainPaths(dir).config); }

TrainRunResult run_training(const RunConfig& config, const std::string& architecture,
                            const fs::path& dir, bool resume, std::ostream& out, bool interactive) {
  const TrainPaths paths(dir);
  const c10::Device device = parse_device(config.experiment.device);
  set_threads(config.experiment.threads);
  const uint64_t seed = static_cast<uint64_t>(config.experiment.seed);
  RunConfig resolved = config;
  resolved.train = resolved_train_section(config);
  const TrainSection& train = resolved.train;

  // Everything that can fail on bad input, before the folder is touched.
  const auto space = make_search_space(config.space);
  const Architecture arch = parse_for_space(*space, architecture);
  const std::string genotype = space->format(arch);
  const DataSplits data = to_device(load_data(config.data, seed), device);
  const TensorDataset train_set = concatenate(data.train, data.search);
  at::manual_seed(derive_seed(seed, 0x7a17));
  std::shared_ptr<Network> net =
      space->build_network(arch, data.shape, train.channels, train.layers);
  const int64_t parameters = count_parameters(*net, /*with_auxiliary=*/false);
  const int64_t parameters_with_auxiliary = count_parameters(*net, /*with_auxiliary=*/true);
  const int64_t macs = network_macs(*net, data.shape);
  net->to(device);
  Trainer trainer(*net, train_set, train.options, derive_seed(seed, 0x7a18));

  if (resume) {
    if (fs::exists(paths.summary))
      throw IoError("training " + dir.string() +
                    " has already finished (summary.json exists); nothing to resume");
  } else {
    if (fs::exists(paths.config))
      throw IoError("folder " + dir.string() + " already holds a training; continue it with " +
                    "`nasx resume " + dir.string() + "` or choose another --out");
    std::error_code error;
    fs::create_directories(dir, error);
    if (error)
      throw IoError("cannot create " + dir.string() + ": " + error.message() +
                    "; choose a writable --out");
    write_file_atomically(paths.genotype, genotype + "\n");
    write_file_atomically(paths.config, resolved.to_toml());
  }

  Progress progress(out, interactive);
  JsonlLog log(paths.epochs);
  double seconds = 0;
  if (resume && fs::exists(paths.checkpoint)) {
    const auto [log_size, elapsed] = load_training_checkpoint(paths, *net, trainer);
    log.truncate(static_cast<uint64_t>(log_size));
    seconds = elapsed;
    progress.line("resuming " + dir.string() + " at epoch " +
                  std::to_string(trainer.next_epoch() + 1) + " of " +
                  std::to_string(trainer.epochs()));
  } else if (resume) {
    log.truncate(0);
  }
  progress.line("training " + genotype + "\n  " + std::to_string(parameters) + " parameters (" +
                std::to_string(parameters_with_auxiliary) + " with the auxiliary head), " +
                std::to_string(macs) + " multiply-adds per image, " +
                std::to_string(train_set.size()) + " training images");

  EvalResult test;
  bool tested = false;
  while (trainer.next_epoch() < trainer.epochs()) {
    const int64_t epoch = trainer.next_epoch();
    progress.begin_step(epoch, trainer.epochs());
    const EpochResult result = trainer.run_epoch(&stop_was_requested);
    if (!result.complete) {
      progress.line("stopped; the last checkpoint is after epoch " + std::to_string(epoch) +
                    ". Continue with: nasx resume " + dir.string());
      throw Error("interrupted by the user");
    }
    std::map<std::string, double> metrics{{"train_loss", result.train_loss},
                                          {"train_acc", result.train_acc}};
    const bool last = trainer.next_epoch() == trainer.epochs();
    tested = last || (epoch + 1) % train.test_every == 0;
    if (tested) {
      test = evaluate_network(*net, data.test, train.options.batch_size);
      metrics["test_loss"] = test.loss;
      metrics["test_acc"] = test.accuracy;
    }
    check_finite_epoch(metrics, epoch, paths);
    seconds += result.seconds;
    log.append(JsonObject()
                   .add("epoch", epoch)
                   .add("lr", result.lr)
                   .add_all(metrics)
                   .add("seconds", result.seconds)
                   .str());
    save_training_checkpoint(paths, *net, trainer, static_cast<int64_t>(log.sync()), seconds);
    progress.line("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(trainer.epochs()) +
                  format_metrics(metrics) + "  (" + format_duration(result.seconds) + ")");
  }
  // A run resumed after its last checkpoint: measure the finished network again.
  if (!tested) test = evaluate_network(*net, data.test, train.options.batch_size);

  TrainRunResult result;
  result.dir = dir;
  result.genotype = genotype;
  result.metrics = {{"test_acc", test.accuracy},
                    {"test_loss", test.loss},
                    {"parameters", static_cast<double>(parameters)},
                    {"parameters_with_auxiliary", static_cast<double>(parameters_with_auxiliary)},
                    {"flops", static_cast<double>(macs)},
                    {"train_seconds", seconds}};
  {
    torch::serialize::OutputArchive model;
    net->save(model);
    save_archive_atomically(model, paths.model);
  }
  write_file_atomically(paths.summary,
                        JsonObject()
                                .add("genotype", genotype)
                                .add("space", config.space.name)
                                .add("data", config.data.name)
                                .add("seed", config.experiment.seed)
                                .add("protocol", train.protocol)
                                .add("epochs", train.options.epochs)
                                .add("channels", train.channels)
                                .add("layers", train.layers)
                                .add("test_acc", test.accuracy)
                                .add("test_loss", test.loss)
                                .add("parameters", parameters)
                                .add("parameters_with_auxiliary", parameters_with_auxiliary)
                                .add("flops", macs)
                                .add("train_seconds", seconds)
                                .add("finished", now_iso8601())
                                .str() +
                            "\n");
  return result;
}

}  // namespace nasx::core
