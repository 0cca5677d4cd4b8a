#include "darts/depthwise_fma.hpp"

#include <algorithm>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include "darts/cpu_features.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NASX_DEPTHWISE_FMA 1
#endif

namespace nasx::darts {

namespace {

/// Sizes of one convolution: x [N, H, W, Cx], output [N, Ho, Wo, C], C = copies·Cx (or C
/// = Cx), channel c of the output reading x's channel c mod Cx.
struct ConvShape {
  int64_t channels, x_channels, height, width, out_height, out_width, stride, padding, dilation;
};

#if defined(NASX_DEPTHWISE_FMA)

#define NASX_FMA_TARGET __attribute__((target("avx2,fma")))

NASX_FMA_TARGET inline __attribute__((always_inline)) __m256 read(const float* p, bool relu) {
  const __m256 v = _mm256_loadu_ps(p);
  // at::relu's: max(0, v) keeps NaN (the second operand wins when unordered).
  return relu ? _mm256_max_ps(_mm256_setzero_ps(), v) : v;
}

/// Zero where mask <= 0, as threshold_backward (NaN in the mask passes the value on).
NASX_FMA_TARGET inline __attribute__((always_inline)) __m256 masked(__m256 v, const float* mask) {
  const __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(mask), _mm256_setzero_ps(), _CMP_NLE_UQ);
  return _mm256_and_ps(v, keep);
}

template <bool kMask>
NASX_FMA_TARGET inline __attribute__((always_inline)) void store(float* out, const float* mask,
                                                                 __m256 v) {
  if constexpr (kMask) v = masked(v, mask);
  _mm256_storeu_ps(out, v);
}

/// Outputs (first + j, channels c..c+8·kBlocks) for j < N of one row, each tap checked:
/// each its own chain over the taps inside the image, row-major, fused multiply-adds from
/// zero (the same operations as the body's). N and kBlocks are compile-time counts, so the
/// chains stay in registers.
template <int K, int N, int kBlocks, bool kRelu, bool kMask>
NASX_FMA_TARGET inline __attribute__((always_inline)) void checked_block(
    const float* image, const float* taps, const float* mask_row, float* out, const ConvShape& s,
    int64_t oy, int64_t first, int64_t c) {
  const int64_t channels = s.channels, x_channels = s.x_channels;
  int64_t lane[kBlocks];  // each block's channels in x (a block of eight is inside one copy)
#pragma GCC unroll 2
  for (int k = 0; k < kBlocks; ++k) lane[k] = (c + 8 * k) % x_channels;
  __m256 sum[kBlocks][N];
#pragma GCC unroll 2
  for (int k = 0; k < kBlocks; ++k)
#pragma GCC unroll 4
    for (int j = 0; j < N; ++j) sum[k][j] = _mm256_setzero_ps();
  for (int a = 0; a < K; ++a) {
    const int64_t iy = oy * s.stride - s.padding + a * s.dilation;
    if (iy < 0 || iy >= s.height) continue;
    const float* row = image + iy * s.width * x_channels;
    for (int b = 0; b < K; ++b) {
#pragma GCC unroll 2
      for (int k = 0; k < kBlocks; ++k) {
        const __m256 w = _mm256_loadu_ps(taps + (a * K + b) * channels + c + 8 * k);
#pragma GCC unroll 4
        for (int j = 0; j < N; ++j) {
          const int64_t ix = (first + j) * s.stride - s.padding + b * s.dilation;
          if (ix >= 0 && ix < s.width)
            sum[k][j] = _mm256_fmadd_ps(read(row + ix * x_channels + lane[k], kRelu), w, sum[k][j]);
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int k = 0; k < kBlocks; ++k)
#pragma GCC unroll 4
    for (int j = 0; j < N; ++j) {
      const int64_t at = (first + j) * channels + c + 8 * k;
      store<kMask>(out + at, kMask ? mask_row + at : nullptr, sum[k][j]);
    }
}

/// checked_block for the columns [first, min(first + 4, end)).
template <int K, int kBlocks, bool kRelu, bool kMask>
NASX_FMA_TARGET inline __attribute__((always_inline)) void checked_blocks(
    const float* image, const float* taps, const float* mask_row, float* out, const ConvShape& s,
    int64_t oy, int64_t first, int64_t end, int64_t c) {
  switch (std::min<int64_t>(4, end - first)) {
    case 4:
      return checked_block<K, 4, kBlocks, kRelu, kMask>(image, taps, mask_row, out, s, oy, first,
                                                        c);
    case 3:
      return checked_block<K, 3, kBlocks, kRelu, kMask>(image, taps, mask_row, out, s, oy, first,
                                                        c);
    case 2:
      return checked_block<K, 2, kBlocks, kRelu, kMask>(image, taps, mask_row, out, s, oy, first,
                                                        c);
    default:
      return checked_block<K, 1, kBlocks, kRelu, kMask>(image, taps, mask_row, out, s, oy, first,
                                                        c);
  }
}

/// Columns [begin, end) of one output row, each tap checked (those near the edges), four at
/// a time and two blocks of eight channels at a time: one column alone is a chain of up to
/// 25 dependent multiply-adds that waits on each one's latency, and a 5x5 kernel on a 7x7
/// image has no column whose taps are all inside.
template <int K, bool kRelu, bool kMask>
NASX_FMA_TARGET inline __attribute__((always_inline)) void checked_columns(
    const float* image, const float* taps, const float* mask_row, float* out, const ConvShape& s,
    int64_t oy, int64_t begin, int64_t end) {
  for (int64_t first = begin; first < end; first += 4) {
    int64_t c = 0;
    for (; c + 16 <= s.channels; c += 16)
      checked_blocks<K, 2, kRelu, kMask>(image, taps, mask_row, out, s, oy, first, end, c);
    for (; c < s.channels; c += 8)
      checked_blocks<K, 1, kRelu, kMask>(image, taps, mask_row, out, s, oy, first, end, c);
  }
}

/// Outputs ox..ox+3 of one row, all taps inside the image, for kBlocks blocks of eight
/// channels from c: per output the chain of multiply-adds over the taps, row-major, from
/// zero; 4·kBlocks chains side by side (four alone wait on the multiply-adds' latency: two
/// blocks keep both FMA units busy). kFixedDilation 1 or 2: stride 1 at that dilation, the
/// offsets compile-time constants; 0: the shape's stride and dilation.
template <int K, int kFixedDilation, int kBlocks, bool kRelu, bool kMask>
NASX_FMA_TARGET inline __attribute__((always_inline)) void body_block(
    const float* image, const float* taps, const float* mask_row, float* out, const ConvShape& s,
    int64_t oy, int64_t ox, int64_t c, int a_begin, int a_end) {
  const int64_t stride = kFixedDilation > 0 ? 1 : s.stride;
  const int64_t dilation = kFixedDilation > 0 ? kFixedDilation : s.dilation;
  const int64_t channels = s.channels, x_channels = s.x_channels;
  int64_t lane[kBlocks];  // each block's channels in x (a block of eight is inside one copy)
#pragma GCC unroll 2
  for (int k = 0; k < kBlocks; ++k) lane[k] = (c + 8 * k) % x_channels;
  __m256 y[kBlocks][4];
#pragma GCC unroll 2
  for (int k = 0; k < kBlocks; ++k)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) y[k][j] = _mm256_setzero_ps();
  for (int a = a_begin; a < a_end; ++a) {
    const float* p =
        image +
        ((oy * stride - s.padding + a * dilation) * s.width + ox * stride - s.padding) * x_channels;
    const float* t = taps + a * K * channels + c;
#pragma GCC unroll 8
    for (int b = 0; b < K; ++b) {
#pragma GCC unroll 2
      for (int k = 0; k < kBlocks; ++k) {
        const __m256 w = _mm256_loadu_ps(t + b * channels + 8 * k);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j)
          y[k][j] = _mm256_fmadd_ps(
              read(p + (j * stride + b * dilation) * x_channels + lane[k], kRelu), w, y[k][j]);
      }
    }
  }
#pragma GCC unroll 2
  for (int k = 0; k < kBlocks; ++k)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const int64_t at = (ox + j) * channels + c + 8 * k;
      store<kMask>(out + at, kMask ? mask_row + at : nullptr, y[k][j]);
    }
}

/// Output rows [first, last) of the flattened (n, oy): the columns near the edges tap by
/// tap checked, those whose taps are all inside the image four at a time, two blocks of
/// eight channels together (one where they do not pair).
template <int K, int kFixedDilation, bool kRelu, bool kMask>
NASX_FMA_TARGET void convolve_rows(const float* x, const float* taps, const float* mask, float* y,
                                   int64_t first, int64_t last, const ConvShape& s) {
  const int64_t channels = s.channels, x_channels = s.x_channels, width = s.width;
  const int64_t stride = s.stride, padding = s.padding, dilation = s.dilation;
  const int64_t out_width = s.out_width;
  const auto [lo, hi] = inside_columns(width, out_width, K, stride, padding, dilation);
  for (int64_t row = first; row < last; ++row) {
    const int64_t n = row / s.out_height, oy = row % s.out_height;
    const float* image = x + n * s.height * width * x_channels;
    float* out = y + row * out_width * channels;
    const float* mask_row = kMask ? mask + row * out_width * channels : nullptr;
    int a_begin = 0, a_end = K;  // the kernel rows inside the image
    while (a_begin < K && oy * stride - padding + a_begin * dilation < 0) ++a_begin;
    while (a_end > a_begin && oy * stride - padding + (a_end - 1) * dilation >= s.height) --a_end;
    checked_columns<K, kRelu, kMask>(image, taps, mask_row, out, s, oy, 0, lo);
    const int64_t body_end = lo + (hi - lo) / 4 * 4;
    for (int64_t ox = lo; ox < body_end; ox += 4) {
      int64_t c = 0;
      for (; c + 16 <= channels; c += 16)
        body_block<K, kFixedDilation, 2, kRelu, kMask>(image, taps, mask_row, out, s, oy, ox, c,
                                                       a_begin, a_end);
      for (; c < channels; c += 8)
        body_block<K, kFixedDilation, 1, kRelu, kMask>(image, taps, mask_row, out, s, oy, ox, c,
                                                       a_begin, a_end);
    }
    checked_columns<K, kRelu, kMask>(image, taps, mask_row, out, s, oy, body_end, out_width);
  }
}

template <int K, int kFixedDilation>
void convolve_at(const float* x, const float* taps, const float* mask, float* y, int64_t first,
                 int64_t last, const ConvShape& s, bool relu) {
  if (mask != nullptr)
    convolve_rows<K, kFixedDilation, false, true>(x, taps, mask, y, first, last, s);
  else if (relu)
    convolve_rows<K, kFixedDilation, true, false>(x, taps, mask, y, first, last, s);
  else
    convolve_rows<K, kFixedDilation, false, false>(x, taps, mask, y, first, last, s);
}

/// kFixedDilation 1 or 2: stride 1 at that dilation, known at compile time (the spaces'
/// separable and dilated convolutions, and every input gradient); 0: any stride and
/// dilation, read from the shape.
template <int K>
void convolve(const float* x, const float* taps, const float* mask, float* y, int64_t first,
              int64_t last, const ConvShape& s, bool relu) {
  if (s.stride == 1 && s.dilation == 1)
    convolve_at<K, 1>(x, taps, mask, y, first, last, s, relu);
  else if (s.stride == 1 && s.dilation == 2)
    convolve_at<K, 2>(x, taps, mask, y, first, last, s, relu);
  else
    convolve_at<K, 0>(x, taps, mask, y, first, last, s, relu);
}

#endif

bool channels_last_floats(const at::Tensor& t) {
  return t.device().is_cpu() && t.layout() == at::kStrided && t.scalar_type() == at::kFloat &&
         t.dim() == 4 && t.numel() > 0 && t.size(1) % 8 == 0 &&
         t.is_contiguous(at::MemoryFormat::ChannelsLast);
}

/// Output pixels along a side of `size` (LibTorch's formula; < 1 where it refuses).
int64_t output_size(int64_t size, int64_t kernel, int64_t stride, int64_t padding,
                    int64_t dilation) {
  const int64_t span = size + 2 * padding - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

}  // namespace

bool depthwise_conv_fma_reads(const at::Tensor& x) {
  return channels_last_floats(x) && cpu_has_avx2_and_fma();
}

bool depthwise_conv_fma_applies(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                                int64_t padding, int64_t dilation) {
  if (!depthwise_conv_fma_reads(x) || !weight.device().is_cpu() ||
      weight.layout() != at::kStrided || weight.scalar_type() != at::kFloat || weight.dim() != 4)
    return false;
  const int64_t kernel = weight.size(2);
  if ((kernel != 3 && kernel != 5) || weight.size(3) != kernel || weight.size(1) != 1 ||
      weight.size(0) % x.size(1) != 0 || weight.size(0) % 8 != 0)
    return false;
  if (stride < 1 || dilation < 1 || padding < 0) return false;
  return output_size(x.size(2), kernel, stride, padding, dilation) > 0 &&
         output_size(x.size(3), kernel, stride, padding, dilation) > 0;
}

at::Tensor depthwise_conv_fma(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                              int64_t padding, int64_t dilation, int64_t copies, bool relu,
                              const at::Tensor& mask) {
  // Its inputs named, so that --profile-shapes lists each shape.
  RECORD_FUNCTION("nasx::darts::depthwise_conv_fma", std::vector<c10::IValue>({x, weight}));
  TORCH_CHECK(depthwise_conv_fma_applies(x, weight, stride, padding, dilation) &&
                  weight.size(0) == copies * x.size(1),
              "depthwise_conv_fma: unsupported convolution");
  const int64_t kernel = weight.size(2);
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3);
  const int64_t out_height = output_size(height, kernel, stride, padding, dilation);
  const int64_t out_width = output_size(width, kernel, stride, padding, dilation);
  const int64_t channels = weight.size(0);
  at::Tensor y = at::empty({batch, channels, out_height, out_width},
                           x.options().memory_format(at::MemoryFormat::ChannelsLast));
  const at::Tensor mask_cl =
      mask.defined() ? mask.contiguous(at::MemoryFormat::ChannelsLast) : at::Tensor();
  TORCH_CHECK(
      !mask.defined() || (!relu && mask.sizes() == y.sizes() && mask.scalar_type() == at::kFloat),
      "depthwise_conv_fma: a mask of the output's sizes, without the ReLU");
#if defined(NASX_DEPTHWISE_FMA)
  const ConvShape shape{channels,  x.size(1), height,  width,   out_height,
                        out_width, stride,    padding, dilation};
  // [k·k, C]: each tap's weights for all channels side by side.
  const at::Tensor taps = weight.reshape({channels, kernel * kernel}).t().contiguous();
  const float* x_data = x.data_ptr<float>();
  const float* tap_data = taps.data_ptr<float>();
  const float* mask_data = mask_cl.defined() ? mask_cl.data_ptr<float>() : nullptr;
  float* y_data = y.data_ptr<float>();
  at::parallel_for(0, batch * out_height, 1, [&](int64_t begin, int64_t end) {
    if (kernel == 3)
      convolve<3>(x_data, tap_data, mask_data, y_data, begin, end, shape, relu);
    else
      convolve<5>(x_data, tap_data, mask_data, y_data, begin, end, shape, relu);
  });
#endif
  return y;
}

}  // namespace nasx::darts
