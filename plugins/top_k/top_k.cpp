// Baseline: keep the k members of highest individual validation accuracy.
// The criterion lives in the SDK (nasx/ensemble.hpp), where it is tested directly.

#include <nasx/ensemble.hpp>
#include <nasx/error.hpp>

namespace {

class Pruner final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() {
    nasx::ParamSchema schema;
    schema.add({"k", nasx::ParamType::Int, int64_t{4}, {1.0, {}}, {}, "members kept"});
    return schema;
  }
  void setup(const nasx::ParamValues& params) override {
    (void)params;
    k_ = std::get<int64_t>(params.at("k"));
  }
  bool one_shot() const override { return true; }
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64& rng) override {
    (void)rng;
    return nasx::keep_top_k(pool, k_);
  }

 private:
  int64_t k_ = 4;
};

}  // namespace

NASX_PLUGIN(Pruner, "top_k", "1.0.0",
            "baseline: keeps the k members of highest validation accuracy")
