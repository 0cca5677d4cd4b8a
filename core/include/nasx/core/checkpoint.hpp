#pragma once
/// Checkpoint files: a module's weights, a job's state and the host's progress, written
/// atomically after every step and read back on resume.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "nasx/core/run_paths.hpp"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace nasx {
class SearchStrategy;
class StateArchive;
class Supernet;
}  // namespace nasx

namespace nasx::core {

/// The host's own progress through a job (a search, a selection, a training), saved
/// with every checkpoint.
struct HostState {
  int64_t next_step = 0;         ///< the step a resumed job starts with
  int64_t total_steps = 0;       ///< the steps the job declared when it was saved
  int64_t events_size = 0;       ///< bytes of events.jsonl (a training: epochs.jsonl) that
                                 ///< belong to finished steps
  int64_t genotypes_size = 0;    ///< likewise for genotypes.jsonl
  int64_t evaluations_size = 0;  ///< likewise for evaluations.jsonl
  double elapsed_seconds = 0;    ///< time of the finished steps
};

/// What a checkpoint holds besides the host's state and LibTorch's CPU generator: a
/// module (the supernet, a network) under `model_key`, and the job's state under
/// `state_key`, bound in both directions by `bind_state`.
struct CheckpointParts {
  torch::nn::Module& model;
  std::string model_key;  ///< "supernet", "network"
  std::string state_key;  ///< "strategy", "selector", "trainer"
  std::function<void(StateArchive&)> bind_state;
};

/// Writes `parts` and `state` to `file` atomically (temporary file, fsync, rename).
void save_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                     const HostState& state);

/// Restores what save_checkpoint wrote. A damaged file or one from another
/// configuration is an IoError ending with `remedy` (what the person should do).
HostState load_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                          const std::string& remedy);

/// A search's checkpoint: checkpoint/state.pt with the supernet and the strategy's state.
void save_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy,
                     const HostState& state);
HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy);

}  // namespace nasx::core
