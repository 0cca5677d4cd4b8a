#include "output_saving_batch_norm.hpp"

#include <tuple>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "channels_last_batch_norm.hpp"

namespace nasx {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

at::Tensor per_channel(const at::Tensor& t) { return t.view({1, -1, 1, 1}); }

/// Running statistics the channels-last kernels update: absent, or float and contiguous.
bool float_statistics(const at::Tensor& t) {
  return !t.defined() || (t.scalar_type() == at::kFloat && t.is_contiguous() && t.is_cpu());
}

/// Outputs {y, invstd}: invstd is an output (not a constant of the backward) so that a
/// gradient of the gradient, which depends on invstd, reaches x through it.
struct OutputSavingBatchNorm : public torch::autograd::Function<OutputSavingBatchNorm> {
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& x,
                             const at::Tensor& running_mean, const at::Tensor& running_var,
                             double momentum, double eps) {
    at::Tensor y, invstd;
    if (channels_last_batch_norm_applies(x) && float_statistics(running_mean) &&
        float_statistics(running_var)) {
      NormalizedBatch normalized = channels_last_batch_norm(
          x, at::Tensor(), at::Tensor(), running_mean, running_var, momentum, eps);
      y = normalized.y;
      invstd = normalized.invstd;
    } else {
      std::tie(y, std::ignore, invstd) = at::native_batch_norm(x, {}, {}, running_mean, running_var,
                                                               /*training=*/true, momentum, eps);
    }
    ctx->save_for_backward({y, invstd});
    ctx->saved_data["eps"] = eps;
    // invstd's gradient is undefined unless a second derivative asks for it: no pass of
    // zeros over y in every ordinary backward.
    ctx->set_materialize_grads(false);
    return {y, invstd};
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &y = saved[0], &invstd = saved[1];
    const at::Tensor &dy = grads[0], &d_invstd = grads[1];
    const double count = static_cast<double>(y.numel() / y.size(1));
    at::Tensor dx;
    if (!dy.defined()) {
    } else if (at::GradMode::is_enabled()) {
      // create_graph: the formula in differentiable operations on the saved outputs.
      const at::Tensor mean_dy = dy.mean({0, 2, 3}, /*keepdim=*/true);
      const at::Tensor mean_dy_y = (dy * y).mean({0, 2, 3}, /*keepdim=*/true);
      dx = per_channel(invstd) * (dy - mean_dy - y * mean_dy_y);
    } else if (channels_last_batch_norm_applies(y) &&
               dy.is_contiguous(at::MemoryFormat::ChannelsLast)) {
      dx = channels_last_batch_norm_backward(dy, y, invstd);
    } else {
      // LibTorch's fused kernel, told the input was y with mean 0 and invstd 1 (so its x̂
      // is y) and given invstd as the affine weight: invstd·(dy − mean(dy) − y·mean(dy·y)).
      const at::Tensor zero = at::zeros_like(invstd), one = at::ones_like(invstd);
      dx = std::get<0>(
          at::native_batch_norm_backward(dy, y, invstd, {}, {}, zero, one, /*train=*/true,
                                         ctx->saved_data["eps"].toDouble(), {true, false, false}));
    }
    if (d_invstd.defined()) {
      // ∂invstd/∂x = −invstd³·(x − mean)/count = −invstd²·y/count, per channel.
      const at::Tensor through_invstd = per_channel(-invstd * invstd * d_invstd / count) * y;
      dx = dx.defined() ? dx + through_invstd : through_invstd;
    }
    return {dx, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor output_saving_batch_norm(const at::Tensor& x, const at::Tensor& running_mean,
                                    const at::Tensor& running_var, double momentum, double eps) {
  return OutputSavingBatchNorm::apply(x, running_mean, running_var, momentum, eps)[0];
}

}  // namespace nasx
