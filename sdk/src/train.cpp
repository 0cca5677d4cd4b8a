#include "nasx/train.hpp"

#include <chrono>

#include <ATen/ATen.h>

#include "nasx/metrics.hpp"
#include "nasx/optim.hpp"
#include "nasx/space.hpp"

namespace nasx {

TrainResult train_network(Network& net, const TensorDataset& train, const TensorDataset& valid,
                          const TrainOptions& options, uint64_t seed,
                          const std::function<bool()>& stop) {
  const auto start = std::chrono::steady_clock::now();
  SgdOptions sgd;
  sgd.lr = options.lr;
  sgd.lr_min = options.lr_min;
  sgd.momentum = options.momentum;
  sgd.nesterov = options.nesterov;
  sgd.weight_decay = options.weight_decay;
  sgd.grad_clip = options.grad_clip;
  sgd.epochs = options.epochs;
  WeightOptimizer optimizer(net.parameters(), sgd);
  BatchLoader loader(train, std::min(options.batch_size, train.size()), seed);
  TrainResult result;
  net.train();
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    optimizer.set_epoch(epoch);
    loader.set_epoch(epoch);
    MetricsMeter meter;
    bool stopped = false;
    for (int64_t i = 0; i < loader.batches_per_epoch(); ++i) {
      if (stop && stop()) {
        stopped = true;
        break;
      }
      const Batch batch = loader.batch(i);
      clear_gradients(optimizer.params());
      const at::Tensor logits = net.forward(batch.images);
      const at::Tensor loss = at::cross_entropy_loss(logits, batch.labels);
      loss.backward();
      optimizer.step();
      meter.add("loss", loss.detach(), batch.labels.size(0));
      meter.add_accuracy("acc", logits.detach(), batch.labels);
    }
    const auto means = meter.means();
    if (means.count("loss")) {
      result.train_loss = means.at("loss");
      result.train_acc = means.at("acc");
    }
    if (stopped) break;
  }
  result.valid = evaluate_network(net, valid, options.batch_size);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace nasx
