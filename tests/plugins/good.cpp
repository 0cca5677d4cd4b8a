// A well-formed selector used by the loading tests.
#include <nasx/selector.hpp>
#include <nasx/supernet.hpp>

namespace {
struct GoodOptions {
  int64_t level = 3;
};
class Good final : public nasx::Selector {
 public:
  static nasx::ParamSchema schema() {
    return nasx::OptionsBinding<GoodOptions>()
        .field("level", &GoodOptions::level, "a level", {0.0, 9.0})
        .schema();
  }
  nasx::Architecture select(nasx::Context& ctx) override {
    return ctx.supernet().derive_architecture();
  }
};
}  // namespace

NASX_PLUGIN(Good, "test_good", "2.1.0", "a selector for tests")
