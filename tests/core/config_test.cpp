#include "nasx/core/config.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nasx/core/registry.hpp"
#include "nasx/error.hpp"

namespace nasx::core {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class Config : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& dir : PluginRegistry::default_directories())
      registry_.add_directory(dir, false);
  }

  std::string write(const std::string& text) {
    const fs::path path =
        fs::temp_directory_path() / ("nasx_config_test_" + std::to_string(::getpid()) + "_" +
                                     std::to_string(counter_++) + ".toml");
    std::ofstream(path) << text;
    return path.string();
  }

  std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
    const std::string path = write(text);
    try {
      load_run_config(path, overrides, registry_);
    } catch (const ConfigError& e) {
      std::string message = e.what();
      if (message.rfind(path, 0) == 0) message.replace(0, path.size(), "FILE");
      return message;
    }
    return "(valid)";
  }

  PluginRegistry registry_;
  int counter_ = 0;
};

constexpr const char* kValid = R"([experiment]
name = "t"
seed = 3

[data]
subset = 2000

[search]
strategy = "darts"
epochs = 4
)";

TEST_F(Config, FillsDefaultsAndReadsValues) {
  const RunConfig config = load_run_config(write(kValid), {}, registry_);
  EXPECT_EQ(config.experiment.name, "t");
  EXPECT_EQ(config.experiment.seed, 3);
  EXPECT_EQ(config.data.subset, 2000);
  EXPECT_EQ(config.data.batch_size, 64);
  EXPECT_EQ(std::get<int64_t>(config.space.params.at("channels")), 16);
  EXPECT_EQ(config.search.strategy, "darts");
  EXPECT_EQ(std::get<int64_t>(config.search.params.at("epochs")), 4);
  EXPECT_EQ(std::get<double>(config.search.params.at("w_lr")), 0.025);
  EXPECT_EQ(config.select.selector, "magnitude");
}

TEST_F(Config, ResolvedTomlReadsBackToTheSameConfig) {
  const RunConfig config = load_run_config(write(kValid), {"space.layers=5"}, registry_);
  const RunConfig again = load_run_config(write(config.to_toml()), {}, registry_);
  EXPECT_EQ(again.to_toml().substr(again.to_toml().find('\n')),
            config.to_toml().substr(config.to_toml().find('\n')));
  EXPECT_EQ(std::get<int64_t>(again.space.params.at("layers")), 5);
}

TEST_F(Config, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_THAT(error_of("[search]\nstrategy = \"darts\"\nepochs = = 3\n"),
              HasSubstr("FILE:3:10: TOML syntax error"));
}

TEST_F(Config, UnknownKeysGetLineAndDidYouMean) {
  const std::string message = error_of(std::string(kValid) + "epocs = 3\n");
  EXPECT_THAT(
      message,
      HasSubstr(
          "FILE:11:1: unknown key 'search.epocs' for strategy 'darts'; did you mean 'epochs'?"));
  EXPECT_THAT(error_of("[dataa]\nsubset = 1\n[search]\nstrategy = \"darts\"\n"),
              HasSubstr("FILE:1:2: unknown section or key 'dataa'; did you mean 'data'?"));
  EXPECT_THAT(
      error_of("[space]\nchanels = 8\n[search]\nstrategy = \"darts\"\n"),
      HasSubstr(
          "FILE:2:1: unknown key 'space.chanels' for space 'darts'; did you mean 'channels'?"));
}

TEST_F(Config, WrongTypesAndRangesNameTheKey) {
  EXPECT_THAT(error_of("[search]\nstrategy = \"darts\"\nepochs = \"ten\"\n"),
              HasSubstr("FILE:3:10: 'search.epochs' must be an integer, not a string"));
  EXPECT_THAT(error_of("[search]\nstrategy = \"darts\"\norder = \"third\"\n"),
              HasSubstr("FILE:3:9: 'search.order': \"third\" is not one of \"first\" \"second\""));
  EXPECT_THAT(error_of("[data]\nbatch_size = 0\n[search]\nstrategy = \"darts\"\n"),
              HasSubstr("FILE:2:14: 'data.batch_size': 0 is below the minimum 1"));
  // Integers are fine where a float is expected.
  EXPECT_EQ(error_of("[search]\nstrategy = \"darts\"\nw_lr = 1\n"), "(valid)");
  // What only the space can judge is judged when the config loads, at its section.
  const std::string operations = error_of(
      "[space]\noperations = \"sep_conv_3x3, conv_7x7\"\n[search]\nstrategy = \"darts\"\n");
  EXPECT_THAT(operations, HasSubstr("FILE:1:1: space 'darts': space.operations: 'conv_7x7' is not "
                                    "a DARTS operation"));
  EXPECT_THAT(error_of("[space]\nlayers = 2\n[search]\nstrategy = \"darts\"\n"),
              HasSubstr("needs at least 3 cells"));
  EXPECT_EQ(error_of("[space]\noperations = \"skip_connect, sep_conv_3x3\"\n[search]\n"
                     "strategy = \"darts\"\ntrain_alpha = false\n"),
            "(valid)");
}

TEST_F(Config, UnknownPluginsPointAtTheKey) {
  const std::string message = error_of("[search]\nstrategy = \"drats\"\n");
  EXPECT_THAT(
      message,
      HasSubstr(
          "FILE:2:12: 'search.strategy': no strategy plugin named 'drats'; did you mean 'darts'?"));
  EXPECT_THAT(error_of("[experiment]\nseed = 1\n"), HasSubstr("missing [search] table"));
}

TEST_F(Config, OverridesApplyAndTheirErrorsNameTheOverride) {
  const RunConfig config = load_run_config(
      write(kValid), {"search.epochs=9", "space.memory_format=contiguous"}, registry_);
  EXPECT_EQ(std::get<int64_t>(config.search.params.at("epochs")), 9);
  EXPECT_EQ(std::get<std::string>(config.space.params.at("memory_format")), "contiguous");
  EXPECT_THAT(
      error_of(kValid, {"search.epochs=many"}),
      HasSubstr("--set search.epochs=many: 'search.epochs' must be an integer, not a string"));
  EXPECT_THAT(error_of(kValid, {"search.epoch=2"}), HasSubstr("--set search.epoch=2: unknown key"));
  EXPECT_THAT(error_of(kValid, {"noequals"}), HasSubstr("expected KEY=VALUE"));
}

TEST(ConfigDifferences, AKeyAddedLaterIsAChangeOnlyAwayFromTheOldBehaviour) {
  // A checkpoint written before [train] precision existed, resumed by a nasx that writes it.
  const std::string old_run = "[train]\nlr = 0.1\n";
  EXPECT_TRUE(config_differences(old_run, "[train]\nlr = 0.1\nprecision = \"float32\"\n").empty());
  EXPECT_TRUE(config_differences("[train]\nlr = 0.1\nprecision = \"float32\"\n", old_run).empty());
  EXPECT_EQ(config_differences(old_run, "[train]\nlr = 0.1\nprecision = \"bfloat16\"\n"),
            std::vector<std::string>{"train.precision: absent -> 'bfloat16'"});
  EXPECT_EQ(config_differences("[train]\nprecision = \"float32\"\n",
                               "[train]\nprecision = \"bfloat16\"\n"),
            std::vector<std::string>{"train.precision: 'float32' -> 'bfloat16'"});
  EXPECT_EQ(config_differences(old_run, "[train]\nlr = 0.1\nepochs = 3\n"),
            std::vector<std::string>{"train.epochs: absent -> 3"});
}

TEST(DidYouMean, PicksTheClosestWithinASmallDistance) {
  EXPECT_EQ(did_you_mean("epocs", {"epochs", "order", "w_lr"}), "epochs");
  EXPECT_EQ(did_you_mean("zzzzzz", {"epochs", "order"}), "");
}

}  // namespace
}  // namespace nasx::core
