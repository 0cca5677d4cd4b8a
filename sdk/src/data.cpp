#include "nasx/data.hpp"

#include <random>
#include <vector>

#include <ATen/ATen.h>

namespace nasx {

uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

BatchLoader::BatchLoader(TensorDataset data, int64_t batch_size, uint64_t seed, bool shuffle)
    : data_(std::move(data)), batch_size_(batch_size), seed_(seed), shuffle_(shuffle) {
  set_epoch(0);
}

int64_t BatchLoader::batches_per_epoch() const { return data_.size() / batch_size_; }

void BatchLoader::set_epoch(int64_t epoch) {
  const auto n = data_.size();
  std::vector<int64_t> order;
  if (shuffle_) {
    order = seeded_permutation(n, derive_seed(seed_, 1000 + static_cast<uint64_t>(epoch)));
  } else {
    order.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[i] = i;
  }
  order_ = at::tensor(order, at::kLong).to(data_.images.device());
}

Batch BatchLoader::batch(int64_t index) const {
  const at::Tensor indices = order_.narrow(0, index * batch_size_, batch_size_);
  return {data_.images.index_select(0, indices), data_.labels.index_select(0, indices)};
}

}  // namespace nasx
