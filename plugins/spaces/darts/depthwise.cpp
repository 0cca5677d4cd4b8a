#include "darts/depthwise.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "darts/depthwise_fma.hpp"
#include "darts/float8.hpp"

namespace nasx::darts {

namespace {

/// What the weight-gradient kernels read: gy [N, Ho, Wo, C] and x [N, H, W, Cx], where
/// channel c of the convolution's input is x's channel c mod Cx (Cx = C / copies), through
/// a ReLU when `relu`.
struct Shape {
  int64_t channels, x_channels, height, width, out_height, out_width, kernel, stride, padding,
      dilation;
};

template <typename scalar_t>
scalar_t activated(scalar_t v, bool relu) {
  return relu && v < 0 ? scalar_t(0) : v;  // NaN stays NaN, as at::relu keeps it
}

template <typename scalar_t>
void accumulate_weight_grad(const scalar_t* x, const scalar_t* gy, scalar_t* acc, int64_t n_begin,
                            int64_t n_end, const Shape& s, bool relu) {
  // The channel loop is innermost and contiguous, so the compiler vectorises it.
  const int64_t channels = s.channels, height = s.height, width = s.width;
  const int64_t out_height = s.out_height, out_width = s.out_width, kernel = s.kernel;
  const int64_t stride = s.stride, padding = s.padding, dilation = s.dilation;
  for (int64_t n = n_begin; n < n_end; ++n) {
    for (int64_t oy = 0; oy < out_height; ++oy) {
      for (int64_t ox = 0; ox < out_width; ++ox) {
        const scalar_t* g = gy + ((n * out_height + oy) * out_width + ox) * channels;
        for (int64_t a = 0; a < kernel; ++a) {
          const int64_t iy = oy * stride - padding + a * dilation;
          if (iy < 0 || iy >= height) continue;
          for (int64_t b = 0; b < kernel; ++b) {
            const int64_t ix = ox * stride - padding + b * dilation;
            if (ix < 0 || ix >= width) continue;
            const scalar_t* xv = x + ((n * height + iy) * width + ix) * s.x_channels;
            scalar_t* out = acc + (a * kernel + b) * channels;
            for (int64_t c = 0; c < channels; ++c)
              out[c] += activated(xv[c % s.x_channels], relu) * g[c];
          }
        }
      }
    }
  }
}

/// One output column's products added to the K tap chains of one kernel row, for kBlocks
/// blocks of eight channels (from `block`). kChecked: leave out taps outside the image.
template <int K, int kBlocks, bool kRelu, bool kChecked>
inline __attribute__((always_inline)) void add_column(float8 (&acc)[kBlocks][K], const float* x_row,
                                                      const float* g_row,
                                                      const int64_t (&lane)[kBlocks], int64_t block,
                                                      int64_t ox, const Shape& s) {
  const float8 zero = {};
  float8 g[kBlocks];
  for (int j = 0; j < kBlocks; ++j) g[j] = load8(g_row + ox * s.channels + 8 * (block + j));
  for (int b = 0; b < K; ++b) {
    const int64_t ix = ox * s.stride - s.padding + b * s.dilation;
    if (kChecked && (ix < 0 || ix >= s.width)) continue;
    for (int j = 0; j < kBlocks; ++j) {
      float8 xv = load8(x_row + ix * s.x_channels + lane[j]);
      if constexpr (kRelu) xv = xv < zero ? zero : xv;
      acc[j][b] += xv * g[j];
    }
  }
}

/// One kernel row's K taps summed along one output row, kBlocks blocks of eight channels from
/// `block`: K·kBlocks chains, each over the output columns in increasing order, as the plain
/// loop adds them. The chains are independent, so they advance side by side (one alone
/// waits on each addition's latency). Columns [lo, hi) have all K taps inside the image.
template <int K, int kBlocks, bool kRelu>
inline __attribute__((always_inline)) void sweep_kernel_row(const float* x_row, const float* g_row,
                                                            float* taps_row, int64_t block,
                                                            int64_t lo, int64_t hi,
                                                            const Shape& s) {
  float8 acc[kBlocks][K];
  int64_t lane[kBlocks];
  for (int j = 0; j < kBlocks; ++j) {
    lane[j] = (8 * (block + j)) % s.x_channels;
    for (int b = 0; b < K; ++b) acc[j][b] = load8(taps_row + b * s.channels + 8 * (block + j));
  }
  for (int64_t ox = 0; ox < lo; ++ox)
    add_column<K, kBlocks, kRelu, true>(acc, x_row, g_row, lane, block, ox, s);
  for (int64_t ox = lo; ox < hi; ++ox)
    add_column<K, kBlocks, kRelu, false>(acc, x_row, g_row, lane, block, ox, s);
  for (int64_t ox = hi; ox < s.out_width; ++ox)
    add_column<K, kBlocks, kRelu, true>(acc, x_row, g_row, lane, block, ox, s);
  for (int j = 0; j < kBlocks; ++j)
    for (int b = 0; b < K; ++b) store8(taps_row + b * s.channels + 8 * (block + j), acc[j][b]);
}

/// The float kernel, the one that matters: the same sums in the same order as
/// accumulate_weight_grad (so the same bits), arranged for speed. Each tap's sum over an
/// output row's columns is a chain of additions in a vector register (eight channels);
/// the chains of a kernel row's taps and of two blocks of channels run side by side, with
/// the columns whose taps are all inside the image found once per call. AVX2 where the
/// CPU has it (chosen at load time), SSE otherwise; no FMA, whose single rounding would
/// change the bits. Needs Cx a multiple of eight when copies > 1 (a block of eight
/// channels inside one copy).
template <int K, bool kRelu>
NASX_AVX2_WHERE_PRESENT void accumulate_weight_grad_float(const float* x, const float* gy,
                                                          float* acc, int64_t n_begin,
                                                          int64_t n_end, const Shape& s) {
  const int64_t channels = s.channels, x_channels = s.x_channels, height = s.height;
  const int64_t width = s.width, out_height = s.out_height, out_width = s.out_width;
  const int64_t stride = s.stride, padding = s.padding, dilation = s.dilation;
  const int64_t blocks = channels / 8;
  // Blocks side by side: two where their 2K chains fit in the 16 vector registers.
  constexpr int kBlocks = K <= 5 ? 2 : 1;
  const auto [lo, hi] = inside_columns(width, out_width, K, stride, padding, dilation);
  for (int64_t n = n_begin; n < n_end; ++n) {
    for (int64_t oy = 0; oy < out_height; ++oy) {
      const float* g_row = gy + (n * out_height + oy) * out_width * channels;
      for (int64_t a = 0; a < K; ++a) {
        const int64_t iy = oy * stride - padding + a * dilation;
        if (iy < 0 || iy >= height) continue;
        const float* x_row = x + (n * height + iy) * width * x_channels;
        float* taps_row = acc + a * K * channels;
        int64_t block = 0;
        for (; block + kBlocks <= blocks; block += kBlocks)
          sweep_kernel_row<K, kBlocks, kRelu>(x_row, g_row, taps_row, block, lo, hi, s);
        for (; block < blocks; ++block)
          sweep_kernel_row<K, 1, kRelu>(x_row, g_row, taps_row, block, lo, hi, s);
        for (int64_t c = 8 * blocks; c < channels; ++c)
          for (int64_t b = 0; b < K; ++b)
            for (int64_t ox = 0; ox < out_width; ++ox) {
              const int64_t ix = ox * stride - padding + b * dilation;
              if (ix < 0 || ix >= width) continue;
              taps_row[b * channels + c] +=
                  activated(x_row[ix * x_channels + c % x_channels], kRelu) *
                  g_row[ox * channels + c];
            }
      }
    }
  }
}

/// The float kernel for kernel size K, with or without the ReLU.
template <int K>
void accumulate_float(const float* x, const float* gy, float* acc, int64_t n_begin, int64_t n_end,
                      const Shape& s, bool relu) {
  if (relu)
    accumulate_weight_grad_float<K, true>(x, gy, acc, n_begin, n_end, s);
  else
    accumulate_weight_grad_float<K, false>(x, gy, acc, n_begin, n_end, s);
}

/// The kernel for each element type: the vectorised one for float at the spaces' kernel
/// sizes, the plain loop (the same bits) otherwise.
template <typename scalar_t>
void accumulate(const scalar_t* x, const scalar_t* gy, scalar_t* acc, int64_t n_begin,
                int64_t n_end, const Shape& s, bool relu) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    switch (s.kernel) {
      case 3:
        return accumulate_float<3>(x, gy, acc, n_begin, n_end, s, relu);
      case 5:
        return accumulate_float<5>(x, gy, acc, n_begin, n_end, s, relu);
      case 7:
        return accumulate_float<7>(x, gy, acc, n_begin, n_end, s, relu);
      default:
        break;
    }
  }
  accumulate_weight_grad<scalar_t>(x, gy, acc, n_begin, n_end, s, relu);
}

/// The input gradient of a strided, dilated depthwise convolution, rows [row_begin, row_end)
/// of gx [N·H rows of W·C] from gy [N, Ho, Wo, C] and the taps w [k·k, C], on channels-last
/// float tensors. Each input pixel sums the products of the taps that reach it, taps in
/// descending order (row, then column), with no fused multiply-add: what oneDNN's gemm
/// algorithm computes (its column buffer holds each product, and its col2im adds them
/// output pixel by output pixel), so the bits are LibTorch's. oneDNN has no direct
/// kernel for this case and its gemm one took ~60 ms a call at [64, 64, 28, 28]
/// (a quarter of the DARTS search step); here eight channels at a time are summed in a
/// register. Rows are independent, so the bits do not depend on the threads.
NASX_AVX2_WHERE_PRESENT void strided_input_grad_float(const float* gy, const float* w, float* gx,
                                                      int64_t row_begin, int64_t row_end,
                                                      const Shape& s) {
  const int64_t channels = s.channels, height = s.height, width = s.width;
  const int64_t out_height = s.out_height, out_width = s.out_width, kernel = s.kernel;
  const int64_t stride = s.stride, padding = s.padding, dilation = s.dilation;
  const int64_t blocks = channels / 8;
  // The taps that reach input coordinate i, descending: (tap, output coordinate).
  const auto taps_of = [&](int64_t i, int64_t outputs, std::vector<int64_t>& taps) {
    taps.clear();
    for (int64_t a = kernel - 1; a >= 0; --a) {
      const int64_t t = i + padding - a * dilation;
      if (t < 0 || t % stride != 0 || t / stride >= outputs) continue;
      taps.push_back(a);
      taps.push_back(t / stride);
    }
  };
  std::vector<std::vector<int64_t>> column_taps(static_cast<size_t>(width));
  for (int64_t ix = 0; ix < width; ++ix) taps_of(ix, out_width, column_taps[ix]);
  std::vector<int64_t> row_taps;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t n = r / height, iy = r % height;
    taps_of(iy, out_height, row_taps);
    const float* g_image = gy + n * out_height * out_width * channels;
    for (int64_t ix = 0; ix < width; ++ix) {
      const std::vector<int64_t>& col = column_taps[static_cast<size_t>(ix)];
      float* out = gx + (r * width + ix) * channels;
      for (int64_t block = 0; block < blocks; ++block) {
        float8 sum = {};
        for (size_t i = 0; i < row_taps.size(); i += 2) {
          const float* g_row = g_image + row_taps[i + 1] * out_width * channels + 8 * block;
          const float* w_row = w + row_taps[i] * kernel * channels + 8 * block;
          for (size_t j = 0; j < col.size(); j += 2)
            sum += load8(g_row + col[j + 1] * channels) * load8(w_row + col[j] * channels);
        }
        store8(out + 8 * block, sum);
      }
      for (int64_t c = 8 * blocks; c < channels; ++c) {
        float sum = 0;
        for (size_t i = 0; i < row_taps.size(); i += 2)
          for (size_t j = 0; j < col.size(); j += 2)
            sum += g_image[(row_taps[i + 1] * out_width + col[j + 1]) * channels + c] *
                   w[(row_taps[i] * kernel + col[j]) * channels + c];
        out[c] = sum;
      }
    }
  }
}

/// That gradient, [N, C, H, W] channels-last, for gy [N, C, Ho, Wo] and weight [C, 1, k, k].
at::Tensor strided_input_grad(const at::Tensor& gy, const at::Tensor& weight, int64_t height,
                              int64_t width, int64_t stride, int64_t padding, int64_t dilation) {
  RECORD_FUNCTION("nasx::darts::depthwise_strided_input_grad", std::vector<c10::IValue>{});
  const int64_t batch = gy.size(0), channels = gy.size(1), kernel = weight.size(2);
  const Shape shape{channels,   channels, height, width,   gy.size(2),
                    gy.size(3), kernel,   stride, padding, dilation};
  const at::Tensor gy_nhwc = gy.permute({0, 2, 3, 1}).contiguous();  // free when channels-last
  const at::Tensor taps = weight.reshape({channels, kernel * kernel}).t().contiguous();
  at::Tensor grad = at::empty({batch, channels, height, width},
                              gy.options().memory_format(at::MemoryFormat::ChannelsLast));
  const float* g = gy_nhwc.data_ptr<float>();
  const float* w = taps.data_ptr<float>();
  float* out = grad.data_ptr<float>();
  at::parallel_for(0, batch * height, 1, [&](int64_t begin, int64_t end) {
    strided_input_grad_float(g, w, out, begin, end, shape);
  });
  return grad;
}

/// The input's gradient from the gradient of its activated copies (g: [N, copies·C, H, W]):
/// Σ over copies, then the ReLU's mask (threshold_backward's rule). As LibTorch's
/// operations, differentiable in g (the double backward's form).
at::Tensor fold_copies_by_ops(const at::Tensor& g, const at::Tensor& x, int64_t copies, bool relu) {
  const at::Tensor sum = copies == 1 ? g : g.unflatten(1, {copies, x.size(1)}).sum(1);
  return relu ? at::threshold_backward(sum, x, 0) : sum;
}

/// The same in one pass over channels-last tensors (several copies); the operations
/// otherwise.
at::Tensor fold_copies(const at::Tensor& g, const at::Tensor& x, int64_t copies, bool relu) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  if (copies == 1 || !x.is_contiguous(cl) || !g.is_contiguous(cl))
    return fold_copies_by_ops(g, x, copies, relu);
  at::Tensor out = at::empty_like(x, x.options().memory_format(cl));
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "depthwise_fold_copies", [&] {
    const scalar_t* gd = g.data_ptr<scalar_t>();
    const scalar_t* xd = x.data_ptr<scalar_t>();
    scalar_t* od = out.data_ptr<scalar_t>();
    at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const scalar_t* gr = gd + r * copies * channels;
        scalar_t* o = od + r * channels;
        for (int64_t c = 0; c < channels; ++c) o[c] = gr[c];
        for (int64_t k = 1; k < copies; ++k)
          for (int64_t c = 0; c < channels; ++c) o[c] += gr[k * channels + c];
        if (relu) {
          const scalar_t* xr = xd + r * channels;
          // threshold_backward's rule (ReLU's): zero where x <= 0, passed on where NaN.
          for (int64_t c = 0; c < channels; ++c) o[c] = xr[c] <= 0 ? scalar_t(0) : o[c];
        }
      }
    });
  });
  return out;
}

/// relu(x) (when `relu`) repeated `copies` times along channels: the convolution's input.
at::Tensor activate(const at::Tensor& x, int64_t copies, bool relu) {
  const at::Tensor a = relu ? at::relu(x) : x;
  return copies == 1 ? a : a.repeat({1, copies, 1, 1}).contiguous(x.suggest_memory_format());
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// conv(activate(x, copies, relu), weight), keeping x (not its activated copies) for
/// the backward pass. `input`: that activated tensor, made by the caller (detached: it is
/// only read).
class DepthwiseConv2dFunction : public torch::autograd::Function<DepthwiseConv2dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& input, int64_t stride, int64_t padding,
                            int64_t dilation, int64_t copies, bool relu) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    ctx->saved_data["copies"] = copies;
    ctx->saved_data["relu"] = relu;
    if (depthwise_conv_fma_applies(x, weight, stride, padding, dilation))
      return depthwise_conv_fma(x, weight, stride, padding, dilation, copies, relu);
    return at::conv2d(input, weight, {}, stride, padding, dilation, weight.size(0));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const int64_t stride = ctx->saved_data["stride"].toInt();
    const int64_t padding = ctx->saved_data["padding"].toInt();
    const int64_t dilation = ctx->saved_data["dilation"].toInt();
    const int64_t copies = ctx->saved_data["copies"].toInt();
    const bool relu = ctx->saved_data["relu"].toBool();
    const at::Tensor& gy = grad_outputs[0];
    const bool want_input = ctx->needs_input_grad(0), want_weight = ctx->needs_input_grad(1);
    const int64_t groups = weight.size(0);
    at::Tensor grad_x, grad_w;
    if (at::GradMode::is_enabled()) {
      // Double backward: LibTorch's formula is differentiable, this kernel is not; the
      // ReLU's mask and the sum over copies are differentiable operations too.
      const at::Tensor input = activate(x, copies, relu);
      auto grads = at::convolution_backward(gy, input, weight, c10::nullopt, {stride, stride},
                                            {padding, padding}, {dilation, dilation}, false, {0, 0},
                                            groups, {want_input, want_weight, false});
      if (want_input) grad_x = fold_copies_by_ops(std::get<0>(grads), x, copies, relu);
      return {grad_x,       std::get<1>(grads), at::Tensor(), at::Tensor(),
              at::Tensor(), at::Tensor(),       at::Tensor(), at::Tensor()};
    }
    const int64_t kernel = weight.size(2);
    const int64_t transposed_padding = dilation * (kernel - 1) - padding;
    if (want_input) {
      at::Tensor grad_input;
      const at::Tensor flipped = stride == 1 ? weight.flip({2, 3}) : at::Tensor();
      if (stride == 1 && transposed_padding >= 0 &&
          depthwise_conv_fma_applies(gy, flipped, 1, transposed_padding, dilation)) {
        // At stride 1 the input gradient is the same convolution with the kernel flipped
        // (oneDNN's backward kernel is ~3x slower than its forward); one operation alone
        // gets the ReLU's mask as the convolution writes.
        if (copies == 1)
          grad_x = depthwise_conv_fma(gy, flipped, 1, transposed_padding, dilation, 1, false,
                                      relu ? x : at::Tensor());
        else
          grad_input = depthwise_conv_fma(gy, flipped, 1, transposed_padding, dilation, 1, false);
      } else if (stride == 1 && transposed_padding >= 0) {
        grad_input = at::conv2d(gy, flipped, {}, 1, transposed_padding, dilation, groups);
      } else if (dilation > 1 && gy.scalar_type() == at::kFloat &&
                 x.suggest_memory_format() == at::MemoryFormat::ChannelsLast) {
        // Where LibTorch runs oneDNN's channels-last algorithm (the input decides; its
        // contiguous one adds the taps in the opposite order).
        grad_input =
            strided_input_grad(gy, weight, x.size(2), x.size(3), stride, padding, dilation);
      } else {
        // The input's values do not enter its gradient, only its shape.
        const at::Tensor shape = at::empty({x.size(0), copies * x.size(1), x.size(2), x.size(3)},
                                           x.options().memory_format(x.suggest_memory_format()));
        grad_input = std::get<0>(at::convolution_backward(
            gy, shape, weight, c10::nullopt, {stride, stride}, {padding, padding},
            {dilation, dilation}, false, {0, 0}, groups, {true, false, false}));
      }
      if (!grad_x.defined()) grad_x = fold_copies(grad_input, x, copies, relu);
    }
    if (want_weight)
      grad_w = depthwise_conv2d_weight_grad(x, gy, kernel, stride, padding, dilation, copies, relu);
    return {grad_x,       grad_w,       at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor depthwise_conv2d_weight_grad(const at::Tensor& x, const at::Tensor& grad_output,
                                        int64_t kernel, int64_t stride, int64_t padding,
                                        int64_t dilation, int64_t copies, bool relu) {
  const int64_t batch = x.size(0), channels = grad_output.size(1);
  TORCH_CHECK(channels == copies * x.size(1), "depthwise weight gradient: a gradient of ", channels,
              " channels for an input of ", x.size(1), " channels in ", copies, " copies");
  if (copies > 1 && x.size(1) % 8 != 0 && x.scalar_type() == at::kFloat)
    // The float kernel reads eight channels of one copy at a time: give it the copies.
    return depthwise_conv2d_weight_grad(activate(x, copies, relu), grad_output, kernel, stride,
                                        padding, dilation);
  const Shape shape{
      channels, x.size(1), x.size(2), x.size(3), grad_output.size(2), grad_output.size(3),
      kernel,   stride,    padding,   dilation};
  // [N, H, W, C] contiguous views (free for channels-last tensors).
  const at::Tensor x_nhwc = x.permute({0, 2, 3, 1}).contiguous();
  const at::Tensor gy_nhwc = grad_output.permute({0, 2, 3, 1}).contiguous();
  // One accumulator per slice of the batch; slices are fixed by the thread count,
  // and summed in slice order, so the result is reproducible.
  const int64_t slices = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), batch));
  at::Tensor partial = at::zeros({slices, kernel, kernel, channels},
                                 x.options().memory_format(at::MemoryFormat::Contiguous));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "depthwise_conv2d_weight_grad", [&] {
    const scalar_t* x_data = x_nhwc.data_ptr<scalar_t>();
    const scalar_t* gy_data = gy_nhwc.data_ptr<scalar_t>();
    scalar_t* acc = partial.data_ptr<scalar_t>();
    at::parallel_for(0, slices, 1, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s) {
        scalar_t* slice_acc = acc + s * kernel * kernel * channels;
        const int64_t first = s * batch / slices, last = (s + 1) * batch / slices;
        accumulate(x_data, gy_data, slice_acc, first, last, shape, relu);
      }
    });
  });
  // [k, k, C] -> [C, 1, k, k]
  return partial.sum(0).permute({2, 0, 1}).unsqueeze(1).contiguous();
}

at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                            int64_t padding, int64_t dilation) {
  return depthwise_conv2d_of_relu(x, weight, stride, padding, dilation, 1, false);
}

namespace {

/// Where the operation is LibTorch's convolution of an activation it makes itself (other
/// devices and types): no autograd function of nasx's, no caller's input read.
bool convolves_on_libtorch(const at::Tensor& x) {
  return !x.device().is_cpu() || (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble);
}

}  // namespace

bool depthwise_conv2d_of_relu_reads_input(const at::Tensor& x) {
  return !convolves_on_libtorch(x) && !depthwise_conv_fma_reads(x);
}

at::Tensor depthwise_conv2d_of_relu(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                                    int64_t padding, int64_t dilation, int64_t copies, bool relu,
                                    const at::Tensor& input) {
  TORCH_CHECK(weight.size(0) == copies * x.size(1), "depthwise convolution: weight for ",
              weight.size(0), " channels, an input of ", x.size(1), " channels in ", copies,
              " copies");
  if (convolves_on_libtorch(x))
    return at::conv2d(activate(x, copies, relu), weight, {}, stride, padding, dilation,
                      weight.size(0));
  at::Tensor activated = input;
  if (depthwise_conv_fma_applies(x, weight, stride, padding, dilation)) {
    activated = x;  // not read: the kernel applies the ReLU and reads the copies itself
  } else if (!activated.defined()) {
    const at::NoGradGuard only_read;
    activated = activate(x, copies, relu);
  }
  return DepthwiseConv2dFunction::apply(x, weight, activated.detach(), stride, padding, dilation,
                                        copies, relu);
}

}  // namespace nasx::darts
