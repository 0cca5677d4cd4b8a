// PRS (SAEP): with probability 1/2 drop one member chosen uniformly; a baseline.
// The criterion lives in the SDK (nasx/ensemble.hpp), where it is tested directly.

#include <nasx/ensemble.hpp>
#include <nasx/error.hpp>

namespace {

class Pruner final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() {
    nasx::ParamSchema schema;

    return schema;
  }
  void setup(const nasx::ParamValues& params) override { (void)params; }
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64& rng) override {
    (void)rng;
    return nasx::prune_random(pool.members(), rng);
  }
};

}  // namespace

NASX_PLUGIN(Pruner, "prs", "1.0.0", "SAEP PRS: drops one random member half of the time (baseline)")
