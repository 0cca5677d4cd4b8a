#pragma once

#include <filesystem>
#include <map>
#include <ostream>
#include <string>

#include "nasx/architecture.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/run_paths.hpp"

namespace nasx::core {

class PluginRegistry;

/// What a finished search leaves behind.
struct RunResult {
  std::filesystem::path run_dir;
  Architecture architecture;
  std::string genotype;                   ///< the architecture's canonical text
  std::map<std::string, double> metrics;  ///< final metrics, as in summary.json
};

/// Runs (or, with `resume`, continues) the search described by `config` in
/// `run_dir`: data, space and supernet, the strategy step by step with logging,
/// progress and an atomic checkpoint after every step, then selection and the
/// final files. Throws nasx::Error for anything a person must fix; a killed run
/// leaves a folder that `resume` continues exactly.
RunResult run_search(const RunConfig& config, const std::filesystem::path& run_dir, bool resume,
                     const PluginRegistry& registry, std::ostream& out, bool interactive);

}  // namespace nasx::core
