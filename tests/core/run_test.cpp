// End-to-end tests of the nasx executable: real processes, real plugin files,
// real signals.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "core/tiny_config.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using testing::kNasx;
using testing::Outcome;
using testing::read;
using testing::run_nasx;

class Run : public testing::FolderTest {
 protected:
  /// The test config file, with `--set search.epochs=8` unless `epochs` is false
  /// (epochs is a key of darts, not of every strategy).
  std::string config(const std::string& extra = "", bool epochs = true) {
    const fs::path path = dir_ / "config.toml";
    std::ofstream(path) << testing::tiny_search_config(extra);
    return path.string() + (epochs ? " --set search.epochs=8" : "");
  }
};

/// The numbers summary.json reports, without the wall-clock fields.
std::string metrics_of(const std::string& summary) {
  std::string out;
  const std::regex number("\"([a-z_]+_(acc|loss)|evaluated)\": ([-0-9.e]+)");
  for (std::sregex_iterator it(summary.begin(), summary.end(), number), end; it != end; ++it)
    out += (*it)[1].str() + "=" + (*it)[3].str() + " ";
  return out;
}

TEST_F(Run, SearchWritesTheWholeRunFolder) {
  const Outcome outcome =
      run_nasx("run " + config() + " --set search.epochs=2 --out " + (dir_ / "run").string());
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("found genotype:\nGenotype(normal=["));
  for (const char* file : {"config.toml", "events.jsonl", "genotypes.jsonl", "checkpoint/state.pt",
                           "genotype.txt", "summary.json"})
    EXPECT_TRUE(fs::exists(dir_ / "run" / file)) << file;
  const std::string events = read(dir_ / "run/events.jsonl");
  EXPECT_THAT(events, HasSubstr("\"type\": \"step\", \"step\": 1"));
  EXPECT_THAT(events, HasSubstr("\"type\": \"arch_weights\""));
  EXPECT_THAT(events, HasSubstr("\"train_acc\""));
  EXPECT_THAT(read(dir_ / "run/config.toml"), HasSubstr("epochs = 2"));
  EXPECT_THAT(read(dir_ / "run/config.toml"), HasSubstr("w_lr = 0.025"));
  EXPECT_THAT(read(dir_ / "run/summary.json"), HasSubstr("\"supernet_test_acc\""));
  // A damaged checkpoint is refused with what to do, not a crash.
  fs::remove(dir_ / "run/summary.json");
  fs::remove(dir_ / "run/genotype.txt");
  fs::resize_file(dir_ / "run/checkpoint/state.pt", 100);
  const Outcome damaged = run_nasx("resume " + (dir_ / "run").string());
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_THAT(damaged.output, HasSubstr("state.pt is damaged"));
  EXPECT_THAT(damaged.output, HasSubstr("delete the checkpoint folder"));
  EXPECT_FALSE(fs::exists(dir_ / "run/summary.json"));
  // No temporaries are left behind.
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "run"))
    EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
}

/// One kill-and-resume case per shipped strategy (gradient, controller, population,
/// training-free): a strategy whose own state is not all checkpointed fails it.
struct KillCase {
  std::string name;
  std::string settings;  ///< --set arguments on top of the test config
  int steps;             ///< host steps of the whole run
  int kill_after;        ///< the step whose checkpoint precedes the kill
};

class KillAndResume : public Run, public ::testing::WithParamInterface<KillCase> {};

/// evaluations.jsonl without the wall-clock costs.
std::string evaluations_of(const std::string& log) {
  return std::regex_replace(log, std::regex(", \"seconds\": [-0-9.e]+"), "");
}

TEST_P(KillAndResume, KilledSearchResumesToTheSameResult) {
  const KillCase& c = GetParam();
  const std::string cfg = config("", false) + " " + c.settings;
  const Outcome reference = run_nasx("run " + cfg + " --out " + (dir_ / "reference").string());
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  const fs::path killed = dir_ / "killed";
  // Kill it with SIGKILL right after the checkpoint of step index kill_after (logged, as
  // the console counts, as step kill_after + 1).
  const std::string marker =
      "\"type\": \"step\", \"step\": " + std::to_string(c.kill_after + 1) + ",";
  ASSERT_TRUE(testing::run_and_kill_when("run " + cfg + " --out " + killed.string(), [&] {
    return read(killed / "events.jsonl").find(marker) != std::string::npos &&
           fs::exists(killed / "checkpoint/state.pt");
  })) << "the run ended before it could be killed";
  ASSERT_FALSE(fs::exists(killed / "summary.json")) << "the run ended before it could be killed";

  const Outcome resumed = run_nasx("resume " + killed.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("resuming"));
  EXPECT_EQ(read(killed / "genotype.txt"), read(dir_ / "reference/genotype.txt"));
  EXPECT_EQ(read(killed / "genotypes.jsonl"), read(dir_ / "reference/genotypes.jsonl"));
  EXPECT_EQ(evaluations_of(read(killed / "evaluations.jsonl")),
            evaluations_of(read(dir_ / "reference/evaluations.jsonl")));
  const std::string expected = metrics_of(read(dir_ / "reference/summary.json"));
  EXPECT_THAT(expected, HasSubstr("_acc="));
  EXPECT_EQ(metrics_of(read(killed / "summary.json")), expected);
  // Every step is logged exactly once.
  const std::string events = read(killed / "events.jsonl");
  for (int step = 1; step <= c.steps; ++step) {
    const std::string step_marker = "\"type\": \"step\", \"step\": " + std::to_string(step) + ",";
    const auto first = events.find(step_marker);
    ASSERT_NE(first, std::string::npos) << step;
    EXPECT_EQ(events.find(step_marker, first + 1), std::string::npos)
        << "step " << step << " logged twice";
  }
  // A finished run is not resumed again.
  const Outcome again = run_nasx("resume " + killed.string());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("has already finished"));

  // Killed after its last checkpoint, before summary.json: the end of the run is done
  // again from the checkpoint, with the last step's metrics.
  const fs::path late = dir_ / "late";
  fs::copy(dir_ / "reference", late, fs::copy_options::recursive);
  fs::remove(late / "summary.json");
  fs::remove(late / "genotype.txt");
  const Outcome finished = run_nasx("resume " + late.string());
  ASSERT_EQ(finished.exit_code, 0) << finished.output;
  EXPECT_THAT(finished.output, HasSubstr("steps are done; finishing the run"));
  EXPECT_EQ(metrics_of(read(late / "summary.json")), expected);
  EXPECT_EQ(read(late / "genotype.txt"), read(dir_ / "reference/genotype.txt"));
}

INSTANTIATE_TEST_SUITE_P(
    StrategyKinds, KillAndResume,
    ::testing::Values(
        KillCase{"darts", "--set search.epochs=8", 8, 1},
        KillCase{"enas",
                 "--set search.strategy=enas --set search.epochs=5 --set space.name=nb201 "
                 "--set space.layers=1 --set search.controller_samples=40 "
                 "--set search.samples_per_update=8 --set search.reward_batch=32 "
                 "--set search.final_samples=8",
                 6, 2},
        KillCase{"evolution",
                 "--set search.strategy=evolution --set space.name=nb201 --set space.layers=1 "
                 "--set search.supernet_epochs=3 --set search.population=4 "
                 "--set search.cycles=15 --set search.evaluations_per_step=3",
                 8, 3},
        KillCase{"milenas", "--set search.strategy=milenas --set search.epochs=5", 5, 1},
        KillCase{"nadarts",
                 "--set search.strategy=nadarts --set search.epochs=4 --set search.neighbours=2", 4,
                 1},
        KillCase{"random",
                 "--set search.strategy=random --set space.name=nb201 --set space.layers=1 "
                 "--set search.supernet_epochs=2 --set search.candidates=12 "
                 "--set search.evaluations_per_step=3",
                 7, 3},  // 2 supernet epochs, 4 steps of candidates, the top-k re-score
        KillCase{"narandom",
                 "--set search.strategy=narandom --set space.name=nb201 --set space.layers=1 "
                 "--set search.supernet_epochs=1 --set search.budget=16 "
                 "--set search.neighbours=3 --set search.evaluations_per_step=1",
                 5, 2},
        KillCase{"naswot",
                 "--set search.strategy=naswot --set space.name=nb201 --set space.layers=1 "
                 "--set search.samples=30 --set search.evaluations_per_step=3",
                 10, 1},
        KillCase{"area",
                 "--set search.strategy=area --set space.name=nb201 --set space.layers=1 "
                 "--set search.supernet_epochs=1 --set search.initial_samples=6 "
                 "--set search.population=4 --set search.cycles=12 "
                 "--set search.evaluations_per_step=3",
                 5, 2}),
    [](const auto& info) { return info.param.name; });

TEST_F(Run, BadInputExitsNonZeroWithOneClearMessageAndNoResult) {
  struct Case {
    std::string args;
    std::string message;
  };
  const std::string cfg = config();
  std::ofstream(dir_ / "broken.toml") << "[search\nstrategy = \"darts\"\n";
  std::ofstream(dir_ / "a_file") << "x";
  const std::vector<Case> cases = {
      {"run " + (dir_ / "broken.toml").string(), "broken.toml:1:8: TOML syntax error"},
      {"run " + cfg + " --set search.epoch=3", "did you mean 'epochs'?"},
      {"run " + cfg + " --set search.epochs=1.5",
       "'search.epochs' must be an integer, not a float"},
      {"run " + cfg + " --set data.name=fashion-mnist --set data.path=/nonexistent/fmnist",
       "/nonexistent/fmnist/train-images-idx3-ubyte.gz is missing"},
      {"run " + (dir_ / "missing.toml").string(), "missing.toml"},
      {"run " + cfg + " --out " + (dir_ / "a_file/run").string(), "cannot create folder"},
      {"run " + cfg + " --plugin-path /nonexistent/plugins",
       "plugin folder /nonexistent/plugins does not exist"},
      {"run " + cfg + " --set space.name=nb101", "space.name"},
      {"run " + cfg + " --set evaluator.name=oracle", "evaluator.name"},
      {"run " + cfg + " --set evaluator.name=score:oracle", "no scorer plugin named 'oracle'"},
      {"run " + config("", false) +
           " --set search.strategy=milenas --set space.name=nb201 "
           "--set search.early_stop=true",
       "the 6/0-convolution rule is for the DARTS space"},
      {"arch '|nor_conv_3x3~0|+|nor_conv_9x9~0|none~1|+|skip_connect~0|none~1|none~2|'",
       "nor_conv_9x9"},
  };
  for (const auto& c : cases) {
    const bool has_out = c.args.find("--out") != std::string::npos || c.args.rfind("arch", 0) == 0;
    const Outcome outcome = run_nasx(c.args + (has_out ? "" : " --out " + (dir_ / "out").string()));
    EXPECT_NE(outcome.exit_code, 0) << c.args;
    EXPECT_THAT(outcome.output, HasSubstr(c.message)) << c.args;
    EXPECT_THAT(outcome.output, HasSubstr("error")) << c.args;
    EXPECT_THAT(outcome.output, Not(HasSubstr("terminate called"))) << c.args;
    // Refused before any work: not even the run folder exists.
    EXPECT_FALSE(fs::exists(dir_ / "out")) << c.args;
    EXPECT_FALSE(fs::exists(dir_ / "out/genotype.txt")) << c.args;
  }
}

TEST_F(Run, DivergenceStopsWithAClearMessageAndNoFinalFiles) {
  const Outcome outcome =
      run_nasx("run " + config() + " --set search.w_lr=1e30 --set search.grad_clip=0 --out " +
               (dir_ / "run").string());
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("training diverged"));
  EXPECT_THAT(outcome.output, HasSubstr("Lower the learning rates"));
  EXPECT_FALSE(fs::exists(dir_ / "run/summary.json"));
  EXPECT_FALSE(fs::exists(dir_ / "run/genotype.txt"));
}

TEST_F(Run, SecondOrderSearchRunsEndToEnd) {
  const Outcome outcome =
      run_nasx("run " + config() + " --set search.order=second --set search.epochs=1 --out " +
               (dir_ / "run").string());
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_THAT(read(dir_ / "run/config.toml"), HasSubstr("order = \"second\""));
  EXPECT_THAT(read(dir_ / "run/genotype.txt"), HasSubstr("Genotype(normal=["));
}

// The ranking study logs its children in setup(), which runs before the run folder
// exists (a refused setting leaves no folder): the line waits for the folder, and the
// log begins with it.
TEST_F(Run, WhatAStrategyLogsInItsSetupWaitsForTheRunFolder) {
  const fs::path run = dir_ / "not" / "yet" / "there";
  const Outcome outcome =
      run_nasx("run " + config("", false) +
               " --set space.name=ws64 --set space.layers=4 --set search.strategy=ranking"
               " --set search.epochs=1 --set search.eval_images=32 --set search.last_minibatches=2"
               " --set search.last_eval_images=32 --out " +
               run.string());
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  std::istringstream events(read(run / "events.jsonl"));
  std::string first, second;
  std::getline(events, first);
  std::getline(events, second);
  EXPECT_THAT(first, HasSubstr("\"type\": \"ranking_setup\"")) << first;
  EXPECT_THAT(first, HasSubstr("\"children\": [\"111\""));
  EXPECT_THAT(second, HasSubstr("\"type\": \"start\"")) << second;
}

TEST_F(Run, InterruptStopsCleanlyAndTheRunResumes) {
  const fs::path run = dir_ / "run";
  const std::string cfg = config("", false);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::freopen((dir_ / "log.txt").c_str(), "w", stdout);
    ::dup2(::fileno(stdout), 2);
    ::execl(kNasx.c_str(), kNasx.c_str(), "run", cfg.c_str(), "--set", "search.epochs=3", "--out",
            run.c_str(), nullptr);
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline && !fs::exists(run / "checkpoint/state.pt"))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string log = read(dir_ / "log.txt");
  EXPECT_THAT(log, HasSubstr("Continue with: nasx resume " + run.string()));
  EXPECT_FALSE(fs::exists(run / "summary.json"));
  const Outcome resumed = run_nasx("resume " + run.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(fs::exists(run / "summary.json"));
}

TEST_F(Run, ValidatePrintsTheResolvedConfig) {
  const Outcome outcome = run_nasx("validate " + config() + " --set search.epochs=3");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("[search]\nstrategy = \"darts\""));
  EXPECT_THAT(outcome.output, HasSubstr("epochs = 3"));
  EXPECT_THAT(outcome.output, HasSubstr("arch_lr = 0.0003"));
  EXPECT_THAT(outcome.output, HasSubstr(": valid"));
}

TEST_F(Run, ArchPrintsSpaceCanonicalFormAndParameterCount) {
  const Outcome nb201 =
      run_nasx("arch '|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|'");
  ASSERT_EQ(nb201.exit_code, 0) << nb201.output;
  EXPECT_THAT(nb201.output, HasSubstr("space:      nb201"));
  EXPECT_THAT(nb201.output, HasSubstr("parameters: 559,386"));
  const Outcome wider = run_nasx(
      "arch '|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|' "
      "--in-channels 1 --channels 8");
  EXPECT_EQ(wider.exit_code, 0) << wider.output;
  EXPECT_THAT(wider.output, HasSubstr("C=8, layers 5, 1 input channels"));
  const Outcome darts = run_nasx(
      "arch \"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
      "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
      "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
      "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
      "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, "
      "6))\"");
  EXPECT_EQ(darts.exit_code, 0) << darts.output;
  EXPECT_THAT(darts.output, HasSubstr("space:      darts"));
  EXPECT_THAT(darts.output, HasSubstr("normal_concat=[2, 3, 4, 5]"));
  // The reference's DARTS_V2 figures at C=36, 20 cells.
  EXPECT_THAT(darts.output, HasSubstr("parameters: 3,349,342 (3,825,768 with the auxiliary head)"));
  const Outcome bad =
      run_nasx("arch '|nor_conv_3x3~0|+|none~0|nor_conv_3x3~3|+|none~0|none~1|none~2|'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("node 2 cannot take input from node 3"));
  EXPECT_THAT(run_nasx("arch hello").output, HasSubstr("cannot tell the space"));
}

TEST_F(Run, NaswotSearchesAndScoresAsAnEvaluatorThroughTheScorerPlugin) {
  const std::string nb201 = config("", false) + " --set space.name=nb201 --set space.layers=1";
  const Outcome search = run_nasx("run " + nb201 +
                                  " --set search.strategy=naswot --set search.samples=12 "
                                  "--set search.evaluations_per_step=4 --out " +
                                  (dir_ / "naswot").string());
  ASSERT_EQ(search.exit_code, 0) << search.output;
  const std::string scored = read(dir_ / "naswot/evaluations.jsonl");
  EXPECT_THAT(scored, HasSubstr("\"evaluator\": \"score:naswot\""));
  EXPECT_THAT(scored, HasSubstr("\"score\": "));
  EXPECT_THAT(read(dir_ / "naswot/summary.json"), HasSubstr("\"selected_by\": \"naswot\""));
  EXPECT_THAT(read(dir_ / "naswot/events.jsonl"), HasSubstr("\"best_score\""));

  // Random search with the scorer as its evaluator samples the same architectures.
  const Outcome random = run_nasx("run " + nb201 +
                                  " --set search.strategy=random --set search.candidates=12 "
                                  "--set search.evaluations_per_step=4 "
                                  "--set evaluator.name=score:naswot --out " +
                                  (dir_ / "random").string());
  ASSERT_EQ(random.exit_code, 0) << random.output;
  EXPECT_EQ(read(dir_ / "random/genotype.txt"), read(dir_ / "naswot/genotype.txt"));
}

TEST_F(Run, EnsembleOfASearchsBestIsPrunedByEveryPruner) {
  const std::string nb201 = config("", false) + " --set space.name=nb201 --set space.layers=1";
  const std::string run = (dir_ / "run").string();
  const Outcome search = run_nasx("run " + nb201 +
                                  " --set search.strategy=random --set search.candidates=12 "
                                  "--set evaluator.name=score:naswot --out " +
                                  run);
  ASSERT_EQ(search.exit_code, 0) << search.output;
  const std::string train = " --set train.epochs=1 --set train.channels=4 --set train.layers=1";
  const Outcome outcome = run_nasx("ensemble " + run + " --members 5" + train);
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  for (const char* pruner : {"keep_all", "top_k", "prs", "pap", "pie"})
    EXPECT_THAT(outcome.output, ::testing::ContainsRegex(std::string("\n") + pruner + " +[0-9]"))
        << pruner;
  EXPECT_THAT(outcome.output, ::testing::ContainsRegex("keep_all +5 +0,1,2,3,4"));
  EXPECT_THAT(outcome.output, ::testing::ContainsRegex("top_k +4 "));
  const std::string summary = read(dir_ / "run/ensemble/summary.json");
  EXPECT_THAT(summary, HasSubstr("\"pruner\": \"pie\""));
  EXPECT_TRUE(fs::exists(dir_ / "run/ensemble/member_4.pt"));
  // Fewer members than top_k keeps: one clear error (the trained members are kept).
  const Outcome small = run_nasx("ensemble " + run + " --members 3 --pruners top_k" + train);
  EXPECT_EQ(small.exit_code, 1) << small.output;
  EXPECT_THAT(small.output, HasSubstr("keeps k = 4 members but the ensemble has only 3"));
  EXPECT_THAT(small.output, HasSubstr("reused"));
}

TEST_F(Run, SelectReselectsFromAFinishedRunsSupernet) {
  const std::string run = (dir_ / "run").string();
  const Outcome search = run_nasx("run " + config() + " --set search.epochs=2 --out " + run);
  ASSERT_EQ(search.exit_code, 0) << search.output;
  const Outcome again = run_nasx("select " + run + " --selector magnitude");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  // The same selector on the same supernet gives the run's own answer.
  EXPECT_EQ(read(dir_ / "run/select-magnitude/genotype.txt"), read(dir_ / "run/genotype.txt"));
  EXPECT_THAT(read(dir_ / "run/select-magnitude/summary.json"), HasSubstr("\"supernet_test_acc\""));
  const Outcome unknown = run_nasx("select " + run + " --selector perturbaton");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.output, HasSubstr("no selector plugin named 'perturbaton'"));
}

TEST_F(Run, PluginsListAndInfoDescribeTheShippedPlugins) {
  const Outcome list = run_nasx("plugins list");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  for (const char* strategy :
       {"darts", "milenas", "nadarts", "enas", "random", "narandom", "evolution", "naswot", "area"})
    EXPECT_THAT(list.output, ::testing::ContainsRegex(std::string(strategy) +
                                                      " +strategy +1\\.[0-9]\\.0 +[A-Za-z]"))
        << strategy;
  EXPECT_THAT(list.output, ::testing::ContainsRegex("magnitude +selector +1\\.0\\.0"));
  EXPECT_THAT(list.output, ::testing::ContainsRegex("naswot +scorer +1\\.0\\.0"));
  // One name, two kinds: info shows both.
  const Outcome naswot = run_nasx("plugins info naswot");
  ASSERT_EQ(naswot.exit_code, 0) << naswot.output;
  EXPECT_THAT(naswot.output, HasSubstr("(scorer)"));
  EXPECT_THAT(naswot.output, HasSubstr("(strategy)"));
  EXPECT_THAT(naswot.output, HasSubstr("samples"));
  const Outcome enas = run_nasx("plugins info enas");
  ASSERT_EQ(enas.exit_code, 0) << enas.output;
  for (const char* key :
       {"controller_samples", "entropy_weight", "baseline_decay", "final_samples"})
    EXPECT_THAT(enas.output, HasSubstr(key));
  const Outcome info = run_nasx("plugins info darts");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_THAT(info.output,
              ::testing::ContainsRegex("order +string +default \"first\" +first \\| second"));
  EXPECT_THAT(info.output, ::testing::ContainsRegex("w_lr +float +default 0\\.025"));
  EXPECT_THAT(info.output, HasSubstr("weight SGD learning rate"));
  EXPECT_THAT(run_nasx("plugins info dart").output, HasSubstr("did you mean 'darts'?"));
  // Plugins come from $NASX_PLUGIN_PATH too.
  const Outcome from_env = run_nasx("plugins info test_good");
  EXPECT_NE(from_env.exit_code, 0);
  const Outcome listed =
      run_nasx("plugins list", "NASX_PLUGIN_PATH=" NASX_TEST_FIXTURES_DIR "/good");
  EXPECT_EQ(listed.exit_code, 0);
  EXPECT_THAT(listed.output, ::testing::ContainsRegex("test_good +selector +2\\.1\\.0"));
  // Broken files dropped into a plugin folder are reported, not fatal.
  const Outcome with_broken =
      run_nasx("plugins list --plugin-path " NASX_TEST_FIXTURES_DIR "/future");
  EXPECT_EQ(with_broken.exit_code, 0);
  EXPECT_THAT(with_broken.output, HasSubstr("built for plugin ABI 99"));
}

}  // namespace
}  // namespace nasx
