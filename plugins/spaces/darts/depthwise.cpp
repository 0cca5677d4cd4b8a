#include "darts/depthwise.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "darts/float8.hpp"

namespace nasx::darts {

namespace {

template <typename scalar_t>
void accumulate_weight_grad(const scalar_t* x, const scalar_t* gy, scalar_t* acc, int64_t n_begin,
                            int64_t n_end, int64_t channels, int64_t height, int64_t width,
                            int64_t out_height, int64_t out_width, int64_t kernel, int64_t stride,
                            int64_t padding, int64_t dilation) {
  // x: [N, H, W, C], gy: [N, Ho, Wo, C], acc: [k, k, C]; the channel loop is innermost
  // and contiguous, so the compiler vectorises it.
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
            const scalar_t* xv = x + ((n * height + iy) * width + ix) * channels;
            scalar_t* out = acc + (a * kernel + b) * channels;
            for (int64_t c = 0; c < channels; ++c) out[c] += xv[c] * g[c];
          }
        }
      }
    }
  }
}

/// The float kernel, the one that matters: the same sums in the same order as
/// accumulate_weight_grad (so the same bits), arranged for speed. Per output row and
/// kernel tap, the range of output columns whose input column is inside the image is
/// computed once (no test per pixel), and eight channels at a time are summed along it
/// in a vector register. AVX2 where the CPU has it (chosen at load time), SSE otherwise;
/// no FMA, whose single rounding would change the bits.
NASX_AVX2_WHERE_PRESENT void accumulate_weight_grad_float(
    const float* x, const float* gy, float* acc, int64_t n_begin, int64_t n_end, int64_t channels,
    int64_t height, int64_t width, int64_t out_height, int64_t out_width, int64_t kernel,
    int64_t stride, int64_t padding, int64_t dilation) {
  const int64_t blocks = channels / 8;
  for (int64_t n = n_begin; n < n_end; ++n) {
    for (int64_t oy = 0; oy < out_height; ++oy) {
      const float* g_row = gy + (n * out_height + oy) * out_width * channels;
      for (int64_t a = 0; a < kernel; ++a) {
        const int64_t iy = oy * stride - padding + a * dilation;
        if (iy < 0 || iy >= height) continue;
        const float* x_row = x + (n * height + iy) * width * channels;
        for (int64_t b = 0; b < kernel; ++b) {
          const int64_t shift = b * dilation - padding;  // input column = ox * stride + shift
          if (shift > width - 1) continue;
          const int64_t begin = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
          const int64_t end = std::min(out_width, (width - 1 - shift) / stride + 1);
          float* out = acc + (a * kernel + b) * channels;
          for (int64_t block = 0; block < blocks; ++block) {
            float8 sum = load8(out + 8 * block);
            for (int64_t ox = begin; ox < end; ++ox) {
              const float8 xv = load8(x_row + (ox * stride + shift) * channels + 8 * block);
              const float8 gv = load8(g_row + ox * channels + 8 * block);
              sum += xv * gv;
            }
            store8(out + 8 * block, sum);
          }
          for (int64_t c = 8 * blocks; c < channels; ++c)
            for (int64_t ox = begin; ox < end; ++ox)
              out[c] += x_row[(ox * stride + shift) * channels + c] * g_row[ox * channels + c];
        }
      }
    }
  }
}

/// The kernel for each element type: the vectorised one for float.
template <typename scalar_t, typename... Sizes>
void accumulate(const scalar_t* x, const scalar_t* gy, scalar_t* acc, Sizes... sizes) {
  if constexpr (std::is_same_v<scalar_t, float>)
    accumulate_weight_grad_float(x, gy, acc, sizes...);
  else
    accumulate_weight_grad<scalar_t>(x, gy, acc, sizes...);
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class DepthwiseConv2dFunction : public torch::autograd::Function<DepthwiseConv2dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            int64_t stride, int64_t padding, int64_t dilation) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    return at::conv2d(x, weight, {}, stride, padding, dilation, weight.size(0));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const int64_t stride = ctx->saved_data["stride"].toInt();
    const int64_t padding = ctx->saved_data["padding"].toInt();
    const int64_t dilation = ctx->saved_data["dilation"].toInt();
    const at::Tensor& gy = grad_outputs[0];
    const bool want_input = ctx->needs_input_grad(0), want_weight = ctx->needs_input_grad(1);
    at::Tensor grad_x, grad_w;
    if (at::GradMode::is_enabled()) {
      // Double backward: LibTorch's formula is differentiable, this kernel is not.
      auto grads = at::convolution_backward(gy, x, weight, c10::nullopt, {stride, stride},
                                            {padding, padding}, {dilation, dilation}, false, {0, 0},
                                            weight.size(0), {want_input, want_weight, false});
      return {std::get<0>(grads), std::get<1>(grads), at::Tensor(), at::Tensor(), at::Tensor()};
    }
    const int64_t kernel = weight.size(2);
    const int64_t transposed_padding = dilation * (kernel - 1) - padding;
    if (want_input && stride == 1 && transposed_padding >= 0)
      // At stride 1 the input gradient is the same convolution with the kernel
      // flipped, which runs at forward speed (oneDNN's backward kernel is ~3x slower).
      grad_x =
          at::conv2d(gy, weight.flip({2, 3}), {}, 1, transposed_padding, dilation, weight.size(0));
    else if (want_input)
      grad_x = std::get<0>(at::convolution_backward(gy, x, weight, c10::nullopt, {stride, stride},
                                                    {padding, padding}, {dilation, dilation}, false,
                                                    {0, 0}, weight.size(0), {true, false, false}));
    if (want_weight)
      grad_w = depthwise_conv2d_weight_grad(x, gy, kernel, stride, padding, dilation);
    return {grad_x, grad_w, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor depthwise_conv2d_weight_grad(const at::Tensor& x, const at::Tensor& grad_output,
                                        int64_t kernel, int64_t stride, int64_t padding,
                                        int64_t dilation) {
  const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t out_height = grad_output.size(2), out_width = grad_output.size(3);
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
        accumulate(x_data, gy_data, slice_acc, first, last, channels, height, width, out_height,
                   out_width, kernel, stride, padding, dilation);
      }
    });
  });
  // [k, k, C] -> [C, 1, k, k]
  return partial.sum(0).permute({2, 0, 1}).unsqueeze(1).contiguous();
}

at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                            int64_t padding, int64_t dilation) {
  if (!x.device().is_cpu() || !at::isFloatingType(x.scalar_type()))
    return at::conv2d(x, weight, {}, stride, padding, dilation, weight.size(0));
  return DepthwiseConv2dFunction::apply(x, weight, stride, padding, dilation);
}

}  // namespace nasx::darts
