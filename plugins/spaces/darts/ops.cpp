#include "darts/ops.hpp"

#include "nasx/distributed.hpp"

#include <algorithm>
#include <array>

#include <ATen/ATen.h>

#include "darts/avg_pool.hpp"
#include "darts/depthwise.hpp"
#include "darts/pointwise.hpp"
#include "nasx/batch_norm_blocks.hpp"
#include "nasx/error.hpp"
#include "nasx/precision.hpp"

namespace nasx::darts {

namespace {

torch::nn::Conv2d conv(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding,
                       int64_t dilation = 1, int64_t groups = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(c_in, c_out, kernel)
                               .stride(stride)
                               .padding(padding)
                               .dilation(dilation)
                               .groups(groups)
                               .bias(false));
}

torch::nn::BatchNorm2d batchnorm(int64_t channels, bool affine) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).affine(affine));
}

/// Rows `copy` of `copies` equal blocks of a weight (dim 0).
at::Tensor block(const at::Tensor& weight, int64_t copy, int64_t copies) {
  const int64_t rows = weight.size(0) / copies;
  return weight.narrow(0, copy * rows, rows);
}

/// A 1x1 convolution module of stride 1, without bias, built with padding 0 (conv(c_in,
/// c_out, 1, 1, 0, ...) above), in the module's own groups.
at::Tensor pointwise(const torch::nn::Conv2d& conv, const at::Tensor& x) {
  const auto& o = conv->options;
  const std::array<int64_t, 2> one = {1, 1};
  TORCH_CHECK(*o.kernel_size() == one && *o.stride() == one && *o.dilation() == one && !o.bias(),
              "pointwise: a 1x1 convolution of stride 1 without bias expected");
  return pointwise_conv2d(x, conv->weight, o.groups());
}

/// A 1x1 convolution of `copies` groups, copy `copy` alone (an ungrouped convolution
/// with its block of the weight).
at::Tensor pointwise_copy(const torch::nn::Conv2d& conv, const at::Tensor& x, int64_t copy,
                          int64_t copies) {
  const std::array<int64_t, 2>& stride = *conv->options.stride();
  if (stride == std::array<int64_t, 2>{1, 1})
    return pointwise_conv2d(x, block(conv->weight, copy, copies));
  const std::array<int64_t, 2> no_padding = {0, 0};
  return at::conv2d(x, block(conv->weight, copy, copies), at::Tensor(), stride, no_padding);
}

/// relu(x) convolved with a ReLUConvBN layer's kernel (or several side by side): in
/// bfloat16 when the thread's precision says so (nasx::convolve), else a 1x1 convolution
/// of stride 1 through pointwise_conv2d.
at::Tensor convolve_relu(const at::Tensor& x, const at::Tensor& weight, int64_t stride,
                         int64_t padding) {
  // In bfloat16 the ReLU runs on the rounded values (the same ones: rounding keeps signs),
  // so no float copy of relu(x) is written or read.
  if (convolution_precision() == ConvolutionPrecision::bfloat16 && x.scalar_type() == at::kFloat)
    return convolve(at::relu(x.to(at::kBFloat16)), weight, {stride, stride}, {padding, padding});
  if (weight.size(2) == 1 && weight.size(3) == 1 && stride == 1 && padding == 0)
    return pointwise_conv2d(at::relu(x), weight);
  return at::conv2d(at::relu(x), weight, at::Tensor(), {stride, stride}, {padding, padding});
}

}  // namespace

const std::vector<std::string>& operation_names() {
  static const std::vector<std::string> names = {"none",         "max_pool_3x3", "avg_pool_3x3",
                                                 "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                                                 "dil_conv_3x3", "dil_conv_5x5"};
  return names;
}

int operation_index(const std::string& name) {
  const auto& names = operation_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  return -1;
}

ReLUConvBNImpl::ReLUConvBNImpl(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride,
                               int64_t padding, bool affine)
    : stride_(stride),
      padding_(padding),
      conv_(register_module("conv", conv(c_in, c_out, kernel, stride, padding))),
      bn_(register_module("bn", batchnorm(c_out, affine))) {}

at::Tensor ReLUConvBNImpl::forward(const at::Tensor& x) {
  return batch_norm(bn_, convolve_relu(x, conv_->weight, stride_, padding_));
}

std::vector<at::Tensor> relu_conv_bn_together(
    const std::vector<std::shared_ptr<ReLUConvBNImpl>>& layers, const at::Tensor& x) {
  std::vector<at::Tensor> outputs;
  const auto same_convolution = [&](const std::shared_ptr<ReLUConvBNImpl>& layer) {
    const auto& first = *layers.front();
    return layer->conv_->weight.sizes().slice(1) == first.conv_->weight.sizes().slice(1) &&
           layer->stride_ == first.stride_ && layer->padding_ == first.padding_;
  };
  if (layers.size() < 2 || !std::all_of(layers.begin(), layers.end(), same_convolution)) {
    for (const auto& layer : layers) outputs.push_back(layer->forward(x));
    return outputs;
  }
  std::vector<at::Tensor> weights;
  std::vector<torch::nn::BatchNorm2d> norms;
  std::vector<int64_t> channels;
  for (const auto& layer : layers) {
    weights.push_back(layer->conv_->weight);
    norms.push_back(layer->bn_);
    channels.push_back(layer->conv_->weight.size(0));
  }
  const int64_t stride = layers.front()->stride_, padding = layers.front()->padding_;
  const at::Tensor y =
      batch_norm_blocks(norms, convolve_relu(x, at::cat(weights), stride, padding));
  for (const at::Tensor& block : at::split_with_sizes(y, channels, 1))
    outputs.push_back(block.contiguous(x.suggest_memory_format()));
  return outputs;
}

FactorizedReduceImpl::FactorizedReduceImpl(int64_t c_in, int64_t c_out, bool affine, int64_t copies)
    : copies_(copies),
      conv_1_(
          register_module("conv_1", conv(copies * c_in, copies * (c_out / 2), 1, 2, 0, 1, copies))),
      conv_2_(
          register_module("conv_2", conv(copies * c_in, copies * (c_out / 2), 1, 2, 0, 1, copies))),
      bn_(register_module("bn", batchnorm(copies * c_out, affine))) {
  TORCH_CHECK(c_out % 2 == 0, "FactorizedReduce needs an even number of output channels, got ",
              c_out);
}

at::Tensor FactorizedReduceImpl::forward(const at::Tensor& x) {
  const at::Tensor relu_x = at::relu(x);
  // x[:, :, 1:, 1:], as a negative pad: on channels-last tensors its backward is ~3x
  // cheaper than a slice's.
  const at::Tensor shifted = at::constant_pad_nd(relu_x, {-1, 0, -1, 0});
  // Every copy reads the same input: the grouped convolution's weight, [copies * c_out/2,
  // c_in, 1, 1], is an ungrouped convolution's on x itself (no copies of x made).
  const std::array<int64_t, 2> two = {2, 2}, none = {0, 0};
  at::Tensor a = at::conv2d(relu_x, conv_1_->weight, at::Tensor(), two, none);
  at::Tensor b = at::conv2d(shifted, conv_2_->weight, at::Tensor(), two, none);
  if (copies_ > 1) {
    // Keep each copy's channels together: [a_k, b_k] for copy k.
    const auto n = a.size(0), h = a.size(2), w = a.size(3);
    return batch_norm(
        bn_, at::cat({a.reshape({n, copies_, -1, h, w}), b.reshape({n, copies_, -1, h, w})}, 2)
                 .reshape({n, -1, h, w}));
  }
  return batch_norm(bn_, at::cat({a, b}, 1));
}

at::Tensor FactorizedReduceImpl::forward_copy(const at::Tensor& x, int64_t copy) {
  const at::Tensor relu_x = at::relu(x);
  const at::Tensor shifted = at::constant_pad_nd(relu_x, {-1, 0, -1, 0});
  const at::Tensor a = pointwise_copy(conv_1_, relu_x, copy, copies_);
  const at::Tensor b = pointwise_copy(conv_2_, shifted, copy, copies_);
  return batch_norm(bn_, at::cat({a, b}, 1), copy, copies_);
}

SepConvImpl::SepConvImpl(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride,
                         int64_t padding, bool affine, int64_t copies)
    : stride_(stride),
      padding_(padding),
      copies_(copies),
      depthwise_1_(register_module("depthwise_1", conv(copies * c_in, copies * c_in, kernel, stride,
                                                       padding, 1, copies * c_in))),
      pointwise_1_(
          register_module("pointwise_1", conv(copies * c_in, copies * c_in, 1, 1, 0, 1, copies))),
      bn_1_(register_module("bn_1", batchnorm(copies * c_in, affine))),
      depthwise_2_(register_module(
          "depthwise_2", conv(copies * c_in, copies * c_in, kernel, 1, padding, 1, copies * c_in))),
      pointwise_2_(
          register_module("pointwise_2", conv(copies * c_in, copies * c_out, 1, 1, 0, 1, copies))),
      bn_2_(register_module("bn_2", batchnorm(copies * c_out, affine))) {}

at::Tensor SepConvImpl::forward(const at::Tensor& x, const at::Tensor& activated) {
  const at::Tensor y = batch_norm(
      bn_1_,
      pointwise(pointwise_1_, depthwise_conv2d_of_relu(x, depthwise_1_->weight, stride_, padding_,
                                                       1, copies_, true, activated)));
  return batch_norm(bn_2_, pointwise(pointwise_2_, depthwise_conv2d_of_relu(y, depthwise_2_->weight,
                                                                            1, padding_, 1)));
}

at::Tensor SepConvImpl::forward_copy(const at::Tensor& x, int64_t copy) {
  at::Tensor y =
      depthwise_conv2d_of_relu(x, block(depthwise_1_->weight, copy, copies_), stride_, padding_, 1);
  y = batch_norm(bn_1_, pointwise_copy(pointwise_1_, y, copy, copies_), copy, copies_);
  y = depthwise_conv2d_of_relu(y, block(depthwise_2_->weight, copy, copies_), 1, padding_, 1);
  return batch_norm(bn_2_, pointwise_copy(pointwise_2_, y, copy, copies_), copy, copies_);
}

DilConvImpl::DilConvImpl(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride,
                         int64_t padding, int64_t dilation, bool affine, int64_t copies)
    : stride_(stride),
      padding_(padding),
      dilation_(dilation),
      copies_(copies),
      depthwise_(register_module("depthwise", conv(copies * c_in, copies * c_in, kernel, stride,
                                                   padding, dilation, copies * c_in))),
      pointwise_(
          register_module("pointwise", conv(copies * c_in, copies * c_out, 1, 1, 0, 1, copies))),
      bn_(register_module("bn", batchnorm(copies * c_out, affine))) {}

at::Tensor DilConvImpl::forward(const at::Tensor& x, const at::Tensor& activated) {
  return batch_norm(
      bn_, pointwise(pointwise_, depthwise_conv2d_of_relu(x, depthwise_->weight, stride_, padding_,
                                                          dilation_, copies_, true, activated)));
}

at::Tensor DilConvImpl::forward_copy(const at::Tensor& x, int64_t copy) {
  const at::Tensor y = depthwise_conv2d_of_relu(x, block(depthwise_->weight, copy, copies_),
                                                stride_, padding_, dilation_);
  return batch_norm(bn_, pointwise_copy(pointwise_, y, copy, copies_), copy, copies_);
}

PoolBNImpl::PoolBNImpl(Kind kind, int64_t channels, int64_t stride, bool with_batchnorm,
                       bool affine)
    : kind_(kind), stride_(stride) {
  if (with_batchnorm) bn_ = register_module("bn", batchnorm(channels, affine));
}

at::Tensor PoolBNImpl::forward(const at::Tensor& x) {
  at::Tensor y = kind_ == Kind::Max ? at::max_pool2d(x, {3, 3}, {stride_, stride_}, {1, 1})
                                    : avg_pool_3x3(x, stride_);
  return bn_ ? batch_norm(bn_, y) : y;
}

at::Tensor zero_op(const at::Tensor& x, int64_t stride) {
  using at::indexing::Slice;
  if (stride == 1) return at::zeros_like(x);
  return at::zeros_like(
      x.index({Slice(), Slice(), Slice(at::indexing::None, at::indexing::None, stride),
               Slice(at::indexing::None, at::indexing::None, stride)}));
}

namespace {
class ZeroImpl : public torch::nn::Module {
 public:
  explicit ZeroImpl(int64_t stride) : stride_(stride) {}
  at::Tensor forward(const at::Tensor& x) { return zero_op(x, stride_); }

 private:
  int64_t stride_;
};
TORCH_MODULE(Zero);

class IdentityImpl : public torch::nn::Module {
 public:
  at::Tensor forward(const at::Tensor& x) { return x; }
};
TORCH_MODULE(Identity);
}  // namespace

torch::nn::AnyModule make_operation(const std::string& name, int64_t c, int64_t stride,
                                    bool affine) {
  using Kind = PoolBNImpl::Kind;
  if (name == "none") return torch::nn::AnyModule(Zero(stride));
  if (name == "max_pool_3x3")
    return torch::nn::AnyModule(PoolBN(Kind::Max, c, stride, false, affine));
  if (name == "avg_pool_3x3")
    return torch::nn::AnyModule(PoolBN(Kind::Average, c, stride, false, affine));
  if (name == "skip_connect") {
    if (stride == 1) return torch::nn::AnyModule(Identity());
    return torch::nn::AnyModule(FactorizedReduce(c, c, affine));
  }
  if (name == "sep_conv_3x3") return torch::nn::AnyModule(SepConv(c, c, 3, stride, 1, affine));
  if (name == "sep_conv_5x5") return torch::nn::AnyModule(SepConv(c, c, 5, stride, 2, affine));
  if (name == "dil_conv_3x3") return torch::nn::AnyModule(DilConv(c, c, 3, stride, 2, 2, affine));
  if (name == "dil_conv_5x5") return torch::nn::AnyModule(DilConv(c, c, 5, stride, 4, 2, affine));
  throw GenotypeError("unknown DARTS operation '" + name + "'");
}

}  // namespace nasx::darts
