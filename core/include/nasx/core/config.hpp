#pragma once

#include <map>
#include <string>
#include <vector>

#include "nasx/data.hpp"
#include "nasx/evaluator.hpp"
#include "nasx/params.hpp"
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
};

/// A fully validated experiment: every value resolved, defaults filled in.
struct RunConfig {
  std::string source;  ///< the file it came from
  ExperimentOptions experiment;
  DataOptions data;
  SpaceOptions space;
  EvaluatorOptions evaluator;
  SearchSection search;
  SelectSection select;

  /// The resolved config as TOML, every default written out (config.toml of a run).
  std::string to_toml() const;
};

/// Reads `path`, applies `overrides` ("search.epochs=2"; the value is TOML, or a
/// bare word taken as a string), and validates every section against its schema,
/// plugin sections against the plugin's. Throws ConfigError naming file:line:column
/// (or the --set argument) and the key, with a did-you-mean for unknown keys.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides,
                          const PluginRegistry& registry);

/// The schemas of the host's own sections, for documentation and validation.
const ParamSchema& experiment_schema();
const ParamSchema& data_schema();
const ParamSchema& space_schema();
const ParamSchema& evaluator_schema();

/// The closest of `candidates` to `word` within a small edit distance, or empty.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace nasx::core
