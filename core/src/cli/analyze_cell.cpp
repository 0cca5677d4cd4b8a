// nasx analyze cell (width and depth of found cells) and nasx analyze variants (the
// random variants that test what the shape does to training).

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include <boost/program_options.hpp>

#include "analyze.hpp"
#include "nasx/core/cell_shape.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/plot.hpp"
#include "nasx/core/rank_statistics.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/sweep_run.hpp"
#include "nasx/core/text_table.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

namespace {

/// Spaces made once per name.
class SpaceCache {
 public:
  explicit SpaceCache(const core::PluginRegistry& registry) : registry_(registry) {}

  /// The space whose text form `genotype` is, and the architecture; `where` names the
  /// genotype's source in the error when no space parses it.
  std::pair<const SearchSpace*, Architecture> parse(const std::string& genotype,
                                                    const std::string& where) {
    std::string why;
    const std::string name = core::guess_space(registry_, genotype, &why);
    if (name.empty())
      throw ConfigError(where + ": '" + genotype.substr(0, 80) +
                        "' is not an architecture of any loaded space (" + why + ")");
    auto& space = spaces_[name];
    if (!space) space = core::make_space(registry_, core::SpaceSection{name, {}});
    return {space.get(), space->parse(genotype)};
  }

 private:
  const core::PluginRegistry& registry_;
  std::map<std::string, std::unique_ptr<SearchSpace>> spaces_;
};

/// One architecture of a group: where it came from.
struct Member {
  std::string source;
  const SearchSpace* space = nullptr;
  Architecture arch;
};

struct Group {
  std::string name;
  std::vector<Member> members;
};

/// A run's history: (step, architecture) from genotypes.jsonl.
std::vector<std::pair<int64_t, Member>> history_of(const fs::path& run, SpaceCache& spaces) {
  std::vector<std::pair<int64_t, Member>> out;
  std::istringstream in(core::read_text_file(core::RunPaths(run).genotypes));
  for (std::string line; std::getline(in, line);) {
    const Json row = core::parse_json_or_empty(line);
    const auto genotype = core::string_member(row, "genotype");
    if (!genotype) continue;
    auto [space, arch] = spaces.parse(*genotype, core::RunPaths(run).genotypes.string());
    out.push_back({static_cast<int64_t>(core::number_member(row, "step").value_or(0)),
                   Member{run.string(), space, arch}});
  }
  return out;
}

/// The groups an argument stands for: a sweep's settings, a run's answer, a genotype.
std::vector<Group> groups_of(const std::string& argument, SpaceCache& spaces) {
  const fs::path path(argument);
  std::error_code error;
  if (fs::is_directory(path, error) && fs::exists(path / "sweep.json")) {
    std::map<std::string, Group> by_setting;
    std::vector<std::string> order;
    for (const core::TrialRow& row : core::read_sweep_rows(path)) {
      if (row.genotype.empty()) continue;
      const std::string name = path.filename().string() + " " + row.setting;
      if (!by_setting.count(name)) order.push_back(name);
      auto [space, arch] = spaces.parse(row.genotype, (path / row.name).string());
      by_setting[name].name = name;
      by_setting[name].members.push_back({(path / row.name).string(), space, arch});
    }
    if (order.empty())
      throw IoError(argument + ": no trial of this sweep has an answer yet (nasx sweep status)");
    std::vector<Group> out;
    for (const auto& name : order) out.push_back(by_setting[name]);
    return out;
  }
  if (fs::is_directory(path, error)) {
    const core::RunPaths paths(path);
    if (!fs::exists(paths.genotype))
      throw IoError(argument +
                    " has no genotype.txt: give a finished search run, a sweep folder or a "
                    "genotype");
    auto [space, arch] = spaces.parse(core::first_line_of(paths.genotype), paths.genotype.string());
    return {Group{path.filename().string(), {{argument, space, arch}}}};
  }
  auto [space, arch] = spaces.parse(argument, "argument");
  return {Group{argument.size() > 24 ? argument.substr(0, 21) + "..." : argument,
                {{"genotype", space, arch}}}};
}

/// Width and depth per cell type.
std::vector<core::CellShape> shapes(const Member& m) {
  std::vector<core::CellShape> out;
  for (const core::CellGraph& graph : core::cell_graphs(*m.space, m.arch))
    out.push_back(core::cell_shape(graph));
  return out;
}

std::string mean_std_text(const std::vector<double>& values, int digits) {
  const core::MeanStd m = core::mean_std(values);
  return core::fixed(m.mean, digits) + " ± " + core::fixed(m.std, digits);
}

}  // namespace

int analyze_cell(const Args& args, const std::string& usage) {
  po::options_description options("options");
  options.add_options()("inputs", po::value<std::vector<std::string>>(),
                        "genotypes, run folders, sweep folders")(
      "connections", po::value<int64_t>()->default_value(0),
      "random-connection variants per answer, a group of their own")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the variants")(
      "out", po::value<std::string>()->default_value(""), "output folder");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args, usage, options, {"inputs"}, vm)) return 0;
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  SpaceCache spaces(registry);
  std::vector<Group> groups;
  for (const std::string& input : vm["inputs"].as<std::vector<std::string>>())
    for (Group& g : groups_of(input, spaces)) groups.push_back(std::move(g));
  const int64_t connections = vm["connections"].as<int64_t>();
  if (connections < 0 || connections > 100000)
    throw ConfigError("--connections " + std::to_string(connections) + ": give 0 to 100000");
  if (connections > 0) {
    std::mt19937_64 rng(static_cast<uint64_t>(vm["seed"].as<int64_t>()));
    const size_t originals = groups.size();
    for (size_t g = 0; g < originals; ++g) {
      Group variants{groups[g].name + " (random connections)", {}};
      for (const Member& m : groups[g].members)
        for (int64_t i = 0; i < connections; ++i)
          variants.members.push_back({m.source + " variant " + std::to_string(i), m.space,
                                      core::random_connections(*m.space, m.arch, rng)});
      groups.push_back(std::move(variants));
    }
  }
  const fs::path out = analysis_folder(vm["out"].as<std::string>(), "cell");

  // One row per architecture, one per group; widths in units of c.
  core::TextTable cells{{"group", "source", "cell", "width", "depth"}, {}};
  core::TextTable summary{{"group", "n", "cell", "width (c, mean ± std)", "depth (mean ± std)"},
                          {}};
  Json json_groups = Json::array();
  std::vector<core::BoxGroup> width_boxes, depth_boxes;
  for (const Group& group : groups) {
    const auto types = group.members.front().space->cell_types();
    std::vector<std::vector<double>> widths(types.size()), depths(types.size());
    for (const Member& m : group.members) {
      const auto s = shapes(m);
      for (size_t t = 0; t < s.size() && t < types.size(); ++t) {
        widths[t].push_back(s[t].width);
        depths[t].push_back(static_cast<double>(s[t].depth));
        cells.rows.push_back({group.name, m.source, types[t], core::fixed(s[t].width, 1) + "c",
                              std::to_string(s[t].depth)});
      }
    }
    Json per_type = Json::object();
    for (size_t t = 0; t < types.size(); ++t) {
      summary.rows.push_back({group.name, std::to_string(group.members.size()), types[t],
                              mean_std_text(widths[t], 2), mean_std_text(depths[t], 2)});
      per_type[types[t]] = core::JsonObject()
                               .add("width_mean", core::mean_std(widths[t]).mean)
                               .add("width_std", core::mean_std(widths[t]).std)
                               .add("depth_mean", core::mean_std(depths[t]).mean)
                               .add("depth_std", core::mean_std(depths[t]).std)
                               .json();
      width_boxes.push_back({group.name + " " + types[t], widths[t]});
      depth_boxes.push_back({group.name + " " + types[t], depths[t]});
    }
    json_groups.push_back(core::JsonObject()
                              .add("group", group.name)
                              .add("n", group.members.size())
                              .add("cells", per_type)
                              .json());
  }
  std::ostringstream ignored;
  cells.write(ignored, out, "cells");
  summary.write(std::cout, out, "groups");
  core::write_file_atomically(out / "summary.json",
                              core::JsonObject().add("groups", json_groups).json().dump(2) + "\n");
  core::Plot width_plot;
  width_plot.title = "cell width per group";
  width_plot.ylabel = "width (units of c)";
  width_plot.boxes = width_boxes;
  core::draw_plot(width_plot, out, "width");
  core::Plot depth_plot = width_plot;
  depth_plot.title = "cell depth per group";
  depth_plot.ylabel = "depth (edges, input to output)";
  depth_plot.boxes = depth_boxes;
  core::draw_plot(depth_plot, out, "depth");

  // A run's history: how the searched cell's shape moved over the steps.
  for (const std::string& input : vm["inputs"].as<std::vector<std::string>>()) {
    const fs::path run(input);
    std::error_code error;
    if (!fs::is_directory(run, error) || !fs::exists(core::RunPaths(run).genotypes)) continue;
    const auto history = history_of(run, spaces);
    if (history.empty()) continue;
    const auto types = history.front().second.space->cell_types();
    core::Plot plot;
    plot.title = "cell shape over the search: " + run.filename().string();
    plot.xlabel = "step";
    plot.ylabel = "width (c) / depth (edges)";
    plot.key_outside = true;
    if (history.size() <= 20) plot.commands.push_back("set xtics 1");  // whole steps only
    for (size_t t = 0; t < types.size(); ++t) {
      core::PlotSeries width{types[t] + " width", {}, {}, "linespoints"};
      core::PlotSeries depth{types[t] + " depth", {}, {}, "linespoints"};
      for (const auto& [step, member] : history) {
        const auto s = shapes(member);
        width.x.push_back(static_cast<double>(step));
        width.y.push_back(s[t].width);
        depth.x.push_back(static_cast<double>(step));
        depth.y.push_back(static_cast<double>(s[t].depth));
      }
      plot.series.push_back(width);
      plot.series.push_back(depth);
    }
    core::draw_plot(plot, out, "history-" + run.filename().string());
  }
  std::cout << "written: " << out.string()
            << "/{groups.txt,groups.csv,cells.txt,cells.csv,summary.json,width.svg,depth.svg}\n";
  return 0;
}

int analyze_variants(const Args& args, const std::string& usage) {
  po::options_description options("options");
  options.add_options()("genotype", po::value<std::string>(), "the original cell")(
      "connections", po::value<int64_t>()->default_value(10), "random-connection variants")(
      "operations", po::value<int64_t>()->default_value(10), "random-operation variants")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the variants")(
      "preset", po::value<std::string>(), "training config the table build uses as its base")(
      "seeds", po::value<int64_t>()->default_value(1), "training seeds per variant")(
      "out", po::value<std::string>()->default_value(""), "output folder");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args, usage, options, {"genotype"}, vm)) return 0;
  if (!vm.count("preset"))
    throw po::error("nasx analyze variants needs --preset TRAIN.toml (the training of the build)");
  const fs::path preset = fs::absolute(vm["preset"].as<std::string>());
  if (!fs::is_regular_file(preset))
    throw IoError("--preset " + preset.string() + " does not exist");
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  SpaceCache spaces(registry);
  auto [space, original] = spaces.parse(vm["genotype"].as<std::string>(), "GENOTYPE");
  std::mt19937_64 rng(static_cast<uint64_t>(vm["seed"].as<int64_t>()));
  std::vector<std::pair<std::string, Architecture>> variants = {{"original", original}};
  for (int64_t i = 0; i < vm["connections"].as<int64_t>(); ++i)
    variants.push_back({"connections-" + std::to_string(i),
                        core::random_connections(*space, original, rng)});
  for (int64_t i = 0; i < vm["operations"].as<int64_t>(); ++i)
    variants.push_back({"operations-" + std::to_string(i),
                        core::random_operations(*space, original, rng)});

  const fs::path out = analysis_folder(vm["out"].as<std::string>(), "variants");
  const auto types = space->cell_types();
  core::TextTable table{{"variant"}, {}};
  for (const auto& type : types) {
    table.header.push_back(type + " width");
    table.header.push_back(type + " depth");
  }
  table.header.push_back("genotype");
  std::string list;
  for (const auto& [name, arch] : variants) {
    std::vector<std::string> row = {name};
    for (const core::CellShape& s : shapes({"", space, arch})) {
      row.push_back(core::fixed(s.width, 1) + "c");
      row.push_back(std::to_string(s.depth));
    }
    const std::string text = space->format(arch);
    row.push_back(text);
    table.rows.push_back(row);
    // Variants may repeat (or repeat the original): a table has one row per architecture.
    if (list.find(core::json_line(text)) == std::string::npos)
      list += "  " + core::json_line(text) + ",\n";
  }
  table.write(std::cout, out, "variants");
  const std::string build = "# Trains the variants of analyze variants (" + out.string() +
                            "):\n#   nasx table build " + (out / "variants.toml").string() +
                            " --jobs 2\n\n[sweep]\nname = \"variants\"\nbase = " +
                            core::json_line(preset.string()) + "\narchitectures = [\n" + list +
                            "]\nseeds = " + std::to_string(vm["seeds"].as<int64_t>()) +
                            "\noutput_dir = " + core::json_line(fs::absolute(out).string()) + "\n";
  core::write_file_atomically(out / "variants.toml", build);
  std::cout << "written: " << out.string() << "/{variants.txt,variants.csv,variants.toml}\n"
            << "train them: nasx table build " << (out / "variants.toml").string()
            << " --jobs 2; then nasx table collect " << (out / "variants").string() << "\n";
  return 0;
}

}  // namespace nasx::cli
