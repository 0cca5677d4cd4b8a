#include "darts/avg_pool.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "darts/float8.hpp"

namespace nasx::darts {

namespace {

/// Sizes of one pooling: input [N, H, W, C] and output [N, Ho, Wo, C], both NHWC.
struct PoolShape {
  int64_t batch, height, width, channels, out_height, out_width, stride;
};

/// The rows or columns a 3x3 window at output position `o` covers, padding excluded.
struct Span {
  int64_t begin, end;
};
Span window(int64_t o, int64_t stride, int64_t size) {
  const int64_t start = o * stride - 1;
  return {std::max<int64_t>(start, 0), std::min<int64_t>(start + 3, size)};
}

/// The nine vectors of a full 3x3 window at p (rows `row` apart, columns `column` apart)
/// summed in row-major order from zero: what the general loops below compute for it, as
/// straight-line code (their variable trip counts kept the compiler from unrolling them,
/// and interior windows are nearly all of them).
inline __attribute__((always_inline)) float8 sum_of_nine(const float* p, int64_t row,
                                                         int64_t column) {
  float8 sum = {};
  for (int i = 0; i < 3; ++i, p += row) {
    sum += load8(p);
    sum += load8(p + column);
    sum += load8(p + 2 * column);
  }
  return sum;
}

/// sum_of_nine of `vectors` windows side by side, their corners 8 floats apart (a run of
/// interior outputs at stride 1, with channels a multiple of eight: the windows of
/// consecutive output vectors start at consecutive input vectors), each stored divided by
/// `divisor` when Divide. Four windows at a time: each is its own chain of additions in
/// sum_of_nine's order, so the bits are the same, but the CPU overlaps four chains where
/// one alone waited on every addition's latency.
template <bool Divide>
inline __attribute__((always_inline)) void sum_of_nine_run(const float* corner, float* out,
                                                           int64_t vectors, int64_t row,
                                                           int64_t column, float divisor = 1) {
  int64_t k = 0;
  for (; k + 4 <= vectors; k += 4) {
    float8 s0 = {}, s1 = {}, s2 = {}, s3 = {};
    const float* p = corner + 8 * k;
    for (int i = 0; i < 3; ++i, p += row)
      for (int j = 0; j < 3; ++j) {
        const float* q = p + j * column;
        s0 += load8(q);
        s1 += load8(q + 8);
        s2 += load8(q + 16);
        s3 += load8(q + 24);
      }
    float* o = out + 8 * k;
    if (Divide) {
      s0 /= divisor;
      s1 /= divisor;
      s2 /= divisor;
      s3 /= divisor;
    }
    store8(o, s0);
    store8(o + 8, s1);
    store8(o + 16, s2);
    store8(o + 24, s3);
  }
  for (; k < vectors; ++k) {
    const float8 sum = sum_of_nine(corner + 8 * k, row, column);
    store8(out + 8 * k, Divide ? sum / divisor : sum);
  }
}

/// The columns of a row that a run (sum_of_nine_run over columns 1 .. width - 2) leaves
/// to the general loop: the first and the last, or all `width` without a run.
std::array<Span, 2> columns_left(bool run, int64_t width) {
  if (!run) return {Span{0, width}, Span{width, width}};
  return {Span{0, 1}, Span{width - 1, width}};
}

/// Output rows [first, last) of the flattened (n, oy): each output's window summed in
/// row-major order (each window row left to right), from zero, then divided by its count,
/// as LibTorch's kernel does per channel.
NASX_AVX2_WHERE_PRESENT
void pool_rows(const float* x, float* y, const PoolShape& s, int64_t first, int64_t last) {
  const int64_t channels = s.channels, blocks = channels / 8 * 8;
  for (int64_t row = first; row < last; ++row) {
    const int64_t n = row / s.out_height, oy = row % s.out_height;
    const Span rows = window(oy, s.stride, s.height);
    // At stride 1 the outputs between the first and the last column have full windows
    // whose corners are consecutive: one run, when whole vectors make the channels. The
    // loop below takes the columns it leaves (all of them without it).
    const int64_t width = s.out_width;
    const bool run =
        s.stride == 1 && blocks == channels && rows.end - rows.begin == 3 && width >= 3;
    if (run)
      sum_of_nine_run<true>(x + (n * s.height + rows.begin) * s.width * channels,
                            y + (row * width + 1) * channels, (width - 2) * channels / 8,
                            s.width * channels, channels, 9.0f);
    for (const Span& columns : columns_left(run, width))
      for (int64_t ox = columns.begin; ox < columns.end; ++ox) {
        const Span cols = window(ox, s.stride, s.width);
        const float count = static_cast<float>((rows.end - rows.begin) * (cols.end - cols.begin));
        float* out = y + (row * s.out_width + ox) * channels;
        if (rows.end - rows.begin == 3 && cols.end - cols.begin == 3) {
          const float* corner = x + ((n * s.height + rows.begin) * s.width + cols.begin) * channels;
          for (int64_t c = 0; c < blocks; c += 8)
            store8(out + c, sum_of_nine(corner + c, s.width * channels, channels) / count);
        } else {
          for (int64_t c = 0; c < blocks; c += 8) {
            float8 sum = {};
            for (int64_t iy = rows.begin; iy < rows.end; ++iy)
              for (int64_t ix = cols.begin; ix < cols.end; ++ix)
                sum += load8(x + ((n * s.height + iy) * s.width + ix) * channels + c);
            store8(out + c, sum / count);
          }
        }
        for (int64_t c = blocks; c < channels; ++c) {
          float sum = 0;
          for (int64_t iy = rows.begin; iy < rows.end; ++iy)
            for (int64_t ix = cols.begin; ix < cols.end; ++ix)
              sum += x[((n * s.height + iy) * s.width + ix) * channels + c];
          out[c] = sum / count;
        }
      }
  }
}

/// Output rows [first, last) of the flattened (n, oy) of the backward's first pass: each
/// output's gradient divided by its window's count (its share of each cell).
NASX_AVX2_WHERE_PRESENT
void share_rows(const float* gy, float* shares, const PoolShape& s, int64_t first, int64_t last) {
  const int64_t channels = s.channels, blocks = channels / 8 * 8;
  for (int64_t row = first; row < last; ++row) {
    const Span rows = window(row % s.out_height, s.stride, s.height);
    for (int64_t ox = 0; ox < s.out_width; ++ox) {
      const Span cols = window(ox, s.stride, s.width);
      const float count = static_cast<float>((rows.end - rows.begin) * (cols.end - cols.begin));
      const int64_t at = (row * s.out_width + ox) * channels;
      for (int64_t c = 0; c < blocks; c += 8) store8(shares + at + c, load8(gy + at + c) / count);
      for (int64_t c = blocks; c < channels; ++c) shares[at + c] = gy[at + c] / count;
    }
  }
}

/// The outputs whose windows cover input row (or column) i: [begin, end).
Span covering(int64_t i, int64_t stride, int64_t out_size) {
  // Output o covers o·stride - 1 .. o·stride + 1.
  const int64_t begin = i == 0 ? 0 : (i - 1 + stride - 1) / stride;
  return {begin, std::min<int64_t>((i + 1) / stride + 1, out_size)};
}

/// Input rows [first, last) of the flattened (n, iy) of the backward's second pass: each
/// cell the sum of the shares of the outputs covering it, in the outputs' row-major order
/// from zero, the order in which LibTorch's kernel adds them into the zeroed gradient.
NASX_AVX2_WHERE_PRESENT
void gather_rows(const float* shares, float* gx, const PoolShape& s, int64_t first, int64_t last) {
  const int64_t channels = s.channels, blocks = channels / 8 * 8;
  for (int64_t row = first; row < last; ++row) {
    const int64_t n = row / s.height;
    const Span outs_y = covering(row % s.height, s.stride, s.out_height);
    // As in pool_rows: at stride 1 the cells between the first and the last column gather
    // full 3x3 blocks of shares whose corners are consecutive; the loop takes the others.
    const int64_t width = s.width;
    const bool run =
        s.stride == 1 && blocks == channels && outs_y.end - outs_y.begin == 3 && width >= 3;
    if (run)
      sum_of_nine_run<false>(shares + (n * s.out_height + outs_y.begin) * s.out_width * channels,
                             gx + (row * width + 1) * channels, (width - 2) * channels / 8,
                             s.out_width * channels, channels);
    for (const Span& columns : columns_left(run, width))
      for (int64_t ix = columns.begin; ix < columns.end; ++ix) {
        const Span outs_x = covering(ix, s.stride, s.out_width);
        float* out = gx + (row * s.width + ix) * channels;
        if (outs_y.end - outs_y.begin == 3 && outs_x.end - outs_x.begin == 3) {
          const float* corner =
              shares + ((n * s.out_height + outs_y.begin) * s.out_width + outs_x.begin) * channels;
          for (int64_t c = 0; c < blocks; c += 8)
            store8(out + c, sum_of_nine(corner + c, s.out_width * channels, channels));
        } else {
          for (int64_t c = 0; c < blocks; c += 8) {
            float8 sum = {};
            for (int64_t oy = outs_y.begin; oy < outs_y.end; ++oy)
              for (int64_t ox = outs_x.begin; ox < outs_x.end; ++ox)
                sum += load8(shares + ((n * s.out_height + oy) * s.out_width + ox) * channels + c);
            store8(out + c, sum);
          }
        }
        for (int64_t c = blocks; c < channels; ++c) {
          float sum = 0;
          for (int64_t oy = outs_y.begin; oy < outs_y.end; ++oy)
            for (int64_t ox = outs_x.begin; ox < outs_x.end; ++ox)
              sum += shares[((n * s.out_height + oy) * s.out_width + ox) * channels + c];
          out[c] = sum;
        }
      }
  }
}

PoolShape shape_of(at::IntArrayRef sizes, int64_t stride) {
  const int64_t height = sizes[2], width = sizes[3];
  return {sizes[0], height, width, sizes[1], (height - 1) / stride + 1, (width - 1) / stride + 1,
          stride};
}

/// [N, H, W, C] memory of a channels-last [N, C, H, W] tensor.
at::Tensor empty_channels_last(int64_t n, int64_t c, int64_t h, int64_t w, const at::Tensor& like) {
  return at::empty({n, c, h, w}, like.options().memory_format(at::MemoryFormat::ChannelsLast));
}

at::Tensor pool(const at::Tensor& x, int64_t stride) {
  RECORD_FUNCTION("nasx::darts::avg_pool_3x3", std::vector<c10::IValue>{});  // named in profiles
  const PoolShape s = shape_of(x.sizes(), stride);
  at::Tensor y = empty_channels_last(s.batch, s.channels, s.out_height, s.out_width, x);
  const float* x_data = x.data_ptr<float>();
  float* y_data = y.data_ptr<float>();
  at::parallel_for(0, s.batch * s.out_height, 1,
                   [&](int64_t begin, int64_t end) { pool_rows(x_data, y_data, s, begin, end); });
  return y;
}

/// The input's gradient, image by image: an image's shares (its outputs' gradients over
/// their counts) go to a buffer of the thread's that stays in cache while the image's cells
/// gather them, rather than to a tensor of the whole batch written out and read back. The
/// same sums as the two passes over the whole batch, so the same bits.
at::Tensor unpool(const at::Tensor& grad_output, const PoolShape& s) {
  const at::Tensor gy = grad_output.contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor gx = empty_channels_last(s.batch, s.channels, s.height, s.width, gy);
  const int64_t out_per_image = s.out_height * s.out_width * s.channels;
  const int64_t in_per_image = s.height * s.width * s.channels;
  const float* gy_data = gy.data_ptr<float>();
  float* gx_data = gx.data_ptr<float>();
  at::parallel_for(0, s.batch, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> shares(static_cast<size_t>(out_per_image));
    PoolShape image = s;
    image.batch = 1;
    for (int64_t n = begin; n < end; ++n) {
      share_rows(gy_data + n * out_per_image, shares.data(), image, 0, s.out_height);
      gather_rows(shares.data(), gx_data + n * in_per_image, image, 0, s.height);
    }
  });
  return gx;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class AvgPool3x3Function : public torch::autograd::Function<AvgPool3x3Function> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t stride) {
    // The backward reads only the sizes: nothing of x is kept.
    ctx->set_materialize_grads(false);
    ctx->saved_data["sizes"] = x.sizes().vec();
    ctx->saved_data["stride"] = stride;
    return pool(x, stride);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const std::vector<int64_t> sizes = ctx->saved_data["sizes"].toIntVector();
    const int64_t stride = ctx->saved_data["stride"].toInt();
    const at::Tensor& gy = grad_outputs[0];
    if (!gy.defined()) return {at::Tensor(), at::Tensor()};  // the output was not used
    if (at::GradMode::is_enabled()) {
      // Double backward: LibTorch's formula is differentiable, this kernel is not. The
      // input's layout (channels-last) gives the gradient's, as LibTorch's node does.
      const at::Tensor shape =
          at::empty(sizes, gy.options().memory_format(at::MemoryFormat::ChannelsLast));
      return {at::avg_pool2d_backward(gy, shape, {3, 3}, {stride, stride}, {1, 1}, false, false,
                                      c10::nullopt),
              at::Tensor()};
    }
    const PoolShape s = shape_of(sizes, stride);
    return {unpool(gy, s), at::Tensor()};
  }
};

}  // namespace

at::Tensor avg_pool_3x3(const at::Tensor& x, int64_t stride) {
  // Dense channels-last float tensors with something in them, unambiguously channels-last
  // (an [N, 1, H, W] or [N, C, 1, 1] tensor is both layouts: LibTorch's output would be
  // contiguous); a stride LibTorch refuses goes to LibTorch for its error.
  const bool fast = x.device().is_cpu() && x.layout() == at::kStrided &&
                    x.scalar_type() == at::kFloat && x.dim() == 4 && x.numel() > 0 && stride >= 1 &&
                    x.suggest_memory_format() == at::MemoryFormat::ChannelsLast &&
                    x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous();
  if (!fast)
    return at::avg_pool2d(x, {3, 3}, {stride, stride}, {1, 1}, /*ceil_mode=*/false,
                          /*count_include_pad=*/false);
  return AvgPool3x3Function::apply(x, stride);
}

}  // namespace nasx::darts
