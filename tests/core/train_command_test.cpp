// End-to-end tests of final training: `nasx train`, its kill and resume, and a
// search config ending with [train].

#include <filesystem>
#include <fstream>
#include <regex>

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

constexpr const char* kNb201 =
    "'|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|'";
constexpr const char* kDarts =
    "\"Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_3x3', 0), "
    "('max_pool_3x3', 2), ('sep_conv_3x3', 1), ('skip_connect', 3), ('avg_pool_3x3', 0), "
    "('dil_conv_5x5', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('sep_conv_5x5', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])\"";

class TrainCommand : public testing::FolderTest {
 protected:
  /// A training config on synthetic data; `space` and `train` are TOML lines.
  std::string config(const std::string& space, const std::string& train,
                     const std::string& extra = "") {
    const fs::path path = dir_ / "train.toml";
    std::ofstream(path) << "[experiment]\nseed = 3\nthreads = 1\n\n"
                        << "[data]\nname = \"synthetic\"\nsynthetic_train = 256\n"
                        << "synthetic_test = 64\nsynthetic_image_size = 8\n"
                        << "synthetic_classes = 4\n\n"
                        << "[space]\n"
                        << space << "\n\n[train]\n"
                        << train << "\n"
                        << extra;
    return path.string();
  }
};

TEST_F(TrainCommand, TrainsAnNb201CellAndADartsGenotypeAndReportsTheirFigures) {
  const std::string nb201 =
      config("name = \"nb201\"", "epochs = 2\nchannels = 4\nlayers = 1\nbatch_size = 32");
  const Outcome a = run_nasx(std::string("train ") + kNb201 + " --config " + nb201 + " --out " +
                             (dir_ / "nb201").string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  for (const char* file : {"train.toml", "genotype.txt", "epochs.jsonl", "checkpoint/train.pt",
                           "model.pt", "summary.json"})
    EXPECT_TRUE(fs::exists(dir_ / "nb201" / file)) << file;
  const std::string summary = read(dir_ / "nb201/summary.json");
  EXPECT_THAT(summary, HasSubstr("\"test_acc\""));
  EXPECT_THAT(summary, HasSubstr("\"flops\""));
  EXPECT_THAT(summary, HasSubstr("\"protocol\": \"nb201\""));
  EXPECT_THAT(read(dir_ / "nb201/epochs.jsonl"), HasSubstr("\"epoch\": 1,"));
  // The NB201 protocol's values fill what the config leaves out.
  EXPECT_THAT(read(dir_ / "nb201/train.toml"), HasSubstr("nesterov = true"));
  EXPECT_THAT(read(dir_ / "nb201/train.toml"), HasSubstr("lr = 0.1\n"));

  const std::string darts =
      config("name = \"darts\"",
             "epochs = 2\nchannels = 4\nlayers = 3\nbatch_size = 32\ncutout = 3\ncrop_padding = 1");
  const Outcome b = run_nasx(std::string("train ") + kDarts + " --config " + darts + " --out " +
                             (dir_ / "darts").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const std::string darts_summary = read(dir_ / "darts/summary.json");
  std::smatch with, without;
  ASSERT_TRUE(std::regex_search(darts_summary, without, std::regex("\"parameters\": ([0-9]+)")));
  ASSERT_TRUE(std::regex_search(darts_summary, with,
                                std::regex("\"parameters_with_auxiliary\": ([0-9]+)")));
  EXPECT_GT(std::stoll(with[1]), std::stoll(without[1]));  // the auxiliary head
  EXPECT_THAT(read(dir_ / "darts/train.toml"), HasSubstr("auxiliary_weight = 0.4"));
  EXPECT_THAT(read(dir_ / "darts/train.toml"), HasSubstr("drop_path_prob = 0.2"));
}

/// epochs.jsonl without the wall-clock column.
std::string epochs_of(const std::string& log) {
  return std::regex_replace(log, std::regex(", \"seconds\": [-0-9.e]+"), "");
}

std::string figures_of(const std::string& summary) {
  std::string out;
  const std::regex number("\"(test_acc|test_loss|parameters|flops)\": ([-0-9.e]+)");
  for (std::sregex_iterator it(summary.begin(), summary.end(), number), end; it != end; ++it)
    out += (*it)[1].str() + "=" + (*it)[2].str() + " ";
  return out;
}

TEST_F(TrainCommand, KilledTrainingResumesToTheSameResult) {
  const std::string cfg =
      config("name = \"darts\"",
             "epochs = 5\nchannels = 4\nlayers = 3\nbatch_size = 32\ncutout = 3\ncrop_padding = 1");
  const std::string genotype_arg = "--config " + cfg;
  // The genotype goes through a run folder, since the kill helper splits on spaces.
  fs::create_directories(dir_ / "search");
  std::ofstream(dir_ / "search/genotype.txt")
      << std::regex_replace(std::string(kDarts), std::regex("\""), "") << "\n";
  const Outcome reference = run_nasx("train " + (dir_ / "search").string() + " " + genotype_arg +
                                     " --out " + (dir_ / "reference").string());
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  const fs::path killed = dir_ / "killed";
  ASSERT_TRUE(testing::run_and_kill_when(
      "train " + (dir_ / "search").string() + " " + genotype_arg + " --out " + killed.string(),
      [&] { return read(killed / "epochs.jsonl").find("\"epoch\": 2,") != std::string::npos; }))
      << "the training ended before it could be killed";
  ASSERT_FALSE(fs::exists(killed / "summary.json"));

  const Outcome resumed = run_nasx("resume " + killed.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("resuming"));
  EXPECT_EQ(epochs_of(read(killed / "epochs.jsonl")),
            epochs_of(read(dir_ / "reference/epochs.jsonl")));
  const std::string expected = figures_of(read(dir_ / "reference/summary.json"));
  EXPECT_THAT(expected, HasSubstr("test_acc="));
  EXPECT_EQ(figures_of(read(killed / "summary.json")), expected);
  const Outcome again = run_nasx("resume " + killed.string());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("has already finished"));
}

TEST_F(TrainCommand, Bfloat16ConvolutionsTrainTheNetworkAndTheFolderSaysSo) {
  const std::string train = "epochs = 2\nchannels = 4\nlayers = 1\nbatch_size = 32";
  const Outcome f32 =
      run_nasx(std::string("train ") + kNb201 + " --config " + config("name = \"nb201\"", train) +
               " --out " + (dir_ / "float32").string());
  ASSERT_EQ(f32.exit_code, 0) << f32.output;
  EXPECT_THAT(read(dir_ / "float32/train.toml"), HasSubstr("precision = \"float32\""));
  EXPECT_THAT(f32.output, Not(HasSubstr("convolutions in")));
  const Outcome bf16 = run_nasx(std::string("train ") + kNb201 + " --config " +
                                config("name = \"nb201\"", train + "\nprecision = \"bfloat16\"") +
                                " --out " + (dir_ / "bfloat16").string());
  ASSERT_EQ(bf16.exit_code, 0) << bf16.output;
  EXPECT_THAT(bf16.output, HasSubstr("convolutions in bfloat16"));
  EXPECT_THAT(read(dir_ / "bfloat16/train.toml"), HasSubstr("precision = \"bfloat16\""));
  // The same seed and data: only the convolutions' rounding differs, and it shows.
  EXPECT_NE(epochs_of(read(dir_ / "float32/epochs.jsonl")),
            epochs_of(read(dir_ / "bfloat16/epochs.jsonl")));

  const Outcome bad = run_nasx(std::string("train ") + kNb201 + " --config " +
                               config("name = \"nb201\"", "precision = \"float16\"") + " --out " +
                               (dir_ / "bad").string());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("train.toml:"));
  EXPECT_THAT(bad.output, HasSubstr("train.precision"));
  EXPECT_THAT(bad.output, HasSubstr("bfloat16"));
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
}

TEST_F(TrainCommand, AnArchitectureOfTheWrongSpaceIsOneClearErrorAndNoFolder) {
  const std::string darts = config("name = \"darts\"", "epochs = 1");
  const Outcome a = run_nasx(std::string("train ") + kNb201 + " --config " + darts + " --out " +
                             (dir_ / "a").string());
  EXPECT_EQ(a.exit_code, 1) << a.output;
  EXPECT_THAT(a.output,
              HasSubstr("the architecture is one of space 'nb201' but the space is 'darts'"));
  const Outcome b = run_nasx(std::string("train ") + kDarts + " --set space.name=nb201 --out " +
                             (dir_ / "b").string());
  EXPECT_EQ(b.exit_code, 1) << b.output;
  EXPECT_THAT(b.output,
              HasSubstr("the architecture is one of space 'darts' but the space is 'nb201'"));
  const Outcome c =
      run_nasx(std::string("train ") + kNb201 + " --config " +
               config("name = \"nb201\"", "epoch = 1") + " --out " + (dir_ / "c").string());
  EXPECT_EQ(c.exit_code, 1) << c.output;
  EXPECT_THAT(c.output, HasSubstr("unknown key 'train.epoch'"));
  EXPECT_THAT(c.output, HasSubstr("did you mean 'epochs'"));
  for (const char* folder : {"a", "b", "c"}) EXPECT_FALSE(fs::exists(dir_ / folder)) << folder;
}

TEST_F(TrainCommand, ASearchConfigWithTrainGoesFromSearchToATrainedModel) {
  const std::string cfg = config("name = \"darts\"\nchannels = 4\nlayers = 3",
                                 "epochs = 1\nchannels = 4\nlayers = 3\nbatch_size = 32",
                                 "\n[search]\nstrategy = \"darts\"\nepochs = 1\n");
  const Outcome outcome = run_nasx("run " + cfg + " --out " + (dir_ / "run").string());
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("trained_test_acc"));
  EXPECT_TRUE(fs::exists(dir_ / "run/summary.json"));
  EXPECT_TRUE(fs::exists(dir_ / "run/train/summary.json"));
  EXPECT_EQ(read(dir_ / "run/train/genotype.txt"), read(dir_ / "run/genotype.txt"));
}

}  // namespace
}  // namespace nasx
