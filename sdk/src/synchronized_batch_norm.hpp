#pragma once
/// SyncBatchNorm's computation: BatchNorm2d in training mode with the mean and variance
/// of the whole batch over every rank of the installed communicator(). Private to the
/// SDK; reached through nasx::batch_norm (distributed.hpp).

#include <ATen/core/Tensor.h>

namespace nasx {

/// x: [N, C, H, W], this rank's share of the batch; weight and bias: [C] or undefined
/// (no affine parameters); running_mean and running_var: [C] or undefined, updated in
/// place with the global mean and the global unbiased variance.
///
/// One all-reduce forward (every rank's count, mean and variance, combined exactly) and
/// one backward (Σ dy and Σ dy·x̂ of every rank); the elementwise work is LibTorch's fused
/// BatchNorm kernels plus two passes backward, not a chain of differentiable operations. Twice
/// differentiable: a backward with create_graph recomputes the layer from differentiable
/// operations.
at::Tensor synchronized_batch_norm(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& bias, const at::Tensor& running_mean,
                                   const at::Tensor& running_var, double momentum, double eps);

}  // namespace nasx
