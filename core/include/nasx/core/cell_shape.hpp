#pragma once
/// The width and depth of a cell (Shu et al., "Understanding Architectures Learnt by
/// Cell-based Neural Architecture Search", ICLR 2020), and the random variants that
/// test their finding (wide, shallow cells are what weight-sharing search favours).
///
/// Definitions, for a cell whose output concatenates every intermediate node:
/// - depth: edges on the longest path from a cell input to the output, the node ->
///   output edge counted: d(input) = 0, d(node) = 1 + max over what it reads,
///   depth = 1 + max over the nodes;
/// - width: the nodes' widths summed, in units of c: a node counts c times the share
///   of its incoming edges that come from a cell input (DARTS: 0.5c per such edge).

#include <cstdint>
#include <random>
#include <vector>

#include "nasx/architecture.hpp"

namespace nasx {
class SearchSpace;
}

namespace nasx::core {

/// A cell as a graph: states 0 .. inputs-1 are the cell's inputs, state inputs + k is
/// intermediate node k; node_inputs[k] lists the state of each of node k's incoming
/// edges (a state may appear twice, as in genotypes written by hand).
struct CellGraph {
  int64_t inputs = 2;
  std::vector<std::vector<int64_t>> node_inputs;
  /// The cell outputs its last node (NB201) instead of all nodes concatenated: the depth
  /// is then the last node's, with no node -> output edge.
  bool output_is_last_node = false;
};

struct CellShape {
  double width = 0;  ///< in units of c
  int64_t depth = 0;
};

/// Throws std::invalid_argument for a node that reads itself or a later node.
CellShape cell_shape(const CellGraph& cell);

/// Each cell type's graph of `arch`, from the space's decisions(): the kept edges
/// (a `none` operation connects nothing, also where the space keeps every edge).
std::vector<CellGraph> cell_graphs(const SearchSpace& space, const Architecture& arch);

/// Random connections: every operation stays with its node, each node's inputs are
/// redrawn uniformly (distinct states, as the space holds one edge per state pair) from
/// the cell inputs and the nodes before it. Throws ConfigError for a space that keeps
/// every edge (its connections are fixed).
Architecture random_connections(const SearchSpace& space, const Architecture& arch,
                                std::mt19937_64& rng);

/// Random operations: the connections stay, each kept edge's operation is redrawn
/// uniformly from the space's candidates.
Architecture random_operations(const SearchSpace& space, const Architecture& arch,
                               std::mt19937_64& rng);

}  // namespace nasx::core
