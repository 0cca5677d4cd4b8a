#pragma once
/// The operations of the DARTS cell space, as the reference code defines them
/// (quark0/darts, operations.py). All convolutions are bias-free; `affine` is false
/// in the search network and true in the final network.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/common.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "nasx/export.hpp"

namespace nasx::darts {

/// The 8 candidates of an edge, in alpha-column order.
const std::vector<std::string>& operation_names();
/// Column of `name` in operation_names(), or -1.
int operation_index(const std::string& name);

/// ReLU, k x k convolution, BatchNorm (preprocessing of cell inputs).
class ReLUConvBNImpl : public torch::nn::Module {
 public:
  ReLUConvBNImpl(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding,
                 bool affine);
  at::Tensor forward(const at::Tensor& x);

 private:
  friend std::vector<at::Tensor> relu_conv_bn_together(
      const std::vector<std::shared_ptr<ReLUConvBNImpl>>& layers, const at::Tensor& x);
  // Kept as given: the convolution's padding option is a variant of another type in
  // each LibTorch version.
  int64_t stride_, padding_;
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(ReLUConvBN);

/// Layers that read the same x, run as one: the ReLU once, one convolution with the
/// layers' weights concatenated, one BatchNorm over the layers' channel blocks. Output i
/// is layers[i]->forward(x) (the same values; the convolution's sums may run in another
/// order), each block copied out dense in x's layout, as downstream kernels (depthwise
/// convolutions, the drop-path sum) need. Why: each state of the evaluation network feeds
/// the next two cells, whose 1x1 preprocessing layers each read it — the widest tensor
/// of the cell. Together, its ReLU and its ReLU's backward run once, the convolution
/// reads it once and its input gradient is one convolution instead of two and a sum.
/// Layers with other kernels, strides or paddings than the first's run one by one.
std::vector<at::Tensor> relu_conv_bn_together(
    const std::vector<std::shared_ptr<ReLUConvBNImpl>>& layers, const at::Tensor& x);

/// Halves the resolution without losing pixels: ReLU, two 1x1 stride-2 convolutions
/// (the second on the input shifted by one pixel), concatenated, BatchNorm.
///
/// `copies` > 1 holds that many independent operations side by side, all reading the
/// same input of c_in channels, their outputs in channel blocks (copy k in block k); the
/// supernet computes all edges that leave one state this way, in a few large kernels
/// instead of many small ones. Parameter counts equal `copies` separate ops.
class FactorizedReduceImpl : public torch::nn::Module {
 public:
  FactorizedReduceImpl(int64_t c_in, int64_t c_out, bool affine, int64_t copies = 1);
  /// Every copy on x: [N, c_in, H, W] -> [N, copies * c_out, H/2, W/2].
  at::Tensor forward(const at::Tensor& x);
  /// Copy `copy` alone: what that copy computes inside forward, with its slice of the
  /// shared weights.
  at::Tensor forward_copy(const at::Tensor& x, int64_t copy);

 private:
  int64_t copies_;
  torch::nn::Conv2d conv_1_{nullptr};
  torch::nn::Conv2d conv_2_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(FactorizedReduce);

/// Twice [ReLU, depthwise k x k, pointwise 1x1, BatchNorm]; only the first
/// depthwise convolution carries the stride. `copies`: as for FactorizedReduce.
class SepConvImpl : public torch::nn::Module {
 public:
  SepConvImpl(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding,
              bool affine, int64_t copies = 1);
  /// Every copy on x: [N, c_in, H, W] -> [N, copies * c_out, H', W']. `activated`:
  /// relu(x) repeated `copies` times along channels, when the caller made it for several
  /// operations (only read; see depthwise_conv2d_of_relu).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& activated = {});
  at::Tensor forward_copy(const at::Tensor& x, int64_t copy);

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(at::Tensor())})

 private:
  int64_t stride_, padding_, copies_;
  torch::nn::Conv2d depthwise_1_{nullptr}, pointwise_1_{nullptr};
  torch::nn::BatchNorm2d bn_1_{nullptr};
  torch::nn::Conv2d depthwise_2_{nullptr}, pointwise_2_{nullptr};
  torch::nn::BatchNorm2d bn_2_{nullptr};
};
TORCH_MODULE(SepConv);

/// ReLU, depthwise dilated k x k with stride, pointwise 1x1, BatchNorm.
/// `copies`: as for FactorizedReduce.
class DilConvImpl : public torch::nn::Module {
 public:
  DilConvImpl(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding,
              int64_t dilation, bool affine, int64_t copies = 1);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& activated = {});
  at::Tensor forward_copy(const at::Tensor& x, int64_t copy);

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(at::Tensor())})

 private:
  int64_t stride_, padding_, dilation_, copies_;
  torch::nn::Conv2d depthwise_{nullptr}, pointwise_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(DilConv);

/// 3x3 max or average pooling (average: padded cells not counted), optionally
/// followed by BatchNorm (the search network adds one without affine parameters).
class PoolBNImpl : public torch::nn::Module {
 public:
  enum class Kind { Max, Average };
  PoolBNImpl(Kind kind, int64_t channels, int64_t stride, bool with_batchnorm, bool affine);
  at::Tensor forward(const at::Tensor& x);

 private:
  Kind kind_;
  int64_t stride_;
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(PoolBN);

/// Zeros with the output's shape (subsampled when the stride is 2).
at::Tensor zero_op(const at::Tensor& x, int64_t stride);

/// One operation by name, as a standalone module (used by networks built from a
/// genotype). Throws GenotypeError for an unknown name.
torch::nn::AnyModule make_operation(const std::string& name, int64_t channels, int64_t stride,
                                    bool affine);

}  // namespace nasx::darts
