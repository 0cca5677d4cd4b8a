#pragma once

#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/batchnorm.h>

#include "nasx/export.hpp"

namespace nasx {

/// BatchNorm2d layers applied to consecutive channel blocks of `x` at once: layer i to
/// its own num_features channels, in order (their sum is x's channels). The same as
/// nasx::batch_norm(layers[i], block i) for each, concatenated on channels — values,
/// running statistics, num_batches_tracked, synchronized BatchNorm and the output-saving
/// backward included — but one kernel for all of them: per-channel statistics do not
/// depend on the neighbouring channels. What a cell whose edges leave one node runs
/// together (their convolutions concatenated) normalises with. Layers whose options
/// differ, or that average their statistics cumulatively (no momentum), are taken one by
/// one.
NASX_API at::Tensor batch_norm_blocks(const std::vector<torch::nn::BatchNorm2d>& layers,
                                      const at::Tensor& x);

}  // namespace nasx
