// PIE (SAEP): greedy TDAC (diversity + relevance) selection of n - 1 members.
// The criterion lives in the SDK (nasx/ensemble.hpp), where it is tested directly.

#include <nasx/ensemble.hpp>
#include <nasx/error.hpp>

namespace {

class Pruner final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() {
    nasx::ParamSchema schema;
    schema.add({"lambda",
                nasx::ParamType::Float,
                0.5,
                {0.0, 1.0},
                {},
                "weight of diversity (VI) against relevance (MI with the labels)"});
    return schema;
  }
  void setup(const nasx::ParamValues& params) override {
    (void)params;
    lambda_ = std::get<double>(params.at("lambda"));
  }
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64& rng) override {
    (void)rng;
    return nasx::prune_entropy(pool, lambda_, rng);
  }

 private:
  double lambda_ = 0.5;
};

}  // namespace

NASX_PLUGIN(Pruner, "pie", "1.0.0",
            "SAEP PIE: drops the member the information-entropy objective leaves out")
