#pragma once
/// A NAS-Bench-201 cell (Dong & Yang, ICLR 2020): 4 nodes, an operation on each of
/// the 6 edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2, chosen from 5 operations.

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "nasx/export.hpp"

namespace nasx::nb201 {

constexpr int kEdges = 6;
constexpr int kOperations = 5;
constexpr int64_t kCells = 15625;  ///< 5^6

/// The candidates of an edge, in canonical (alpha-column) order:
/// none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
const std::vector<std::string>& operation_names();

/// (target node, source node) of edge `edge` in canonical order.
std::pair<int, int> edge_nodes(int edge);

/// One cell: the operation index of each edge.
struct Arch {
  std::array<int, kEdges> ops{};

  bool operator==(const Arch& other) const { return ops == other.ops; }
  bool operator!=(const Arch& other) const { return ops != other.ops; }

  /// The benchmark's arch string, `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
  std::string str() const;
  /// Parses an arch string; throws GenotypeError naming the offending token and its
  /// column, with the text and a caret under it.
  static Arch parse(std::string_view text);

  /// The cell's number in 0..15624 (edge 0 the most significant base-5 digit), and back.
  int64_t index() const;
  static Arch from_index(int64_t index);

  /// Every cell of the space, in index order.
  static std::vector<Arch> enumerate();
  /// A uniformly random cell.
  static Arch sample(std::mt19937_64& rng);
  /// The 24 cells one operation away, edge by edge, operations in canonical order.
  std::vector<Arch> neighbours() const;
  /// A uniformly random neighbour.
  Arch mutate(std::mt19937_64& rng) const;
};

}  // namespace nasx::nb201
