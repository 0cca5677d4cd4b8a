// Faults a careful user meets, each reproduced with the real executable: logs and
// checkpoints damaged between a kill and a resume, a kill after the last checkpoint,
// two writers on one folder, a sweep driver killed under its trials, a full disk,
// edited configs and foreign checkpoints, extreme numbers. Each ends in the identical
// result or in one clear error (exit 1), with nothing half-written.

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "core/tiny_config.hpp"
#include "nasx/core/run_lock.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using testing::count;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
using testing::run_shell;

/// summary.json without its wall-clock fields.
std::string summary_without_times(const std::string& summary) {
  return std::regex_replace(
      summary,
      std::regex(",? ?\"(search_seconds|finished|train_seconds|evaluation_seconds)\": [^,}]+"),
      "");
}

/// events.jsonl without the wall-clock fields, the start/end times and the resume
/// records (which only an interrupted run has).
std::string events_without_times(const std::string& events) {
  const std::string kept =
      std::regex_replace(events, std::regex("\\{\"type\": \"resume\"[^\\n]*\\n"), "");
  return std::regex_replace(kept, std::regex(", \"(seconds|time)\": (\"[^\"]*\"|[-0-9.e]+)"),
                            "");
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

class Faults : public testing::FolderTest {
 protected:
  /// The tiny config's file; `args` adds --set settings after it.
  std::string config(const std::string& extra = "") {
    const fs::path path = dir_ / "config.toml";
    write(path, testing::tiny_search_config(extra));
    return path.string();
  }

  /// A finished darts run of `epochs` steps in dir_/name.
  fs::path finished_run(const std::string& name, int epochs = 3,
                        const std::string& settings = "") {
    const fs::path run = dir_ / name;
    const Outcome outcome = run_nasx("run " + config() + " --set search.epochs=" +
                                     std::to_string(epochs) + " " + settings + " --out " +
                                     run.string());
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
    return run;
  }

  /// A copy of `run` as it is when killed after its last checkpoint and before the
  /// end of the run was written (the logs may hold more than the checkpoint records;
  /// a resume cuts them back).
  fs::path killed_after_last_checkpoint(const fs::path& run, const std::string& name) {
    const fs::path copy = dir_ / name;
    fs::copy(run, copy, fs::copy_options::recursive);
    fs::remove(copy / "summary.json");
    fs::remove(copy / "genotype.txt");
    return copy;
  }

  static void expect_no_temporaries(const fs::path& folder) {
    for (const auto& entry : fs::recursive_directory_iterator(folder))
      EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
  }
};

TEST_F(Faults, ResumeRefusesLogsCutOrEditedAfterTheCheckpointAndChangesNothing) {
  const fs::path run = finished_run("run");
  struct Damage {
    std::string file;
    std::string name;
    std::function<std::string(const std::string&)> apply;
    std::string message;
  };
  const std::vector<Damage> damages = {
      {"events.jsonl", "emptied", [](const std::string&) { return std::string(); },
       "was cut or removed after the checkpoint"},
      {"events.jsonl", "half line",
       [](const std::string& text) { return text.substr(0, text.size() / 2); },
       "was cut or removed after the checkpoint"},
      {"genotypes.jsonl", "truncated by one byte",
       [](const std::string& text) { return text.substr(0, text.size() - 1); },
       "was cut or removed after the checkpoint"},
      {"genotypes.jsonl", "a byte inserted",
       [](const std::string& text) { return "x" + text; }, "is not the end of a line"},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.file + " " + d.name);
    const fs::path copy = killed_after_last_checkpoint(run, "copy");
    const std::string damaged = d.apply(read(copy / d.file));
    write(copy / d.file, damaged);
    const Outcome resumed = run_nasx("resume " + copy.string());
    EXPECT_EQ(resumed.exit_code, 1) << resumed.output;
    EXPECT_THAT(resumed.output, HasSubstr(d.message));
    EXPECT_THAT(resumed.output, HasSubstr("Restore the file, or delete"));
    EXPECT_EQ(read(copy / d.file), damaged) << "the log was changed";
    EXPECT_EQ(read(copy / d.file).find('\0'), std::string::npos);
    EXPECT_FALSE(fs::exists(copy / "summary.json"));
    fs::remove_all(copy);
  }
}

TEST_F(Faults, KillAfterTheLastCheckpointResumesToTheCompleteIdenticalResult) {
  const fs::path reference = finished_run("reference");
  // At each moment of the end of a run: the kill points between the last checkpoint
  // and summary.json (the copy stands for a kill at any moment before the end events).
  for (const std::string point : {"copy", "answer_logged", "genotype_written"}) {
    SCOPED_TRACE(point);
    fs::path killed;
    if (point == "copy") {
      killed = killed_after_last_checkpoint(reference, "killed-" + point);
    } else {
      killed = dir_ / ("killed-" + point);
      const Outcome outcome =
          run_nasx("run " + config() + " --set search.epochs=3 --out " + killed.string(),
                   "NASX_KILL_AT=" + point);
      ASSERT_EQ(outcome.exit_code, 128 + SIGKILL) << outcome.output;
      ASSERT_FALSE(fs::exists(killed / "summary.json"));
    }
    const Outcome resumed = run_nasx("resume " + killed.string());
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_THAT(resumed.output, HasSubstr("all 3 steps are done; finishing the run"));
    EXPECT_THAT(resumed.output, Not(HasSubstr("step 4 of 3")));
    EXPECT_EQ(summary_without_times(read(killed / "summary.json")),
              summary_without_times(read(reference / "summary.json")));
    EXPECT_THAT(read(killed / "summary.json"), HasSubstr("\"train_acc\""));
    EXPECT_EQ(read(killed / "genotype.txt"), read(reference / "genotype.txt"));
    EXPECT_EQ(events_without_times(read(killed / "events.jsonl")),
              events_without_times(read(reference / "events.jsonl")));
    EXPECT_EQ(count(read(killed / "events.jsonl"), "\"type\": \"end\""), 1);
    EXPECT_EQ(count(read(killed / "events.jsonl"), "{\"type\": \"resume\", "), 1);
  }
}

TEST_F(Faults, OneFolderHasOneWriter) {
  const fs::path run = dir_ / "run";
  const pid_t first = testing::start_nasx(
      "run " + config() + " --set search.epochs=12 --out " + run.string(), (dir_ / "log").string());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < deadline && !fs::exists(run / "checkpoint/state.pt"))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fs::exists(run / "checkpoint/state.pt"));
  const Outcome resume = run_nasx("resume " + run.string());
  const Outcome again = run_nasx("run " + config() + " --out " + run.string());
  const bool first_still_running = ::waitpid(first, nullptr, WNOHANG) == 0;
  EXPECT_EQ(testing::wait_for(first), 0) << read(dir_ / "log");
  ASSERT_TRUE(first_still_running) << "the first run ended before the second writer came";
  EXPECT_EQ(resume.exit_code, 1) << resume.output;
  EXPECT_THAT(resume.output, HasSubstr(run.string() + " is in use: process "));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_THAT(again.output, HasSubstr("is in use"));
  const std::string events = read(run / "events.jsonl");
  EXPECT_EQ(count(events, "\"type\": \"step\""), 12);
  EXPECT_EQ(count(events, "\"type\": \"end\""), 1);
  EXPECT_EQ(count(events, "\"type\": \"start\""), 1);
}

TEST_F(Faults, TrialsStopWithTheirKilledSweepDriverAndTheSweepResumesThem) {
  config();
  write(dir_ / "sweep.toml", "[sweep]\nname = \"s\"\nbase = \"config.toml\"\noutput_dir = \"" +
                                 (dir_ / "out").string() +
                                 "\"\nseeds = [1]\n\n[grid]\n\"search.epochs\" = [14]\n");
  const pid_t driver =
      testing::start_nasx("sweep " + (dir_ / "sweep.toml").string(), (dir_ / "log").string());
  fs::path trial;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < deadline && trial.empty()) {
    std::error_code error;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / "out", error))
      if (entry.path().filename() == "state.pt") trial = entry.path().parent_path().parent_path();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(trial.empty()) << read(dir_ / "log");
  ::kill(driver, SIGKILL);
  testing::wait_for(driver);
  // The trial received SIGTERM with its driver's death and stops at its next step.
  const auto stop_deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (std::chrono::steady_clock::now() < stop_deadline && core::RunLock::holder(trial))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(core::RunLock::holder(trial).has_value()) << "the trial outlived its driver";
  EXPECT_FALSE(fs::exists(trial / "summary.json"));

  const Outcome again = run_nasx("sweep " + (dir_ / "sweep.toml").string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const std::string events = read(trial / "events.jsonl");
  EXPECT_EQ(count(events, "\"type\": \"step\""), 14);
  EXPECT_EQ(count(events, "\"type\": \"end\""), 1);
}

TEST_F(Faults, AFullDiskFailsWithOneErrorAndKeepsTheLastGoodCheckpoint) {
  const fs::path reference = finished_run("reference", 3);
  const fs::path run = dir_ / "run";
  const std::string cfg = config() + " --set search.epochs=3 --out " + run.string();
  ASSERT_EQ(run_nasx("run " + cfg, "NASX_KILL_AT=checkpoint:1").exit_code, 128 + SIGKILL);
  const std::string good = read(run / "checkpoint/state.pt");
  // A file size limit below the checkpoint's size: every write past it fails (EFBIG),
  // as on a full disk.
  const auto limit_kb = fs::file_size(run / "checkpoint/state.pt") / 1024 / 2;
  const Outcome full = run_shell("ulimit -f " + std::to_string(limit_kb) + "; " + testing::kNasx +
                                 " resume " + run.string());
  EXPECT_EQ(full.exit_code, 1) << full.output;
  EXPECT_THAT(full.output, HasSubstr("File too large"));
  EXPECT_THAT(full.output, Not(HasSubstr("terminate called")));
  EXPECT_EQ(count(full.output, "nasx: error: "), 1) << full.output;
  expect_no_temporaries(run);
  EXPECT_EQ(read(run / "checkpoint/state.pt"), good);
  // No space at all: a new run fails at its first write, before any step is spent.
  const fs::path none = dir_ / "none";
  const Outcome empty = run_shell("ulimit -f 0; " + testing::kNasx + " run " + config() +
                                  " --out " + none.string());
  EXPECT_EQ(empty.exit_code, 1) << empty.output;
  EXPECT_THAT(empty.output, HasSubstr("File too large"));
  EXPECT_THAT(empty.output, Not(HasSubstr("step 1/")));
  expect_no_temporaries(none);
  // Space again: the run resumes to the result it would have had.
  const Outcome resumed = run_nasx("resume " + run.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(summary_without_times(read(run / "summary.json")),
            summary_without_times(read(reference / "summary.json")));
}

TEST_F(Faults, DamagedForeignOrReconfiguredCheckpointsAreRefusedNamingWhy) {
  const fs::path run = finished_run("run", 3);
  const auto damage_and_resume = [&](const std::string& name, auto&& damage) {
    const fs::path copy = killed_after_last_checkpoint(run, name);
    std::string bytes = read(copy / "checkpoint/state.pt");
    damage(bytes);
    write(copy / "checkpoint/state.pt", bytes);
    return run_nasx("resume " + copy.string());
  };
  const Outcome flipped = damage_and_resume("flipped", [](std::string& b) { b[b.size() / 2] ^= 1; });
  EXPECT_EQ(flipped.exit_code, 1) << flipped.output;
  EXPECT_THAT(flipped.output, HasSubstr("checksum does not match"));
  const Outcome overwritten = damage_and_resume(
      "overwritten", [](std::string& b) { b.replace(b.size() / 2, 16, std::string(16, 'A')); });
  EXPECT_EQ(overwritten.exit_code, 1) << overwritten.output;
  EXPECT_THAT(overwritten.output, HasSubstr("checksum does not match"));

  // Another seed's checkpoint in this folder.
  const fs::path other = finished_run("other", 3, "--set experiment.seed=6");
  const fs::path foreign = killed_after_last_checkpoint(run, "foreign");
  fs::copy_file(other / "checkpoint/state.pt", foreign / "checkpoint/state.pt",
                fs::copy_options::overwrite_existing);
  const Outcome refused = run_nasx("resume " + foreign.string());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("experiment.seed: 6 -> 5"));
  EXPECT_THAT(refused.output, HasSubstr("--accept-config-change"));

  // An edited config.toml: refused, naming the key; accepted on request.
  const fs::path edited = killed_after_last_checkpoint(run, "edited");
  const std::string text = read(edited / "config.toml");
  write(edited / "config.toml", std::regex_replace(text, std::regex("epochs = 3"), "epochs = 1"));
  const Outcome changed = run_nasx("resume " + edited.string());
  EXPECT_EQ(changed.exit_code, 1) << changed.output;
  EXPECT_THAT(changed.output, HasSubstr("search.epochs: 3 -> 1"));
  EXPECT_FALSE(fs::exists(edited / "summary.json"));
  // A change of shape is named as well, before the supernet's weights fail to fit.
  const fs::path reshaped = killed_after_last_checkpoint(run, "reshaped");
  write(reshaped / "config.toml",
        std::regex_replace(read(reshaped / "config.toml"), std::regex("channels = 4"),
                           "channels = 6"));
  const Outcome wider = run_nasx("resume " + reshaped.string());
  EXPECT_EQ(wider.exit_code, 1) << wider.output;
  EXPECT_THAT(wider.output, HasSubstr("space.channels: 4 -> 6"));
  const Outcome accepted = run_nasx("resume " + edited.string() + " --accept-config-change");
  EXPECT_EQ(accepted.exit_code, 0) << accepted.output;
  EXPECT_THAT(accepted.output, HasSubstr("accepting a changed configuration"));
}

TEST_F(Faults, ExtremeNumbersAndSizesAreClearErrorsNeverInternalOnes) {
  const std::string cfg = config();
  const std::string nb201 = "'|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|'";
  const std::string darts_arch =
      "'Genotype(normal=[(\"sep_conv_3x3\", 0), (\"sep_conv_3x3\", 1), (\"skip_connect\", 0), "
      "(\"sep_conv_3x3\", 1), (\"skip_connect\", 0), (\"sep_conv_3x3\", 1), (\"sep_conv_3x3\", "
      "0), (\"skip_connect\", 2)], normal_concat=[2, 3, 4, 5], reduce=[(\"max_pool_3x3\", 0), "
      "(\"max_pool_3x3\", 1), (\"skip_connect\", 2), (\"max_pool_3x3\", 0), (\"max_pool_3x3\", 0), "
      "(\"skip_connect\", 2), (\"skip_connect\", 2), (\"avg_pool_3x3\", 0)], reduce_concat=[2, 3, "
      "4, 5])'";
  struct Case {
    std::string args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"validate " + cfg + " --set search.w_lr=1e-310", 0, ": valid"},
      {"validate " + cfg + " --set search.w_lr=4.9e-324", 0, ": valid"},
      {"validate " + cfg + " --set data.test_subset=4294967296", 1, "data.test_subset"},
      {"run " + cfg + " --set data.test_subset=5000 --out " + (dir_ / "o").string(), 1,
       "more than the 128 test images"},
      {"arch '|nor_conv_3x3~99999999999|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|'",
       1, "cannot take input from node 99999999999"},
      {"arch " + nb201 + " --channels 100000", 1, "--channels must be 1 to 4096"},
      {"arch " + nb201 + " --image-size 100000", 1, "--image-size 8 to 1024"},
      {"arch " + nb201 + " --layers 100000", 1, "--layers 1 to 256"},
      {"arch " + darts_arch + " --layers 100000", 1, "--layers 1 to 256"},
      {"arch " + darts_arch + " --channels 4096", 1, "GB of memory as float32"},
      {"validate " + dir_.string(), 1, "is a folder, not a config file"},
      {"validate /dev/null", 1, "is not a regular file"},
  };
  for (const Case& c : cases) {
    const Outcome outcome = run_nasx(c.args);
    EXPECT_EQ(outcome.exit_code, c.exit_code) << c.args << "\n" << outcome.output;
    EXPECT_THAT(outcome.output, HasSubstr(c.message)) << c.args;
    EXPECT_THAT(outcome.output, Not(HasSubstr("internal error"))) << c.args;
  }
  EXPECT_FALSE(fs::exists(dir_ / "o"));
}

TEST_F(Faults, RunNamesItsFolderOnceItExistsAndResumeExplainsAMissingOne) {
  const fs::path run = dir_ / "run";
  const Outcome outcome =
      run_nasx("run " + config() + " --set search.epochs=1 --out " + run.string());
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("run folder: " + run.string()));
  const Outcome missing = run_nasx("resume " + (dir_ / "never").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("nothing to resume"));
  // A sweep axis value keeps its exponent's sign in the trial's folder name.
  write(dir_ / "sweep.toml", "[sweep]\nname = \"s\"\nbase = \"config.toml\"\noutput_dir = \"" +
                                 (dir_ / "out").string() +
                                 "\"\nseeds = [1]\n\n[grid]\n\"search.w_lr\" = [1e30, 1e-30]\n");
  const Outcome listed = run_nasx("sweep " + (dir_ / "sweep.toml").string() + " --dry-run");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("w_lr-1e30"));
  EXPECT_THAT(listed.output, HasSubstr("w_lr-1e-30"));
}

}  // namespace
}  // namespace nasx
