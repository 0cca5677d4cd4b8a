#pragma once
/// Ensembles of sub-architectures and SAEP pruning (Bian et al., IEEE TNNLS 2021;
/// algorithms/saep.md): the soft vote, the information measures of PIE, the three
/// criteria and the two baselines, and the online and offline schedules.

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"
#include "nasx/pruner.hpp"

namespace nasx {

/// The pool restricted to `members` (in that order).
NASX_API EnsemblePool select_members(const EnsemblePool& pool, const std::vector<int64_t>& members);

/// Error rate of the uniform soft vote of `members` (all when empty): the row-wise argmax
/// of the summed probabilities (the lowest class on ties) against the labels.
NASX_API double soft_vote_error(const at::Tensor& probabilities, const at::Tensor& labels,
                                const std::vector<int64_t>& members = {});

/// Hard predictions h_j = argmax P_j, [members, samples] int64.
NASX_API at::Tensor hard_predictions(const at::Tensor& probabilities);

/// Information measures on label sequences ([samples] int64), natural logs, empirical
/// frequencies.
NASX_API double entropy(const at::Tensor& x);
NASX_API double joint_entropy(const at::Tensor& x, const at::Tensor& y);
NASX_API double mutual_information(const at::Tensor& x, const at::Tensor& y);
/// I / sqrt(H(X) H(Y)); 0 when either is constant.
NASX_API double normalized_mutual_information(const at::Tensor& x, const at::Tensor& y);
/// 1 - I / H(X, Y): 0 for identical sequences, 1 for independent ones (0 when both are
/// the same constant).
NASX_API double normalized_variation_of_information(const at::Tensor& x, const at::Tensor& y);
/// PIE's pair objective: 0 for identical predictions, else
/// lambda * VI(a, b) + (1 - lambda) * (MI(a, y) + MI(b, y)) / 2.
NASX_API double tdac(const at::Tensor& a, const at::Tensor& b, const at::Tensor& labels,
                     double lambda);

/// The criteria on one pool (every one keeps at least 2 and leaves a pool of <= 2 alone).
/// PRS: with probability 1/2 drop one member chosen uniformly.
NASX_API std::vector<int64_t> prune_random(int64_t members, std::mt19937_64& rng);
/// PAP: keep the members whose removal raises the error (Δ_j > 0); if fewer than 2, the
/// 2 with the largest Δ (lowest index on ties). `reference_sign` keeps Δ_j < 0 instead,
/// as the reference code's comparison does.
NASX_API std::vector<int64_t> prune_accuracy(const EnsemblePool& pool, bool reference_sign);
/// PIE: greedy TDAC selection of n - 1 members from a random start; the one left out is
/// pruned.
NASX_API std::vector<int64_t> prune_entropy(const EnsemblePool& pool, double lambda,
                                            std::mt19937_64& rng);
/// Baseline: the k members of highest individual validation accuracy (lowest index on
/// ties). Throws ConfigError when the pool has fewer than k members.
NASX_API std::vector<int64_t> keep_top_k(const EnsemblePool& pool, int64_t k);

/// One pruning decision, as a pruner plugin makes it.
using PruneStep = std::function<std::vector<int64_t>(const EnsemblePool&, std::mt19937_64&)>;

/// Online (SAEP's own): members arrive in index order; before member t joins, the kept
/// set is pruned once. The newest member is never pruned the iteration it arrives.
NASX_API std::vector<int64_t> prune_online(const EnsemblePool& pool, const PruneStep& step,
                                           std::mt19937_64& rng);
/// Offline, on a finished pool: apply `step` repeatedly while it removes members, the
/// kept set is larger than `target` (0: no target) and the validation error stays
/// within `tolerance` of the whole pool's.
NASX_API std::vector<int64_t> prune_offline(const EnsemblePool& pool, const PruneStep& step,
                                            int64_t target, double tolerance, std::mt19937_64& rng);

}  // namespace nasx
