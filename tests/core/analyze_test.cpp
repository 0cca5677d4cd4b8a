// `nasx analyze` end to end: its numbers against values worked out for hand-made runs,
// its files and plots, and one clear error for input it cannot use.

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "nasx/core/ground_truth.hpp"
#include "nasx/core/json.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
namespace fs = std::filesystem;

/// Four ws64 children with known true accuracies.
const std::vector<std::string> kChildren = {"111", "222", "333", "444"};
const std::vector<double> kTruth = {0.8, 0.6, 0.9, 0.7};

void write_truth(const fs::path& file) {
  core::GroundTruthTable table;
  table.space = "ws64";
  for (size_t c = 0; c < kChildren.size(); ++c) {
    core::TableRow row;
    row.arch = kChildren[c];
    row.test_acc = kTruth[c];
    row.seconds = 1;
    table.rows.push_back(row);
  }
  core::write_table(table, file);
}

/// A run folder as the ranking strategy leaves it: its config and events.
void write_ranking_run(const fs::path& dir, const std::vector<std::vector<double>>& epochs,
                       const std::vector<std::vector<double>>& minibatches) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.toml") << "[space]\nname = \"ws64\"\n";
  std::ofstream events(dir / "events.jsonl");
  events << core::JsonObject()
                .add("type", "ranking_setup")
                .add("children", kChildren)
                .add("groups", 1)
                .add("grouping", "similarity")
                .add("order", "fixed")
                .str()
         << "\n";
  for (size_t e = 0; e < epochs.size(); ++e) {
    if (e + 1 == epochs.size())
      for (size_t m = 0; m < minibatches.size(); ++m)
        events << core::JsonObject()
                      .add("type", "child_accuracies")
                      .add("point", "minibatch")
                      .add("epoch", e)
                      .add("minibatch", 100 + m)
                      .add("trained", kChildren[m % 4])
                      .add("accuracies", minibatches[m])
                      .str()
               << "\n";
    events << core::JsonObject()
                  .add("type", "child_accuracies")
                  .add("point", "epoch")
                  .add("epoch", e)
                  .add("minibatch", 103)
                  .add("accuracies", epochs[e])
                  .str()
           << "\n";
  }
}

class Analyze : public testing::FolderTest {};

TEST_F(Analyze, RankingReportsTauTnRAndSTauOfHandMadeRuns) {
  write_truth(dir_ / "truth.json");
  // Run a ends ranked like the truth; run b ends with the spec's A = [0.5, 0.9, 0.7, 0.6]
  // (T1R 4, T3R 1). The last-minibatch points of a: tau 1 and 0.
  write_ranking_run(dir_ / "a", {{0.1, 0.2, 0.3, 0.4}, {0.8, 0.6, 0.9, 0.7}},
                    {{0.8, 0.6, 0.9, 0.7}, {0.9, 0.7, 0.6, 0.8}});
  write_ranking_run(dir_ / "b", {{0.5, 0.9, 0.7, 0.6}}, {});
  const Outcome out = run_nasx("analyze ranking " + (dir_ / "a").string() + " " +
                               (dir_ / "b").string() + " --truth " +
                               (dir_ / "truth.json").string() + " --out " +
                               (dir_ / "out").string());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const std::string runs = read(dir_ / "out/runs.csv");
  // a: GT-Tau 1 at the end, last-k GT-Tau mean of 1 and tau([.9,.7,.6,.8], truth), T1R 1.
  EXPECT_THAT(runs, HasSubstr("a,groups=1 similarity order=fixed,2,1.0000,"));
  // b: tau([.5,.9,.7,.6], [.8,.6,.9,.7]) = -1/3 ... two concordant, four discordant.
  EXPECT_THAT(runs, HasSubstr("b,groups=1 similarity order=fixed,1,-0.3333,-,0,4,1,"));
  // S-Tau of the two final rankings = tau(truth, b's) = -1/3.
  EXPECT_THAT(read(dir_ / "out/settings.csv"), HasSubstr("groups=1 similarity order=fixed,2,\"-0.3333 ("));
  for (const char* file : {"gt-tau-epochs.svg", "gt-tau-last-minibatches.svg",
                           "rank-trajectories.svg", "rank-boxes.svg", "summary.json",
                           "epochs.csv", "gt-tau-epochs.gp"})
    EXPECT_TRUE(fs::exists(dir_ / "out" / file)) << file;
  EXPECT_THAT(read(dir_ / "out/gt-tau-epochs.svg"), HasSubstr("<svg"));
}

TEST_F(Analyze, RankingRefusesRunsWithoutRankingsAndTruthOfAnotherSpace) {
  write_truth(dir_ / "truth.json");
  fs::create_directories(dir_ / "plain");
  std::ofstream(dir_ / "plain/config.toml") << "[space]\nname = \"ws64\"\n";
  std::ofstream(dir_ / "plain/events.jsonl") << "{\"type\": \"step\", \"step\": 0}\n";
  const Outcome none = run_nasx("analyze ranking " + (dir_ / "plain").string() + " --truth " +
                                (dir_ / "truth.json").string() + " --out " +
                                (dir_ / "o1").string());
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.output, HasSubstr("has no rankings"));
  write_ranking_run(dir_ / "nb", {{0.1, 0.2, 0.3, 0.4}}, {});
  std::ofstream(dir_ / "nb/config.toml") << "[space]\nname = \"nb201\"\n";
  const Outcome other = run_nasx("analyze ranking " + (dir_ / "nb").string() + " --truth " +
                                 (dir_ / "truth.json").string() + " --out " +
                                 (dir_ / "o2").string());
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.output, HasSubstr("is of space 'ws64', but run"));
}

TEST_F(Analyze, CellReportsWidthAndDepthOfGenotypesAndVariants) {
  const std::string v2 =
      "\"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
      "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
      "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
      "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
      "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
      "reduce_concat=range(2, 6))\"";
  const Outcome out = run_nasx("analyze cell " + v2 + " --connections 20 --out " +
                               (dir_ / "cell").string());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_THAT(out.output, HasSubstr("normal  3.50 ± 0.00"));
  EXPECT_THAT(out.output, HasSubstr("reduce  2.50 ± 0.00"));
  EXPECT_THAT(out.output, HasSubstr("(random connections)  20"));
  EXPECT_TRUE(fs::exists(dir_ / "cell/width.svg"));
  const Outcome bad = run_nasx("analyze cell \"Genotype(normal=[\" --out " +
                               (dir_ / "bad").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("is not an architecture of any loaded space"));

  const Outcome variants =
      run_nasx("analyze variants " + v2 + " --connections 3 --operations 2 --seed 1 --preset " +
               std::string(NASX_TEST_SOURCE_DIR) + "/configs/train-darts-fmnist.toml --out " +
               (dir_ / "v").string());
  ASSERT_EQ(variants.exit_code, 0) << variants.output;
  const Outcome dry = run_nasx("table build " + (dir_ / "v/variants.toml").string() + " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("6 trials"));
}

TEST_F(Analyze, TauOfTwoEvaluationLogs) {
  std::ofstream(dir_ / "a.jsonl") << "{\"arch\": \"111\", \"score\": 1}\n{\"arch\": \"222\", "
                                     "\"score\": 2}\n{\"arch\": \"333\", \"score\": 3}\n";
  std::ofstream(dir_ / "b.jsonl") << "{\"arch\": \"333\", \"accuracy\": 0.3}\n{\"arch\": "
                                     "\"111\", \"accuracy\": 0.2}\n{\"arch\": \"222\", "
                                     "\"accuracy\": 0.1}\n";
  const Outcome out =
      run_nasx("analyze tau " + (dir_ / "a.jsonl").string() + " " + (dir_ / "b.jsonl").string());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_THAT(out.output, HasSubstr("3 architectures in common: Kendall tau-b 0.3333"));
}

}  // namespace
}  // namespace nasx
