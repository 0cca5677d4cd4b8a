// Baseline: keep every member.
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
  bool one_shot() const override { return true; }
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64& rng) override {
    (void)rng;
    std::vector<int64_t> all(static_cast<size_t>(pool.members()));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    return all;
  }
};

}  // namespace

NASX_PLUGIN(Pruner, "keep_all", "1.0.0", "baseline: keeps every member")
