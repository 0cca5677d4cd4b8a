#include "nasx/gradient_search.hpp"

#include "nasx/bilevel.hpp"
#include "nasx/context.hpp"
#include "nasx/metrics.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

GradientSearch::~GradientSearch() = default;

void GradientSearch::setup_search(Context& ctx, const GradientSearchOptions& options) {
  options_ = options;
  auto& net = ctx.supernet();
  weight_optimizer_.emplace(net.weight_parameters(), options.sgd(options.epochs));
  arch_optimizer_.emplace(net.arch_parameters(), options.adam());
  loaders_.emplace(ctx, /*train_stream=*/11, /*search_stream=*/12);
}

std::map<std::string, double> GradientSearch::step(Context& ctx, int64_t epoch) {
  auto& net = ctx.supernet();
  return paired_epoch(ctx, *loaders_, *weight_optimizer_, epoch, options_.steps_per_epoch,
                      [&](const Batch& train, const Batch& search, MetricsMeter& meter) {
                        if (options_.trains_alpha()) {
                          arch_optimizer_->zero_grad();
                          const at::Tensor arch_loss = arch_gradient(ctx, train, search);
                          arch_optimizer_->step();
                          meter.add("arch_loss", arch_loss, search.labels.size(0));
                        }
                        const ForwardResult weights = weight_step(net, *weight_optimizer_, train);
                        meter.add("train_loss", weights.loss.detach(), train.labels.size(0));
                        meter.add_accuracy("train_acc", weights.logits.detach(), train.labels);
                      });
}

void GradientSearch::state(StateArchive& archive) {
  archive.object("weight_optimizer", *weight_optimizer_)
      .object("arch_optimizer", *arch_optimizer_)
      .group("own", [this](StateArchive& own) { own_state(own); });
}

}  // namespace nasx
