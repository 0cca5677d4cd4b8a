// `nasx export --format pytorch`: the state_dict loads with strict=True into modules
// written after the reference implementations (tests/python/reference_modules.py, run by
// Debian's python3-torch) and gives nasx's logits on the export's example batch.

#include <filesystem>
#include <fstream>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "core/tiny_config.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
using testing::run_shell;
namespace fs = std::filesystem;

const char* const kDarts =
    "\"Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_3x3', 0), "
    "('max_pool_3x3', 2), ('sep_conv_5x5', 1), ('skip_connect', 3), ('avg_pool_3x3', 0), "
    "('dil_conv_5x5', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('sep_conv_5x5', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('sep_conv_3x3', 0), "
    "('skip_connect', 2), ('dil_conv_3x3', 2), ('avg_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])\"";
const char* const kNb201 =
    "'|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|'";

class Export : public testing::FolderTest {
 protected:
  /// A 1-epoch training of `architecture` on synthetic 3-channel 8x8 images, 4 classes.
  fs::path train(const std::string& architecture, const std::string& space,
                 const std::string& channels, const std::string& layers) {
    std::ofstream(dir_ / "train.toml")
        << "[experiment]\nseed = 3\nthreads = 1\n\n[data]\nname = \"synthetic\"\n"
        << "synthetic_train = 128\nsynthetic_test = 32\nsynthetic_image_size = 8\n"
        << "synthetic_channels = 3\nsynthetic_classes = 4\n\n[space]\nname = \"" << space
        << "\"\n\n[train]\nepochs = 1\nbatch_size = 32\nchannels = " << channels
        << "\nlayers = " << layers << "\n";
    const fs::path out = dir_ / space;
    const Outcome trained = run_nasx("train " + architecture + " --config " +
                                     (dir_ / "train.toml").string() + " --out " + out.string());
    EXPECT_EQ(trained.exit_code, 0) << trained.output;
    return out;
  }

  /// check_export.py's verdict and the max abs difference it printed.
  double python_difference(const fs::path& exported, const std::string& args) {
    const Outcome check = run_shell("cd " + std::string(NASX_TEST_SOURCE_DIR) +
                                    "/tests/python && /usr/bin/python3 check_export.py " +
                                    exported.string() + " " + args);
    EXPECT_EQ(check.exit_code, 0) << check.output;
    std::smatch match;
    if (!std::regex_search(check.output, match, std::regex("max_abs_diff ([0-9.e+-]+)")))
      return 1e9;
    std::cout << "  " << exported.filename() << " " << args << ": " << match[0] << "\n";
    return std::stod(match[1]);
  }
};

TEST_F(Export, ADartsNetworkLoadsStrictlyIntoNetworkCIFARWithTheSameLogits) {
  ASSERT_EQ(run_shell("/usr/bin/python3 -c 'import torch'").exit_code, 0)
      << "python3-torch is not installed: tools/setup --tests installs it";
  const fs::path trained = train(kDarts, "darts", "4", "5");
  const Outcome exported = run_nasx("export " + trained.string());
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_THAT(exported.output, HasSubstr("NetworkCIFAR(C=4, num_classes=4, layers=5"));
  for (const char* file : {"state_dict.pt", "example.pt", "genotype.txt", "README.md", "export.json"})
    EXPECT_TRUE(fs::exists(trained / "export-pytorch" / file)) << file;
  EXPECT_THAT(read(trained / "export-pytorch/README.md"), HasSubstr("load_state_dict(state, strict=True)"));
  // C=4, 5 cells, 4 classes, 3 input channels, with the auxiliary head.
  EXPECT_LT(python_difference(trained / "export-pytorch", "darts 4 5 4 3 1"), 1e-4);
}

TEST_F(Export, AnNb201NetworkLoadsStrictlyIntoTinyNetworkWithTheSameLogits) {
  ASSERT_EQ(run_shell("/usr/bin/python3 -c 'import torch'").exit_code, 0)
      << "python3-torch is not installed: tools/setup --tests installs it";
  const fs::path trained = train(kNb201, "nb201", "4", "2");
  const fs::path out = dir_ / "elsewhere";
  const Outcome exported = run_nasx("export " + trained.string() + " --out " + out.string());
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_THAT(exported.output, HasSubstr("TinyNetwork(C=4, N=2"));
  EXPECT_THAT(read(out / "README.md"), HasSubstr("_, logits = model(example[\"images\"])"));
  EXPECT_THAT(read(out / "export.json"), HasSubstr("\"input\": [3, 8, 8]"));
  EXPECT_LT(python_difference(out, "nb201 4 2 4 3 0"), 1e-4);

  // An earlier export is replaced; a folder that is not one is never touched.
  ASSERT_EQ(run_nasx("export " + trained.string() + " --out " + out.string()).exit_code, 0);
  const Outcome onto_training = run_nasx("export " + trained.string() + " --out " + trained.string());
  EXPECT_EQ(onto_training.exit_code, 1);
  EXPECT_THAT(onto_training.output, HasSubstr("is not an earlier export"));
  EXPECT_TRUE(fs::exists(trained / "model.pt"));
  EXPECT_TRUE(fs::exists(trained / "train.toml"));
}

TEST_F(Export, ARunWithoutATrainedNetworkIsOneErrorAndNothingIsWritten) {
  std::ofstream(dir_ / "search.toml") << testing::tiny_search_config("epochs = 1\n");
  const Outcome run =
      run_nasx("run " + (dir_ / "search.toml").string() + " --out " + (dir_ / "run").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const Outcome bad = run_nasx("export " + (dir_ / "run").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("is a search run without a trained network"));
  EXPECT_THAT(bad.output, HasSubstr("nasx train " + (dir_ / "run").string()));
  EXPECT_FALSE(fs::exists(dir_ / "run/export-pytorch"));
  EXPECT_FALSE(fs::exists(dir_ / "run/train"));

  // An unfinished training (no model.pt yet) says how to finish it.
  const fs::path trained = train(kNb201, "nb201", "4", "1");
  fs::remove(trained / "model.pt");
  const Outcome unfinished = run_nasx("export " + trained.string());
  EXPECT_EQ(unfinished.exit_code, 1);
  EXPECT_THAT(unfinished.output, HasSubstr("has not finished"));
  EXPECT_THAT(unfinished.output, HasSubstr("nasx resume " + trained.string()));
  EXPECT_FALSE(fs::exists(trained / "export-pytorch"));

  const Outcome format = run_nasx("export " + trained.string() + " --format onnx");
  EXPECT_EQ(format.exit_code, 1);
  EXPECT_THAT(format.output, HasSubstr("--format onnx"));
}

}  // namespace
}  // namespace nasx
