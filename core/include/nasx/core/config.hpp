#pragma once

#include <map>
#include <string>
#include <vector>

#include "nasx/core/data_loading.hpp"
#include "nasx/core/evaluators.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/trainer.hpp"
#include "nasx/params.hpp"
#include "nasx/precision.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

class PluginRegistry;

/// [experiment]
struct ExperimentOptions {
  std::string name = "nasx";
  int64_t seed = 0;
  std::string device = "cpu";       ///< "cpu", "cuda" or "cuda:N"
  std::string output_dir = "runs";  ///< run folders go to <output_dir>/<name>/<trial>
  int64_t threads = 0;              ///< CPU threads for LibTorch (0: its default)
  bool sync_batchnorm = false;      ///< data-parallel: BatchNorm over all ranks' batches
};

/// The [search] table: which strategy, and its parameters.
struct SearchSection {
  std::string strategy;
  ParamValues params;
};

/// The [select] table: which selector turns the supernet into a genotype.
struct SelectSection {
  std::string selector = "magnitude";
  ParamValues params;
  /// False for a strategy that gives its own answer (it trains no architecture
  /// parameters to select from): the resolved config then leaves [select] out.
  bool used = true;
};

/// [train]: training a found architecture's own network from scratch (`nasx train`, or
/// after the search when a search config has the table). Keys a config leaves out take
/// the protocol's values: a space's training protocol (SearchSpace::training_protocol;
/// DARTS: the reference's final training, C=36, 20 cells, 600 epochs; NB201: the
/// benchmark's, C=16, N=5, 200 epochs).
struct TrainSection {
  bool present = false;    ///< the config has a [train] table
  std::string protocol;    ///< the space whose protocol fills the rest ("": the run's)
  int64_t channels = 0;    ///< C of the network
  int64_t layers = 0;      ///< DARTS: cells; NB201: cells per stage
  int64_t test_every = 1;  ///< test-set evaluation every this many epochs (and at the end)
  /// What the network's ReLU-conv-BN convolutions compute in (see nasx/precision.hpp).
  ConvolutionPrecision precision = ConvolutionPrecision::float32;
  TrainOptions options;
};

/// The [train] values of space `space`'s training protocol.
TrainSection train_protocol(const PluginRegistry& registry, const std::string& space);

/// What a config is loaded for: a search needs [search]; training does not.
enum class ConfigUse { search, train };

/// A fully validated experiment: every value resolved, defaults filled in.
struct RunConfig {
  std::string source;  ///< the file it came from
  ExperimentOptions experiment;
  DataOptions data;
  SpaceSection space;
  EvaluatorOptions evaluator;
  SearchSection search;
  SelectSection select;
  /// [train] with the space's protocol filling what the table leaves out; the protocol's
  /// values alone (present = false) when the config has no [train].
  TrainSection train;

  /// The resolved config as TOML, every default written out (config.toml of a run);
  /// [evaluator], [search] and [select] only when there is a strategy, [train] only
  /// when present.
  std::string to_toml() const;
};

/// Reads `path`, applies `overrides` ("search.epochs=2"; the value is TOML, or a
/// bare word taken as a string), and validates every section against its schema,
/// plugin sections against the plugin's. Throws ConfigError naming file:line:column
/// (or the --set argument) and the key, with a did-you-mean for unknown keys.
/// An empty `path` starts from the defaults (`nasx train` without --config).
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides,
                          const PluginRegistry& registry, ConfigUse use = ConfigUse::search);

/// The same for a config given as TOML text (a sweep's inline [base] table); `source`
/// names it in messages.
RunConfig load_run_config_text(const std::string& text, const std::string& source,
                               const std::vector<std::string>& overrides,
                               const PluginRegistry& registry, ConfigUse use = ConfigUse::search);

/// The schemas of the host's own sections, for documentation and validation.
const ParamSchema& experiment_schema();
const ParamSchema& data_schema();
const ParamSchema& evaluator_schema();
const ParamSchema& train_schema();

/// What differs between two resolved configs (TOML texts), one line per key:
/// "search.epochs: 8 -> 1", "train.lr: absent -> 0.025". Empty when they agree.
std::vector<std::string> config_differences(const std::string& before, const std::string& after);

/// The closest of `candidates` to `word` within a small edit distance, or empty.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace nasx::core
