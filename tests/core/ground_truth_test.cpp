// Ground-truth tables: the file format read back and checked row by row, lookups, a
// real `nasx table build` of two architectures, and the `table` evaluator driving a
// search (answer, budget, and the errors for a missing row or another space's table).

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "nasx/core/ground_truth.hpp"
#include "nasx/core/json.hpp"
#include "nasx/error.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
namespace fs = std::filesystem;

/// Every ws64 child, its accuracy a known function of its name (seed 1 a little lower),
/// 10 s of training each.
core::GroundTruthTable synthetic_ws64_table() {
  core::GroundTruthTable table;
  table.space = "ws64";
  table.data = "synthetic";
  for (int64_t seed : {0, 1})
    for (int a = 1; a <= 4; ++a)
      for (int b = 1; b <= 4; ++b)
        for (int c = 1; c <= 4; ++c) {
          core::TableRow row;
          row.arch = std::to_string(a * 100 + b * 10 + c);
          row.seed = seed;
          row.test_acc = 0.5 + 0.01 * (a + b + c) - 0.002 * static_cast<double>(seed) +
                         (row.arch == "342" ? 0.2 : 0.0);  // one clear winner
          row.test_loss = 1.0 - row.test_acc;
          row.parameters = 1000 + a;
          row.flops = 5000;
          row.seconds = 10 + static_cast<double>(seed);
          row.epochs = 2;
          row.train_loss = {2.0, 1.5};
          row.train_acc = {0.3, 0.5};
          row.epoch_test_acc = {0.4, row.test_acc};
          table.rows.push_back(row);
        }
  return table;
}

class GroundTruth : public testing::FolderTest {};

TEST_F(GroundTruth, TableRoundTripsAndLooksUpTheMeanOverSeeds) {
  const fs::path file = dir_ / "table.json";
  core::write_table(synthetic_ws64_table(), file);
  const core::GroundTruthTable table = core::read_table(file);
  EXPECT_EQ(table.space, "ws64");
  EXPECT_EQ(table.rows.size(), 128u);
  EXPECT_EQ(table.architectures().size(), 64u);
  EXPECT_EQ(table.seeds(), (std::vector<int64_t>{0, 1}));
  EXPECT_NEAR(table.accuracy("424"), 0.5 + 0.1 - 0.001, 1e-12);
  EXPECT_NEAR(table.seconds("424"), 10.5, 1e-12);
  EXPECT_EQ(table.rows_of("424").at(1)->epoch_test_acc.size(), 2u);
  try {
    table.accuracy("|nor_conv_3x3~0|");
    FAIL() << "a missing architecture was looked up";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("|nor_conv_3x3~0| is not in the ground-truth table"));
    EXPECT_THAT(e.what(), HasSubstr(file.string()));
  }
  EXPECT_THROW(table.check_space("nb201", "the run's [space]"), ConfigError);
  // pandas and R read the rows as records: one object per line, the same keys each.
  std::ifstream in(file);
  std::string header, first;
  std::getline(in, header);
  std::getline(in, header);
  std::getline(in, first);
  EXPECT_EQ(header, "\"rows\": [");
  EXPECT_THAT(first, HasSubstr("{\"arch\": \"111\", \"seed\": 0, \"test_acc\": "));
}

/// The message read_table gives for `text` (a table file's content).
std::string table_error(const fs::path& file, const std::string& text) {
  std::ofstream(file) << text;
  try {
    core::read_table(file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(read without error)";
}

TEST_F(GroundTruth, MalformedTablesNameTheRowAndTheKey) {
  const fs::path file = dir_ / "bad.json";
  core::write_table(synthetic_ws64_table(), file);
  const std::string good = read(file);
  const std::string row1 = "{\"arch\": \"112\", \"seed\": 0, \"test_acc\": ";
  ASSERT_NE(good.find(row1), std::string::npos);

  std::string missing = good;
  missing.replace(missing.find(row1), row1.size(), "{\"arch\": \"112\", \"seed\": 0, \"tst_acc\": ");
  EXPECT_THAT(table_error(file, missing), HasSubstr("row 1 (112): 'test_acc' is missing"));

  std::string text = good;
  text.replace(text.find(row1), row1.size(), row1 + "\"high\", \"x\": ");
  EXPECT_THAT(table_error(file, text), HasSubstr("row 1 (112): 'test_acc' must be a number"));

  std::string range = good;
  range.replace(range.find(row1), row1.size(), row1 + "7.5, \"x\": ");
  EXPECT_THAT(table_error(file, range), HasSubstr("not an accuracy in [0, 1]"));

  std::string twice = good;
  twice.replace(twice.find(row1), row1.size(), "{\"arch\": \"111\", \"seed\": 0, \"test_acc\": ");
  EXPECT_THAT(table_error(file, twice), HasSubstr("appears twice"));

  EXPECT_THAT(table_error(file, good.substr(0, good.size() / 2)), HasSubstr("invalid JSON"));
  EXPECT_THAT(table_error(file, "{\"rows\": []}"), HasSubstr("not a ground-truth table"));
  std::string version = good;
  version.replace(version.find("\"version\": 1"), 12, "\"version\": 9");
  EXPECT_THAT(table_error(file, version), HasSubstr("format version 9"));
  EXPECT_THAT(table_error(dir_ / "none.json", ""), HasSubstr("invalid JSON"));
  EXPECT_THROW(core::read_table(dir_ / "absent.json"), ConfigError);
}

/// A training preset on synthetic data small enough for a test: ws64 at C = 2, 1 cell.
void write_preset(const fs::path& file, const fs::path& runs) {
  std::ofstream(file) << "[experiment]\nname = \"gt\"\nseed = 0\nthreads = 1\noutput_dir = \""
                      << runs.string() << "\"\n\n[data]\nname = \"synthetic\"\n"
                      << "synthetic_train = 128\nsynthetic_test = 32\nsynthetic_image_size = 8\n"
                      << "synthetic_classes = 3\nbatch_size = 32\ndata_seed = 0\n\n"
                      << "[space]\nname = \"ws64\"\n\n[train]\nchannels = 2\nlayers = 1\n"
                      << "epochs = 2\nbatch_size = 32\n";
}

TEST_F(GroundTruth, TableBuildTrainsEachArchitectureAndSeedOnceAndCollects) {
  write_preset(dir_ / "preset.toml", dir_ / "runs");
  std::ofstream(dir_ / "t.toml") << "[sweep]\nname = \"t\"\nbase = \"preset.toml\"\n"
                                 << "architectures = [\"424\", \"111\"]\nseeds = 2\n";
  const Outcome build = run_nasx("table build " + (dir_ / "t.toml").string() + " --jobs 2");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  EXPECT_THAT(build.output, HasSubstr("nasx table collect"));
  for (const char* trial : {"000_424_seed0", "001_111_seed0", "002_424_seed1", "003_111_seed1"})
    EXPECT_TRUE(fs::exists(dir_ / "runs/t" / trial / "summary.json")) << trial;
  // Built again: nothing retrained.
  const Outcome again = run_nasx("table build " + (dir_ / "t.toml").string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("4 already done, 0 to run"));

  const Outcome collect = run_nasx("table collect " + (dir_ / "runs/t").string());
  ASSERT_EQ(collect.exit_code, 0) << collect.output;
  const core::GroundTruthTable table = core::read_table(dir_ / "runs/t/table.json");
  EXPECT_EQ(table.space, "ws64");
  EXPECT_EQ(table.rows.size(), 4u);
  EXPECT_EQ(table.seeds(), (std::vector<int64_t>{0, 1}));
  for (const core::TableRow& row : table.rows) {
    EXPECT_EQ(row.epochs, 2);
    EXPECT_EQ(row.train_loss.size(), 2u);
    EXPECT_GT(row.parameters, 0);
    EXPECT_GT(row.seconds, 0);
    // The row is what the training folder reported.
    const Json summary = core::parse_json_or_empty(
        read(dir_ / "runs/t" / ((row.arch == "424" ? "00" : "00") +
                                std::to_string((row.arch == "111") + 2 * row.seed) + "_" +
                                row.arch + "_seed" + std::to_string(row.seed)) /
             "summary.json"));
    EXPECT_DOUBLE_EQ(row.test_acc, summary.at("test_acc").get<double>());
  }
  // The seeds trained on the same images (data_seed) but differ in their training.
  EXPECT_NE(table.rows_of("424")[0]->train_loss, table.rows_of("424")[1]->train_loss);
  EXPECT_THAT(collect.output, HasSubstr("4 rows, 2 architectures, seeds 0 1"));
}

TEST_F(GroundTruth, TableFilesRefuseWhatCannotBeATable) {
  write_preset(dir_ / "preset.toml", dir_ / "runs");
  auto table_file = [&](const std::string& text) {
    std::ofstream(dir_ / "t.toml") << "[sweep]\nname = \"t\"\nbase = \"preset.toml\"\n" << text;
    return run_nasx("table build " + (dir_ / "t.toml").string() + " --dry-run");
  };
  Outcome bad = table_file("architectures = [\"424\", \"15\"]\n");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("t.toml:4:"));
  EXPECT_THAT(bad.output, HasSubstr("not an architecture of space 'ws64'"));
  bad = table_file("architectures = \"al\"\n");
  EXPECT_THAT(bad.output, HasSubstr("give \"all\", a count"));
  bad = table_file("architectures = 65\n");
  EXPECT_THAT(bad.output, HasSubstr("has only 64"));
  bad = table_file("architectures = \"all\"\n[grid]\n\"train.epochs\" = [1, 2]\n");
  EXPECT_THAT(bad.output, HasSubstr("one table file per preset"));
  bad = table_file("seeds = 2\n");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("not a table build"));
  const Outcome sampled = table_file("architectures = 5\nsample_seed = 3\n");
  ASSERT_EQ(sampled.exit_code, 0) << sampled.output;
  EXPECT_EQ(testing::count(sampled.output, "  new"), 5);
  const Outcome all = table_file("architectures = \"all\"\nseeds = [4]\n");
  EXPECT_THAT(all.output, HasSubstr("64 trials"));
  EXPECT_THAT(all.output, HasSubstr("063_444_seed4"));
}

/// A random search of the ws64 space measured by a table (a search on synthetic data).
std::string table_search_config(const fs::path& table, const std::string& space,
                                const std::string& extra = "") {
  return "[experiment]\nname = \"ts\"\nseed = 2\nthreads = 1\n\n[data]\nname = \"synthetic\"\n"
         "synthetic_train = 128\nsynthetic_test = 32\nsynthetic_image_size = 8\nbatch_size = 32\n"
         "\n[space]\nname = \"" +
         space + "\"\nchannels = 2\nlayers = 1\n\n[evaluator]\nname = \"table\"\ntable = \"" +
         table.string() + "\"\n" + extra +
         "\n[search]\nstrategy = \"random\"\ncandidates = 20\nevaluations_per_step = 1\n";
}

TEST_F(GroundTruth, TableEvaluatorAnswersWithTheBestTrueAccuracyAndKeepsTheBudget) {
  const fs::path table = dir_ / "table.json";
  core::write_table(synthetic_ws64_table(), table);
  std::ofstream(dir_ / "search.toml") << table_search_config(table, "ws64");
  const Outcome run = run_nasx("run " + (dir_ / "search.toml").string() + " --out " +
                               (dir_ / "run").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // The answer is the best of the architectures it looked up, and its true accuracy is
  // the table's.
  const core::GroundTruthTable truth = core::read_table(table);
  std::ifstream evaluations(dir_ / "run/evaluations.jsonl");
  double best = 0, seconds = 0;
  std::set<std::string> seen;
  for (std::string line; std::getline(evaluations, line);) {
    const Json e = core::parse_json_or_empty(line);
    const std::string arch = e.at("arch").get<std::string>();
    EXPECT_DOUBLE_EQ(e.at("accuracy").get<double>(), truth.accuracy(arch));
    EXPECT_EQ(e.at("evaluator").get<std::string>(), "table");
    best = std::max(best, e.at("accuracy").get<double>());
    seconds += e.at("seconds").get<double>();
    seen.insert(arch);
  }
  // 20 draws with replacement: each distinct architecture is looked up (and paid) once.
  EXPECT_GE(seen.size(), 10u);
  EXPECT_DOUBLE_EQ(seconds, static_cast<double>(seen.size()) * 10.5);
  const Json summary = core::parse_json_or_empty(read(dir_ / "run/summary.json"));
  EXPECT_DOUBLE_EQ(summary.at("table_test_acc").get<double>(), best);
  EXPECT_DOUBLE_EQ(truth.accuracy(summary.at("genotype").get<std::string>()), best);

  // A budget of 5 trainings (52.5 simulated seconds): the search ends after the step
  // that reaches it.
  std::ofstream(dir_ / "budget.toml")
      << table_search_config(table, "ws64", "budget_seconds = 52.5\n");
  const Outcome budget = run_nasx("run " + (dir_ / "budget.toml").string() + " --out " +
                                  (dir_ / "budget").string());
  ASSERT_EQ(budget.exit_code, 0) << budget.output;
  EXPECT_THAT(budget.output, HasSubstr("the evaluation budget is spent (52.5 of 52.5 s)"));
  EXPECT_EQ(testing::count(read(dir_ / "budget/evaluations.jsonl"), "\n"), 5);
}

TEST_F(GroundTruth, ASweepWithTruthJudgesEveryAnswerByTheTable) {
  const fs::path table = dir_ / "table.json";
  core::write_table(synthetic_ws64_table(), table);
  std::ofstream(dir_ / "search.toml") << table_search_config(table, "ws64");
  std::ofstream(dir_ / "sweep.toml")
      << "[sweep]\nname = \"judged\"\nbase = \"search.toml\"\nseeds = 2\n"
         "truth = \"table.json\"\noutput_dir = \""
      << (dir_ / "runs").string() << "\"\n\n[grid]\n\"search.candidates\" = [2, 20]\n";
  const Outcome sweep = run_nasx("sweep " + (dir_ / "sweep.toml").string() + " --jobs 2");
  ASSERT_EQ(sweep.exit_code, 0) << sweep.output;
  const Outcome collect = run_nasx("sweep collect " + (dir_ / "runs/judged").string());
  ASSERT_EQ(collect.exit_code, 0) << collect.output;
  EXPECT_THAT(collect.output, HasSubstr("true_rank (mean ± std)"));
  // Each answer's accuracy and rank, computed here from the table itself.
  const core::GroundTruthTable truth = core::read_table(table);
  const Json collected = core::parse_json_or_empty(read(dir_ / "runs/judged/collect.json"));
  ASSERT_EQ(collected.at("trials").size(), 4u);
  for (const Json& trial : collected.at("trials")) {
    const std::string answer = trial.at("genotype").get<std::string>();
    double rank = 1;
    for (const std::string& arch : truth.architectures())
      rank += truth.accuracy(arch) > truth.accuracy(answer) ? 1 : 0;
    EXPECT_DOUBLE_EQ(trial.at("true_acc").get<double>(), truth.accuracy(answer)) << answer;
    EXPECT_DOUBLE_EQ(trial.at("true_rank").get<double>(), rank) << answer;
  }
  for (const Json& setting : collected.at("settings"))
    EXPECT_TRUE(setting.contains("true_rank_mean")) << setting.dump();
  // The report shows them with a chart each.
  const Outcome report = run_nasx("report " + (dir_ / "runs/judged").string());
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_THAT(read(dir_ / "runs/judged/report/index.html"), HasSubstr("true rank"));
  // A table of another space is refused at its line, before any trial.
  core::GroundTruthTable other = synthetic_ws64_table();
  other.space = "nb201";
  core::write_table(other, dir_ / "nb201.json");
  std::ofstream(dir_ / "bad.toml") << "[sweep]\nname = \"bad\"\nbase = \"search.toml\"\n"
                                      "truth = \"nb201.json\"\n";
  const Outcome bad = run_nasx("sweep " + (dir_ / "bad.toml").string() + " --dry-run");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("bad.toml:4"));
  EXPECT_THAT(bad.output, HasSubstr("is of space 'nb201'"));
}

TEST_F(GroundTruth, TableEvaluatorErrorsNameTheArchitectureTheTableAndTheSpace) {
  core::GroundTruthTable partial = synthetic_ws64_table();
  partial.rows.resize(10);  // 111 ... 134 of seed 0 only
  const fs::path table = dir_ / "partial.json";
  core::write_table(partial, table);
  std::ofstream(dir_ / "search.toml") << table_search_config(table, "ws64");
  const Outcome missing = run_nasx("run " + (dir_ / "search.toml").string() + " --out " +
                                   (dir_ / "run").string());
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("is not in the ground-truth table " + table.string()));
  EXPECT_THAT(missing.output, Not(HasSubstr("terminate")));

  std::ofstream(dir_ / "nb201.toml") << table_search_config(table, "nb201");
  const Outcome other = run_nasx("run " + (dir_ / "nb201.toml").string() + " --out " +
                                 (dir_ / "other").string());
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.output, HasSubstr("is of space 'ws64', but the run's [space] is of space "
                                      "'nb201'"));
  EXPECT_FALSE(fs::exists(dir_ / "other/summary.json"));

  std::ofstream(dir_ / "nofile.toml") << table_search_config(dir_ / "nope.json", "ws64");
  const Outcome absent = run_nasx("validate " + (dir_ / "nofile.toml").string());
  EXPECT_EQ(absent.exit_code, 1);
  EXPECT_THAT(absent.output, HasSubstr("nofile.toml:"));
  EXPECT_THAT(absent.output, HasSubstr("evaluator.table"));
}

}  // namespace
}  // namespace nasx
