#include "affine_batch_norm.hpp"

#include <tuple>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "channels_last_batch_norm.hpp"

namespace nasx {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// A layer's [C] tensor the kernels read: float, contiguous, on the CPU (absent allowed
/// where `optional`). LibTorch takes its channels-last kernel only for contiguous ones too.
bool float_vector(const at::Tensor& t, int64_t channels, bool optional) {
  if (!t.defined()) return optional;
  return t.scalar_type() == at::kFloat && t.is_cpu() && t.layout() == at::kStrided &&
         t.dim() == 1 && t.size(0) == channels && t.is_contiguous();
}

struct AffineBatchNorm : public torch::autograd::Function<AffineBatchNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, const at::Tensor& running_mean,
                            const at::Tensor& running_var, double momentum, double eps) {
    NormalizedBatch normalized =
        channels_last_batch_norm(x, weight, bias, running_mean, running_var, momentum, eps);
    // Not the bias: no gradient reads it (Σdy), and LibTorch's node does not keep it
    // either, so an in-place change to it before the backward is no error here too.
    ctx->save_for_backward({x, weight, normalized.mean, normalized.invstd});
    ctx->saved_data["eps"] = eps;
    return normalized.y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1];
    const at::Tensor &mean = saved[2], &invstd = saved[3];
    const double eps = ctx->saved_data["eps"].toDouble();
    const at::Tensor& dy = grads[0];
    const bool want_x = ctx->needs_input_grad(0);
    const bool want_affine = ctx->needs_input_grad(1) || ctx->needs_input_grad(2);
    variable_list out(7);
    if (at::GradMode::is_enabled()) {
      // create_graph: LibTorch's differentiable layer on the saved input (the bias left
      // out: its gradient is Σdy), normalising by the batch as the forward did (its running
      // statistics are updated already).
      std::vector<at::Tensor> inputs;
      std::vector<size_t> positions;
      for (size_t i = 0; i < 2; ++i)
        if (ctx->needs_input_grad(i) && saved[i].requires_grad()) {
          inputs.push_back(saved[i]);
          positions.push_back(i);
        }
      if (!inputs.empty()) {
        const at::Tensor y = at::batch_norm(x, weight, {}, {}, {}, /*training=*/true, 0.0, eps,
                                            /*cudnn_enabled=*/false);
        const variable_list g = torch::autograd::grad({y}, inputs, {dy}, /*retain_graph=*/true,
                                                      /*create_graph=*/true, /*allow_unused=*/true);
        for (size_t i = 0; i < positions.size(); ++i) out[positions[i]] = g[i];
      }
      if (ctx->needs_input_grad(2)) out[2] = dy.sum({0, 2, 3});
      return out;
    }
    if (dy.is_contiguous(at::MemoryFormat::ChannelsLast) && channels_last_batch_norm_applies(x)) {
      BatchNormGradients g =
          channels_last_batch_norm_backward(dy, x, weight, mean, invstd, want_x, want_affine);
      out[0] = g.dx;
      out[1] = g.dweight;
      out[2] = g.dbias;
    } else {
      // A gradient in another layout takes LibTorch's kernel for that layout.
      std::tie(out[0], out[1], out[2]) =
          at::native_batch_norm_backward(dy, x, weight, {}, {}, mean, invstd, /*train=*/true, eps,
                                         {want_x, want_affine, want_affine});
    }
    if (!ctx->needs_input_grad(1)) out[1] = at::Tensor();
    if (!ctx->needs_input_grad(2)) out[2] = at::Tensor();
    return out;
  }
};

}  // namespace

bool affine_batch_norm_applies(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias, const at::Tensor& running_mean,
                               const at::Tensor& running_var) {
  if (!channels_last_batch_norm_applies(x)) return false;
  const int64_t channels = x.size(1);
  auto statistics = [&](const at::Tensor& t) {
    return float_vector(t, channels, /*optional=*/true) && (!t.defined() || t.is_contiguous());
  };
  return float_vector(weight, channels, false) && float_vector(bias, channels, false) &&
         statistics(running_mean) && statistics(running_var);
}

at::Tensor affine_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                             const at::Tensor& running_mean, const at::Tensor& running_var,
                             double momentum, double eps) {
  return AffineBatchNorm::apply(x, weight, bias, running_mean, running_var, momentum, eps);
}

}  // namespace nasx
