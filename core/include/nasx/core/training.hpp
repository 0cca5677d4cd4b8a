#pragma once
// Final training: one architecture's own network trained from scratch in a folder of
// its own (`nasx train`, or `train/` inside a search run whose config has [train]).

#include <filesystem>
#include <iosfwd>
#include <map>
#include <string>

#include "nasx/core/checkpoint.hpp"
#include "nasx/core/config.hpp"

namespace nasx::core {

/// The files of a training folder.
struct TrainPaths {
  explicit TrainPaths(const std::filesystem::path& root)
      : dir(root),
        config(root / "train.toml"),
        genotype(root / "genotype.txt"),
        epochs(root / "epochs.jsonl"),
        checkpoint_dir(root / "checkpoint"),
        checkpoint(root / "checkpoint" / "train.pt"),
        model(root / "model.pt"),
        summary(root / "summary.json") {}

  std::filesystem::path dir, config, genotype, epochs, checkpoint_dir, checkpoint, model, summary;
};

struct TrainRunResult {
  std::filesystem::path dir;
  std::string genotype;
  std::map<std::string, double> metrics;  ///< as in summary.json
};

/// The network sizes and trainer settings `config` resolves to for its space: its
/// [train] table, or the space's protocol when it has none.
TrainSection resolved_train_section(const RunConfig& config);

class PluginRegistry;

/// Trains `architecture` (text of config.space's space) as config.train says, on the
/// whole training set (both search halves) of config.data, reporting on the test
/// split: a log line per epoch in epochs.jsonl, an atomic checkpoint after each epoch,
/// then summary.json (test accuracy, parameters with and without the auxiliary head,
/// FLOPs) and model.pt. Resuming, continues the folder's checkpoint. Everything
/// that can fail on bad input (architecture of another space, missing data) fails
/// before the folder is created.
TrainRunResult run_training(const RunConfig& config, const PluginRegistry& registry,
                            const std::string& architecture, const std::filesystem::path& dir,
                            StartMode mode, std::ostream& out, bool interactive);

/// Whether `dir` holds a training folder (train.toml).
bool is_training_folder(const std::filesystem::path& dir);

}  // namespace nasx::core
