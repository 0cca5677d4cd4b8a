// Plots drawn by gnuplot: the files appear together, box labels are the groups' names,
// and a missing gnuplot is one clear error.

#include "nasx/core/plot.hpp"

#include <cstdlib>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "nasx/error.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using PlotTest = testing::FolderTest;
using testing::read;

TEST_F(PlotTest, BoxesAreLabelledWithTheirGroupsNames) {
  core::Plot plot;
  plot.title = "ranks";
  plot.boxes = {{"344", {1, 3, 5, 7, 9}}, {"say \"142\"", {2, 4, 6}}};
  const std::string script = core::gnuplot_script(plot, "boxes.svg");
  EXPECT_THAT(script, HasSubstr("\"344\" 7\n"));
  EXPECT_THAT(script, HasSubstr("\"say '142'\" 4\n"));  // no quote inside a data string
  core::draw_plot(plot, dir_, "boxes");
  const std::string svg = read(dir_ / "boxes.svg");
  EXPECT_THAT(svg, HasSubstr(">344<"));
  EXPECT_THAT(svg, HasSubstr("say '142'"));
  EXPECT_THAT(svg, Not(HasSubstr(">0<")));  // not the factor's index
  EXPECT_TRUE(fs::exists(dir_ / "boxes.gp"));
}

TEST_F(PlotTest, BarsAreTheMeanWithTheSampleStdAndEverySeedAsAPoint) {
  core::Plot plot;
  plot.title = "test accuracy";
  plot.bars = true;
  plot.boxes = {{"darts", {0.5, 0.7}}, {"milenas", {0.6}}};
  const std::string script = core::gnuplot_script(plot, "bars.svg");
  // darts: mean 0.6, sample std sqrt(0.02) = 0.141421356; one seed: std 0.
  EXPECT_THAT(script, HasSubstr("\"darts\" 0.6 0.141421356\n"));
  EXPECT_THAT(script, HasSubstr("\"milenas\" 0.6 0\n"));
  EXPECT_THAT(script, HasSubstr("0 0.5\n0 0.7\n1 0.6\nEOD"));
  core::draw_plot(plot, dir_, "bars");
  const std::string svg = read(dir_ / "bars.svg");
  EXPECT_THAT(svg, HasSubstr(">darts<"));
  EXPECT_THAT(svg, HasSubstr(">milenas<"));
  EXPECT_THAT(script, HasSubstr("set yrange [0:*]"));
  EXPECT_THAT(script, HasSubstr("with boxerrorbars"));
  // Means with error bars instead: the axis fits the values, not zero.
  plot.from_zero = false;
  const std::string points = core::gnuplot_script(plot, "points.svg");
  EXPECT_THAT(points, Not(HasSubstr("set yrange [0:*]")));
  EXPECT_THAT(points, HasSubstr("0:2:3:xtic(1) with yerrorbars"));
  EXPECT_THAT(points, HasSubstr("\"darts\" 0.6 0.141421356\n"));
}

TEST_F(PlotTest, LinesKeepTheirPointsAndTitles) {
  core::Plot plot;
  plot.title = "tau over epochs";
  plot.series.push_back({"seed 0", {1, 2, 3}, {0.1, 0.25, 0.5}, "linespoints"});
  const std::string script = core::gnuplot_script(plot, "lines.svg");
  EXPECT_THAT(script, HasSubstr("2 0.25\n"));
  core::draw_plot(plot, dir_, "lines");
  EXPECT_THAT(read(dir_ / "lines.svg"), HasSubstr("seed 0"));
}

TEST_F(PlotTest, AMissingGnuplotSaysWhatToInstall) {
  core::Plot plot;
  plot.series.push_back({"s", {1}, {1}, "points"});
  const char* path = std::getenv("PATH");
  const std::string saved = path ? path : "";
  ::setenv("PATH", dir_.c_str(), 1);
  try {
    core::draw_plot(plot, dir_, "none");
    ADD_FAILURE() << "drew without gnuplot";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("gnuplot"));
  }
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_FALSE(fs::exists(dir_ / "none.svg"));
}

}  // namespace
}  // namespace nasx
