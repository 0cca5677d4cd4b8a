#include "nasx/core/cell_diagram.hpp"

#include <sstream>

#include "nasx/core/files.hpp"
#include "nasx/core/process.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// The cell's inputs as the DARTS figures name them: the last one is c_{k-1}.
std::string input_name(int64_t input, int64_t inputs) {
  const int64_t back = inputs - input;
  return "c_{k-" + std::to_string(back) + "}";
}

/// A state's name in diagrams: DARTS counts its intermediate nodes from 0 after its two
/// inputs; one-input cells (NB201, ws64) number states, the input 0.
std::string state_name(const CellDecisions& layout, int64_t s) {
  if (s < layout.inputs) return input_name(s, layout.inputs);
  return std::to_string(layout.inputs == 1 ? s : s - layout.inputs);
}

}  // namespace

std::vector<std::string> edge_labels(const SearchSpace& space, size_t cell) {
  const CellDecisions layout = space.decisions().at(cell);
  std::vector<std::string> labels(static_cast<size_t>(space.edges_per_cell()));
  for (size_t n = 0; n < layout.node_edges.size(); ++n)
    for (size_t s = 0; s < layout.node_edges[n].size(); ++s) {
      const auto edge = static_cast<size_t>(layout.node_edges[n][s]);
      if (edge < labels.size())
        labels[edge] = state_name(layout, static_cast<int64_t>(s)) + " -> " +
                       state_name(layout, layout.inputs + static_cast<int64_t>(n));
    }
  for (size_t e = 0; e < labels.size(); ++e)
    if (labels[e].empty()) labels[e] = "edge " + std::to_string(e);
  return labels;
}

std::string cell_dot(const SearchSpace& space, const Architecture& arch, size_t cell,
                     const std::string& title) {
  space.check(arch);
  const std::vector<CellDecisions> decisions = space.decisions();
  if (cell >= decisions.size())
    throw ConfigError("space '" + space.name() + "' has " + std::to_string(decisions.size()) +
                      " cell types, not " + std::to_string(cell + 1));
  const CellDecisions& layout = decisions[cell];
  const auto& operations = space.operations();
  const auto nodes = static_cast<int64_t>(layout.node_edges.size());
  auto state = [&](int64_t s) { return double_quoted(state_name(layout, s)); };

  std::ostringstream dot;
  dot << "digraph cell {\n"
      << "  label=" << double_quoted(title) << "; labelloc=t; fontname=\"sans\"; fontsize=14;\n"
      << "  rankdir=LR;\n"
      << "  node [shape=box, style=\"rounded,filled\", fontname=\"sans\", fontsize=14, "
         "height=0.5, fixedsize=false, penwidth=1.5];\n"
      << "  edge [fontname=\"sans\", fontsize=11, penwidth=1.5];\n";
  for (int64_t s = 0; s < layout.inputs; ++s)
    dot << "  " << state(s) << " [fillcolor=darkseagreen2];\n";
  for (int64_t n = 0; n < nodes; ++n)
    dot << "  " << state(layout.inputs + n) << " [fillcolor=lightblue, shape=circle];\n";
  dot << "  \"c_{k}\" [fillcolor=palegoldenrod];\n";
  for (int64_t n = 0; n < nodes; ++n) {
    const auto& edges = layout.node_edges[static_cast<size_t>(n)];
    for (size_t s = 0; s < edges.size(); ++s) {
      const int op = arch.cells[cell][static_cast<size_t>(edges[s])];
      if (op == Architecture::kNoEdge) continue;
      const std::string& name = operations.at(static_cast<size_t>(op));
      dot << "  " << state(static_cast<int64_t>(s)) << " -> " << state(layout.inputs + n)
          << " [label=" << double_quoted(name)
          << (name == "none" ? ", style=dashed, color=gray60, fontcolor=gray50" : "") << "];\n";
    }
  }
  // The output: every node concatenated (DARTS), or the last node alone (NB201).
  if (layout.output == CellDecisions::Output::last_node) {
    if (nodes > 0) dot << "  " << state(layout.inputs + nodes - 1) << " -> \"c_{k}\";\n";
  } else {
    for (int64_t n = 0; n < nodes; ++n)
      dot << "  " << state(layout.inputs + n) << " -> \"c_{k}\" [color=gray40];\n";
  }
  dot << "}\n";
  return dot.str();
}

std::vector<fs::path> draw_cells(const SearchSpace& space, const Architecture& arch,
                                 const fs::path& folder, const std::string& name) {
  std::vector<fs::path> drawn;
  const std::vector<std::string> types = space.cell_types();
  for (size_t c = 0; c < types.size(); ++c) {
    const std::string stem = name + "-" + types[c];
    const std::string text =
        cell_dot(space, arch, c, types[c] == "cell" ? "cell" : types[c] + " cell");
    write_file_atomically(folder / (stem + ".dot"), text);
    // Drawn to a temporary name, then renamed: a failed drawing leaves no half an SVG.
    const fs::path svg = folder / (stem + ".svg");
    const fs::path temporary = folder / (stem + ".svg.tmp");
    const CommandOutput result =
        run_and_capture({"dot", "-Tsvg", "-o" + temporary.string(),
                         (folder / (stem + ".dot")).string()});
    std::error_code ignored;
    if (!result.started)
      throw IoError("cannot draw " + svg.string() +
                    ": Graphviz's dot is not installed; install graphviz (tools/setup does); "
                    "the cell is in " + (folder / (stem + ".dot")).string());
    if (result.exit_code != 0 || !fs::exists(temporary)) {
      fs::remove(temporary, ignored);
      throw IoError("dot failed to draw " + svg.string() + ": " + result.output);
    }
    fs::rename(temporary, svg);
    drawn.push_back(svg);
  }
  return drawn;
}

}  // namespace nasx::core
