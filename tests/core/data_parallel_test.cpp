// Data-parallel search through the binary: `nasx run --nproc 2` (two real rank processes
// over Gloo) against one process on the whole batch, compared tensor by tensor in the
// checkpoints both leave.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>

#include "core/nasx_process.hpp"
#include "nasx/core/checkpoint.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"
#include "support/spaces.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
namespace fs = std::filesystem;

/// A search config in a folder of its own, and what the tests read of its runs.
class RankLaunch : public testing::FolderTest {
 protected:
  void SetUp() override {
    FolderTest::SetUp();
    config_ = (dir_ / "config.toml").string();
    write_config("darts", 4);
  }

  /// A DARTS (or NB201) search of 3 steps on synthetic data; batch 32 splits over 2 ranks.
  void write_config(const std::string& space, int64_t layers, const std::string& more = "",
                    const std::string& memory_format = "channels_last") {
    std::ofstream(config_) << "[experiment]\nname = \"dp\"\nseed = 3\nthreads = 1\n\n"
                           << "[data]\nname = \"synthetic\"\nsynthetic_train = 192\n"
                           << "synthetic_test = 64\nsynthetic_image_size = 8\n"
                           << "synthetic_classes = 4\nbatch_size = 32\n\n"
                           << "[space]\nname = \"" << space
                           << "\"\nchannels = 4\nlayers = " << layers << "\nmemory_format = \""
                           << memory_format << "\"\n\n"
                           << "[search]\nstrategy = \"darts\"\nepochs = 1\nsteps_per_epoch = 3\n"
                           << more;
  }

  /// The supernet's weights, alphas and BatchNorm statistics in a run's checkpoint.
  std::map<std::string, at::Tensor> checkpointed(const fs::path& run, const std::string& space,
                                                 int64_t layers) {
    SpaceOptions options;
    options.channels = 4;
    options.layers = layers;
    auto net = testing::make_space(space, options)->build_supernet(DataShape{1, 8, 8, 4});
    torch::serialize::InputArchive root, archive;
    core::read_checkpoint_archive(run / "checkpoint" / "state.pt", root, "");
    root.read("supernet", archive);
    net->load(archive);
    std::map<std::string, at::Tensor> tensors;
    for (const auto& p : net->named_parameters()) tensors[p.key()] = p.value().detach().clone();
    for (const auto& b : net->named_buffers()) tensors[b.key()] = b.value().detach().clone();
    return tensors;
  }

  /// The largest |a − b| over every tensor of two checkpoints, and which tensor.
  static std::pair<double, std::string> largest_difference(
      const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b,
      const std::string& only = "") {
    double largest = 0;
    std::string where;
    for (const auto& [name, tensor] : a) {
      if (!only.empty() && name.find(only) == std::string::npos) continue;
      const double d =
          (tensor.to(at::kDouble) - b.at(name).to(at::kDouble)).abs().max().item<double>();
      if (d > largest) {
        largest = d;
        where = name;
      }
    }
    return {largest, where};
  }

  std::string config_;
};

/// Runs on data-parallel ranks: only where nasx is built with Gloo.
class DataParallel : public RankLaunch {
 protected:
  void SetUp() override {
    RankLaunch::SetUp();
#if !defined(NASX_WITH_GLOO)
    GTEST_SKIP() << "this nasx is built without Gloo: it runs no data-parallel ranks";
#endif
  }
};

TEST_F(DataParallel, TwoRanksWithSyncBatchNormMatchOneRankOnTheWholeBatch) {
  // In the NCHW layout, where the two computations agree to rounding (2.8e-6 on the
  // alphas after three Adam steps; 2.4e-7 with the earlier composite sync layer). In
  // channels-last they differ by ~1e-4 after three steps (the NHWC kernels at batch 16
  // and 32; not yet pinned down), which this bound could not tell from a sync error.
  write_config("darts", 4, "", "contiguous");
  const Outcome one = run_nasx("run " + config_ + " --out " + (dir_ / "one").string());
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const Outcome two =
      run_nasx("run " + config_ + " --nproc 2 --set experiment.sync_batchnorm=true --out " +
               (dir_ / "two").string());
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_THAT(two.output, HasSubstr("2 ranks"));
  // Rank 0 alone wrote the folder and printed the answer, once.
  EXPECT_EQ(testing::count(two.output, "found genotype"), 1) << two.output;
  EXPECT_EQ(testing::count(read(dir_ / "two/events.jsonl"), "\"type\": \"step\""), 1);

  const auto a = checkpointed(dir_ / "one", "darts", 4), b = checkpointed(dir_ / "two", "darts", 4);
  ASSERT_EQ(a.size(), b.size());
  const auto [alpha_diff, alpha_name] = largest_difference(a, b, "alpha");
  const auto [all_diff, all_name] = largest_difference(a, b);
  EXPECT_LT(alpha_diff, 2e-5) << alpha_name;
  EXPECT_LT(all_diff, 2e-5) << all_name;  // weights, alphas, running statistics
  std::cout << "largest |1 rank - 2 ranks| over the checkpoint: " << all_diff << " (" << all_name
            << "), alphas " << alpha_diff << "\n";
}

TEST_F(DataParallel, SharedMemoryAndGlooGiveBitwiseTheSameRun) {
  // Two ranks sum a + b either way (addition commutes exactly), so the transports must
  // leave identical checkpoints: synchronized BatchNorm's ~800 collectives a step and the
  // gradients all go through shared memory in one, over Gloo in the other.
  const std::string run =
      "run " + config_ + " --nproc 2 --set experiment.sync_batchnorm=true --out ";
  const Outcome shared = run_nasx(run + (dir_ / "shared").string());
  ASSERT_EQ(shared.exit_code, 0) << shared.output;
  EXPECT_THAT(shared.output, HasSubstr("2 ranks (shared memory)"));
  const Outcome gloo = run_nasx(run + (dir_ / "gloo").string(), "NASX_SHARED_MEMORY=0");
  ASSERT_EQ(gloo.exit_code, 0) << gloo.output;
  EXPECT_THAT(gloo.output, HasSubstr("2 ranks (Gloo)"));
  const auto a = checkpointed(dir_ / "shared", "darts", 4);
  const auto b = checkpointed(dir_ / "gloo", "darts", 4);
  const auto [diff, name] = largest_difference(a, b);
  EXPECT_EQ(diff, 0.0) << name;
}

TEST_F(DataParallel, PerRankBatchNormIsADifferentFunctionOfTheBatch) {
  // Without synchronized statistics each rank normalises its own half: the same steps
  // give other weights. (What the equivalence test above would catch if sync were off.)
  ASSERT_EQ(run_nasx("run " + config_ + " --out " + (dir_ / "one").string()).exit_code, 0);
  const Outcome two = run_nasx("run " + config_ + " --nproc 2 --out " + (dir_ / "two").string());
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const auto a = checkpointed(dir_ / "one", "darts", 4), b = checkpointed(dir_ / "two", "darts", 4);
  const auto [diff, name] = largest_difference(a, b);
  EXPECT_GT(diff, 1e-3);
  std::cout << "largest |1 rank - 2 ranks, per-rank BatchNorm|: " << diff << " (" << name << ")\n";
}

TEST_F(DataParallel, SecondOrderAndNb201AlsoMatchWithSyncBatchNorm) {
  write_config("nb201", 1, "order = \"second\"\n");
  ASSERT_EQ(run_nasx("run " + config_ + " --out " + (dir_ / "one").string()).exit_code, 0);
  const Outcome two =
      run_nasx("run " + config_ + " --nproc 2 --set experiment.sync_batchnorm=true --out " +
               (dir_ / "two").string());
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const auto a = checkpointed(dir_ / "one", "nb201", 1), b = checkpointed(dir_ / "two", "nb201", 1);
  const auto [diff, name] = largest_difference(a, b);
  EXPECT_LT(diff, 2e-5) << name;
  std::cout << "largest |1 rank - 2 ranks| (NB201, second order): " << diff << " (" << name
            << ")\n";
}

/// Whether a process whose command line mentions `text` is still alive.
bool process_mentioning(const std::string& text) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos && cmdline.find("nasx") != std::string::npos)
      return true;
  }
  return false;
}

TEST_F(DataParallel, AKilledLaunchResumesOnTwoRanksToTheUninterruptedResult) {
  const std::string run = "run " + config_ + " --nproc 2 --set search.epochs=6 --out ";
  const Outcome full = run_nasx(run + (dir_ / "full").string());
  ASSERT_EQ(full.exit_code, 0) << full.output;

  // SIGKILL the launcher after two steps: its ranks get SIGTERM (parent-death signal),
  // agree to stop and leave the checkpoint of the last finished step.
  const fs::path part = dir_ / "part";
  ASSERT_TRUE(testing::run_and_kill_when(run + part.string(), [&] {
    return read(part / "events.jsonl").find("\"type\": \"step\", \"step\": 2,") !=
           std::string::npos;
  }));
  for (int i = 0; i < 600 && process_mentioning(part.string()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(process_mentioning(part.string())) << "a rank outlived its launcher";
  EXPECT_FALSE(fs::exists(part / "summary.json"));

  const Outcome resumed = run_nasx("resume " + part.string() + " --nproc 2");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("resuming"));
  EXPECT_EQ(testing::count(read(part / "events.jsonl"), "\"type\": \"step\""), 6);
  const auto a = checkpointed(dir_ / "full", "darts", 4), b = checkpointed(part, "darts", 4);
  const auto [diff, name] = largest_difference(a, b);
  EXPECT_EQ(diff, 0) << name;
  EXPECT_EQ(read(part / "genotype.txt"), read(dir_ / "full/genotype.txt"));
}

TEST_F(DataParallel, WhatCannotBeSplitIsRefusedBeforeAnyRankStarts) {
  const Outcome odd = run_nasx("run " + config_ + " --nproc 3 --out " + (dir_ / "odd").string());
  EXPECT_EQ(odd.exit_code, 1);
  EXPECT_THAT(odd.output, HasSubstr("data.batch_size = 32 does not split over 3 ranks"));
  std::string sampling_config = read(config_);
  sampling_config = sampling_config.substr(0, sampling_config.find("[search]")) +
                    "[search]\nstrategy = \"random\"\n";
  std::ofstream(dir_ / "random.toml") << sampling_config;
  const Outcome sampling = run_nasx("run " + (dir_ / "random.toml").string() + " --nproc 2 --out " +
                                    (dir_ / "random").string());
  EXPECT_EQ(sampling.exit_code, 1);
  EXPECT_THAT(sampling.output, HasSubstr("does not train a supernet by gradient"));
  EXPECT_FALSE(fs::exists(dir_ / "odd/summary.json"));
  const Outcome env = run_nasx("run " + config_, "RANK=1 WORLD_SIZE=2");
  EXPECT_EQ(env.exit_code, 1);
  EXPECT_THAT(env.output, HasSubstr("needs MASTER_ADDR and MASTER_PORT"));
}

#if !defined(NASX_WITH_GLOO)
// Without Gloo's headers (a pip LibTorch, -DNASX_GLOO=OFF) nasx builds, and --nproc says
// why it cannot run and what to do, before any rank starts and without a run folder.
TEST_F(RankLaunch, ABuildWithoutGlooRefusesRanksAndSaysWhatToDo) {
  const Outcome two = run_nasx("run " + config_ + " --nproc 2 --out " + (dir_ / "two").string());
  EXPECT_EQ(two.exit_code, 1) << two.output;
  EXPECT_THAT(two.output, HasSubstr("this nasx is built without Gloo"));
  EXPECT_THAT(two.output, HasSubstr("run without --nproc"));
  EXPECT_FALSE(fs::exists(dir_ / "two" / "summary.json"));
}
#endif

}  // namespace
}  // namespace nasx
