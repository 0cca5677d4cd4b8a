#pragma once
/// BatchNorm2d without affine parameters, in training mode, that keeps its output for the
/// backward pass instead of its input. Private to the SDK; reached through
/// nasx::batch_norm (distributed.hpp).
///
/// Without affine parameters y = (x − mean)·invstd is x̂ itself, and the gradient
/// dx = invstd·(dy − mean(dy) − x̂·mean(dy·x̂)) needs x̂ and invstd only. The convolutions
/// and pools of a search cell end in such a layer, and its output goes on into the
/// supernet's mixture, which keeps it anyway (the architecture's gradient reads each
/// operation's output), so keeping y instead of x frees the layer's input, one activation
/// per operation, as soon as the forward pass moves on.

#include <ATen/core/Tensor.h>

namespace nasx {

/// x: [N, C, H, W]; running_mean and running_var: [C], updated in place as at::batch_norm
/// does. The same values and first derivative as at::batch_norm(x, {}, {}, running_mean,
/// running_var, true, momentum, eps) (the derivative's sums in another order); twice
/// differentiable: the layer's invstd travels as a second (unused) output of the autograd
/// node, so a backward with create_graph reaches x through it too (the graph retained
/// between the two, as a second derivative needs anyway).
at::Tensor output_saving_batch_norm(const at::Tensor& x, const at::Tensor& running_mean,
                                    const at::Tensor& running_var, double momentum, double eps);

}  // namespace nasx
