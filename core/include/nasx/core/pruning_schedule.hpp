#pragma once
/// How the host applies a pruner plugin to an ensemble (SAEP): online, as members arrive,
/// or offline, repeatedly on the finished pool.

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "nasx/pruner.hpp"

namespace nasx::core {

/// One pruning decision, as a pruner plugin makes it: kept indices into the pool given.
using PruneStep = std::function<std::vector<int64_t>(const EnsemblePool&, std::mt19937_64&)>;

/// Online (SAEP's own): members arrive in index order; before member t joins, the kept
/// set is pruned once. The newest member is never pruned the iteration it arrives.
std::vector<int64_t> prune_online(const EnsemblePool& pool, const PruneStep& step,
                                  std::mt19937_64& rng);
/// Offline, on a finished pool: apply `step` repeatedly while it removes members, the
/// kept set is larger than `target` (0: no target) and the validation error stays
/// within `tolerance` of the whole pool's.
std::vector<int64_t> prune_offline(const EnsemblePool& pool, const PruneStep& step, int64_t target,
                                   double tolerance, std::mt19937_64& rng);

}  // namespace nasx::core
