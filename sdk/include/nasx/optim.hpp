#pragma once
/// Optimizers for supernet weights and architecture parameters. Written out rather
/// than wrapping torch::optim so that the state the second-order gradient needs
/// (the momentum buffers) is reachable the same way on every LibTorch version, and
/// so that no step synchronises with the device (gradient clipping included).

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"
#include "nasx/params.hpp"

namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace nasx {

/// lr for `epoch` (0-based) of a cosine annealing from lr_max to lr_min over
/// `epochs` (PyTorch's CosineAnnealingLR with T_max = epochs, stepped per epoch).
NASX_API double cosine_lr(double lr_max, double lr_min, int64_t epoch, int64_t epochs);

/// lr for `epoch` (0-based) of cosine annealing with warm restarts (PyTorch's
/// CosineAnnealingWarmRestarts stepped per epoch): the first cycle lasts `period`
/// epochs, each next one `multiplier` times longer, each starts again at lr_max.
NASX_API double cosine_restarts_lr(double lr_max, double lr_min, int64_t epoch, int64_t period,
                                   int64_t multiplier);

/// SGD with momentum and L2 weight decay (PyTorch semantics: d = g + wd*w,
/// buf = momentum*buf + d, w -= lr*buf, or w -= lr*(d + momentum*buf) with Nesterov),
/// cosine schedule (optionally with warm restarts) and gradient-norm clipping. Parameters without a gradient are
/// left alone (single-path training clears the gradients of unused operations).
struct SgdOptions {
  double lr = 0.025;
  double lr_min = 0.001;
  double momentum = 0.9;
  double weight_decay = 3e-4;
  double grad_clip = 5.0;  ///< max total gradient norm; 0 disables clipping
  int64_t epochs = 50;     ///< length of the cosine schedule
  bool nesterov = false;
  /// Warm restarts (ENAS): > 0 makes the schedule cosine_restarts_lr with this first
  /// period and restart_multiplier instead of one cosine over `epochs`.
  int64_t restart_period = 0;
  int64_t restart_multiplier = 2;
};

/// The weight-SGD settings search strategies expose as parameters (w_lr, ...; DARTS'
/// defaults), and the SgdOptions they stand for over a schedule of `epochs`.
struct WeightSgdParams {
  double w_lr = 0.025;
  double w_lr_min = 0.001;
  double w_momentum = 0.9;
  bool w_nesterov = false;
  double w_weight_decay = 3e-4;
  double grad_clip = 5.0;

  SgdOptions sgd(int64_t epochs) const {
    SgdOptions options;
    options.lr = w_lr;
    options.lr_min = w_lr_min;
    options.momentum = w_momentum;
    options.nesterov = w_nesterov;
    options.weight_decay = w_weight_decay;
    options.grad_clip = grad_clip;
    options.epochs = epochs;
    return options;
  }
};

class NASX_API WeightOptimizer {
 public:
  WeightOptimizer(std::vector<at::Tensor> params, SgdOptions options);

  /// Sets the learning rate for `epoch` from the cosine schedule.
  void set_epoch(int64_t epoch);
  double lr() const { return lr_; }
  const SgdOptions& options() const { return options_; }
  const std::vector<at::Tensor>& params() const { return params_; }
  /// One buffer per parameter, zeros before the first step.
  const std::vector<at::Tensor>& momentum_buffers() const { return momentum_; }

  void zero_grad();
  /// Scales gradients so their total norm is at most grad_clip; returns the norm
  /// before clipping (a device tensor: reading it synchronises).
  at::Tensor clip_gradients();
  /// Clips, then one SGD step with the current learning rate.
  void step();

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  std::vector<at::Tensor> params_;
  std::vector<at::Tensor> momentum_;
  SgdOptions options_;
  double lr_;
};

/// Adam with L2 weight decay (PyTorch semantics) for architecture parameters.
struct AdamOptions {
  double lr = 3e-4;
  double beta1 = 0.5;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-3;
};

/// The architecture-Adam settings gradient strategies (and DARTS-PT's fine-tuning)
/// expose as parameters (arch_lr, ...; DARTS' defaults), and the AdamOptions they stand for.
struct ArchAdamParams {
  double arch_lr = 3e-4;
  double arch_beta1 = 0.5;
  double arch_beta2 = 0.999;
  double arch_weight_decay = 1e-3;

  AdamOptions adam() const {
    AdamOptions options;
    options.lr = arch_lr;
    options.beta1 = arch_beta1;
    options.beta2 = arch_beta2;
    options.weight_decay = arch_weight_decay;
    return options;
  }
};

/// Adds the ArchAdamParams fields to a binding of an options struct derived from it.
template <class Binding>
Binding& bind_arch_adam(Binding& b) {
  using O = ArchAdamParams;
  return b.field("arch_lr", &O::arch_lr, "architecture Adam learning rate", Range{0.0, 1.0})
      .field("arch_beta1", &O::arch_beta1, "architecture Adam beta1", Range{0.0, 0.999999})
      .field("arch_beta2", &O::arch_beta2, "architecture Adam beta2", Range{0.0, 0.999999})
      .field("arch_weight_decay", &O::arch_weight_decay, "architecture L2 decay", Range{0.0, 1.0});
}

class NASX_API ArchOptimizer {
 public:
  ArchOptimizer(std::vector<at::Tensor> params, AdamOptions options);

  void zero_grad();
  void step();
  int64_t steps_taken() const { return step_; }
  const AdamOptions& options() const { return options_; }

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  std::vector<at::Tensor> params_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  AdamOptions options_;
  int64_t step_ = 0;
};

/// Drops every tensor's gradient (undefined), so that an optimizer step skips the
/// tensors the next backward does not reach.
NASX_API void clear_gradients(const std::vector<at::Tensor>& tensors);

/// Sets every tensor's gradient to zero (or leaves it undefined when it has none).
NASX_API void zero_gradients(const std::vector<at::Tensor>& tensors);

}  // namespace nasx
