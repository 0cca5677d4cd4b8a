#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

namespace {

const char* const kUsage =
    R"help(usage: nasx train GENOTYPE|RUN_DIR [--config FILE] [--set key=value]... [--out DIR]

Trains an architecture's own network from scratch and reports its test accuracy,
parameter count (with and without the auxiliary head) and FLOPs.

  GENOTYPE   any space's text form (quote it): a DARTS "Genotype(...)", a
             NAS-Bench-201 arch string, a ws64 child (424)
  RUN_DIR    a finished search run: its genotype.txt, and its config's [data], [space]
             and [train] unless --config gives a file that replaces them; the training
             goes to RUN_DIR/train
  --out      default: <output_dir>/<experiment.name>/train-<time>-seed<seed>

Settings come from [train] (see configs/train-*.toml); keys left out take the
protocol's values: the DARTS reference's final training or NAS-Bench-201's.)help";

fs::path default_train_dir(const core::RunConfig& config) {
  return fs::path(config.experiment.output_dir) / config.experiment.name /
         ("train-" + core::timestamp_for_path() + "-seed" + std::to_string(config.experiment.seed));
}

}  // namespace

int print_training(const core::TrainRunResult& result, const core::PluginRegistry& registry) {
  std::cout << "\ntrained " << result.genotype << "\n";
  for (const auto& [name, value] : result.metrics)
    std::cout << name << " = " << core::format_value(value) << "\n";
  std::cout << "training folder: " << result.dir.string() << "\n";
  write_report_at_end(result.dir.string(), registry);
  return 0;
}

int train_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("architecture", po::value<std::string>(), "genotype or run folder")(
      "config", po::value<std::string>(), "TOML file with [train] (and [data], [space], ...)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a config value, e.g. --set train.epochs=2 (repeatable)")(
      "out", po::value<std::string>(), "training folder");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args, kUsage, options, {"architecture"}, vm)) return 0;
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  std::vector<std::string> overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const std::string argument = vm["architecture"].as<std::string>();

  std::string architecture, config_path;
  fs::path out;
  std::error_code error;
  if (fs::is_directory(argument, error)) {
    const fs::path run_dir = argument;
    if (!fs::exists(run_dir / "genotype.txt"))
      throw IoError(run_dir.string() +
                    " has no genotype.txt: give a finished search run folder (or a genotype)");
    architecture = core::first_line_of(run_dir / "genotype.txt");
    config_path =
        vm.count("config") ? vm["config"].as<std::string>() : (run_dir / "config.toml").string();
    out = run_dir / "train";
  } else {
    architecture = argument;
    if (vm.count("config")) {
      config_path = vm["config"].as<std::string>();
    } else {
      // No config: the space the architecture's text belongs to, everything else default.
      const std::string space = core::guess_space(registry, architecture);
      if (!space.empty()) overrides.insert(overrides.begin(), "space.name=" + space);
    }
  }
  const core::RunConfig config =
      core::load_run_config(config_path, overrides, registry, core::ConfigUse::train);
  if (vm.count("out")) out = vm["out"].as<std::string>();
  if (out.empty()) out = default_train_dir(config);
  std::cout << "nasx train: space " << config.space.name << ", " << config.data.name << ", seed "
            << config.experiment.seed << std::endl;  // the folder is named once it exists
  return print_training(core::run_training(config, registry, architecture, out,
                                           core::StartMode::fresh, std::cout,
                                           ::isatty(STDOUT_FILENO) != 0),
                          registry);
}

}  // namespace nasx::cli
