// Baseline: keep the k members of highest individual validation accuracy.

#include <algorithm>

#include <nasx/ensemble.hpp>
#include <nasx/error.hpp>

namespace {

struct TopKOptions {
  int64_t k = 4;
};

const nasx::OptionsBinding<TopKOptions>& binding() {
  static const auto b = nasx::OptionsBinding<TopKOptions>().field(
      "k", &TopKOptions::k, "members kept", nasx::Range{1.0, {}});
  return b;
}

class TopK final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }
  void setup(const nasx::ParamValues& params) override { options_ = binding().read(params); }
  bool one_shot() const override { return true; }

  /// The k most accurate members (lowest index on ties); a pool of fewer than k is a
  /// ConfigError.
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64&) override {
    const int64_t k = options_.k;
    const int64_t n = pool.members();
    if (k > n)
      throw nasx::ConfigError("the top-k pruner keeps k = " + std::to_string(k) +
                              " members but the ensemble has only " + std::to_string(n) +
                              "; lower ensemble.k or build a larger pool (ensemble.members)");
    std::vector<double> error(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j)
      error[static_cast<size_t>(j)] = nasx::soft_vote_error(pool.probabilities, pool.labels, {j});
    std::vector<int64_t> order = nasx::all_members(n);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return error[static_cast<size_t>(a)] < error[static_cast<size_t>(b)];
    });
    std::vector<int64_t> kept(order.begin(), order.begin() + k);
    std::sort(kept.begin(), kept.end());
    return kept;
  }

 private:
  TopKOptions options_;
};

}  // namespace

NASX_PLUGIN(TopK, "top_k", "1.0.0", "baseline: keeps the k members of highest validation accuracy")
