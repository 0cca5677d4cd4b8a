#include "nasx/core/rank_statistics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace nasx::core {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_pair(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw std::invalid_argument("rank statistics of " + std::to_string(x.size()) + " and " +
                                std::to_string(y.size()) + " values: the lengths must agree");
}

/// Average ranks, ascending (1 = smallest); tied values share the mean of their ranks.
std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t start = 0; start < order.size();) {
    size_t end = start;
    while (end + 1 < order.size() && values[order[end + 1]] == values[order[start]]) ++end;
    const double rank = (static_cast<double>(start + end) + 2.0) / 2.0;
    for (size_t k = start; k <= end; ++k) ranks[order[k]] = rank;
    start = end + 1;
  }
  return ranks;
}

}  // namespace

std::vector<int64_t> descending_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] > values[b]; });
  std::vector<int64_t> ranks(values.size());
  for (size_t k = 0; k < order.size(); ++k) ranks[order[k]] = static_cast<int64_t>(k) + 1;
  return ranks;
}

double kendall_tau(const std::vector<double>& x, const std::vector<double>& y) {
  check_pair(x, y);
  int64_t concordant = 0, discordant = 0, only_x_tied = 0, only_y_tied = 0;
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = i + 1; j < x.size(); ++j) {
      const double dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx == 0 && dy == 0) continue;
      if (dx == 0)
        ++only_x_tied;
      else if (dy == 0)
        ++only_y_tied;
      else if ((dx > 0) == (dy > 0))
        ++concordant;
      else
        ++discordant;
    }
  const double untied_x = static_cast<double>(concordant + discordant + only_y_tied);
  const double untied_y = static_cast<double>(concordant + discordant + only_x_tied);
  if (untied_x == 0 || untied_y == 0) return kNaN;
  return static_cast<double>(concordant - discordant) / std::sqrt(untied_x * untied_y);
}

double spearman_rho(const std::vector<double>& x, const std::vector<double>& y) {
  check_pair(x, y);
  if (x.size() < 2) return kNaN;
  const std::vector<double> rx = average_ranks(x), ry = average_ranks(y);
  const double mean = (static_cast<double>(x.size()) + 1.0) / 2.0;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  if (sxx == 0 || syy == 0) return kNaN;
  return sxy / std::sqrt(sxx * syy);
}

PairwiseTau pairwise_tau(const std::vector<std::vector<double>>& measurements) {
  PairwiseTau out;
  double sum = 0;
  out.min = std::numeric_limits<double>::infinity();
  out.max = -out.min;
  for (size_t a = 0; a < measurements.size(); ++a)
    for (size_t b = a + 1; b < measurements.size(); ++b) {
      const double tau = kendall_tau(measurements[a], measurements[b]);
      sum += tau;
      out.min = std::min(out.min, tau);
      out.max = std::max(out.max, tau);
      ++out.pairs;
    }
  if (out.pairs == 0) return {kNaN, kNaN, kNaN, 0};
  out.mean = sum / static_cast<double>(out.pairs);
  return out;
}

int64_t top_n_true_rank(const std::vector<double>& measured, const std::vector<double>& truth,
                        int64_t n) {
  check_pair(measured, truth);
  const std::vector<int64_t> by_measure = descending_ranks(measured);
  const std::vector<int64_t> by_truth = descending_ranks(truth);
  int64_t best = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i < measured.size(); ++i)
    if (by_measure[i] <= n) best = std::min(best, by_truth[i]);
  return best;
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd out;
  out.count = static_cast<int64_t>(values.size());
  if (values.empty()) return {kNaN, kNaN, 0};
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(out.count);
  if (values.size() < 2) return out;
  double squares = 0;
  for (double v : values) squares += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(squares / static_cast<double>(out.count - 1));
  return out;
}

std::vector<std::vector<int64_t>> similarity_groups(int64_t count, int64_t groups) {
  if (groups < 1 || count % groups != 0)
    throw std::invalid_argument(std::to_string(groups) + " groups do not divide " +
                                std::to_string(count) + " items into equal groups");
  const int64_t size = count / groups;
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(groups));
  for (int64_t i = 0; i < count; ++i) out[static_cast<size_t>(i / size)].push_back(i);
  return out;
}

std::vector<std::vector<int64_t>> random_groups(int64_t count, int64_t groups,
                                                std::mt19937_64& rng) {
  std::vector<std::vector<int64_t>> out = similarity_groups(count, groups);
  std::vector<int64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  size_t next = 0;
  for (auto& group : out) {
    for (auto& member : group) member = order[next++];
    std::sort(group.begin(), group.end());
  }
  return out;
}

}  // namespace nasx::core
