#pragma once
/// Cell diagrams drawn by Graphviz (`dot`, Debian's graphviz), in the style of the DARTS
/// paper's figures: the cell's inputs c_{k-2}, c_{k-1} (green), its intermediate nodes
/// 0, 1, ... (blue), its output c_{k} (yellow), every kept edge labelled with its
/// operation. Any space plugin's cells: the layout comes from SearchSpace::decisions().

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "nasx/architecture.hpp"

namespace nasx {
class SearchSpace;
}

namespace nasx::core {

/// The DOT text of cell type `cell` of `arch` (checked against the space first).
std::string cell_dot(const SearchSpace& space, const Architecture& arch, size_t cell,
                     const std::string& title);

/// Each edge of cell type `cell` named as the diagrams name its ends ("c_{k-2} -> 0"),
/// indexed by edge (the rows of the space's architecture weights).
std::vector<std::string> edge_labels(const SearchSpace& space, size_t cell);

/// Writes folder/NAME-<cell type>.dot and draws folder/NAME-<cell type>.svg for every
/// cell type (atomically); returns the SVG paths. Throws IoError when `dot` is missing
/// (saying to install graphviz) or fails (quoting it).
std::vector<std::filesystem::path> draw_cells(const SearchSpace& space, const Architecture& arch,
                                              const std::filesystem::path& folder,
                                              const std::string& name);

}  // namespace nasx::core
