#pragma once
/// BatchNorm in training mode over channels-last float tensors on the CPU: LibTorch's own
/// arithmetic, bit for bit, at the speed of any channel count. Private to the SDK; the
/// output-saving node of search networks (output_saving_batch_norm.cpp) and the affine
/// layers of the networks nasx trains (affine_batch_norm.cpp) run on it.
///
/// Why: LibTorch's channels-last kernels take a vector of channels at a time (16 floats
/// on an AVX-512 CPU) and the rest through partial loads and stores, row by row. A search
/// cell's first stage (C = 8, or its edges' 24 channels normalised together) ran almost
/// all that way: on [64, 24, 28, 28] 1.2 ms forward and 2.4 ms backward, against 0.45 and
/// 0.37 ms for the 16 channels the vectors fit. And they keep each thread's running sums
/// in a buffer in memory, adding a row at a time, so every row waits on the store and the
/// load of the row before. These kernels take eight channels at a time whatever C is,
/// hold the sums in registers, and do each lane's arithmetic in LibTorch's order: per slice of
/// rows (⌈rows / threads⌉, as at::parallel_for splits LibTorch's reductions), sums row
/// after row — the statistics' squares and the gradient's dot product with a fused
/// multiply-add, as LibTorch's AVX2 and AVX-512 kernels are compiled — then the slices
/// added in double; the output x·invstd − mean·invstd and the gradient's last step each
/// one fused multiply-add. The tests compare them with LibTorch's at::equal. Where
/// LibTorch runs its baseline kernels (a CPU without AVX2 and FMA,
/// ATEN_CPU_CAPABILITY=default), which round twice, and off x86-64, LibTorch's own run.

#include <ATen/core/Tensor.h>

namespace nasx {

/// Whether these kernels take x ([N, C, H, W]): float, strided, CPU, unambiguously
/// channels-last (not also contiguous), more rows N·H·W than threads (LibTorch itself
/// takes another path below that), outside a parallel region, where LibTorch's kernels
/// fuse multiply-adds.
bool channels_last_batch_norm_applies(const at::Tensor& x);

struct NormalizedBatch {
  at::Tensor y;       ///< (x − mean)·invstd, channels-last
  at::Tensor mean;    ///< [C], the batch's mean
  at::Tensor invstd;  ///< [C], 1 / sqrt(biased variance + eps)
};

/// at::native_batch_norm(x, weight, bias, running_mean, running_var, true, momentum, eps):
/// the same three tensors, and the running statistics (either may be undefined) updated
/// in place the same way. weight and bias (float, [C]) may be undefined: 1 and 0.
NormalizedBatch channels_last_batch_norm(const at::Tensor& x, const at::Tensor& weight,
                                         const at::Tensor& bias, const at::Tensor& running_mean,
                                         const at::Tensor& running_var, double momentum,
                                         double eps);

/// The input's gradient given the output y and invstd: invstd·(dy − mean(dy) −
/// y·mean(dy·y)), the bits of at::native_batch_norm_backward(dy, y, invstd, {}, {}, 0, 1,
/// true, eps, {true, false, false}) (the output-saving node's call) when dy is
/// channels-last too (another layout takes another LibTorch kernel: the caller's).
at::Tensor channels_last_batch_norm_backward(const at::Tensor& dy, const at::Tensor& y,
                                             const at::Tensor& invstd);

struct BatchNormGradients {
  at::Tensor dx, dweight, dbias;  ///< undefined where not asked for
};

/// at::native_batch_norm_backward(dy, x, weight, {}, {}, mean, invstd, true, eps, {input_grad,
/// affine_grads, affine_grads}) for x channels-last (and dy: another layout takes another
/// LibTorch kernel, the caller's), mean and invstd the forward's: the same bits.
BatchNormGradients channels_last_batch_norm_backward(const at::Tensor& dy, const at::Tensor& x,
                                                     const at::Tensor& weight,
                                                     const at::Tensor& mean,
                                                     const at::Tensor& invstd, bool input_grad,
                                                     bool affine_grads);

}  // namespace nasx
