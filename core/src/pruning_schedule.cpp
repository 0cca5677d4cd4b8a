#include "nasx/core/pruning_schedule.hpp"

#include "nasx/ensemble.hpp"

namespace nasx::core {

std::vector<int64_t> prune_online(const EnsemblePool& pool, const PruneStep& step,
                                  std::mt19937_64& rng) {
  std::vector<int64_t> kept;
  for (int64_t t = 0; t < pool.members(); ++t) {
    if (kept.size() > 2) {
      const std::vector<int64_t> local = step(select_members(pool, kept), rng);
      std::vector<int64_t> next;
      for (int64_t i : local) next.push_back(kept.at(static_cast<size_t>(i)));
      kept = next;
    }
    kept.push_back(t);
  }
  return kept;
}

std::vector<int64_t> prune_offline(const EnsemblePool& pool, const PruneStep& step, int64_t target,
                                   double tolerance, std::mt19937_64& rng) {
  std::vector<int64_t> kept = all_members(pool.members());
  const double start_error = soft_vote_error(pool.probabilities, pool.labels);
  while (kept.size() > 2 && (target <= 0 || static_cast<int64_t>(kept.size()) > target)) {
    const std::vector<int64_t> local = step(select_members(pool, kept), rng);
    if (local.size() >= kept.size()) break;  // the criterion removes nothing more
    std::vector<int64_t> next;
    for (int64_t i : local) next.push_back(kept.at(static_cast<size_t>(i)));
    if (soft_vote_error(pool.probabilities, pool.labels, next) > start_error + tolerance) break;
    kept = next;
  }
  return kept;
}

}  // namespace nasx::core
