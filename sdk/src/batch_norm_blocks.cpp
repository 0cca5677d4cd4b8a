#include "nasx/batch_norm_blocks.hpp"

#include <string>

#include <ATen/ATen.h>

#include "batch_norm_route.hpp"
#include "nasx/distributed.hpp"
#include "nasx/error.hpp"

namespace nasx {

namespace {

/// Whether the layers can share one call: the same options and mode, statistics tracked
/// with a momentum (a cumulative average, or normalising by the batch in evaluation
/// without statistics, is the layer's own business).
bool normalise_together(const std::vector<torch::nn::BatchNorm2d>& layers) {
  const auto& first = layers.front();
  const auto& o = first->options;
  if (!o.momentum().has_value() || !o.track_running_stats()) return false;
  for (const auto& bn : layers) {
    const auto& p = bn->options;
    if (p.eps() != o.eps() || p.momentum() != o.momentum() || p.affine() != o.affine() ||
        p.track_running_stats() != o.track_running_stats() ||
        bn->is_training() != first->is_training())
      return false;
  }
  return true;
}

/// The layers' tensors `of` each, concatenated; undefined when the first's is.
template <typename Of>
at::Tensor concatenated(const std::vector<torch::nn::BatchNorm2d>& layers, Of of) {
  if (!of(layers.front()).defined()) return {};
  std::vector<at::Tensor> parts;
  for (const auto& bn : layers) parts.push_back(of(bn));
  return at::cat(parts);
}

}  // namespace

at::Tensor batch_norm_blocks(const std::vector<torch::nn::BatchNorm2d>& layers,
                             const at::Tensor& x) {
  if (layers.empty()) throw Error("batch_norm_blocks: no layers");
  int64_t channels = 0;
  for (const auto& bn : layers) channels += bn->options.num_features();
  if (x.dim() != 4)
    throw Error("batch_norm_blocks: expects [N, C, H, W], got a " + std::to_string(x.dim()) +
                "-d tensor");
  if (x.size(1) != channels)
    throw Error("batch_norm_blocks: the layers normalise " + std::to_string(channels) +
                " channels, the input has " + std::to_string(x.size(1)));
  if (layers.size() == 1) return batch_norm(layers.front(), x);
  if (!normalise_together(layers)) {
    std::vector<at::Tensor> outputs;
    int64_t start = 0;
    for (const auto& bn : layers) {
      const int64_t c = bn->options.num_features();
      outputs.push_back(batch_norm(bn, x.narrow(1, start, c)));
      start += c;
    }
    return at::cat(outputs, 1);
  }
  const auto& o = layers.front()->options;
  const bool training = layers.front()->is_training();
  const at::Tensor weight = concatenated(layers, [](const auto& bn) { return bn->weight; });
  const at::Tensor bias = concatenated(layers, [](const auto& bn) { return bn->bias; });
  at::Tensor mean, var;
  {
    at::NoGradGuard no_grad;
    mean = concatenated(layers, [](const auto& bn) { return bn->running_mean; });
    var = concatenated(layers, [](const auto& bn) { return bn->running_var; });
  }
  const at::Tensor y =
      normalize(batch_norm_route(o, training, x), o, training, x, weight, bias, mean, var);
  if (training && mean.defined()) {
    // The running statistics were updated in the concatenation: back into each layer.
    at::NoGradGuard no_grad;
    int64_t start = 0;
    for (auto bn : layers) {
      const int64_t c = bn->options.num_features();
      bn->running_mean.copy_(mean.narrow(0, start, c));
      bn->running_var.copy_(var.narrow(0, start, c));
      count_batch(bn);
      start += c;
    }
  }
  return y;
}

}  // namespace nasx
