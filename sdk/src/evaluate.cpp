#include "nasx/evaluate.hpp"

#include <functional>
#include <string>

#include <ATen/ATen.h>

#include "nasx/error.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

namespace {

/// Logits of one or more models on a minibatch.
using Forward = std::function<std::vector<at::Tensor>(const at::Tensor&)>;

/// Puts the module's mode and (with batch statistics) its buffers back as they were,
/// also when the evaluation is left by an exception (a stop request from `after_batch`).
class ModuleRestorer {
 public:
  ModuleRestorer(torch::nn::Module& module, bool save_buffers)
      : module_(module), was_training_(module.is_training()) {
    if (save_buffers)
      for (const auto& buffer : module.buffers()) {
        buffers_.push_back(buffer);
        saved_.push_back(buffer.clone());
      }
  }
  ModuleRestorer(const ModuleRestorer&) = delete;
  ModuleRestorer& operator=(const ModuleRestorer&) = delete;
  ~ModuleRestorer() {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(saved_[i]);
    module_.train(was_training_);
  }

 private:
  torch::nn::Module& module_;
  bool was_training_;
  std::vector<at::Tensor> buffers_, saved_;
};

std::vector<EvalResult> evaluate(torch::nn::Module& module, const Forward& forward, size_t models,
                                 const TensorDataset& data, int64_t batch_size, int64_t max_batches,
                                 bool batch_statistics = false,
                                 const AfterBatch& after_batch = {}) {
  const ModuleRestorer restorer(module, batch_statistics);
  module.train(batch_statistics);
  at::NoGradGuard no_grad;
  int64_t batches = (data.size() + batch_size - 1) / batch_size;
  if (max_batches > 0) batches = std::min(batches, max_batches);
  std::vector<at::Tensor> loss_sums, corrects;
  for (size_t m = 0; m < models; ++m) {
    loss_sums.push_back(at::zeros({}, data.images.options().dtype(at::kDouble)));
    corrects.push_back(at::zeros({}, data.images.options().dtype(at::kLong)));
  }
  int64_t samples = 0;
  for (int64_t start = 0, batch = 0; start < data.size(); start += batch_size, ++batch) {
    if (max_batches > 0 && batch >= max_batches) break;
    const int64_t size = std::min(batch_size, data.size() - start);
    const at::Tensor images = data.images.narrow(0, start, size);
    const at::Tensor labels = data.labels.narrow(0, start, size);
    const std::vector<at::Tensor> logits = forward(images);
    if (logits.size() != models)
      throw Error("evaluate: the supernet's forward_paths gave logits of " +
                  std::to_string(logits.size()) + " architectures for " + std::to_string(models) +
                  " (an override must give one per architecture, in order)");
    for (size_t m = 0; m < models; ++m) {
      loss_sums[m] += at::nll_loss(at::log_softmax(logits[m], 1), labels, {}, at::Reduction::Sum)
                          .to(at::kDouble);
      corrects[m] += logits[m].argmax(1).eq(labels).sum();
    }
    samples += size;
    if (after_batch) after_batch(batch + 1, batches);
  }
  std::vector<EvalResult> results(models);
  for (size_t m = 0; m < models; ++m) {
    results[m].samples = samples;
    if (samples == 0) continue;
    results[m].loss = loss_sums[m].item<double>() / static_cast<double>(samples);
    results[m].accuracy =
        static_cast<double>(corrects[m].item<int64_t>()) / static_cast<double>(samples);
  }
  return results;
}

/// One model's forward as a Forward.
template <typename F>
Forward single_model(F forward) {
  return [forward](const at::Tensor& x) { return std::vector<at::Tensor>{forward(x)}; };
}

}  // namespace

EvalResult evaluate_supernet(Supernet& net, const TensorDataset& data, int64_t batch_size,
                             int64_t max_batches) {
  at::NoGradGuard no_grad;
  const auto weights = net.arch_weights();
  return evaluate(net, single_model([&](const at::Tensor& x) {
                    return net.forward_with_weights(x, weights);
                  }),
                  1, data, batch_size, max_batches)
      .front();
}

EvalResult evaluate_supernet_with_weights(Supernet& net, const std::vector<at::Tensor>& weights,
                                          const TensorDataset& data, int64_t batch_size,
                                          int64_t max_batches, bool batch_statistics) {
  return evaluate(net, single_model([&](const at::Tensor& x) {
                    return net.forward_with_weights(x, weights);
                  }),
                  1, data, batch_size, max_batches, batch_statistics)
      .front();
}

EvalResult evaluate_path(Supernet& net, const Architecture& arch, const TensorDataset& data,
                         int64_t batch_size, int64_t max_batches, bool batch_statistics) {
  return evaluate(net, single_model([&](const at::Tensor& x) { return net.forward_path(x, arch); }),
                  1, data, batch_size, max_batches, batch_statistics)
      .front();
}

std::vector<EvalResult> evaluate_paths(Supernet& net, const std::vector<Architecture>& archs,
                                       const TensorDataset& data, int64_t batch_size,
                                       int64_t max_batches, bool batch_statistics,
                                       const AfterBatch& after_batch) {
  if (archs.empty()) return {};
  for (const Architecture& arch : archs) net.space().check(arch);
  return evaluate(
      net, [&](const at::Tensor& x) { return net.forward_paths(x, archs); }, archs.size(), data,
      batch_size, max_batches, batch_statistics, after_batch);
}

EvalResult evaluate_network(Network& net, const TensorDataset& data, int64_t batch_size,
                            int64_t max_batches) {
  return evaluate(net, single_model([&](const at::Tensor& x) { return net.forward(x); }), 1, data,
                  batch_size, max_batches)
      .front();
}

}  // namespace nasx
