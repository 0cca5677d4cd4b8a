// AREA, assisted regularised evolution (Mellor et al., ICML 2021, section 5): regularised
// evolution whose initial population is the P best of M uniformly drawn architectures
// by a training-free score (Context::score, NASWOT by default); the population is then
// measured with the run's evaluator and evolved unchanged.

#include <algorithm>
#include <numeric>

#include <nasx/error.hpp>
#include <nasx/evolution.hpp>
#include <nasx/space.hpp>

namespace {

struct AreaOptions : nasx::EvolutionOptions {
  int64_t initial_samples = 20;
};

const nasx::OptionsBinding<AreaOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<AreaOptions> b;
    b.field("initial_samples", &AreaOptions::initial_samples,
            "M: architectures scored to choose the initial population from (the paper's 20)",
            nasx::Range{1.0, {}});
    nasx::bind_evolution(b);
    return b;
  }();
  return b;
}

class Area final : public nasx::RegularizedEvolution {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    if (options_.initial_samples < options_.population)
      throw nasx::ConfigError(
          "search.initial_samples = " + std::to_string(options_.initial_samples) +
          " is smaller than search.population = " + std::to_string(options_.population) +
          "; AREA keeps the population's best of initial_samples");
    setup_evolution(ctx, options_);
  }

 protected:
  std::vector<nasx::Architecture> initial_population(nasx::Context& ctx) override {
    std::vector<nasx::Architecture> candidates;
    std::vector<double> scores;
    for (int64_t i = 0; i < options_.initial_samples; ++i) {
      candidates.push_back(ctx.space().sample(rng()));
      scores.push_back(ctx.score(candidates.back()).accuracy);
    }
    // The best P by score; draw order breaks ties, and -infinity sorts last.
    std::vector<size_t> order(candidates.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    std::vector<nasx::Architecture> chosen;
    for (int64_t i = 0; i < options_.population; ++i)
      chosen.push_back(candidates[order[static_cast<size_t>(i)]]);
    return chosen;
  }

 private:
  AreaOptions options_;
};

}  // namespace

NASX_PLUGIN(Area, "area", "1.0.0",
            "assisted regularised evolution: the initial population chosen by a training-free "
            "score (Mellor et al. 2021)")
