#include "ws64/network.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "ws64/space.hpp"

namespace nasx::ws64 {
namespace {

/// The parameters of a child's network counted from the layer shapes, independently
/// of the modules: stem, per cell a 1x1 preprocessing conv and the edges' operations,
/// the classifier. Every BatchNorm is affine (2 per channel).
int64_t parameters_by_formula(const Child& child, int64_t in, int64_t c, int64_t cells,
                              int64_t classes) {
  const int64_t stem = 3 * c;
  int64_t n = in * stem * 9 + 2 * stem + stem * stem * 9 + 2 * stem;
  auto op = [&](int index) -> int64_t {
    switch (index) {
      case 0:
        return 0;  // max_pool_3x3
      case 1:
        return 2 * (c * 9 + c * c + 2 * c);  // sep_conv_3x3: twice dw-pw-BN
      case 2:
        return 2 * (c * 25 + c * c + 2 * c);  // sep_conv_5x5
      default:
        return c * 25 + c * c + 2 * c;  // dil_conv_5x5: once
    }
  };
  int64_t c_in = stem;
  for (int64_t i = 0; i < cells; ++i) {
    n += c_in * c + 2 * c;
    for (int e : child.ops) n += op(e);
    c_in = 2 * c;
  }
  return n + c_in * classes + classes;
}

TEST(Ws64Network, ParameterCountsFollowTheLayerShapes) {
  for (const char* name : {"111", "222", "333", "444", "424", "143"}) {
    const Child child = Child::parse(name);
    ChildNetwork net(child, DataShape{3, 32, 32, 10}, 16, 4);
    EXPECT_EQ(count_parameters(net), parameters_by_formula(child, 3, 16, 4, 10)) << name;
  }
  // The all-pooling child at the reference size: stem 432+96+20736+96, cells
  // 48*16+32 then 3 x (32*16+32), classifier 32*10+10.
  EXPECT_EQ(parameters_by_formula(Child::parse("111"), 1, 16, 4, 10), 24122);
}

TEST(Ws64Network, GivesLogitsForEveryChild) {
  at::manual_seed(0);
  const Ws64Space space;
  const at::Tensor images = at::randn({2, 1, 28, 28});
  for (const char* name : {"111", "444"}) {
    auto net = space.build_network(space.parse(name), DataShape{1, 28, 28, 10}, 4, 2);
    EXPECT_EQ(net->forward(images).sizes(), (at::IntArrayRef{2, 10}));
  }
}

TEST(Ws64Supernet, HoldsEveryOperationOnEveryEdge) {
  SpaceOptions options;
  options.channels = 4;
  options.layers = 2;
  const Ws64Space space(options);
  auto net = space.build_supernet(DataShape{1, 16, 16, 10});
  EXPECT_EQ(net->arch_parameters().at(0).sizes(), (at::IntArrayRef{3, 4}));
  // Every named edge operation exists once per cell: 3 edges x 4 operations x 2 cells
  // (max pooling registers its BatchNorm without parameters, so count modules).
  int64_t edge_modules = 0;
  for (const auto& item : net->named_modules("", /*include_self=*/false)) {
    const std::string& key = item.key();
    const auto dot = key.rfind('.');
    if (key.find(".edge_") != std::string::npos && dot != std::string::npos &&
        key.substr(dot + 1).rfind("edge_", 0) == 0)
      ++edge_modules;
  }
  EXPECT_EQ(edge_modules, 3 * 4 * 2);
  const at::Tensor weights =
      at::tensor(std::vector<double>{0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0}).reshape({3, 4});
  EXPECT_EQ(space.derive({weights}), space.parse("241"));
}

}  // namespace
}  // namespace nasx::ws64
