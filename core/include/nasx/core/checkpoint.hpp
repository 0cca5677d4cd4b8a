#pragma once
/// Checkpoint files: a module's weights, a job's state and the host's progress, written
/// atomically after every step and read back on resume.
///
/// On disk a checkpoint is a LibTorch archive inside a small envelope: "NASXCKPT", the
/// envelope's format number, the CRC-32 and the size of the archive, then the archive.
/// A file that was cut, overwritten or flipped anywhere fails the check and is refused
/// before LibTorch reads a byte of it.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nasx/core/run_paths.hpp"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace torch::serialize {
class InputArchive;
}  // namespace torch::serialize

namespace nasx {
class SearchStrategy;
class StateArchive;
class Supernet;
}  // namespace nasx

namespace nasx::core {

class Progress;

/// How a job begins: in a new folder, or from its folder's last checkpoint. A resume
/// refuses a checkpoint written under another configuration than the folder's
/// config.toml resolves to now, unless the change is accepted (`--accept-config-change`).
enum class StartMode { fresh, resume, resume_accepting_config_change };

inline bool resuming(StartMode mode) { return mode != StartMode::fresh; }

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
  /// The last finished step's metrics: what the end of the job reports, also when a
  /// resume finds every step done.
  std::map<std::string, double> last_metrics;
  /// The resolved configuration (TOML) the job ran under; a resume compares it with
  /// the folder's config.toml.
  std::string config;
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
/// `check_first` sees the host state (its config) before the model and the job's state
/// are read, and may refuse it (check_checkpoint_config).
HostState load_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                          const std::string& remedy,
                          const std::function<void(const HostState&)>& check_first = {});

/// Opens a checkpoint's archive for reading after checking its envelope (nasx select and
/// nasx ensemble read a run's supernet this way). IoError ending with `remedy` when the
/// file is missing, damaged or not a nasx checkpoint.
void read_checkpoint_archive(const std::filesystem::path& file,
                             torch::serialize::InputArchive& archive, const std::string& remedy);

/// Refuses `state` (read from `file`) when its configuration differs from `current`,
/// naming every key that differs; in the accepting mode it prints them and goes on.
void check_checkpoint_config(const std::filesystem::path& file, const HostState& state,
                             const std::string& current, StartMode mode, Progress& progress);

/// A search's checkpoint: checkpoint/state.pt with the supernet and the strategy's state.
void save_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy,
                     const HostState& state);
HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy,
                          const std::function<void(const HostState&)>& check_first = {});

}  // namespace nasx::core
