#include "nasx/ensemble.hpp"

#include <numeric>

#include <ATen/ATen.h>

namespace nasx {

std::vector<int64_t> all_members(int64_t n) {
  std::vector<int64_t> members(static_cast<size_t>(n));
  std::iota(members.begin(), members.end(), int64_t{0});
  return members;
}

EnsemblePool select_members(const EnsemblePool& pool, const std::vector<int64_t>& members) {
  return {pool.probabilities.index_select(0, at::tensor(members, at::kLong)), pool.labels};
}

double soft_vote_error(const at::Tensor& probabilities, const at::Tensor& labels,
                       const std::vector<int64_t>& members) {
  const at::Tensor chosen = members.empty()
                                ? probabilities
                                : probabilities.index_select(0, at::tensor(members, at::kLong));
  const at::Tensor vote = chosen.sum(0).argmax(1);
  return 1.0 - vote.eq(labels).to(at::kDouble).mean().item<double>();
}

at::Tensor hard_predictions(const at::Tensor& probabilities) { return probabilities.argmax(2); }

}  // namespace nasx
