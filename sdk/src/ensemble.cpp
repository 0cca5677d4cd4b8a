#include "nasx/ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <ATen/ATen.h>

#include "nasx/error.hpp"

namespace nasx {

namespace {

std::vector<int64_t> all_members(int64_t n) {
  std::vector<int64_t> members(static_cast<size_t>(n));
  std::iota(members.begin(), members.end(), int64_t{0});
  return members;
}

std::vector<int64_t> values_of(const at::Tensor& x) {
  const at::Tensor c = x.to(at::kLong).cpu().contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

/// Empirical entropy of the keys' frequencies.
template <class Key>
double entropy_of(const std::map<Key, int64_t>& counts, int64_t total) {
  double h = 0;
  for (const auto& [key, count] : counts) {
    const double p = static_cast<double>(count) / static_cast<double>(total);
    h -= p * std::log(p);
  }
  return h;
}

}  // namespace

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

double entropy(const at::Tensor& x) {
  std::map<int64_t, int64_t> counts;
  const auto v = values_of(x);
  for (int64_t value : v) ++counts[value];
  return entropy_of(counts, static_cast<int64_t>(v.size()));
}

double joint_entropy(const at::Tensor& x, const at::Tensor& y) {
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  const auto a = values_of(x), b = values_of(y);
  if (a.size() != b.size()) throw Error("joint entropy of sequences of different lengths");
  for (size_t i = 0; i < a.size(); ++i) ++counts[{a[i], b[i]}];
  return entropy_of(counts, static_cast<int64_t>(a.size()));
}

double mutual_information(const at::Tensor& x, const at::Tensor& y) {
  return std::max(0.0, entropy(x) + entropy(y) - joint_entropy(x, y));
}

double normalized_mutual_information(const at::Tensor& x, const at::Tensor& y) {
  const double denominator = std::sqrt(entropy(x) * entropy(y));
  return denominator > 0 ? mutual_information(x, y) / denominator : 0.0;
}

double normalized_variation_of_information(const at::Tensor& x, const at::Tensor& y) {
  const double joint = joint_entropy(x, y);
  return joint > 0 ? 1.0 - mutual_information(x, y) / joint : 0.0;
}

double tdac(const at::Tensor& a, const at::Tensor& b, const at::Tensor& labels, double lambda) {
  if (at::equal(a, b)) return 0.0;
  return lambda * normalized_variation_of_information(a, b) +
         (1.0 - lambda) *
             (normalized_mutual_information(a, labels) + normalized_mutual_information(b, labels)) /
             2.0;
}

std::vector<int64_t> prune_random(int64_t members, std::mt19937_64& rng) {
  std::vector<int64_t> kept = all_members(members);
  if (members <= 2) return kept;
  if (std::bernoulli_distribution(0.5)(rng)) {
    std::uniform_int_distribution<int64_t> pick(0, members - 1);
    kept.erase(kept.begin() + pick(rng));
  }
  return kept;
}

std::vector<int64_t> prune_accuracy(const EnsemblePool& pool, bool reference_sign) {
  const int64_t n = pool.members();
  if (n <= 2) return all_members(n);
  const double full = soft_vote_error(pool.probabilities, pool.labels);
  std::vector<double> damage(static_cast<size_t>(n));  // Δ_j = err(S \ j) - err(S)
  for (int64_t j = 0; j < n; ++j) {
    std::vector<int64_t> rest = all_members(n);
    rest.erase(rest.begin() + j);
    damage[static_cast<size_t>(j)] = soft_vote_error(pool.probabilities, pool.labels, rest) - full;
  }
  // The reference code's sign: keep those whose removal would lower the error.
  if (reference_sign)
    for (double& d : damage) d = -d;
  std::vector<int64_t> kept;
  for (int64_t j = 0; j < n; ++j)
    if (damage[static_cast<size_t>(j)] > 0) kept.push_back(j);
  if (kept.size() >= 2) return kept;
  std::vector<int64_t> order = all_members(n);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return damage[static_cast<size_t>(a)] > damage[static_cast<size_t>(b)];
  });
  kept = {order[0], order[1]};
  std::sort(kept.begin(), kept.end());
  return kept;
}

std::vector<int64_t> prune_entropy(const EnsemblePool& pool, double lambda, std::mt19937_64& rng) {
  const int64_t n = pool.members();
  if (n <= 2) return all_members(n);
  const at::Tensor hard = hard_predictions(pool.probabilities);
  std::vector<std::vector<double>> pair(static_cast<size_t>(n),
                                        std::vector<double>(static_cast<size_t>(n)));
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = a + 1; b < n; ++b)
      pair[a][b] = pair[b][a] = tdac(hard[a], hard[b], pool.labels, lambda);
  std::vector<int64_t> chosen{std::uniform_int_distribution<int64_t>(0, n - 1)(rng)};
  std::vector<bool> taken(static_cast<size_t>(n), false);
  taken[static_cast<size_t>(chosen[0])] = true;
  while (static_cast<int64_t>(chosen.size()) < n - 1) {
    int64_t best = -1;
    double best_value = -1;
    for (int64_t candidate = 0; candidate < n; ++candidate) {
      if (taken[static_cast<size_t>(candidate)]) continue;
      double value = 0;
      for (int64_t c : chosen) value += pair[candidate][c];
      if (value > best_value) {  // strict: the lowest index wins ties
        best_value = value;
        best = candidate;
      }
    }
    chosen.push_back(best);
    taken[static_cast<size_t>(best)] = true;
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

std::vector<int64_t> keep_top_k(const EnsemblePool& pool, int64_t k) {
  const int64_t n = pool.members();
  if (k > n)
    throw ConfigError("the top-k pruner keeps k = " + std::to_string(k) +
                      " members but the ensemble has only " + std::to_string(n) +
                      "; lower ensemble.k or build a larger pool (ensemble.members)");
  std::vector<double> error(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j)
    error[static_cast<size_t>(j)] = soft_vote_error(pool.probabilities, pool.labels, {j});
  std::vector<int64_t> order = all_members(n);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return error[static_cast<size_t>(a)] < error[static_cast<size_t>(b)];
  });
  std::vector<int64_t> kept(order.begin(), order.begin() + k);
  std::sort(kept.begin(), kept.end());
  return kept;
}

std::vector<int64_t> prune_online(const EnsemblePool& pool, const PruneStep& step,
                                  std::mt19937_64& rng) {
  std::vector<int64_t> kept;
  for (int64_t t = 0; t < pool.members(); ++t) {
    if (kept.size() > 2) {
      const std::vector<int64_t> local = step(select_members(pool, kept), rng);
      std::vector<int64_t> next;
      for (int64_t i : local) next.push_back(kept.at(static_cast<size_t>(i)));
      kept = next;
    }
    kept.push_back(t);
  }
  return kept;
}

std::vector<int64_t> prune_offline(const EnsemblePool& pool, const PruneStep& step, int64_t target,
                                   double tolerance, std::mt19937_64& rng) {
  std::vector<int64_t> kept = all_members(pool.members());
  const double start_error = soft_vote_error(pool.probabilities, pool.labels);
  while (kept.size() > 2 && (target <= 0 || static_cast<int64_t>(kept.size()) > target)) {
    const std::vector<int64_t> local = step(select_members(pool, kept), rng);
    if (local.size() >= kept.size()) break;  // the criterion removes nothing more
    std::vector<int64_t> next;
    for (int64_t i : local) next.push_back(kept.at(static_cast<size_t>(i)));
    if (soft_vote_error(pool.probabilities, pool.labels, next) > start_error + tolerance) break;
    kept = next;
  }
  return kept;
}

}  // namespace nasx
