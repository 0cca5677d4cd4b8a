// The magnitude selector: the DARTS derivation (Liu et al., ICLR 2019, Sec. 2.4).
// Per intermediate node keep the 2 incoming edges whose strongest non-`none`
// operation weighs most, and that operation on each (SDK: SearchSpace::derive); on NB201 the argmax
// per edge, `none` included.

#include <nasx/selector.hpp>
#include <nasx/supernet.hpp>

namespace {

class Magnitude final : public nasx::Selector {
 public:
  static nasx::ParamSchema schema() { return {}; }

  nasx::Architecture select(nasx::Context& ctx) override {
    return ctx.supernet().derive_architecture();
  }
};

}  // namespace

NASX_PLUGIN(Magnitude, "magnitude", "1.0.0",
            "argmax of the architecture weights: top-2 edges per node, strongest operation")
