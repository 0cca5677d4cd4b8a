#pragma once
/// Training a standalone network from scratch: the one training loop of the host. The
/// `train` evaluator, `nasx train` and ensemble members all train through it.

#include <cstdint>
#include <functional>
#include <memory>

#include <ATen/core/Generator.h>

#include "nasx/data.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/training_protocol.hpp"

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace nasx {

class Network;
class WeightOptimizer;

}  // namespace nasx

namespace nasx::core {

/// What one epoch did.
struct EpochResult {
  int64_t epoch = 0;
  double lr = 0;
  double train_loss = 0;  ///< mean over the epoch's minibatches (main head)
  double train_acc = 0;
  double seconds = 0;
  bool complete = true;  ///< false when `stop` ended it early
};

/// Trains one network epoch by epoch. Everything random (data order, augmentation,
/// drop-path masks) is drawn from streams that depend only on (seed, epoch), so a run
/// resumed at an epoch boundary from save()/load() continues exactly as an
/// uninterrupted one.
class Trainer {
 public:
  /// `net` must already be on the data's device.
  Trainer(Network& net, TensorDataset train, TrainOptions options, uint64_t seed);
  ~Trainer();

  int64_t epochs() const { return options_.epochs; }
  /// The epoch run_epoch() will train next (0 at the start, epochs() when done).
  int64_t next_epoch() const { return next_epoch_; }
  /// Trains epoch next_epoch(). `stop` is polled between minibatches; an epoch it ends
  /// early is reported with complete = false and does not advance next_epoch().
  EpochResult run_epoch(const std::function<bool()>& stop = {});

  /// Optimizer state and progress (the network's weights are saved by the caller).
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  Network& net_;
  TensorDataset train_;
  TrainOptions options_;
  uint64_t seed_;
  std::unique_ptr<WeightOptimizer> optimizer_;
  int64_t next_epoch_ = 0;
};

/// The training augmentation: random crop after zero padding, horizontal flip, cutout
/// (per image; draws from `generator`, a CPU generator).
at::Tensor augment(const at::Tensor& images, const TrainOptions& options, at::Generator& generator);

struct TrainResult {
  double train_loss = 0;  ///< mean over the last epoch
  double train_acc = 0;
  EvalResult valid;
  double seconds = 0;
};

/// Trains `net` for every epoch with a Trainer, then evaluates it on `valid`. `stop`
/// is polled between minibatches; when it returns true training ends early and the
/// result covers what was done.
TrainResult train_network(Network& net, const TensorDataset& train, const TensorDataset& valid,
                          const TrainOptions& options, uint64_t seed,
                          const std::function<bool()>& stop = {});

}  // namespace nasx::core
