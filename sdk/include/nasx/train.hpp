#pragma once
/// Training a standalone network from scratch: the one training loop of the SDK
/// (the `train` evaluator uses it; final training builds on it).

#include <cstdint>
#include <functional>

#include "nasx/data.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/export.hpp"

namespace nasx {

class Network;

/// SGD with a per-epoch cosine schedule, as NAS-Bench-201 trains its networks
/// (its defaults: lr 0.1 cosine to 0, momentum 0.9, Nesterov, wd 5e-4).
struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 64;
  double lr = 0.1;
  double lr_min = 0.0;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;
  double grad_clip = 5.0;  ///< 0: off
};

struct TrainResult {
  double train_loss = 0;  ///< mean over the last epoch
  double train_acc = 0;
  EvalResult valid;
  double seconds = 0;
};

/// Trains `net` (already on the data's device) on `train` in a seeded order, then
/// evaluates it on `valid`. `stop` is polled between minibatches; when it returns true
/// training ends early and the result covers what was done.
NASX_API TrainResult train_network(Network& net, const TensorDataset& train,
                                   const TensorDataset& valid, const TrainOptions& options,
                                   uint64_t seed, const std::function<bool()>& stop = {});

}  // namespace nasx
