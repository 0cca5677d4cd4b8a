#include "nasx/architecture.hpp"

#include <stdexcept>

namespace nasx {

int Architecture::distance(const Architecture& other) const {
  if (cells.size() != other.cells.size())
    throw std::invalid_argument("Architecture::distance: different numbers of cell types");
  int differing = 0;
  for (size_t c = 0; c < cells.size(); ++c) {
    if (cells[c].size() != other.cells[c].size())
      throw std::invalid_argument("Architecture::distance: different numbers of edges");
    for (size_t e = 0; e < cells[c].size(); ++e) differing += cells[c][e] != other.cells[c][e];
  }
  return differing;
}

}  // namespace nasx
