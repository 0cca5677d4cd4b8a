// CIFAR-10/100 from files written here in the exact binary distribution format: pixels
// and labels against the format's definition, the folder layouts a download leaves, and
// one clear error for a missing, truncated or foreign file. The end-to-end test runs a
// CIFAR-10 config's search for two epochs on such files.

#include "nasx/core/cifar.hpp"

#include <filesystem>
#include <fstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "core/nasx_process.hpp"
#include "nasx/core/data_loading.hpp"
#include "nasx/error.hpp"

namespace nasx::core {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

using Cifar = testing::FolderTest;

/// Pixel byte of image `i`, channel `c`, row `y`, column `x`: distinct enough to catch a
/// swapped plane or a transposed image.
uint8_t pixel(int64_t i, int64_t c, int64_t y, int64_t x) {
  return static_cast<uint8_t>((i * 7 + c * 50 + y * 3 + x) % 256);
}

/// `n` records of `format`, image i labelled `first_label + i` (mod classes); CIFAR-100
/// records get a coarse label that is not the fine one.
void write_records(const fs::path& file, const CifarFormat& format, int64_t n,
                   int64_t first_label) {
  std::ofstream out(file, std::ios::binary);
  for (int64_t i = 0; i < n; ++i) {
    if (format.label_bytes == 2) out.put(static_cast<char>(19));  // coarse
    out.put(static_cast<char>((first_label + i) % format.classes));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) out.put(static_cast<char>(pixel(i, c, y, x)));
  }
}

/// A CIFAR-10 folder: five training batches of `per_file` images and a test batch.
void write_cifar10(const fs::path& folder, int64_t per_file) {
  const CifarFormat& format = cifar_format("cifar10");
  fs::create_directories(folder);
  for (size_t f = 0; f < format.train_files.size(); ++f)
    write_records(folder / format.train_files[f], format, per_file,
                  static_cast<int64_t>(f) * per_file);
  write_records(folder / format.test_file, format, per_file, 3);
}

TEST_F(Cifar, PixelsAndLabelsFollowTheBinaryFormat) {
  const CifarFormat& format = cifar_format("cifar10");
  write_records(dir_ / "b.bin", format, 3, 8);
  const TensorDataset data = read_cifar_file((dir_ / "b.bin").string(), format);
  ASSERT_EQ(data.images.sizes(), (at::IntArrayRef{3, 3, 32, 32}));
  EXPECT_EQ(data.labels[0].item<int64_t>(), 8);
  EXPECT_EQ(data.labels[2].item<int64_t>(), 0);  // 10 mod 10
  for (int64_t c = 0; c < 3; ++c) {
    // (byte / 255 - mean) / std, computed here from the definition.
    const double expected = (pixel(2, c, 5, 17) / 255.0 - format.mean[c]) / format.stddev[c];
    EXPECT_NEAR(data.images[2][c][5][17].item<double>(), expected, 1e-5) << "channel " << c;
  }
}

TEST_F(Cifar, Cifar100TakesTheFineLabel) {
  const CifarFormat& format = cifar_format("cifar100");
  write_records(dir_ / "train.bin", format, 4, 95);
  const TensorDataset data = read_cifar_file((dir_ / "train.bin").string(), format);
  EXPECT_EQ(data.labels[0].item<int64_t>(), 95);
  EXPECT_EQ(data.labels[3].item<int64_t>(), 98);
  EXPECT_NEAR(data.images[1][0][0][0].item<double>(),
              (pixel(1, 0, 0, 0) / 255.0 - format.mean[0]) / format.stddev[0], 1e-5);
}

TEST_F(Cifar, LoadsTheDownloadedFolderOrTheFolderHoldingIt) {
  write_cifar10(dir_ / "cifar-10-batches-bin", 4);
  DataOptions options;
  options.name = "cifar10";
  options.batch_size = 4;
  for (const fs::path& path : {dir_, dir_ / "cifar-10-batches-bin"}) {
    options.path = path.string();
    const DataSplits splits = load_data(options, 0);
    EXPECT_EQ(splits.shape.channels, 3);
    EXPECT_EQ(splits.shape.classes, 10);
    EXPECT_EQ(splits.train.size() + splits.search.size(), 20);  // 5 files x 4
    EXPECT_EQ(splits.test.size(), 4);
  }
}

TEST_F(Cifar, MissingTruncatedAndForeignFilesAreOneClearError) {
  write_cifar10(dir_, 2);
  DataOptions options;
  options.name = "cifar10";
  options.path = dir_.string();
  options.batch_size = 2;
  auto error_of = [&] {
    try {
      load_data(options, 0);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("(loaded)");
  };
  EXPECT_EQ(error_of(), "(loaded)");

  fs::resize_file(dir_ / "data_batch_3.bin", 3073 + 1000);
  std::string error = error_of();
  EXPECT_THAT(error, HasSubstr("data_batch_3.bin has 4073 bytes"));
  EXPECT_THAT(error, HasSubstr("30730000 bytes"));  // what the distributed file has
  EXPECT_THAT(error, HasSubstr("truncated"));

  fs::remove(dir_ / "data_batch_3.bin");
  error = error_of();
  EXPECT_THAT(error, HasSubstr("data_batch_3.bin is missing"));
  EXPECT_THAT(error, HasSubstr("cifar-10-binary.tar.gz"));

  // A CIFAR-100 file given as CIFAR-10: labels beyond 9.
  write_records(dir_ / "data_batch_3.bin", cifar_format("cifar10"), 2, 0);
  const fs::path c100 = dir_ / "c100bad";
  fs::create_directories(c100);
  write_records(c100 / "test.bin", cifar_format("cifar100"), 2, 50);
  EXPECT_THROW(read_cifar_file((c100 / "test.bin").string(), cifar_format("cifar10")), DataError);
}

TEST_F(Cifar, ACifar10ConfigValidatesAndRunsTwoEpochs) {
  write_cifar10(dir_ / "data" / "cifar-10-batches-bin", 16);
  const std::string settings = " --set data.path=" + (dir_ / "data").string() +
                               " --set data.subset=64 --set data.test_subset=16"
                               " --set data.batch_size=16 --set space.channels=4"
                               " --set space.layers=3 --set search.epochs=2"
                               " --set experiment.threads=1 --set experiment.device=cpu";
  const std::string config = std::string(NASX_TEST_SOURCE_DIR) + "/configs/darts-cifar10.toml";
  const testing::Outcome valid = testing::run_nasx("validate " + config + settings);
  ASSERT_EQ(valid.exit_code, 0) << valid.output;
  const testing::Outcome run =
      testing::run_nasx("run " + config + settings + " --out " + (dir_ / "run").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(fs::exists(dir_ / "run" / "genotype.txt"));
  EXPECT_THAT(testing::read(dir_ / "run" / "events.jsonl"), HasSubstr("\"step\": 1"));
}

}  // namespace
}  // namespace nasx::core
