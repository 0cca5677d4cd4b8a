// PAP (SAEP): keep the members whose removal raises the soft-vote error.

#include <algorithm>

#include <nasx/ensemble.hpp>

namespace {

struct PapOptions {
  bool reference_sign = false;
};

const nasx::OptionsBinding<PapOptions>& binding() {
  static const auto b = nasx::OptionsBinding<PapOptions>().field(
      "reference_sign", &PapOptions::reference_sign,
      "keep the members whose removal LOWERS the error, as the reference code does");
  return b;
}

class Pap final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }
  void setup(const nasx::ParamValues& params) override { options_ = binding().read(params); }

  /// Δ_j = err(S \ j) - err(S); keeps Δ_j > 0 (or Δ_j < 0 with the reference's sign),
  /// else the 2 largest (lowest index on ties).
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64&) override {
    const bool reference_sign = options_.reference_sign;
    const int64_t n = pool.members();
    if (n <= 2) return nasx::all_members(n);
    const double full = nasx::soft_vote_error(pool.probabilities, pool.labels);
    std::vector<double> damage(static_cast<size_t>(n));  // Δ_j = err(S \ j) - err(S)
    for (int64_t j = 0; j < n; ++j) {
      std::vector<int64_t> rest = nasx::all_members(n);
      rest.erase(rest.begin() + j);
      damage[static_cast<size_t>(j)] =
          nasx::soft_vote_error(pool.probabilities, pool.labels, rest) - full;
    }
    // The reference code's sign: keep those whose removal would lower the error.
    if (reference_sign)
      for (double& d : damage) d = -d;
    std::vector<int64_t> kept;
    for (int64_t j = 0; j < n; ++j)
      if (damage[static_cast<size_t>(j)] > 0) kept.push_back(j);
    if (kept.size() >= 2) return kept;
    std::vector<int64_t> order = nasx::all_members(n);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return damage[static_cast<size_t>(a)] > damage[static_cast<size_t>(b)];
    });
    kept = {order[0], order[1]};
    std::sort(kept.begin(), kept.end());
    return kept;
  }

 private:
  PapOptions options_;
};

}  // namespace

NASX_PLUGIN(Pap, "pap", "1.0.0",
            "SAEP PAP: keeps the members whose removal raises the validation error")
