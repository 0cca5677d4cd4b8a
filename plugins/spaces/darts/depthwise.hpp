#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx::darts {

/// Depthwise 2-D convolution (one k x k filter per channel, weight [C, 1, k, k]),
/// the same function as at::conv2d(x, weight, {}, stride, padding, dilation, C).
///
/// Why it exists: on CPU, LibTorch's oneDNN path computes the depthwise weight
/// gradient 10-17x slower than the forward pass (measured at [64, 32, 28, 28]); it
/// dominated the DARTS search step. Here the weight gradient is one channels-last
/// pass (vectorised over channels, one accumulator per thread, summed in a fixed
/// order, so results do not depend on scheduling). The forward stays LibTorch's, and so
/// does the input gradient, except at stride 1 (the forward convolution with the kernel
/// flipped) and strided with dilation on channels-last floats (a kernel of nasx's with
/// oneDNN's bits: oneDNN's only algorithm there took ~60 ms a call). Used for float and
/// double CPU tensors; other types, CUDA tensors and double backward (create_graph) take
/// LibTorch's own path.
at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                            int64_t padding, int64_t dilation);

/// The first convolution of a separable or dilated operation, on the operation's input
/// before its ReLU: conv(relu(x) repeated `copies` times along channels, weight), with x
/// [N, C, H, W] and weight [copies·C, 1, k, k] (`copies` operations side by side that read
/// the same input, as the supernet's edge groups compute them; `relu` false: x itself).
///
/// Keeps only x for the backward pass, not relu(x) nor its copies — x is kept anyway by
/// whatever else reads it (the cell's state, or the BatchNorm before it): the weight
/// gradient applies the ReLU as it reads x, the input gradient sums the copies' gradients
/// and applies the ReLU's mask in one pass. `input`: relu(x) repeated, when the caller
/// already made it for several such convolutions (only read, never kept; not read at all
/// where depthwise_conv2d_of_relu_reads_input is false).
at::Tensor depthwise_conv2d_of_relu(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                                    int64_t padding, int64_t dilation, int64_t copies = 1,
                                    bool relu = true, const at::Tensor& input = {});

/// Whether depthwise_conv2d_of_relu reads a caller's `input` for this x; false where its
/// kernel applies the ReLU and reads the copies itself (channels-last floats, channels a
/// multiple of eight, on a CPU with AVX2 and FMA), and on devices and types where it makes
/// its own: there the caller need not make relu(x) and its copies. (Where the kernel turns
/// a convolution down after all, the operation makes the activation itself.)
bool depthwise_conv2d_of_relu_reads_input(const at::Tensor& x);

/// The weight gradient alone: d(sum(grad_output * conv(a, w))) / dw, [copies·C, 1, k, k],
/// with a = relu(x) (when `relu`; else x) repeated `copies` times along channels.
at::Tensor depthwise_conv2d_weight_grad(const at::Tensor& x, const at::Tensor& grad_output,
                                        int64_t kernel, int64_t stride, int64_t padding,
                                        int64_t dilation, int64_t copies = 1, bool relu = false);

}  // namespace nasx::darts
