// PAP (SAEP): keep the members whose removal raises the soft-vote error.
// The criterion lives in the SDK (nasx/ensemble.hpp), where it is tested directly.

#include <nasx/ensemble.hpp>
#include <nasx/error.hpp>

namespace {

class Pruner final : public nasx::EnsemblePruner {
 public:
  static nasx::ParamSchema schema() {
    nasx::ParamSchema schema;
    schema.add({"reference_sign",
                nasx::ParamType::Bool,
                false,
                {},
                {},
                "keep the members whose removal LOWERS the error, as the reference code does"});
    return schema;
  }
  void setup(const nasx::ParamValues& params) override {
    (void)params;
    reference_sign_ = std::get<bool>(params.at("reference_sign"));
  }
  std::vector<int64_t> prune(const nasx::EnsemblePool& pool, std::mt19937_64& rng) override {
    (void)rng;
    return nasx::prune_accuracy(pool, reference_sign_);
  }

 private:
  bool reference_sign_ = false;
};

}  // namespace

NASX_PLUGIN(Pruner, "pap", "1.0.0",
            "SAEP PAP: keeps the members whose removal raises the validation error")
