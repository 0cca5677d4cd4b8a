#include "darts/network.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include "darts/ops.hpp"
#include "darts/supernet.hpp"
#include "nasx/precision.hpp"
#include "nasx/space.hpp"
#include "support/batch_norm_kernels.hpp"

namespace nasx::darts {
namespace {

// The reference's DARTS_V2 cell (quark0/darts, genotypes.py).
constexpr const char* kDartsV2 =
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";

constexpr const char* kAllSkip =
    "Genotype(normal=[('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), "
    "('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), "
    "('skip_connect', 1)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

// The reference's figures for DARTS_V2 at C=36, 20 cells, 3x32x32 input, 10 classes:
// 3,349,342 parameters without the auxiliary head, 3,825,768 with it.
TEST(DartsEvalNetwork, Darts_V2ParameterCountsMatchTheReference) {
  EvalNetwork net(Genotype::parse(kDartsV2), DataShape{3, 32, 32, 10});
  EXPECT_EQ(count_parameters(net, /*with_auxiliary=*/false), 3349342);
  EXPECT_EQ(count_parameters(net, /*with_auxiliary=*/true), 3825768);
  EvalNetworkOptions no_head;
  no_head.auxiliary = false;
  EXPECT_EQ(
      count_parameters(EvalNetwork(Genotype::parse(kDartsV2), DataShape{3, 32, 32, 10}, no_head)),
      3349342);
}

TEST(DartsEvalNetwork, TheSpaceBuildsTheEvaluationNetwork) {
  SpaceOptions options;
  const auto space = std::make_unique<DartsSpace>(options);
  const auto net = space->build_network(space->parse(kDartsV2), DataShape{3, 32, 32, 10}, 36, 20);
  EXPECT_EQ(count_parameters(*net, false), 3349342);
}

TEST(DartsEvalNetwork, AuxiliaryLogitsOnlyInTrainingOnFashionMnistSizedImages) {
  at::manual_seed(0);
  EvalNetworkOptions options;
  options.channels = 4;
  options.layers = 5;
  EvalNetwork net(Genotype::parse(kDartsV2), DataShape{1, 28, 28, 10}, options);
  const at::Tensor images = at::randn({3, 1, 28, 28});
  net.train();
  auto [logits, aux] = net.forward_with_auxiliary(images);
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{3, 10}));
  ASSERT_TRUE(aux.defined());
  EXPECT_EQ(aux.sizes(), (at::IntArrayRef{3, 10}));
  net.eval();
  EXPECT_FALSE(net.forward_with_auxiliary(images).second.defined());
}

at::Tensor train_mode_output(EvalNetwork& net, const at::Tensor& images, double drop,
                             uint64_t seed) {
  net.train();
  net.set_drop_path(drop, at::make_generator<at::CPUGeneratorImpl>(seed));
  at::NoGradGuard no_grad;
  return net.forward(images);
}

// Every BatchNorm of a channels-last network runs the SDK's kernel backward as well as
// forward: the last cell's too, whose gradient comes through the global average pooling
// (mean's own backward gave it contiguous, and LibTorch's kernel ran).
TEST(DartsEvalNetwork, EveryBatchNormRunsTheChannelsLastKernelBackward) {
  if (!test::lib_torch_fuses_multiply_adds())
    GTEST_SKIP() << "no AVX2 and FMA here: LibTorch's BatchNorm kernels run";
  at::manual_seed(0);
  EvalNetworkOptions options;
  options.channels = 8;
  options.layers = 5;
  options.auxiliary = false;
  EvalNetwork net(Genotype::parse(kDartsV2), DataShape{1, 28, 28, 10}, options);
  net.train();
  test::KernelCalls calls;
  const int forward_before = test::KernelCalls::forward_;
  const int backward_before = test::KernelCalls::backward_;
  net.forward(at::randn({4, 1, 28, 28})).sum().backward();
  const int forward = test::KernelCalls::forward_ - forward_before;
  EXPECT_GT(forward, 30);
  EXPECT_EQ(test::KernelCalls::backward_ - backward_before, forward);
}

TEST(DartsEvalNetwork, DropPathSparesIdentitiesAndIsReproducible) {
  at::manual_seed(0);
  EvalNetworkOptions options;
  options.channels = 4;
  options.layers = 3;
  options.auxiliary = false;
  const at::Tensor images = at::randn({8, 1, 8, 8});
  EvalNetwork v2(Genotype::parse(kDartsV2), DataShape{1, 8, 8, 4}, options);
  const at::Tensor plain = train_mode_output(v2, images, 0.0, 1);
  const at::Tensor dropped = train_mode_output(v2, images, 0.5, 1);
  EXPECT_FALSE(at::allclose(plain, dropped));
  EXPECT_TRUE(at::equal(dropped, train_mode_output(v2, images, 0.5, 1)));
  EXPECT_FALSE(at::equal(dropped, train_mode_output(v2, images, 0.5, 2)));
  // Evaluation never drops.
  v2.eval();
  v2.set_drop_path(0.5, at::make_generator<at::CPUGeneratorImpl>(1));
  at::NoGradGuard no_grad;
  const at::Tensor a = v2.forward(images), b = v2.forward(images);
  EXPECT_TRUE(at::equal(a, b));
}

TEST(DartsEvalNetwork, DropPathLeavesIdentitiesAloneAndDropsWholeSamples) {
  at::manual_seed(0);
  const Genotype skip = Genotype::parse(kAllSkip);
  EvalCell identities(skip.normal, skip.normal_concat, 4, 4, 4, false, false);
  identities->train();
  const at::Tensor s0 = at::randn({16, 4, 6, 6}), s1 = at::randn({16, 4, 6, 6});
  at::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  EXPECT_TRUE(at::equal(identities->forward(s0, s1, 0.9, generator),
                        identities->forward(s0, s1, 0.0, generator)));

  // One pool per node on s0 and an identity on s1 = 0 (its ReLU-conv-BN preprocessing
  // gives exactly 0 with batch statistics): each node is pool(s0') alone, so with drop
  // path it is either 0 (dropped) or twice the undropped value (kept, rescaled by 1/0.5).
  Genotype pools = skip;
  for (size_t k = 0; k < pools.normal.size(); k += 2) pools.normal[k] = {"max_pool_3x3", 0};
  EvalCell pooled(pools.normal, pools.normal_concat, 4, 4, 4, false, false);
  pooled->train();
  const at::Tensor zeros = at::zeros_like(s1);
  const at::Tensor full = pooled->forward(s0, zeros, 0.0, generator);
  const at::Tensor dropped = pooled->forward(s0, zeros, 0.5, generator);
  int64_t dropped_count = 0, kept_count = 0;
  for (int64_t n = 0; n < 16; ++n) {
    for (int64_t node = 0; node < 4; ++node) {
      const at::Tensor f = full[n].narrow(0, node * 4, 4);
      const at::Tensor d = dropped[n].narrow(0, node * 4, 4);
      ASSERT_GT(f.abs().sum().item<double>(), 0);
      if (d.abs().sum().item<double>() == 0) {
        ++dropped_count;
      } else {
        EXPECT_TRUE(at::allclose(d, 2 * f, 1e-5, 1e-6));
        ++kept_count;
      }
    }
  }
  EXPECT_GT(dropped_count, 10);
  EXPECT_GT(kept_count, 10);
}

/// Gradients of every parameter of `module` (undefined ones as zeros), in order.
std::vector<at::Tensor> parameter_grads(const torch::nn::Module& module) {
  std::vector<at::Tensor> grads;
  for (const auto& p : module.parameters())
    grads.push_back(p.grad().defined() ? p.grad().clone() : at::zeros_like(p));
  return grads;
}

void expect_all_close(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b,
                      const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_floating_point()) {
      EXPECT_TRUE(at::equal(a[i], b[i])) << what << " " << i;
      continue;
    }
    // Sums in another order: differences relative to the tensor's largest entry.
    const double scale = b[i].numel() ? b[i].abs().max().item<double>() : 0.0;
    EXPECT_TRUE(at::allclose(a[i], b[i], 1e-4, 1e-5 * (1 + scale)))
        << what << " " << i << ": max difference " << (a[i] - b[i]).abs().max().item<double>()
        << " of " << scale;
  }
}

TEST(ReLUConvBNTogether, EachOutputGradientAndRunningStatisticIsTheLayersOwn) {
  const at::Tensor x =
      at::randn({6, 12, 5, 7}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_();
  const auto make = [] {
    at::manual_seed(3);
    return std::vector<ReLUConvBN>{ReLUConvBN(12, 16, 1, 1, 0, true),
                                   ReLUConvBN(12, 8, 1, 1, 0, true),
                                   ReLUConvBN(12, 24, 1, 1, 0, true)};
  };
  std::vector<ReLUConvBN> alone = make(), together = make();
  std::vector<std::shared_ptr<ReLUConvBNImpl>> pointers;
  for (auto& layer : together) pointers.push_back(layer.ptr());
  const std::vector<at::Tensor> outputs = relu_conv_bn_together(pointers, x);
  ASSERT_EQ(outputs.size(), 3u);
  at::Tensor loss_together = at::zeros({}), loss_alone = at::zeros({});
  at::manual_seed(4);
  std::vector<at::Tensor> projections;
  for (size_t i = 0; i < 3; ++i) {
    const at::Tensor y = alone[i]->forward(x);
    EXPECT_TRUE(outputs[i].is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_TRUE(at::allclose(outputs[i], y, 1e-5, 1e-6)) << "output " << i;
    const at::Tensor projection = at::randn(y.sizes());
    loss_together = loss_together + (outputs[i] * projection).sum();
    loss_alone = loss_alone + (y * projection).sum();
  }
  const at::Tensor dx_together = torch::autograd::grad({loss_together}, {x}, {}, true)[0];
  const at::Tensor dx_alone = torch::autograd::grad({loss_alone}, {x}, {}, true)[0];
  EXPECT_TRUE(at::allclose(dx_together, dx_alone, 1e-4, 1e-5));
  loss_together.backward();
  loss_alone.backward();
  for (size_t i = 0; i < 3; ++i) {
    expect_all_close(parameter_grads(*together[i]), parameter_grads(*alone[i]), "grad");
    expect_all_close(together[i]->buffers(), alone[i]->buffers(), "buffer");
  }
}

TEST(DartsEvalNetwork, SharedPreprocessingIsTheCellByCellNetwork) {
  EvalNetworkOptions options;
  options.channels = 4;
  options.layers = 6;
  options.auxiliary = false;
  const auto make = [&] {
    at::manual_seed(7);
    return std::make_unique<EvalNetwork>(Genotype::parse(kDartsV2), DataShape{1, 12, 12, 5},
                                         options);
  };
  const auto shared = make(), by_cell = make();
  at::manual_seed(8);
  const at::Tensor images = at::randn({8, 1, 12, 12});
  shared->train();
  by_cell->train();
  shared->set_drop_path(0.3, at::make_generator<at::CPUGeneratorImpl>(9));
  const at::Tensor logits = shared->forward(images);

  // The same network as NetworkCIFAR's loop: each cell preprocesses its own two inputs.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(9);
  const auto children = by_cell->named_children();
  const at::Tensor x = images.contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor s0 = children["stem_bn"]->as<torch::nn::BatchNorm2dImpl>()->forward(
      children["stem_conv"]->as<torch::nn::Conv2dImpl>()->forward(x));
  at::Tensor s1 = s0;
  for (int64_t i = 0; i < options.layers; ++i) {
    at::Tensor next =
        children["cell" + std::to_string(i)]->as<EvalCellImpl>()->forward(s0, s1, 0.3, generator);
    s0 = s1;
    s1 = next;
  }
  const at::Tensor expected =
      children["classifier"]->as<torch::nn::LinearImpl>()->forward(s1.mean({2, 3}));
  EXPECT_TRUE(at::allclose(logits, expected, 1e-4, 1e-5))
      << (logits - expected).abs().max().item<double>();
  logits.sum().backward();
  expected.sum().backward();
  expect_all_close(parameter_grads(*shared), parameter_grads(*by_cell), "grad");
  expect_all_close(shared->buffers(), by_cell->buffers(), "buffer");
}

/// An edge's operation on x, called through its module's own type (the cell holds them
/// type-erased); the stride-1 skip_connect is the reference's Identity.
at::Tensor operation(const std::shared_ptr<torch::nn::Module>& op, const GenotypeEdge& edge,
                     const at::Tensor& x, bool reduction) {
  if (auto* sep = op->as<SepConvImpl>()) return sep->forward(x);
  if (auto* dil = op->as<DilConvImpl>()) return dil->forward(x);
  if (auto* pool = op->as<PoolBNImpl>()) return pool->forward(x);
  if (auto* reduce = op->as<FactorizedReduceImpl>()) return reduce->forward(x);
  EXPECT_EQ(edge.op, "skip_connect");
  EXPECT_FALSE(reduction && edge.input < 2);
  return x;
}

// The reference's cell loop (cnn/model.py Cell._compute): per node, each edge's operation,
// then for a non-identity edge utils.drop_path's [N, 1, 1, 1] mask drawn in edge order,
// then the two summed. Its x.div_(keep).mul_(mask) is written x * (mask / keep), the
// formula nasx has always used (a true division on the CPU can differ in the last bit).
TEST(DartsEvalNetwork, ACellUnderDropPathIsTheReferencesLoopBitForBit) {
  // A pool twice in one node and again in another, identities, convolutions, a node
  // reading a node; and DARTS_V2's reduction cell (strided pools, FactorizedReduce skip).
  const Genotype genotype = Genotype::parse(
      "Genotype(normal=[('max_pool_3x3', 0), ('max_pool_3x3', 0), ('sep_conv_3x3', 1), "
      "('skip_connect', 0), ('max_pool_3x3', 0), ('dil_conv_3x3', 2), ('avg_pool_3x3', 1), "
      "('skip_connect', 3)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
      "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
      "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
      "reduce_concat=[2, 3, 4, 5])");
  const double drop = 0.4, keep = 1 - drop;
  for (const bool reduction : {false, true}) {
    const auto& edges = reduction ? genotype.reduce : genotype.normal;
    at::manual_seed(5);
    EvalCell cell(edges, genotype.normal_concat, 6, 6, 4, reduction, false);
    cell->train();
    const auto cl = at::MemoryFormat::ChannelsLast;
    const at::Tensor s0 = at::randn({16, 6, 8, 8}).contiguous(cl).requires_grad_();
    const at::Tensor s1 = at::randn({16, 6, 8, 8}).contiguous(cl).requires_grad_();
    auto ours = at::make_generator<at::CPUGeneratorImpl>(21);
    const at::Tensor out = cell->forward(s0, s1, drop, ours);

    auto generator = at::make_generator<at::CPUGeneratorImpl>(21);
    const auto children = cell->named_children();
    std::vector<at::Tensor> states{cell->preprocess(0, s0), cell->preprocess(1, s1)};
    for (size_t node = 0; node < 4; ++node) {
      at::Tensor sum;
      for (size_t k = 2 * node; k < 2 * node + 2; ++k) {
        const GenotypeEdge& edge = edges[k];
        at::Tensor h = operation(children["op" + std::to_string(k)], edge,
                                 states[static_cast<size_t>(edge.input)], reduction);
        const bool identity = edge.op == "skip_connect" && !(reduction && edge.input < 2);
        if (!identity) {
          at::Tensor mask = at::empty({16, 1, 1, 1});
          mask.bernoulli_(keep, generator);
          h = h * mask.div(keep);
        }
        sum = sum.defined() ? sum + h : h;
      }
      states.push_back(sum);
    }
    const at::Tensor expected = at::cat({states[2], states[3], states[4], states[5]}, 1);
    EXPECT_TRUE(at::equal(out, expected)) << (reduction ? "reduction" : "normal") << " cell";
    const at::Tensor g = at::randn(out.sizes());
    const auto grads = torch::autograd::grad({out}, {s0, s1}, {g});
    const auto expected_grads = torch::autograd::grad({expected}, {s0, s1}, {g});
    expect_all_close({grads[0], grads[1]}, {expected_grads[0], expected_grads[1]}, "input grad");
  }
}

/// The share of `y`'s values farther than 1e-5 of its largest magnitude from `reference`.
double share_off(const at::Tensor& y, const at::Tensor& reference) {
  const double scale = reference.abs().max().item<double>();
  return ((y.to(at::kDouble) - reference.to(at::kDouble)).abs() > 1e-5 * scale)
      .to(at::kDouble)
      .mean()
      .item<double>();
}

// [train] precision = "bfloat16" reaches the ReLU-conv-BN layers (NB-201's cells and the
// two convolutions of its residual blocks, the DARTS cells' 1x1 preprocessing, ws64's
// layers): their convolution is that of relu(x)
// and the weight rounded to bfloat16, its output rounded to bfloat16, here computed in
// double; BatchNorm then normalises it in float.
TEST(ReLUConvBN, UnderBfloat16ConvolvesTheRoundedValues) {
  at::manual_seed(12);
  for (const int64_t kernel : {1, 3}) {
    ReLUConvBN layer(8, 16, kernel, 1, kernel / 2, true);
    layer->train();
    const at::Tensor x = at::randn({4, 8, 7, 7}).contiguous(at::MemoryFormat::ChannelsLast);
    at::Tensor ours;
    {
      const ConvolutionPrecisionScope bfloat16(ConvolutionPrecision::bfloat16);
      ours = layer->forward(x);
    }
    const at::Tensor float32 = layer->forward(x);
    const auto rounded = [](const at::Tensor& t) {
      return t.detach().to(at::kBFloat16).to(at::kDouble);
    };
    const at::Tensor convolved =
        rounded(at::conv2d(rounded(at::relu(x)), rounded(layer->named_parameters()["conv.weight"]),
                           {}, 1, kernel / 2));
    const at::Tensor expected =
        at::batch_norm(convolved, layer->named_parameters()["bn.weight"].detach().to(at::kDouble),
                       layer->named_parameters()["bn.bias"].detach().to(at::kDouble), {}, {}, true,
                       0.1, 1e-5, false);
    // Almost every output is the reference's to float rounding; a convolution output near
    // a bfloat16 rounding boundary may round the other way (float sums against double).
    // float32's own outputs are off by bfloat16's rounding nearly everywhere.
    EXPECT_LT(share_off(ours, expected), 0.01);
    EXPECT_GT(share_off(float32, expected), 0.5)
        << "the reference does not tell the precisions apart";
    EXPECT_EQ(ours.scalar_type(), at::kFloat);
  }
}

// Layers that read one state run as one convolution (relu_conv_bn_together): in bfloat16
// too, each layer's output is what it gives alone.
TEST(ReLUConvBN, TogetherUnderBfloat16IsEachLayerAlone) {
  at::manual_seed(13);
  const ConvolutionPrecisionScope bfloat16(ConvolutionPrecision::bfloat16);
  ReLUConvBN a(8, 16, 1, 1, 0, true), b(8, 16, 1, 1, 0, true);
  const at::Tensor x =
      at::randn({4, 8, 7, 7}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_();
  const std::vector<at::Tensor> together = relu_conv_bn_together({a.ptr(), b.ptr()}, x);
  const at::Tensor alone[2] = {a->forward(x), b->forward(x)};
  for (int i = 0; i < 2; ++i) EXPECT_LT(share_off(together[i], alone[i]), 0.01) << "layer " << i;
  const at::Tensor g =
      torch::autograd::grad({together[0].sum()}, {a->named_parameters()["conv.weight"]})[0];
  EXPECT_EQ(g.scalar_type(), at::kFloat) << "the weights' gradients reach them as floats";
}

}  // namespace
}  // namespace nasx::darts
