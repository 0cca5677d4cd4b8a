#pragma once

#include "nasx/context.hpp"
#include "nasx/genotype.hpp"
#include "nasx/plugin.hpp"

namespace nasx {

/// Turns the trained supernet of a search (ctx.supernet()) into one genotype.
class NASX_API Selector : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_SELECTOR;
  ~Selector() override;

  virtual Genotype select(Context& ctx) = 0;
};

}  // namespace nasx
