// Cell width and depth against the values of Shu et al.'s figure, and the random
// variants' invariants.

#include <algorithm>
#include <map>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nasx/core/cell_shape.hpp"
#include "nasx/error.hpp"
#include "support/spaces.hpp"

namespace nasx::core {
namespace {

using testing::kDartsV2;

TEST(CellShape, DartsV2IsThreeAndAHalfWideAndThreeDeep) {
  const auto space = testing::make_space("darts");
  const auto graphs = cell_graphs(*space, space->parse(kDartsV2));
  ASSERT_EQ(graphs.size(), 2u);
  const CellShape normal = cell_shape(graphs[0]), reduce = cell_shape(graphs[1]);
  EXPECT_DOUBLE_EQ(normal.width, 3.5);
  EXPECT_EQ(normal.depth, 3);
  EXPECT_DOUBLE_EQ(reduce.width, 2.5);
  EXPECT_EQ(reduce.depth, 3);
}

TEST(CellShape, ChainAndFlatCellsAreTheExtremes) {
  // The first node reads both inputs, each later node the node before it, twice.
  const CellShape chain = cell_shape({2, {{0, 1}, {2, 2}, {3, 3}, {4, 4}}});
  EXPECT_DOUBLE_EQ(chain.width, 1.0);
  EXPECT_EQ(chain.depth, 5);
  const CellShape flat = cell_shape({2, {{0, 1}, {1, 0}, {0, 0}, {1, 1}}});
  EXPECT_DOUBLE_EQ(flat.width, 4.0);
  EXPECT_EQ(flat.depth, 2);
  EXPECT_THROW(cell_shape({2, {{0, 2}}}), std::invalid_argument);
}

TEST(CellShape, Ws64ChildrenShareOneShape) {
  // Node 1 reads x0 (c), node 2 reads x0 and node 1 (c/2): 1.5c; x0 -> 1 -> 2 -> out.
  const auto space = testing::make_space("ws64");
  for (const char* child : {"111", "342"}) {
    const CellShape shape = cell_shape(cell_graphs(*space, space->parse(child)).at(0));
    EXPECT_DOUBLE_EQ(shape.width, 1.5);
    EXPECT_EQ(shape.depth, 3);
  }
}

/// Per cell type and node, the sorted operations of the node's kept edges.
std::vector<std::vector<std::vector<int>>> node_operations(const SearchSpace& space,
                                                           const Architecture& arch) {
  std::vector<std::vector<std::vector<int>>> out;
  const auto decisions = space.decisions();
  for (size_t c = 0; c < decisions.size(); ++c) {
    out.emplace_back();
    for (const auto& edges : decisions[c].node_edges) {
      std::vector<int> ops;
      for (int64_t e : edges)
        if (arch.cells[c][static_cast<size_t>(e)] != Architecture::kNoEdge)
          ops.push_back(arch.cells[c][static_cast<size_t>(e)]);
      std::sort(ops.begin(), ops.end());
      out.back().push_back(ops);
    }
  }
  return out;
}

TEST(CellVariants, RandomConnectionsKeepEachNodesOperationsAndAreSeeded) {
  const auto space = testing::make_space("darts");
  const Architecture v2 = space->parse(kDartsV2);
  std::mt19937_64 a(7), b(7), c(8);
  const Architecture variant = random_connections(*space, v2, a);
  EXPECT_EQ(variant, random_connections(*space, v2, b));
  EXPECT_NE(variant, random_connections(*space, v2, c));
  double width = 0, depth = 0;
  std::mt19937_64 rng(1);
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    const Architecture v = random_connections(*space, v2, rng);
    EXPECT_EQ(node_operations(*space, v), node_operations(*space, v2));
    const auto graphs = cell_graphs(*space, v);
    for (size_t k = 0; k < graphs[0].node_inputs.size(); ++k)
      for (int64_t source : graphs[0].node_inputs[k])
        EXPECT_LE(source, static_cast<int64_t>(k) + 1);  // node k reads states 0 .. k+1
    width += cell_shape(graphs[0]).width;
    depth += static_cast<double>(cell_shape(graphs[0]).depth);
  }
  // Narrower and deeper on average than DARTS_V2's normal cell (3.5c, 3).
  EXPECT_LT(width / n, 3.5);
  EXPECT_GT(depth / n, 3.0);
}

TEST(CellShape, Nb201CellsEndInTheirLastNodeAndNoneConnectsNothing) {
  const auto space = testing::make_space("nb201");
  // A chain input -> 1 -> 2 -> 3 (every other edge none): three edges deep.
  const auto chain = cell_graphs(
      *space, space->parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|"
                           "nor_conv_3x3~2|"));
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_TRUE(chain[0].output_is_last_node);
  EXPECT_EQ(cell_shape(chain[0]).depth, 3);
  // Every node straight from the input, node 3 the output: one edge deep.
  const auto flat = cell_graphs(
      *space, space->parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_3x3~0|none~1|"
                           "none~2|"));
  EXPECT_EQ(cell_shape(flat[0]).depth, 1);
}

TEST(CellVariants, RandomOperationsKeepTheConnections) {
  const auto space = testing::make_space("darts");
  const Architecture v2 = space->parse(kDartsV2);
  std::mt19937_64 rng(3);
  const Architecture variant = random_operations(*space, v2, rng);
  EXPECT_NE(variant, v2);
  for (size_t c = 0; c < 2; ++c)
    for (size_t e = 0; e < v2.cells[c].size(); ++e) {
      EXPECT_EQ(variant.cells[c][e] == Architecture::kNoEdge,
                v2.cells[c][e] == Architecture::kNoEdge);
      if (variant.cells[c][e] != Architecture::kNoEdge) {
        EXPECT_NE(space->operations()[static_cast<size_t>(variant.cells[c][e])], "none");
      }
    }
  const auto ws64 = testing::make_space("ws64");
  EXPECT_THROW(random_connections(*ws64, ws64->parse("123"), rng), ConfigError);
  EXPECT_NE(random_operations(*ws64, ws64->parse("123"), rng).cells.size(), 0u);
}

}  // namespace
}  // namespace nasx::core
