#pragma once
/// Drop path as the DARTS reference applies it in the evaluation network: each
/// non-identity operation's output zeroed per sample with probability p, the kept samples
/// scaled by 1 / (1 - p), before the node sums its two edges.

#include <cstdint>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx::darts {

/// One edge's factors, [N] float: 0 for a dropped sample, 1 / (1 - drop_prob) for a kept
/// one — the reference's mask (one Bernoulli draw per sample from `generator`) divided by
/// the keep probability. (The reference divides the output by the keep probability, then
/// multiplies it by the mask; on the CPU that division can differ from multiplying by
/// mask / keep in the last bit.)
at::Tensor drop_path_scale(int64_t samples, double drop_prob, at::Generator& generator);

/// A node's sum of its edges a and b, each times its factors: a·scale_a[n] + b·scale_b[n],
/// an undefined scale meaning the edge is left alone (an identity). The bits of LibTorch's
/// operators on the same formula — each product rounded, then the sum — in one pass over
/// the edges instead of one per product and one for the sum. Differentiable in a and b
/// (the factors are constants).
at::Tensor drop_path_sum(const at::Tensor& a, const at::Tensor& scale_a, const at::Tensor& b,
                         const at::Tensor& scale_b);

}  // namespace nasx::darts
