#pragma once
/// The affine BatchNorm layers of the networks nasx trains (evaluation networks, stems and
/// heads), in training mode on channels-last float tensors on the CPU: the SDK's
/// channels-last kernels forward and backward, LibTorch's arithmetic bit for bit. Private
/// to the SDK; nasx::batch_norm routes such layers here.
///
/// Why: LibTorch's kernels keep each thread's running sums of the statistics and of the
/// gradient in a buffer in memory and add a row to them at a time, so every row waits on
/// the store and the load of the row before; at the evaluation networks' 16-64 channels
/// that made BatchNorm a fifth of the DARTS_V2 training step. The SDK's kernels hold the
/// sums in registers, in the same order.

#include <ATen/core/Tensor.h>

namespace nasx {

/// Whether affine_batch_norm computes this layer's training forward with the SDK's
/// kernels: x as they take it (channels_last_batch_norm_applies), weight and bias float
/// [C] on the CPU, running statistics absent or float and contiguous.
bool affine_batch_norm_applies(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias, const at::Tensor& running_mean,
                               const at::Tensor& running_var);

/// at::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/true, momentum,
/// eps): the same output, running statistics and gradients (a second derivative through
/// LibTorch's own operations), where affine_batch_norm_applies.
at::Tensor affine_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                             const at::Tensor& running_mean, const at::Tensor& running_var,
                             double momentum, double eps);

}  // namespace nasx
