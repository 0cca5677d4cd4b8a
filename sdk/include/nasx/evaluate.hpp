#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "nasx/architecture.hpp"
#include "nasx/data.hpp"
#include "nasx/export.hpp"

namespace nasx {

class Network;
class Supernet;

/// Mean loss and top-1 accuracy over a data set.
struct EvalResult {
  double loss = 0;
  double accuracy = 0;
  int64_t samples = 0;
};

/// Each of these runs in eval mode (BatchNorm running statistics) without gradients,
/// over `data` in order (`max_batches` > 0: only the first ones), and restores the
/// module's mode.

/// The supernet with its current architecture weights.
NASX_API EvalResult evaluate_supernet(Supernet& net, const TensorDataset& data, int64_t batch_size,
                                      int64_t max_batches = 0);
/// The supernet with explicit architecture weights (one [edges, ops] tensor per cell
/// type). With `batch_statistics`, BatchNorm uses each minibatch's statistics and the
/// running statistics are restored afterwards (DARTS-PT evaluates this way).
NASX_API EvalResult evaluate_supernet_with_weights(Supernet& net,
                                                   const std::vector<at::Tensor>& weights,
                                                   const TensorDataset& data, int64_t batch_size,
                                                   int64_t max_batches = 0,
                                                   bool batch_statistics = false);
/// One architecture on the supernet's shared weights (single path). With
/// `batch_statistics`, BatchNorm normalises with each minibatch's own statistics (train
/// mode) and the running statistics are restored afterwards, so the evaluation leaves
/// the supernet exactly as it found it: after single-path training the running
/// statistics mix every path's, and most candidates score near chance with them.
NASX_API EvalResult evaluate_path(Supernet& net, const Architecture& arch,
                                  const TensorDataset& data, int64_t batch_size,
                                  int64_t max_batches = 0, bool batch_statistics = false);
/// Called after each minibatch with the minibatches done and their total: progress, and
/// a way out (what it throws leaves the evaluation, the module restored as it was).
using AfterBatch = std::function<void(int64_t done, int64_t total)>;
/// Each of `archs` on the supernet's shared weights, as evaluate_path gives it (the same
/// figures, bit for bit on the CPU, as the tests pin for every shipped space), every
/// minibatch run once through forward_paths: the work the architectures share is done once.
NASX_API std::vector<EvalResult> evaluate_paths(Supernet& net,
                                                const std::vector<Architecture>& archs,
                                                const TensorDataset& data, int64_t batch_size,
                                                int64_t max_batches = 0,
                                                bool batch_statistics = false,
                                                const AfterBatch& after_batch = {});
/// A standalone network.
NASX_API EvalResult evaluate_network(Network& net, const TensorDataset& data, int64_t batch_size,
                                     int64_t max_batches = 0);

}  // namespace nasx
