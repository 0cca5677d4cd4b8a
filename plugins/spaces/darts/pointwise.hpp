#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace nasx::darts {

/// 1x1 convolution, stride 1, no padding, no bias: at::conv2d(x, weight, {}, 1, 0, 1,
/// groups), weight [C_out, C_in / groups, 1, 1]. The convolution of every separable and
/// dilated operation after its depthwise one, and of the cells' preprocessing.
///
/// Why it exists: on the CPU oneDNN's 1x1 convolutions of a few channels per group (the
/// supernet's edges side by side: 8-32 channels each) run far from the memory's speed,
/// ~1.7 ms at [64, 32, 28, 28] in 4 groups against 0.2 ms to copy the tensor; together
/// with their input gradient they were ~20% of the DARTS search step.
///
/// On channels-last floats, on a CPU with AVX2 and FMA, where each group has at most 16
/// inputs and its outputs are a multiple of eight, and where LibTorch would run oneDNN
/// (its rule: a batch of 16 or more, or more than one thread), the forward pass is nasx's
/// kernel; so is the input gradient where the roles of inputs and outputs fit it. The
/// weight gradient stays LibTorch's. Each output of the kernel is the chain of fused
/// multiply-adds from zero over the group's inputs in order, which is what oneDNN computes
/// for both: the bits are LibTorch's (a test compares them at the spaces' shapes, on one
/// thread and two). Anything else, and a backward with create_graph, is LibTorch's own
/// convolution.
at::Tensor pointwise_conv2d(const at::Tensor& x, const at::Tensor& weight, int64_t groups = 1);

/// Whether pointwise_conv2d's kernel computes this forward pass.
bool pointwise_conv_fma_applies(const at::Tensor& x, const at::Tensor& weight, int64_t groups);

}  // namespace nasx::darts
