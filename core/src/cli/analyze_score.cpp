// nasx analyze score (a scorer against a ground-truth table) and nasx analyze tau.

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>

#include <boost/program_options.hpp>

#include "analyze.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/data_loading.hpp"
#include "nasx/core/evaluators.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/ground_truth.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/plot.hpp"
#include "nasx/core/rank_statistics.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/text_table.hpp"
#include "nasx/error.hpp"
#include "nasx/scorer.hpp"
#include "nasx/space.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

fs::path analysis_folder(const std::string& out, const std::string& what) {
  const fs::path dir =
      out.empty() ? fs::path("runs") / ("analyze-" + what + "-" + core::timestamp_for_path())
                  : fs::path(out);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error)
    throw IoError("cannot create the analysis folder " + dir.string() + ": " + error.message() +
                  "; give a writable --out");
  return dir;
}

namespace {

/// Scores for ranking: -infinity (a singular NASWOT kernel) below every finite score.
std::vector<double> rankable(const std::vector<double>& scores, int64_t* infinite) {
  double lowest = std::numeric_limits<double>::infinity();
  for (double s : scores)
    if (std::isfinite(s)) lowest = std::min(lowest, s);
  std::vector<double> out;
  *infinite = 0;
  for (double s : scores) {
    if (!std::isfinite(s)) ++*infinite;
    out.push_back(std::isfinite(s) ? s : (std::isfinite(lowest) ? lowest - 1 : 0));
  }
  return out;
}

}  // namespace

int analyze_score(const Args& args, const std::string& usage) {
  po::options_description options("options");
  options.add_options()("truth", po::value<std::string>(), "the ground-truth table (table.json)")(
      "scorer", po::value<std::string>()->default_value("naswot"), "the scorer plugin")(
      "batch", po::value<int64_t>()->default_value(128), "images in the one scored minibatch")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the minibatch and the networks")(
      "config", po::value<std::string>(),
      "the data, space and [train] network size to score with (default: the table's preset)")(
      "out", po::value<std::string>()->default_value(""), "output folder");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args, usage, options, {}, vm)) return 0;
  if (!vm.count("truth")) throw po::error("nasx analyze score needs --truth TABLE");
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  const std::string scorer_name = vm["scorer"].as<std::string>();
  const core::PluginInfo& scorer_info = registry.find(NASX_KIND_SCORER, scorer_name);
  const core::GroundTruthTable table = core::read_table(vm["truth"].as<std::string>());
  // The table's own preset says which data, space and network size its rows are of.
  if (!vm.count("config") && table.preset.empty())
    throw ConfigError(table.file.string() +
                      " has no preset (a converted table): give --config with the data, "
                      "[space] and [train] network size its architectures are scored in");
  const core::RunConfig config =
      vm.count("config")
          ? core::load_run_config(vm["config"].as<std::string>(), {}, registry,
                                  core::ConfigUse::train)
          : core::load_run_config_text(table.preset, table.file.string() + " (its preset)", {},
                                       registry, core::ConfigUse::train);
  table.check_space(config.space.name, vm.count("config") ? "--config" : "its preset");
  const auto seed = static_cast<uint64_t>(vm["seed"].as<int64_t>());
  const DataSplits data = core::load_data(config.data, seed);
  const auto space = core::make_space(registry, config.space);
  core::EvaluatorOptions evaluator_options;
  evaluator_options.channels = config.train.channels;
  evaluator_options.layers = config.train.layers;
  evaluator_options.score_batch = vm["batch"].as<int64_t>();
  auto evaluator = core::make_score_evaluator(
      core::create_plugin<ArchScorer>(registry, scorer_info), scorer_name, *space, data,
      evaluator_options, seed);

  const fs::path out = analysis_folder(vm["out"].as<std::string>(), "score-" + scorer_name);
  std::vector<double> scores, truth;
  core::TextTable rows{{"arch", "score", "true_acc", "parameters", "score_seconds"}, {}};
  const std::vector<std::string> archs = table.architectures();
  for (size_t i = 0; i < archs.size(); ++i) {
    Architecture arch;
    try {
      arch = space->parse(archs[i]);
    } catch (const Error& e) {
      throw ConfigError(table.file.string() + ": architecture " + archs[i] +
                        " is not of space '" + space->name() + "': " + e.what());
    }
    const Evaluation e = evaluator->evaluate(arch);
    scores.push_back(e.accuracy);
    truth.push_back(table.accuracy(archs[i]));
    rows.rows.push_back({archs[i], core::fixed(e.accuracy, 4), core::fixed(truth.back(), 4),
                         std::to_string(table.rows_of(archs[i]).front()->parameters),
                         core::fixed(e.seconds, 3)});
    std::cerr << "\rscored " << i + 1 << "/" << archs.size() << std::flush;
  }
  std::cerr << "\n";
  int64_t infinite = 0;
  const std::vector<double> ranked = rankable(scores, &infinite);
  const double tau = core::kendall_tau(ranked, truth);
  const double rho = core::spearman_rho(ranked, truth);
  rows.write(std::cout, out, "scores");
  std::cout << "\n" << scorer_name << " against " << table.file.string() << " ("
            << archs.size() << " architectures, " << table.seeds().size()
            << " seeds each, mean test accuracy): Kendall tau " << core::fixed(tau, 4)
            << ", Spearman rho " << core::fixed(rho, 4);
  if (infinite > 0) std::cout << "; " << infinite << " scores were -infinity (ranked last)";
  std::cout << "\n";
  core::write_file_atomically(out / "summary.json", core::JsonObject()
                                                         .add("scorer", scorer_name)
                                                         .add("table", table.file.string())
                                                         .add("space", table.space)
                                                         .add("architectures", archs.size())
                                                         .add("kendall_tau", tau)
                                                         .add("spearman_rho", rho)
                                                         .add("infinite_scores", infinite)
                                                         .json()
                                                         .dump(2) +
                                                     "\n");
  core::Plot plot;
  plot.title = scorer_name + " score vs trained accuracy (" + table.space + ", tau " +
               core::fixed(tau, 3) + ", rho " + core::fixed(rho, 3) + ")";
  plot.xlabel = scorer_name + " score";
  plot.ylabel = "test accuracy, mean over seeds";
  core::PlotSeries points{"architectures", {}, {}, "points"};
  for (size_t i = 0; i < scores.size(); ++i)
    if (std::isfinite(scores[i])) {  // -infinity has no place on the axis
      points.x.push_back(scores[i]);
      points.y.push_back(truth[i]);
    }
  plot.series = {points};
  plot.commands.push_back("set key off");  // one series; its legend sample reads as a point
  core::draw_plot(plot, out, "score-vs-accuracy");
  std::cout << "written: " << out.string() << "/{scores.txt,scores.csv,summary.json,"
            << "score-vs-accuracy.svg}\n";
  return 0;
}

namespace {

/// "score" (else "accuracy") per architecture text, first occurrence.
std::map<std::string, double> measurements(const fs::path& file) {
  if (!fs::is_regular_file(file))
    throw IoError(file.string() + ": no such evaluations file (a run's evaluations.jsonl)");
  std::map<std::string, double> out;
  std::istringstream in(core::read_text_file(file));
  int64_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    const Json row = core::parse_json_or_empty(line);
    const auto arch = core::string_member(row, "arch");
    auto value = core::number_member(row, "score");
    if (!value) value = core::number_member(row, "accuracy");
    if (!arch || !value)
      throw IoError(file.string() + ":" + std::to_string(line_number) +
                    ": not an evaluation (needs \"arch\" and \"score\" or \"accuracy\")");
    out.emplace(*arch, *value);
  }
  return out;
}

}  // namespace

int analyze_tau(const Args& args, const std::string& usage) {
  po::options_description options("options");
  options.add_options()("a", po::value<std::string>(), "first evaluations.jsonl")(
      "b", po::value<std::string>(), "second evaluations.jsonl");
  po::variables_map vm;
  if (!parse_args(args, usage, options, {"a", "b"}, vm)) return 0;
  const auto a = measurements(vm["a"].as<std::string>());
  const auto b = measurements(vm["b"].as<std::string>());
  std::vector<double> xs, ys;
  for (const auto& [arch, value] : a) {
    const auto other = b.find(arch);
    if (other == b.end()) continue;
    xs.push_back(value);
    ys.push_back(other->second);
  }
  if (xs.size() < 2)
    throw Error(std::to_string(xs.size()) +
                " architectures in common: Kendall tau needs at least 2 (runs of one sampling "
                "strategy with the same seed sample the same architectures)");
  int64_t infinite_a = 0, infinite_b = 0;
  const auto ra = rankable(xs, &infinite_a), rb = rankable(ys, &infinite_b);
  std::cout << xs.size() << " architectures in common: Kendall tau-b "
            << core::fixed(core::kendall_tau(ra, rb), 4) << ", Spearman rho "
            << core::fixed(core::spearman_rho(ra, rb), 4) << "\n";
  return 0;
}

}  // namespace nasx::cli
