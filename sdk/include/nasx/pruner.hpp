#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/params.hpp"
#include "nasx/plugin.hpp"

namespace nasx {

/// Validation predictions of an ensemble's members.
struct EnsemblePool {
  at::Tensor probabilities;  ///< [members, samples, classes] float64, rows sum to 1
  at::Tensor labels;         ///< [samples] int64
  int64_t members() const { return probabilities.size(0); }
};

/// Chooses which members of an ensemble of sub-architectures to keep (SAEP and
/// baselines). One call is one pruning decision; the host
/// apply it online (as members arrive) or repeatedly offline.
class NASX_API EnsemblePruner : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_PRUNER;
  ~EnsemblePruner() override;

  /// The plugin's parameters (today its schema's defaults: `nasx ensemble` has no
  /// per-pruner settings yet). Throw
  /// ConfigError for values it cannot honour.
  virtual void setup(const ParamValues& params) { (void)params; }

  /// Indices (ascending) of the members of `pool` to keep. Draw randomness from `rng`
  /// only. Throw ConfigError when the pool is too small for the pruner's setting.
  virtual std::vector<int64_t> prune(const EnsemblePool& pool, std::mt19937_64& rng) = 0;

  /// True for baselines that choose once from the finished pool (keep all, top-k):
  /// they are applied to the whole pool whatever the schedule.
  virtual bool one_shot() const { return false; }
};

}  // namespace nasx
