#pragma once
/// How nasx::batch_norm and nasx::batch_norm_blocks normalise: the choice between the
/// layer's own kernel, synchronized BatchNorm and the output-saving node, shared by the
/// two. Private to the SDK.

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/batchnorm.h>

namespace nasx {

struct BatchNormRoute {
  bool synchronized;   ///< the whole batch's statistics over all ranks
  bool keeps_output;   ///< the output-saving node (no affine parameters, on to a backward)
  bool affine_kernel;  ///< an affine layer in training on the SDK's channels-last kernels
};

/// The route of a layer of options `o` normalising x, in training mode or not.
BatchNormRoute batch_norm_route(const torch::nn::BatchNormOptions& o, bool training,
                                const at::Tensor& x);

/// The normalisation, given the layer's tensors (or their concatenation); running
/// statistics updated in place in training.
at::Tensor normalize(const BatchNormRoute& r, const torch::nn::BatchNormOptions& o, bool training,
                     const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                     const at::Tensor& mean, const at::Tensor& var);

/// num_batches_tracked += 1 in training, as the layer's own forward counts.
void count_batch(torch::nn::BatchNorm2d& bn);

}  // namespace nasx
