#pragma once

#include <cstdint>

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
/// One architecture on the supernet's shared weights (single path).
NASX_API EvalResult evaluate_path(Supernet& net, const Architecture& arch, const TensorDataset& data,
                                  int64_t batch_size, int64_t max_batches = 0);
/// A standalone network.
NASX_API EvalResult evaluate_network(Network& net, const TensorDataset& data, int64_t batch_size,
                                     int64_t max_batches = 0);

}  // namespace nasx
