#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

/// An independent random stream's seed for (`seed`, `stream`) (SplitMix64 mixing),
/// so that data order, subsets and plugins never share a generator by accident.
NASX_API uint64_t derive_seed(uint64_t seed, uint64_t stream);

/// A seeded permutation of 0..n-1 (Fisher-Yates on mt19937_64), identical on every
/// platform and LibTorch version.
NASX_API std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

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
