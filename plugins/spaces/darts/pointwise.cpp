#include "darts/pointwise.hpp"

#include <array>
#include <tuple>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "darts/cpu_features.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NASX_POINTWISE_FMA 1
#endif

namespace nasx::darts {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr std::array<int64_t, 2> kOne = {1, 1}, kZero = {0, 0};

/// One convolution as the kernel sees it: x [pixels, groups·in], taps [groups, in, out]
/// (each input channel's weights for its group's outputs side by side), y [pixels,
/// groups·out].
struct Sizes {
  int64_t pixels, groups, in, out;
};

#if defined(NASX_POINTWISE_FMA)

#define NASX_FMA_TARGET __attribute__((target("avx2,fma")))
#define NASX_ALWAYS_INLINE inline __attribute__((always_inline))

/// Outputs [first, first + 8·kVectors) of group g for pixels [pixel, pixel + kPixels):
/// kPixels·kVectors independent chains, each over the group's inputs in order, fused
/// multiply-adds from zero (oneDNN's operations, hence its bits), held in registers.
template <int kVectors, int kPixels>
NASX_FMA_TARGET NASX_ALWAYS_INLINE void block(const float* x, const float* taps, float* y,
                                              int64_t pixel, int64_t g, int64_t first,
                                              const Sizes& s) {
  const int64_t x_row = s.groups * s.in, y_row = s.groups * s.out;
  const float* in = x + pixel * x_row + g * s.in;
  const float* t = taps + g * s.in * s.out + first;
  __m256 sum[kPixels][kVectors];
#pragma GCC unroll 8
  for (int p = 0; p < kPixels; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) sum[p][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < s.in; ++k, t += s.out) {
    __m256 w[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) w[v] = _mm256_loadu_ps(t + 8 * v);
#pragma GCC unroll 8
    for (int p = 0; p < kPixels; ++p) {
      const __m256 value = _mm256_broadcast_ss(in + p * x_row + k);
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) sum[p][v] = _mm256_fmadd_ps(value, w[v], sum[p][v]);
    }
  }
  float* out = y + pixel * y_row + g * s.out + first;
#pragma GCC unroll 8
  for (int p = 0; p < kPixels; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) _mm256_storeu_ps(out + p * y_row + 8 * v, sum[p][v]);
}

/// Pixels [begin, end), kPixels at a time (the rest one by one). kPixels·kVectors chains
/// keep the multiply-adds' pipelines busy without spilling AVX2's sixteen registers.
template <int kVectors, int kPixels>
NASX_FMA_TARGET void convolve(const float* x, const float* taps, float* y, int64_t begin,
                              int64_t end, const Sizes& s) {
  constexpr int64_t kChannels = 8 * kVectors;
  int64_t pixel = begin;
  for (; pixel + kPixels <= end; pixel += kPixels)
    for (int64_t g = 0; g < s.groups; ++g)
      for (int64_t first = 0; first < s.out; first += kChannels)
        block<kVectors, kPixels>(x, taps, y, pixel, g, first, s);
  for (; pixel < end; ++pixel)
    for (int64_t g = 0; g < s.groups; ++g)
      for (int64_t first = 0; first < s.out; first += kChannels)
        block<kVectors, 1>(x, taps, y, pixel, g, first, s);
}

#endif

/// Inputs per group up to which the kernel is the faster: with more, each output is
/// enough arithmetic for oneDNN's blocking (AVX-512 where the CPU has it) to win. Measured
/// on 2 cores, forward and backward: 0.4-0.8x oneDNN's time at 8 and 16 inputs per group,
/// even at 32 in 4 groups, 1.2x at 32 and 64 ungrouped.
constexpr int64_t kMaxInputsPerGroup = 16;

/// Whether LibTorch convolves x (1x1, unstrided, float, on the CPU) with oneDNN, whose
/// operations the kernel repeats: its rule, the same in LibTorch 1.13 and 2.x. Otherwise
/// (one thread and a batch under 16, or a single small image) it runs a loop of its own
/// that multiplies and adds in separate roundings.
bool libtorch_takes_onednn(const at::Tensor& x, int64_t groups) {
  const int64_t batch = x.size(0);
  return at::hasMKLDNN() && at::globalContext().userEnabledMkldnn() &&
         (batch >= 16 || at::get_num_threads() > 1) &&
         (groups > 1 || batch > 1 || x.numel() > 20480);
}

/// Whether the kernel convolves x with these taps [groups, in, out].
bool kernel_applies(const at::Tensor& x, int64_t groups, int64_t in, int64_t out) {
  return cpu_has_avx2_and_fma() && x.device().is_cpu() && x.layout() == at::kStrided &&
         x.scalar_type() == at::kFloat && x.dim() == 4 && x.numel() > 0 &&
         x.is_contiguous(at::MemoryFormat::ChannelsLast) && x.size(1) == groups * in && in > 0 &&
         in <= kMaxInputsPerGroup && out > 0 && out % 8 == 0 && libtorch_takes_onednn(x, groups);
}

/// y[n, g·out + j, h, w] = Σ_k x[n, g·in + k, h, w] · taps[g, k, j], channels-last.
at::Tensor convolve_pointwise(const at::Tensor& x, const at::Tensor& taps) {
  RECORD_FUNCTION("nasx::darts::pointwise_conv", std::vector<c10::IValue>({x, taps}));
  const Sizes s{x.size(0) * x.size(2) * x.size(3), taps.size(0), taps.size(1), taps.size(2)};
  at::Tensor y = at::empty({x.size(0), s.groups * s.out, x.size(2), x.size(3)},
                           x.options().memory_format(at::MemoryFormat::ChannelsLast));
#if defined(NASX_POINTWISE_FMA)
  const float* x_data = x.data_ptr<float>();
  const float* tap_data = taps.data_ptr<float>();
  float* y_data = y.data_ptr<float>();
  // Each output is one chain, whichever thread computes it: the bits do not depend on the
  // threads.
  at::parallel_for(0, s.pixels, 256, [&](int64_t begin, int64_t end) {
    if (s.out % 32 == 0)
      convolve<4, 2>(x_data, tap_data, y_data, begin, end, s);
    else if (s.out % 16 == 0)
      convolve<2, 4>(x_data, tap_data, y_data, begin, end, s);
    else
      convolve<1, 8>(x_data, tap_data, y_data, begin, end, s);
  });
#endif
  return y;
}

/// The taps of the forward pass: [groups, in, out].
at::Tensor forward_taps(const at::Tensor& weight, int64_t groups) {
  return weight.reshape({groups, weight.size(0) / groups, weight.size(1)})
      .transpose(1, 2)
      .contiguous();
}

/// The taps of the input gradient, gy's channels the inputs: [groups, out, in], the
/// weight as it lies.
at::Tensor input_grad_taps(const at::Tensor& weight, int64_t groups) {
  return weight.reshape({groups, weight.size(0) / groups, weight.size(1)}).contiguous();
}

bool weight_fits(const at::Tensor& weight, int64_t groups) {
  return weight.device().is_cpu() && weight.layout() == at::kStrided &&
         weight.scalar_type() == at::kFloat && weight.dim() == 4 && weight.size(2) == 1 &&
         weight.size(3) == 1 && groups > 0 && weight.size(0) % groups == 0;
}

class PointwiseConv2dFunction : public torch::autograd::Function<PointwiseConv2dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            int64_t groups) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["groups"] = groups;
    return convolve_pointwise(x, forward_taps(weight, groups));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const int64_t groups = ctx->saved_data["groups"].toInt();
    const at::Tensor& gy = grad_outputs[0];
    const bool want_input = ctx->needs_input_grad(0), want_weight = ctx->needs_input_grad(1);
    // The input gradient is the same kernel, gy's channels its inputs (each group's
    // outputs), where those fit it; otherwise, and with create_graph (LibTorch's formula
    // is differentiable, the kernel is not), LibTorch's.
    const bool kernel_input_grad =
        want_input && !at::GradMode::is_enabled() &&
        kernel_applies(gy, groups, weight.size(0) / groups, weight.size(1));
    at::Tensor grad_x, grad_w;
    if (want_weight || (want_input && !kernel_input_grad)) {
      auto grads =
          at::convolution_backward(gy, x, weight, c10::nullopt, kOne, kZero, kOne, false, kZero,
                                   groups, {want_input && !kernel_input_grad, want_weight, false});
      if (!kernel_input_grad) grad_x = std::get<0>(grads);
      grad_w = std::get<1>(grads);
    }
    if (kernel_input_grad) grad_x = convolve_pointwise(gy, input_grad_taps(weight, groups));
    return {grad_x, grad_w, at::Tensor()};
  }
};

}  // namespace

bool pointwise_conv_fma_applies(const at::Tensor& x, const at::Tensor& weight, int64_t groups) {
  return weight_fits(weight, groups) &&
         kernel_applies(x, groups, weight.size(1), weight.size(0) / groups);
}

at::Tensor pointwise_conv2d(const at::Tensor& x, const at::Tensor& weight, int64_t groups) {
  if (!pointwise_conv_fma_applies(x, weight, groups))
    return at::conv2d(x, weight, {}, kOne, kZero, kOne, groups);
  return PointwiseConv2dFunction::apply(x, weight, groups);
}

}  // namespace nasx::darts
