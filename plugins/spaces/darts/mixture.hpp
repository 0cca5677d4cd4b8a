#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx::darts {

/// The mixed operation of a group of E edges: for each edge e, Σ_k weights[e, k] · term_k
/// over the K candidate operations, k in order.
///
/// terms[k] (C = channels): [B, E·C, H, W], edge e's output in channels [e·C, (e+1)·C),
/// or [B, C, H, W], one output for every edge (pools and identity, which read the shared
/// input). weights: [E, K]. Returns the E edges' outputs, each [B, C, H, W]
/// (channels-last when the kernel computes them).
///
/// Why it exists: as a chain of tensor operations (a product, then one addcmul_ per
/// operation) the mixture and above all its backward (per operation: a product for the
/// term's gradient, a product and a reduction for the weight's) made about a quarter of
/// the DARTS search step. Here it is one pass forward and one pass backward over the rows
/// of channels-last tensors: each row of the incoming gradient is read once for all K
/// terms, and the weights' gradients are per-block sums added in a fixed order (so the
/// same bits whatever the thread count). Taken for float CPU tensors of a channels-last
/// network (at least one term channels-last; the others are copied into that layout) and
/// groups of two or more edges; anything else, a backward with create_graph, and every
/// call when the environment sets NASX_FUSED_MIXTURE=0, is the chain of tensor
/// operations (for one edge it streams as fast).
std::vector<at::Tensor> weighted_mixture(const at::Tensor& weights,
                                         const std::vector<at::Tensor>& terms, int64_t edges,
                                         int64_t channels);

/// Whether weighted_mixture takes its own kernels for these operands (for tests and
/// benchmarks: the function is the same either way).
bool weighted_mixture_has_kernel(const at::Tensor& weights, const std::vector<at::Tensor>& terms,
                                 int64_t edges, int64_t channels);

}  // namespace nasx::darts
