// Regularized (aging) evolution (Real, Aggarwal, Huang, Le, AAAI 2019; AutoDL's NB201
// port, R_EA.py): the SDK's RegularizedEvolution (nasx/evolution.hpp) with a uniformly
// drawn initial population, over any evaluator.

#include <nasx/evolution.hpp>

namespace {

const nasx::OptionsBinding<nasx::EvolutionOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<nasx::EvolutionOptions> b;
    nasx::bind_evolution(b);
    return b;
  }();
  return b;
}

class Evolution final : public nasx::RegularizedEvolution {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }
  void setup(nasx::Context& ctx) override { setup_evolution(ctx, binding().read(ctx.params())); }
};

}  // namespace

NASX_PLUGIN(Evolution, "evolution", "1.0.0",
            "regularized (aging) evolution over any evaluator (Real et al., AAAI 2019)")
