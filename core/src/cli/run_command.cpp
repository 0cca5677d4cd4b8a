#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/distributed.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/runner.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

namespace {

fs::path default_run_dir(const core::RunConfig& config) {
  return fs::path(config.experiment.output_dir) / config.experiment.name /
         (core::timestamp_for_path() + "-seed" + std::to_string(config.experiment.seed));
}

/// CONFIG and --set, shared by run and validate.
void add_config_options(po::options_description& options) {
  options.add_options()("config", po::value<std::string>(), "experiment TOML file")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a config value, e.g. --set search.epochs=2 (repeatable)");
  add_plugin_path_option(options);
}

core::RunConfig load_config(const po::variables_map& vm, core::PluginRegistry& registry,
                            core::ConfigUse use = core::ConfigUse::search) {
  load_plugins(registry, vm);
  const auto overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const std::string path = vm["config"].as<std::string>();
  core::RunConfig config = core::load_run_config(path, overrides, registry, use);
  if (config.search.strategy.empty() && !config.train.present)
    throw ConfigError(path +
                      ": missing [search] table (or [train] for a training config); add "
                      "one with strategy = \"darts\"");
  return config;
}

void add_nproc_option(po::options_description& options) {
  options.add_options()("nproc", po::value<int>()->default_value(1),
                        "data-parallel search on N ranks of this machine (c10d, Gloo); ranks "
                        "from RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT or srun need none");
}

/// --nproc N (N > 1) outside a data-parallel launch: this process becomes the launcher.
bool launches_ranks(const po::variables_map& vm) {
  const int nproc = vm["nproc"].as<int>();
  if (nproc < 1) throw ConfigError("--nproc " + std::to_string(nproc) + ": give 1 or more");
  if (nproc > 1 && core::ranks_from_environment())
    throw ConfigError("--nproc " + std::to_string(nproc) +
                      " inside a launch that already gives the ranks (RANK/WORLD_SIZE or srun); "
                      "drop --nproc");
  return nproc > 1;
}

int finish(const core::RunResult& result, const core::PluginRegistry& registry) {
  std::cout << "\nfound genotype:\n" << result.genotype << "\n\n";
  for (const auto& [name, value] : result.metrics)
    std::cout << name << " = " << core::format_value(value) << "\n";
  std::cout << "run folder: " << result.run_dir.string() << "\n";
  write_report_at_end(result.run_dir.string(), registry);
  return 0;
}

}  // namespace

int run_command(const Args& args) {
  po::options_description options("options");
  add_config_options(options);
  options.add_options()("out", po::value<std::string>(),
                        "run folder (default: <output_dir>/<name>/<time>-seed<seed>)");
  add_nproc_option(options);
  po::variables_map vm;
  if (!parse_args(args, "usage: nasx run CONFIG [--set key=value]... [--out DIR] [--nproc N]",
                  options, {"config"}, vm))
    return 0;
  core::PluginRegistry registry;
  const core::RunConfig config = load_config(vm, registry);
  fs::path run_dir =
      vm.count("out") ? fs::path(vm["out"].as<std::string>()) : default_run_dir(config);
  if (launches_ranks(vm)) {
    // Every rank gets the same folder; the config was checked here, before any starts.
    core::check_data_parallel_run(config, registry, vm["nproc"].as<int>());
    Args rank_args = {"run"};
    for (const auto& a : without_option(without_option(args, "--nproc"), "--out"))
      rank_args.push_back(a);
    rank_args.push_back("--out");
    rank_args.push_back(run_dir.string());
    return core::launch_local_ranks(vm["nproc"].as<int>(), self_binary(), rank_args);
  }
  std::unique_ptr<core::ProcessGroup> ranks;
  if (const auto setup = core::ranks_from_environment()) {
    ranks = std::make_unique<core::ProcessGroup>(*setup);
    run_dir = ranks->share_from_root("run_dir", run_dir.string());  // one folder for all
  }
  const bool root = !ranks || ranks->rank() == 0;
  if (root)
    std::cout << "nasx run: " << config.search.strategy << " on " << config.data.name << ", space "
              << config.space.name << ", seed " << config.experiment.seed
              << (ranks ? ", " + std::to_string(ranks->world_size()) + " ranks (" +
                              ranks->transport() + ")"
                        : "")
              << std::endl;  // the folder is named once it exists
  const core::RunResult result =
      core::run_search(config, run_dir, core::StartMode::fresh, registry, std::cout,
                       ::isatty(STDOUT_FILENO) != 0, ranks.get());
  return root ? finish(result, registry) : 0;
}

int resume_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("run-dir", po::value<std::string>(),
                        "the run or training folder to continue")(
      "accept-config-change",
      "continue although config.toml (or train.toml) differs from the configuration the "
      "checkpoint was written under (the differences are printed)");
  add_plugin_path_option(options);
  add_nproc_option(options);
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx resume DIR [--nproc N] [--accept-config-change]   (a search run "
                  "folder or a training folder)",
                  options, {"run-dir"}, vm))
    return 0;
  const fs::path run_dir = vm["run-dir"].as<std::string>();
  const core::StartMode mode = vm.count("accept-config-change")
                                   ? core::StartMode::resume_accepting_config_change
                                   : core::StartMode::resume;
  std::error_code error;
  if (!fs::is_directory(run_dir, error))
    throw IoError(run_dir.string() +
                  " does not exist or is not a folder: nothing to resume (a run stopped "
                  "before its folder was made left nothing; start it again with nasx run)");
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  core::add_remembered_plugin_directories(registry, run_dir);
  if (core::is_training_folder(run_dir)) {
    if (vm["nproc"].as<int>() > 1)
      throw ConfigError("--nproc: " + run_dir.string() +
                        " is a training folder, and training runs in one process; drop --nproc");
    const core::TrainPaths paths(run_dir);
    const core::RunConfig config =
        core::load_run_config(paths.config.string(), {}, registry, core::ConfigUse::train);
    return print_training(
        core::run_training(config, registry, core::first_line_of(paths.genotype), run_dir, mode,
                           std::cout, ::isatty(STDOUT_FILENO) != 0),
        registry);
  }
  const fs::path config_path = run_dir / "config.toml";
  if (!fs::exists(config_path))
    throw IoError(run_dir.string() +
                  " is not a nasx run folder (no config.toml; a run writes it first, so one "
                  "stopped before that has nothing to resume); give the folder that `nasx run` "
                  "printed as its run folder");
  const core::RunConfig config = core::load_run_config(config_path.string(), {}, registry);
  if (launches_ranks(vm)) {
    core::check_data_parallel_run(config, registry, vm["nproc"].as<int>());
    Args rank_args = {"resume"};
    for (const auto& a : without_option(args, "--nproc")) rank_args.push_back(a);
    return core::launch_local_ranks(vm["nproc"].as<int>(), self_binary(), rank_args);
  }
  std::unique_ptr<core::ProcessGroup> ranks;
  if (const auto setup = core::ranks_from_environment())
    ranks = std::make_unique<core::ProcessGroup>(*setup);
  const core::RunResult result = core::run_search(config, run_dir, mode, registry, std::cout,
                                                  ::isatty(STDOUT_FILENO) != 0, ranks.get());
  return !ranks || ranks->rank() == 0 ? finish(result, registry) : 0;
}

int validate_command(const Args& args) {
  po::options_description options("options");
  add_config_options(options);
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx validate CONFIG [--set key=value]...\n\n"
                  "Checks the config and prints it resolved (every default written out).",
                  options, {"config"}, vm))
    return 0;
  core::PluginRegistry registry;
  // A search config, or a training config (`nasx train --config`).
  const core::RunConfig config = load_config(vm, registry, core::ConfigUse::train);
  std::cout << config.to_toml();
  std::cerr << vm["config"].as<std::string>() << ": valid\n";
  return 0;
}

}  // namespace nasx::cli
