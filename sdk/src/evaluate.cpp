#include "nasx/evaluate.hpp"

#include <ATen/ATen.h>

#include "nasx/supernet.hpp"

namespace nasx {

EvalResult evaluate_supernet(Supernet& net, const TensorDataset& data, int64_t batch_size,
                             int64_t max_batches) {
  const bool was_training = net.is_training();
  net.eval();
  at::NoGradGuard no_grad;
  at::Tensor loss_sum = at::zeros({}, data.images.options().dtype(at::kDouble));
  at::Tensor correct = at::zeros({}, data.images.options().dtype(at::kLong));
  int64_t samples = 0;
  const auto weights = net.arch_weights();
  for (int64_t start = 0, batch = 0; start < data.size(); start += batch_size, ++batch) {
    if (max_batches > 0 && batch >= max_batches) break;
    const int64_t size = std::min(batch_size, data.size() - start);
    const at::Tensor images = data.images.narrow(0, start, size);
    const at::Tensor labels = data.labels.narrow(0, start, size);
    const at::Tensor logits = net.forward_with_weights(images, weights);
    loss_sum +=
        at::nll_loss(at::log_softmax(logits, 1), labels, {}, at::Reduction::Sum).to(at::kDouble);
    correct += logits.argmax(1).eq(labels).sum();
    samples += size;
  }
  net.train(was_training);
  EvalResult result;
  result.samples = samples;
  if (samples > 0) {
    result.loss = loss_sum.item<double>() / static_cast<double>(samples);
    result.accuracy = static_cast<double>(correct.item<int64_t>()) / static_cast<double>(samples);
  }
  return result;
}

}  // namespace nasx
