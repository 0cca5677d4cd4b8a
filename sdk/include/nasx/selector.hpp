#pragma once

#include "nasx/architecture.hpp"
#include "nasx/context.hpp"
#include "nasx/plugin.hpp"

namespace nasx {

/// Turns the trained supernet of a search (ctx.supernet()) into one architecture.
class NASX_API Selector : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_SELECTOR;
  ~Selector() override;

  virtual Architecture select(Context& ctx) = 0;
};

}  // namespace nasx
