// The shared-weight evaluator's minibatches: fixed ones (the same for every candidate)
// and fresh ones ([evaluator] fresh_batches: drawn per candidate, seeded by its name, so
// that a resumed search or a cache miss measures an architecture exactly as before).

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/core/data_loading.hpp"
#include "nasx/core/evaluators.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"
#include "support/spaces.hpp"

namespace nasx {
namespace {

class SharedEvaluator : public ::testing::Test {
 protected:
  SharedEvaluator() {
    SpaceOptions options;
    options.channels = 4;
    options.layers = 1;
    space_ = testing::make_space("nb201", options);
    core::DataOptions data;
    data.name = "synthetic";
    data.synthetic_train = 256;  // 128 train the weights, 128 search
    data.synthetic_test = 16;
    data.batch_size = 16;
    data_ = core::load_data(data, 0);
    at::manual_seed(0);
    net_ = space_->build_supernet(data_.shape);
    std::mt19937_64 rng(3);
    for (int i = 0; i < 6; ++i) archs_.push_back(space_->sample(rng));
  }

  std::unique_ptr<core::Evaluator> evaluator(bool fresh, int64_t batches,
                                             const std::string& batchnorm = "batch") {
    core::EvaluatorOptions options;
    options.fresh_batches = fresh;
    options.batches = batches;
    options.batchnorm = batchnorm;
    return core::make_evaluator(options, *net_, data_, 16, /*seed=*/7);
  }

  std::unique_ptr<SearchSpace> space_;
  DataSplits data_;
  std::shared_ptr<Supernet> net_;
  std::vector<Architecture> archs_;
};

TEST_F(SharedEvaluator, FreshBatchesDifferPerCandidateAndRepeatAcrossInstancesAndOrder) {
  auto fixed = evaluator(false, 2);
  auto fresh = evaluator(true, 2);
  auto resumed = evaluator(true, 2);  // another process measuring the same candidates
  std::vector<double> first;
  for (const Architecture& arch : archs_) first.push_back(fresh->evaluate(arch).loss);
  // The other instance measures them in reverse order: each gets its own batches anyway.
  for (size_t i = archs_.size(); i-- > 0;)
    EXPECT_DOUBLE_EQ(resumed->evaluate(archs_[i]).loss, first[i]) << space_->format(archs_[i]);
  // And a repeat in the same instance is the same measurement.
  EXPECT_DOUBLE_EQ(fresh->evaluate(archs_[0]).loss, first[0]);
  // Fresh batches are not the fixed ones: 32 of 128 images drawn per candidate.
  int differ = 0;
  for (size_t i = 0; i < archs_.size(); ++i)
    differ += std::abs(fixed->evaluate(archs_[i]).loss - first[i]) > 1e-6 ? 1 : 0;
  EXPECT_GE(differ, 5) << "fresh batches measured like the fixed ones";
}

TEST_F(SharedEvaluator, FreshBatchesOverTheWholeSplitAreTheSameImagesInAnotherOrder) {
  // With running BatchNorm statistics a minibatch's composition does not matter: over all
  // 128 search images, fresh and fixed measure the same mean loss and accuracy, and both
  // equal evaluate_path over the whole split.
  auto fixed = evaluator(false, 8, "running");
  auto fresh = evaluator(true, 8, "running");
  for (const Architecture& arch : archs_) {
    const EvalResult direct = evaluate_path(*net_, arch, data_.search, 16, 0, false);
    EXPECT_NEAR(fresh->evaluate(arch).loss, direct.loss, 1e-5);
    EXPECT_NEAR(fixed->evaluate(arch).loss, direct.loss, 1e-5);
    EXPECT_NEAR(fresh->evaluate(arch).accuracy, direct.accuracy, 1e-9);
  }
}

TEST_F(SharedEvaluator, AGroupIsMeasuredAsEachAloneAndItsTimeShared) {
  // evaluate_all on the fixed minibatches runs the group together (evaluate_paths); each
  // figure is evaluate()'s to the bit, a repeated architecture included, with batch and
  // running BatchNorm statistics; with fresh minibatches each keeps its own batches.
  std::vector<Architecture> group = archs_;
  group.push_back(archs_[1]);
  for (const std::string batchnorm : {"batch", "running"})
    for (const bool fresh : {false, true}) {
      auto together = evaluator(fresh, 3, batchnorm);
      auto alone = evaluator(fresh, 3, batchnorm);
      const std::vector<Evaluation> measured = together->evaluate_all(group);
      ASSERT_EQ(measured.size(), group.size());
      for (size_t i = 0; i < group.size(); ++i) {
        const Evaluation single = alone->evaluate(group[i]);
        EXPECT_EQ(measured[i].loss, single.loss) << batchnorm << " fresh " << fresh << " " << i;
        EXPECT_EQ(measured[i].accuracy, single.accuracy) << batchnorm << " fresh " << fresh;
        EXPECT_GT(measured[i].seconds, 0.0);
      }
      if (!fresh) {  // one pass: every member is charged the same share of it
        for (const Evaluation& e : measured) EXPECT_EQ(e.seconds, measured[0].seconds);
      }
    }
  // The architectures measured differ: the group is not one figure repeated.
  auto fixed = evaluator(false, 3);
  const std::vector<Evaluation> measured = fixed->evaluate_all(archs_);
  int distinct = 0;
  for (size_t i = 1; i < measured.size(); ++i) distinct += measured[i].loss != measured[0].loss;
  EXPECT_GE(distinct, 4);
}

}  // namespace
}  // namespace nasx
