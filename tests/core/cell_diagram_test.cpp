// Cell diagrams: every node, edge and operation of a genotype in the DOT text, checked
// edge by edge against the genotype written out by hand; the drawing by Graphviz; and a
// missing `dot` as one clear error.

#include "nasx/core/cell_diagram.hpp"

#include <cstdlib>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"
#include "support/spaces.hpp"

namespace nasx::core {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

using testing::kDartsV2;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string edge(const std::string& from, const std::string& to, const std::string& op) {
  return "\"" + from + "\" -> \"" + to + "\" [label=\"" + op + "\"";
}

TEST(CellDiagram, DartsV2NormalCellHasEveryEdgeOfTheGenotype) {
  const auto space = testing::make_space("darts");
  const std::string dot = cell_dot(*space, space->parse(kDartsV2), 0, "normal cell");
  // Node 0 reads c_{k-2}, c_{k-1}; node 1 the same; node 2 c_{k-1} (sep) and c_{k-2}
  // (skip); node 3 c_{k-2} (skip) and node 0 (dil_conv_3x3).
  for (const std::string& line :
       {edge("c_{k-2}", "0", "sep_conv_3x3"), edge("c_{k-1}", "0", "sep_conv_3x3"),
        edge("c_{k-2}", "1", "sep_conv_3x3"), edge("c_{k-1}", "1", "sep_conv_3x3"),
        edge("c_{k-1}", "2", "sep_conv_3x3"), edge("c_{k-2}", "2", "skip_connect"),
        edge("c_{k-2}", "3", "skip_connect"), edge("0", "3", "dil_conv_3x3")})
    EXPECT_THAT(dot, HasSubstr(line));
  EXPECT_EQ(count(dot, "[label="), 8u);          // the eight operations, nothing else
  EXPECT_EQ(count(dot, "-> \"c_{k}\""), 4u);     // every node concatenated
  EXPECT_THAT(dot, HasSubstr("label=\"normal cell\""));
}

TEST(CellDiagram, DartsV2ReduceCellHasEveryEdgeOfTheGenotype) {
  const auto space = testing::make_space("darts");
  const std::string dot = cell_dot(*space, space->parse(kDartsV2), 1, "reduce cell");
  for (const std::string& line :
       {edge("c_{k-2}", "0", "max_pool_3x3"), edge("c_{k-1}", "0", "max_pool_3x3"),
        edge("c_{k-1}", "1", "max_pool_3x3"), edge("0", "1", "skip_connect"),
        edge("c_{k-2}", "2", "max_pool_3x3"), edge("0", "2", "skip_connect"),
        edge("c_{k-1}", "3", "max_pool_3x3"), edge("0", "3", "skip_connect")})
    EXPECT_THAT(dot, HasSubstr(line));
  EXPECT_EQ(count(dot, "[label="), 8u);
}

TEST(CellDiagram, Nb201CellEndsInItsLastNodeNumbersNodesAsItsTextAndShowsNoneDashed) {
  const auto space = testing::make_space("nb201");
  const std::string dot = cell_dot(
      *space,
      space->parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|avg_pool_3x3~1|"
                   "avg_pool_3x3~2|"),
      0, "cell");
  for (const std::string& line :
       {edge("c_{k-1}", "1", "nor_conv_3x3"), edge("c_{k-1}", "2", "skip_connect"),
        edge("1", "2", "none"), edge("c_{k-1}", "3", "avg_pool_3x3"),
        edge("1", "3", "avg_pool_3x3"), edge("2", "3", "avg_pool_3x3")})
    EXPECT_THAT(dot, HasSubstr(line));
  EXPECT_EQ(count(dot, "[label="), 6u);
  EXPECT_THAT(dot, HasSubstr("[label=\"none\", style=dashed"));
  EXPECT_EQ(count(dot, "-> \"c_{k}\""), 1u);  // the last node is the output
  EXPECT_THAT(dot, HasSubstr("\"3\" -> \"c_{k}\""));  // nodes numbered as in the text (~1)
}

using CellDrawing = testing::FolderTest;

TEST_F(CellDrawing, DotDrawsEachCellTypeToSvg) {
  const auto space = testing::make_space("darts");
  const auto drawn = draw_cells(*space, space->parse(kDartsV2), dir_, "v2");
  ASSERT_EQ(drawn.size(), 2u);
  EXPECT_EQ(drawn[0], dir_ / "v2-normal.svg");
  const std::string svg = testing::read(drawn[1]);
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("max_pool_3x3"));
  EXPECT_TRUE(fs::exists(dir_ / "v2-reduce.dot"));
}

TEST_F(CellDrawing, AMissingDotSaysToInstallGraphviz) {
  const auto space = testing::make_space("darts");
  const char* path = std::getenv("PATH");
  const std::string saved = path ? path : "";
  ::setenv("PATH", dir_.c_str(), 1);
  try {
    draw_cells(*space, space->parse(kDartsV2), dir_, "v2");
    ADD_FAILURE() << "drew without dot";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("install graphviz"));
  }
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_FALSE(fs::exists(dir_ / "v2-normal.svg"));
}

}  // namespace
}  // namespace nasx::core
