// nasx arch: parse an architecture, print its space, canonical form and the
// parameter count and FLOPs of its evaluation network.

#include <filesystem>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/cell_diagram.hpp"
#include "nasx/core/network_budget.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/error.hpp"
#include "nasx/probe.hpp"
#include "nasx/space.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

namespace {

/// 1531546 -> "1,531,546".
std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

/// The space an architecture string belongs to: the loaded space that parses it.
std::string space_of(const core::PluginRegistry& registry, const std::string& text) {
  std::string why;
  const std::string space = core::guess_space(registry, text, &why);
  if (!space.empty()) return space;
  throw ConfigError("cannot tell the space of '" + text + "': no loaded space parses it (" + why +
                    "); give --space");
}

}  // namespace

int arch_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("arch", po::value<std::string>(), "the architecture string")(
      "space", po::value<std::string>(), "the space plugin (default: the one that parses it)")(
      "channels", po::value<int64_t>(),
      "C of the network (default: the space's training protocol, DARTS 36, NB201 16)")(
      "layers", po::value<int64_t>(),
      "the space's depth (default: its training protocol, DARTS 20 cells, NB201 5 per stage)")(
      "in-channels", po::value<int64_t>()->default_value(3), "image channels")(
      "image-size", po::value<int64_t>()->default_value(32), "image height and width (FLOPs)")(
      "classes", po::value<int64_t>()->default_value(10), "classes")(
      "draw", po::value<std::string>(),
      "also draw each cell type with Graphviz into this folder (CELL.dot and CELL.svg)");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx arch STRING [--space NAME] [--channels C] [--layers N] "
                  "[--in-channels N] [--image-size N] [--classes N] [--draw DIR]\n\n"
                  "Parses an architecture and prints its canonical form and the parameter count "
                  "and FLOPs of its evaluation network (by default sized as the space's training "
                  "protocol: DARTS C=36, 20 cells; NAS-Bench-201 C=16, N=5; 3x32x32 images, 10 "
                  "classes).",
                  options, {"arch"}, vm))
    return 0;
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  const std::string text = vm["arch"].as<std::string>();
  const std::string name =
      vm.count("space") ? vm["space"].as<std::string>() : space_of(registry, text);
  const auto space = core::make_space(registry, {name, {}});
  const DataShape shape{vm["in-channels"].as<int64_t>(), vm["image-size"].as<int64_t>(),
                        vm["image-size"].as<int64_t>(), vm["classes"].as<int64_t>()};
  // The bounds of the config's own keys (train.channels, train.layers, images up to
  // 1024 pixels a side: FLOPs are measured by one forward pass).
  if (shape.channels < 1 || shape.channels > 64 || shape.classes < 2 || shape.classes > 100000 ||
      shape.height < 8 || shape.height > 1024)
    throw ConfigError(
        "--in-channels must be 1 to 64, --classes 2 to 100000 and --image-size 8 to 1024");
  const TrainingProtocol protocol = space->training_protocol();
  const int64_t channels = vm.count("channels") ? vm["channels"].as<int64_t>() : protocol.channels;
  const int64_t layers = vm.count("layers") ? vm["layers"].as<int64_t>() : protocol.layers;
  if (channels < 1 || channels > 4096 || layers < 1 || layers > 256)
    throw ConfigError("--channels must be 1 to 4096 and --layers 1 to 256 (as train.channels and "
                      "train.layers)");

  const Architecture arch = space->parse(text);
  if (vm.count("draw")) {
    const fs::path folder = vm["draw"].as<std::string>();
    std::error_code error;
    fs::create_directories(folder, error);
    if (error)
      throw IoError("cannot create " + folder.string() + ": " + error.message() +
                    "; give --draw a writable folder");
    for (const fs::path& svg : core::draw_cells(*space, arch, folder, "cell"))
      std::cout << "drawn: " << svg.string() << "\n";
  }
  if (channels > 64)
    core::check_parameters_fit(core::estimated_parameters(*space, arch, shape, channels, layers), 1,
                               "give a smaller --channels or --layers");
  const auto net = space->build_network(arch, shape, channels, layers);
  const int64_t parameters = count_parameters(*net, /*with_auxiliary=*/false);
  const int64_t with_auxiliary = count_parameters(*net, /*with_auxiliary=*/true);
  std::cout << "space:      " << space->name() << "\n"
            << "arch:       " << space->format(arch) << "\n"
            << "network:    C=" << channels << ", layers " << layers << ", " << shape.channels
            << " input channels, " << shape.height << "x" << shape.width << ", " << shape.classes
            << " classes\n"
            << "parameters: " << with_thousands(parameters);
  if (with_auxiliary != parameters)
    std::cout << " (" << with_thousands(with_auxiliary) << " with the auxiliary head)";
  std::cout << "\nFLOPs:      " << with_thousands(network_macs(*net, shape))
            << " multiply-adds per image\n";
  return 0;
}

}  // namespace nasx::cli
