// End-to-end tests of `nasx sweep` with the local executor: real trial processes, a
// trial killed with SIGKILL, re-runs, collect, and bad sweep files.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
namespace fs = std::filesystem;

using testing::count;

class Sweep : public testing::FolderTest {
 protected:
  void SetUp() override {
    FolderTest::SetUp();
    std::ofstream(dir_ / "base.toml") << "[experiment]\nname = \"sweep\"\nseed = 0\nthreads = 1\n"
                                      << "output_dir = \"" << (dir_ / "runs").string() << "\"\n\n"
                                      << "[data]\nname = \"synthetic\"\nsynthetic_train = 256\n"
                                      << "synthetic_test = 64\nsynthetic_image_size = 8\n"
                                      << "synthetic_classes = 4\nbatch_size = 32\n\n"
                                      << "[space]\nname = \"nb201\"\nchannels = 4\nlayers = 1\n\n"
                                      << "[search]\nstrategy = \"darts\"\nepochs = 1\n";
  }

  std::string sweep_file(const std::string& text) {
    const fs::path path = dir_ / "sweep.toml";
    std::ofstream(path) << "[sweep]\nname = \"s\"\nbase = \"base.toml\"\n" << text;
    return path.string();
  }
};

TEST_F(Sweep, TwoStrategiesThreeSeedsRunTwoAtATimeAndCollectMeanAndStd) {
  const std::string file =
      sweep_file("seeds = [0, 1, 2]\n\n[grid]\n\"search.strategy\" = [\"darts\", \"milenas\"]\n");
  const Outcome dry = run_nasx("sweep " + file + " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_EQ(count(dry.output, "  new"), 6);
  EXPECT_THAT(dry.output, HasSubstr("000_strategy-darts_seed0"));
  EXPECT_THAT(dry.output, HasSubstr("005_strategy-milenas_seed2"));
  EXPECT_FALSE(fs::exists(dir_ / "runs/s")) << "a dry run wrote something";

  const Outcome run = run_nasx("sweep " + file + " --jobs 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(count(run.output, ": done"), 6);
  for (const auto& [trial, strategy] : std::vector<std::pair<std::string, std::string>>{
           {"000_strategy-darts_seed0", "darts"}, {"004_strategy-milenas_seed1", "milenas"}}) {
    EXPECT_THAT(read(dir_ / "runs/s" / trial / "config.toml"),
                HasSubstr("strategy = \"" + strategy + "\""));
    EXPECT_TRUE(fs::exists(dir_ / "runs/s" / trial / "summary.json"));
  }
  EXPECT_THAT(read(dir_ / "runs/s/004_strategy-milenas_seed1/config.toml"), HasSubstr("seed = 1"));

  const Outcome table = run_nasx("sweep collect " + (dir_ / "runs/s").string());
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("strategy=darts    3/3"));
  EXPECT_THAT(table.output, HasSubstr("strategy=milenas  3/3"));
  // Search and test accuracy per strategy (the header's "(mean ± std)" aside).
  const std::regex mean_std("[0-9] ± [0-9]");
  EXPECT_EQ(std::distance(std::sregex_iterator(table.output.begin(), table.output.end(), mean_std),
                          std::sregex_iterator()),
            4);
  // The mean in the table is the mean of the three summaries.
  double sum = 0;
  for (int seed = 0; seed < 3; ++seed) {
    const std::string summary =
        read(dir_ / "runs/s" /
             ("00" + std::to_string(seed) + "_strategy-darts_seed" + std::to_string(seed)) /
             "summary.json");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(summary, m, std::regex("\"valid_acc\": ([0-9.e-]+)")));
    sum += std::stod(m[1]);
  }
  char mean[32];
  std::snprintf(mean, sizeof mean, "%.4f ± ", sum / 3);
  EXPECT_THAT(table.output, HasSubstr(std::string("strategy=darts    3/3   ") + mean));
  EXPECT_EQ(count(read(dir_ / "runs/s/collect.csv"), "\n"), 7);
  EXPECT_THAT(read(dir_ / "runs/s/collect.json"), HasSubstr("\"search_acc_mean\""));

  // The same sweep again: nothing to do, nothing recomputed.
  const Outcome again = run_nasx("sweep " + file + " --jobs 2");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("6 already done, 0 to run"));
}

TEST_F(Sweep, AKilledTrialIsFailedWithItsLogTailAndARerunRedoesOnlyIt) {
  const std::string file = sweep_file("\n[grid]\n\"search.epochs\" = [1, 40]\n");
  const fs::path victim = dir_ / "runs/s/001_epochs-40_seed0";
  Outcome first;
  std::thread sweep([&] { first = run_nasx("sweep " + file + " --jobs 2"); });
  // SIGKILL the long trial's own process once it has checkpointed a few epochs.
  bool killed = false;
  for (int i = 0; i < 60000 && !killed; ++i) {
    const std::string trial = read(victim / "trial.json");
    std::smatch pid;
    if (read(victim / "events.jsonl").find("\"type\": \"step\", \"step\": 3,") !=
            std::string::npos &&
        std::regex_search(trial, pid, std::regex("\"pid\": ([0-9]+)"))) {
      killed = ::kill(std::stoi(pid[1]), SIGKILL) == 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  sweep.join();
  ASSERT_TRUE(killed) << first.output;
  EXPECT_EQ(first.exit_code, 1) << first.output;
  EXPECT_THAT(first.output, HasSubstr("001_epochs-40_seed0: FAILED, killed by signal 9"));
  EXPECT_THAT(first.output, HasSubstr("000_epochs-1_seed0: done"));
  EXPECT_THAT(first.output, HasSubstr("1 of 2 trials did not finish"));
  const std::string record = read(victim / "trial.json");
  EXPECT_THAT(record, HasSubstr("\"status\": \"failed\""));
  EXPECT_THAT(record, HasSubstr("\"log_tail\": \"nasx run: darts"));  // the trial's own output
  const Outcome status = run_nasx("sweep status " + (dir_ / "runs/s").string());
  EXPECT_THAT(status.output, HasSubstr("001_epochs-40_seed0  failed (killed by signal 9"));
  EXPECT_THAT(status.output, HasSubstr("2 trials: 1 done 1 failed"));

  const std::string done_before = read(dir_ / "runs/s/000_epochs-1_seed0/summary.json");
  const Outcome second = run_nasx("sweep " + file + " --jobs 2");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("1 already done, 1 to run"));
  EXPECT_THAT(second.output, HasSubstr("started 001_epochs-40_seed0 (resume)"));
  EXPECT_EQ(read(dir_ / "runs/s/000_epochs-1_seed0/summary.json"), done_before);
  EXPECT_THAT(read(victim / "log.txt"), HasSubstr("resuming"));
  EXPECT_EQ(count(read(victim / "events.jsonl"), "\"type\": \"step\""), 40);
  EXPECT_THAT(run_nasx("sweep status " + (dir_ / "runs/s").string()).output,
              HasSubstr("2 trials: 2 done"));
}

TEST_F(Sweep, ASectionAxisGivesEachTrialItsOwnTable) {
  const Outcome dry = run_nasx(
      "sweep " +
      sweep_file("[zip]\n\"search\" = [{strategy = \"darts\", order = \"second\", epochs = 1}, "
                 "{strategy = \"milenas\", epochs = 1}]\n") +
      " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  // Named by what tells the two apart (epochs = 1 in both does not), the strategy first.
  EXPECT_THAT(dry.output, HasSubstr("000_search-darts-order-second_seed0"));
  EXPECT_THAT(dry.output, HasSubstr("001_search-milenas_seed0"));
  // The printed command pastes into a shell: the table is one quoted word.
  EXPECT_THAT(dry.output, HasSubstr(" --set 'search={"));
  // [labels] name the settings instead.
  const Outcome labelled = run_nasx(
      "sweep " +
      sweep_file(
          "[zip]\n\"search\" = [{strategy = \"darts\", order = \"second\", epochs = 1}, "
          "{strategy = \"milenas\", epochs = 1}]\n[labels]\nsearch = [\"2nd\", \"mixed\"]\n") +
      " --dry-run");
  ASSERT_EQ(labelled.exit_code, 0) << labelled.output;
  EXPECT_THAT(labelled.output, HasSubstr("000_search-2nd_seed0"));
  EXPECT_THAT(labelled.output, HasSubstr("001_search-mixed_seed0"));
  // A zip may pair one value with two others (the same search, two selectors): labels
  // go by position, so each trial carries its own.
  const Outcome twins = run_nasx(
      "sweep " +
      sweep_file("[zip]\n\"search.epochs\" = [1, 1]\n"
                 "\"select\" = [{selector = \"magnitude\"}, {selector = \"perturbation\"}]\n"
                 "[labels]\n\"search.epochs\" = [\"mag\", \"pt\"]\n") +
      " --dry-run");
  ASSERT_EQ(twins.exit_code, 0) << twins.output;
  EXPECT_THAT(twins.output, HasSubstr("000_epochs-mag_select-magnitude_seed0"));
  EXPECT_THAT(twins.output, HasSubstr("001_epochs-pt_select-perturbation_seed0"));
  // One name may repeat down a zip axis while the rows' combinations stay distinct
  // ("own" for every strategy that selects its own answer) ...
  const Outcome shared = run_nasx(
      "sweep " +
      sweep_file("[zip]\n\"search.epochs\" = [1, 1, 2]\n"
                 "\"select\" = [{selector = \"magnitude\"}, {selector = \"perturbation\"}, "
                 "{selector = \"magnitude\"}]\n"
                 "[labels]\n\"search.epochs\" = [\"one\", \"one\", \"two\"]\n"
                 "select = [\"mag\", \"pt\", \"own\"]\n") +
      " --dry-run");
  ASSERT_EQ(shared.exit_code, 0) << shared.output;
  EXPECT_THAT(shared.output, HasSubstr("000_epochs-one_select-mag_seed0"));
  EXPECT_THAT(shared.output, HasSubstr("001_epochs-one_select-pt_seed0"));
  EXPECT_THAT(shared.output, HasSubstr("002_epochs-two_select-own_seed0"));
  // ... but two rows named alike would be one setting in the collected table.
  const Outcome alike = run_nasx(
      "sweep " +
      sweep_file("[zip]\n\"search.epochs\" = [1, 2]\n"
                 "\"select\" = [{selector = \"magnitude\"}, {selector = \"perturbation\"}]\n"
                 "[labels]\n\"search.epochs\" = [\"e\", \"e\"]\nselect = [\"s\", \"s\"]\n") +
      " --dry-run");
  EXPECT_EQ(alike.exit_code, 1);
  EXPECT_THAT(alike.output, HasSubstr("[labels] name zip rows 1 and 2 alike ('e', 's')"));
  // A grid value is named alone: its names must differ.
  const Outcome grid_twice = run_nasx("sweep " +
                                      sweep_file("[grid]\n\"search.epochs\" = [1, 2]\n[labels]\n"
                                                 "\"search.epochs\" = [\"e\", \"e\"]\n") +
                                      " --dry-run");
  EXPECT_EQ(grid_twice.exit_code, 1);
  EXPECT_THAT(grid_twice.output, HasSubstr("labels.search.epochs lists 'e' twice"));
  const Outcome short_labels = run_nasx(
      "sweep " +
      sweep_file("[zip]\n\"search.epochs\" = [1, 2]\n[labels]\n\"search.epochs\" = [\"one\"]\n") +
      " --dry-run");
  EXPECT_EQ(short_labels.exit_code, 1);
  EXPECT_THAT(short_labels.output, HasSubstr("labels.search.epochs must be a list of 2 names"));
  // `order` belongs to darts: the same key for milenas is an error at the axis' line.
  const Outcome bad = run_nasx(
      "sweep " + sweep_file("[zip]\n\"search\" = [{strategy = \"milenas\", order = \"first\"}]\n"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("sweep.toml:5:1: axis 'search'"));
  EXPECT_THAT(bad.output, HasSubstr("unknown key 'search.order' for strategy 'milenas'"));
}

TEST_F(Sweep, BadSweepFilesAreOneClearErrorAtTheirLineBeforeAnyTrial) {
  struct Case {
    std::string text, message;
  };
  const std::vector<Case> cases = {
      {"[grid]\n\"search.epoch\" = [1, 2]\n",
       "sweep.toml:5:1: axis 'search.epoch' (value 1, trial 000_epoch-1_seed0): unknown key "
       "'search.epoch' for strategy 'darts'; did you mean 'epochs'?"},
      {"[grid]\n\"space.depth\" = [1]\n", "sweep.toml:5:1: axis 'space.depth'"},
      {"[grid]\n\"search.epochs\" = []\n",
       "sweep.toml:5:1: axis 'search.epochs' is empty: give it at least one value"},
      {"seeds = [0, \"one\"]\n", "sweep.toml:4:13: sweep.seeds: \"one\" is not an integer seed"},
      {"seeds = [0, 1.5]\n", "is not an integer seed"},
      {"seed = 3\n", "sweep.toml:4:1: unknown key 'sweep.seed'; did you mean 'seeds'?"},
      {"[zip]\n\"search.epochs\" = [1, 2]\n\"data.batch_size\" = [8]\n",
       "sweep.toml:6:1: zip axis 'data.batch_size' has 1 values but 'search.epochs' has 2"},
  };
  for (const Case& c : cases) {
    const Outcome out = run_nasx("sweep " + sweep_file(c.text));
    EXPECT_EQ(out.exit_code, 1) << c.text << out.output;
    EXPECT_THAT(out.output, HasSubstr(c.message)) << c.text;
    EXPECT_EQ(count(out.output, "\n"), 1) << "one line: " << out.output;
    EXPECT_FALSE(fs::exists(dir_ / "runs")) << c.text << ": something was written";
  }
}

}  // namespace

TEST_F(Sweep, NprocMakesEveryTrialADataParallelRunAndIsCheckedFirst) {
  const std::string file = sweep_file("nproc = 2\n");
#if !defined(NASX_WITH_GLOO)
  // A build without Gloo refuses the sweep before any trial starts.
  for (const char* how : {" --dry-run", ""}) {
    const Outcome refused = run_nasx("sweep " + file + how);
    EXPECT_EQ(refused.exit_code, 1) << refused.output;
    EXPECT_THAT(refused.output, HasSubstr("this nasx is built without Gloo"));
  }
  EXPECT_FALSE(fs::exists(dir_ / "runs/s/000_seed0"));
  GTEST_SKIP() << "this nasx is built without Gloo: it runs no data-parallel trials";
#endif
  const Outcome dry = run_nasx("sweep " + file + " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr(" --nproc 2"));
  const Outcome run = run_nasx("sweep " + file);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(read(dir_ / "runs/s/000_seed0/log.txt"),
              ::testing::ContainsRegex(", 2 ranks \\([a-zA-Z ]+\\)\nrun folder: "));
  EXPECT_TRUE(fs::exists(dir_ / "runs/s/000_seed0/summary.json"));

  const Outcome sampling = run_nasx(
      "sweep " + sweep_file("nproc = 2\n\n[grid]\n\"search\" = [{strategy = \"random\"}]\n") +
      " --dry-run");
  EXPECT_EQ(sampling.exit_code, 1);
  EXPECT_THAT(sampling.output, HasSubstr("sweep.toml:4:9: trial 000_seed0: "
                                         "--nproc 2: strategy 'random' does not train a supernet"));
  const Outcome zero = run_nasx("sweep " + sweep_file("nproc = 0\n") + " --dry-run");
  EXPECT_THAT(zero.output, HasSubstr("sweep.toml:4:9: sweep.nproc must be an integer from 1"));
}

// The slurm executor against stand-in sbatch/squeue scripts (the real one-node cluster
// is tests/slurm/slurm_sweep.sh): what is submitted, how the queue reads back, and the
// array script run by hand as a task would run it.
class SlurmSweep : public Sweep {
 protected:
  void SetUp() override {
    Sweep::SetUp();
    fs::create_directories(dir_ / "bin");
    // sbatch keeps the script it was given and answers job 42; squeue prints queue.txt.
    write_tool("sbatch", "cp \"$2\" " + (dir_ / "submitted.sh").string() + "\necho '42;nasxtest'");
    write_tool("squeue", "cat " + (dir_ / "queue.txt").string() + " 2>/dev/null; exit 0");
    file_ = sweep_file(
        "seeds = 2\n\n[slurm]\npartition = \"cpu\"\ntime = \"00:30:00\"\ncpus = 1\nmem = \"1G\"\n"
        "extra = [\"--qos=short\"]\n");
  }
  void write_tool(const std::string& name, const std::string& body) {
    std::ofstream(dir_ / "bin" / name) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(dir_ / "bin" / name, fs::perms::owner_all);
  }
  std::string path_env() const { return "PATH=" + (dir_ / "bin").string() + ":/usr/bin:/bin"; }
  std::string status() {
    return run_nasx("sweep status " + (dir_ / "runs/s").string(), path_env()).output;
  }
  std::string file_;
};

TEST_F(SlurmSweep, SubmitsOneArrayWithTheSlurmTableAndReadsTheQueueBack) {
  const Outcome submit = run_nasx("sweep " + file_ + " --executor slurm", path_env());
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  EXPECT_THAT(submit.output, HasSubstr("submitted 2 trials as job array 42"));
  const std::string script = read(dir_ / "submitted.sh");
  for (const char* line :
       {"#SBATCH --job-name=nasx-s\n", "#SBATCH --array=0-1\n", "#SBATCH --partition=cpu\n",
        "#SBATCH --time=00:30:00\n", "#SBATCH --cpus-per-task=1\n", "#SBATCH --mem=1G\n",
        "#SBATCH --qos=short\n", "\n  000_seed0\n", "\n  001_seed1\n", " --trial "})
    EXPECT_THAT(script, HasSubstr(line));
  EXPECT_THAT(script, HasSubstr("#SBATCH --output=" + (dir_ / "runs/s/slurm/%A_%a.out").string()));
  EXPECT_THAT(read(dir_ / "runs/s/001_seed1/slurm.json"), HasSubstr("\"job\": \"42_1\""));
  EXPECT_FALSE(fs::exists(dir_ / "runs/s/001_seed1/config.toml")) << "a trial ran here";
  EXPECT_THAT(run_nasx("sweep status " + (dir_ / "runs/s").string(), "PATH=/nonexistent").output,
              HasSubstr("000_seed0  submitted (job 42_0; squeue unavailable here)"));

  // Pending and running tasks come from squeue; one gone from the queue without
  // having started its trial failed.
  std::ofstream(dir_ / "queue.txt") << "42_0|RUNNING\n42_1|PENDING\n";
  EXPECT_THAT(status(), HasSubstr("000_seed0  running (job 42_0)"));
  EXPECT_THAT(status(), HasSubstr("001_seed1  queued (job 42_1)"));
  // Both still in the queue: a second submission submits nothing.
  const Outcome twice = run_nasx("sweep " + file_ + " --executor slurm", path_env());
  EXPECT_THAT(twice.output, HasSubstr("2 still in the queue, 0 to submit"));

  // Task 1 as SLURM starts it: the script, with the array's variables set.
  std::ofstream(dir_ / "queue.txt") << "42_1|RUNNING\n";
  const Outcome task = testing::run_shell("cd " + dir_.string() +
                                          " && SLURM_ARRAY_JOB_ID=42 SLURM_ARRAY_TASK_ID=1 bash " +
                                          (dir_ / "submitted.sh").string());
  ASSERT_EQ(task.exit_code, 0) << task.output;
  EXPECT_THAT(task.output, HasSubstr("001_seed1: done"));
  const std::string record = read(dir_ / "runs/s/001_seed1/trial.json");
  EXPECT_THAT(record,
              HasSubstr("\"status\": \"done\", \"executor\": \"slurm\", \"job\": \"42_1\""));
  EXPECT_TRUE(fs::exists(dir_ / "runs/s/001_seed1/summary.json"));

  std::ofstream(dir_ / "queue.txt") << "";
  const std::string after = status();
  EXPECT_THAT(after, HasSubstr("000_seed0  failed (job 42_0 left the queue without starting"));
  EXPECT_THAT(after, HasSubstr("001_seed1  done"));
  // The re-submission takes only the trial that is not done.
  const Outcome again = run_nasx("sweep " + file_ + " --executor slurm", path_env());
  EXPECT_THAT(again.output, HasSubstr("1 already done, 0 still in the queue, 1 to submit"));
  EXPECT_THAT(read(dir_ / "submitted.sh"), HasSubstr("#SBATCH --array=0-0\n"));
  EXPECT_THAT(read(dir_ / "submitted.sh"), Not(HasSubstr("\n  001_seed1\n")));
  EXPECT_THAT(read(dir_ / "submitted.sh"), HasSubstr("\n  000_seed0\n"));
}

TEST_F(SlurmSweep, WithoutSlurmOrWithARefusedArrayItSaysSoAndRecordsNothing) {
  const Outcome no_slurm = run_nasx("sweep " + file_ + " --executor slurm", "PATH=/nonexistent");
  EXPECT_EQ(no_slurm.exit_code, 1);
  EXPECT_THAT(no_slurm.output, HasSubstr("--executor slurm: squeue cannot be run"));
  EXPECT_FALSE(fs::exists(dir_ / "runs/s"));

  write_tool("sbatch", "echo 'sbatch: error: invalid partition specified: cpu' >&2; exit 1");
  const Outcome refused = run_nasx("sweep " + file_ + " --executor slurm", path_env());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.output, HasSubstr("sbatch refused the job array"));
  EXPECT_THAT(refused.output, HasSubstr("invalid partition specified: cpu"));
  EXPECT_FALSE(fs::exists(dir_ / "runs/s/000_seed0/slurm.json"));

  const Outcome unknown = run_nasx("sweep " + file_ + " --trial 007_seed9");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.output, HasSubstr("has no trial '007_seed9'"));

  const Outcome executor = run_nasx("sweep " + file_ + " --executor pbs");
  EXPECT_THAT(executor.output, HasSubstr("--executor pbs: give local or slurm"));
}

}  // namespace nasx
