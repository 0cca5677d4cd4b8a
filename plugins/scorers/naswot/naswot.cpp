// The NASWOT score as a scorer plugin (Mellor et al., ICML 2021): log|det K| of the
// ReLU-code kernel of an untrained network on one minibatch. The computation lives in
// the SDK (nasx/naswot.hpp) so strategies and tests share it.

#include <nasx/naswot.hpp>
#include <nasx/scorer.hpp>

namespace {

class Naswot final : public nasx::ArchScorer {
 public:
  static nasx::ParamSchema schema() { return {}; }
  double score(nasx::Network& network, const at::Tensor& images) override {
    return nasx::naswot_score(network, images);
  }
};

}  // namespace

NASX_PLUGIN(Naswot, "naswot", "1.0.0",
            "NASWOT: log|det| of the ReLU-code kernel of an untrained network (Mellor et al. 2021)")
