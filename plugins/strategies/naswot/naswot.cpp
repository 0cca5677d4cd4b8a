// NASWOT search (Mellor et al., ICML 2021, Algorithm 1): sample N architectures uniformly
// (with replacement), score each untrained network (Context::score, the scorer that
// [evaluator] scorer names, NASWOT by default), answer with the best score. No training;
// a singular kernel (score -infinity) is never the answer.

#include <cmath>
#include <limits>

#include <nasx/sampling_search.hpp>
#include <nasx/space.hpp>

namespace {

struct NaswotOptions : nasx::SamplingSearchOptions {
  int64_t samples = 100;
  NaswotOptions() { supernet_epochs = 0; }
};

const nasx::OptionsBinding<NaswotOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<NaswotOptions> b;
    b.field("samples", &NaswotOptions::samples, "N: architectures sampled and scored",
            nasx::Range{1.0, {}})
        .field("evaluations_per_step", &NaswotOptions::evaluations_per_step,
               "architectures scored per host step (a checkpoint follows every step)",
               nasx::Range{1.0, {}});
    return b;
  }();
  return b;
}

class NaswotSearch final : public nasx::SamplingSearch {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    setup_sampling(ctx, options_);
  }

 protected:
  std::vector<nasx::Evaluation> measure_all(nasx::Context& ctx,
                                            const std::vector<nasx::Architecture>& archs) override {
    std::vector<nasx::Evaluation> scores;
    for (const nasx::Architecture& arch : archs) scores.push_back(ctx.score(arch));
    return scores;
  }
  bool uses_evaluator() const override { return false; }

  int64_t search_steps() const override {
    return (options_.samples + options_.evaluations_per_step - 1) / options_.evaluations_per_step;
  }

  std::map<std::string, double> search_step(nasx::Context& ctx, int64_t index) override {
    const int64_t first = index * options_.evaluations_per_step;
    const int64_t last = std::min(options_.samples, first + options_.evaluations_per_step);
    double step_best = -std::numeric_limits<double>::infinity();
    for (int64_t i = first; i < last && !ctx.stop_requested(); ++i)
      step_best = std::max(step_best, evaluate(ctx, ctx.space().sample(rng())));
    // Metrics must be finite: a step whose every kernel was singular reports none.
    if (!std::isfinite(step_best)) return {};
    return {{"step_best_score", step_best}};
  }

  // What NASWOT search keeps (generator, scores, answer) is SamplingSearch's.
  void own_state(nasx::StateArchive&) override {}

 private:
  NaswotOptions options_;
};

}  // namespace

NASX_PLUGIN(NaswotSearch, "naswot", "1.0.0",
            "NASWOT search: the best training-free score of N sampled architectures (Mellor et "
            "al. 2021)")
