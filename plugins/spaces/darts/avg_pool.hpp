#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace nasx::darts {

/// 3x3 average pooling with padding 1, the padded cells not counted: the same function,
/// bit for bit, as at::avg_pool2d(x, 3, stride, 1, /*ceil_mode=*/false,
/// /*count_include_pad=*/false) — the DARTS and NB-201 spaces' avg_pool_3x3.
///
/// Why it exists: on a CPU with AVX-512, LibTorch's channels-last kernel takes a vector of
/// 16 channels at a time and the channels short of one (all 8 of the search cells' first
/// stage) one by one, so that [64, 8, 28, 28] took longer than a 3x3 convolution. Here
/// eight channels at a time (the float8 kernels), each lane the same sum in the same order
/// (the window in row-major order, divided by its count), forward and backward. Used for
/// float channels-last CPU tensors; anything else, and double backward, takes LibTorch's
/// path. (On an AVX2-only CPU LibTorch already takes 8 channels at a time: what remains
/// there is that nothing of the input is kept for the backward.) Forward-mode AD (dual
/// tensors) does not go through this kernel's autograd function.
at::Tensor avg_pool_3x3(const at::Tensor& x, int64_t stride);

}  // namespace nasx::darts
