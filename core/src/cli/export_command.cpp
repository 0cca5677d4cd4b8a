// nasx export: a trained network for the tools researchers already use (PyTorch).

#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/pytorch_export.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/error.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

int export_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("dir", po::value<std::string>(),
                        "a training folder, or a search run folder with train/")(
      "format", po::value<std::string>()->default_value("pytorch"),
      "pytorch: a state_dict for torch.load under the reference implementation's names")(
      "out", po::value<std::string>(),
      "the folder to write (default: <training folder>/export-pytorch); a new folder or "
      "an earlier export, which is replaced whole");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx export DIR [--format pytorch] [--out FOLDER]\n\n"
                  "Writes a trained network as a PyTorch state_dict (state_dict.pt), an example "
                  "batch with\nnasx's logits (example.pt), the genotype and a README on loading "
                  "it.",
                  options, {"dir"}, vm))
    return 0;
  const std::string format = vm["format"].as<std::string>();
  if (format != "pytorch")
    throw ConfigError("--format " + format +
                      ": the one format is `pytorch` (a state_dict under the reference "
                      "implementation's names). TorchScript is not offered: LibTorch's public "
                      "C++ API has no tracer for a C++ module");
  const fs::path dir = vm["dir"].as<std::string>();
  // Before any plugin loads: a folder without a trained network is one clear error.
  core::trained_network_folder(dir);
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  core::add_remembered_plugin_directories(registry, core::trained_network_folder(dir));
  const core::PytorchExport result = core::export_pytorch(
      dir, registry, vm.count("out") ? fs::path(vm["out"].as<std::string>()) : fs::path());
  std::cout << "exported " << result.tensors << " tensors of " << result.trained.string()
            << "\n  for " << result.module << "\n  into " << result.folder.string()
            << " (state_dict.pt, example.pt, genotype.txt, export.json, README.md)\n";
  return 0;
}

}  // namespace nasx::cli
