#pragma once
/// How well one measurement of a set of architectures ranks them like another: the
/// statistics of the weight-sharing ranking analysis (Zhang et al. 2020) and of
/// training-free scores against trained accuracy. Higher values rank first throughout.

#include <cstdint>
#include <random>
#include <vector>

namespace nasx::core {

/// Ordinal ranks, best (highest value) = 1; equal values ranked in index order.
std::vector<int64_t> descending_ranks(const std::vector<double>& values);

/// Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties_x)(n0 - ties_y)), pairs
/// tied in both left out of every term. NaN when fewer than two values or one side is
/// constant. Throws std::invalid_argument for lengths that differ.
double kendall_tau(const std::vector<double>& x, const std::vector<double>& y);

/// Spearman's rho: Pearson's correlation of the average ranks (ties share the mean of
/// their ranks). NaN when undefined.
double spearman_rho(const std::vector<double>& x, const std::vector<double>& y);

/// Mean, smallest and largest Kendall tau over every pair of `measurements` (each the
/// same architectures in the same order): S-Tau, the agreement between runs.
struct PairwiseTau {
  double mean = 0, min = 0, max = 0;
  int64_t pairs = 0;
};
PairwiseTau pairwise_tau(const std::vector<std::vector<double>>& measurements);

/// TnR: the best ground-truth rank (1 = the truly best) among the `n` architectures
/// that `measured` ranks highest.
int64_t top_n_true_rank(const std::vector<double>& measured, const std::vector<double>& truth,
                        int64_t n);

/// Mean and sample standard deviation (0 for fewer than two values).
struct MeanStd {
  double mean = 0, std = 0;
  int64_t count = 0;
};
MeanStd mean_std(const std::vector<double>& values);

/// `count` items (in their sorted order, e.g. children 111 ... 444) split into `groups`
/// contiguous groups of equal size: sharing by similarity. Throws std::invalid_argument
/// unless groups divides count.
std::vector<std::vector<int64_t>> similarity_groups(int64_t count, int64_t groups);

/// The same sizes, members drawn by a seeded random permutation; each group sorted.
std::vector<std::vector<int64_t>> random_groups(int64_t count, int64_t groups,
                                                std::mt19937_64& rng);

}  // namespace nasx::core
