// End-to-end tests of `nasx report`: real runs on synthetic data, real gnuplot and
// Graphviz, the page's figures checked against the logs they come from.

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "nasx/json.hpp"

#include "core/nasx_process.hpp"
#include "core/tiny_config.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
namespace fs = std::filesystem;

/// The files a page refers to (img src, a href that is not a web address).
std::vector<std::string> referenced_files(const std::string& html) {
  std::vector<std::string> files;
  const std::regex reference("(?:src|href)=\"([^\"#]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), reference);
       it != std::sregex_iterator(); ++it)
    files.push_back((*it)[1]);
  return files;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class Report : public testing::FolderTest {
 protected:
  /// A finished 3-step DARTS search with a 1-epoch final training.
  fs::path darts_run() {
    std::ofstream(dir_ / "darts.toml")
        << testing::tiny_search_config("epochs = 3\n\n[train]\nepochs = 1\nchannels = 4\n"
                                       "layers = 3\nbatch_size = 32\n");
    const Outcome run =
        run_nasx("run " + (dir_ / "darts.toml").string() + " --out " + (dir_ / "run").string());
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return dir_ / "run";
  }
};

TEST_F(Report, ADartsRunGetsCellsWeightHeatmapsCurvesAndTrainingAndEveryFileExists) {
  const fs::path run = darts_run();
  const Outcome report = run_nasx("report " + run.string());
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_THAT(report.output, HasSubstr("report: " + (run / "report/index.html").string()));
  const std::string html = read(run / "report/index.html");
  for (const char* section : {"The answer", "Search curves", "Architecture weights",
                              "The architecture after every step", "Final training"})
    EXPECT_THAT(html, HasSubstr(section));
  // Every figure and link the page names is there, and every SVG is a drawing.
  const std::vector<std::string> files = referenced_files(html);
  EXPECT_GE(files.size(), 12u);
  for (const std::string& file : files) {
    ASSERT_TRUE(fs::exists(run / "report" / file)) << file;
    if (fs::path(file).extension() == ".svg") {
      EXPECT_THAT(read(run / "report" / file), HasSubstr("<svg")) << file;
    }
  }
  for (const char* figure : {"answer-normal.svg", "answer-reduce.svg", "weights-normal.svg",
                             "weights-reduce.svg", "entropy-normal.svg", "search-loss.svg",
                             "search-accuracy.svg", "training-loss.svg"})
    EXPECT_NE(std::find(files.begin(), files.end(), figure), files.end()) << figure;

  // The answer's diagram has the genotype's operations, edge by edge.
  const std::string dot = read(run / "report/answer-normal.dot");
  const Json summary = Json::parse(read(run / "summary.json"));
  for (const auto& edge : summary["genotype_cells"]["normal"])
    EXPECT_THAT(dot, HasSubstr("label=\"" + edge[0].get<std::string>() + "\""));

  // The heatmap plots the logged softmax weights: the last record's first edge, every
  // operation, at its step, and one panel per edge.
  std::ifstream events(run / "events.jsonl");
  Json last;
  for (std::string line; std::getline(events, line);) {
    const auto record = Json::parse(line);
    if (record["type"] == "arch_weights") last = record;
  }
  ASSERT_FALSE(last.is_null());
  const std::string gp = read(run / "report/weights-normal.gp");
  EXPECT_EQ(count_of(gp, "plot $panel"), last["normal"].size());
  for (size_t op = 0; op < last["normal"][0].size(); ++op) {
    char line[96];
    std::snprintf(line, sizeof line, "%d %zu %.9g\n", last["step"].get<int>(), op,
                  last["normal"][0][op].get<double>());
    EXPECT_THAT(gp, HasSubstr(line)) << "operation " << op;
  }
  EXPECT_THAT(gp, HasSubstr("\"c_{k-2} -> 0\""));  // panels named by their edge

  // Running it again replaces the report whole: a stray file in the old one goes.
  std::ofstream(run / "report/stray.txt") << "old";
  ASSERT_EQ(run_nasx("report " + run.string()).exit_code, 0);
  EXPECT_FALSE(fs::exists(run / "report/stray.txt"));
  EXPECT_FALSE(fs::exists(run / "report.tmp"));
}

TEST_F(Report, WithoutGnuplotAndDotThePageKeepsItsTablesAndSaysWhatToInstall) {
  const fs::path run = darts_run();
  // A PATH with neither program (the host is started by its absolute path).
  fs::create_directories(dir_ / "empty-bin");
  const Outcome report = run_nasx("report " + run.string(), "PATH=" + (dir_ / "empty-bin").string());
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const std::string html = read(run / "report/index.html");
  EXPECT_THAT(html, HasSubstr("install gnuplot-nox"));
  EXPECT_THAT(html, HasSubstr("install graphviz"));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, HasSubstr("<table>"));  // the summary and the last weights
  EXPECT_THAT(html, HasSubstr("valid_acc"));
  // The scripts are written still, to draw the figures where the programs are.
  EXPECT_TRUE(fs::exists(run / "report/search-loss.gp"));
  EXPECT_TRUE(fs::exists(run / "report/weights-normal.gp"));
  EXPECT_TRUE(fs::exists(run / "report/answer-normal.dot"));
}

TEST_F(Report, AnUnfinishedRunShowsWhatItLoggedSoFar) {
  const fs::path run = darts_run();
  fs::remove(run / "summary.json");
  fs::remove(run / "genotype.txt");
  fs::remove_all(run / "train");
  const Outcome report = run_nasx("report " + run.string());
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const std::string html = read(run / "report/index.html");
  EXPECT_THAT(html, HasSubstr("This search has not finished: 3 steps logged so far"));
  EXPECT_THAT(html, HasSubstr("the architecture after the last step"));
}

TEST_F(Report, AFolderThatIsNoneOfTheFourIsOneErrorAndNothingIsWritten) {
  fs::create_directories(dir_ / "notes");
  std::ofstream(dir_ / "notes/readme.md") << "not a run";
  const Outcome bad = run_nasx("report " + (dir_ / "notes").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("is not a folder nasx report reads"));
  EXPECT_THAT(bad.output, HasSubstr("config.toml and events.jsonl"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "notes"), fs::directory_iterator()), 1);

  const Outcome missing = run_nasx("report " + (dir_ / "nowhere").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("does not exist"));
  EXPECT_FALSE(fs::exists(dir_ / "nowhere"));
}

TEST_F(Report, AnAnalysisFolderShowsItsTablesAndFigures) {
  const fs::path analysis = dir_ / "analysis";
  fs::create_directories(analysis);
  std::ofstream(analysis / "summary.json") << "{\"runs\": 2}\n";
  std::ofstream(analysis / "cells.txt") << "group  width  depth\ndarts  3.5c   3\n";
  std::ofstream(analysis / "cells.csv") << "group,width,depth\ndarts,3.5,3\n";
  std::ofstream(analysis / "width.svg")
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>\n";
  const Outcome report = run_nasx("report " + analysis.string());
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_THAT(report.output, HasSubstr("(1 figure)"));
  const std::string html = read(analysis / "report/index.html");
  EXPECT_THAT(html, HasSubstr("<h1>analysis analysis</h1>"));
  EXPECT_THAT(html, HasSubstr("darts  3.5c   3"));
  EXPECT_THAT(html, HasSubstr("href=\"../cells.csv\""));
  EXPECT_EQ(read(analysis / "report/width.svg"), read(analysis / "width.svg"));
}

TEST_F(Report, ASamplingRunShowsEveryEvaluationAndTheBestSoFar) {
  std::ofstream(dir_ / "nb201.toml") << testing::tiny_search_config();
  const Outcome run = run_nasx(
      "run " + (dir_ / "nb201.toml").string() + " --out " + (dir_ / "run").string() +
      " --set search.strategy=random --set space.name=nb201 --set space.layers=1 "
      "--set search.supernet_epochs=1 --set search.candidates=6 "
      "--set search.evaluations_per_step=3");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_EQ(run_nasx("report " + (dir_ / "run").string()).exit_code, 0);
  const std::string html = read(dir_ / "run/report/index.html");
  EXPECT_THAT(html, HasSubstr("Evaluated architectures"));
  EXPECT_THAT(html, HasSubstr("6 evaluations"));
  // The best-so-far series never decreases and ends at the best evaluation.
  const std::string gp = read(dir_ / "run/report/evaluations.gp");
  const size_t best = gp.find("$series1 << EOD\n");
  ASSERT_NE(best, std::string::npos);
  std::istringstream lines(gp.substr(best + 16));
  double previous = -1, x = 0, y = 0;
  int points = 0;
  for (std::string line; std::getline(lines, line) && line != "EOD"; ++points) {
    std::istringstream(line) >> x >> y;
    EXPECT_GE(y, previous);
    previous = y;
  }
  EXPECT_EQ(points, 6);
  double top = 0;
  std::ifstream evaluations(dir_ / "run/evaluations.jsonl");
  for (std::string line; std::getline(evaluations, line);)
    top = std::max(top, Json::parse(line)["accuracy"].get<double>());
  EXPECT_NEAR(previous, top, 1e-9);
}

}  // namespace
}  // namespace nasx
