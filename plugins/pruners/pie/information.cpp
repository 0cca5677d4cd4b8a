#include "pie/information.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <ATen/ATen.h>

#include <nasx/ensemble.hpp>
#include <nasx/error.hpp>

namespace nasx::pie {

namespace {

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

}  // namespace nasx::pie
