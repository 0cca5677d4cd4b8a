// nasx arch: parse an architecture, print its space, canonical form and the
// parameter count of the network it builds.

#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/darts/supernet.hpp"
#include "nasx/error.hpp"
#include "nasx/nb201/network.hpp"

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

/// KEY=VALUE settings of the network (--set channels=16 --set cells_per_stage=5).
nb201::NetworkOptions nb201_options(const std::vector<std::string>& settings) {
  nb201::NetworkOptions options;
  for (const auto& setting : settings) {
    const auto eq = setting.find('=');
    const std::string key = setting.substr(0, eq);
    int64_t value = 0;
    try {
      value = eq == std::string::npos ? -1 : std::stoll(setting.substr(eq + 1));
    } catch (const std::exception&) {
      value = -1;
    }
    if (value < 1)
      throw ConfigError("--set " + setting + ": expected KEY=N with a positive integer N");
    if (key == "channels")
      options.channels = value;
    else if (key == "cells_per_stage")
      options.cells_per_stage = value;
    else
      throw ConfigError("--set " + setting +
                        ": unknown key for the NAS-Bench-201 network (channels, cells_per_stage)");
  }
  return options;
}

}  // namespace

int arch_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("arch", po::value<std::string>(), "the architecture string")(
      "space", po::value<std::string>(), "darts or nb201 (default: guessed from the string)")(
      "in-channels", po::value<int64_t>()->default_value(3), "image channels")(
      "classes", po::value<int64_t>()->default_value(10), "classes")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "network setting, e.g. --set channels=16 (NAS-Bench-201: channels, cells_per_stage)");
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx arch STRING [--space darts|nb201] [--in-channels N] [--classes N] "
                  "[--set key=value]...",
                  options, {"arch"}, vm))
    return 0;
  const std::string text = vm["arch"].as<std::string>();
  const std::string space = vm.count("space") ? vm["space"].as<std::string>() : space_of(text);
  const int64_t in_channels = vm["in-channels"].as<int64_t>(),
                classes = vm["classes"].as<int64_t>();
  if (in_channels < 1 || classes < 2)
    throw ConfigError("--in-channels must be at least 1 and --classes at least 2");
  const auto settings =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};

  if (space == "nb201") {
    const nb201::Arch arch = nb201::Arch::parse(text);
    const nb201::NetworkOptions network = nb201_options(settings);
    nb201::Network net(arch, DataShape{in_channels, 32, 32, classes}, network);
    std::cout << "space:      nb201 (cell " << arch.index() << " of " << nb201::kCells << ")\n"
              << "arch:       " << arch.str() << "\n"
              << "network:    the benchmark's, C=" << network.channels
              << ", N=" << network.cells_per_stage << ", " << in_channels << " input channels, "
              << classes << " classes\n"
              << "parameters: " << with_thousands(count_parameters(net)) << "\n";
    return 0;
  }
  if (space == "darts") {
    if (!settings.empty())
      throw ConfigError(
          "--set: the DARTS evaluation network is not built by this version "
          "(it comes with `nasx train`)");
    const darts::DartsSpace darts_space{SpaceOptions{}};
    const Architecture arch = darts_space.parse(text);
    std::cout << "space:      darts\n"
              << "genotype:   " << darts_space.format(arch) << "\n"
              << "parameters: the DARTS evaluation network is not built by this version yet\n";
    return 0;
  }
  throw ConfigError("--space must be darts or nb201, not '" + space + "'");
}

}  // namespace nasx::cli
