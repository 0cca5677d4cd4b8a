// The magnitude selector: the DARTS derivation (Liu et al., ICLR 2019, Sec. 2.4).
// Per intermediate node keep the 2 incoming edges whose strongest non-`none`
// operation weighs most, and that operation on each (SDK: Supernet::derive_genotype).

#include <nasx/selector.hpp>
#include <nasx/supernet.hpp>

namespace {

class Magnitude final : public nasx::Selector {
 public:
  static nasx::ParamSchema schema() { return {}; }

  nasx::Genotype select(nasx::Context& ctx) override { return ctx.supernet().derive_genotype(); }
};

}  // namespace

NASX_PLUGIN(Magnitude, "magnitude", "1.0.0",
            "argmax of the architecture weights: top-2 edges per node, strongest operation")
