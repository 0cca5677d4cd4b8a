#pragma once
/// Sizes that cannot fit are refused before anything is allocated. An evaluation
/// network's parameter count is a quadratic in its channel count C (convolutions C x C,
/// BatchNorm and the classifier linear in C), so three narrow builds give the count of
/// any width without building it.

#include <cstdint>
#include <string>

#include "nasx/architecture.hpp"
#include "nasx/data.hpp"

namespace nasx {
class SearchSpace;
}  // namespace nasx

namespace nasx::core {

/// The parameter count (auxiliary head included) of `space`'s network for `arch` at
/// `channels` and `layers`: counted on builds at C = 8, 16, 24 and extrapolated.
int64_t estimated_parameters(const SearchSpace& space, const Architecture& arch,
                             const DataShape& shape, int64_t channels, int64_t layers);

/// Bytes of memory this machine has (physical pages).
int64_t machine_memory_bytes();

/// Throws ConfigError when `parameters` float32 weights, `copies` times over (1 to
/// count them, about 4 to train them: weights, gradients, momentum, a checkpoint's copy),
/// would need more memory than the machine has; `change` says which setting to lower.
void check_parameters_fit(int64_t parameters, double copies, const std::string& change);

}  // namespace nasx::core
