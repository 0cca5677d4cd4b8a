#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/text_table.hpp"
#include "nasx/error.hpp"

namespace po = boost::program_options;

namespace nasx::cli {

namespace {

std::string range_text(const ParamSpec& spec) {
  if (!spec.choices.empty()) {
    std::string text;
    for (const auto& choice : spec.choices) text += (text.empty() ? "" : " | ") + choice;
    return text;
  }
  if (!spec.range.min && !spec.range.max) return "";
  auto number = [](std::optional<double> v) {
    if (!v) return std::string();
    std::ostringstream out;
    out << *v;
    return out.str();
  };
  return "[" + number(spec.range.min) + ", " + number(spec.range.max) + "]";
}

}  // namespace

int plugins_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("action", po::value<std::string>()->default_value("list"), "list or info")(
      "name", po::value<std::string>(), "plugin name (for info)");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args, "usage: nasx plugins list | nasx plugins info NAME", options,
                  {"action", "name"}, vm, 0))
    return 0;
  const std::string action = vm["action"].as<std::string>();
  core::PluginRegistry registry;
  load_plugins(registry, vm);

  if (action == "list") {
    std::vector<std::vector<std::string>> rows = {{"NAME", "KIND", "VERSION", "SUMMARY"}};
    for (const auto& info : registry.plugins())
      rows.push_back({info.name, plugin_kind_name(info.kind), info.version, info.summary});
    core::print_table(std::cout, rows);  // columns as wide as their longest entry
    for (const auto& failure : registry.failures())
      std::cerr << "warning: " << failure.reason << "\n";
    return 0;
  }
  if (action == "info") {
    if (!vm.count("name")) throw po::error("plugins info needs a plugin NAME");
    const std::string name = vm["name"].as<std::string>();
    if (registry.find_any(name) == nullptr) {
      std::vector<std::string> names;
      for (const auto& p : registry.plugins()) names.push_back(p.name);
      std::string message = "no plugin named '" + name + "'";
      const std::string guess = core::did_you_mean(name, names);
      if (!guess.empty()) message += "; did you mean '" + guess + "'?";
      throw PluginError(message + " (`nasx plugins list` shows all)");
    }
    // Every plugin of that name (a scorer and a strategy may share one).
    for (const auto& plugin : registry.plugins()) {
      if (plugin.name != name) continue;
      const auto* info = &plugin;
      std::cout << info->name << " " << info->version << " (" << plugin_kind_name(info->kind)
                << ")\n  " << info->summary << "\n  file: " << info->path << "\n  built for: SDK "
                << info->sdk_version << ", LibTorch " << info->torch_version << "\n\nparameters ("
                << (info->kind == NASX_KIND_STRATEGY   ? "[search]"
                    : info->kind == NASX_KIND_SELECTOR ? "[select]"
                    : info->kind == NASX_KIND_SPACE    ? "[space]"
                                                       : "its section")
                << "):\n";
      if (info->schema.specs().empty()) std::cout << "  (none)\n";
      size_t name_width = 18;
      for (const auto& spec : info->schema.specs())
        name_width = std::max(name_width, spec.name.size());
      for (const auto& spec : info->schema.specs()) {
        std::cout << "  " << std::left << std::setw(static_cast<int>(name_width + 2)) << spec.name
                  << std::setw(8)
                  << param_type_name(spec.type) << "default " << std::setw(12)
                  << format_param_value(spec.default_value) << " " << range_text(spec) << "\n"
                  << "      " << spec.doc << "\n";
      }
      std::cout << "\n";
    }
    return 0;
  }
  throw po::error("unknown plugins action '" + action + "' (use list or info NAME)");
}

}  // namespace nasx::cli
