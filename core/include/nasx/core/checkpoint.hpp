#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "nasx/core/run_paths.hpp"

namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace nasx {
class SearchStrategy;
class Supernet;
}  // namespace nasx

namespace nasx::core {

/// The host's own progress through a run (or a selection), saved with every checkpoint.
struct HostState {
  int64_t next_step = 0;         ///< the step a resumed run starts with
  int64_t total_steps = 0;       ///< the steps the plugin declared when it was saved
  int64_t events_size = 0;       ///< bytes of events.jsonl that belong to finished steps
  int64_t genotypes_size = 0;    ///< likewise for genotypes.jsonl
  int64_t evaluations_size = 0;  ///< likewise for evaluations.jsonl
  double elapsed_seconds = 0;    ///< time of the finished steps
};

/// Writes the supernet, the plugin's state (under `plugin_key`, by `save_plugin`), the
/// host state and the LibTorch CPU generator to `file` atomically (temporary file,
/// fsync, rename).
void save_checkpoint(const std::filesystem::path& file, Supernet& net,
                     const std::string& plugin_key,
                     const std::function<void(torch::serialize::OutputArchive&)>& save_plugin,
                     const HostState& state);

/// Restores what save_checkpoint wrote. A damaged file or one from another
/// configuration is an IoError ending with `remedy` (what the person should do).
HostState load_checkpoint(const std::filesystem::path& file, Supernet& net,
                          const std::string& plugin_key,
                          const std::function<void(torch::serialize::InputArchive&)>& load_plugin,
                          const std::string& remedy);

/// A search's checkpoint: checkpoint/state.pt with the strategy's state.
void save_checkpoint(const RunPaths& paths, Supernet& net, const SearchStrategy& strategy,
                     const HostState& state);
HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy);

}  // namespace nasx::core
