#pragma once

#include <algorithm>
#include <cstdint>

#include <ATen/core/Tensor.h>

namespace nasx::darts {

/// The output columns [first, last) of a row whose `kernel` taps all fall inside an image
/// row of `width` (no tap to check): what the kernels' fast loops cover, the columns before
/// and after taking the checked ones. Empty (first == last) where no column has them all.
struct InsideColumns {
  int64_t first, last;
};
inline InsideColumns inside_columns(int64_t width, int64_t out_width, int64_t kernel,
                                    int64_t stride, int64_t padding, int64_t dilation) {
  const int64_t first = std::min(out_width, (padding + stride - 1) / stride);
  const int64_t reach = width - 1 + padding - (kernel - 1) * dilation;  // ox·stride <= reach
  return {first, reach < 0 ? first : std::max(first, std::min(out_width, reach / stride + 1))};
}

/// Whether the kernel reads this input: a float CPU tensor laid out channels-last, its
/// channels a multiple of eight, on an x86-64 CPU with AVX2 and FMA.
bool depthwise_conv_fma_reads(const at::Tensor& x);

/// Whether depthwise_conv_fma computes this convolution: x as above, the weight a float
/// CPU tensor [copies·C, 1, k, k] with k 3 or 5, and an output of at least one pixel
/// (anything else goes to LibTorch, and its errors).
bool depthwise_conv_fma_applies(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                                int64_t padding, int64_t dilation);

/// conv(a, weight) with a = relu(x) (when `relu`; else x) repeated `copies` times along
/// channels, weight [copies·C, 1, k, k], without making a: the ReLU is applied as the
/// kernel reads x, each copy reads x's channels. When `mask` is given (the output the size
/// of `mask`), each output is then zero where mask <= 0 (threshold_backward's rule: the
/// input gradient of conv(relu(mask)) in one pass).
///
/// The bits are oneDNN's (LibTorch's CPU convolution): each output is a chain of fused
/// multiply-adds from zero over the kernel's taps in row-major order, the taps that fall in
/// the padding left out; the ReLU is at::relu's (NaN and -0 kept). The test compares with
/// at::conv2d bit for bit at the spaces' shapes. Each output is one thread's, so the bits
/// do not depend on the threads. Channels-last output.
///
/// Why: on the CPU each depthwise convolution of the DARTS cells reads a ReLU's output,
/// which was one more pass over the tensor written and read (and its backward's mask one
/// more), and the supernet's edge groups made a copy of relu(x) per edge to convolve them
/// as one. Here x is read once, by the convolution.
at::Tensor depthwise_conv_fma(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                              int64_t padding, int64_t dilation, int64_t copies, bool relu,
                              const at::Tensor& mask = {});

}  // namespace nasx::darts
