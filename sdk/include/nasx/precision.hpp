#pragma once
/// The number format a network's convolutions compute in: float32, or bfloat16 mixed
/// precision for training that is bound by its convolutions.

#include <string>

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include "nasx/export.hpp"

namespace nasx {

/// float32: every convolution in float. bfloat16: a convolution's input and weight are
/// rounded to bfloat16 (8 significant bits), its products summed by the backend (oneDNN,
/// cuDNN) and its output rounded to bfloat16, then widened back to float; its gradients
/// are computed the same way and reach the weights as floats. Weights, BatchNorm, the
/// other layers and the optimizer stay in float.
///
/// Why: on CPUs with AVX-512 BF16 (and on GPUs) bfloat16 convolutions run about twice as
/// fast; NB-201's training step is ~70% convolutions. The results are not float32's: the
/// rounding is that of mixed-precision training.
enum class ConvolutionPrecision { float32, bfloat16 };

/// "float32" or "bfloat16".
NASX_API std::string precision_name(ConvolutionPrecision precision);

/// This thread's precision: float32 unless a ConvolutionPrecisionScope on this thread says
/// otherwise. Layers read it when they run, forward and evaluation alike.
NASX_API ConvolutionPrecision convolution_precision();

/// Sets this thread's precision for the scope's lifetime, then restores the one before.
class NASX_API ConvolutionPrecisionScope {
 public:
  explicit ConvolutionPrecisionScope(ConvolutionPrecision precision);
  ~ConvolutionPrecisionScope();
  ConvolutionPrecisionScope(const ConvolutionPrecisionScope&) = delete;
  ConvolutionPrecisionScope& operator=(const ConvolutionPrecisionScope&) = delete;

 private:
  ConvolutionPrecision previous_;
};

/// at::conv2d(x, weight, {}, stride, padding, dilation, groups) in this thread's precision
/// (see ConvolutionPrecision), for a float weight and a float x, or an x already rounded
/// to bfloat16 (such as relu(x.to(kBFloat16)), which saves a float pass; in float32 it is
/// widened first). For those the output is float, in x's layout. Other dtypes (double)
/// are at::conv2d's own, unchanged.
NASX_API at::Tensor convolve(const at::Tensor& x, const at::Tensor& weight, c10::IntArrayRef stride,
                             c10::IntArrayRef padding, c10::IntArrayRef dilation = {1, 1},
                             int64_t groups = 1);

}  // namespace nasx
