#include "nasx/core/registry.hpp"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nasx/error.hpp"
#include "nasx/selector.hpp"
#include "nasx/strategy.hpp"

namespace nasx::core {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kFixtures = NASX_TEST_FIXTURES_DIR;

std::string load_error(const std::string& path) {
  PluginRegistry registry;
  try {
    registry.load_file(path);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(PluginRegistry, LoadsAGoodPluginWithItsDescriptorAndSchema) {
  PluginRegistry registry;
  const PluginInfo& info = registry.load_file(kFixtures + "/good/nasx_test_good.so");
  EXPECT_EQ(info.name, "test_good");
  EXPECT_EQ(info.kind, NASX_KIND_SELECTOR);
  EXPECT_EQ(info.version, "2.1.0");
  EXPECT_EQ(info.summary, "a selector for tests");
  ASSERT_NE(info.schema.find("level"), nullptr);
  EXPECT_EQ(std::get<int64_t>(info.schema.find("level")->default_value), 3);
  auto selector = create_plugin<Selector>(registry, info);
  EXPECT_NE(selector, nullptr);
  // Loading the same file again is a no-op, not a duplicate.
  EXPECT_EQ(&registry.load_file(kFixtures + "/good/nasx_test_good.so"), &info);
}

TEST(PluginRegistry, FindsTheBuildsOwnPlugins) {
  PluginRegistry registry;
  for (const auto& dir : PluginRegistry::default_directories()) registry.add_directory(dir, false);
  EXPECT_EQ(registry.find(NASX_KIND_STRATEGY, "darts").name, "darts");
  EXPECT_EQ(registry.find(NASX_KIND_SELECTOR, "magnitude").name, "magnitude");
  try {
    registry.find(NASX_KIND_STRATEGY, "drats");
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("did you mean 'darts'?"));
  }
  try {
    registry.find(NASX_KIND_STRATEGY, "magnitude");
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'magnitude' is a selector, not a strategy"));
  }
}

TEST(PluginRegistry, RefusesASharedLibraryThatIsNotAPlugin) {
  const std::string message = load_error(kFixtures + "/plain/libplain.so");
  EXPECT_THAT(message, HasSubstr("libplain.so: not a nasx plugin"));
  EXPECT_THAT(message, HasSubstr("does not export 'nasx_plugin_entry'"));
}

TEST(PluginRegistry, RefusesAFileThatIsNotASharedLibrary) {
  const fs::path dir = fs::temp_directory_path() / "nasx_registry_garbage";
  fs::create_directories(dir);
  std::ofstream(dir / "garbage.so") << "this is not an ELF file\n";
  const std::string message = load_error((dir / "garbage.so").string());
  EXPECT_THAT(message, HasSubstr("garbage.so: not a shared library"));
  EXPECT_THAT(message, HasSubstr("no ELF header"));
}

TEST(PluginRegistry, RefusesAPluginBuiltForAnotherAbi) {
  const std::string message = load_error(kFixtures + "/future/nasx_future.so");
  EXPECT_THAT(message,
              HasSubstr("nasx_future.so: built for plugin ABI 99, but this nasx loads ABI " +
                        std::to_string(NASX_ABI_VERSION)));
  EXPECT_THAT(message, HasSubstr("rebuild the plugin against this SDK"));
}

TEST(PluginRegistry, RefusesAPluginBuiltForAnotherLibTorchListingEveryMismatch) {
  const std::string message = load_error(kFixtures + "/old_torch/nasx_old_torch.so");
  EXPECT_THAT(message, HasSubstr("built with LibTorch 0.4.1 instead of " TORCH_VERSION));
  EXPECT_THAT(message, HasSubstr("and _GLIBCXX_USE_CXX11_ABI="));
  EXPECT_THAT(message, HasSubstr("rebuild it against this host"));
}

TEST(PluginRegistry, RefusesTwoPluginsWithTheSameName) {
  PluginRegistry registry;
  registry.add_directory(kFixtures + "/duplicates", true);
  ASSERT_EQ(registry.plugins().size(), 1u);
  ASSERT_EQ(registry.failures().size(), 1u);
  EXPECT_THAT(
      registry.failures()[0].reason,
      HasSubstr("nasx_dup_b.so: another selector plugin is already named 'test_duplicate'"));
  EXPECT_THAT(registry.failures()[0].reason, HasSubstr("nasx_dup_a.so"));
}

TEST(PluginRegistry, TurnsAThrowingFactoryIntoAnErrorNamingTheFile) {
  PluginRegistry registry;
  const PluginInfo& info = registry.load_file(kFixtures + "/throwing/nasx_test_throwing.so");
  try {
    create_plugin<SearchStrategy>(registry, info);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("nasx_test_throwing.so: the factory of plugin 'test_throwing' "
                                    "threw: cannot allocate the controller"));
  }
}

TEST(PluginRegistry, ExplicitFolderMustExistAndBrokenFilesAreReportedWhenLookingUp) {
  PluginRegistry registry;
  EXPECT_THROW(registry.add_directory("/nonexistent/nasx/plugins", true), PluginError);
  registry.add_directory(kFixtures + "/future", true);
  try {
    registry.find(NASX_KIND_STRATEGY, "test_future");
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("note: "));
    EXPECT_THAT(e.what(), HasSubstr("nasx_future.so was not loaded: "));
  }
}

}  // namespace
}  // namespace nasx::core
