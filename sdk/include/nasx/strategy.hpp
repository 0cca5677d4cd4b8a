#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "nasx/architecture.hpp"

#include "nasx/context.hpp"
#include "nasx/plugin.hpp"
#include "nasx/state.hpp"

namespace nasx {

/// A search strategy. The host calls `setup` once, then `step` for steps
/// 0..total_steps()-1 (for DARTS one step is one epoch), then `end_step` with the
/// step's metrics, and checkpoints with `state`; a resumed run calls `setup`, `state`,
/// then continues with the next step. Whatever `step` returns is logged as that
/// step's metrics.
///
/// Gradient strategies train the supernet's architecture parameters: after each step
/// the host validates the supernet with them, logs them, and at the end the configured
/// selector turns the supernet into the answer. Sampling strategies (random search,
/// evolution, ENAS) say so with trains_arch_parameters() = false and give their own
/// answer with best().
class NASX_API SearchStrategy : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_STRATEGY;
  ~SearchStrategy() override;

  /// Reads ctx.params(), builds optimizers. Validation already happened in the host.
  virtual void setup(Context& ctx) = 0;
  virtual int64_t total_steps() const = 0;
  virtual std::map<std::string, double> step(Context& ctx, int64_t step) = 0;
  /// After each step, with its metrics (the host's validation included). Return false
  /// to end the search early; the host then goes on to the answer.
  virtual bool end_step(Context& ctx, int64_t step, const std::map<std::string, double>& metrics);
  virtual bool trains_arch_parameters() const { return true; }
  /// The strategy's own answer so far, if it has one (then no selector runs).
  virtual std::optional<Architecture> best() const { return std::nullopt; }
  /// Everything needed to continue exactly (optimizer state, generators, counters,
  /// what was measured), listed once for both directions: the host calls it with a
  /// saving archive after every step and with a loading one on resume (see state.hpp).
  virtual void state(StateArchive& archive) = 0;
};

}  // namespace nasx
