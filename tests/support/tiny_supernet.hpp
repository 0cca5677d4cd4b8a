#pragma once
// A small DARTS supernet in float64 with fixed random batches, for tests that
// compare gradients against independent computations.

#include <memory>

#include <ATen/ATen.h>

#include "nasx/data.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"
#include "support/spaces.hpp"

namespace nasx::testing {

struct TinySupernet {
  std::unique_ptr<SearchSpace> space;  // outlives the net, which refers to it
  std::shared_ptr<Supernet> net;
  Batch train, search;
};

inline TinySupernet make_tiny_supernet(uint64_t seed) {
  SpaceOptions options;
  options.channels = 4;
  options.layers = 3;
  options.memory_format = "contiguous";
  at::manual_seed(seed);
  TinySupernet tiny;
  tiny.space = testing::make_space("darts", options);
  tiny.net = tiny.space->build_supernet(DataShape{1, 8, 8, 3});
  tiny.net->to(at::kDouble);
  tiny.net->train();
  {
    at::NoGradGuard no_grad;
    // Alphas away from uniform, so every term of the gradients matters.
    for (auto& alpha : tiny.net->arch_parameters()) alpha.copy_(0.5 * at::randn_like(alpha));
  }
  const auto options_double = at::TensorOptions(at::kDouble);
  tiny.train = {at::randn({8, 1, 8, 8}, options_double), at::randint(3, {8}, at::kLong)};
  tiny.search = {at::randn({8, 1, 8, 8}, options_double), at::randint(3, {8}, at::kLong)};
  return tiny;
}

inline double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  return (actual - expected).norm().item<double>() / expected.norm().item<double>();
}

}  // namespace nasx::testing
