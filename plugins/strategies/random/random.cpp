// Random search (Li & Talwalkar, UAI 2019; AutoDL's NB201 port, RANDOM-NAS.py).
// With evaluator = "shared" it is random search with weight sharing: the supernet's
// shared weights are first trained on uniformly sampled single paths, then uniformly
// sampled candidates are ranked by their accuracy on those weights (on [evaluator]
// batches validation minibatches each), and the `rescore_top_k` best are measured again
// on the whole validation split; the best of those is the answer (Li & Talwalkar: 1000
// candidates on 10 minibatches, the top 10 re-scored; the NB201 port: no re-scoring,
// rescore_top_k = 0). With other evaluators it is plain random search: each candidate's
// measurement is final and the best is the answer. Duplicates are measured once.

#include <algorithm>

#include <nasx/evaluate.hpp>
#include <nasx/metrics.hpp>
#include <nasx/sampling_search.hpp>
#include <nasx/space.hpp>

namespace {

struct RandomOptions : nasx::SamplingSearchOptions {
  int64_t candidates = 100;
  int64_t rescore_top_k = 10;
  int64_t rescore_batches = 0;
};

const nasx::OptionsBinding<RandomOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<RandomOptions> b;
    b.field("candidates", &RandomOptions::candidates, "architectures sampled and measured",
            nasx::Range{1.0, {}})
        .field("rescore_top_k", &RandomOptions::rescore_top_k,
               "evaluator = shared: the k best candidates measured again on the whole "
               "validation split, the best of them the answer (Li & Talwalkar: 10; 0: none)",
               nasx::Range{0.0, {}})
        .field("rescore_batches", &RandomOptions::rescore_batches,
               "validation minibatches of a re-score (0: the whole split)", nasx::Range{0.0, {}});
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
    rescores_ = ctx.evaluator() == "shared" && options_.rescore_top_k > 0;
    setup_sampling(ctx, options_);
  }

  std::optional<nasx::Architecture> best() const override {
    if (rescored_.empty()) return nasx::SamplingSearch::best();
    size_t best = 0;  // the highest re-scored accuracy, the better search rank on ties
    for (size_t i = 1; i < rescored_.size(); ++i)
      if (rescored_accuracy_[i] > rescored_accuracy_[best]) best = i;
    return rescored_[best];
  }

 protected:
  int64_t search_steps() const override { return sampling_steps() + (rescores_ ? 1 : 0); }

  std::map<std::string, double> search_step(nasx::Context& ctx, int64_t index) override {
    if (index == sampling_steps()) return rescore(ctx);
    const int64_t first = index * options_.evaluations_per_step;
    const int64_t last = std::min(options_.candidates, first + options_.evaluations_per_step);
    if (ctx.stop_requested()) return {{"step_best_acc", 0.0}};
    // The step's candidates measured as one group: on the shared evaluator's fixed
    // minibatches the work their paths share is done once.
    std::vector<nasx::Architecture> candidates;
    for (int64_t i = first; i < last; ++i) candidates.push_back(ctx.space().sample(rng()));
    // From 0, as before: a score evaluator's -infinity (a singular kernel) stays out.
    double step_best = 0;
    for (double accuracy : evaluate_all(ctx, candidates)) step_best = std::max(step_best, accuracy);
    return {{"step_best_acc", step_best}};
  }

  void own_state(nasx::StateArchive& archive) override {
    archive.field("rescored", rescored_).field("rescored_accuracy", rescored_accuracy_);
  }

 private:
  int64_t sampling_steps() const {
    return (options_.candidates + options_.evaluations_per_step - 1) /
           options_.evaluations_per_step;
  }

  /// The top-k candidates by their search accuracy, measured on the validation split.
  std::map<std::string, double> rescore(nasx::Context& ctx) {
    std::vector<std::pair<nasx::Architecture, double>> ranked(measurements().begin(),
                                                              measurements().end());
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    ranked.resize(std::min<size_t>(ranked.size(), static_cast<size_t>(options_.rescore_top_k)));
    rescored_.clear();
    rescored_accuracy_.clear();
    if (ctx.stop_requested()) return {};
    std::vector<nasx::Architecture> top;
    for (const auto& entry : ranked) top.push_back(entry.first);
    // Together, on each minibatch's BatchNorm statistics (the shared evaluator's default);
    // the progress line follows the minibatches, and a stop request ends it between them.
    const nasx::MetricsMeter no_metrics;
    const std::vector<nasx::EvalResult> full = nasx::evaluate_paths(
        ctx.supernet(), top, ctx.data().search, ctx.batch_size(), options_.rescore_batches,
        /*batch_statistics=*/true,
        [&](int64_t done, int64_t total) { ctx.report_progress(done, total, no_metrics); });
    for (size_t i = 0; i < ranked.size(); ++i) {
      rescored_.push_back(top[i]);
      rescored_accuracy_.push_back(full[i].accuracy);
      ctx.log_event("rescore", {{"architecture", ctx.space().format(top[i])},
                                {"search_acc", ranked[i].second},
                                {"rescored_acc", full[i].accuracy}});
    }
    return {{"rescored_best_acc",
             *std::max_element(rescored_accuracy_.begin(), rescored_accuracy_.end())}};
  }

  RandomOptions options_;
  bool rescores_ = false;
  std::vector<nasx::Architecture> rescored_;
  std::vector<double> rescored_accuracy_;
};

}  // namespace

NASX_PLUGIN(Random, "random", "1.0.0",
            "random search; with the shared evaluator, random search with weight sharing "
            "(top-k re-scored on the whole validation split)")
