#pragma once
/// The decisions of perturbation-based selection (DARTS-PT; Wang et al., ICLR 2021;
/// algorithms/darts-pt.md), independent of how the supernet is evaluated or tuned: the
/// effective weights every forward uses, one operation decision on an edge, and one
/// node's topology decision. The `perturbation` selector plugin drives them with the
/// supernet's validation accuracy and fine-tuning in between.

#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx {

/// What has been decided for one cell type: per edge the fixed operation (-1: undecided)
/// and whether the topology step removed it.
struct EdgeDecisions {
  std::vector<int64_t> operation;
  std::vector<bool> removed;
  explicit EdgeDecisions(int64_t edges = 0)
      : operation(static_cast<size_t>(edges), -1), removed(static_cast<size_t>(edges), false) {}
};

/// softmax(alpha) per edge ([edges, ops]), with each decided edge's row one-hot on its
/// operation and each removed edge's row all zeros. Differentiable in alpha: gradients
/// reach the undecided rows only (fine-tuning updates alpha on undecided edges).
at::Tensor effective_weights(const at::Tensor& alpha, const EdgeDecisions& decisions);

/// How an operation decision went: the accuracy with each candidate masked.
struct OperationDecision {
  int64_t edge = 0;
  int64_t chosen = -1;
  std::vector<std::pair<int64_t, double>> masked_accuracy;  ///< (operation, accuracy)
};

/// Chooses the operation of `edge` among `candidates`: for each, weight [edge, k] of
/// `weights` is set to 0 (the other weights of the edge keep their values, not
/// renormalised) and `accuracy` measures the supernet with those weights; the candidate
/// whose removal leaves the lowest accuracy wins (lowest index on ties).
OperationDecision choose_operation(const at::Tensor& weights, int64_t edge,
                                   const std::vector<int64_t>& candidates,
                                   const std::function<double(const at::Tensor& masked)>& accuracy);

/// How a node's topology decision went.
struct InputDecision {
  std::vector<int64_t> kept;     ///< the two kept edges, ascending
  std::vector<int64_t> dropped;  ///< in the order they were dropped
  double accuracy = 0;           ///< the last dropped edge's trial (NaN: nothing dropped)
};

/// Chooses a node's two inputs among its `edges` as the reference does: each input is
/// judged by the accuracy with only it removed (its row set to zeros, every other input
/// present), and while more than two remain the one whose removal leaves the HIGHEST
/// accuracy is dropped (the later edge on ties). One evaluation per input.
InputDecision choose_inputs(const at::Tensor& weights, const std::vector<int64_t>& edges,
                            const std::function<double(const at::Tensor& masked)>& accuracy);

}  // namespace nasx
