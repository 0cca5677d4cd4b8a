#include "nasx/core/cell_shape.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

CellShape cell_shape(const CellGraph& cell) {
  std::vector<int64_t> depth(static_cast<size_t>(cell.inputs), 0);
  CellShape shape;
  int64_t deepest = 0;
  for (size_t k = 0; k < cell.node_inputs.size(); ++k) {
    const auto& sources = cell.node_inputs[k];
    const auto state = static_cast<int64_t>(depth.size());
    int64_t node_depth = 0, from_inputs = 0;
    for (int64_t source : sources) {
      if (source < 0 || source >= state)
        throw std::invalid_argument("node " + std::to_string(k) + " reads state " +
                                    std::to_string(source) + ", not one before it");
      node_depth = std::max(node_depth, 1 + depth[static_cast<size_t>(source)]);
      from_inputs += source < cell.inputs;
    }
    if (!sources.empty())
      shape.width += static_cast<double>(from_inputs) / static_cast<double>(sources.size());
    depth.push_back(node_depth);
    deepest = std::max(deepest, node_depth);
  }
  shape.depth = cell.output_is_last_node && !cell.node_inputs.empty() ? depth.back()
                                                                     : 1 + deepest;
  return shape;
}

std::vector<CellGraph> cell_graphs(const SearchSpace& space, const Architecture& arch) {
  space.check(arch);
  std::vector<CellGraph> graphs;
  const std::vector<CellDecisions> decisions = space.decisions();
  for (size_t c = 0; c < decisions.size(); ++c) {
    CellGraph graph;
    graph.inputs = decisions[c].inputs;
    graph.output_is_last_node = decisions[c].output == CellDecisions::Output::last_node;
    for (const auto& edges : decisions[c].node_edges) {
      std::vector<int64_t> sources;
      for (size_t s = 0; s < edges.size(); ++s) {
        const int op = arch.cells[c][static_cast<size_t>(edges[s])];
        if (op != Architecture::kNoEdge && space.operations()[static_cast<size_t>(op)] != "none")
          sources.push_back(static_cast<int64_t>(s));
      }
      graph.node_inputs.push_back(std::move(sources));
    }
    graphs.push_back(std::move(graph));
  }
  return graphs;
}

Architecture random_connections(const SearchSpace& space, const Architecture& arch,
                                std::mt19937_64& rng) {
  space.check(arch);
  Architecture out = arch;
  const std::vector<CellDecisions> decisions = space.decisions();
  for (size_t c = 0; c < decisions.size(); ++c) {
    if (decisions[c].inputs_per_node == 0)
      throw ConfigError("space '" + space.name() +
                        "' keeps every edge of its cells: their connections are fixed, only "
                        "operations can be redrawn");
    for (const auto& edges : decisions[c].node_edges) {
      std::vector<int> ops;
      for (int64_t edge : edges) {
        int& op = out.cells[c][static_cast<size_t>(edge)];
        if (op != Architecture::kNoEdge) ops.push_back(op);
        op = Architecture::kNoEdge;
      }
      std::vector<size_t> states(edges.size());
      std::iota(states.begin(), states.end(), 0);
      std::shuffle(states.begin(), states.end(), rng);
      for (size_t i = 0; i < ops.size(); ++i)
        out.cells[c][static_cast<size_t>(edges[states[i]])] = ops[i];
    }
  }
  space.check(out);
  return out;
}

Architecture random_operations(const SearchSpace& space, const Architecture& arch,
                               std::mt19937_64& rng) {
  space.check(arch);
  Architecture out = arch;
  const std::vector<CellDecisions> decisions = space.decisions();
  for (size_t c = 0; c < decisions.size(); ++c) {
    const auto& candidates = decisions[c].operations;
    std::uniform_int_distribution<size_t> pick(0, candidates.size() - 1);
    for (int& op : out.cells[c])
      if (op != Architecture::kNoEdge) op = static_cast<int>(candidates[pick(rng)]);
  }
  space.check(out);
  return out;
}

}  // namespace nasx::core
