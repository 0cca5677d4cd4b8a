#pragma once

#include <cstdint>

#include "nasx/core/run_paths.hpp"

namespace nasx {
class SearchStrategy;
class Supernet;
}  // namespace nasx

namespace nasx::core {

/// The host's own progress through a run, saved with every checkpoint.
struct HostState {
  int64_t next_step = 0;         ///< the step a resumed run starts with
  int64_t events_size = 0;       ///< bytes of events.jsonl that belong to finished steps
  int64_t genotypes_size = 0;    ///< likewise for genotypes.jsonl
  int64_t evaluations_size = 0;  ///< likewise for evaluations.jsonl
  double elapsed_seconds = 0;    ///< search time of the finished steps
};

/// Writes supernet, strategy state, host state and the LibTorch CPU generator to
/// checkpoint/state.pt atomically (temporary file, fsync, rename).
void save_checkpoint(const RunPaths& paths, Supernet& net, const SearchStrategy& strategy,
                     const HostState& state);

/// Restores what save_checkpoint wrote; throws IoError saying what to do when the
/// file is damaged or belongs to another configuration.
HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy);

}  // namespace nasx::core
