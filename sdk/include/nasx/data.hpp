#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "nasx/export.hpp"

namespace nasx {

/// Shape of the images and labels a space is built for.
struct DataShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t classes = 10;
};

/// Images [N, C, H, W] (float, normalised) and labels [N] (int64) on one device.
struct TensorDataset {
  at::Tensor images;
  at::Tensor labels;
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

/// One minibatch.
struct Batch {
  at::Tensor images;  ///< [batch, C, H, W]
  at::Tensor labels;  ///< [batch]
};

/// The three splits a search uses: `train` trains the weights, `search` the
/// architecture (and is the validation set during search), `test` gives final numbers.
struct DataSplits {
  std::string name;
  DataShape shape;
  TensorDataset train;
  TensorDataset search;
  TensorDataset test;
};

/// Where the data comes from and how it is split. Defaults are the real data.
struct DataOptions {
  std::string name = "fashion-mnist";  ///< "fashion-mnist" or "synthetic" (tests)
  std::string path = "/usr/share/datasets/fashion-mnist";
  double train_portion = 0.5;  ///< share of the training set that trains weights
  int64_t subset = 0;          ///< use a seeded random subset of the training set (0: all)
  int64_t test_subset = 0;     ///< likewise for the test set (0: all)
  int64_t batch_size = 64;
  // Synthetic data (tests only): class-dependent patterns plus noise.
  int64_t synthetic_train = 512;
  int64_t synthetic_test = 128;
  int64_t synthetic_channels = 1;
  int64_t synthetic_image_size = 8;
  int64_t synthetic_classes = 4;
};

/// An independent random stream's seed for (`seed`, `stream`) (SplitMix64 mixing),
/// so that data order, subsets and plugins never share a generator by accident.
NASX_API uint64_t derive_seed(uint64_t seed, uint64_t stream);

/// Loads and splits the data set named in `options`, deterministically for `seed`.
/// Throws DataError naming the missing or malformed file and what to install.
NASX_API DataSplits load_data(const DataOptions& options, uint64_t seed);

/// Reads one IDX file (optionally gzip-compressed) into a uint8 tensor of its shape.
NASX_API at::Tensor read_idx_file(const std::string& path);

/// The whole split moved to `device`.
NASX_API DataSplits to_device(const DataSplits& splits, c10::Device device);

/// Minibatches over a dataset in a fresh seeded order every epoch. Drops the last
/// partial batch, so every step has the same shape (CUDA-graph friendly).
class NASX_API BatchLoader {
 public:
  BatchLoader(TensorDataset data, int64_t batch_size, uint64_t seed, bool shuffle = true);

  int64_t batches_per_epoch() const;
  /// Reorders for `epoch`; the order depends only on (seed, epoch).
  void set_epoch(int64_t epoch);
  Batch batch(int64_t index) const;

 private:
  TensorDataset data_;
  int64_t batch_size_;
  uint64_t seed_;
  bool shuffle_;
  at::Tensor order_;  // int64 [N] on the data's device
};

}  // namespace nasx
