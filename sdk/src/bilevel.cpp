#include "nasx/bilevel.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "nasx/distributed.hpp"
#include "nasx/optim.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

namespace {

using Tensors = std::vector<at::Tensor>;

/// Gradients of `loss` with respect to `inputs` only (weight gradients are not
/// computed when only the architecture's are asked for); unused inputs get zeros. In a
/// data-parallel search, their mean over the ranks: every gradient below is the
/// whole batch's, whichever rank computes it.
Tensors gradients(const at::Tensor& loss, const Tensors& inputs) {
  Tensors grads = torch::autograd::grad({loss}, inputs, /*grad_outputs=*/{},
                                        /*retain_graph=*/false, /*create_graph=*/false,
                                        /*allow_unused=*/true);
  for (size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined()) grads[i] = at::zeros_like(inputs[i]);
  average_over_ranks(grads);
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

ForwardResult supernet_forward(Supernet& net, const Batch& batch, const Tensors& weights) {
  at::Tensor logits = net.forward_with_weights(batch.images, weights);
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

ForwardResult first_order_arch_gradient(Supernet& net, const Batch& search_batch,
                                        const Tensors& weights) {
  ForwardResult result = supernet_forward(net, search_batch, weights);
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

std::vector<at::Tensor> neighbour_weights(const std::vector<at::Tensor>& weights,
                                          const NeighbourMove& move) {
  std::vector<at::Tensor> out = weights;
  const at::Tensor row = weights[static_cast<size_t>(move.cell)][move.edge];
  const int64_t best = row.detach().argmax().item<int64_t>();
  at::Tensor shift = at::zeros_like(row.detach());
  shift[move.op] += 1.0;
  shift[best] -= 1.0;
  const at::Tensor moved = row + row[best] * shift;
  at::Tensor matrix = weights[static_cast<size_t>(move.cell)];
  // Replace one row without writing into the original (which other members share).
  std::vector<at::Tensor> rows = matrix.unbind(0);
  rows[static_cast<size_t>(move.edge)] = moved;
  out[static_cast<size_t>(move.cell)] = at::stack(rows);
  return out;
}

std::vector<NeighbourMove> sample_neighbour_moves(Supernet& net, int64_t count, bool allow_none,
                                                  std::mt19937_64& rng) {
  at::NoGradGuard no_grad;
  const auto weights = net.arch_weights();
  std::vector<NeighbourMove> moves;
  for (int64_t m = 0; m < count; ++m) {
    NeighbourMove move;
    move.cell =
        std::uniform_int_distribution<int64_t>(0, static_cast<int64_t>(weights.size()) - 1)(rng);
    const at::Tensor& w = weights[static_cast<size_t>(move.cell)];
    move.edge = std::uniform_int_distribution<int64_t>(0, w.size(0) - 1)(rng);
    const int64_t best = w[move.edge].argmax().item<int64_t>();
    std::vector<int64_t> candidates;
    for (int64_t op = allow_none ? 0 : 1; op < w.size(1); ++op)
      if (op != best) candidates.push_back(op);
    move.op = candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng)];
    moves.push_back(move);
  }
  return moves;
}

at::Tensor neighbourhood_arch_gradient(Supernet& net, const Batch& search_batch,
                                       const std::vector<NeighbourMove>& moves, bool include_self,
                                       NeighbourAggregate aggregate) {
  const Tensors alphas = net.arch_parameters();
  const auto members = static_cast<int64_t>(moves.size()) + (include_self ? 1 : 0);
  TORCH_CHECK(members > 0, "NA-DARTS: an empty neighbourhood");
  // Member m's loss; member -1 is p itself.
  auto member_loss = [&](int64_t m) {
    std::vector<at::Tensor> weights = net.arch_weights();
    if (m >= 0) weights = neighbour_weights(weights, moves[static_cast<size_t>(m)]);
    const at::Tensor logits = net.forward_with_weights(search_batch.images, weights);
    return at::nll_loss(at::log_softmax(logits, 1), search_batch.labels);
  };
  const int64_t first = include_self ? -1 : 0;
  if (aggregate == NeighbourAggregate::Worst) {
    int64_t worst = first;
    double worst_loss = -1;
    for (int64_t m = first; m < static_cast<int64_t>(moves.size()); ++m) {
      double loss = 0;
      {
        at::NoGradGuard no_grad;
        // The whole batch's loss, so that every rank picks the same member.
        std::vector<at::Tensor> mean = {member_loss(m).reshape({1})};
        average_over_ranks(mean);
        loss = mean[0].item<double>();
      }
      if (loss > worst_loss) {
        worst_loss = loss;
        worst = m;
      }
    }
    const at::Tensor loss = member_loss(worst);
    set_gradients(alphas, gradients(loss, alphas));
    return loss.detach();
  }
  Tensors sum;
  at::Tensor total;
  for (int64_t m = first; m < static_cast<int64_t>(moves.size()); ++m) {
    const at::Tensor loss = member_loss(m);
    const Tensors grads = gradients(loss, alphas);
    if (sum.empty()) {
      sum = grads;
      total = loss.detach();
    } else {
      for (size_t i = 0; i < sum.size(); ++i) sum[i] = sum[i] + grads[i];
      total = total + loss.detach();
    }
  }
  for (auto& g : sum) g = g / static_cast<double>(members);
  set_gradients(alphas, sum);
  return total / static_cast<double>(members);
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

ForwardResult weight_step(Supernet& net, WeightOptimizer& optimizer, const Batch& train_batch,
                          const Tensors& weights) {
  ForwardResult result = supernet_forward(net, train_batch, weights);
  set_gradients(optimizer.params(), gradients(result.loss, optimizer.params()));
  optimizer.step();
  return {result.loss.detach(), result.logits.detach()};
}

BilevelStepResult bilevel_step(Supernet& net, WeightOptimizer& weight_optimizer,
                               ArchOptimizer& arch_optimizer, const Batch& train_batch,
                               const Batch& search_batch, const BilevelOptions& options) {
  BilevelStepResult result;
  // Every gradient below replaces the alphas' (set_gradients); the old ones are let go
  // rather than zeroed first, which in a CUDA graph would be a write into memory freed
  // while the graph was captured.
  clear_gradients(net.arch_parameters());
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
