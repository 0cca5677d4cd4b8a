#include "nasx/evaluate.hpp"

#include <functional>

#include <ATen/ATen.h>

#include "nasx/space.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

namespace {

using Forward = std::function<at::Tensor(const at::Tensor&)>;

EvalResult evaluate(torch::nn::Module& module, const Forward& forward, const TensorDataset& data,
                    int64_t batch_size, int64_t max_batches, bool batch_statistics = false) {
  const bool was_training = module.is_training();
  module.train(batch_statistics);
  std::vector<at::Tensor> buffers, saved;
  if (batch_statistics)
    for (const auto& buffer : module.buffers()) {
      buffers.push_back(buffer);
      saved.push_back(buffer.clone());
    }
  at::NoGradGuard no_grad;
  at::Tensor loss_sum = at::zeros({}, data.images.options().dtype(at::kDouble));
  at::Tensor correct = at::zeros({}, data.images.options().dtype(at::kLong));
  int64_t samples = 0;
  for (int64_t start = 0, batch = 0; start < data.size(); start += batch_size, ++batch) {
    if (max_batches > 0 && batch >= max_batches) break;
    const int64_t size = std::min(batch_size, data.size() - start);
    const at::Tensor images = data.images.narrow(0, start, size);
    const at::Tensor labels = data.labels.narrow(0, start, size);
    const at::Tensor logits = forward(images);
    loss_sum +=
        at::nll_loss(at::log_softmax(logits, 1), labels, {}, at::Reduction::Sum).to(at::kDouble);
    correct += logits.argmax(1).eq(labels).sum();
    samples += size;
  }
  for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
  module.train(was_training);
  EvalResult result;
  result.samples = samples;
  if (samples > 0) {
    result.loss = loss_sum.item<double>() / static_cast<double>(samples);
    result.accuracy = static_cast<double>(correct.item<int64_t>()) / static_cast<double>(samples);
  }
  return result;
}

}  // namespace

EvalResult evaluate_supernet(Supernet& net, const TensorDataset& data, int64_t batch_size,
                             int64_t max_batches) {
  at::NoGradGuard no_grad;
  const auto weights = net.arch_weights();
  return evaluate(
      net, [&](const at::Tensor& x) { return net.forward_with_weights(x, weights); }, data,
      batch_size, max_batches);
}

EvalResult evaluate_supernet_with_weights(Supernet& net, const std::vector<at::Tensor>& weights,
                                          const TensorDataset& data, int64_t batch_size,
                                          int64_t max_batches, bool batch_statistics) {
  return evaluate(
      net, [&](const at::Tensor& x) { return net.forward_with_weights(x, weights); }, data,
      batch_size, max_batches, batch_statistics);
}

EvalResult evaluate_path(Supernet& net, const Architecture& arch, const TensorDataset& data,
                         int64_t batch_size, int64_t max_batches, bool batch_statistics) {
  return evaluate(
      net, [&](const at::Tensor& x) { return net.forward_path(x, arch); }, data, batch_size,
      max_batches, batch_statistics);
}

EvalResult evaluate_network(Network& net, const TensorDataset& data, int64_t batch_size,
                            int64_t max_batches) {
  return evaluate(
      net, [&](const at::Tensor& x) { return net.forward(x); }, data, batch_size, max_batches);
}

}  // namespace nasx
