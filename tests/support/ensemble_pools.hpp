#pragma once
// Hand-made ensemble pools from saep.md, shared by the pruner and schedule tests.

#include <vector>

#include <ATen/ATen.h>

#include "nasx/pruner.hpp"

namespace nasx::testing {

/// One-hot probabilities of hard predictions [members, samples] over `classes`.
inline at::Tensor one_hot_probabilities(const at::Tensor& hard, int64_t classes) {
  return at::one_hot(hard, classes).to(at::kDouble);
}

/// saep.md's PIE pool: A, an exact copy A', and two independently corrupted copies of
/// the labels, over 200 samples and 4 classes.
inline EnsemblePool pie_pool() {
  at::manual_seed(3);
  const at::Tensor labels = at::randint(0, 4, {200}, at::kLong);
  auto corrupt = [&](double rate) {
    const at::Tensor flip = at::rand({200}).lt(rate);
    return at::where(flip, at::randint(0, 4, {200}, at::kLong), labels);
  };
  const at::Tensor a = corrupt(0.3);
  const at::Tensor hard = at::stack({a, a.clone(), corrupt(0.3), corrupt(0.3)});
  return {one_hot_probabilities(hard, 4), labels};
}

/// Members that each predict class 0 with the given probability (2 classes) on 6
/// samples of class 0.
inline EnsemblePool constant_pool(const std::vector<double>& p0) {
  const auto members = static_cast<int64_t>(p0.size());
  at::Tensor probabilities = at::empty({members, 6, 2}, at::kDouble);
  for (int64_t m = 0; m < members; ++m) {
    probabilities[m].select(1, 0).fill_(p0[static_cast<size_t>(m)]);
    probabilities[m].select(1, 1).fill_(1 - p0[static_cast<size_t>(m)]);
  }
  return {probabilities, at::zeros({6}, at::kLong)};
}

/// saep.md's PAP case: members output p0 = 0.9 (G), 0.2 (D1), 0.3 (D2), 0.55 (N).
inline EnsemblePool pap_pool() { return constant_pool({0.9, 0.2, 0.3, 0.55}); }

}  // namespace nasx::testing
