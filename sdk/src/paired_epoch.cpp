#include "nasx/paired_epoch.hpp"

#include <algorithm>

#include "nasx/context.hpp"
#include "nasx/distributed.hpp"
#include "nasx/metrics.hpp"
#include "nasx/optim.hpp"

namespace nasx {

PairedLoaders::PairedLoaders(Context& ctx, uint64_t train_stream, uint64_t search_stream)
    : train_(ctx.data().train, ctx.batch_size(), derive_seed(ctx.seed(), train_stream)),
      search_(ctx.data().search, ctx.batch_size(), derive_seed(ctx.seed(), search_stream)) {}

int64_t PairedLoaders::begin_epoch(int64_t epoch, int64_t max_pairs) {
  train_.set_epoch(epoch);
  search_.set_epoch(epoch);
  const int64_t pairs = std::min(train_.batches_per_epoch(), search_.batches_per_epoch());
  return max_pairs > 0 ? std::min(pairs, max_pairs) : pairs;
}

Batch PairedLoaders::train(int64_t index) const { return shard_batch(train_.batch(index)); }
Batch PairedLoaders::search(int64_t index) const { return shard_batch(search_.batch(index)); }

std::map<std::string, double> paired_epoch(Context& ctx, PairedLoaders& loaders,
                                           WeightOptimizer& weights, int64_t epoch,
                                           int64_t max_pairs, const PairStep& step) {
  weights.set_epoch(epoch);
  const int64_t pairs = loaders.begin_epoch(epoch, max_pairs);
  MetricsMeter meter;
  for (int64_t i = 0; i < pairs && !ctx.stop_requested(); ++i) {
    step(loaders.train(i), loaders.search(i), meter);
    ctx.report_progress(i + 1, pairs, meter);
  }
  auto metrics = meter.means();
  metrics["lr"] = weights.lr();
  return metrics;
}

}  // namespace nasx
