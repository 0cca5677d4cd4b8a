#include "nasx/bilevel.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "nasx/optim.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

namespace {

using Tensors = std::vector<at::Tensor>;

/// Gradients of `loss` with respect to `inputs` only (weight gradients are not
/// computed when only the architecture's are asked for); unused inputs get zeros.
Tensors gradients(const at::Tensor& loss, const Tensors& inputs) {
  Tensors grads = torch::autograd::grad({loss}, inputs, /*grad_outputs=*/{},
                                        /*retain_graph=*/false, /*create_graph=*/false,
                                        /*allow_unused=*/true);
  for (size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined()) grads[i] = at::zeros_like(inputs[i]);
  return grads;
}

void set_gradients(const Tensors& params, const Tensors& grads) {
  for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i].detach();
}

Tensors snapshot(const Tensors& tensors) {
  at::NoGradGuard no_grad;
  Tensors copies;
  copies.reserve(tensors.size());
  for (const auto& t : tensors) copies.push_back(t.detach().clone());
  return copies;
}

void restore(const Tensors& tensors, const Tensors& saved) {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].copy_(saved[i]);
}

at::Tensor global_norm(const Tensors& tensors) {
  Tensors norms;
  norms.reserve(tensors.size());
  for (const auto& t : tensors) norms.push_back(t.norm().to(at::kDouble));
  return at::stack(norms).norm();
}

}  // namespace

ForwardResult supernet_forward(Supernet& net, const Batch& batch) {
  at::Tensor logits = net.forward(batch.images);
  at::Tensor loss = at::nll_loss(at::log_softmax(logits, 1), batch.labels);
  return {loss, logits};
}

at::Tensor supernet_loss(Supernet& net, const Batch& batch) {
  return supernet_forward(net, batch).loss;
}

ForwardResult first_order_arch_gradient(Supernet& net, const Batch& search_batch) {
  ForwardResult result = supernet_forward(net, search_batch);
  const Tensors alphas = net.arch_parameters();
  set_gradients(alphas, gradients(result.loss, alphas));
  return {result.loss.detach(), result.logits.detach()};
}

MixedLevelResult mixed_level_arch_gradient(Supernet& net, const Batch& train_batch,
                                           const Batch& search_batch, double lambda) {
  const Tensors alphas = net.arch_parameters();
  const at::Tensor train_loss = supernet_loss(net, train_batch);
  const Tensors train_grads = gradients(train_loss, alphas);
  const at::Tensor val_loss = supernet_loss(net, search_batch);
  const Tensors val_grads = gradients(val_loss, alphas);
  Tensors sum;
  for (size_t i = 0; i < alphas.size(); ++i) sum.push_back(train_grads[i] + lambda * val_grads[i]);
  set_gradients(alphas, sum);
  return {train_loss.detach(), val_loss.detach()};
}

std::vector<at::Tensor> finite_difference_hvp(Supernet& net, const Batch& train_batch,
                                              const std::vector<at::Tensor>& v, double r) {
  const Tensors weights = net.weight_parameters();
  const Tensors alphas = net.arch_parameters();
  const Tensors saved = snapshot(weights);
  const at::Tensor step = r / global_norm(v);  // R, kept on the device

  auto shift_weights = [&](double sign) {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < weights.size(); ++i)
      weights[i].copy_(saved[i] + sign * step.to(saved[i].scalar_type()) * v[i]);
  };
  shift_weights(+1.0);
  const Tensors grad_plus = gradients(supernet_loss(net, train_batch), alphas);
  shift_weights(-1.0);
  const Tensors grad_minus = gradients(supernet_loss(net, train_batch), alphas);
  restore(weights, saved);

  Tensors hvp;
  for (size_t i = 0; i < alphas.size(); ++i)
    // (g+ − g−) / (2R): the division by 2R as a whole, not (… / 2) · R.
    hvp.push_back((grad_plus[i] - grad_minus[i]) / (2.0 * step.to(grad_plus[i].scalar_type())));
  return hvp;
}

at::Tensor second_order_arch_gradient(Supernet& net, const Batch& train_batch,
                                      const Batch& search_batch,
                                      const WeightOptimizer& weight_optimizer, double r) {
  const Tensors weights = net.weight_parameters();
  const Tensors alphas = net.arch_parameters();
  const SgdOptions& sgd = weight_optimizer.options();
  const double xi = weight_optimizer.lr();
  const Tensors saved = snapshot(weights);

  // 1. Virtual step w' = w − ξ (μ·m + ∇w L_train(w, α) + λ w), with the raw
  //    (unclipped) gradient, as the reference does.
  {
    const Tensors grads = gradients(supernet_loss(net, train_batch), weights);
    const auto& momentum = weight_optimizer.momentum_buffers();
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < weights.size(); ++i) {
      at::Tensor direction = grads[i] + sgd.weight_decay * saved[i] + sgd.momentum * momentum[i];
      weights[i].sub_(direction, xi);
    }
  }

  // 2. At w': the direct architecture gradient and v = ∇w' L_val(w', α).
  const at::Tensor unrolled_loss = supernet_loss(net, search_batch);
  Tensors inputs = alphas;
  inputs.insert(inputs.end(), weights.begin(), weights.end());
  const Tensors grads = gradients(unrolled_loss, inputs);
  const Tensors direct(grads.begin(), grads.begin() + static_cast<long>(alphas.size()));
  const Tensors v(grads.begin() + static_cast<long>(alphas.size()), grads.end());
  restore(weights, saved);

  // 3. The implicit term, a Hessian-vector product around the original w.
  const Tensors hvp = finite_difference_hvp(net, train_batch, v, r);
  Tensors arch_grads;
  for (size_t i = 0; i < alphas.size(); ++i) arch_grads.push_back(direct[i] - xi * hvp[i]);
  set_gradients(alphas, arch_grads);
  return unrolled_loss.detach();
}

ForwardResult weight_step(Supernet& net, WeightOptimizer& optimizer, const Batch& train_batch) {
  ForwardResult result = supernet_forward(net, train_batch);
  // Only the weights' gradients: the alphas' are not needed for this step.
  set_gradients(optimizer.params(), gradients(result.loss, optimizer.params()));
  optimizer.step();
  return {result.loss.detach(), result.logits.detach()};
}

BilevelStepResult bilevel_step(Supernet& net, WeightOptimizer& weight_optimizer,
                               ArchOptimizer& arch_optimizer, const Batch& train_batch,
                               const Batch& search_batch, const BilevelOptions& options) {
  BilevelStepResult result;
  arch_optimizer.zero_grad();
  switch (options.gradient) {
    case ArchGradient::FirstOrder:
      result.arch_loss = first_order_arch_gradient(net, search_batch).loss;
      break;
    case ArchGradient::SecondOrder:
      result.arch_loss = second_order_arch_gradient(net, train_batch, search_batch,
                                                    weight_optimizer, options.unrolled_r);
      break;
    case ArchGradient::MixedLevel: {
      const auto losses =
          mixed_level_arch_gradient(net, train_batch, search_batch, options.mixed_lambda);
      result.arch_loss = losses.train_loss + options.mixed_lambda * losses.val_loss;
      break;
    }
  }
  arch_optimizer.step();
  result.weights = weight_step(net, weight_optimizer, train_batch);
  return result;
}

}  // namespace nasx
