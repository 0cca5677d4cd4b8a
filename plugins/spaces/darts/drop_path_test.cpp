#include "darts/drop_path.hpp"

#include <string>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

namespace nasx::darts {
namespace {

TEST(DropPath, FactorsAreTheReferencesMaskOverTheKeepProbability) {
  auto ours = at::make_generator<at::CPUGeneratorImpl>(11);
  auto reference = at::make_generator<at::CPUGeneratorImpl>(11);
  for (int draw = 0; draw < 3; ++draw) {
    const at::Tensor scale = drop_path_scale(64, 0.3, ours);
    // utils.drop_path's mask: [N, 1, 1, 1], one Bernoulli draw of the keep probability each.
    const at::Tensor mask = at::empty({64, 1, 1, 1}).bernoulli_(0.7, reference);
    EXPECT_TRUE(at::equal(scale, mask.div(0.7).view({64})));
  }
}

/// The reference's node under drop path on LibTorch's operators.
at::Tensor reference_node(const at::Tensor& a, const at::Tensor& sa, const at::Tensor& b,
                          const at::Tensor& sb) {
  const at::Tensor x = sa.defined() ? a * sa.view({-1, 1, 1, 1}) : a;
  const at::Tensor y = sb.defined() ? b * sb.view({-1, 1, 1, 1}) : b;
  return x + y;
}

TEST(DropPath, SumHasTheReferencesBitsForwardAndBackward) {
  at::manual_seed(0);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(2);
  const at::Tensor sa = drop_path_scale(9, 0.4, generator), sb = drop_path_scale(9, 0.4, generator);
  ASSERT_TRUE(at::equal(sa.eq(0).logical_or(sb.eq(0)).any(), at::ones({}, at::kBool)))
      << "some sample dropped, so zero factors are covered";
  for (const auto format : {at::MemoryFormat::ChannelsLast, at::MemoryFormat::Contiguous}) {
    for (const auto& [scale_a, scale_b] :
         {std::pair{sa, sb}, std::pair{sa, at::Tensor()}, std::pair{at::Tensor(), sb},
          std::pair{at::Tensor(), at::Tensor()}}) {
      const std::string what =
          std::string(format == at::MemoryFormat::ChannelsLast ? "cl" : "nchw") +
          (scale_a.defined() ? " a scaled" : " a identity") +
          (scale_b.defined() ? ", b scaled" : ", b identity");
      const at::Tensor a = at::randn({9, 13, 5, 6}).contiguous(format).requires_grad_();
      const at::Tensor b = at::randn({9, 13, 5, 6}).contiguous(format).requires_grad_();
      const at::Tensor out = drop_path_sum(a, scale_a, b, scale_b);
      const at::Tensor expected = reference_node(a, scale_a, b, scale_b);
      EXPECT_NE(out.grad_fn()->name().find("DropPathSumFunction"), std::string::npos)
          << what << ": " << out.grad_fn()->name();
      EXPECT_TRUE(at::equal(out, expected)) << what;
      EXPECT_TRUE(out.is_contiguous(format)) << what;
      const at::Tensor g = at::randn(out.sizes()).contiguous(format);
      const auto ours = torch::autograd::grad({out}, {a, b}, {g});
      const auto theirs = torch::autograd::grad({expected}, {a, b}, {g});
      EXPECT_TRUE(at::equal(ours[0], theirs[0])) << what;
      EXPECT_TRUE(at::equal(ours[1], theirs[1])) << what;
    }
  }
}

TEST(DropPath, OneTensorOnBothEdgesAndTheNoGradPathKeepTheBits) {
  at::manual_seed(1);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(6);
  const at::Tensor sa = drop_path_scale(5, 0.5, generator), sb = drop_path_scale(5, 0.5, generator);
  const at::Tensor x =
      at::randn({5, 11, 4, 4}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_();
  // Two edges with one output (a cell's repeated pool): each gets its own factors.
  const at::Tensor out = drop_path_sum(x, sa, x, sb);
  const at::Tensor expected = reference_node(x, sa, x, sb);
  EXPECT_TRUE(at::equal(out, expected));
  const at::Tensor g = at::randn(out.sizes());
  EXPECT_TRUE(at::equal(torch::autograd::grad({out}, {x}, {g})[0],
                        torch::autograd::grad({expected}, {x}, {g})[0]));
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(drop_path_sum(x, sa, x, {}), reference_node(x, sa, x, {})));
  // Factors of another length are LibTorch's error, not a read past their end.
  EXPECT_THROW(drop_path_sum(x, at::ones({4}), x, {}), c10::Error);
}

TEST(DropPath, OtherTypesAndMixedLayoutsTakeLibTorchsOperators) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(4);
  const at::Tensor s = drop_path_scale(4, 0.5, generator);
  const at::Tensor a = at::randn({4, 3, 5, 5}, at::kDouble).requires_grad_();
  const at::Tensor b = at::randn({4, 3, 5, 5}, at::kDouble);
  const at::Tensor out = drop_path_sum(a, s, b, {});
  EXPECT_EQ(out.scalar_type(), at::kDouble);
  EXPECT_TRUE(at::equal(out, a * s.to(at::kDouble).view({-1, 1, 1, 1}) + b));
  const at::Tensor c = at::randn({4, 3, 5, 5}).requires_grad_();
  const at::Tensor d = at::randn({4, 3, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor mixed = drop_path_sum(c, s, d, s);
  EXPECT_EQ(mixed.grad_fn()->name().find("DropPathSumFunction"), std::string::npos);
  EXPECT_TRUE(at::equal(mixed, reference_node(c, s, d, s)));
}

}  // namespace
}  // namespace nasx::darts
