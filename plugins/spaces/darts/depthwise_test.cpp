#include "darts/depthwise.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/autograd.h>

#include "support/thread_count.hpp"

namespace nasx::darts {
namespace {

struct Case {
  int64_t kernel, stride, padding, dilation, size;
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << "kernel " << c.kernel << ", stride " << c.stride << ", padding " << c.padding
       << ", dilation " << c.dilation << ", " << c.size << "x" << c.size;
}

class DepthwiseConv2d : public ::testing::TestWithParam<Case> {};

// The hand-written weight gradient and the flipped-kernel input gradient against
// LibTorch's own convolution_backward, in both memory formats and precisions.
TEST_P(DepthwiseConv2d, GradientsMatchLibTorch) {
  const Case c = GetParam();
  at::manual_seed(c.kernel * 100 + c.stride * 10 + c.dilation);
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      const at::Tensor x0 =
          at::randn({3, 6, c.size, c.size}, at::TensorOptions(dtype)).contiguous(format);
      const at::Tensor w0 = at::randn({6, 1, c.kernel, c.kernel}, at::TensorOptions(dtype));
      const at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
      const at::Tensor y = depthwise_conv2d(x, w, c.stride, c.padding, c.dilation);
      const at::Tensor expected_y = at::conv2d(x0, w0, {}, c.stride, c.padding, c.dilation, 6);
      ASSERT_EQ(y.sizes(), expected_y.sizes());
      const at::Tensor gy = at::randn_like(expected_y);
      const auto grads = torch::autograd::grad({y}, {x, w}, {gy});
      const auto expected = at::convolution_backward(
          gy, x0, w0, c10::nullopt, {c.stride, c.stride}, {c.padding, c.padding},
          {c.dilation, c.dilation}, false, {0, 0}, 6, {true, true, false});
      const double tol = dtype == at::kFloat ? 1e-4 : 1e-10;
      EXPECT_TRUE(at::allclose(y, expected_y, tol, tol));
      EXPECT_TRUE(at::allclose(grads[0], std::get<0>(expected), tol, tol)) << "input gradient";
      EXPECT_TRUE(at::allclose(grads[1], std::get<1>(expected), tol, tol)) << "weight gradient";
    }
  }
}

// The float kernel sums in the order of the plain loop below (per tap and channel: over
// samples, rows, columns; no fused multiply-add), so its bits are that loop's: changing
// the kernel's speed must not change a search's results. One thread: one accumulator.
TEST_P(DepthwiseConv2d, FloatWeightGradientHasThePlainLoopsBits) {
  const Case c = GetParam();
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  at::manual_seed(7);
  const int64_t batch = 3,
                channels = 28;  // three blocks of eight (paired where they fit), four more
  const at::Tensor x = at::randn({batch, channels, c.size, c.size});
  const at::Tensor w = at::randn({channels, 1, c.kernel, c.kernel});
  const at::Tensor gy =
      at::randn_like(at::conv2d(x, w, {}, c.stride, c.padding, c.dilation, channels));
  const at::Tensor got =
      depthwise_conv2d_weight_grad(x, gy, c.kernel, c.stride, c.padding, c.dilation);
  at::set_num_threads(threads);

  const auto xa = x.accessor<float, 4>(), ga = gy.accessor<float, 4>();
  std::vector<float> expected(static_cast<size_t>(channels * c.kernel * c.kernel), 0.0f);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oy = 0; oy < gy.size(2); ++oy)
      for (int64_t ox = 0; ox < gy.size(3); ++ox)
        for (int64_t a = 0; a < c.kernel; ++a)
          for (int64_t b = 0; b < c.kernel; ++b) {
            const int64_t iy = oy * c.stride - c.padding + a * c.dilation;
            const int64_t ix = ox * c.stride - c.padding + b * c.dilation;
            if (iy < 0 || iy >= c.size || ix < 0 || ix >= c.size) continue;
            for (int64_t ch = 0; ch < channels; ++ch) {
              volatile float product = xa[n][ch][iy][ix] * ga[n][ch][oy][ox];  // no FMA
              expected[static_cast<size_t>((ch * c.kernel + a) * c.kernel + b)] += product;
            }
          }
  const at::Tensor want = at::from_blob(expected.data(), {channels, 1, c.kernel, c.kernel}).clone();
  EXPECT_TRUE(at::equal(got, want))
      << "largest difference " << (got - want).abs().max().item<float>();
}

INSTANTIATE_TEST_SUITE_P(DartsShapes, DepthwiseConv2d,
                         ::testing::Values(Case{3, 1, 1, 1, 8}, Case{5, 1, 2, 1, 8},
                                           Case{3, 2, 1, 1, 8}, Case{5, 2, 2, 1, 9},
                                           Case{3, 1, 2, 2, 8}, Case{5, 1, 4, 2, 7},
                                           Case{3, 2, 2, 2, 8}, Case{5, 2, 4, 2, 8},
                                           Case{7, 1, 3, 1, 9}, Case{7, 2, 6, 2, 11},
                                           // No column with every tap inside; a padding
                                           // past the kernel's reach.
                                           Case{5, 2, 4, 2, 3}, Case{3, 1, 3, 1, 8}),
                         [](const auto& info) {
                           const Case& c = info.param;
                           return "k" + std::to_string(c.kernel) + "s" + std::to_string(c.stride) +
                                  "p" + std::to_string(c.padding) + "d" +
                                  std::to_string(c.dilation) + "n" + std::to_string(c.size);
                         });

/// Calls of the strided, dilated input-gradient kernel while alive (its RecordFunction).
class StridedKernelCalls {
 public:
  StridedKernelCalls() {
    handle_ = at::addGlobalCallback(at::RecordFunctionCallback(
        [](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
          if (std::strcmp(fn.name(), "nasx::darts::depthwise_strided_input_grad") == 0) ++calls_;
          return nullptr;
        }));
  }
  ~StridedKernelCalls() { at::removeCallback(handle_); }
  StridedKernelCalls(const StridedKernelCalls&) = delete;
  StridedKernelCalls& operator=(const StridedKernelCalls&) = delete;
  static inline std::atomic<int> calls_{0};

 private:
  at::CallbackHandle handle_;
};

// A strided, dilated convolution's input gradient (the reduction cells' dil_conv_3x3 and
// 5x5) is nasx's kernel on channels-last float tensors; it must give LibTorch's bits
// (oneDNN's gemm algorithm: each product rounded, the taps reaching a pixel added in
// descending order), the same on one thread and two, with channels past a multiple of
// eight, and the plain loop's bits in that order. Besides the space's shapes: other
// strides and dilations, paddings that are not d(k-1)/2, a non-square image, C < 8.
TEST(DepthwiseStridedInputGradient, FloatChannelsLastHasLibTorchsAndThePlainLoopsBits) {
  struct Shape {
    int64_t batch, channels, height, width, kernel, stride, dilation, padding;
  };
  for (const Shape sh : {Shape{64, 64, 28, 28, 5, 2, 2, 4}, Shape{64, 128, 14, 14, 3, 2, 2, 2},
                         Shape{3, 20, 9, 9, 5, 2, 2, 4}, Shape{2, 13, 8, 8, 3, 2, 2, 2},
                         Shape{2, 8, 7, 7, 5, 2, 2, 4}, Shape{2, 16, 11, 11, 3, 2, 3, 3},
                         Shape{2, 12, 10, 10, 3, 3, 2, 2}, Shape{2, 9, 9, 7, 3, 2, 2, 1},
                         Shape{2, 3, 8, 8, 5, 2, 2, 3}}) {
    const std::string what =
        std::to_string(sh.channels) + " channels, " + std::to_string(sh.height) + "x" +
        std::to_string(sh.width) + ", kernel " + std::to_string(sh.kernel) + ", stride " +
        std::to_string(sh.stride) + ", dilation " + std::to_string(sh.dilation) + ", padding " +
        std::to_string(sh.padding);
    at::manual_seed(sh.channels + sh.kernel);
    const at::Tensor x0 = at::randn({sh.batch, sh.channels, sh.height, sh.width})
                              .contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor w = at::randn({sh.channels, 1, sh.kernel, sh.kernel});
    const at::Tensor gy =
        at::randn_like(at::conv2d(x0, w, {}, sh.stride, sh.padding, sh.dilation, sh.channels));
    ASSERT_TRUE(gy.is_contiguous(at::MemoryFormat::ChannelsLast)) << what;
    std::vector<at::Tensor> per_thread_count;
    for (const int threads : {1, 2}) {
      const test::ThreadCount scope(threads);
      const at::Tensor x = x0.clone().requires_grad_();
      const at::Tensor y = depthwise_conv2d(x, w, sh.stride, sh.padding, sh.dilation);
      const int before = StridedKernelCalls::calls_;
      at::Tensor got;
      {
        StridedKernelCalls calls;
        got = torch::autograd::grad({y}, {x}, {gy})[0];
      }
      EXPECT_EQ(StridedKernelCalls::calls_ - before, 1) << "the kernel computed it: " << what;
      const at::Tensor libtorch = std::get<0>(at::convolution_backward(
          gy, x0, w, c10::nullopt, {sh.stride, sh.stride}, {sh.padding, sh.padding},
          {sh.dilation, sh.dilation}, false, {0, 0}, sh.channels, {true, false, false}));
      EXPECT_TRUE(at::equal(got, libtorch))
          << what << ", " << threads << " threads: largest difference "
          << (got - libtorch).abs().max().item<float>();
      EXPECT_TRUE(got.is_contiguous(at::MemoryFormat::ChannelsLast)) << what;
      per_thread_count.push_back(got);
    }
    EXPECT_TRUE(at::equal(per_thread_count[0], per_thread_count[1])) << what;

    if (sh.batch > 3) continue;  // the plain loop on the small shapes
    const auto ga = gy.accessor<float, 4>();
    const auto wa = w.accessor<float, 4>();
    at::Tensor want = at::zeros_like(x0);
    auto out = want.accessor<float, 4>();
    for (int64_t n = 0; n < sh.batch; ++n)
      for (int64_t c = 0; c < sh.channels; ++c)
        for (int64_t iy = 0; iy < sh.height; ++iy)
          for (int64_t ix = 0; ix < sh.width; ++ix) {
            float sum = 0;
            for (int64_t a = sh.kernel - 1; a >= 0; --a)
              for (int64_t b = sh.kernel - 1; b >= 0; --b) {
                const int64_t ty = iy + sh.padding - a * sh.dilation;
                const int64_t tx = ix + sh.padding - b * sh.dilation;
                if (ty < 0 || tx < 0 || ty % sh.stride || tx % sh.stride) continue;
                if (ty / sh.stride >= gy.size(2) || tx / sh.stride >= gy.size(3)) continue;
                volatile float product =
                    ga[n][c][ty / sh.stride][tx / sh.stride] * wa[c][0][a][b];  // no FMA
                sum += product;
              }
            out[n][c][iy][ix] = sum;
          }
    EXPECT_TRUE(at::equal(per_thread_count[0], want))
        << what << ": " << (per_thread_count[0] - want).abs().max().item<float>();
  }
}

// Contiguous tensors keep LibTorch's path: oneDNN's contiguous algorithm adds the taps
// in the other order, and the kernel would not give its bits there.
TEST(DepthwiseStridedInputGradient, ContiguousTensorsKeepLibTorchsPath) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({2, 16, 12, 12}).requires_grad_();
  const at::Tensor w = at::randn({16, 1, 3, 3});
  const at::Tensor y = depthwise_conv2d(x, w, 2, 2, 2);
  const int before = StridedKernelCalls::calls_;
  at::Tensor got;
  {
    StridedKernelCalls calls;
    got = torch::autograd::grad({y}, {x}, {at::ones_like(y)})[0];
  }
  EXPECT_EQ(StridedKernelCalls::calls_ - before, 0);
  EXPECT_TRUE(got.is_contiguous());
}

TEST(DepthwiseConv2dDoubleBackward, FallsBackToTheDifferentiableFormula) {
  at::manual_seed(0);
  const at::Tensor x = at::randn({2, 3, 6, 6}, at::kDouble).requires_grad_();
  const at::Tensor w = at::randn({3, 1, 3, 3}, at::kDouble).requires_grad_();
  auto grad_x = [&](auto conv) {
    const at::Tensor y = conv();
    const auto g = torch::autograd::grad({(y * y).sum()}, {x}, {}, true, true);
    return torch::autograd::grad({g[0].pow(2).sum()}, {w})[0];
  };
  const at::Tensor ours = grad_x([&] { return depthwise_conv2d(x, w, 1, 1, 1); });
  const at::Tensor theirs = grad_x([&] { return at::conv2d(x, w, {}, 1, 1, 1, 3); });
  EXPECT_TRUE(at::allclose(ours, theirs, 1e-10, 1e-10));
}

}  // namespace
}  // namespace nasx::darts

namespace nasx::darts {
namespace {

struct CopiesCase {
  int64_t copies, channels, kernel, stride, padding, dilation;
  bool relu;
};

void PrintTo(const CopiesCase& c, std::ostream* out) {
  *out << c.copies << " copies of " << c.channels << " channels, kernel " << c.kernel << ", stride "
       << c.stride << ", dilation " << c.dilation << (c.relu ? ", ReLU" : "");
}

class DepthwiseOfCopies : public ::testing::TestWithParam<CopiesCase> {};

// depthwise_conv2d_of_relu against its definition: LibTorch's convolution of relu(x)
// repeated, differentiated by autograd — output, both gradients, every layout and type.
TEST_P(DepthwiseOfCopies, MatchesTheConvolutionOfTheRepeatedActivation) {
  const CopiesCase c = GetParam();
  at::manual_seed(c.copies * 100 + c.channels + c.kernel);
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      const at::Tensor x0 = at::randn({3, c.channels, 9, 9}, dtype).contiguous(format);
      const at::Tensor w0 = at::randn({c.copies * c.channels, 1, c.kernel, c.kernel}, dtype);
      const at::Tensor gy0 =
          at::randn_like(at::conv2d(x0.repeat({1, c.copies, 1, 1}), w0, {}, c.stride, c.padding,
                                    c.dilation, c.copies * c.channels))
              .contiguous(format);
      const auto run = [&](bool ours) {
        const at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
        const at::Tensor y =
            ours ? depthwise_conv2d_of_relu(x, w, c.stride, c.padding, c.dilation, c.copies, c.relu)
                 : at::conv2d((c.relu ? at::relu(x) : x).repeat({1, c.copies, 1, 1}), w, {},
                              c.stride, c.padding, c.dilation, c.copies * c.channels);
        auto grads = torch::autograd::grad({y}, {x, w}, {gy0});
        return std::vector<at::Tensor>{y, grads[0], grads[1]};
      };
      const auto got = run(true), want = run(false);
      const double tol = dtype == at::kFloat ? 1e-4 : 1e-10;
      const char* what[] = {"output", "input gradient", "weight gradient"};
      for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(at::allclose(got[i], want[i], tol, tol))
            << what[i] << " in " << (dtype == at::kFloat ? "float" : "double") << ", "
            << (format == at::MemoryFormat::ChannelsLast ? "channels-last" : "contiguous")
            << ": largest difference " << (got[i] - want[i]).abs().max().item<double>();
      EXPECT_TRUE(got[1].is_contiguous(format)) << "the input's gradient in its layout";
    }
  }
}

// The float kernel's bits with copies and ReLU are those of the plain kernel on the
// materialised activation: reading x in place changes nothing but the memory held.
TEST_P(DepthwiseOfCopies, FloatWeightGradientHasTheMaterialisedInputsBits) {
  const CopiesCase c = GetParam();
  at::manual_seed(11);
  const at::Tensor x = at::randn({4, c.channels, 9, 9}).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor a = (c.relu ? at::relu(x) : x).repeat({1, c.copies, 1, 1});
  const at::Tensor gy =
      at::randn_like(at::conv2d(a, at::ones({c.copies * c.channels, 1, c.kernel, c.kernel}), {},
                                c.stride, c.padding, c.dilation, c.copies * c.channels));
  const at::Tensor got = depthwise_conv2d_weight_grad(x, gy, c.kernel, c.stride, c.padding,
                                                      c.dilation, c.copies, c.relu);
  const at::Tensor want =
      depthwise_conv2d_weight_grad(a, gy, c.kernel, c.stride, c.padding, c.dilation);
  EXPECT_TRUE(at::equal(got, want)) << (got - want).abs().max().item<float>();
}

INSTANTIATE_TEST_SUITE_P(
    EdgeGroups, DepthwiseOfCopies,
    ::testing::Values(CopiesCase{1, 8, 3, 1, 1, 1, true}, CopiesCase{4, 8, 3, 1, 1, 1, true},
                      CopiesCase{3, 16, 5, 1, 2, 1, true}, CopiesCase{2, 8, 5, 2, 4, 2, true},
                      CopiesCase{4, 8, 3, 2, 1, 1, false}, CopiesCase{2, 12, 3, 1, 2, 2, true},
                      CopiesCase{3, 6, 5, 2, 2, 1, true}, CopiesCase{3, 24, 3, 1, 1, 1, true},
                      CopiesCase{2, 24, 5, 2, 4, 2, true}),
    [](const auto& info) {
      const CopiesCase& c = info.param;
      return "e" + std::to_string(c.copies) + "c" + std::to_string(c.channels) + "k" +
             std::to_string(c.kernel) + "s" + std::to_string(c.stride) + "d" +
             std::to_string(c.dilation) + (c.relu ? "relu" : "");
    });

// Only x is kept for the backward pass: neither relu(x) nor its copies outlive the forward.
TEST(DepthwiseOfCopiesMemory, KeepsNeitherTheActivationNorItsCopies) {
  const at::Tensor w = at::randn({24, 1, 3, 3}).requires_grad_();
  const at::Tensor x = at::randn({2, 8, 6, 6}).requires_grad_();
  at::Tensor y;
  const auto activated = [&] {
    const at::Tensor a = at::relu(x.detach()).repeat({1, 3, 1, 1});
    y = depthwise_conv2d_of_relu(x, w, 1, 1, 1, 3, true, a);
    return a.storage().getWeakStorageImpl();
  }();
  EXPECT_TRUE(activated.expired());
  y.sum().backward();
  EXPECT_TRUE(x.grad().defined());
}

// Gradients of gradients through the copies and the ReLU: LibTorch's differentiable path,
// at stride 1 and 2, in both layouts.
TEST(DepthwiseOfCopiesDoubleBackward, MatchesTheDefinition) {
  for (const int64_t stride : {1, 2}) {
    for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      at::manual_seed(5 + stride);
      const at::Tensor x = at::randn({2, 4, 6, 6}, at::kDouble).contiguous(format).requires_grad_();
      const at::Tensor w = at::randn({8, 1, 3, 3}, at::kDouble).requires_grad_();
      auto penalty = [&](auto conv) {
        const at::Tensor y = conv();
        const auto g = torch::autograd::grad({(y * y).sum()}, {x, w}, {}, true, true);
        return torch::autograd::grad({g[0].pow(2).sum() + g[1].pow(2).sum()}, {x, w});
      };
      const auto ours =
          penalty([&] { return depthwise_conv2d_of_relu(x, w, stride, 1, 1, 2, true); });
      const auto theirs = penalty([&] {
        return at::conv2d(at::relu(x).repeat({1, 2, 1, 1}), w, {}, stride, 1, 1, 8);
      });
      EXPECT_TRUE(at::allclose(ours[0], theirs[0], 1e-10, 1e-10)) << "through x, stride " << stride;
      EXPECT_TRUE(at::allclose(ours[1], theirs[1], 1e-10, 1e-10)) << "through w, stride " << stride;
    }
  }
}

// At stride 2 the input gradient comes from LibTorch's convolution_backward given an
// uninitialised tensor of the input's shape: what it relies on is that the input's values
// never enter that gradient. Pinned with an input of NaNs in the shapes the space uses.
TEST(DepthwiseInputGradient, DoesNotReadTheInputsValues) {
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      for (const int64_t dilation : {1, 2}) {
        const int64_t kernel = 5, padding = dilation * 2;
        const at::Tensor x = at::randn({2, 16, 8, 8}, dtype).contiguous(format);
        const at::Tensor nans = at::full_like(x, std::numeric_limits<double>::quiet_NaN());
        const at::Tensor w = at::randn({16, 1, kernel, kernel}, dtype);
        const at::Tensor gy = at::randn_like(at::conv2d(x, w, {}, 2, padding, dilation, 16));
        const auto input_grad = [&](const at::Tensor& input) {
          return std::get<0>(at::convolution_backward(gy, input, w, c10::nullopt, {2, 2},
                                                      {padding, padding}, {dilation, dilation},
                                                      false, {0, 0}, 16, {true, false, false}));
        };
        EXPECT_TRUE(at::equal(input_grad(nans), input_grad(x)))
            << "dilation " << dilation << ", "
            << (format == at::MemoryFormat::ChannelsLast ? "channels-last" : "contiguous");
      }
    }
  }
}

}  // namespace
}  // namespace nasx::darts
