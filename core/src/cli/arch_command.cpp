// nasx arch: parse an architecture, print its space, canonical form and the
// parameter count and FLOPs of its evaluation network.

#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/error.hpp"
#include "nasx/probe.hpp"
#include "nasx/space.hpp"

namespace po = boost::program_options;

namespace nasx::cli {

namespace {

/// 1531546 -> "1,531,546".
std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

/// The space an architecture string belongs to, from its form.
std::string space_of(const std::string& text) {
  const std::string space = guess_space(text);
  if (!space.empty()) return space;
  throw ConfigError("cannot tell the space of '" + text +
                    "': a DARTS genotype starts with Genotype(, a NAS-Bench-201 cell with |; "
                    "or give --space");
}

}  // namespace

int arch_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("arch", po::value<std::string>(), "the architecture string")(
      "space", po::value<std::string>(), "darts or nb201 (default: guessed from the string)")(
      "channels", po::value<int64_t>(), "C of the network (default: DARTS 36, NB201 16)")(
      "layers", po::value<int64_t>(),
      "DARTS: cells (default 20); NB201: cells per stage (default 5)")(
      "in-channels", po::value<int64_t>()->default_value(3), "image channels")(
      "image-size", po::value<int64_t>()->default_value(32), "image height and width (FLOPs)")(
      "classes", po::value<int64_t>()->default_value(10), "classes");
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx arch STRING [--space darts|nb201] [--channels C] [--layers N] "
                  "[--in-channels N] [--image-size N] [--classes N]\n\n"
                  "Parses an architecture and prints its canonical form and the parameter count "
                  "and FLOPs of its evaluation network (by default the references': DARTS C=36, "
                  "20 cells; NAS-Bench-201 C=16, N=5; 3x32x32 images, 10 classes).",
                  options, {"arch"}, vm))
    return 0;
  const std::string text = vm["arch"].as<std::string>();
  SpaceOptions space_options;
  space_options.name = vm.count("space") ? vm["space"].as<std::string>() : space_of(text);
  const auto space = make_search_space(space_options);
  const DataShape shape{vm["in-channels"].as<int64_t>(), vm["image-size"].as<int64_t>(),
                        vm["image-size"].as<int64_t>(), vm["classes"].as<int64_t>()};
  if (shape.channels < 1 || shape.classes < 2 || shape.height < 8)
    throw ConfigError(
        "--in-channels must be at least 1, --classes at least 2 and --image-size at least 8");
  const bool darts = space->name() == "darts";
  const int64_t channels = vm.count("channels") ? vm["channels"].as<int64_t>() : (darts ? 36 : 16);
  const int64_t layers = vm.count("layers") ? vm["layers"].as<int64_t>() : (darts ? 20 : 5);
  if (channels < 1 || layers < 1) throw ConfigError("--channels and --layers must be positive");

  const Architecture arch = space->parse(text);
  const auto net = space->build_network(arch, shape, channels, layers);
  const int64_t parameters = count_parameters(*net, /*with_auxiliary=*/false);
  const int64_t with_auxiliary = count_parameters(*net, /*with_auxiliary=*/true);
  std::cout << "space:      " << space->name() << "\n"
            << (darts ? "genotype:   " : "arch:       ") << space->format(arch) << "\n"
            << "network:    " << (darts ? "DARTS evaluation network, C=" : "the benchmark's, C=")
            << channels
            << (darts ? ", " + std::to_string(layers) + " cells, "
                      : ", N=" + std::to_string(layers) + ", ")
            << shape.channels << " input channels, " << shape.height << "x" << shape.width << ", "
            << shape.classes << " classes\n"
            << "parameters: " << with_thousands(parameters);
  if (with_auxiliary != parameters)
    std::cout << " (" << with_thousands(with_auxiliary) << " with the auxiliary head)";
  std::cout << "\nFLOPs:      " << with_thousands(network_macs(*net, shape))
            << " multiply-adds per image\n";
  return 0;
}

}  // namespace nasx::cli
