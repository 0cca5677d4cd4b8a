// nasx report: an HTML page of what a run, training, sweep or analysis did.

#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/report.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

int report_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("dir", po::value<std::string>(),
                        "a search run, training, sweep or analysis folder");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx report DIR\n\n"
                  "Writes DIR/report/index.html (opens from disk) with its SVG figures: cell "
                  "diagrams,\narchitecture-weight heatmaps, curves, sampled architectures; for "
                  "a sweep, its table\nand charts with a report per trial. Run it again at any "
                  "time to bring it up to date.",
                  options, {"dir"}, vm))
    return 0;
  const fs::path dir = vm["dir"].as<std::string>();
  core::report_kind(dir);  // a folder that is none of the four: one error, nothing loaded
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  core::add_remembered_plugin_directories(registry, dir);
  const core::ReportResult report = core::write_report(dir, registry);
  for (const std::string& note : report.notes) std::cerr << "nasx report: note: " << note << "\n";
  std::cout << "report: " << report.page.string() << " (" << report.figures
            << (report.figures == 1 ? " figure" : " figures") << ")\n";
  return 0;
}

}  // namespace nasx::cli
