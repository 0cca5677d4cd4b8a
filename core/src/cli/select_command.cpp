// nasx select: re-select an architecture from a finished (or stopped) gradient search's
// supernet with any selector, without searching again.

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>
#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/evaluators.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_lock.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/selection.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/selector.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

namespace {

/// The run's config with the selector asked for: another selector than the run's starts
/// from its own defaults (the run's [select] settings belong to the run's selector).
core::RunConfig selection_config(const po::variables_map& vm, const core::RunPaths& run,
                                 const core::PluginRegistry& registry) {
  std::vector<std::string> overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (vm.count("selector")) {
    const std::string wanted = vm["selector"].as<std::string>();
    const bool same =
        core::load_run_config(run.config.string(), {}, registry).select.selector == wanted;
    overrides.insert(overrides.begin(), same ? "select.selector=" + wanted
                                             : "select={selector=" + core::json_line(wanted) + "}");
  }
  return core::load_run_config(run.config.string(), overrides, registry);
}

/// The supernet of the run's last checkpoint.
std::shared_ptr<Supernet> searched_supernet(const SearchSpace& space, const DataShape& shape,
                                            c10::Device device, const core::RunPaths& run) {
  std::shared_ptr<Supernet> net = space.build_supernet(shape);
  net->to(device);
  torch::serialize::InputArchive root, supernet;
  core::read_checkpoint_archive(run.checkpoint, root,
                                "the run's supernet is lost; run the search again");
  try {
    root.read("supernet", supernet);
    net->load(supernet);
  } catch (const std::exception& e) {
    throw IoError("cannot read the supernet from " + run.checkpoint.string() + ": " +
                  std::string(e.what()).substr(0, 300));
  }
  if (net->arch_parameters().empty())
    throw ConfigError("the run's supernet has no architecture parameters to select from");
  return net;
}

void write_selection(const core::RunPaths& paths, core::JsonlLog& events, const std::string& name,
                     const SearchSpace& space, const Architecture& arch, double test_accuracy) {
  const std::string genotype = space.format(arch);
  events.append(
      core::JsonObject().add("type", "selected").add("by", name).add("genotype", genotype).str());
  core::write_file_atomically(paths.genotype, genotype + "\n");
  core::write_file_atomically(paths.summary, core::JsonObject()
                                                     .add("selected_by", name)
                                                     .add("genotype", genotype)
                                                     .add("genotype_cells", space.json(arch))
                                                     .add("supernet_test_acc", test_accuracy)
                                                     .add("finished", core::now_iso8601())
                                                     .str() +
                                                 "\n");
}

}  // namespace

int select_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("run-dir", po::value<std::string>(), "a search run with a checkpoint")(
      "selector", po::value<std::string>(), "selector plugin (default: the run's [select])")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a config value, e.g. --set select.some_key=1");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx select RUN_DIR [--selector NAME] [--set key=value]...\n\n"
                  "Loads the supernet of RUN_DIR's last checkpoint and selects an architecture "
                  "from it; the result goes to RUN_DIR/select-NAME/ (genotype.txt, events.jsonl, "
                  "summary.json). A selection that fine-tunes the supernet (perturbation) "
                  "checkpoints there after every step: the same command, run again after an "
                  "interruption, continues it.",
                  options, {"run-dir"}, vm))
    return 0;
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  const fs::path run_dir = vm["run-dir"].as<std::string>();
  const core::RunPaths run(run_dir);
  if (!fs::exists(run.config) || !fs::exists(run.checkpoint))
    throw IoError(run_dir.string() +
                  " has no config.toml and checkpoint/state.pt: give a search run folder");
  const core::RunConfig config = selection_config(vm, run, registry);
  const std::string& name = config.select.selector;
  const auto& info = registry.find(NASX_KIND_SELECTOR, name);

  const c10::Device device = core::parse_device(config.experiment.device);
  core::set_threads(config.experiment.threads);
  const uint64_t seed = static_cast<uint64_t>(config.experiment.seed);
  const DataSplits data = core::to_device(core::load_data(config.data, seed), device);
  at::manual_seed(seed);
  const auto space = core::make_space(registry, config.space);
  const std::shared_ptr<Supernet> net = searched_supernet(*space, data.shape, device, run);
  auto selector = core::create_plugin<Selector>(registry, info);
  const auto evaluator =
      core::make_evaluator(config.evaluator, *net, data, config.data.batch_size, seed);

  const fs::path out = run_dir / ("select-" + name);
  const core::RunPaths paths(out);
  // A finished selection is done again from the start; an interrupted one continues.
  const core::RunLock lock(out);  // one selection of this name at a time
  if (fs::exists(paths.summary)) fs::remove_all(paths.checkpoint_dir);
  core::check_writable(paths.checkpoint_dir);
  core::Progress progress(std::cout, ::isatty(STDOUT_FILENO) != 0);
  core::JsonlLog events(paths.events), evaluations(paths.evaluations);
  const core::SelectionFiles files{paths.select_checkpoint, events, evaluations};
  if (!core::has_selection_checkpoint(files)) {
    events.truncate(0, "");
    evaluations.truncate(0, "");
  }
  core::HostContext ctx(*space, *net, data, config, device, progress, events, evaluations,
                        *evaluator, paths);
  ctx.set_params(&config.select.params);
  net->eval();
  // The searched supernet's test accuracy, before a selector fine-tunes it.
  const EvalResult test = evaluate_supernet(*net, data.test, config.data.batch_size);
  const Architecture arch =
      core::run_selection(ctx, *selector, *net, files, progress, "the same `nasx select` command");
  write_selection(paths, events, name, *space, arch, test.accuracy);
  std::cout << "selected by " << name << ":\n"
            << space->format(arch) << "\nfolder: " << out.string() << "\n";
  return 0;
}

}  // namespace nasx::cli
