#pragma once
/// What every ensemble pruner and the host's ensemble command share: the uniform soft
/// vote that defines an ensemble's quality (SAEP, Bian et al., IEEE TNNLS 2021), and
/// member bookkeeping. Each pruner's criterion lives in its plugin; the online and
/// offline schedules that apply a pruner are the host's.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"
#include "nasx/pruner.hpp"

namespace nasx {

/// 0, 1, ..., n - 1: every member of a pool of `n`.
NASX_API std::vector<int64_t> all_members(int64_t n);

/// The pool restricted to `members` (in that order).
NASX_API EnsemblePool select_members(const EnsemblePool& pool, const std::vector<int64_t>& members);

/// Error rate of the uniform soft vote of `members` (all when empty): the row-wise argmax
/// of the summed probabilities (the lowest class on ties) against the labels.
NASX_API double soft_vote_error(const at::Tensor& probabilities, const at::Tensor& labels,
                                const std::vector<int64_t>& members = {});

/// Hard predictions h_j = argmax P_j, [members, samples] int64.
NASX_API at::Tensor hard_predictions(const at::Tensor& probabilities);

}  // namespace nasx
