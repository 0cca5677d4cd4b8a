#pragma once
/// One epoch over pairs of minibatches, the loop every bilevel method runs: the i-th
/// minibatch of the training split (weights) with the i-th of the search split
/// (architecture), each in its own seeded order per epoch, as many pairs as the smaller
/// split gives (or a cap). GradientSearch (DARTS, MiLeNAS, NA-DARTS) and the
/// perturbation selector's fine-tuning both run it, so sharding, stopping and progress
/// are written once.
///
///     PairedLoaders loaders(ctx, /*train_stream=*/11, /*search_stream=*/12);
///     auto metrics = paired_epoch(ctx, loaders, optimizer, epoch, cap,
///         [&](const Batch& train, const Batch& search, MetricsMeter& meter) { ... });

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "nasx/data.hpp"
#include "nasx/export.hpp"

namespace nasx {

class Context;
class MetricsMeter;
class WeightOptimizer;

/// The training and search loaders of a run, seeded from the experiment seed and two
/// stream numbers (different users draw different orders).
class NASX_API PairedLoaders {
 public:
  PairedLoaders(Context& ctx, uint64_t train_stream, uint64_t search_stream);

  /// Reorders both splits for `epoch`; returns the pairs it has (capped by
  /// `max_pairs` when > 0).
  int64_t begin_epoch(int64_t epoch, int64_t max_pairs);
  /// Pair `index` of the epoch; in a data-parallel run, this rank's slice of each.
  Batch train(int64_t index) const;
  Batch search(int64_t index) const;

 private:
  BatchLoader train_, search_;
};

/// One step of the loop: what a method does with one pair (gradients, optimizer steps),
/// adding what it measured to `meter`.
using PairStep = std::function<void(const Batch& train, const Batch& search, MetricsMeter& meter)>;

/// Runs `step` over the pairs of `epoch` (the schedule of `weights` set to it), reporting
/// progress after each and stopping early when the host asks; returns the meter's means
/// plus the epoch's learning rate "lr".
NASX_API std::map<std::string, double> paired_epoch(Context& ctx, PairedLoaders& loaders,
                                                    WeightOptimizer& weights, int64_t epoch,
                                                    int64_t max_pairs, const PairStep& step);

}  // namespace nasx
