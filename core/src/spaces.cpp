#include "nasx/core/spaces.hpp"

#include <algorithm>

#include "nasx/core/registry.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

std::unique_ptr<SearchSpace> make_space(const PluginRegistry& registry,
                                        const SpaceSection& section) {
  const PluginInfo& info = registry.find(NASX_KIND_SPACE, section.name);
  ParamValues params = section.params;
  for (const ParamSpec& spec : info.schema.specs()) params.emplace(spec.name, spec.default_value);
  std::unique_ptr<SearchSpace> space = create_plugin<SearchSpace>(registry, info);
  space->setup(params);
  return space;
}

std::string guess_space(const PluginRegistry& registry, std::string_view text, std::string* why) {
  std::vector<std::string> names;
  for (const PluginInfo& info : registry.plugins())
    if (info.kind == NASX_KIND_SPACE) names.push_back(info.name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    try {
      make_space(registry, {name, {}})->parse(text);
      return name;
    } catch (const std::exception& e) {
      if (why) *why += (why->empty() ? "" : "; ") + name + ": " + e.what();
    }
  }
  return "";
}

}  // namespace nasx::core
