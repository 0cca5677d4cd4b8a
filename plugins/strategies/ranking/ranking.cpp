// The weight-sharing ranking study (Zhang et al., "Deeper Insights into Weight Sharing in
// Neural Architecture Search", 2020) as a strategy: every child of a finite space
// (ws64's 64) is trained on shared weights, exactly one child per minibatch in a cyclic
// order; the children may be split into groups, each group with a supernet of its own
// (group sharing). After every epoch, and after each of the last k minibatches, every
// child's accuracy on its shared weights is logged (events.jsonl, "child_accuracies")
// for `nasx analyze ranking`. The answer is the child ranked first at the last epoch.

#include <algorithm>
#include <memory>
#include <random>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "nasx/enumerate.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/metrics.hpp"
#include "nasx/optim.hpp"
#include "nasx/plugin.hpp"
#include "nasx/space.hpp"
#include "nasx/strategy.hpp"
#include "nasx/supernet.hpp"

namespace {

/// The reference's training: SGD momentum 0.9, wd 1e-3, lr 0.025 cosine to 0.001, no
/// clipping.
struct RankingOptions : nasx::WeightSgdParams {
  int64_t epochs = 10;
  std::string order = "fixed";
  int64_t groups = 1;
  std::string grouping = "similarity";
  int64_t eval_images = 512;
  int64_t last_minibatches = 64;
  int64_t last_eval_images = 128;
  std::string batchnorm = "batch";
  RankingOptions() {
    w_weight_decay = 1e-3;
    grad_clip = 0.0;
  }
};

const nasx::OptionsBinding<RankingOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<RankingOptions> b;
    using O = RankingOptions;
    b.field("epochs", &O::epochs, "epochs of weight-sharing training", nasx::Range{1.0, 100000.0})
        .field("order", &O::order,
               "children's cyclic order: one seeded permutation (fixed) or a new one every "
               "cycle (reshuffled)",
               std::vector<std::string>{"fixed", "reshuffled"})
        .field("groups", &O::groups,
               "supernets the children are split into (1: all share; the number of children: "
               "no sharing); must divide the number of children",
               nasx::Range{1.0, 100000.0})
        .field("grouping", &O::grouping,
               "similarity: contiguous runs of the sorted children (111..124, ...); random: "
               "a seeded partition",
               std::vector<std::string>{"similarity", "random"})
        .field("eval_images", &O::eval_images,
               "validation images (the search split's first) each child is measured on after "
               "every epoch",
               nasx::Range{1.0, 1e9})
        .field("last_minibatches", &O::last_minibatches,
               "k: every child is measured after each of the last k minibatches of the last epoch "
               "(at most an epoch's minibatches; 0: never)",
               nasx::Range{0.0, 1e9})
        .field("last_eval_images", &O::last_eval_images,
               "validation images per child at each of those k points", nasx::Range{1.0, 1e9})
        .field("batchnorm", &O::batchnorm,
               "BatchNorm statistics when measuring: each minibatch's (batch) or the running "
               "ones",
               std::vector<std::string>{"batch", "running"})
        .field("w_lr", &O::w_lr, "SGD learning rate, cosine-annealed", nasx::Range{0.0, {}})
        .field("w_lr_min", &O::w_lr_min, "final learning rate", nasx::Range{0.0, 10.0})
        .field("w_momentum", &O::w_momentum, "SGD momentum", nasx::Range{0.0, 0.999})
        .field("w_weight_decay", &O::w_weight_decay, "L2 decay", nasx::Range{0.0, 1.0})
        .field("grad_clip", &O::grad_clip, "max gradient norm (0: off)", nasx::Range{0.0, {}});
    return b;
  }();
  return b;
}

class Ranking final : public nasx::SearchStrategy {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    const nasx::SearchSpace& space = ctx.space();
    children_ = nasx::enumerate_architectures(space, 4096);
    const auto n = static_cast<int64_t>(children_.size());
    if (n % options_.groups != 0)
      throw nasx::ConfigError("search.groups = " + std::to_string(options_.groups) +
                              " does not divide the " + std::to_string(n) + " children of space '" +
                              space.name() + "' into equal groups");
    // Group of each child: contiguous runs of the sorted children, or a seeded partition.
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    if (options_.grouping == "random") {
      std::mt19937_64 rng(nasx::derive_seed(ctx.seed(), 71));
      std::shuffle(order.begin(), order.end(), rng);
    }
    group_of_.assign(static_cast<size_t>(n), 0);
    const int64_t size = n / options_.groups;
    for (int64_t i = 0; i < n; ++i)
      group_of_[static_cast<size_t>(order[static_cast<size_t>(i)])] = i / size;
    // Group 0 trains the run's supernet; the others get their own.
    nets_ = {nullptr};
    for (int64_t g = 1; g < options_.groups; ++g) {
      nets_.push_back(space.build_supernet(ctx.data().shape));
      nets_.back()->to(ctx.device());
    }
    optimizers_.clear();
    for (int64_t g = 0; g < options_.groups; ++g)
      optimizers_.emplace_back(net(ctx, g).weight_parameters(), options_.sgd(options_.epochs));
    loader_ = std::make_unique<nasx::BatchLoader>(ctx.data().train, ctx.batch_size(),
                                                  nasx::derive_seed(ctx.seed(), 13));
    if (loader_->batches_per_epoch() < 1)
      throw nasx::ConfigError("the training split holds less than one minibatch");
    eval_ = first_images(ctx.data().search, options_.eval_images);
    last_eval_ = first_images(ctx.data().search, options_.last_eval_images);
    nasx::Json names = nasx::Json::array();
    for (const auto& child : children_) names.push_back(space.format(child));
    ctx.log_event("ranking_setup", {{"children", names},
                                    {"groups", options_.groups},
                                    {"grouping", options_.grouping},
                                    {"order", options_.order},
                                    {"group_of", group_of_}});
  }

  int64_t total_steps() const override { return options_.epochs; }
  bool trains_arch_parameters() const override { return false; }
  std::optional<nasx::Architecture> best() const override { return best_; }

  std::map<std::string, double> step(nasx::Context& ctx, int64_t epoch) override {
    loader_->set_epoch(epoch);
    for (auto& optimizer : optimizers_) optimizer.set_epoch(epoch);
    const int64_t batches = loader_->batches_per_epoch();
    const bool last_epoch = epoch + 1 == options_.epochs;
    nasx::MetricsMeter meter;
    for (int64_t i = 0; i < batches && !ctx.stop_requested(); ++i) {
      const int64_t minibatch = epoch * batches + i;
      const int64_t child = child_at(ctx, minibatch);
      const int64_t group = group_of_[static_cast<size_t>(child)];
      nasx::Supernet& shared = net(ctx, group);
      nasx::WeightOptimizer& optimizer = optimizers_[static_cast<size_t>(group)];
      const nasx::Batch batch = loader_->batch(i);
      shared.train();
      nasx::clear_gradients(optimizer.params());
      const at::Tensor logits =
          shared.forward_path(batch.images, children_[static_cast<size_t>(child)]);
      const at::Tensor loss = at::cross_entropy_loss(logits, batch.labels);
      loss.backward();
      optimizer.step();
      meter.add("train_loss", loss.detach(), batch.labels.size(0));
      meter.add_accuracy("train_acc", logits.detach(), batch.labels);
      ctx.report_progress(i + 1, batches, meter);
      if (last_epoch && i >= batches - options_.last_minibatches)
        log_accuracies(ctx, measure_all(ctx, last_eval_), epoch, minibatch, child, "minibatch");
    }
    if (ctx.stop_requested()) return meter.means();
    const std::vector<double> accuracies = measure_all(ctx, eval_);
    log_accuracies(ctx, accuracies, epoch, epoch * batches + batches - 1, -1, "epoch");
    const auto top = std::max_element(accuracies.begin(), accuracies.end()) - accuracies.begin();
    best_ = children_[static_cast<size_t>(top)];
    auto metrics = meter.means();
    metrics["lr"] = optimizers_.front().lr();
    metrics["best_shared_acc"] = accuracies[static_cast<size_t>(top)];
    double mean = 0;
    for (double a : accuracies) mean += a;
    metrics["mean_shared_acc"] = mean / static_cast<double>(accuracies.size());
    return metrics;
  }

  void state(nasx::StateArchive& archive) override {
    for (size_t g = 0; g < optimizers_.size(); ++g) {
      archive.object("optimizer_" + std::to_string(g), optimizers_[g]);
      if (g > 0) archive.object("supernet_" + std::to_string(g), *nets_[g]);
    }
    archive.field("best", best_);
  }

 private:
  nasx::Supernet& net(nasx::Context& ctx, int64_t group) {
    return group == 0 ? ctx.supernet() : *nets_[static_cast<size_t>(group)];
  }

  static nasx::TensorDataset first_images(const nasx::TensorDataset& data, int64_t n) {
    n = std::min(n, data.size());
    return {data.images.narrow(0, 0, n), data.labels.narrow(0, 0, n)};
  }

  /// The child trained on global minibatch `minibatch`: its place in the cycle's order.
  int64_t child_at(nasx::Context& ctx, int64_t minibatch) const {
    const auto n = static_cast<int64_t>(children_.size());
    const int64_t cycle = options_.order == "fixed" ? 0 : minibatch / n;
    // Stateless: the permutation of a cycle depends only on (seed, cycle).
    if (cycle != cached_cycle_) {
      permutation_ = nasx::seeded_permutation(
          n, nasx::derive_seed(ctx.seed(), 7000 + static_cast<uint64_t>(cycle)));
      cached_cycle_ = cycle;
    }
    return permutation_[static_cast<size_t>(minibatch % n)];
  }

  /// Every child's accuracy on its group's shared weights: a group's children together
  /// (evaluate_paths: the work they share done once, the same figures as one by one).
  std::vector<double> measure_all(nasx::Context& ctx, const nasx::TensorDataset& data) {
    std::vector<double> out(children_.size());
    for (int64_t group = 0; group < options_.groups; ++group) {
      std::vector<size_t> members;
      std::vector<nasx::Architecture> archs;
      for (size_t c = 0; c < children_.size(); ++c)
        if (group_of_[c] == group) {
          members.push_back(c);
          archs.push_back(children_[c]);
        }
      const std::vector<nasx::EvalResult> results = nasx::evaluate_paths(
          net(ctx, group), archs, data, ctx.batch_size(), 0, options_.batchnorm == "batch");
      for (size_t m = 0; m < members.size(); ++m) out[members[m]] = results[m].accuracy;
    }
    return out;
  }

  void log_accuracies(nasx::Context& ctx, const std::vector<double>& accuracies, int64_t epoch,
                      int64_t minibatch, int64_t trained, const std::string& point) {
    nasx::Json fields = {
        {"point", point}, {"epoch", epoch}, {"minibatch", minibatch}, {"accuracies", accuracies}};
    if (trained >= 0)
      fields["trained"] = ctx.space().format(children_[static_cast<size_t>(trained)]);
    ctx.log_event("child_accuracies", fields);
  }

  RankingOptions options_;
  std::vector<nasx::Architecture> children_;
  std::vector<int64_t> group_of_;
  std::vector<std::shared_ptr<nasx::Supernet>> nets_;
  std::vector<nasx::WeightOptimizer> optimizers_;
  std::unique_ptr<nasx::BatchLoader> loader_;
  nasx::TensorDataset eval_, last_eval_;
  std::optional<nasx::Architecture> best_;
  mutable int64_t cached_cycle_ = -1;
  mutable std::vector<int64_t> permutation_;
};

}  // namespace

NASX_PLUGIN(Ranking, "ranking", "1.0.0",
            "weight-sharing ranking study: every child of a finite space trained one per "
            "minibatch in cyclic order, optional group sharing; logs every child's shared "
            "accuracy (Zhang et al. 2020)")
