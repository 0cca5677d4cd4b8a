#pragma once
/// The bilevel machinery of gradient-based NAS (DARTS, ICLR 2019, Sec. 2.3):
/// architecture gradients that strategies compose, tested once here.

#include <cstdint>
#include <random>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/data.hpp"
#include "nasx/export.hpp"

namespace nasx {

class ArchOptimizer;
class Supernet;
class WeightOptimizer;

/// Cross-entropy of the supernet's logits on `batch` (mean over the batch).
NASX_API at::Tensor supernet_loss(Supernet& net, const Batch& batch);

/// Loss and logits of one forward pass, for metrics.
struct ForwardResult {
  at::Tensor loss;    ///< scalar, attached to the graph
  at::Tensor logits;  ///< [batch, classes]
};
NASX_API ForwardResult supernet_forward(Supernet& net, const Batch& batch);
/// The same with explicit architecture weights (one [edges, ops] tensor per cell type),
/// e.g. DARTS-PT's effective weights. Every function below that takes `weights` uses
/// them in place of softmax(alpha); for an architecture gradient they must be computed
/// from the alphas with a graph.
NASX_API ForwardResult supernet_forward(Supernet& net, const Batch& batch,
                                        const std::vector<at::Tensor>& weights);

/// First order: sets the architecture parameters' .grad to ∇α L_val(w, α).
/// Returns the validation forward (loss detached).
NASX_API ForwardResult first_order_arch_gradient(Supernet& net, const Batch& search_batch);
NASX_API ForwardResult first_order_arch_gradient(Supernet& net, const Batch& search_batch,
                                                 const std::vector<at::Tensor>& weights);

/// Second order (unrolled, Eq. 7-8): with ξ the optimizer's current lr,
///   w' = w − ξ (μ·m + ∇w L_train(w, α) + λ w),
///   ∇α L_val(w', α) − ξ · HVP, the Hessian-vector product taken by finite differences
///   around w with v = ∇w' L_val(w', α). Sets .grad of the architecture parameters,
/// leaves the weights exactly as they were. Returns the loss at w' (detached).
NASX_API at::Tensor second_order_arch_gradient(Supernet& net, const Batch& train_batch,
                                               const Batch& search_batch,
                                               const WeightOptimizer& weight_optimizer,
                                               double r = 0.01);

/// Mixed level (MiLeNAS, He et al., CVPR 2020, Eq. 5): sets the architecture
/// parameters' .grad to ∇α L_train(w, α) + λ ∇α L_val(w, α), both at the current w,
/// from two separate passes (with BatchNorm in training mode one pass over the
/// concatenated batches would be a different function). λ multiplies the validation
/// term as in the paper (the reference code puts it on the training term).
struct MixedLevelResult {
  at::Tensor train_loss;  ///< detached
  at::Tensor val_loss;    ///< detached
};
NASX_API MixedLevelResult mixed_level_arch_gradient(Supernet& net, const Batch& train_batch,
                                                    const Batch& search_batch, double lambda);

/// One neighbour of the architecture weights (NA-DARTS, nasx's formulation, see
/// neighbourhood.md): on edge `edge` of cell type `cell`, the weight of the strongest
/// operation k* moves onto operation `op`:
///   p'_e = p_e + p_e[k*] · (onehot(op) − onehot(k*)),  k* = argmax p_e held constant.
struct NeighbourMove {
  int64_t cell = 0;
  int64_t edge = 0;
  int64_t op = 0;
};

/// The architecture weights of one neighbour (differentiable in `weights`).
NASX_API std::vector<at::Tensor> neighbour_weights(const std::vector<at::Tensor>& weights,
                                                   const NeighbourMove& move);

/// `count` moves drawn uniformly: a cell type, an edge, and an operation other than the
/// edge's strongest (never `none` unless `allow_none`).
NASX_API std::vector<NeighbourMove> sample_neighbour_moves(Supernet& net, int64_t count,
                                                           bool allow_none, std::mt19937_64& rng);

enum class NeighbourAggregate { Mean, Worst };

/// NA-DARTS: sets the architecture parameters' .grad to ∇α L_NA with
///   L_NA = aggregate over the members of L_val(w, p'_m(α)) on `search_batch`,
/// the members being the moves' neighbours and, with `include_self`, p itself. Mean:
/// one backward per member, gradients averaged. Worst: every member's loss without a
/// graph, then the gradient of the worst alone. Returns L_NA, detached.
NASX_API at::Tensor neighbourhood_arch_gradient(Supernet& net, const Batch& search_batch,
                                                const std::vector<NeighbourMove>& moves,
                                                bool include_self, NeighbourAggregate aggregate);

/// ∇²_{α,w} L_train(w, α) · v by central differences:
///   (∇α L_train(w + R v, α) − ∇α L_train(w − R v, α)) / (2R),  R = r / ‖v‖.
/// Restores the weights exactly.
NASX_API std::vector<at::Tensor> finite_difference_hvp(Supernet& net, const Batch& train_batch,
                                                       const std::vector<at::Tensor>& v,
                                                       double r = 0.01);

/// One weight step: zero gradients, L_train backward, clip, SGD. Returns the forward.
NASX_API ForwardResult weight_step(Supernet& net, WeightOptimizer& optimizer,
                                   const Batch& train_batch);
NASX_API ForwardResult weight_step(Supernet& net, WeightOptimizer& optimizer,
                                   const Batch& train_batch,
                                   const std::vector<at::Tensor>& weights);

/// What one DARTS iteration reports.
struct BilevelStepResult {
  at::Tensor arch_loss;   ///< L_val at w (first order) or at w' (second order), detached
  ForwardResult weights;  ///< the weight step's forward on the training batch
};

/// Which architecture gradient an iteration uses.
enum class ArchGradient { FirstOrder, SecondOrder, MixedLevel };

struct BilevelOptions {
  ArchGradient gradient = ArchGradient::FirstOrder;
  double unrolled_r = 0.01;   ///< second order: R = unrolled_r / ‖v‖
  double mixed_lambda = 1.0;  ///< mixed level: weight of the validation term
};

/// One iteration: the architecture step (the chosen gradient, then Adam), then the
/// weight step on `train_batch` with the updated α. `arch_loss` is L_val (at w', for
/// second order; L_train + λ L_val for mixed level).
NASX_API BilevelStepResult bilevel_step(Supernet& net, WeightOptimizer& weight_optimizer,
                                        ArchOptimizer& arch_optimizer, const Batch& train_batch,
                                        const Batch& search_batch, const BilevelOptions& options);

}  // namespace nasx
