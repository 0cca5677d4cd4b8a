// Baseline: keeps every member (the whole pool as one ensemble).

#include <nasx/ensemble.hpp>

namespace {

class KeepAll final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() { return {}; }
  bool one_shot() const override { return true; }
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64&) override {
    return nasx::all_members(pool.members());
  }
};

}  // namespace

NASX_PLUGIN(KeepAll, "keep_all", "1.0.0", "baseline: keeps every member")
