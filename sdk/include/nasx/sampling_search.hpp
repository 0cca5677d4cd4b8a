#pragma once
/// What strategies that sample architectures share (random search, NA-RS, evolution):
/// with the `shared` evaluator, first `supernet_epochs` epochs of uniform single-path
/// training of the supernet's shared weights (random search with weight sharing, Li &
/// Talwalkar 2019); then the strategy's search steps, each evaluating a few
/// architectures through ctx.evaluate_all() with a cache (an architecture is measured once;
/// the shared weights no longer change by then). The best evaluated architecture is the
/// answer. Optimizer, generator, cache and the strategy's own state are checkpointed.

#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "nasx/architecture.hpp"
#include "nasx/data.hpp"
#include "nasx/evaluation.hpp"
#include "nasx/optim.hpp"
#include "nasx/params.hpp"
#include "nasx/strategy.hpp"

namespace nasx {

class MetricsMeter;

/// Single-path training of the shared weights for one epoch: per training minibatch one
/// architecture from `sample`, its path forward and backward, one SGD step. Gradients
/// are cleared first, so operations off the path are not touched (no decay, no momentum).
NASX_API std::map<std::string, double> train_paths_epoch(
    Context& ctx, WeightOptimizer& optimizer, BatchLoader& loader, int64_t epoch,
    int64_t max_batches, const std::function<Architecture()>& sample);

/// The settings sampling strategies share. Weight defaults: the NB201 port's (SGD lr
/// 0.025 Nesterov, momentum 0.9, wd 5e-4, cosine to 0.001, clip 5).
struct SamplingSearchOptions : WeightSgdParams {
  int64_t supernet_epochs = 50;
  int64_t steps_per_epoch = 0;
  int64_t evaluations_per_step = 10;
  SamplingSearchOptions() {
    w_nesterov = true;
    w_weight_decay = 5e-4;
  }
};

template <class Options>
OptionsBinding<Options>& bind_sampling_search(OptionsBinding<Options>& b) {
  using O = SamplingSearchOptions;
  return b
      .field("supernet_epochs", &O::supernet_epochs,
             "evaluator = shared: epochs of uniform single-path supernet training first "
             "(ignored with other evaluators)",
             Range{0.0, {}})
      .field("w_lr", &O::w_lr, "shared weights: SGD learning rate, cosine-annealed", Range{0.0, {}})
      .field("w_lr_min", &O::w_lr_min, "shared weights: final learning rate", Range{0.0, 10.0})
      .field("w_momentum", &O::w_momentum, "shared weights: SGD momentum", Range{0.0, 0.999})
      .field("w_nesterov", &O::w_nesterov, "shared weights: Nesterov momentum")
      .field("w_weight_decay", &O::w_weight_decay, "shared weights: L2 decay", Range{0.0, 1.0})
      .field("grad_clip", &O::grad_clip, "shared weights: max gradient norm (0: off)",
             Range{0.0, {}})
      .field("steps_per_epoch", &O::steps_per_epoch,
             "cap on minibatches per supernet epoch (0: one pass)", Range{0.0, {}})
      .field("evaluations_per_step", &O::evaluations_per_step,
             "candidates per host step (a checkpoint follows every step; those that do not "
             "depend on each other are measured as one group)",
             Range{1.0, {}});
}

class NASX_API SamplingSearch : public SearchStrategy {
 public:
  ~SamplingSearch() override;
  int64_t total_steps() const override { return supernet_epochs_ + search_steps(); }
  std::map<std::string, double> step(Context& ctx, int64_t step) override;
  bool trains_arch_parameters() const override { return false; }
  /// The highest accuracy measured (strategies that rank otherwise override this).
  std::optional<Architecture> best() const override { return best_; }
  /// The optimizer, generator, cache and answer, then the strategy's own_state().
  void state(StateArchive& archive) final;

 protected:
  /// Builds the optimizer, loader and generator; call from setup().
  void setup_sampling(Context& ctx, const SamplingSearchOptions& options);

  virtual int64_t search_steps() const = 0;
  /// Search step `index` (0-based, after the supernet epochs): evaluate candidates.
  virtual std::map<std::string, double> search_step(Context& ctx, int64_t index) = 0;

  /// The architecture's accuracy: from the cache, or measured (and cached).
  double evaluate(Context& ctx, const Architecture& arch);
  /// The accuracies of `archs`, in their order: those not cached yet measured in one
  /// group (each distinct one once, in the order first met), then cached, and the answer
  /// updated in that order, so a group finds what evaluate() one by one would find.
  std::vector<double> evaluate_all(Context& ctx, const std::vector<Architecture>& archs);
  /// How the cache is filled: `archs` (distinct, none cached) measured by the run's
  /// evaluator, together where it can (ctx.evaluate_all) by default; a training-free
  /// search scores them with ctx.score() instead. One measurement per architecture, in
  /// order. What it throws (a stop request) leaves the cache as it was: the host discards
  /// the step and a resumed run redoes it.
  virtual std::vector<Evaluation> measure_all(Context& ctx,
                                              const std::vector<Architecture>& archs) {
    return ctx.evaluate_all(archs);
  }
  /// Whether measure_all() reads the run's evaluator (false: no supernet training either).
  virtual bool uses_evaluator() const { return true; }
  /// Distinct architectures measured so far.
  int64_t evaluated() const { return static_cast<int64_t>(cache_.size()); }
  /// Every distinct architecture measured so far, with its accuracy.
  const std::map<Architecture, double>& measurements() const { return cache_; }

  std::mt19937_64& rng() { return rng_; }
  const SamplingSearchOptions& sampling_options() const { return options_; }

  /// The strategy's own persistent state beyond what SamplingSearch keeps (optimizer,
  /// rng(), the cache of measurements, the answer): a population, scores, counters,
  /// listed once for both directions. Required, so that none is forgotten: a strategy
  /// without any says so with an empty body.
  virtual void own_state(StateArchive& archive) = 0;

 private:
  SamplingSearchOptions options_;
  int64_t supernet_epochs_ = 0;
  std::optional<WeightOptimizer> optimizer_;
  std::optional<BatchLoader> loader_;
  std::mt19937_64 rng_;
  std::map<Architecture, double> cache_;
  std::optional<Architecture> best_;  // highest accuracy, first reached on ties
  double best_accuracy_ = 0;
};

/// NA-RS's score of `arch`: the accuracies of its neighbourhood (every architecture one
/// operation away, or `sample` of them drawn uniformly when 0 < sample < all), itself
/// included with `include_self`, aggregated by mean or, with `worst`, min.
struct NeighbourhoodScore {
  double score = 0;
  double own = 0;       ///< the architecture's own accuracy
  int64_t members = 0;  ///< architectures aggregated
};
NASX_API NeighbourhoodScore
neighbourhood_score(const SearchSpace& space, const Architecture& arch,
                    const std::function<double(const Architecture&)>& accuracy, int64_t sample,
                    bool worst, bool include_self, std::mt19937_64& rng);
/// neighbourhood_score in two halves, for a caller that measures the members together
/// first: the members (drawing from `rng` as neighbourhood_score does), then their
/// aggregate, reading `accuracy` of the architecture itself first, then of each member.
NASX_API std::vector<Architecture> neighbourhood_members(const SearchSpace& space,
                                                         const Architecture& arch, int64_t sample,
                                                         bool include_self, std::mt19937_64& rng);
NASX_API NeighbourhoodScore
aggregate_neighbourhood(const Architecture& arch, const std::vector<Architecture>& members,
                        const std::function<double(const Architecture&)>& accuracy, bool worst);

}  // namespace nasx
