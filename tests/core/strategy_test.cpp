// The strategy plugins themselves, loaded from their .so files and driven step by step
// through a test Context whose evaluator is a synthetic fitness: evolution finds the
// optimum, random search answers with the best it measured, MiLeNAS' early-stopping
// rule, and each strategy refusing what it cannot do.

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "darts/supernet.hpp"
#include "nasx/context.hpp"
#include "nasx/core/data_loading.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/evolution.hpp"
#include "nasx/sampling_search.hpp"
#include "nasx/space.hpp"
#include "nasx/strategy.hpp"
#include "nasx/supernet.hpp"
#include "support/spaces.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;

/// A Context over a real tiny supernet and synthetic data whose evaluate() is `fitness`.
class TestContext final : public Context {
 public:
  /// `images`: synthetic training images, half of them the search split.
  TestContext(const std::string& space_name, std::function<double(const Architecture&)> fitness,
              int64_t images = 64)
      : fitness_(std::move(fitness)) {
    SpaceOptions options;
    options.channels = 4;
    options.layers = space_name == "darts" ? 3 : 1;
    space_ = testing::make_space(space_name, options);
    core::DataOptions data;
    data.name = "synthetic";
    data.synthetic_train = images;
    data.synthetic_test = 16;
    data.batch_size = 16;
    data_ = core::load_data(data, 0);
    at::manual_seed(0);
    net_ = space_->build_supernet(data_.shape);
  }

  const SearchSpace& space() const override { return *space_; }
  Supernet& supernet() override { return *net_; }
  const DataSplits& data() const override { return data_; }
  int64_t batch_size() const override { return 16; }
  c10::Device device() const override { return c10::Device("cpu"); }
  uint64_t seed() const override { return 0; }
  const ParamValues& params() const override { return params_; }
  void report_progress(int64_t, int64_t, const MetricsMeter&) override {}
  void log_event(const std::string& type, const Json& fields) override {
    events.push_back(type);
    event_fields.push_back(fields);
  }
  Evaluation evaluate(const Architecture& arch) override {
    Evaluation e;
    e.accuracy = fitness_(arch);
    evaluations.push_back({arch, e.accuracy});
    return e;
  }
  /// Records each group, then measures its members one by one as evaluate() does.
  std::vector<Evaluation> evaluate_all(const std::vector<Architecture>& archs) override {
    groups.push_back(archs);
    return Context::evaluate_all(archs);
  }
  Evaluation score(const Architecture& arch) override {
    Evaluation e;
    e.accuracy = score_(arch);
    e.is_score = true;
    scores.push_back({arch, e.accuracy});
    return e;
  }
  std::string evaluator() const override { return evaluator_name; }
  void info(const std::string&) override {}
  bool stop_requested() const override { return false; }

  ParamValues params_;
  std::vector<std::pair<Architecture, double>> evaluations;
  std::vector<std::vector<Architecture>> groups;  // what each evaluate_all() was given
  std::vector<std::pair<Architecture, double>> scores;
  /// The fake training-free score (default: the fitness negated, so scores mislead).
  std::function<double(const Architecture&)> score_ = [this](const Architecture& a) {
    return -fitness_(a);
  };
  std::vector<std::string> events;
  std::vector<Json> event_fields;  // beside `events`
  std::string evaluator_name = "synthetic";

 private:
  std::function<double(const Architecture&)> fitness_;
  std::unique_ptr<SearchSpace> space_;
  DataSplits data_;
  std::shared_ptr<Supernet> net_;
};

class Strategies : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& dir : core::PluginRegistry::default_directories())
      registry_.add_directory(dir, false);
  }

  /// The strategy `name` with its defaults, overridden by `params`, set up on `ctx`.
  std::unique_ptr<SearchStrategy> make(const std::string& name, TestContext& ctx,
                                       const ParamValues& params) {
    const auto& info = registry_.find(NASX_KIND_STRATEGY, name);
    ctx.params_.clear();
    for (const auto& spec : info.schema.specs()) ctx.params_[spec.name] = spec.default_value;
    for (const auto& [key, value] : params) ctx.params_[key] = value;
    auto strategy = core::create_plugin<SearchStrategy>(registry_, info);
    strategy->setup(ctx);
    return strategy;
  }

  static void run_all(SearchStrategy& strategy, TestContext& ctx) {
    for (int64_t step = 0; step < strategy.total_steps(); ++step) {
      const auto metrics = strategy.step(ctx, step);
      if (!strategy.end_step(ctx, step, metrics)) break;
    }
  }

  core::PluginRegistry registry_;
};

/// Edges carrying nor_conv_3x3, out of 6.
double conv3x3_share(const Architecture& arch) {
  double n = 0;
  for (int op : arch.cells[0]) n += op == 3;
  return n / 6;
}

TEST_F(Strategies, EvolutionFindsTheOptimumOfASyntheticFitness) {
  TestContext ctx("nb201", conv3x3_share);
  auto evolution =
      make("evolution", ctx,
           {{"population", int64_t{10}}, {"sample_size", int64_t{3}}, {"cycles", int64_t{1000}}});
  EXPECT_EQ(evolution->total_steps(), 100);  // no supernet epochs without a shared evaluator
  run_all(*evolution, ctx);
  ASSERT_TRUE(evolution->best());
  EXPECT_EQ(conv3x3_share(*evolution->best()), 1.0) << ctx.space().format(*evolution->best());
  // Mutation walks: after the initial population every measured child is one edit
  // away from a member measured earlier.
  for (size_t i = 10; i < ctx.evaluations.size(); ++i) {
    bool one_edit = false;
    for (size_t j = 0; j < i && !one_edit; ++j)
      one_edit = ctx.evaluations[i].first.distance(ctx.evaluations[j].first) == 1;
    EXPECT_TRUE(one_edit) << i;
  }
}

TEST_F(Strategies, EvolutionRemovesTheOldestMemberNotTheWorst) {
  // Fitness falls with every measurement, so the oldest member is always the best: with
  // aging it leaves after P cycles and each child's parent is the member measured P
  // cycles before it (S = 100 draws from 5 members miss the best with p = 2e-10).
  // Removing the worst instead would keep the initial five forever.
  int measured = 0;
  TestContext ctx("nb201", [&](const Architecture&) { return 1.0 - 0.001 * measured++; });
  auto evolution =
      make("evolution", ctx,
           {{"population", int64_t{5}}, {"sample_size", int64_t{100}}, {"cycles", int64_t{30}}});
  run_all(*evolution, ctx);
  ASSERT_EQ(ctx.evaluations.size(), 30u) << "a repeated child: choose other settings";
  for (size_t i = 5; i < ctx.evaluations.size(); ++i)
    EXPECT_EQ(ctx.evaluations[i].first.distance(ctx.evaluations[i - 5].first), 1) << i;
}

TEST_F(Strategies, EvolutionsNodeFirstMutationIsTheNb201ReferencesRule) {
  // AutoDL's R_EA.py: a node among 1..3, then one of its 1, 2 or 3 incoming edges: edge
  // 0 (node 1) changes with p = 1/3, edges 1-2 with 1/6, edges 3-5 with 1/9. The
  // space's own mutation draws the edge uniformly (1/6 each).
  TestContext ctx("nb201", conv3x3_share);
  std::mt19937_64 rng(5);
  const Architecture parent = ctx.space().sample(rng);
  const int draws = 30000;
  std::vector<double> node_first(6, 0.0), uniform(6, 0.0);
  for (int i = 0; i < draws; ++i) {
    for (auto [child, counts] :
         {std::pair{mutate_node_first(ctx.space(), parent, rng), &node_first},
          std::pair{ctx.space().mutate(parent, rng), &uniform}}) {
      ASSERT_EQ(child.distance(parent), 1);
      for (size_t e = 0; e < 6; ++e)
        if (child.cells[0][e] != parent.cells[0][e]) (*counts)[e] += 1.0 / draws;
    }
  }
  const double expected[6] = {1.0 / 3, 1.0 / 6, 1.0 / 6, 1.0 / 9, 1.0 / 9, 1.0 / 9};
  for (size_t e = 0; e < 6; ++e) {
    EXPECT_NEAR(node_first[e], expected[e], 0.015) << e;
    EXPECT_NEAR(uniform[e], 1.0 / 6, 0.015) << e;
  }
  // The strategy uses it on request; the DARTS space, which chooses inputs, refuses it.
  auto evolution =
      make("evolution", ctx, {{"mutation", std::string("node")}, {"cycles", int64_t{30}}});
  run_all(*evolution, ctx);
  EXPECT_GT(ctx.evaluations.size(), 10u);  // repeated children are measured once
  TestContext darts("darts", conv3x3_share);
  try {
    make("evolution", darts, {{"mutation", std::string("node")}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("use mutation = \"space\""));
  }
}

TEST_F(Strategies, RandomSearchAnswersWithTheBestItMeasured) {
  TestContext ctx("nb201", conv3x3_share);
  auto random = make("random", ctx, {{"candidates", int64_t{30}}});
  run_all(*random, ctx);
  double best = -1;
  for (const auto& [arch, fitness] : ctx.evaluations) best = std::max(best, fitness);
  ASSERT_TRUE(random->best());
  EXPECT_EQ(conv3x3_share(*random->best()), best);
  EXPECT_LE(ctx.evaluations.size(), 30u);
}

/// The sizes of `groups`.
std::vector<size_t> sizes(const std::vector<std::vector<Architecture>>& groups) {
  std::vector<size_t> out;
  for (const auto& group : groups) out.push_back(group.size());
  return out;
}

/// Every measurement was made inside a group, each architecture once, none repeated.
void expect_measured_in_groups_once(const TestContext& ctx) {
  std::vector<Architecture> grouped;
  for (const auto& group : ctx.groups) grouped.insert(grouped.end(), group.begin(), group.end());
  ASSERT_EQ(grouped.size(), ctx.evaluations.size());
  std::set<Architecture> distinct;
  for (size_t i = 0; i < grouped.size(); ++i) {
    EXPECT_EQ(grouped[i], ctx.evaluations[i].first) << i;
    EXPECT_TRUE(distinct.insert(grouped[i]).second) << "measured twice: " << i;
  }
}

TEST_F(Strategies, SamplingStrategiesMeasureWhatIsIndependentAsOneGroup) {
  // Random search: a step's candidates (10 per step) in one group.
  TestContext random_ctx("nb201", conv3x3_share);
  auto random = make("random", random_ctx, {{"candidates", int64_t{25}}});
  run_all(*random, random_ctx);
  expect_measured_in_groups_once(random_ctx);
  EXPECT_THAT(sizes(random_ctx.groups),
              ::testing::ElementsAre(10, 10, 5));  // no repeats in 25 of 15,625
  // Evolution: the initial population's cycles of a step in one group, then each child
  // alone (it depends on the population before it). Steps of 4 cycles, population 10.
  TestContext evolution_ctx("nb201", conv3x3_share);
  auto evolution = make(
      "evolution", evolution_ctx,
      {{"population", int64_t{10}}, {"cycles", int64_t{14}}, {"evaluations_per_step", int64_t{4}}});
  run_all(*evolution, evolution_ctx);
  expect_measured_in_groups_once(evolution_ctx);
  const auto evolved = sizes(evolution_ctx.groups);
  ASSERT_GE(evolved.size(), 3u);
  EXPECT_THAT(std::vector<size_t>(evolved.begin(), evolved.begin() + 3),
              ::testing::ElementsAre(4, 4, 2));
  for (size_t i = 3; i < evolved.size(); ++i) EXPECT_EQ(evolved[i], 1u) << i;
  // NA-RS: a candidate and its 24 neighbours in one group, less what was measured before.
  TestContext narandom_ctx("nb201", conv3x3_share);
  auto narandom = make("narandom", narandom_ctx, {{"budget", int64_t{50}}});
  run_all(*narandom, narandom_ctx);
  expect_measured_in_groups_once(narandom_ctx);
  ASSERT_EQ(narandom_ctx.groups.size(), 2u);
  EXPECT_EQ(narandom_ctx.groups[0].size(), 25u);
  EXPECT_EQ(narandom_ctx.groups[0][0], narandom_ctx.evaluations[0].first);
  EXPECT_EQ(narandom_ctx.groups[0][1].distance(narandom_ctx.groups[0][0]), 1);
}

/// SamplingSearch's group measurement, driven directly.
class GroupProbe final : public SamplingSearch {
 public:
  void setup(Context& ctx) override { setup_sampling(ctx, SamplingSearchOptions{}); }
  using SamplingSearch::evaluate_all;

 protected:
  int64_t search_steps() const override { return 0; }
  std::map<std::string, double> search_step(Context&, int64_t) override { return {}; }
  void own_state(StateArchive&) override {}
};

TEST_F(Strategies, AGroupMeasuresEachUncachedArchitectureOnceAndKeepsTheFirstBestOnTies) {
  TestContext ctx("nb201", [](const Architecture& a) { return a.cells[0][0] == 3 ? 0.5 : 0.25; });
  GroupProbe probe;
  probe.setup(ctx);
  std::mt19937_64 rng(1);
  auto with_first_edge = [&](int op) {
    Architecture a = ctx.space().sample(rng);
    a.cells[0][0] = op;
    return a;
  };
  const Architecture a = with_first_edge(1), b = with_first_edge(3), c = with_first_edge(3),
                     d = with_first_edge(2);
  ASSERT_NE(b, c);
  // A repeat inside the group is measured once; every position gets its accuracy.
  EXPECT_THAT(probe.evaluate_all(ctx, {a, b, a, c}), ::testing::ElementsAre(0.25, 0.5, 0.25, 0.5));
  // What is cached is not measured again, nor is a repeat of something new.
  EXPECT_THAT(probe.evaluate_all(ctx, {c, d, d, a}), ::testing::ElementsAre(0.5, 0.25, 0.25, 0.25));
  EXPECT_THAT(probe.evaluate_all(ctx, {b}), ::testing::ElementsAre(0.5));
  ASSERT_EQ(ctx.groups.size(), 2u);  // all of the last one was cached: no group at all
  EXPECT_THAT(ctx.groups[0], ::testing::ElementsAre(a, b, c));
  EXPECT_THAT(ctx.groups[1], ::testing::ElementsAre(d));
  // b and c tie at the best; b was reached first, as one by one would have it.
  ASSERT_TRUE(probe.best());
  EXPECT_EQ(*probe.best(), b);
}

TEST_F(Strategies, RandomSearchRescoresItsTopKTogetherAsEachAloneOnTheSearchSplit) {
  // With the shared evaluator random search re-scores its k best on the whole search split
  // in one pass (evaluate_paths): each re-scored accuracy is the single path's
  // evaluate_path on the same supernet, and the answer is the best re-scored.
  TestContext ctx("nb201", conv3x3_share);
  ctx.evaluator_name = "shared";
  auto random = make("random", ctx,
                     {{"candidates", int64_t{12}},
                      {"rescore_top_k", int64_t{3}},
                      {"supernet_epochs", int64_t{1}}});
  run_all(*random, ctx);
  std::vector<std::pair<Architecture, double>> rescored;
  for (size_t i = 0; i < ctx.events.size(); ++i)
    if (ctx.events[i] == "rescore")
      rescored.push_back({ctx.space().parse(ctx.event_fields[i]["architecture"].get<std::string>()),
                          ctx.event_fields[i]["rescored_acc"].get<double>()});
  ASSERT_EQ(rescored.size(), 3u);
  std::pair<Architecture, double> best = rescored[0];
  for (const auto& [arch, accuracy] : rescored) {
    const EvalResult alone = evaluate_path(ctx.supernet(), arch, ctx.data().search, 16, 0, true);
    EXPECT_EQ(accuracy, alone.accuracy) << ctx.space().format(arch);
    if (accuracy > best.second) best = {arch, accuracy};
  }
  ASSERT_TRUE(random->best());
  EXPECT_EQ(*random->best(), best.first);
}

TEST_F(Strategies, NaRandomsBudgetCountsDistinctMeasuredArchitectures) {
  TestContext ctx("nb201", conv3x3_share);
  // NB201 neighbourhoods have 24 members plus the candidate: two fit in 60, a third
  // would need up to 25 more and is not scored.
  auto narandom = make("narandom", ctx, {{"budget", int64_t{60}}});
  run_all(*narandom, ctx);
  // The third candidate's neighbourhood measured exactly what fitted, no more, no less.
  EXPECT_EQ(ctx.evaluations.size(), 60u);
  ASSERT_EQ(ctx.groups.size(), 3u);
  EXPECT_EQ(ctx.groups[2].size(), 60u - ctx.groups[0].size() - ctx.groups[1].size());
  EXPECT_EQ(std::count(ctx.events.begin(), ctx.events.end(), "neighbourhood_score"), 2);
  // Equal budgets, equal cost: random search with candidates = 60 measures at most as many.
  TestContext plain("nb201", conv3x3_share);
  auto random = make("random", plain, {{"candidates", int64_t{60}}});
  run_all(*random, plain);
  EXPECT_LE(plain.evaluations.size(), 60u);
  // A budget below one neighbourhood is refused with what it needs.
  // A budget below one neighbourhood (24 + the candidate) is refused at setup, before any
  // training, with what it needs.
  TestContext small("nb201", conv3x3_share);
  try {
    make("narandom", small, {{"budget", int64_t{10}}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("search.budget = 10 does not cover one candidate's neighbourhood (25"));
  }
  EXPECT_NO_THROW(make("narandom", small, {{"budget", int64_t{10}}, {"neighbours", int64_t{9}}}));
}

TEST_F(Strategies, NaswotSearchReturnsTheArgmaxOfTheScoreAndSkipsSingularKernels) {
  TestContext ctx("nb201", conv3x3_share);
  // A fake score of known values: the number of skip_connect edges (op 1), except that
  // the all-skip cell (the true argmax) has a singular kernel.
  ctx.score_ = [](const Architecture& a) {
    double skips = 0;
    for (int op : a.cells[0]) skips += op == 1;
    return skips == 6 ? -std::numeric_limits<double>::infinity() : skips;
  };
  auto naswot = make("naswot", ctx, {{"samples", int64_t{200}}});
  EXPECT_EQ(naswot->total_steps(), 20);  // no supernet training, 10 scores per step
  run_all(*naswot, ctx);
  EXPECT_TRUE(ctx.evaluations.empty());  // it scores, it never evaluates
  EXPECT_LE(ctx.scores.size(), 200u);    // duplicates scored once
  double best = -1;
  for (const auto& [arch, score] : ctx.scores)
    if (std::isfinite(score)) best = std::max(best, score);
  ASSERT_TRUE(naswot->best());
  EXPECT_EQ(ctx.score_(*naswot->best()), best);
  EXPECT_TRUE(std::isfinite(ctx.score_(*naswot->best())));
}

TEST_F(Strategies, AreaStartsFromTheTenBestScoredOfTwentyThenEvolves) {
  TestContext ctx("nb201", conv3x3_share);
  auto area = make("area", ctx,
                   {{"population", int64_t{10}},
                    {"initial_samples", int64_t{20}},
                    {"cycles", int64_t{40}},
                    {"evaluations_per_step", int64_t{5}}});
  run_all(*area, ctx);
  ASSERT_EQ(ctx.scores.size(), 20u);  // scored once, at the start
  // The initial population: the 10 best by score (stable in draw order), in that order.
  std::vector<size_t> order(20);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ctx.scores[a].second > ctx.scores[b].second; });
  ASSERT_GE(ctx.evaluations.size(), 10u);
  for (size_t i = 0; i < 10; ++i)
    EXPECT_EQ(ctx.evaluations[i].first, ctx.scores[order[i]].first) << i;
  EXPECT_LE(ctx.evaluations.size(), 40u);  // repeats are measured once
  EXPECT_GT(ctx.evaluations.size(), 30u);
  // Then regularized evolution: children one edit from an earlier member.
  for (size_t i = 10; i < ctx.evaluations.size(); ++i) {
    bool one_edit = false;
    for (size_t j = 0; j < i && !one_edit; ++j)
      one_edit = ctx.evaluations[i].first.distance(ctx.evaluations[j].first) == 1;
    EXPECT_TRUE(one_edit) << i;
  }
}

/// Alphas whose derived DARTS cells have `normal_convs` / `reduce_convs` convolutions:
/// per node the edges from s0 and s1, sep_conv_3x3 while convolutions are due, else
/// max_pool_3x3.
void set_alphas(Supernet& net, int normal_convs, int reduce_convs) {
  at::NoGradGuard no_grad;
  const auto alphas = net.arch_parameters();
  const int convs[2] = {normal_convs, reduce_convs};
  for (size_t c = 0; c < 2; ++c) {
    alphas[c].zero_();
    int due = convs[c];
    for (int64_t node = 0; node < 4; ++node)
      for (int64_t input = 0; input < 2; ++input)
        alphas[c][darts::edge_index(node, input)][due-- > 0 ? 4 : 1] = 5.0;
  }
}

TEST_F(Strategies, MilenasStopsEarlyOnSixNormalAndNoReductionConvolutions) {
  TestContext ctx("darts", conv3x3_share);
  auto milenas = make("milenas", ctx, {{"early_stop", true}});
  const std::map<std::string, double> metrics = {{"valid_acc", 0.5}};
  set_alphas(ctx.supernet(), 6, 0);
  EXPECT_FALSE(milenas->end_step(ctx, 0, metrics));
  set_alphas(ctx.supernet(), 5, 0);
  EXPECT_TRUE(milenas->end_step(ctx, 1, metrics));
  set_alphas(ctx.supernet(), 6, 1);
  EXPECT_TRUE(milenas->end_step(ctx, 2, metrics));
  // Three sizes, three buckets.
  EXPECT_EQ(std::count(ctx.events.begin(), ctx.events.end(), "size_bucket"), 3);
  // Without early_stop the rule never ends the search.
  auto plain = make("milenas", ctx, {});
  set_alphas(ctx.supernet(), 6, 0);
  EXPECT_TRUE(plain->end_step(ctx, 0, metrics));
}

/// The alphas' gradient of L_train + lambda L_val on the whole train and search splits.
std::vector<at::Tensor> mixed_gradient(TestContext& ctx, double lambda) {
  Supernet& net = ctx.supernet();
  auto loss = [&](const TensorDataset& d) {
    return at::cross_entropy_loss(net.forward(d.images), d.labels);
  };
  const at::Tensor total = loss(ctx.data().train) + lambda * loss(ctx.data().search);
  return torch::autograd::grad({total}, net.arch_parameters());
}

TEST_F(Strategies, MilenasStepsAdamOnTheMixedLevelGradient) {
  // One iteration of the plugin on splits of one minibatch each (16 + 16 images): the
  // alphas' gradient it hands the optimizer is grad L_train + lambda grad L_val at the
  // initial weights (computed here with autograd on the same images), and the alphas
  // move by Adam's first step on it: lr (g + wd a) / (|g + wd a| + 1e-8).
  TestContext ctx("darts", conv3x3_share, 32);
  ctx.supernet().train();
  const double lambda = 0.3;
  std::vector<at::Tensor> before;
  for (const auto& a : ctx.supernet().arch_parameters()) before.push_back(a.detach().clone());
  const std::vector<at::Tensor> expected = mixed_gradient(ctx, lambda);
  auto milenas =
      make("milenas", ctx,
           {{"lambda", lambda}, {"epochs", int64_t{1}}, {"steps_per_epoch", int64_t{1}}});
  milenas->step(ctx, 0);
  const auto alphas = ctx.supernet().arch_parameters();
  for (size_t c = 0; c < 2; ++c) {
    ASSERT_TRUE(alphas[c].grad().defined());
    EXPECT_TRUE(at::allclose(alphas[c].grad(), expected[c], 1e-4, 1e-7)) << c;
    const at::Tensor g = alphas[c].grad() + 1e-3 * before[c];
    EXPECT_TRUE(
        at::allclose(alphas[c].detach(), before[c] - 3e-4 * g / (g.abs() + 1e-8), 1e-6, 1e-9))
        << c;
  }
  // lambda = 0 would be the training gradient alone: distinguishable here.
  EXPECT_FALSE(at::allclose(expected[0], mixed_gradient(ctx, 0.0)[0], 1e-2, 1e-6));
}

TEST_F(Strategies, GradientSearchesTrainTheWeightsAloneWithAlphasFrozen) {
  // DARTS-PT's fixed-alpha supernet: train_alpha = false, or arch_lr = 0, in every
  // gradient strategy: the alphas keep their initial values, the weights train.
  for (const char* strategy : {"darts", "milenas", "nadarts"})
    for (const ParamValues& frozen :
         {ParamValues{{"train_alpha", false}}, ParamValues{{"arch_lr", 0.0}}}) {
      TestContext ctx("darts", conv3x3_share);
      std::vector<at::Tensor> alphas, weights;
      for (const auto& a : ctx.supernet().arch_parameters()) alphas.push_back(a.detach().clone());
      for (const auto& w : ctx.supernet().weight_parameters())
        weights.push_back(w.detach().clone());
      ParamValues params = frozen;
      params["epochs"] = int64_t{1};
      params["steps_per_epoch"] = int64_t{2};
      auto search = make(strategy, ctx, params);
      const auto metrics = search->step(ctx, 0);
      EXPECT_EQ(metrics.count("arch_loss"), 0u) << strategy;  // no architecture step ran
      for (size_t c = 0; c < alphas.size(); ++c)
        EXPECT_TRUE(at::equal(ctx.supernet().arch_parameters()[c], alphas[c])) << strategy;
      bool moved = false;
      const auto now = ctx.supernet().weight_parameters();
      for (size_t i = 0; i < weights.size(); ++i) moved |= !at::equal(now[i], weights[i]);
      EXPECT_TRUE(moved) << strategy;
    }
}

TEST_F(Strategies, RefuseSettingsTheyCannotHonourBeforeAnyWork) {
  TestContext nb201("nb201", conv3x3_share);
  try {
    make("milenas", nb201, {{"early_stop", true}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("early_stop"));
    EXPECT_THAT(e.what(), HasSubstr("DARTS space"));
  }
  try {
    make("evolution", nb201, {{"population", int64_t{10}}, {"cycles", int64_t{5}}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("search.cycles = 5 is smaller than search.population = 10"));
  }
}

}  // namespace
}  // namespace nasx
