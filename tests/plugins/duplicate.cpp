// Built twice (two .so files) to test duplicate names.
#include <nasx/selector.hpp>
#include <nasx/supernet.hpp>

namespace {
class Duplicate final : public nasx::Selector {
 public:
  static nasx::ParamSchema schema() { return {}; }
  nasx::Architecture select(nasx::Context& ctx) override {
    return ctx.supernet().derive_architecture();
  }
};
}  // namespace

NASX_PLUGIN(Duplicate, "test_duplicate", "1.0.0", "same name in two files")
