#include "nasx/enumerate.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx {

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t saturating_product(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kMax / b ? kMax : a * b;
}

int64_t binomial(int64_t n, int64_t k) {
  int64_t out = 1;
  for (int64_t i = 1; i <= k; ++i) out = saturating_product(out, n - k + i) / i;
  return out;
}

/// Every subset of `edges` of size `keep`, in lexicographic order.
std::vector<std::vector<int64_t>> subsets(const std::vector<int64_t>& edges, int64_t keep) {
  std::vector<std::vector<int64_t>> out;
  std::vector<int64_t> chosen;
  auto walk = [&](auto&& self, size_t from) -> void {
    if (static_cast<int64_t>(chosen.size()) == keep) {
      out.push_back(chosen);
      return;
    }
    for (size_t i = from; i < edges.size(); ++i) {
      chosen.push_back(edges[i]);
      self(self, i + 1);
      chosen.pop_back();
    }
  };
  walk(walk, 0);
  return out;
}

/// Every edge row of one cell type.
std::vector<std::vector<int>> cells_of(const CellDecisions& cell, int64_t edges_per_cell) {
  std::vector<std::vector<int>> cells = {
      std::vector<int>(static_cast<size_t>(edges_per_cell), Architecture::kNoEdge)};
  for (const auto& edges : cell.node_edges) {
    const int64_t keep =
        cell.inputs_per_node > 0 ? cell.inputs_per_node : static_cast<int64_t>(edges.size());
    std::vector<std::vector<int>> next;
    for (const auto& partial : cells)
      for (const auto& kept : subsets(edges, keep)) {
        // Every assignment of an operation to the kept edges.
        std::vector<std::vector<int>> filled = {partial};
        for (int64_t edge : kept) {
          std::vector<std::vector<int>> grown;
          for (const auto& row : filled)
            for (int64_t op : cell.operations) {
              auto extended = row;
              extended[static_cast<size_t>(edge)] = static_cast<int>(op);
              grown.push_back(std::move(extended));
            }
          filled = std::move(grown);
        }
        next.insert(next.end(), filled.begin(), filled.end());
      }
    cells = std::move(next);
  }
  return cells;
}

}  // namespace

int64_t count_architectures(const SearchSpace& space) {
  int64_t count = 1;
  for (const CellDecisions& cell : space.decisions())
    for (const auto& edges : cell.node_edges) {
      const auto n = static_cast<int64_t>(edges.size());
      const int64_t keep = cell.inputs_per_node > 0 ? std::min(cell.inputs_per_node, n) : n;
      int64_t ways = binomial(n, keep);
      for (int64_t k = 0; k < keep; ++k)
        ways = saturating_product(ways, static_cast<int64_t>(cell.operations.size()));
      count = saturating_product(count, ways);
    }
  return count;
}

std::vector<Architecture> enumerate_architectures(const SearchSpace& space, int64_t limit) {
  const int64_t count = count_architectures(space);
  if (count > limit)
    throw ConfigError("space '" + space.name() + "' has " +
                      (count == kMax ? std::string("more than 9.2e18") : std::to_string(count)) +
                      " architectures, more than " + std::to_string(limit) +
                      " can be enumerated; sample some instead");
  std::vector<Architecture> all = {Architecture{}};
  for (const CellDecisions& cell : space.decisions()) {
    std::vector<Architecture> next;
    for (const auto& row : cells_of(cell, space.edges_per_cell()))
      for (const Architecture& partial : all) {
        Architecture extended = partial;
        extended.cells.push_back(row);
        next.push_back(std::move(extended));
      }
    all = std::move(next);
  }
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace nasx
