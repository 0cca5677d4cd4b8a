#include "nasx/gradient_search.hpp"

#include <torch/serialize/archive.h>

#include "nasx/bilevel.hpp"
#include "nasx/context.hpp"
#include "nasx/distributed.hpp"
#include "nasx/metrics.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

GradientSearch::~GradientSearch() = default;

void GradientSearch::setup_search(Context& ctx, const GradientSearchOptions& options) {
  options_ = options;
  auto& net = ctx.supernet();
  weight_optimizer_.emplace(net.weight_parameters(), options.sgd(options.epochs));
  arch_optimizer_.emplace(net.arch_parameters(), options.adam());
  const auto& data = ctx.data();
  train_loader_.emplace(data.train, ctx.batch_size(), derive_seed(ctx.seed(), 11));
  search_loader_.emplace(data.search, ctx.batch_size(), derive_seed(ctx.seed(), 12));
}

std::map<std::string, double> GradientSearch::step(Context& ctx, int64_t epoch) {
  auto& net = ctx.supernet();
  weight_optimizer_->set_epoch(epoch);
  train_loader_->set_epoch(epoch);
  search_loader_->set_epoch(epoch);
  int64_t batches =
      std::min(train_loader_->batches_per_epoch(), search_loader_->batches_per_epoch());
  if (options_.steps_per_epoch > 0) batches = std::min(batches, options_.steps_per_epoch);
  MetricsMeter meter;
  for (int64_t i = 0; i < batches && !ctx.stop_requested(); ++i) {
    // Each rank's slice of the one-process batches (the whole batch in one process).
    const Batch train = shard_batch(train_loader_->batch(i));
    const Batch search = shard_batch(search_loader_->batch(i));
    arch_optimizer_->zero_grad();
    const at::Tensor arch_loss = arch_gradient(ctx, train, search);
    arch_optimizer_->step();
    const ForwardResult weights = weight_step(net, *weight_optimizer_, train);
    meter.add("arch_loss", arch_loss, search.labels.size(0));
    meter.add("train_loss", weights.loss.detach(), train.labels.size(0));
    meter.add_accuracy("train_acc", weights.logits.detach(), train.labels);
    ctx.report_progress(i + 1, batches, meter);
  }
  auto metrics = meter.means();
  metrics["lr"] = weight_optimizer_->lr();
  return metrics;
}

void GradientSearch::save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive weights, arch, extra;
  weight_optimizer_->save(weights);
  arch_optimizer_->save(arch);
  save_extra(extra);
  archive.write("weight_optimizer", weights);
  archive.write("arch_optimizer", arch);
  archive.write("extra", extra);
}

void GradientSearch::load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive weights, arch, extra;
  archive.read("weight_optimizer", weights);
  archive.read("arch_optimizer", arch);
  archive.read("extra", extra);
  weight_optimizer_->load(weights);
  arch_optimizer_->load(arch);
  load_extra(extra);
}

void GradientSearch::save_extra(torch::serialize::OutputArchive&) const {}
void GradientSearch::load_extra(torch::serialize::InputArchive&) {}

}  // namespace nasx
