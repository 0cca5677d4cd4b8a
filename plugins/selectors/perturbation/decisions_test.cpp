#include "perturbation/decisions.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/evaluate.hpp"
#include "support/tiny_supernet.hpp"

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
  const InputDecision d = choose_inputs(weights, {0, 1, 2}, accuracy);
  EXPECT_EQ(d.kept, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(d.dropped, (std::vector<int64_t>{1}));
  EXPECT_DOUBLE_EQ(d.accuracy, 0.3 + 0.5);  // edges 0 and 2 left, each row summing to 1
  // Each input is judged once, alone: five inputs cost five evaluations (the reference
  // repeats them every round, with the same result on fixed validation batches).
  int calls = 0;
  const auto count = [&](const at::Tensor&) { return static_cast<double>(++calls % 3); };
  choose_inputs(at::ones({5, 2}, at::kDouble), {0, 1, 2, 3, 4}, count);
  EXPECT_EQ(calls, 5);
}

TEST(Perturbation, TopologyJudgesEachInputRemovedAloneNotAfterEarlierDrops) {
  // Four inputs. Removing edge 0 hurts least, so it goes first either way. Then, with
  // edge 0 restored (the reference's reading), removing edge 2 alone hurts least and
  // {1, 3} stay; judged after the earlier drop instead, edge 1 would go and {2, 3} stay.
  const at::Tensor weights = at::ones({4, 3}, at::kDouble);
  const std::map<std::string, double> accuracy_without = {
      {"0", 0.9}, {"1", 0.5}, {"2", 0.6}, {"3", 0.4},        // one edge removed
      {"01", 0.8}, {"02", 0.3}, {"03", 0.3}};                // after dropping 0
  std::vector<std::string> trials;
  const auto accuracy = [&](const at::Tensor& w) {
    std::string removed;
    for (int64_t e = 0; e < 4; ++e)
      if (w[e].abs().sum().item<double>() == 0) removed += std::to_string(e);
    trials.push_back(removed);
    return accuracy_without.at(removed);
  };
  const InputDecision d = choose_inputs(weights, {0, 1, 2, 3}, accuracy);
  EXPECT_EQ(d.kept, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(d.dropped, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(trials, (std::vector<std::string>{"0", "1", "2", "3"}));  // one edge at a time
  EXPECT_DOUBLE_EQ(d.accuracy, 0.6);  // the last drop's trial
}

TEST(Perturbation, TopologyTiesDropTheLaterInput) {
  // The reference replaces its candidate on `not crit < extreme`: of equal trials the
  // last one is dropped, so equal inputs keep the earlier edges.
  const auto flat = [](const at::Tensor&) { return 0.5; };
  const InputDecision d = choose_inputs(at::ones({5, 2}, at::kDouble), {0, 1, 2, 3, 4}, flat);
  EXPECT_EQ(d.kept, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(d.dropped, (std::vector<int64_t>{4, 3, 2}));
}

TEST(Perturbation, EffectiveWeightsPassGradientsToUndecidedRowsOnly) {
  const at::Tensor alpha = at::randn({3, 4}, at::kDouble).requires_grad_(true);
  EdgeDecisions decisions(3);
  decisions.operation[0] = 1;
  decisions.removed[2] = true;
  const at::Tensor w = effective_weights(alpha, decisions);
  const at::Tensor probe = at::randn({3, 4}, at::kDouble);
  (w * probe).sum().backward();
  const at::Tensor grad = alpha.grad();
  EXPECT_TRUE(at::equal(grad[0], at::zeros({4}, at::kDouble)));
  EXPECT_TRUE(at::equal(grad[2], at::zeros({4}, at::kDouble)));
  // Row 1 is softmax: its gradient is J^T probe with J = diag(p) - p p^T.
  const at::Tensor p = at::softmax(alpha.detach()[1], 0);
  const at::Tensor expected = p * probe[1] - p * (p * probe[1]).sum();
  EXPECT_TRUE(at::allclose(grad[1], expected, 1e-12, 1e-12));
}

TEST(Perturbation, EvaluationUsesBatchStatisticsAndLeavesTheSupernetUnchanged) {
  auto tiny = testing::make_tiny_supernet(9);
  auto& net = *tiny.net;
  // Running statistics away from their initial values, as after a search.
  net.train();
  {
    at::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) net.forward(3.0 * tiny.train.images + 1.0);
  }
  std::vector<at::Tensor> before;
  for (const auto& t : net.parameters()) before.push_back(t.detach().clone());
  for (const auto& t : net.buffers()) before.push_back(t.clone());
  net.eval();

  const std::vector<at::Tensor> weights = net.arch_weights();
  const TensorDataset data{tiny.search.images, tiny.search.labels};
  const EvalResult batch = evaluate_supernet_with_weights(net, weights, data, 8, 0, true);
  EXPECT_FALSE(net.is_training());  // the mode is restored
  size_t i = 0;
  for (const auto& t : net.parameters()) EXPECT_TRUE(at::equal(t, before[i++]));
  for (const auto& t : net.buffers()) EXPECT_TRUE(at::equal(t, before[i++]));
  const EvalResult running = evaluate_supernet_with_weights(net, weights, data, 8, 0, false);
  EXPECT_GT(std::abs(running.loss - batch.loss), 1e-6);  // running statistics differ

  // Independently: one train-mode forward on the single minibatch.
  net.train();
  at::NoGradGuard no_grad;
  const at::Tensor logits = net.forward_with_weights(data.images, weights);
  const at::Tensor loss = at::nll_loss(at::log_softmax(logits, 1), data.labels);
  EXPECT_NEAR(batch.loss, loss.item<double>(), 1e-10);
  EXPECT_DOUBLE_EQ(batch.accuracy,
                   logits.argmax(1).eq(data.labels).to(at::kDouble).mean().item<double>());
}

}  // namespace
}  // namespace nasx
