#include "nasx/precision.hpp"

#include <ATen/ATen.h>

namespace nasx {

namespace {

thread_local ConvolutionPrecision current_precision = ConvolutionPrecision::float32;

}  // namespace

std::string precision_name(ConvolutionPrecision precision) {
  return precision == ConvolutionPrecision::bfloat16 ? "bfloat16" : "float32";
}

ConvolutionPrecision convolution_precision() { return current_precision; }

ConvolutionPrecisionScope::ConvolutionPrecisionScope(ConvolutionPrecision precision)
    : previous_(current_precision) {
  current_precision = precision;
}

ConvolutionPrecisionScope::~ConvolutionPrecisionScope() { current_precision = previous_; }

at::Tensor convolve(const at::Tensor& x, const at::Tensor& weight, c10::IntArrayRef stride,
                    c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  const bool rounded_x = x.scalar_type() == at::kBFloat16;
  if (weight.scalar_type() != at::kFloat || (x.scalar_type() != at::kFloat && !rounded_x))
    return at::conv2d(x, weight, at::Tensor(), stride, padding, dilation, groups);
  if (current_precision == ConvolutionPrecision::float32)
    return at::conv2d(rounded_x ? x.to(at::kFloat) : x, weight, at::Tensor(), stride, padding,
                      dilation, groups);
  // The casts are autograd's: the gradient arrives as float, is rounded to bfloat16 for the
  // convolution's backward, and its input and weight gradients are widened back to float.
  const at::Tensor y = at::conv2d(x.to(at::kBFloat16), weight.to(at::kBFloat16), at::Tensor(),
                                  stride, padding, dilation, groups);
  return y.to(at::kFloat);
}

}  // namespace nasx
