#pragma once
/// Every architecture of a finite space, from its decisions(): what a ground-truth
/// table trains and an exhaustive analysis ranks.

#include <cstdint>
#include <vector>

#include "nasx/architecture.hpp"
#include "nasx/export.hpp"

namespace nasx {

class SearchSpace;

/// The number of architectures `space` holds by its decisions(): per node, the ways
/// to keep inputs_per_node of its edges (all of them when 0) times an operation for
/// each kept edge; multiplied over nodes and cell types. Saturates at INT64_MAX.
NASX_API int64_t count_architectures(const SearchSpace& space);

/// Every architecture of `space`, sorted (Architecture::operator<, so the same space
/// gives the same order everywhere). Throws ConfigError when there are more than
/// `limit`, naming the count.
NASX_API std::vector<Architecture> enumerate_architectures(const SearchSpace& space,
                                                           int64_t limit = 1000000);

}  // namespace nasx
