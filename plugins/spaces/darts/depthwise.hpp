#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx::darts {

/// Depthwise 2-D convolution (one k x k filter per channel, weight [C, 1, k, k]),
/// the same function as at::conv2d(x, weight, {}, stride, padding, dilation, C).
///
/// Why it exists: on CPU, LibTorch's oneDNN path computes the depthwise weight
/// gradient 10-17x slower than the forward pass (measured at [64, 32, 28, 28]); it
/// dominated the DARTS search step. Here the weight gradient is one channels-last
/// pass (vectorised over channels, one accumulator per thread, summed in a fixed
/// order, so results do not depend on scheduling); forward and input gradient stay
/// LibTorch's. Used for floating CPU tensors; CUDA tensors and double backward
/// (create_graph) take LibTorch's own path.
at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                            int64_t padding, int64_t dilation);

/// The weight gradient alone: d(sum(grad_output * conv(x, w))) / dw, [C, 1, k, k].
at::Tensor depthwise_conv2d_weight_grad(const at::Tensor& x, const at::Tensor& grad_output,
                                        int64_t kernel, int64_t stride, int64_t padding,
                                        int64_t dilation);

}  // namespace nasx::darts
