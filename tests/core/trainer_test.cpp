#include "nasx/core/trainer.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/archive.h>

#include "darts/network.hpp"
#include "nasx/space.hpp"

namespace nasx::core {
namespace {

at::Tensor distinct_images(int64_t n, int64_t size) {
  // Every pixel distinct and non-zero, so a crop's shift can be recovered exactly.
  return at::arange(1, n * size * size + 1, at::kFloat).view({n, 1, size, size});
}

TEST(Augment, RandomCropIsAShiftWithZerosWithinThePadding) {
  TrainOptions options;
  options.crop_padding = 2;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  const at::Tensor images = distinct_images(20, 6);
  const at::Tensor cropped = augment(images, options, generator);
  ASSERT_EQ(cropped.sizes(), images.sizes());
  std::set<std::pair<int64_t, int64_t>> shifts;
  for (int64_t n = 0; n < 20; ++n) {
    bool found = false;
    for (int64_t dy = -2; dy <= 2 && !found; ++dy) {
      for (int64_t dx = -2; dx <= 2 && !found; ++dx) {
        // Output pixel (y, x) = input (y + dy, x + dx), zero outside.
        const at::Tensor padded = at::constant_pad_nd(images[n], {2, 2, 2, 2});
        const at::Tensor expected = padded.narrow(1, 2 + dy, 6).narrow(2, 2 + dx, 6);
        if (at::equal(cropped[n], expected)) {
          found = true;
          shifts.insert({dy, dx});
        }
      }
    }
    EXPECT_TRUE(found) << "image " << n << " is not a shifted copy";
  }
  EXPECT_GT(shifts.size(), 5u);  // the shifts vary per image
}

TEST(Augment, FlipMirrorsAboutHalfTheImages) {
  TrainOptions options;
  options.flip = true;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor images = distinct_images(400, 5);
  const at::Tensor out = augment(images, options, generator);
  int64_t flipped = 0;
  for (int64_t n = 0; n < 400; ++n) {
    if (at::equal(out[n], images[n].flip({2}))) {
      ++flipped;
    } else {
      EXPECT_TRUE(at::equal(out[n], images[n]));
    }
  }
  EXPECT_NEAR(flipped, 200, 40);
}

TEST(Augment, CutoutZeroesOneClippedSquarePerImage) {
  TrainOptions options;
  options.cutout = 4;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  const at::Tensor images = at::ones({50, 2, 10, 10});
  const at::Tensor out = augment(images, options, generator);
  bool clipped_seen = false;
  for (int64_t n = 0; n < 50; ++n) {
    const at::Tensor zero = out[n][0].eq(0);
    EXPECT_TRUE(at::equal(out[n][0], out[n][1]));  // same square on every channel
    const at::Tensor rows = zero.any(1).nonzero().flatten(), cols = zero.any(0).nonzero().flatten();
    ASSERT_GT(rows.numel(), 0);
    const int64_t height = rows.numel(), width = cols.numel();
    EXPECT_LE(height, 4);
    EXPECT_LE(width, 4);
    EXPECT_EQ(zero.sum().item<int64_t>(), height * width);  // a filled rectangle
    if (height < 4 || width < 4) clipped_seen = true;
  }
  EXPECT_TRUE(clipped_seen);
}

TensorDataset synthetic(int64_t n, uint64_t seed) {
  at::manual_seed(seed);
  TensorDataset data;
  data.labels = at::randint(0, 4, {n}, at::kLong);
  data.images = at::randn({n, 1, 8, 8}) + data.labels.view({n, 1, 1, 1}).to(at::kFloat);
  return data;
}

const char* const kGenotype =
    "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_3x3', 0), "
    "('max_pool_3x3', 2), ('sep_conv_3x3', 1), ('skip_connect', 3), ('avg_pool_3x3', 0), "
    "('dil_conv_3x3', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('sep_conv_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

std::shared_ptr<darts::EvalNetwork> small_network() {
  at::manual_seed(11);
  darts::EvalNetworkOptions options;
  options.channels = 4;
  options.layers = 3;
  return std::make_shared<darts::EvalNetwork>(Genotype::parse(kGenotype), DataShape{1, 8, 8, 4},
                                              options);
}

TrainOptions everything_on() {
  TrainOptions options;
  options.epochs = 3;
  options.batch_size = 16;
  options.lr = 0.05;
  options.auxiliary_weight = 0.4;
  options.drop_path_prob = 0.3;
  options.cutout = 3;
  options.crop_padding = 1;
  options.flip = true;
  return options;
}

TEST(Trainer, ResumedFromAnEpochBoundaryEndsAsTheUninterruptedRun) {
  const TensorDataset data = synthetic(96, 2);
  auto straight = small_network();
  Trainer a(*straight, data, everything_on(), 5);
  while (a.next_epoch() < a.epochs()) ASSERT_TRUE(a.run_epoch().complete);

  auto first = small_network();
  Trainer b(*first, data, everything_on(), 5);
  b.run_epoch();
  b.run_epoch();
  torch::serialize::OutputArchive saved_trainer, saved_net;
  b.save(saved_trainer);
  first->save(saved_net);
  std::ostringstream trainer_bytes, net_bytes;
  saved_trainer.save_to(trainer_bytes);
  saved_net.save_to(net_bytes);

  auto second = small_network();
  at::manual_seed(999);  // the global generator must not matter
  Trainer c(*second, data, everything_on(), 5);
  torch::serialize::InputArchive loaded_trainer, loaded_net;
  std::istringstream trainer_in(trainer_bytes.str()), net_in(net_bytes.str());
  loaded_trainer.load_from(trainer_in);
  loaded_net.load_from(net_in);
  second->load(loaded_net);
  c.load(loaded_trainer);
  EXPECT_EQ(c.next_epoch(), 2);
  c.run_epoch();
  EXPECT_EQ(c.next_epoch(), 3);

  const auto p = straight->named_parameters(), q = second->named_parameters();
  ASSERT_EQ(p.size(), q.size());
  for (const auto& item : p) EXPECT_TRUE(at::equal(item.value(), q[item.key()])) << item.key();
  const auto bp = straight->named_buffers(), bq = second->named_buffers();
  for (const auto& item : bp) EXPECT_TRUE(at::equal(item.value(), bq[item.key()])) << item.key();
}

TEST(Trainer, LearnsTheSyntheticTaskAndTrainsTheAuxiliaryHeadOnlyWhenWeighted) {
  const TensorDataset data = synthetic(256, 3);
  auto net = small_network();
  TrainOptions options = everything_on();
  options.epochs = 4;
  options.auxiliary_weight = 0.0;
  options.cutout = 0;
  options.crop_padding = 0;
  std::map<std::string, at::Tensor> before;
  for (const auto& item : net->named_parameters()) before[item.key()] = item.value().clone();
  const TrainResult result = train_network(*net, data, synthetic(128, 4), options, 1);
  EXPECT_GT(result.valid.accuracy, 0.6);
  for (const auto& item : net->named_parameters()) {
    const bool auxiliary = item.key().rfind(kAuxiliaryPrefix, 0) == 0;
    EXPECT_EQ(at::equal(before[item.key()], item.value()), auxiliary) << item.key();
  }
}

}  // namespace
}  // namespace nasx::core
