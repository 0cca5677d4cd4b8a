#pragma once

#include <cstdint>

#include "nasx/data.hpp"
#include "nasx/export.hpp"

namespace nasx {

class Supernet;

/// Mean loss and top-1 accuracy over a data set.
struct EvalResult {
  double loss = 0;
  double accuracy = 0;
  int64_t samples = 0;
};

/// Evaluates the supernet with its current architecture weights, in eval mode
/// (BatchNorm running statistics) without gradients, over `data` in order
/// (`max_batches` > 0: only the first ones). Restores the module's mode.
NASX_API EvalResult evaluate_supernet(Supernet& net, const TensorDataset& data, int64_t batch_size,
                                      int64_t max_batches = 0);

}  // namespace nasx
