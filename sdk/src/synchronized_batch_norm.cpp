#include "synchronized_batch_norm.hpp"

#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "nasx/distributed.hpp"

namespace nasx {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

at::Tensor per_channel(const at::Tensor& t) { return t.view({1, -1, 1, 1}); }

/// y = Σ_ranks x on every rank. Its backward is the same sum of the incoming gradients:
/// each rank's x reaches every rank's y, so ∂(Σ_k L_k)/∂x_r = Σ_k ∂L_k/∂y.
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x) {
    std::vector<at::Tensor> sum = {x.detach().clone().contiguous()};
    communicator()->all_reduce_sum(sum);
    return sum[0];
  }
  static tensor_list backward(AutogradContext*, tensor_list grads) {
    std::vector<at::Tensor> sum = {grads[0].contiguous().clone()};
    communicator()->all_reduce_sum(sum);
    return {sum[0]};
  }
};

struct Moments {
  at::Tensor mean, var;  // [C], the biased variance (what normalising uses)
  double count = 0;      // elements per channel over every rank
};

/// Mean and variance of the whole batch. Each rank's (count, mean, variance) travels in
/// its own row of one all-reduced buffer (an all-gather), and the rows are combined with
/// the parallel-variance formula: exact, and free of the cancellation of Σx² − N·mean².
Moments global_moments(const at::Tensor& x) {
  const at::NoGradGuard no_grad;
  Communicator& ranks = *communicator();
  const int64_t channels = x.size(1), world = ranks.world_size();
  // Biased (mean, var) of this rank's share: LibTorch's one-pass statistics kernel.
  const auto [local_mean, local_var] = at::batch_norm_update_stats(x, {}, {}, 0.0);
  std::vector<at::Tensor> rows = {at::zeros({world, 2 * channels + 1}, local_mean.options())};
  at::Tensor own = rows[0][ranks.rank()];
  own.narrow(0, 0, channels).copy_(local_mean);
  own.narrow(0, channels, channels).copy_(local_var);
  own[2 * channels].fill_(static_cast<double>(x.numel() / channels));
  ranks.all_reduce_sum(rows);
  const at::Tensor means = rows[0].narrow(1, 0, channels);
  const at::Tensor vars = rows[0].narrow(1, channels, channels);
  const at::Tensor counts = rows[0].narrow(1, 2 * channels, 1);
  Moments m;
  m.count = counts.sum().item<double>();
  m.mean = (means * counts).sum(0) / m.count;
  m.var = ((vars + (means - m.mean).pow(2)) * counts).sum(0) / m.count;
  return m;
}

/// y = (x − mean)·invstd·w + b with the global moments, and its exact backward: the
/// gradient reaches x through the moments too, via Σ dy and Σ dy·x̂ summed over the ranks.
struct SynchronizedBatchNormFunction
    : public torch::autograd::Function<SynchronizedBatchNormFunction> {
  // weight and bias: optional, as an undefined tensor is no input of a custom Function.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x,
                            const c10::optional<at::Tensor>& weight_or_none,
                            const c10::optional<at::Tensor>& bias_or_none, const at::Tensor& mean,
                            const at::Tensor& var, double count, double eps) {
    const at::Tensor weight = weight_or_none.value_or(at::Tensor());
    const at::Tensor bias = bias_or_none.value_or(at::Tensor());
    ctx->save_for_backward({x, weight, bias, mean, var});
    ctx->saved_data["count"] = count;
    ctx->saved_data["eps"] = eps;
    // Inference-mode BatchNorm with the global moments: one fused elementwise pass.
    return at::batch_norm(x, weight, bias, mean, var, /*training=*/false, 0.0, eps,
                          /*cudnn_enabled=*/false);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &bias = saved[2];
    const at::Tensor &mean = saved[3], &var = saved[4];
    const double count = ctx->saved_data["count"].toDouble();
    const double eps = ctx->saved_data["eps"].toDouble();
    const at::Tensor& dy = grads[0];
    if (at::GradMode::is_enabled())
      return differentiable_backward(x, weight, bias, dy, mean, count, eps);

    const int64_t channels = x.size(1);
    const at::Tensor w = weight.defined() ? weight : at::ones({channels}, x.options());
    // Inference-mode BatchNorm backward with the global moments gives this rank's
    // Σ dy·x̂ (as the weight's gradient) and Σ dy (as the bias's) in one fused pass.
    const auto local = at::native_batch_norm_backward(dy, x, w, mean, var, {}, {},
                                                      /*train=*/false, eps, {false, true, true});
    const at::Tensor& sum_dy_xhat = std::get<1>(local);
    const at::Tensor& sum_dy = std::get<2>(local);
    at::Tensor grad_x;
    if (ctx->needs_input_grad(0)) {
      std::vector<at::Tensor> sums = {at::cat({sum_dy, sum_dy_xhat})};
      communicator()->all_reduce_sum(sums);
      const at::Tensor mean_dy = sums[0].narrow(0, 0, channels) / count;
      const at::Tensor mean_dy_xhat = sums[0].narrow(0, channels, channels) / count;
      // dx = w·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)) = k_dy·dy + k_x·x + k_1 per channel.
      const at::Tensor invstd = at::rsqrt(var + eps);
      const at::Tensor k_dy = w * invstd;
      const at::Tensor k_x = -k_dy * invstd * mean_dy_xhat;
      const at::Tensor k_1 = -k_dy * mean_dy - k_x * mean;
      grad_x = at::addcmul(per_channel(k_1), x, per_channel(k_x));
      grad_x.addcmul_(dy, per_channel(k_dy));
    }
    // The affine parameters' gradients stay this rank's own: the gradients of every
    // parameter are averaged over the ranks afterwards, as for any other weight.
    return {grad_x,
            weight.defined() ? sum_dy_xhat : at::Tensor(),
            bias.defined() ? sum_dy : at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }

  /// Backward with create_graph: the same formula in differentiable operations, the
  /// moments recomputed from x (around the saved mean, so without cancellation) and both
  /// sums through AllReduceSum, so a gradient of this gradient is exact too.
  static tensor_list differentiable_backward(const at::Tensor& x, const at::Tensor& weight,
                                             const at::Tensor& bias, const at::Tensor& dy,
                                             const at::Tensor& saved_mean, double count,
                                             double eps) {
    const int64_t channels = x.size(1);
    const at::Tensor centred = x - per_channel(saved_mean);
    const at::Tensor moments = AllReduceSum::apply(
        at::cat({centred.sum({0, 2, 3}), (centred * centred).sum({0, 2, 3})}) / count);
    const at::Tensor shift = moments.narrow(0, 0, channels);  // mean − saved mean
    const at::Tensor var = moments.narrow(0, channels, channels) - shift * shift;
    const at::Tensor invstd = at::rsqrt(var + eps);
    const at::Tensor xhat = (centred - per_channel(shift)) * per_channel(invstd);
    const at::Tensor sum_dy = dy.sum({0, 2, 3}), sum_dy_xhat = (dy * xhat).sum({0, 2, 3});
    const at::Tensor means = AllReduceSum::apply(at::cat({sum_dy, sum_dy_xhat}) / count);
    const at::Tensor scale = weight.defined() ? weight * invstd : invstd;
    tensor_list result(7);
    result[0] = per_channel(scale) * (dy - per_channel(means.narrow(0, 0, channels)) -
                                      xhat * per_channel(means.narrow(0, channels, channels)));
    if (weight.defined()) result[1] = sum_dy_xhat;
    if (bias.defined()) result[2] = sum_dy;
    return result;
  }
};

}  // namespace

at::Tensor synchronized_batch_norm(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& bias, const at::Tensor& running_mean,
                                   const at::Tensor& running_var, double momentum, double eps) {
  const Moments m = global_moments(x);
  if (running_mean.defined()) {
    const at::NoGradGuard no_grad;
    running_mean.mul_(1 - momentum).add_(m.mean, momentum);
    // The unbiased variance of the whole batch, as SyncBatchNorm keeps.
    running_var.mul_(1 - momentum).add_(m.var * (m.count / std::max(m.count - 1, 1.0)), momentum);
  }
  const auto optional = [](const at::Tensor& t) {
    return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
  };
  return SynchronizedBatchNormFunction::apply(x, optional(weight), optional(bias), m.mean, m.var,
                                              m.count, eps);
}

}  // namespace nasx
