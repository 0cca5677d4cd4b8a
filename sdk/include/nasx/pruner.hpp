#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/context.hpp"
#include "nasx/plugin.hpp"

namespace nasx {

/// Validation predictions of an ensemble's members.
struct EnsemblePool {
  at::Tensor probabilities;  ///< [members, samples, classes], softmax outputs
  at::Tensor labels;         ///< [samples]
};

/// Chooses which members of an ensemble of sub-architectures to keep.
class NASX_API EnsemblePruner : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_PRUNER;
  ~EnsemblePruner() override;

  /// Indices of the kept members, in any order.
  virtual std::vector<int64_t> prune(Context& ctx, const EnsemblePool& pool) = 0;
};

}  // namespace nasx
