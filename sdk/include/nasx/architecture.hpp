#pragma once
/// One discrete architecture of a search space, in the supernet's own terms.

#include <string>
#include <vector>

#include "nasx/export.hpp"

namespace nasx {

/// For each cell type of the space (SearchSpace::cell_types(), the rows of
/// Supernet::arch_parameters()), the operation chosen on each edge: an index into
/// SearchSpace::operations(), or kNoEdge for an edge the cell leaves out.
///
/// NB201: one cell type, 6 edges, every edge present (`none` is an operation there).
/// DARTS: "normal" and "reduce", 14 edges each, two present per node.
/// The same architecture has one representation, so it compares equal and can key a
/// cache; the text forms are the space's (SearchSpace::parse / format).
struct NASX_API Architecture {
  static constexpr int kNoEdge = -1;
  std::vector<std::vector<int>> cells;

  bool operator==(const Architecture& other) const { return cells == other.cells; }
  bool operator!=(const Architecture& other) const { return cells != other.cells; }
  bool operator<(const Architecture& other) const { return cells < other.cells; }

  /// The number of edges whose operation differs (kNoEdge counts as an operation).
  int distance(const Architecture& other) const;
};

}  // namespace nasx
