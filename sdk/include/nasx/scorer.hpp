#pragma once

#include <ATen/core/Tensor.h>

#include "nasx/plugin.hpp"

namespace nasx {

class Network;

/// A training-free score of an untrained network (higher is better): NASWOT and its
/// kind. Used by the `score:NAME` evaluator and by Context::score(), which build each
/// architecture's network with its seeded default initialisation and pass the same
/// training minibatch for every candidate.
class NASX_API ArchScorer : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_SCORER;
  ~ArchScorer() override;

  /// The score of `network` on `images` ([N, C, H, W], normalised, on the network's
  /// device). -infinity is allowed (e.g. a singular kernel) and loses every comparison.
  /// Throw nasx::Error when the network cannot be scored, saying why.
  virtual double score(Network& network, const at::Tensor& images) = 0;
};

}  // namespace nasx
