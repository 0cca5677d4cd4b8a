#pragma once
/// The NASWOT score (Mellor et al., ICML 2021): how differently an untrained network's
/// ReLUs split a minibatch. Every ReLU unit gives each input one bit (pre-activation > 0);
/// K[i][j] counts the units where inputs i and j agree (N_A minus the Hamming distance of
/// their codes), accumulated over every ReLU call of one forward pass; the score is
/// log|det K|. Higher is better; two identical codes make K singular: -infinity.

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx {

class Network;

struct NaswotKernel {
  at::Tensor kernel;       ///< K, [N, N] float64 on the CPU
  int64_t relu_calls = 0;  ///< ReLU calls seen in the forward pass
  int64_t units = 0;       ///< N_A: ReLU units per input, summed over the calls
};

/// K for `images` through `net` as it is (the caller sets the mode: NASWOT scores in
/// training mode, BatchNorm with batch statistics). No gradients are kept. Throws
/// Error when the forward pass runs no ReLU (there is nothing to score).
NASX_API NaswotKernel naswot_kernel(Network& net, const at::Tensor& images);

/// log|det K| in float64 (K's entries reach 1e5-1e6: float32 loses the determinant);
/// -infinity when K is singular.
NASX_API double naswot_log_determinant(const at::Tensor& kernel);

/// naswot_log_determinant(naswot_kernel(net, images).kernel) with `net` in training mode
/// (restored afterwards).
NASX_API double naswot_score(Network& net, const at::Tensor& images);

}  // namespace nasx
