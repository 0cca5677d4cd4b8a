#include "nasx/core/spaces.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "nasx/core/registry.hpp"
#include "nasx/error.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {
namespace {

using ::testing::HasSubstr;

const PluginRegistry& shipped() {
  static PluginRegistry registry;
  static const bool loaded = [] {
    for (const auto& dir : PluginRegistry::default_directories())
      registry.add_directory(dir, false);
    return true;
  }();
  (void)loaded;
  return registry;
}

TEST(Spaces, ShippedSpacesAreLoadedAsPluginsWithTheirParameters) {
  const auto nb201 = make_space(shipped(), {"nb201", {{"channels", int64_t{8}}}});
  EXPECT_EQ(nb201->name(), "nb201");
  EXPECT_EQ(nb201->build_supernet(DataShape{1, 8, 8, 4})->arch_parameters().size(), 1u);
  const auto darts = make_space(shipped(), {"darts", {}});
  EXPECT_EQ(darts->cell_types(), (std::vector<std::string>{"normal", "reduce"}));
  EXPECT_EQ(darts->training_protocol().channels, 36);
  EXPECT_EQ(darts->training_protocol().layers, 20);
  EXPECT_EQ(nb201->training_protocol().options.epochs, 200);
  try {
    make_space(shipped(), {"nb101", {}});
    FAIL() << "no error";
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no space plugin named 'nb101'"));
    EXPECT_THAT(e.what(), HasSubstr("darts"));
    EXPECT_THAT(e.what(), HasSubstr("nb201"));
  }
  try {
    make_space(shipped(), {"darts", {{"layers", int64_t{2}}}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("at least 3 cells"));
  }
}

TEST(Spaces, TheSpaceOfATextIsTheOneThatParsesIt) {
  EXPECT_EQ(guess_space(shipped(), "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
            "nb201");
  EXPECT_EQ(guess_space(shipped(),
                        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
                        "('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), "
                        "('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
                        "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
                        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
                        "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
                        "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"),
            "darts");
  std::string why;
  EXPECT_EQ(guess_space(shipped(), "hello", &why), "");
  EXPECT_THAT(why, HasSubstr("darts: "));
  EXPECT_THAT(why, HasSubstr("nb201: "));
}

/// A space's decisions cover every edge of every cell exactly once, with operations of
/// the space: what the ENAS controller and DARTS-PT rely on.
void expect_decisions_cover_the_cells(const SearchSpace& space) {
  const auto cells = space.decisions();
  ASSERT_EQ(cells.size(), space.cell_types().size());
  for (const CellDecisions& cell : cells) {
    std::multiset<int64_t> edges;
    for (size_t node = 0; node < cell.node_edges.size(); ++node) {
      EXPECT_EQ(static_cast<int64_t>(cell.node_edges[node].size()),
                cell.inputs + static_cast<int64_t>(node));
      edges.insert(cell.node_edges[node].begin(), cell.node_edges[node].end());
    }
    ASSERT_EQ(static_cast<int64_t>(edges.size()), space.edges_per_cell());
    for (int64_t e = 0; e < space.edges_per_cell(); ++e) EXPECT_EQ(edges.count(e), 1u) << e;
    for (int64_t op : cell.operations)
      EXPECT_LT(op, static_cast<int64_t>(space.operations().size()));
  }
}

TEST(Spaces, DecisionsDescribeEveryEdgeOnce) {
  const auto darts = make_space(shipped(), {"darts", {}});
  expect_decisions_cover_the_cells(*darts);
  EXPECT_EQ(darts->decisions()[0].inputs_per_node, 2);
  EXPECT_EQ(darts->decisions()[0].operations.size(), 7u);  // all but `none`
  const auto nb201 = make_space(shipped(), {"nb201", {}});
  expect_decisions_cover_the_cells(*nb201);
  EXPECT_EQ(nb201->decisions()[0].inputs_per_node, 0);
  EXPECT_EQ(nb201->decisions()[0].operations.size(), 5u);
}

}  // namespace
}  // namespace nasx::core
