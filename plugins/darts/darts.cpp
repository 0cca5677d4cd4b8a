// DARTS: differentiable architecture search (Liu, Simonyan, Yang, ICLR 2019).
// Alternates an architecture step on a search minibatch (first-order, or
// second-order through one unrolled weight step) and a weight step on a training
// minibatch; defaults are the reference code's (quark0/darts, train_search.py).
// The gradients, optimizers and loaders are the SDK's; this file states the loop.

#include <torch/serialize/archive.h>
#include <nasx/bilevel.hpp>
#include <nasx/metrics.hpp>
#include <nasx/optim.hpp>
#include <nasx/strategy.hpp>
#include <nasx/supernet.hpp>

#include <memory>
#include <optional>

namespace {

struct DartsOptions {
  std::string order = "first";
  int64_t epochs = 50;
  double w_lr = 0.025;
  double w_lr_min = 0.001;
  double w_momentum = 0.9;
  double w_weight_decay = 3e-4;
  double grad_clip = 5.0;
  double arch_lr = 3e-4;
  double arch_beta1 = 0.5;
  double arch_beta2 = 0.999;
  double arch_weight_decay = 1e-3;
  double unrolled_r = 0.01;
  int64_t steps_per_epoch = 0;
};

const nasx::OptionsBinding<DartsOptions>& binding() {
  using nasx::Range;
  static const auto b =
      nasx::OptionsBinding<DartsOptions>()
          .field("order", &DartsOptions::order,
                 "architecture gradient: first (w fixed) or second (one unrolled step, Eq. 7)",
                 {"first", "second"})
          .field("epochs", &DartsOptions::epochs, "search epochs (one host step each)",
                 Range{1.0, {}})
          .field("w_lr", &DartsOptions::w_lr, "weight SGD learning rate, cosine-annealed",
                 Range{0.0, {}})
          .field("w_lr_min", &DartsOptions::w_lr_min, "final weight learning rate",
                 Range{0.0, 10.0})
          .field("w_momentum", &DartsOptions::w_momentum, "weight SGD momentum", Range{0.0, 0.999})
          .field("w_weight_decay", &DartsOptions::w_weight_decay, "weight L2 decay",
                 Range{0.0, 1.0})
          .field("grad_clip", &DartsOptions::grad_clip, "max weight-gradient norm (0: off)",
                 Range{0.0, {}})
          .field("arch_lr", &DartsOptions::arch_lr, "architecture Adam learning rate",
                 Range{0.0, 1.0})
          .field("arch_beta1", &DartsOptions::arch_beta1, "architecture Adam beta1",
                 Range{0.0, 0.999999})
          .field("arch_beta2", &DartsOptions::arch_beta2, "architecture Adam beta2",
                 Range{0.0, 0.999999})
          .field("arch_weight_decay", &DartsOptions::arch_weight_decay, "architecture L2 decay",
                 Range{0.0, 1.0})
          .field("unrolled_r", &DartsOptions::unrolled_r,
                 "second order: finite-difference step R = unrolled_r / |v|", Range{1e-8, 1.0})
          .field("steps_per_epoch", &DartsOptions::steps_per_epoch,
                 "cap on minibatches per epoch (0: one pass over the smaller split)",
                 Range{0.0, {}});
  return b;
}

class Darts final : public nasx::SearchStrategy {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    auto& net = ctx.supernet();
    nasx::SgdOptions sgd;
    sgd.lr = options_.w_lr;
    sgd.lr_min = options_.w_lr_min;
    sgd.momentum = options_.w_momentum;
    sgd.weight_decay = options_.w_weight_decay;
    sgd.grad_clip = options_.grad_clip;
    sgd.epochs = options_.epochs;
    nasx::AdamOptions adam;
    adam.lr = options_.arch_lr;
    adam.beta1 = options_.arch_beta1;
    adam.beta2 = options_.arch_beta2;
    adam.weight_decay = options_.arch_weight_decay;
    weight_optimizer_.emplace(net.weight_parameters(), sgd);
    arch_optimizer_.emplace(net.arch_parameters(), adam);
    const auto& data = ctx.data();
    train_loader_.emplace(data.train, ctx.batch_size(), nasx::derive_seed(ctx.seed(), 11));
    search_loader_.emplace(data.search, ctx.batch_size(), nasx::derive_seed(ctx.seed(), 12));
  }

  int64_t total_steps() const override { return options_.epochs; }

  std::map<std::string, double> step(nasx::Context& ctx, int64_t epoch) override {
    auto& net = ctx.supernet();
    weight_optimizer_->set_epoch(epoch);
    train_loader_->set_epoch(epoch);
    search_loader_->set_epoch(epoch);
    int64_t batches =
        std::min(train_loader_->batches_per_epoch(), search_loader_->batches_per_epoch());
    if (options_.steps_per_epoch > 0) batches = std::min(batches, options_.steps_per_epoch);
    nasx::BilevelOptions bilevel;
    bilevel.gradient = options_.order == "second" ? nasx::ArchGradient::SecondOrder
                                                  : nasx::ArchGradient::FirstOrder;
    bilevel.unrolled_r = options_.unrolled_r;
    nasx::MetricsMeter meter;
    for (int64_t i = 0; i < batches && !ctx.stop_requested(); ++i) {
      const nasx::Batch train = train_loader_->batch(i);
      const nasx::Batch search = search_loader_->batch(i);
      const auto result =
          nasx::bilevel_step(net, *weight_optimizer_, *arch_optimizer_, train, search, bilevel);
      meter.add("arch_loss", result.arch_loss, search.labels.size(0));
      meter.add("train_loss", result.weights.loss, train.labels.size(0));
      meter.add_accuracy("train_acc", result.weights.logits, train.labels);
      ctx.report_progress(i + 1, batches, meter);
    }
    auto metrics = meter.means();
    metrics["lr"] = weight_optimizer_->lr();
    return metrics;
  }

  void save(torch::serialize::OutputArchive& archive) const override {
    torch::serialize::OutputArchive weights, arch;
    weight_optimizer_->save(weights);
    arch_optimizer_->save(arch);
    archive.write("weight_optimizer", weights);
    archive.write("arch_optimizer", arch);
  }

  void load(torch::serialize::InputArchive& archive) override {
    torch::serialize::InputArchive weights, arch;
    archive.read("weight_optimizer", weights);
    archive.read("arch_optimizer", arch);
    weight_optimizer_->load(weights);
    arch_optimizer_->load(arch);
  }

 private:
  DartsOptions options_;
  std::optional<nasx::WeightOptimizer> weight_optimizer_;
  std::optional<nasx::ArchOptimizer> arch_optimizer_;
  std::optional<nasx::BatchLoader> train_loader_, search_loader_;
};

}  // namespace

NASX_PLUGIN(Darts, "darts", "1.0.0",
            "DARTS: differentiable search, first or second order (Liu et al., ICLR 2019)")
