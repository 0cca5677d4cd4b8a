#pragma once

#include <filesystem>
#include <map>
#include <ostream>
#include <string>

#include "nasx/architecture.hpp"
#include "nasx/core/checkpoint.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/run_paths.hpp"

namespace nasx::core {

class PluginRegistry;
class ProcessGroup;

/// What a finished search leaves behind.
struct RunResult {
  std::filesystem::path run_dir;
  Architecture architecture;
  std::string genotype;                   ///< the architecture's canonical text
  std::map<std::string, double> metrics;  ///< final metrics, as in summary.json
};

/// Runs (or, resuming, continues) the search described by `config` in
/// `run_dir`: data, space and supernet, the strategy step by step with logging,
/// progress and an atomic checkpoint after every step, then selection and the
/// final files. Throws nasx::Error for anything a person must fix; a killed run
/// leaves a folder that `resume` continues exactly.
///
/// With `ranks` (a data-parallel run; every rank calls this with the same arguments):
/// the search steps run on all ranks, each on its slice of every batch, gradients and
/// metrics averaged; rank 0 alone writes the run folder, validates, checkpoints, and then
/// selects and trains. The other ranks return after the last search step (their result
/// has no architecture).
/// Throws ConfigError when the search cannot run on `world_size` ranks (a strategy that
/// trains no supernet by gradient, a batch that does not split evenly): what the
/// launcher checks before it starts any rank.
void check_data_parallel_run(const RunConfig& config, const PluginRegistry& registry,
                             int world_size);

RunResult run_search(const RunConfig& config, const std::filesystem::path& run_dir, StartMode mode,
                     const PluginRegistry& registry, std::ostream& out, bool interactive,
                     ProcessGroup* ranks = nullptr);

}  // namespace nasx::core
