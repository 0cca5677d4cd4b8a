#include "nasx/perturbation.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

namespace nasx {
namespace {

TEST(Perturbation, EffectiveWeightsAreSoftmaxOneHotOrZero) {
  const at::Tensor alpha = at::randn({4, 3}, at::kDouble);
  EdgeDecisions decisions(4);
  decisions.operation[1] = 2;
  decisions.removed[3] = true;
  decisions.operation[3] = 0;  // removal wins over a fixed operation
  const at::Tensor w = effective_weights(alpha, decisions);
  const at::Tensor soft = at::softmax(alpha, -1);
  EXPECT_TRUE(at::allclose(w[0], soft[0]));
  EXPECT_TRUE(at::allclose(w[2], soft[2]));
  EXPECT_TRUE(at::equal(w[1], at::tensor({0.0, 0.0, 1.0}, at::kDouble)));
  EXPECT_TRUE(at::equal(w[3], at::zeros({3}, at::kDouble)));
}

// A supernet whose accuracy is linear in the weights of edge 0: operation 1 carries the
// signal (value 1.0) but has the smaller weight; operation 0 has the larger weight and
// contributes little. Magnitude picks 0; removing 1 hurts most, so PT picks 1.
TEST(Perturbation, PicksTheOperationWhoseRemovalHurtsMostNotTheLargestWeight) {
  const at::Tensor weights = at::tensor({0.7, 0.2, 0.1}, at::kDouble).view({1, 3});
  const std::vector<double> value = {0.1, 1.0, 0.05};
  std::vector<at::Tensor> seen;
  const auto accuracy = [&](const at::Tensor& w) {
    seen.push_back(w.clone());
    double a = 0;
    for (int64_t k = 0; k < 3; ++k) a += w[0][k].item<double>() * value[static_cast<size_t>(k)];
    return a;
  };
  EXPECT_EQ(weights[0].argmax().item<int64_t>(), 0);  // magnitude's choice
  const OperationDecision d = choose_operation(weights, 0, {0, 1, 2}, accuracy);
  EXPECT_EQ(d.chosen, 1);
  ASSERT_EQ(d.masked_accuracy.size(), 3u);
  // Masking leaves the other weights of the edge as they were (not renormalised).
  EXPECT_TRUE(at::equal(seen[1], at::tensor({0.7, 0.0, 0.1}, at::kDouble).view({1, 3})));
  EXPECT_TRUE(at::equal(weights, at::tensor({0.7, 0.2, 0.1}, at::kDouble).view({1, 3})));
}

TEST(Perturbation, TopologyDropsAUselessInputFirst) {
  // Node with three input edges; edge 1 contributes nothing (identically zero input).
  const at::Tensor weights = at::full({3, 2}, 0.5, at::kDouble);
  const std::vector<double> usefulness = {0.3, 0.0, 0.5};
  const auto accuracy = [&](const at::Tensor& w) {
    double a = 0;
    for (int64_t e = 0; e < 3; ++e)
      a += w[e].sum().item<double>() * usefulness[static_cast<size_t>(e)];
    return a;
  };
  std::vector<int64_t> dropped;
  EXPECT_EQ(choose_inputs(weights, {0, 1, 2}, accuracy, &dropped), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(dropped, (std::vector<int64_t>{1}));
  // Five inputs cost 5 + 4 + 3 = 12 evaluations.
  int calls = 0;
  const auto count = [&](const at::Tensor&) { return static_cast<double>(++calls % 3); };
  choose_inputs(at::ones({5, 2}, at::kDouble), {0, 1, 2, 3, 4}, count);
  EXPECT_EQ(calls, 12);
}

}  // namespace
}  // namespace nasx
