#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nasx/context.hpp"
#include "nasx/plugin.hpp"

namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace nasx {

/// A search strategy. The host calls `setup` once, then `step` for steps
/// 0..total_steps()-1 (for DARTS one step is one epoch), checkpointing between
/// steps with `save`; a resumed run calls `setup`, `load`, then continues with the
/// next step. Whatever `step` returns is logged as that step's metrics.
class NASX_API SearchStrategy : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_STRATEGY;
  ~SearchStrategy() override;

  /// Reads ctx.params(), builds optimizers. Validation already happened in the host.
  virtual void setup(Context& ctx) = 0;
  virtual int64_t total_steps() const = 0;
  virtual std::map<std::string, double> step(Context& ctx, int64_t step) = 0;
  /// Everything needed to continue exactly: optimizer state, counters.
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
};

}  // namespace nasx
