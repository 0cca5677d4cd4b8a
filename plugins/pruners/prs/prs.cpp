// PRS (SAEP): with probability 1/2 drop one member chosen uniformly; a baseline.

#include <random>

#include <nasx/ensemble.hpp>

namespace {

class Prs final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() { return {}; }
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64& rng) override {
    const int64_t members = pool.members();
    std::vector<int64_t> kept = nasx::all_members(members);
    if (members <= 2) return kept;
    if (std::bernoulli_distribution(0.5)(rng)) {
      std::uniform_int_distribution<int64_t> pick(0, members - 1);
      kept.erase(kept.begin() + pick(rng));
    }
    return kept;
  }
};

}  // namespace

NASX_PLUGIN(Prs, "prs", "1.0.0", "SAEP PRS: drops one random member half of the time (baseline)")
