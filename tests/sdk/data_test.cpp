#include "nasx/data.hpp"
#include "nasx/memory_format.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <ATen/ATen.h>

namespace nasx {
namespace {

TEST(BatchLoader, OrderDependsOnlyOnSeedAndEpochAndDropsThePartialBatch) {
  TensorDataset data{at::arange(10, at::kFloat).reshape({10, 1, 1, 1}), at::arange(10, at::kLong)};
  BatchLoader a(data, 3, 42), b(data, 3, 42), c(data, 3, 43);
  EXPECT_EQ(a.batches_per_epoch(), 3);
  a.set_epoch(5);
  b.set_epoch(5);
  c.set_epoch(5);
  EXPECT_TRUE(at::equal(a.batch(1).labels, b.batch(1).labels));
  at::Tensor all_a = at::cat({a.batch(0).labels, a.batch(1).labels, a.batch(2).labels});
  at::Tensor all_c = at::cat({c.batch(0).labels, c.batch(1).labels, c.batch(2).labels});
  EXPECT_FALSE(at::equal(all_a, all_c));
  EXPECT_EQ(std::get<0>(at::_unique(all_a)).size(0), 9);  // no repeats within an epoch
  b.set_epoch(6);
  EXPECT_FALSE(at::equal(a.batch(0).labels, b.batch(0).labels) &&
               at::equal(a.batch(1).labels, b.batch(1).labels));
}

TEST(SeededPermutation, IsAPermutationFixedBySeed) {
  const std::vector<int64_t> a = seeded_permutation(50, 7);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_EQ(seeded_permutation(50, 7), a);
  EXPECT_NE(seeded_permutation(50, 8), a);
}

TEST(MemoryFormat, OneChannelImagesBecomeChannelsLastAndTheLayersAfterFollow) {
  at::manual_seed(0);
  const at::Tensor images = at::randn({4, 1, 8, 8});
  const at::Tensor weight = at::randn({6, 1, 3, 3});
  // LibTorch: one channel is "contiguous" in both layouts, .contiguous(ChannelsLast) keeps
  // the NCHW strides and a convolution after it answers in NCHW (the slow layout).
  const at::Tensor kept = images.contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_FALSE(at::conv2d(kept, weight, {}, 1, 1).is_contiguous(at::MemoryFormat::ChannelsLast));
  // channels_last() gives the strides that make the convolution answer channels-last.
  const at::Tensor x = channels_last(images);
  EXPECT_EQ(x.strides(), (std::vector<int64_t>{64, 1, 8, 1}));
  EXPECT_TRUE(at::equal(x, images));
  const at::Tensor y = at::conv2d(x, weight, {}, 1, 1);
  EXPECT_TRUE(y.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(at::allclose(y, at::conv2d(images, weight, {}, 1, 1), 1e-5, 1e-6));
  // More channels: the usual conversion; already channels-last: the same tensor.
  const at::Tensor rgb = channels_last(at::randn({2, 3, 4, 4}));
  EXPECT_TRUE(rgb.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(channels_last(x).is_same(x));
}

}  // namespace
}  // namespace nasx
