// nasx sweep: expand a sweep file into trials and run them; status and collect read a
// sweep folder back.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/process.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/sweep.hpp"
#include "nasx/core/sweep_run.hpp"
#include "nasx/error.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

namespace {

const char* const kUsage =
    R"(usage: nasx sweep SWEEP.toml [--dry-run] [--executor local|slurm] [--jobs N]
       nasx sweep status DIR
       nasx sweep collect DIR

Expands a sweep file (a base experiment, [grid] and [zip] axes over its config keys,
seeds) into trials, each a full run folder under <output_dir>/<sweep name>/<trial>/,
and runs them, every trial in its own `nasx run` process. Every trial's config is
validated before the first one starts. Running the same sweep again skips finished
trials and resumes interrupted ones from their checkpoints; failed ones run again.

--executor local   N trials at a time on this machine (--jobs N); with N > 1 set
                   experiment.threads in the base so that N x threads fits the cores
--executor slurm   one job array (sbatch) of the trials neither done nor still queued;
                   each task runs one trial (nasx sweep SWEEP.toml --trial NAME), its
                   output in <sweep>/slurm/; options from the [slurm] table

  [sweep]
  name = "strategies"
  base = "quickstart.toml"          # relative to the sweep file, or a [base] table
  seeds = [0, 1, 2]                 # or a count: seeds = 3
  nproc = 2                         # optional: each trial data-parallel on 2 ranks
  [grid]
  "search.strategy" = ["darts", "milenas"]
  [zip]                             # lists walked together, crossed with the grid
  "search.epochs" = [2, 4]
  "data.subset" = [2048, 4096]
  [labels]                          # optional: names for the settings, one per value
  "search.strategy" = ["first-order", "mixed-level"]
  [slurm]                           # all optional
  partition = "cpu"
  time = "02:00:00"
  cpus = 2
  gpus = 0
  mem = "8G"
  extra = ["--qos=short"]           # more #SBATCH lines

An axis over a whole section takes tables: "search" = [{strategy = "darts"}, ...].
[sweep] output_dir overrides the base's experiment.output_dir.

status DIR    per trial: pending (not started), submitted / queued (SLURM), running,
              done, failed (its exit status), interrupted (stopped without recording its
              end: resumes when the sweep runs again)
collect DIR   one table over the trials, mean ± std over seeds per setting;
              also DIR/collect.csv and DIR/collect.json)";

int status_command(const fs::path& dir) {
  const auto rows = core::read_sweep_rows(dir);
  std::map<std::string, int> counts;
  size_t width = 5;
  for (const auto& row : rows) width = std::max(width, row.name.size());
  for (const auto& row : rows) {
    ++counts[row.status];
    std::cout << row.name << std::string(width - row.name.size() + 2, ' ') << row.status
              << (row.detail.empty() ? "" : " (" + row.detail + ")") << "\n";
  }
  std::cout << rows.size() << " trials:";
  for (const auto& [status, n] : counts) std::cout << " " << n << " " << status;
  std::cout << "\n";
  return 0;
}

/// One trial in this process's child; under SLURM the job recorded is this array task.
int run_one_trial(const core::Sweep& sweep, const std::string& name,
                  const std::vector<std::string>& plugin_paths) {
  core::TrialLaunch launch;
  const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (array_job && task) {
    launch.executor = "slurm";
    launch.job = std::string(array_job) + "_" + task;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    launch.host = host;
  }
  if (core::run_sweep_trial(sweep, name, self_binary(), plugin_paths, launch, std::cout) > 0)
    throw Error("trial " + name + " failed; its log: " + (sweep.dir / name / "log.txt").string());
  return 0;
}

}  // namespace

int sweep_command(const Args& args) {
  if (!args.empty() && (args[0] == "status" || args[0] == "collect")) {
    if (args.size() != 2 || args[1].rfind("-", 0) == 0) {
      if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) {
        std::cout << kUsage << "\n";
        return 0;
      }
      throw po::error("nasx sweep " + args[0] + " takes one sweep folder");
    }
    if (args[0] == "status") return status_command(args[1]);
    core::collect_sweep(args[1], std::cout);
    return 0;
  }
  return sweep_file_command(args, kUsage, /*table_only=*/false);
}

int sweep_file_command(const Args& args, const std::string& usage, bool table_only) {
  po::options_description options("options");
  options.add_options()("sweep", po::value<std::string>(), "the sweep file")(
      "dry-run", po::bool_switch(), "list the trials and what would run, run nothing")(
      "executor", po::value<std::string>()->default_value("local"),
      "local: trial processes on this machine; slurm: one job array")(
      "jobs", po::value<int>()->default_value(1), "local: trials at a time")(
      "trial", po::value<std::string>(), "run only this trial here (what a SLURM task runs)");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args, usage, options, {"sweep"}, vm)) return 0;
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  const std::string executor = vm["executor"].as<std::string>();
  if (executor != "local" && executor != "slurm")
    throw ConfigError("--executor " + executor + ": give local or slurm");
  const int jobs = vm["jobs"].as<int>();
  if (jobs < 1) throw ConfigError("--jobs " + std::to_string(jobs) + ": give 1 or more");
  const core::Sweep sweep =
      core::load_sweep(vm["sweep"].as<std::string>(), registry,
                       table_only ? core::SweepKind::table_build : core::SweepKind::any);
  const std::vector<std::string> plugin_paths =
      vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>()
                              : std::vector<std::string>{};

  if (vm["dry-run"].as<bool>()) {
    std::cout << "sweep " << sweep.name << ": " << sweep.trials.size() << " trials -> "
              << sweep.dir.string() << "\n";
    for (const auto& trial : sweep.trials) {
      const auto state = core::trial_state(sweep.dir / trial.name);
      std::cout << "  " << trial.name << "  "
                << (state == core::TrialState::Done      ? "done, skipped"
                    : state == core::TrialState::Started ? "started, would resume"
                                                         : "new")
                << "\n    nasx";
      for (const auto& word : core::trial_command(sweep, trial, plugin_paths))
        std::cout << " " << core::shell_quote(word);
      std::cout << "\n";
    }
    return 0;
  }
  if (vm.count("trial")) return run_one_trial(sweep, vm["trial"].as<std::string>(), plugin_paths);
  if (executor == "slurm") {
    core::submit_sweep_slurm(sweep, self_binary(), plugin_paths, std::cout);
    return 0;
  }
  const int failed = core::run_sweep_local(sweep, self_binary(), jobs, plugin_paths, std::cout);
  if (failed > 0) {
    write_report_at_end(sweep.dir.string(), registry);
    throw Error(std::to_string(failed) + " of " + std::to_string(sweep.trials.size()) +
                " trials did not finish (their logs: <trial>/log.txt); run the same command "
                "again to redo only those. Results: nasx " +
                std::string(sweep.builds_table() ? "table" : "sweep") + " collect " +
                sweep.dir.string());
  }
  std::cout << "all " << sweep.trials.size() << " trials done. Results: nasx "
            << (sweep.builds_table() ? "table" : "sweep") << " collect " << sweep.dir.string()
            << "\n";
  write_report_at_end(sweep.dir.string(), registry);
  return 0;
}

}  // namespace nasx::cli
