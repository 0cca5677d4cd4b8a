#include <algorithm>
#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/report.hpp"
#include "nasx/error.hpp"

namespace po = boost::program_options;

namespace nasx::cli {

void add_plugin_path_option(po::options_description& options) {
  options.add_options()(
      "plugin-path", po::value<std::vector<std::string>>()->composing(),
      "also load plugins from this folder (repeatable; see also $NASX_PLUGIN_PATH)");
}

void load_plugins(core::PluginRegistry& registry, const po::variables_map& vm,
                  const std::string& instead_of_defaults) {
  if (!instead_of_defaults.empty())
    registry.add_directory(instead_of_defaults, /*required=*/true);
  else
    for (const auto& dir : core::PluginRegistry::default_directories())
      registry.add_directory(dir, /*required=*/false);
  if (vm.count("plugin-path"))
    for (const auto& dir : vm["plugin-path"].as<std::vector<std::string>>())
      registry.add_directory(dir, /*required=*/true);
}

bool parse_args(const Args& args, const std::string& usage, po::options_description& options,
                const std::vector<std::string>& positional, po::variables_map& vm,
                size_t required_positionals) {
  options.add_options()("help,h", "show this help");
  po::positional_options_description positions;
  // A list-valued positional (`RUN_DIR...`) takes every remaining argument.
  for (const auto& name : positional) {
    const auto* list = dynamic_cast<const po::typed_value<std::vector<std::string>>*>(
        options.find(name, false).semantic().get());
    positions.add(name.c_str(), list != nullptr ? -1 : 1);
  }
  po::store(po::command_line_parser(args).options(options).positional(positions).run(), vm);
  if (vm.count("help")) {
    // The positional arguments are in the usage line; as --options they would be noise.
    po::options_description shown("options");
    for (const auto& option : options.options())
      if (std::find(positional.begin(), positional.end(), option->long_name()) == positional.end())
        shown.add(option);
    std::cout << usage << "\n" << shown << "\n";
    return false;
  }
  po::notify(vm);
  for (size_t i = 0; i < positional.size() && i < required_positionals; ++i)
    if (!vm.count(positional[i])) throw po::error("missing argument " + positional[i]);
  return true;
}

std::string self_binary() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw Error("cannot find the nasx executable (/proc/self/exe)");
  return exe.string();
}

Args without_option(const Args& args, const std::string& name) {
  Args kept;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      ++i;  // and its value
      continue;
    }
    if (args[i].rfind(name + "=", 0) == 0) continue;
    kept.push_back(args[i]);
  }
  return kept;
}

void write_report_at_end(const std::string& dir, const core::PluginRegistry& registry) {
  try {
    const core::ReportResult report = core::write_report(dir, registry);
    std::cout << "report: " << report.page.string() << "\n";
  } catch (const Error& e) {
    std::cout << "report: not written (" << e.what() << "); `nasx report " << dir
              << "` tries again\n";
  }
}

}  // namespace nasx::cli
