#include "nasx/core/data_loading.hpp"

#include <unistd.h>
#include <zlib.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/error.hpp"

namespace nasx::core {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("nasx_data_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_gz(const fs::path& path, const std::vector<unsigned char>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

TEST(ReadIdxFile, ReadsShapeAndBytesOfAGzippedFile) {
  const fs::path dir = temp_dir("idx");
  // magic 0x00000803 (ubyte, 3 dims), dims 2 x 2 x 3, then 12 bytes.
  std::vector<unsigned char> bytes = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (unsigned char i = 0; i < 12; ++i) bytes.push_back(i * 10);
  write_gz(dir / "x.gz", bytes);
  const at::Tensor t = read_idx_file((dir / "x.gz").string());
  EXPECT_EQ(t.sizes(), (at::IntArrayRef{2, 2, 3}));
  EXPECT_EQ(t[1][1][2].item<uint8_t>(), 110);
}

TEST(ReadIdxFile, RejectsTruncatedAndForeignFiles) {
  const fs::path dir = temp_dir("bad");
  write_gz(dir / "short.gz", {0, 0, 8, 1, 0, 0, 0, 9, 1, 2});
  EXPECT_THROW(
      {
        try {
          read_idx_file((dir / "short.gz").string());
        } catch (const DataError& e) {
          EXPECT_THAT(e.what(), HasSubstr("data ends after 2 of 9 bytes"));
          throw;
        }
      },
      DataError);
  write_gz(dir / "text.gz", {'h', 'e', 'l', 'l', 'o'});
  EXPECT_THROW(read_idx_file((dir / "text.gz").string()), DataError);
}

TEST(LoadData, MissingFashionMnistSaysWhatToInstall) {
  DataOptions options;
  options.path = temp_dir("empty").string();
  try {
    load_data(options, 0);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("train-images-idx3-ubyte.gz is missing"));
    EXPECT_THAT(e.what(), HasSubstr("apt-get install dataset-fashion-mnist"));
  }
}

TEST(LoadData, RealFashionMnistSplitsAsConfigured) {
  DataOptions options;
  if (!fs::exists(options.path + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed";
  options.subset = 1000;
  options.test_subset = 200;
  options.train_portion = 0.5;
  const DataSplits splits = load_data(options, 3);
  EXPECT_EQ(splits.train.size(), 500);
  EXPECT_EQ(splits.search.size(), 500);
  EXPECT_EQ(splits.test.size(), 200);
  EXPECT_EQ(splits.shape.channels, 1);
  EXPECT_EQ(splits.shape.height, 28);
  EXPECT_EQ(splits.train.images.sizes(), (at::IntArrayRef{500, 1, 28, 28}));
  // Normalised: roughly zero mean, unit spread; every class present.
  EXPECT_NEAR(splits.train.images.mean().item<double>(), 0.0, 0.15);
  EXPECT_EQ(std::get<0>(at::_unique(splits.train.labels)).size(0), 10);
  // Same seed, same subset; another seed, another one.
  EXPECT_TRUE(at::equal(load_data(options, 3).train.labels, splits.train.labels));
  EXPECT_FALSE(at::equal(load_data(options, 4).train.labels, splits.train.labels));
}

TEST(LoadData, RejectsSplitsSmallerThanABatch) {
  DataOptions options;
  options.name = "synthetic";
  options.synthetic_train = 100;
  options.batch_size = 64;
  EXPECT_THROW(load_data(options, 0), DataError);
}

}  // namespace
}  // namespace nasx::core
