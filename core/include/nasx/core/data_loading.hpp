#pragma once
/// The data sets the host loads for a run ([data] in a config): Fashion-MNIST from its
/// IDX files (the real default) and a synthetic set for tests, split into the three
/// splits of nasx::DataSplits.

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "nasx/data.hpp"

namespace nasx::core {

/// Where the data comes from and how it is split. Defaults are the real data.
struct DataOptions {
  std::string name = "fashion-mnist";  ///< or "cifar10", "cifar100", "synthetic" (tests)
  std::string path = "/usr/share/datasets/fashion-mnist";
  double train_portion = 0.5;  ///< share of the training set that trains weights
  int64_t subset = 0;          ///< use a seeded random subset of the training set (0: all)
  int64_t test_subset = 0;     ///< likewise for the test set (0: all)
  int64_t batch_size = 64;
  int64_t data_seed = -1;  ///< seed of the subsets and the synthetic data (-1: the experiment's)
  // Synthetic data (tests only): class-dependent patterns plus noise.
  int64_t synthetic_train = 512;
  int64_t synthetic_test = 128;
  int64_t synthetic_channels = 1;
  int64_t synthetic_image_size = 8;
  int64_t synthetic_classes = 4;
};

/// Loads and splits the data set named in `options`, deterministically for `seed`
/// (options.data_seed instead when set).
/// Throws DataError naming the missing or malformed file and what to install.
DataSplits load_data(const DataOptions& options, uint64_t seed);

/// Reads one IDX file (optionally gzip-compressed) into a uint8 tensor of its shape.
at::Tensor read_idx_file(const std::string& path);

/// The whole split moved to `device`.
DataSplits to_device(const DataSplits& splits, c10::Device device);

}  // namespace nasx::core
