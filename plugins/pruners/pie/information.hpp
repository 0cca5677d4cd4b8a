#pragma once
/// PIE's information measures and criterion (SAEP, Bian et al., IEEE TNNLS 2021):
/// empirical entropies of label sequences, the TDAC pair objective and the greedy
/// selection that leaves one member out.

#include <cstdint>
#include <random>
#include <vector>

#include <ATen/core/Tensor.h>

#include <nasx/pruner.hpp>

namespace nasx::pie {

/// Information measures on label sequences ([samples] int64), natural logs, empirical
/// frequencies.
double entropy(const at::Tensor& x);
double joint_entropy(const at::Tensor& x, const at::Tensor& y);
double mutual_information(const at::Tensor& x, const at::Tensor& y);
/// I / sqrt(H(X) H(Y)); 0 when either is constant.
double normalized_mutual_information(const at::Tensor& x, const at::Tensor& y);
/// 1 - I / H(X, Y): 0 for identical sequences, 1 for independent ones (0 when both are
/// the same constant).
double normalized_variation_of_information(const at::Tensor& x, const at::Tensor& y);
/// PIE's pair objective: 0 for identical predictions, else
/// lambda * VI(a, b) + (1 - lambda) * (MI(a, y) + MI(b, y)) / 2.
double tdac(const at::Tensor& a, const at::Tensor& b, const at::Tensor& labels, double lambda);

/// Greedy TDAC selection of n - 1 members from a random start; the one left out is
/// pruned. Pools of <= 2 members are kept whole.
std::vector<int64_t> prune_entropy(const EnsemblePool& pool, double lambda, std::mt19937_64& rng);

}  // namespace nasx::pie
