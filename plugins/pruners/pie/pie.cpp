// PIE (SAEP): greedy TDAC (diversity + relevance) selection of n - 1 members.
// The measures and the criterion are in information.hpp, tested directly.

#include "pie/information.hpp"

namespace {

struct PieOptions {
  double lambda = 0.5;
};

const nasx::OptionsBinding<PieOptions>& binding() {
  static const auto b = nasx::OptionsBinding<PieOptions>().field(
      "lambda", &PieOptions::lambda,
      "weight of diversity (VI) against relevance (MI with the labels)", nasx::Range{0.0, 1.0});
  return b;
}

class Pie final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }
  void setup(const nasx::ParamValues& params) override { options_ = binding().read(params); }
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64& rng) override {
    return nasx::pie::prune_entropy(pool, options_.lambda, rng);
  }

 private:
  PieOptions options_;
};

}  // namespace

NASX_PLUGIN(Pie, "pie", "1.0.0",
            "SAEP PIE: drops the member the information-entropy objective leaves out")
