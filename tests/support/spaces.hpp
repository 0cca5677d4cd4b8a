#pragma once
// The shipped spaces for tests that build supernets and networks in-process: their
// plugins' libraries are linked into the test executable.

#include <memory>
#include <string>

#include "darts/supernet.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"
#include "nb201/supernet.hpp"
#include "ws64/space.hpp"

namespace nasx::testing {

/// The DARTS reference's DARTS_V2 cell (quark0/darts, genotypes.py).
constexpr const char* kDartsV2 =
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";

/// The space `name` ("darts", "nb201" or "ws64") with `options`.
inline std::unique_ptr<SearchSpace> make_space(const std::string& name,
                                               const SpaceOptions& options = {}) {
  if (name == "darts") return std::make_unique<darts::DartsSpace>(options);
  if (name == "nb201") return std::make_unique<nb201::Nb201Space>(options);
  if (name == "ws64") return std::make_unique<ws64::Ws64Space>(options);
  throw ConfigError("no test space '" + name + "' (darts, nb201, ws64)");
}

}  // namespace nasx::testing
