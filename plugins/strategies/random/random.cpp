// Random search (Li & Talwalkar, UAI 2019; AutoDL's NB201 port, RANDOM-NAS.py).
// With evaluator = "shared" it is random search with weight sharing: the supernet's
// shared weights are first trained on uniformly sampled single paths, then uniformly
// sampled candidates are ranked by their accuracy on those weights. With "train" it is
// plain random search: each candidate trains its own network. Either way the best
// measured candidate is the answer; duplicates are measured once.

#include <nasx/sampling_search.hpp>
#include <nasx/space.hpp>

namespace {

struct RandomOptions : nasx::SamplingSearchOptions {
  int64_t candidates = 100;
};

const nasx::OptionsBinding<RandomOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<RandomOptions> b;
    b.field("candidates", &RandomOptions::candidates, "architectures sampled and measured",
            nasx::Range{1.0, {}});
    nasx::bind_sampling_search(b);
    return b;
  }();
  return b;
}

class Random final : public nasx::SamplingSearch {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    setup_sampling(ctx, options_);
  }

 protected:
  int64_t search_steps() const override {
    return (options_.candidates + options_.evaluations_per_step - 1) /
           options_.evaluations_per_step;
  }

  std::map<std::string, double> search_step(nasx::Context& ctx, int64_t index) override {
    const int64_t first = index * options_.evaluations_per_step;
    const int64_t last = std::min(options_.candidates, first + options_.evaluations_per_step);
    double step_best = 0;
    for (int64_t i = first; i < last && !ctx.stop_requested(); ++i)
      step_best = std::max(step_best, evaluate(ctx, ctx.space().sample(rng())));
    return {{"step_best_acc", step_best}};
  }

  // What random search keeps (generator, measurements, answer) is SamplingSearch's.
  void own_state(nasx::StateArchive&) override {}

 private:
  RandomOptions options_;
};

}  // namespace

NASX_PLUGIN(Random, "random", "1.0.0",
            "random search; with the shared evaluator, random search with weight sharing")
