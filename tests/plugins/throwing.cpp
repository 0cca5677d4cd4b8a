// A strategy whose constructor throws, as a plugin with a bug would.
#include <stdexcept>

#include <nasx/strategy.hpp>

namespace {
class Throwing final : public nasx::SearchStrategy {
 public:
  Throwing() { throw std::runtime_error("cannot allocate the controller"); }
  static nasx::ParamSchema schema() { return {}; }
  void setup(nasx::Context&) override {}
  int64_t total_steps() const override { return 1; }
  std::map<std::string, double> step(nasx::Context&, int64_t) override { return {}; }
  void save(torch::serialize::OutputArchive&) const override {}
  void load(torch::serialize::InputArchive&) override {}
};
}  // namespace

NASX_PLUGIN(Throwing, "test_throwing", "0.1.0", "throws from its factory")
