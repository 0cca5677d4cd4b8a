// DARTS: differentiable architecture search (Liu, Simonyan, Yang, ICLR 2019).
// Alternates an architecture step on a search minibatch (first-order, or
// second-order through one unrolled weight step) and a weight step on a training
// minibatch; defaults are the reference code's (quark0/darts, train_search.py).
// The loop, optimizers and loaders are the SDK's (GradientSearch); this file states
// the gradient.

#include <nasx/bilevel.hpp>
#include <nasx/gradient_search.hpp>

namespace {

enum class Order { First, Second };

struct DartsOptions : nasx::GradientSearchOptions {
  Order order = Order::First;
  double unrolled_r = 0.01;
};

const nasx::OptionsBinding<DartsOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<DartsOptions> b;
    b.field("order", &DartsOptions::order,
            "architecture gradient: first (w fixed) or second (one unrolled step, Eq. 7)",
            {{"first", Order::First}, {"second", Order::Second}});
    nasx::bind_gradient_search(b).field("unrolled_r", &DartsOptions::unrolled_r,
                                        "second order: finite-difference step R = unrolled_r / |v|",
                                        nasx::Range{1e-8, 1.0});
    return b;
  }();
  return b;
}

class Darts final : public nasx::GradientSearch {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    setup_search(ctx, options_);
  }

 protected:
  at::Tensor arch_gradient(nasx::Context& ctx, const nasx::Batch& train,
                           const nasx::Batch& search) override {
    if (options_.order == Order::Second)
      return nasx::second_order_arch_gradient(ctx.supernet(), train, search, weight_optimizer(),
                                              options_.unrolled_r);
    return nasx::first_order_arch_gradient(ctx.supernet(), search).loss;
  }

  void own_state(nasx::StateArchive&) override {}  // the optimizers are all DARTS keeps

 private:
  DartsOptions options_;
};

}  // namespace

NASX_PLUGIN(Darts, "darts", "1.1.0",
            "DARTS: differentiable search, first or second order (Liu et al., ICLR 2019)")
