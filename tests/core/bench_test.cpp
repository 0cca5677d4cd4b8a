// nasx bench as a user runs it: every --what at a tiny size, each nasx contender in its
// own process, alternating with a baseline, and the speed-ups computed from the rounds
// it printed. The baselines here are stand-in scripts (run by /bin/sh through --python)
// that print figures the way the reference scripts do and record how they were called;
// no timing is asserted.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/Context.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nasx_process.hpp"

namespace nasx::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

/// The number of operator rows in each profile table of `output`: the lines between a
/// table's header ("operator ... calls") and its "all operators" total.
std::vector<int> profile_table_rows(const std::string& output) {
  std::vector<int> rows;
  std::istringstream lines(output);
  std::string line;
  int counting = -1;  // -1: outside a table
  while (std::getline(lines, line)) {
    if (line.rfind("operator ", 0) == 0 && line.find("calls") != std::string::npos) {
      counting = 0;
    } else if (counting >= 0 && line.rfind("all operators", 0) == 0) {
      rows.push_back(counting);
      counting = -1;
    } else if (counting >= 0) {
      ++counting;
    }
  }
  return rows;
}

class Bench : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nasx_bench_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// A stand-in baseline: records its arguments, prints `figures` as its last line.
  void baseline(const std::string& script, const std::string& figures, int exit_code = 0) {
    std::ofstream(dir_ / script) << "echo \"$@\" >> " << (dir_ / "calls.txt").string()
                                 << "\necho 'reference " << figures << "'\nexit " << exit_code
                                 << "\n";
  }

  std::vector<std::string> calls() const {
    std::ifstream in(dir_ / "calls.txt");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  fs::path dir_;
};

/// The numbers of the table row that starts with `label`.
std::vector<double> row(const std::string& output, const std::string& label) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string first;
    if (!(words >> first) || first != label) continue;
    std::vector<double> values;
    for (double v; words >> v;) values.push_back(v);
    return values;
  }
  return {};
}

constexpr const char* kTinyStep =
    "bench --what step --order first --channels 2 --layers 3 --batch 4 --image-size 8 "
    "--steps 1 --warmup 0 --threads 1";

TEST_F(Bench, StepAlternatesNasxWithBothLayoutsOfTheReferenceAndDividesRoundByRound) {
  baseline("ref_darts_step.py", "median_s=2.5 min_s=2.0 peak_rss_mib=3000");
  const Outcome out = run_nasx(std::string(kTinyStep) + " --rounds 2 --baseline " + dir_.string() +
                               " --python /bin/sh");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_THAT(out.output, HasSubstr("search step, first order"));
  EXPECT_THAT(out.output, HasSubstr("reference contiguous"));
  EXPECT_THAT(out.output, HasSubstr("reference channels-last"));
  // Two rounds of the reference in each layout, called with this bench's sizes.
  const auto lines = calls();
  ASSERT_EQ(lines.size(), 4u);
  int channels_last = 0;
  for (const auto& line : lines) {
    EXPECT_THAT(line, HasSubstr("--C 2 --layers 3 --batch 4 --size 8 --in-ch 1 --threads 1"));
    EXPECT_THAT(line, HasSubstr("--order 1"));
    channels_last += line.find("--channels-last") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(channels_last, 2);
  // Round rows: nasx's own measurement, then the reference's 2.5 in both layouts.
  const auto first = row(out.output, "1"), second = row(out.output, "2");
  ASSERT_EQ(first.size(), 3u) << out.output;
  ASSERT_EQ(second.size(), 3u) << out.output;
  EXPECT_DOUBLE_EQ(first[1], 2.5);
  EXPECT_GT(first[0], 0.0);
  // The speed-up is the median of the rounds' ratios: (2.5/a + 2.5/b) / 2.
  const std::regex speedup(
      "nasx channels_last over reference contiguous: speed-up ([0-9.]+)x \\(rounds: ([0-9.]+), "
      "([0-9.]+)\\), peak memory ([0-9.]+)x");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out.output, m, speedup)) << out.output;
  EXPECT_NEAR(std::stod(m[2]), 2.5 / first[0], 0.01 * 2.5 / first[0] + 0.01);
  EXPECT_NEAR(std::stod(m[3]), 2.5 / second[0], 0.01 * 2.5 / second[0] + 0.01);
  EXPECT_NEAR(std::stod(m[1]), 0.5 * (std::stod(m[2]) + std::stod(m[3])), 0.011);
  // Peaks: nasx's resident memory over the reference's 3,000 MiB.
  EXPECT_GT(std::stod(m[4]), 0.0);
  EXPECT_LT(std::stod(m[4]), 1.0);
}

TEST_F(Bench, ABaselineThatFailsOrIsMissingIsOneErrorWithItsOutput) {
  baseline("ref_darts_step.py", "Traceback: no module named torch", 1);
  const Outcome failed =
      run_nasx(std::string(kTinyStep) + " --baseline " + dir_.string() + " --python /bin/sh");
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_THAT(failed.output, HasSubstr("the baseline ref_darts_step.py failed (exit 1)"));
  EXPECT_THAT(failed.output, HasSubstr("no module named torch"));
  const Outcome missing = run_nasx(std::string(kTinyStep) + " --baseline " +
                                   (dir_ / "nowhere").string() + " --python /bin/sh");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("no baseline " + (dir_ / "nowhere").string()));
  const Outcome no_python = run_nasx(std::string(kTinyStep) + " --baseline " + dir_.string() +
                                     " --python /nonexistent/python3");
  EXPECT_EQ(no_python.exit_code, 1);
  EXPECT_THAT(no_python.output, HasSubstr("cannot run the baseline ref_darts_step.py"));
}

TEST_F(Bench, TrainEvaluateAndNaswotRunAgainstTheirBaselines) {
  baseline("ref_train_step.py", "median_s=1.0 min_s=0.9");
  baseline("ref_naswot_score.py", "median_s=3.0");
  const std::string common =
      " --steps 1 --warmup 0 --rounds 1 --threads 1 --image-size 8 "
      "--baseline " +
      dir_.string() + " --python /bin/sh";
  // DARTS_V2 at a tiny size: the step, the trainer's epoch per step against the steps'
  // mean, the reference; profiled by input shapes, the epoch too, time and memory.
  const Outcome train = run_nasx(
      "bench --what train --channels 4 --layers 3 --batch 4 --drop-path 0.1 --profile "
      "--profile-memory --profile-shapes" +
      common);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_THAT(train.output, HasSubstr("nasx step over reference channels-last: speed-up"));
  EXPECT_THAT(train.output, HasSubstr("nasx epoch, per step over reference contiguous"));
  EXPECT_THAT(train.output, HasSubstr("nasx epoch, per step against nasx steps, mean: "));
  EXPECT_THAT(train.output, HasSubstr("x the time (rounds: "));
  EXPECT_THAT(train.output, HasSubstr("nasx step (train-step), profiled:"));
  EXPECT_THAT(train.output, HasSubstr("nasx epoch, per step (train-epoch), profiled:"));
  EXPECT_THAT(train.output, Not(HasSubstr("nasx steps, mean (train-step), profiled:")));
  // Operators by input: a convolution of the batch of 4, its layout marked.
  EXPECT_THAT(train.output, HasSubstr("_convolution [4,"));
  EXPECT_THAT(train.output, HasSubstr("]cl"));
  // The memory profile of the step and of the epoch, its rows by shapes too.
  const std::regex memory_header(
      "tensors live at the peak of tensor memory, by the operator "
      "that allocated them: [0-9.]+ MiB \\([0-9]+ allocations");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(train.output.begin(), train.output.end(), memory_header),
                    std::sregex_iterator()),
      2)
      << train.output;
  EXPECT_THAT(train.output, HasSubstr("at that peak: resident "));
  // Each profile a run of its own, so the memory profile's bookkeeping is not timed.
  EXPECT_THAT(train.output, HasSubstr("nasx step (train-step), memory profiled:"));
  EXPECT_THAT(train.output, HasSubstr("nasx epoch, per step (train-epoch), memory profiled:"));
  const size_t memory_table = train.output.find("at that peak: resident ");
  ASSERT_NE(memory_table, std::string::npos);
  const std::string memory_rows = train.output.substr(
      memory_table, train.output.find("median_s=", memory_table) - memory_table);
  EXPECT_TRUE(std::regex_search(
      memory_rows, std::regex("\naten::[a-z_]+ \\[4,[^\n]* +[0-9]+ +[0-9.]+ +[0-9.]+\n")))
      << memory_rows;
  // Another architecture has no reference: nasx alone, and it says why.
  const Outcome other = run_nasx(
      "bench --what train --channels 4 --layers 3 --batch 4 --arch "
      "\"Genotype(normal=[('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), "
      "('skip_connect', 1), ('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 0), "
      "('skip_connect', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
      "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
      "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('max_pool_3x3', 1)], "
      "reduce_concat=range(2, 6))\"" +
      common);
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_THAT(other.output, Not(HasSubstr("reference contiguous")));
  EXPECT_THAT(other.output, HasSubstr("the reference training step is DARTS_V2"));
  const auto train_calls = calls();
  ASSERT_EQ(train_calls.size(), 2u);
  EXPECT_THAT(train_calls[0], HasSubstr("--C 4 --layers 3 --batch 4 --size 8 --in-ch 1"));
  EXPECT_THAT(train_calls[0], HasSubstr("--drop-path 0.1"));
  fs::remove(dir_ / "calls.txt");
  // Shared-weight evaluation: the children together and the one-hot mixture against the
  // single path one by one, profiled; 16 sampled children of a large space.
  const Outcome evaluate = run_nasx(
      "bench --what evaluate --channels 2 --layers 3 --batch 4 --profile --profile-rows 3" +
      common);
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.output;
  EXPECT_THAT(evaluate.output, HasSubstr("children: 16 "));
  EXPECT_THAT(evaluate.output, HasSubstr("nasx together over nasx one by one: speed-up"));
  EXPECT_THAT(evaluate.output, HasSubstr("nasx one-hot over nasx one by one: speed-up"));
  EXPECT_THAT(evaluate.output, HasSubstr("operators by self time"));
  EXPECT_THAT(evaluate.output, HasSubstr("aten::"));
  // --profile-rows: every table lists that many operators before its total.
  const std::vector<int> rows = profile_table_rows(evaluate.output);
  ASSERT_FALSE(rows.empty()) << evaluate.output;
  for (int count : rows) EXPECT_EQ(count, 3) << evaluate.output;
  // Every child of a space of 64; --arch names them instead.
  const Outcome all = run_nasx(
      "bench --what evaluate --space ws64 --channels 2 --layers 1 "
      "--batch 4" +
      common);
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_THAT(all.output, HasSubstr("children: 64 "));
  const Outcome named = run_nasx(
      "bench --what evaluate --space ws64 --channels 2 --layers 1 "
      "--batch 4 --arch 111 --arch 424" +
      common);
  ASSERT_EQ(named.exit_code, 0) << named.output;
  EXPECT_THAT(named.output, HasSubstr("children: 2 "));
  // NASWOT: the reference scores the same sampled NB201 cells at C=16, N=5.
  const Outcome naswot = run_nasx("bench --what naswot --batch 4" + common);
  ASSERT_EQ(naswot.exit_code, 0) << naswot.output;
  EXPECT_THAT(naswot.output, HasSubstr("nasx over reference: speed-up"));
  const auto naswot_calls = calls();
  ASSERT_EQ(naswot_calls.size(), 1u);
  const std::regex arch("--arch \\|[a-z_0-9]+~0\\|");
  EXPECT_TRUE(std::regex_search(naswot_calls[0], arch)) << naswot_calls[0];
}

// NB-201's training step against nasx's own baseline script (share/nasx), which runs the
// reference TinyNetwork from the baseline folder: here a stand-in reference package (a
// one-convolution network that records the cell it was given), run by real python3-torch.
TEST_F(Bench, Nb201TrainRunsTheReferenceTinyNetworkOfTheBaselineFolder) {
  ASSERT_EQ(run_shell("/usr/bin/python3 -c 'import torch'").exit_code, 0)
      << "python3-torch is not installed: tools/setup --tests installs it";
  const fs::path models = dir_ / "ref-naswot" / "models";
  fs::create_directories(models / "cell_infers");
  fs::create_directories(models / "cell_searchs");
  for (const fs::path& package : {models, models / "cell_infers", models / "cell_searchs"})
    std::ofstream(package / "__init__.py");
  std::ofstream(models / "cell_searchs" / "genotypes.py") << "class Structure:\n"
                                                             "    @staticmethod\n"
                                                             "    def str2structure(text):\n"
                                                             "        return text\n";
  std::ofstream(models / "cell_infers" / "tiny_network.py")
      << "import torch.nn as nn\n"
         "class TinyNetwork(nn.Module):\n"
         "    def __init__(self, C, N, genotype, num_classes):\n"
         "        super().__init__()\n"
         "        open('"
      << (dir_ / "calls.txt").string()
      << "', 'a').write(\n"
         "            f'C={C} N={N} classes={num_classes} {genotype}\\n')\n"
         "        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1), nn.BatchNorm2d(C))\n"
         "        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
         "                                  nn.Linear(C, num_classes))\n"
         "    def forward(self, x):\n"
         "        out = self.stem(x)\n"
         "        return out, self.head(out)\n";
  const std::string cell =
      "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|"
      "nor_conv_1x1~1|skip_connect~2|";
  const Outcome out = run_nasx(
      "bench --what train --space nb201 --channels 4 --layers 1 "
      "--batch 4 --image-size 8 --steps 1 --warmup 0 --rounds 1 "
      "--threads 1 --arch '" +
      cell + "' --baseline " + dir_.string() + " --python /usr/bin/python3");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_THAT(out.output, HasSubstr("nasx step over reference channels-last: speed-up"));
  EXPECT_THAT(out.output, HasSubstr("nasx step over reference contiguous: speed-up"));
  const auto built = calls();
  // Both precisions: the bfloat16 step is a contender of its own, set against float32's.
  const Outcome both = run_nasx(
      "bench --what train --space nb201 --channels 4 --layers 1 --batch 4 --image-size 8 "
      "--steps 1 --warmup 0 --rounds 1 --threads 1 --precision both");
  ASSERT_EQ(both.exit_code, 0) << both.output;
  EXPECT_THAT(both.output, HasSubstr("nasx step bfloat16"));
  EXPECT_THAT(both.output, HasSubstr("nasx step bfloat16 against nasx step:"));
  EXPECT_THAT(both.output, HasSubstr("in bfloat16 in 'nasx step bfloat16'"));
  ASSERT_EQ(built.size(), 2u) << "one network per layout";
  EXPECT_EQ(built[0], "C=4 N=1 classes=10 " + cell);
  // A baseline folder without the reference: one error naming what is missing.
  const Outcome missing = run_nasx(
      "bench --what train --space nb201 --channels 4 --layers 1 "
      "--batch 4 --image-size 8 --steps 1 --warmup 0 --rounds 1 "
      "--threads 1 --baseline " +
      (dir_ / "nowhere").string() + " --python /usr/bin/python3");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(
      missing.output,
      HasSubstr("no " + (dir_ / "nowhere" / "ref-naswot" / "models" / "cell_infers").string()));
  EXPECT_THAT(missing.output, Not(HasSubstr("round"))) << "said before anything is measured";
}

// NB-201's search step against nasx's baseline script, which builds AutoDL's search
// network from the baseline folder's operations and steps it with the DARTS reference's
// architect; here both are stand-ins that say what they were given.
TEST_F(Bench, Nb201StepRunsTheReferenceArchitectOnTheReferenceOperations) {
  ASSERT_EQ(run_shell("/usr/bin/python3 -c 'import torch'").exit_code, 0)
      << "python3-torch is not installed: tools/setup --tests installs it";
  const fs::path models = dir_ / "ref-naswot" / "models";
  fs::create_directories(models);
  fs::create_directories(dir_ / "ref-darts");
  std::ofstream(models / "__init__.py");
  const std::string log = "open('" + (dir_ / "calls.txt").string() + "', 'a').write";
  std::ofstream(models / "cell_operations.py")
      << "import torch.nn as nn\n"
         "NAS_BENCH_201 = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', "
         "'avg_pool_3x3']\n"
         "class Op(nn.Module):\n"
         "    def __init__(self, c):\n"
         "        super().__init__()\n"
         "        self.conv = nn.Conv2d(c, c, 1)\n"
         "    def forward(self, x):\n"
         "        return self.conv(x)\n"
         "OPS = {name: (lambda c_in, c_out, stride, affine, track: Op(c_in)) "
         "for name in NAS_BENCH_201}\n"
         "class ResNetBasicblock(nn.Module):\n"
         "    def __init__(self, c_in, c_out, stride):\n"
         "        super().__init__()\n"
         "        "
      << log
      << "(f'block {c_in}->{c_out}\\n')\n"
         "        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)\n"
         "    def forward(self, x):\n"
         "        return self.conv(x)\n";
  std::ofstream(dir_ / "ref-darts" / "architect.py")
      << "class Architect:\n"
         "    def __init__(self, model, args):\n"
         "        self.model = model\n"
         "    def step(self, xt, yt, xs, ys, eta, optimizer, unrolled):\n"
         "        "
      << log
      << "(f'step unrolled={unrolled} alphas={list(self.model.arch_parameters()[0].shape)}\\n')\n"
         "        self.model._loss(xs, ys).backward()\n";
  const std::string common =
      "bench --what step --space nb201 --channels 4 --layers 1 --batch 4 --image-size 8 "
      "--steps 1 --warmup 0 --rounds 1 --threads 1 --memory-format channels_last --python "
      "/usr/bin/python3 --baseline ";
  const Outcome out = run_nasx(common + dir_.string() + " --order second");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_THAT(out.output, HasSubstr("nasx channels_last over reference channels-last: speed-up"));
  EXPECT_THAT(out.output, HasSubstr("nasx channels_last over reference contiguous: speed-up"));
  const auto seen = calls();
  // Per layout: the network's two residual blocks, then the measured step (no warm-up).
  ASSERT_EQ(seen.size(), 6u) << out.output;
  EXPECT_EQ(seen[0], "block 4->8");
  EXPECT_EQ(seen[1], "block 8->16");
  EXPECT_EQ(seen[2], "step unrolled=True alphas=[6, 5]");
  // A baseline folder without the references: one error naming what is missing, first.
  const Outcome missing = run_nasx(common + (dir_ / "nowhere").string() + " --order first");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(
      missing.output,
      HasSubstr("no " +
                (dir_ / "nowhere" / "ref-naswot" / "models" / "cell_operations.py").string()));
  EXPECT_THAT(missing.output, Not(HasSubstr("round"))) << "said before anything is measured";
}

TEST_F(Bench, DataParallelRowsAlternateRankCountsWithAndWithoutSyncBatchNorm) {
#if !defined(NASX_WITH_GLOO)
  GTEST_SKIP() << "this nasx is built without Gloo: it runs no data-parallel ranks";
#endif
  const Outcome out = run_nasx(std::string(kTinyStep) + " --nproc 1,2 --sync-batchnorm --rounds 2");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_THAT(out.output, HasSubstr("data-parallel search step, first order, channels_last"));
  EXPECT_THAT(out.output, HasSubstr("2 ranks, sync BN"));
  const std::vector<double> rounds[2] = {row(out.output, "1"), row(out.output, "2")};
  for (const auto& r : rounds) ASSERT_EQ(r.size(), 3u) << out.output;  // three contenders
  // What synchronizing costs, round by round: the synced step over the unsynced one.
  const std::regex ratio(
      R"(2 ranks, sync BN over 2 ranks: speed-up ([0-9.]+)x \(rounds: ([0-9.]+), ([0-9.]+)\))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out.output, m, ratio)) << out.output;
  for (int r = 0; r < 2; ++r)
    EXPECT_NEAR(std::stod(m[2 + r].str()), rounds[r][1] / rounds[r][2], 0.011) << out.output;
  EXPECT_THAT(out.output, HasSubstr("small all-reduces go through shared memory"));
  const Outcome other = run_nasx("bench --what train --nproc 2 --steps 1");
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.output, HasSubstr("--nproc measures --what step only"));
}

TEST_F(Bench, AgainstAnotherBuildMeasuresEachNasxContenderOnItToo) {
  // A plugin folder: here a copy of the one plugin the step needs, loaded instead of
  // nasx's own folder; and an executable: this nasx itself (an A/A comparison).
  const fs::path plugins = fs::path(kNasx).parent_path().parent_path() / "lib" / "nasx" / "plugins";
  const fs::path folder = dir_ / "plugins-before";
  fs::create_directories(folder);
  fs::copy_file(plugins / "nasx_space_darts.so", folder / "nasx_space_darts.so");
  const Outcome out = run_nasx(std::string(kTinyStep) + " --rounds 2 --against " + folder.string() +
                               " --against " + kNasx + " --profile-memory --profile-rows 3");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  // Which space plugin file each build measures; an executable uses its own.
  EXPECT_THAT(out.output,
              HasSubstr("[A]: this nasx, space 'darts' from " +
                        fs::canonical(plugins / "nasx_space_darts.so").string() + "\n"));
  EXPECT_THAT(out.output, HasSubstr("[B]: " + folder.string() +
                                    " (plugin folder: this nasx with its plugins instead of its "
                                    "own), space 'darts' from " +
                                    fs::canonical(folder / "nasx_space_darts.so").string()));
  EXPECT_THAT(out.output, HasSubstr("[C]: " + fs::path(kNasx).lexically_normal().string() +
                                    " (nasx executable, with the plugins it loads), space "
                                    "'darts' from " +
                                    fs::canonical(plugins / "nasx_space_darts.so").string()));
  // kTinyStep measures without warm-up, which is said.
  EXPECT_THAT(out.output, HasSubstr("(--warmup 0: each measurement's first unit also pays"));
  EXPECT_THAT(out.output, HasSubstr("nasx channels_last [B]"));
  // Each round: nasx, then its twins on [B] and [C]; the speed-ups are round by round.
  const std::vector<double> rounds[2] = {row(out.output, "1"), row(out.output, "2")};
  for (const auto& r : rounds) ASSERT_EQ(r.size(), 3u) << out.output;
  // A over B and C, and B over C.
  struct Pair {
    std::string faster, slower;
    size_t faster_column, slower_column;
  };
  for (const Pair& p : {Pair{"", " \\[B\\]", 0, 1}, Pair{"", " \\[C\\]", 0, 2},
                        Pair{" \\[B\\]", " \\[C\\]", 1, 2}}) {
    const std::regex speedup("nasx channels_last" + p.faster + " over nasx channels_last" +
                             p.slower + ": speed-up ([0-9.]+)x \\(rounds: ([0-9.]+), ([0-9.]+)\\)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out.output, m, speedup)) << p.slower << "\n" << out.output;
    for (int r = 0; r < 2; ++r) {
      const double ratio = rounds[r][p.slower_column] / rounds[r][p.faster_column];
      EXPECT_NEAR(std::stod(m[2 + r].str()), ratio, 0.01 * ratio + 0.01) << out.output;
    }
  }
  // With --profile-memory, the tensors live at each build's peak set side by side (A
  // against B and C, B against C): one profile each, cut to the rows asked for, the
  // peaks' totals last; the same code on one thread allocates the same tensors (the claim
  // behind one profile each), so every total is the same and no operator changed.
  const std::regex memory_total("\nall operators +[0-9]+ +([0-9.]+) +100\\.0\n");
  std::vector<std::string> peaks;
  for (auto m = std::sregex_iterator(out.output.begin(), out.output.end(), memory_total);
       m != std::sregex_iterator(); ++m)
    peaks.push_back((*m)[1].str());
  ASSERT_EQ(peaks.size(), 3u) << out.output;
  for (const std::string& peak : peaks) EXPECT_EQ(peak, peaks[0]);
  for (const auto& [after, before] : std::vector<std::pair<std::string, std::string>>{
           {"", " [B]"}, {"", " [C]"}, {" [B]", " [C]"}}) {
    const std::string title = "MiB of tensors live at the peak, nasx channels_last" + after +
                              " against nasx channels_last" + before + " (the operators";
    const size_t at = out.output.find(title);
    ASSERT_NE(at, std::string::npos) << title << "\n" << out.output;
    const size_t total = out.output.find("\nall operators", at);
    ASSERT_NE(total, std::string::npos);
    const std::string table = out.output.substr(at, out.output.find('\n', total + 1) - at);
    EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 1 + 3 + 1) << table;  // header, rows
    EXPECT_THAT(table, ::testing::EndsWith(" " + peaks[0] + "       +0.00")) << table;
  }
  // With --profile, each twin's operators set against the contender's, cut to the rows
  // asked for, the totals last.
  const Outcome profiled =
      run_nasx(std::string(kTinyStep) + " --against " + kNasx + " --profile --profile-rows 4");
  ASSERT_EQ(profiled.exit_code, 0) << profiled.output;
  EXPECT_THAT(profiled.output,
              HasSubstr("self ms per unit, nasx channels_last against nasx channels_last [B], "
                        "medians of 3 profiles each"));
  EXPECT_THAT(profiled.output, HasSubstr("nasx channels_last [B] (step:first:channels_last), "
                                         "profiled (the first of 3):"));
  EXPECT_EQ(profile_table_rows(profiled.output), (std::vector<int>{4, 4})) << profiled.output;
  const std::string change =
      profiled.output.substr(profiled.output.find("self ms per unit, nasx channels_last"));
  EXPECT_EQ(std::count(change.begin(), change.end(), '\n'), 2 + 4 + 1) << change;
  EXPECT_THAT(change, ::testing::ContainsRegex("all operators +[0-9.]+ +[0-9.]+ +[-+][0-9.]+"));
  // Another executable is called as nasx would be: the invocation's options but
  // --against and --rounds, then --single NAME; for its time profile, every operator.
  const fs::path fake = dir_ / "fake-nasx";
  std::ofstream(fake) << "#!/bin/sh\necho \"$@\" >> " << (dir_ / "argv.txt").string()
                      << "\necho 'median_s=0.5 min_s=0.5'\n";
  fs::permissions(fake, fs::perms::owner_all);
  const Outcome faked =
      run_nasx(std::string(kTinyStep) + " --rounds 2 --profile --against " + fake.string());
  ASSERT_EQ(faked.exit_code, 0) << faked.output;
  std::vector<std::string> argvs;
  {
    std::ifstream in(dir_ / "argv.txt");
    for (std::string line; std::getline(in, line);) argvs.push_back(line);
  }
  // Which space plugin file it loads, then two rounds, then two profiles.
  ASSERT_EQ(argvs.size(), 5u) << faked.output;
  EXPECT_THAT(argvs[0], ::testing::EndsWith(" --which-space-file"));
  EXPECT_THAT(faked.output, HasSubstr("[B]: " + fake.string() +
                                      " (nasx executable, with the plugins it loads), which "
                                      "does not say which space plugin file it loads"));
  argvs.erase(argvs.begin());
  for (const std::string& argv : argvs) {
    EXPECT_THAT(argv, ::testing::StartsWith("bench --what step --order first --channels 2"));
    EXPECT_THAT(argv, ::testing::EndsWith(" --single step:first:channels_last"));
    for (const char* never : {"--against", "--rounds", "--plugins-from"})
      EXPECT_THAT(argv, Not(HasSubstr(never))) << argv;
  }
  for (size_t k : {2, 3})
    EXPECT_THAT(argvs[k], HasSubstr("--profile --profile-rows 1000000 --single"));
  EXPECT_EQ(row(faked.output, "1").at(1), 0.5);
  // A build that prints no profile is said, not silently left out.
  EXPECT_THAT(faked.output,
              HasSubstr("(nasx channels_last [B] printed no time profile: the two are not "
                        "compared)"));
  fs::remove(folder / "nasx_space_darts.so");
  fs::copy_file(plugins / "nasx_space_nb201.so", folder / "nasx_space_nb201.so");
  // The folder replaces nasx's own: without the space's plugin it is refused before
  // anything is measured, with what the folder's build said.
  const Outcome missing = run_nasx(std::string(kTinyStep) + " --against " + folder.string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output,
              HasSubstr("--against " + folder.string() +
                        ": the folder replaces nasx's own plugins (and $NASX_PLUGIN_PATH's), and "
                        "it lacks or cannot load the space plugin 'darts'; copy that plugin's "
                        ".so (from the build to compare, such as its lib/nasx/plugins) into the "
                        "folder. It said:\n"));
  EXPECT_THAT(missing.output, HasSubstr("It said:\nnasx: error: no space plugin named 'darts' "
                                        "(available spaces: nb201"));
  EXPECT_THAT(missing.output, Not(HasSubstr("round")));
  EXPECT_THAT(missing.output, Not(HasSubstr("[B]:")));
}

// tools/scaling-table: each point of a sweep measured --rounds times, the points
// alternating (each round starting one point later), a point's time the median of its
// rounds, its peak the largest; per unit relative to the sweep's first point.
TEST_F(Bench, ScalingTableAlternatesASweepsPointsAndTakesTheMedianOfTheirRounds) {
  // A stand-in nasx: the n-th measurement of a batch size takes batch/100 s times 1, 3 or
  // 2 (a drifting machine) and peaks at batch * 10 + n MB.
  const fs::path fake = dir_ / "fake-nasx";
  std::ofstream(fake) << "#!/bin/sh\nlog=" << (dir_ / "calls.txt").string() << "\n"
                      << R"sh(batch=$(echo "$@" | sed 's/.*--batch \([0-9]*\).*/\1/')
echo "$batch" >> "$log"
echo "$@" >> "$log.argv"
n=$(grep -c "^$batch\$" "$log")
factor=$(echo "1 3 2" | cut -d' ' -f"$n")
echo "median  $(awk "BEGIN { print $batch * $factor / 100 }")"
echo "peak MB $((batch * 10 + n))"
)sh";
  fs::permissions(fake, fs::perms::owner_all);
  const std::string tool = std::string(NASX_TEST_SOURCE_DIR) + "/tools/scaling-table";
  const Outcome out = run_shell(tool + " --nasx " + fake.string() +
                                " --orders first --sweeps batch --rounds 3 --steps 1");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(calls(), (std::vector<std::string>{"32", "64", "128", "256", "64", "128", "256", "32",
                                               "128", "256", "32", "64"}));
  // The median of (1, 3, 2) x batch / 100: linear growth, 1.00 per unit.
  EXPECT_THAT(out.output, HasSubstr("| first | batch | 32 | 8 | 5 | 0.640 | 0.320 0.960 0.640 | "
                                    "323 | 1.00 | 1.00 |"));
  EXPECT_THAT(out.output, HasSubstr("| first | batch | 256 | 8 | 5 | 5.120 | 2.560 7.680 5.120 | "
                                    "2563 | 1.00 | 0.99 |"));
  EXPECT_THAT(out.output, HasSubstr("| first | batch | 1.00 | 1.00 |"));  // the fitted exponents
  const Outcome rounds = run_shell(tool + " --nasx " + fake.string() + " --rounds 0");
  EXPECT_NE(rounds.exit_code, 0);
  EXPECT_THAT(rounds.output, HasSubstr("--rounds and --steps must be at least 1"));

  // The training step of NB-201's network: its own base sizes and sweep, no order.
  fs::remove(dir_ / "calls.txt");
  const Outcome train = run_shell(tool + " --nasx " + fake.string() +
                                  " --what train --space nb201 --sweeps batch --rounds 1 "
                                  "--steps 1 2>" +
                                  (dir_ / "progress.txt").string());
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_EQ(calls(), (std::vector<std::string>{"64", "128", "256", "512"}));
  EXPECT_THAT(train.output, HasSubstr("nb201, training step of the evaluation network; each "
                                      "sweep around batch 256, C 16, 5 cells per stage"));
  EXPECT_THAT(train.output, HasSubstr("| train | batch | 512 | 16 | 5 | 5.120 | 5.120 | 5121 | "
                                      "1.00 | 1.00 |"));
  std::ifstream progress(dir_ / "progress.txt");
  const std::string progress_text((std::istreambuf_iterator<char>(progress)), {});
  EXPECT_THAT(progress_text, HasSubstr("train batch=64 (round 1)"));
  std::ifstream argv_log(dir_ / "calls.txt.argv");
  std::vector<std::string> argvs;
  for (std::string line; std::getline(argv_log, line);) argvs.push_back(line);
  ASSERT_EQ(argvs.size(), 16u);  // 12 search steps, then 4 training steps
  EXPECT_THAT(argvs[0], HasSubstr("bench --what step --space darts --rounds 1 --warmup 1 "
                                  "--steps 1 --threads 0 --order first --batch 32 --channels 8 "
                                  "--layers 5"));
  EXPECT_THAT(argvs[12], HasSubstr("bench --what train --space nb201 --rounds 1 --warmup 1 "
                                   "--steps 1 --threads 0 --batch 64 --channels 16 --layers 5"));
  EXPECT_THAT(argvs[15], Not(HasSubstr("--order")));
  const Outcome orders =
      run_shell(tool + " --nasx " + fake.string() + " --what train --orders first");
  EXPECT_NE(orders.exit_code, 0);
  EXPECT_THAT(orders.output, HasSubstr("--orders is for --what step"));
}

// --cuda-graph's check sets a graph's replays against a twin loaded with the state the
// capture started from. Its premise, on the CPU where steps are exact: the twin loaded
// so steps exactly as the original does, in every order (second order reads the SGD
// momentum, every order Adam's moments and count), losses and updates alike.
TEST_F(Bench, ATwinLoadedWithARigsStateStepsExactlyAsTheRigDoes) {
  for (const char* order : {"first", "second", "mixed"}) {
    const Outcome out = run_nasx(
        "bench --channels 2 --layers 3 --batch 4 --image-size 8 --steps 1 --warmup 0 "
        "--threads 1 --single step:" +
        std::string(order) + ":channels_last:twin");
    ASSERT_EQ(out.exit_code, 0) << order << ": " << out.output;
    EXPECT_THAT(out.output, HasSubstr("graph_vs_eager=0.00e+00 graph_update_vs_eager=0.00e+00"))
        << order << ": " << out.output;
  }
  const Outcome wrong = run_nasx("bench --steps 1 --single step:first:channels_last:eager");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.output, HasSubstr("step:ORDER:FORMAT[:graph|:twin], not "
                                      "step:first:channels_last:eager"));
}

TEST_F(Bench, BadUsageIsNamed) {
  const Outcome what = run_nasx("bench --what everything");
  EXPECT_EQ(what.exit_code, 1);
  EXPECT_THAT(what.output, HasSubstr("--what must be step, train, evaluate or naswot"));
  const Outcome arch = run_nasx("bench --what train --arch nonsense --steps 1");
  EXPECT_EQ(arch.exit_code, 1);
  EXPECT_THAT(arch.output, HasSubstr("nonsense"));
  const Outcome drop = run_nasx("bench --what train --drop-path 1.5 --steps 1");
  EXPECT_EQ(drop.exit_code, 1);
  EXPECT_THAT(drop.output, HasSubstr("--drop-path must be in [0, 0.95], not 1.5\n"));
  EXPECT_THAT(drop.output, Not(HasSubstr("a bug in nasx")));
  const Outcome precision = run_nasx("bench --what train --precision float16 --steps 1");
  EXPECT_EQ(precision.exit_code, 1);
  EXPECT_THAT(precision.output,
              HasSubstr("--precision must be float32, bfloat16 or both, not 'float16'"));
  const Outcome precision_of_step = run_nasx("bench --what step --precision bfloat16 --steps 1");
  EXPECT_EQ(precision_of_step.exit_code, 1);
  EXPECT_THAT(precision_of_step.output, HasSubstr("--precision applies to --what train"));
  const Outcome precision_against =
      run_nasx(std::string("bench --what train --precision both --steps 1 --against ") + kNasx);
  EXPECT_EQ(precision_against.exit_code, 1);
  EXPECT_THAT(precision_against.output,
              HasSubstr("another nasx executable may not know it; give --against a folder"));
  const Outcome rows = run_nasx("bench --what train --profile --profile-rows 0 --steps 1");
  EXPECT_EQ(rows.exit_code, 1);
  EXPECT_THAT(rows.output, HasSubstr("--profile-rows must be at least 1"));
  // The memory profile reads LibTorch's CPU allocator: another device is refused.
  const Outcome memory = run_nasx("bench --profile-memory --device meta --steps 1");
  EXPECT_EQ(memory.exit_code, 1);
  EXPECT_THAT(memory.output, HasSubstr("--profile-memory records LibTorch's CPU allocator only; "
                                       "on meta leave it out"));
  // A CUDA graph captures the search step on a GPU: on the CPU, or for another unit, it is
  // refused by name; and a build against a CPU-only LibTorch says it has no CUDA at all.
  for (const char* misuse : {"bench --cuda-graph --steps 1", "bench --what train --cuda-graph"}) {
    const Outcome graph = run_nasx(misuse);
    EXPECT_EQ(graph.exit_code, 1) << misuse;
    EXPECT_THAT(graph.output, HasSubstr("--cuda-graph captures the search step on a GPU: use it "
                                        "with --what step --device cuda"))
        << misuse;
  }
  if (!at::hasCUDA()) {
    const Outcome gpu = run_nasx("bench --cuda-graph --device cuda --steps 1");
    EXPECT_EQ(gpu.exit_code, 1);
    EXPECT_THAT(gpu.output, HasSubstr("no CUDA device in this LibTorch build"));
  }
  // --against: a path that is not there, a folder without plugins, a file nasx cannot
  // run, and data-parallel rows, each refused before anything is measured.
  const Outcome nowhere = run_nasx(std::string(kTinyStep) + " --against " + (dir_ / "x").string());
  EXPECT_EQ(nowhere.exit_code, 1);
  EXPECT_THAT(nowhere.output, HasSubstr("--against " + (dir_ / "x").string() +
                                        ": no such file or folder; give "
                                        "another nasx executable"));
  const Outcome empty = run_nasx(std::string(kTinyStep) + " --against " + dir_.string());
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_THAT(empty.output, HasSubstr("a folder without plugins (no .so file in it)"));
  std::ofstream(dir_ / "notes.txt") << "not a program\n";
  const Outcome file =
      run_nasx(std::string(kTinyStep) + " --against " + (dir_ / "notes.txt").string());
  EXPECT_EQ(file.exit_code, 1);
  EXPECT_THAT(file.output, HasSubstr("neither a folder nor an executable file"));
  const fs::path plugin = fs::path(kNasx).parent_path().parent_path() / "lib" / "nasx" / "plugins" /
                          "nasx_space_darts.so";
  const Outcome so = run_nasx(std::string(kTinyStep) + " --against " + plugin.string());
  EXPECT_EQ(so.exit_code, 1);
  EXPECT_THAT(so.output, HasSubstr("a plugin file, not a build; put it in a folder"));
  const Outcome ranks = run_nasx(std::string(kTinyStep) + " --nproc 1,2 --against " + kNasx);
  EXPECT_EQ(ranks.exit_code, 1);
  EXPECT_THAT(ranks.output, HasSubstr("--against measures one-process contenders"));
  for (const Outcome* o : {&nowhere, &empty, &file, &so, &ranks})
    EXPECT_THAT(o->output, Not(HasSubstr("round")));
}

}  // namespace
}  // namespace nasx::testing
