#pragma once
/// Search spaces are plugins: the host makes the one a config names, and recognizes an
/// architecture's text form by asking every loaded space.

#include <memory>
#include <string>
#include <string_view>

#include "nasx/params.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

class PluginRegistry;

/// The [space] table: which space plugin, and its parameters.
struct SpaceSection {
  std::string name = "darts";
  ParamValues params;  ///< validated against the plugin's schema; defaults fill the rest
};

/// The space plugin `section.name`, set up with `section.params` (the schema's defaults
/// for keys it leaves out). Throws PluginError for an unknown space, ConfigError for
/// values it refuses.
std::unique_ptr<SearchSpace> make_space(const PluginRegistry& registry,
                                        const SpaceSection& section);

/// The name of the first loaded space (in name order) that parses `text`, or "" when
/// none does; then `why`, when given, gets each space's reason ("darts: ...; nb201: ...").
std::string guess_space(const PluginRegistry& registry, std::string_view text,
                        std::string* why = nullptr);

}  // namespace nasx::core
