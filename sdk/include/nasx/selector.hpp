#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nasx/architecture.hpp"
#include "nasx/context.hpp"
#include "nasx/plugin.hpp"
#include "nasx/state.hpp"

namespace nasx {

/// Turns the trained supernet of a search (ctx.supernet()) into one architecture.
///
/// A selector that only reads the supernet (magnitude) implements select() alone. One
/// that works on it for a while (DARTS-PT fine-tunes the supernet between decisions)
/// also states steps, like a strategy: the host calls setup(), then step() for steps
/// 0..total_steps()-1, checkpointing state() and the supernet after each, so a killed
/// selection resumes (setup, state() loading, the next step); then select() gives the
/// answer.
class NASX_API Selector : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_SELECTOR;
  ~Selector() override;

  /// Reads ctx.params(); called once before any step (and before load on a resume).
  virtual void setup(Context& ctx);
  /// Host steps the selection takes (0: select() does all the work).
  virtual int64_t total_steps() const { return 0; }
  /// One step; what it returns is logged as the step's metrics.
  virtual std::map<std::string, double> step(Context& ctx, int64_t step);
  /// Everything needed to continue after the last finished step, listed once for both
  /// directions (see state.hpp). A selector that takes steps must bind whatever it
  /// changes between them; the default binds nothing (right for select()-only ones).
  virtual void state(StateArchive& archive);

  virtual Architecture select(Context& ctx) = 0;
};

}  // namespace nasx
