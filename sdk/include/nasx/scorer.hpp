#pragma once

#include <torch/nn/module.h>

#include "nasx/context.hpp"
#include "nasx/data.hpp"
#include "nasx/plugin.hpp"

namespace nasx {

/// A training-free score of an untrained network on one minibatch (higher is better).
class NASX_API ArchScorer : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_SCORER;
  ~ArchScorer() override;

  virtual double score(Context& ctx, torch::nn::Module& network, const Batch& batch) = 0;
};

}  // namespace nasx
