#pragma once
/// The loop every differentiable strategy shares (DARTS, MiLeNAS, NA-DARTS): per epoch,
/// for each pair of minibatches, an architecture step (the strategy's gradient, then
/// Adam), then a weight step on the training minibatch with the updated alphas.
/// A strategy states its gradient; the optimizers, loaders, schedule and checkpoint
/// state live here once. With alphas frozen (train_alpha = false or arch_lr = 0) the
/// architecture step is skipped: each iteration is the weight step alone.

#include <map>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>

#include "nasx/data.hpp"
#include "nasx/optim.hpp"
#include "nasx/paired_epoch.hpp"
#include "nasx/params.hpp"
#include "nasx/strategy.hpp"

namespace nasx {

/// The settings all gradient strategies share; defaults are DARTS' reference ones.
struct GradientSearchOptions : WeightSgdParams, ArchAdamParams {
  int64_t epochs = 50;
  int64_t steps_per_epoch = 0;
  /// false (or arch_lr = 0): the alphas stay at their initial values and no
  /// architecture gradient is computed; only the weights train (DARTS-PT's fixed-alpha
  /// supernet, whose mixing is then uniform).
  bool train_alpha = true;
  bool trains_alpha() const { return train_alpha && arch_lr > 0; }
};

/// Adds the shared fields to a binding of an options struct derived from
/// GradientSearchOptions (a plugin then adds its own).
template <class Options>
OptionsBinding<Options>& bind_gradient_search(OptionsBinding<Options>& b) {
  using O = GradientSearchOptions;
  b.field("epochs", &O::epochs, "search epochs (one host step each)", Range{1.0, {}})
      .field("w_lr", &O::w_lr, "weight SGD learning rate, cosine-annealed", Range{0.0, {}})
      .field("w_lr_min", &O::w_lr_min, "final weight learning rate", Range{0.0, 10.0})
      .field("w_momentum", &O::w_momentum, "weight SGD momentum", Range{0.0, 0.999})
      .field("w_nesterov", &O::w_nesterov, "Nesterov momentum for the weights")
      .field("w_weight_decay", &O::w_weight_decay, "weight L2 decay", Range{0.0, 1.0})
      .field("grad_clip", &O::grad_clip, "max weight-gradient norm (0: off)", Range{0.0, {}});
  return bind_arch_adam(b)
      .field("steps_per_epoch", &O::steps_per_epoch,
             "cap on minibatches per epoch (0: one pass over the smaller split)", Range{0.0, {}})
      .field("train_alpha", &O::train_alpha,
             "update the alphas (false, or arch_lr = 0: they stay at their near-uniform "
             "initial values and only the weights train)");
}

/// Plugins inherit this class: its data members are part of the plugin ABI (changing
/// them bumps NASX_ABI_VERSION).
class NASX_API GradientSearch : public SearchStrategy {
 public:
  ~GradientSearch() override;
  int64_t total_steps() const override { return options_.epochs; }
  std::map<std::string, double> step(Context& ctx, int64_t epoch) override;
  /// The optimizers, then the strategy's own_state().
  void state(StateArchive& archive) final;

 protected:
  /// Builds the optimizers and the seeded loaders; call from setup().
  void setup_search(Context& ctx, const GradientSearchOptions& options);

  /// Sets .grad of every architecture parameter for one iteration (the optimizer
  /// steps afterwards) and returns the architecture loss, detached.
  virtual at::Tensor arch_gradient(Context& ctx, const Batch& train, const Batch& search) = 0;

  /// The strategy's own persistent state beyond the shared optimizers (a generator it
  /// draws from, counters, what it remembers between steps), listed once for both
  /// directions. Required, so that none is forgotten: a strategy without any says so
  /// with an empty body.
  virtual void own_state(StateArchive& archive) = 0;

  WeightOptimizer& weight_optimizer() { return *weight_optimizer_; }

 private:
  GradientSearchOptions options_;
  std::optional<WeightOptimizer> weight_optimizer_;
  std::optional<ArchOptimizer> arch_optimizer_;
  std::optional<PairedLoaders> loaders_;
};

}  // namespace nasx
