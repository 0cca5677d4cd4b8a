#include "darts/mixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "support/thread_count.hpp"

namespace nasx::darts {
namespace {

struct Case {
  int64_t edges, channels, size;
  std::vector<bool> shared;  ///< per term: one output for every edge (pools, identity)
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << c.edges << " edges, " << c.channels << " channels, " << c.size << "x" << c.size;
}

std::vector<at::Tensor> make_terms(const Case& c, int64_t batch) {
  std::vector<at::Tensor> terms;
  for (bool shared : c.shared)
    terms.push_back(at::randn({batch, shared ? c.channels : c.edges * c.channels, c.size, c.size})
                        .contiguous(at::MemoryFormat::ChannelsLast)
                        .requires_grad_());
  return terms;
}

/// The mixture written out from its definition, in double: for each edge e and output
/// channel, Σ_k w[e, k]·term_k, with a shared term's channels standing for every edge.
at::Tensor by_definition(const at::Tensor& weights, const std::vector<at::Tensor>& terms,
                         int64_t edges, int64_t channels) {
  std::vector<at::Tensor> per_edge;
  for (int64_t e = 0; e < edges; ++e) {
    at::Tensor sum;
    for (size_t k = 0; k < terms.size(); ++k) {
      const at::Tensor& t = terms[k];
      const at::Tensor own = t.size(1) == channels ? t : t.narrow(1, e * channels, channels);
      const at::Tensor term =
          own.to(at::kDouble) * weights[e][static_cast<int64_t>(k)].to(at::kDouble);
      sum = sum.defined() ? sum + term : term;
    }
    per_edge.push_back(sum);
  }
  return at::cat(per_edge, 1);
}

/// The edges' outputs side by side on channels, as by_definition gives them.
at::Tensor mixture(const at::Tensor& weights, const std::vector<at::Tensor>& terms, int64_t edges,
                   int64_t channels) {
  return at::cat(weighted_mixture(weights, terms, edges, channels), 1);
}

std::vector<at::Tensor> inputs_of(const at::Tensor& weights, const std::vector<at::Tensor>& terms) {
  std::vector<at::Tensor> inputs = {weights};
  inputs.insert(inputs.end(), terms.begin(), terms.end());
  return inputs;
}

/// Each got[i] within `relative`·max|want[i]| of want[i], compared in double.
void expect_close(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want,
                  double relative) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].sizes(), want[i].sizes()) << "gradient " << i;
    const double scale = want[i].abs().max().item<double>();
    EXPECT_LT((got[i].to(at::kDouble) - want[i].to(at::kDouble)).abs().max().item<double>(),
              relative * scale)
        << "gradient " << i;
  }
}

/// Whether the environment leaves the fused path on (NASX_FUSED_MIXTURE=0 turns it off).
bool fused_mixture_requested() {
  const char* value = std::getenv("NASX_FUSED_MIXTURE");
  return value == nullptr || std::string(value) != "0";
}

class WeightedMixture : public ::testing::TestWithParam<Case> {};

// The kernel's output and every gradient (weights, each term) against the definition's,
// differentiated by autograd in double precision.
TEST_P(WeightedMixture, OutputAndGradientsMatchTheDefinition) {
  const Case c = GetParam();
  at::manual_seed(c.edges * 100 + c.channels);
  const std::vector<at::Tensor> terms = make_terms(c, 3);
  const int64_t k = static_cast<int64_t>(terms.size());
  const at::Tensor weights = at::rand({c.edges, k}).requires_grad_();
  if (!fused_mixture_requested()) GTEST_SKIP() << "NASX_FUSED_MIXTURE=0";
  ASSERT_TRUE(weighted_mixture_has_kernel(weights, terms, c.edges, c.channels));

  const at::Tensor out = mixture(weights, terms, c.edges, c.channels);
  const at::Tensor expected = by_definition(weights, terms, c.edges, c.channels);
  ASSERT_EQ(out.sizes(), expected.sizes());
  for (const at::Tensor& edge : weighted_mixture(weights, terms, c.edges, c.channels)) {
    EXPECT_EQ(edge.sizes(), (std::vector<int64_t>{3, c.channels, c.size, c.size}));
    EXPECT_TRUE(edge.is_contiguous(at::MemoryFormat::ChannelsLast));
  }
  EXPECT_TRUE(at::allclose(out.to(at::kDouble), expected, 1e-5, 1e-5));

  const at::Tensor gy = at::randn(out.sizes());
  const auto got = torch::autograd::grad({out}, inputs_of(weights, terms), {gy});
  const auto want =
      torch::autograd::grad({expected}, inputs_of(weights, terms), {gy.to(at::kDouble)});
  expect_close(got, want, 1e-5);
}

// The weights' gradients are per-block sums added in a fixed order: the same bits with one
// thread as with two.
TEST_P(WeightedMixture, GradientsDoNotDependOnTheThreadCount) {
  const Case c = GetParam();
  at::manual_seed(5);
  const int64_t batch = 24;  // > 2 blocks of 128 rows for every case: the split matters
  const std::vector<at::Tensor> terms = make_terms(c, batch);
  const at::Tensor weights =
      at::rand({c.edges, static_cast<int64_t>(terms.size())}).requires_grad_();
  const at::Tensor gy = at::randn({batch, c.edges * c.channels, c.size, c.size})
                            .contiguous(at::MemoryFormat::ChannelsLast);
  auto run = [&](int threads) {
    const int before = at::get_num_threads();
    at::set_num_threads(threads);
    const at::Tensor out = mixture(weights, terms, c.edges, c.channels);
    auto grads = torch::autograd::grad({out}, inputs_of(weights, terms), {gy});
    at::set_num_threads(before);
    grads.push_back(out);
    return grads;
  };
  const auto one = run(1), two = run(2);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(at::equal(one[i], two[i])) << "output " << i;
}

/// a·b rounded to float on its own: never contracted into a fused multiply-add with the
/// sum it goes into (the kernels are compiled so; this file need not be).
__attribute__((noinline)) float product(float a, float b) { return a * b; }

/// The kernel's arithmetic, written out element by element in the order it documents:
/// each output Σ_k w·term_k, products and sums rounded in float, k in order; each term's
/// gradient g·w, a shared term's summed over the edges in order; each weight's gradient
/// summed in float per channel over blocks of 128 rows, the rows in order, then those
/// sums added in double, block by block and within a block channel by channel.
struct ScalarMixture {
  std::vector<at::Tensor> outputs, term_grads;
  at::Tensor weight_grad;
};

ScalarMixture scalar_mixture(const at::Tensor& weights, const std::vector<at::Tensor>& terms,
                             const std::vector<at::Tensor>& grads, int64_t channels) {
  const int64_t edges = weights.size(0), K = static_cast<int64_t>(terms.size());
  auto rows_of = [](const at::Tensor& x) {  // [pixels, channels] in channels-last order
    return x.detach().permute({0, 2, 3, 1}).reshape({-1, x.size(1)}).contiguous();
  };
  std::vector<at::Tensor> t, g;
  for (const at::Tensor& term : terms) t.push_back(rows_of(term));
  for (const at::Tensor& grad : grads) g.push_back(rows_of(grad));
  const int64_t rows = t[0].size(0), kBlock = 128;
  const at::Tensor weight_values = weights.detach().contiguous();
  const auto w = weight_values.accessor<float, 2>();
  auto own = [&](int64_t k, int64_t e, int64_t r, int64_t c) {
    const int64_t column = t[k].size(1) == channels ? c : e * channels + c;
    return t[k].data_ptr<float>()[r * t[k].size(1) + column];
  };
  auto grad = [&](int64_t e, int64_t r, int64_t c) {
    return g[e].data_ptr<float>()[r * channels + c];
  };
  ScalarMixture m;
  for (int64_t e = 0; e < edges; ++e) {
    at::Tensor out = at::empty({rows, channels});
    float* o = out.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < channels; ++c) {
        float sum = product(own(0, e, r, c), w[e][0]);
        for (int64_t k = 1; k < K; ++k) sum = sum + product(own(k, e, r, c), w[e][k]);
        o[r * channels + c] = sum;
      }
    m.outputs.push_back(out);
  }
  for (int64_t k = 0; k < K; ++k) {
    const bool shared = t[k].size(1) == channels;
    at::Tensor d = at::empty_like(t[k]);
    float* dd = d.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < channels; ++c) {
        float sum = 0;
        for (int64_t e = 0; e < edges; ++e) {
          const float term = product(grad(e, r, c), w[e][k]);
          if (shared)
            sum = e == 0 ? term : sum + term;
          else
            dd[r * d.size(1) + e * channels + c] = term;
        }
        if (shared) dd[r * channels + c] = sum;
      }
    m.term_grads.push_back(d);
  }
  m.weight_grad = at::empty({edges, K});
  for (int64_t e = 0; e < edges; ++e)
    for (int64_t k = 0; k < K; ++k) {
      double total = 0;
      for (int64_t first = 0; first < rows; first += kBlock)
        for (int64_t c = 0; c < channels; ++c) {
          float lane = 0;
          for (int64_t r = first; r < std::min(rows, first + kBlock); ++r)
            lane = lane + product(grad(e, r, c), own(k, e, r, c));
          total += lane;
        }
      m.weight_grad.data_ptr<float>()[e * K + k] = static_cast<float>(total);
    }
  return m;
}

// The kernel's bits are its documented order of arithmetic (above), whatever the code that
// computes it: at the widths held in registers and at one that is not, with more rows than
// a block, shared and per-edge terms, on two threads.
TEST(WeightedMixtureKernel, ComputesInItsDocumentedOrderBitForBit) {
  if (!fused_mixture_requested()) GTEST_SKIP() << "NASX_FUSED_MIXTURE=0";
  const test::ThreadCount two(2);
  at::manual_seed(11);
  for (const Case& c : {Case{3, 8, 12, {true, false, false, true}},
                        Case{2, 16, 9, {false, true, false, true}}, Case{2, 24, 9, {true, false}},
                        Case{2, 32, 9, {false, true, false}}, Case{2, 64, 9, {true, false}}}) {
    // The weights' gradient asked for (the architecture step) and not (the weight step).
    for (const bool weight_grad : {true, false}) {
      SCOPED_TRACE(testing::PrintToString(c) + (weight_grad ? "" : ", terms' gradients only"));
      const std::vector<at::Tensor> terms = make_terms(c, 2);  // 2·size² rows: several blocks
      const at::Tensor weights =
          at::randn({c.edges, static_cast<int64_t>(terms.size())}).requires_grad_(weight_grad);
      ASSERT_TRUE(weighted_mixture_has_kernel(weights, terms, c.edges, c.channels));
      const std::vector<at::Tensor> outs = weighted_mixture(weights, terms, c.edges, c.channels);
      std::vector<at::Tensor> grads;
      for (int64_t e = 0; e < c.edges; ++e)
        grads.push_back(at::randn(outs[0].sizes()).contiguous(at::MemoryFormat::ChannelsLast));
      const auto got =
          torch::autograd::grad(outs, weight_grad ? inputs_of(weights, terms) : terms, grads);
      const size_t first_term = weight_grad ? 1 : 0;
      const ScalarMixture want = scalar_mixture(weights, terms, grads, c.channels);
      for (int64_t e = 0; e < c.edges; ++e)
        EXPECT_TRUE(
            at::equal(outs[e].permute({0, 2, 3, 1}).reshape({-1, c.channels}), want.outputs[e]))
            << "edge " << e << "'s output";
      if (weight_grad) {
        EXPECT_TRUE(at::equal(got[0], want.weight_grad));
      }
      for (size_t k = 0; k < terms.size(); ++k) {
        const at::Tensor& g = got[first_term + k];
        EXPECT_TRUE(at::equal(g.permute({0, 2, 3, 1}).reshape({-1, g.size(1)}), want.term_grads[k]))
            << "term " << k << "'s gradient";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    GroupsOfEdges, WeightedMixture,
    ::testing::Values(
        // the DARTS edge groups: 4 convolutions per edge, then pools and identity shared
        Case{4, 8, 12, {false, false, false, false, true, true, true}},
        Case{2, 16, 7, {false, false, true, false}},
        // a shared term first; 12 channels: the scalar remainder after a vector of 8
        Case{3, 12, 5, {true, false, true}},
        // a stride-2 group's output size, and widths without a compile-time kernel
        Case{4, 24, 4, {false, true}}, Case{2, 5, 3, {false, false, true}},
        // the compile-time widths of later cells
        Case{2, 32, 4, {false, true, false}}, Case{3, 64, 3, {true, false}}),
    [](const auto& info) {
      const Case& c = info.param;
      return "e" + std::to_string(c.edges) + "c" + std::to_string(c.channels) + "n" +
             std::to_string(c.size) + "k" + std::to_string(c.shared.size());
    });

// Where the kernel does not apply (one edge, another layout, double) the chain of tensor
// operations computes the same function.
TEST(WeightedMixtureFallback, OtherLayoutsTypesAndOneEdgeGiveTheDefinition) {
  at::manual_seed(3);
  for (int64_t edges : {1, 3}) {
    for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      for (auto dtype : {at::kFloat, at::kDouble}) {
        const Case c{edges, 8, 5, {false, true, false}};
        std::vector<at::Tensor> terms;
        for (const at::Tensor& t : make_terms(c, 2))
          terms.push_back(t.detach().to(dtype).contiguous(format).requires_grad_());
        const at::Tensor weights = at::rand({edges, 3}, at::TensorOptions(dtype)).requires_grad_();
        const bool kernel = weighted_mixture_has_kernel(weights, terms, edges, 8);
        EXPECT_EQ(kernel, fused_mixture_requested() && edges > 1 &&
                              format == at::MemoryFormat::ChannelsLast && dtype == at::kFloat);
        const at::Tensor out = mixture(weights, terms, edges, 8);
        const at::Tensor expected = by_definition(weights, terms, edges, 8);
        EXPECT_TRUE(at::allclose(out.to(at::kDouble), expected, 1e-5, 1e-5));
        const auto got = torch::autograd::grad({out.sum()}, {weights});
        const auto want = torch::autograd::grad({expected.sum()}, {weights});
        EXPECT_TRUE(at::allclose(got[0].to(at::kDouble), want[0].to(at::kDouble), 1e-4, 1e-4));
      }
    }
  }
}

// A channels-last network whose group has one term in another layout (FactorizedReduce's
// grouped output): the kernel takes it, copied, and computes the same function.
TEST(WeightedMixtureFallback, ATermInAnotherLayoutIsCopiedIn) {
  if (!fused_mixture_requested()) GTEST_SKIP() << "NASX_FUSED_MIXTURE=0";
  at::manual_seed(2);
  const Case c{2, 8, 4, {false, true, false}};
  std::vector<at::Tensor> terms = make_terms(c, 3);
  terms[2] = terms[2].detach().contiguous().requires_grad_();
  const at::Tensor weights = at::rand({2, 3}).requires_grad_();
  EXPECT_TRUE(weighted_mixture_has_kernel(weights, terms, 2, 8));
  const at::Tensor out = mixture(weights, terms, 2, 8);
  const at::Tensor expected = by_definition(weights, terms, 2, 8);
  EXPECT_TRUE(at::allclose(out.to(at::kDouble), expected, 1e-5, 1e-5));
  const auto got = torch::autograd::grad({(out * out).sum()}, inputs_of(weights, terms));
  const auto want = torch::autograd::grad({(expected * expected).sum()}, inputs_of(weights, terms));
  expect_close(got, want, 1e-5);
}

// A weight step: the weights need no gradient, the terms do (the kernel then skips the
// weights' sums); the terms' gradients are the definition's.
TEST(WeightedMixtureGradients, TermsAloneAsInAWeightStep) {
  at::manual_seed(11);
  const Case c{4, 8, 6, {false, false, true, true}};
  const std::vector<at::Tensor> terms = make_terms(c, 3);
  const at::Tensor weights = at::rand({4, 4});  // no gradient wanted
  const at::Tensor out = mixture(weights, terms, 4, 8);
  const at::Tensor expected = by_definition(weights, terms, 4, 8);
  const auto got = torch::autograd::grad({(out * out).sum()}, terms);
  const auto want = torch::autograd::grad({(expected * expected).sum()}, terms);
  expect_close(got, want, 1e-5);
}

// A term that needs no gradient gets none, and the others are unaffected.
TEST(WeightedMixtureGradients, OnlyForInputsThatRequireThem) {
  at::manual_seed(4);
  const Case c{2, 8, 4, {false, true}};
  std::vector<at::Tensor> terms = make_terms(c, 2);
  terms[1] = terms[1].detach();
  const at::Tensor weights = at::rand({2, 2}).requires_grad_();
  const at::Tensor out = mixture(weights, terms, 2, 8);
  const auto grads = torch::autograd::grad({out.sum()}, {weights, terms[0]});
  const auto want =
      torch::autograd::grad({by_definition(weights, terms, 2, 8).sum()}, {weights, terms[0]});
  EXPECT_TRUE(at::allclose(grads[0].to(at::kDouble), want[0].to(at::kDouble), 1e-4, 1e-4));
  EXPECT_TRUE(at::allclose(grads[1].to(at::kDouble), want[1].to(at::kDouble), 1e-6, 1e-6));
}

// An edge whose output the loss does not use: its weights get a zero gradient and the
// other edges' gradients are unchanged.
TEST(WeightedMixtureGradients, AnEdgeOutsideTheLossContributesNothing) {
  at::manual_seed(8);
  const Case c{3, 8, 4, {false, true, false}};
  const std::vector<at::Tensor> terms = make_terms(c, 2);
  const at::Tensor weights = at::rand({3, 3}).requires_grad_();
  const std::vector<at::Tensor> edges = weighted_mixture(weights, terms, 3, 8);
  const at::Tensor loss = (edges[0] * edges[0]).sum() + edges[2].sum();  // edge 1 unused
  const auto got = torch::autograd::grad({loss}, inputs_of(weights, terms));
  const at::Tensor expected = by_definition(weights, terms, 3, 8);
  const at::Tensor e0 = expected.narrow(1, 0, 8), e2 = expected.narrow(1, 16, 8);
  const auto want = torch::autograd::grad({(e0 * e0).sum() + e2.sum()}, inputs_of(weights, terms));
  EXPECT_TRUE(at::equal(got[0][1], at::zeros({3})));
  expect_close(got, want, 1e-5);
}

// A backward with create_graph (second-order methods) goes through the tensor operations:
// the gradient of a gradient matches the definition's.
TEST(WeightedMixtureDoubleBackward, GradientOfTheWeightsGradient) {
  at::manual_seed(6);
  const Case c{3, 8, 4, {false, true, false}};
  const std::vector<at::Tensor> terms = make_terms(c, 2);
  const at::Tensor weights = at::rand({3, 3}).requires_grad_();
  auto second = [&](const at::Tensor& out) {
    const auto g = torch::autograd::grad({(out * out).sum()}, {weights}, {}, true, true);
    return torch::autograd::grad({g[0].pow(2).sum()}, {terms[0], terms[1]});
  };
  const auto got = second(mixture(weights, terms, 3, 8));
  const auto want = second(by_definition(weights, terms, 3, 8));
  expect_close(got, want, 1e-4);
}

// create_graph for one term alone, with an edge outside the loss: the gradient lands on
// that term (the returned list's positions) and is itself differentiable.
TEST(WeightedMixtureDoubleBackward, OneTermAloneWithAnUnusedEdge) {
  at::manual_seed(12);
  const Case c{3, 8, 4, {false, true, false}};
  const std::vector<at::Tensor> terms = make_terms(c, 2);
  const at::Tensor weights = at::rand({3, 3}).requires_grad_();
  auto second = [&](const std::vector<at::Tensor>& edges) {
    const at::Tensor loss = (edges[0] * edges[0]).sum() + (edges[2] * edges[2] * edges[2]).sum();
    const auto g = torch::autograd::grad({loss}, {terms[2]}, {}, true, true);
    return torch::autograd::grad({g[0].pow(2).sum()}, {terms[2], weights});
  };
  const auto got = second(weighted_mixture(weights, terms, 3, 8));
  const at::Tensor expected = by_definition(weights, terms, 3, 8);
  const auto want =
      second({expected.narrow(1, 0, 8), expected.narrow(1, 8, 8), expected.narrow(1, 16, 8)});
  expect_close(got, want, 1e-4);
}

}  // namespace
}  // namespace nasx::darts
