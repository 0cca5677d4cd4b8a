// NA-DARTS: neighbourhood-aware DARTS (Wang, Cao, Li, Kitani, BMVC 2021), in nasx's
// formulation (no public code; see the SDK's neighbourhood_arch_gradient). The
// architecture step descends the validation loss aggregated over a neighbourhood of
// the current architecture weights: M neighbours, each moving one edge's strongest
// operation's weight onto another operation, all on the same validation minibatch,
// the current weights included by default; mean or worst aggregation. The weight step
// and genotype derivation are DARTS'. Cost per architecture step: about (M + 1) times
// DARTS' first-order one.

#include <random>
#include <sstream>

#include <torch/serialize/archive.h>

#include <nasx/bilevel.hpp>
#include <nasx/error.hpp>
#include <nasx/gradient_search.hpp>
#include <nasx/space.hpp>
#include <nasx/supernet.hpp>

namespace {

struct NadartsOptions : nasx::GradientSearchOptions {
  int64_t neighbours = 4;
  nasx::NeighbourAggregate aggregate = nasx::NeighbourAggregate::Mean;
  bool include_self = true;
};

const nasx::OptionsBinding<NadartsOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<NadartsOptions> b;
    b.field("neighbours", &NadartsOptions::neighbours, "M: neighbours drawn per architecture step",
            nasx::Range{0.0, 64.0})
        .field(
            "aggregate", &NadartsOptions::aggregate,
            "mean of the members' losses, or the worst member's",
            {{"mean", nasx::NeighbourAggregate::Mean}, {"worst", nasx::NeighbourAggregate::Worst}})
        .field("include_self", &NadartsOptions::include_self,
               "the current architecture weights count as a member");
    nasx::bind_gradient_search(b);
    return b;
  }();
  return b;
}

class Nadarts final : public nasx::GradientSearch {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    if (options_.neighbours == 0 && !options_.include_self)
      throw nasx::ConfigError(
          "search.neighbours = 0 with include_self = false leaves an empty neighbourhood");
    // `none` is an operation of NB201 cells, but never a chosen one in the DARTS space.
    allow_none_ = ctx.space().name() != "darts";
    rng_.seed(nasx::derive_seed(ctx.seed(), 21));
    setup_search(ctx, options_);
  }

 protected:
  at::Tensor arch_gradient(nasx::Context& ctx, const nasx::Batch&,
                           const nasx::Batch& search) override {
    auto& net = ctx.supernet();
    const auto moves = nasx::sample_neighbour_moves(net, options_.neighbours, allow_none_, rng_);
    return nasx::neighbourhood_arch_gradient(net, search, moves, options_.include_self,
                                             options_.aggregate);
  }

  void own_state(nasx::StateArchive& archive) override { archive.field("rng", rng_); }

 private:
  NadartsOptions options_;
  bool allow_none_ = true;
  std::mt19937_64 rng_;
};

}  // namespace

NASX_PLUGIN(Nadarts, "nadarts", "1.0.0",
            "NA-DARTS: DARTS on the validation loss aggregated over a neighbourhood of alpha")
