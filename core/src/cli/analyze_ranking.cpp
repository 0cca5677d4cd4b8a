// nasx analyze ranking: how weight sharing ranks the children of a finite space against
// a ground-truth table (Zhang et al. 2020): GT-Tau per epoch and over the last k
// minibatches, S-Tau between runs, TnR, consecutive-epoch tau, rank variance.

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <sstream>

#include <boost/program_options.hpp>
#include <toml++/toml.h>

#include "analyze.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/ground_truth.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/plot.hpp"
#include "nasx/core/rank_statistics.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/text_table.hpp"
#include "nasx/error.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

namespace {

/// One evaluation point of every child: after an epoch or after one minibatch.
struct Point {
  int64_t epoch = 0, minibatch = 0;
  std::string trained;  ///< minibatch points: the child trained on that minibatch
  std::vector<double> accuracies;
};

/// What a ranking run logged.
struct RankingRun {
  fs::path dir;
  std::string name, setting;
  std::vector<std::string> children;
  std::vector<Point> epochs, minibatches;
};

RankingRun read_run(const fs::path& dir) {
  const core::RunPaths paths(dir);
  RankingRun run;
  run.dir = dir;
  run.name = dir.filename().string();
  std::istringstream in(core::read_text_file(paths.events));
  for (std::string line; std::getline(in, line);) {
    const Json event = core::parse_json_or_empty(line);
    const std::string type = event.value("type", "");
    if (type == "ranking_setup") {
      run.children = event.value("children", std::vector<std::string>{});
      run.setting = "groups=" + std::to_string(event.value("groups", 1)) + " " +
                    event.value("grouping", std::string("similarity")) + " order=" +
                    event.value("order", std::string("fixed"));
    } else if (type == "child_accuracies") {
      Point point{event.value("epoch", int64_t{0}), event.value("minibatch", int64_t{0}),
                  event.value("trained", std::string()),
                  event.value("accuracies", std::vector<double>{})};
      if (point.accuracies.size() != run.children.size())
        throw IoError(paths.events.string() + ": a child_accuracies event holds " +
                      std::to_string(point.accuracies.size()) + " accuracies for " +
                      std::to_string(run.children.size()) + " children; the log is damaged");
      (event.value("point", "") == "epoch" ? run.epochs : run.minibatches).push_back(point);
    }
  }
  if (run.children.empty() || run.epochs.empty())
    throw IoError(dir.string() + " has no rankings (its events.jsonl has no child_accuracies): "
                  "give runs of the ranking strategy ([search] strategy = \"ranking\") that "
                  "finished at least one epoch");
  return run;
}

/// The run's space, from its config.toml.
std::string space_of(const fs::path& dir) {
  try {
    const toml::table config = toml::parse_file(core::RunPaths(dir).config.string());
    return config["space"]["name"].value_or(std::string("darts"));
  } catch (const toml::parse_error& e) {
    throw IoError(core::RunPaths(dir).config.string() + ": cannot read the run's config: " +
                  std::string(e.description()));
  }
}

std::string pm(const core::MeanStd& m, int digits = 4) {
  return core::fixed(m.mean, digits) + " ± " + core::fixed(m.std, digits);
}

/// Mean over children of the variance of each child's rank across `measurements`.
double rank_variance(const std::vector<std::vector<double>>& measurements) {
  if (measurements.size() < 2) return std::nan("");
  const size_t n = measurements.front().size();
  std::vector<std::vector<double>> ranks(n);
  for (const auto& m : measurements) {
    const auto r = core::descending_ranks(m);
    for (size_t c = 0; c < n; ++c) ranks[c].push_back(static_cast<double>(r[c]));
  }
  double sum = 0;
  for (const auto& r : ranks) {
    const double s = core::mean_std(r).std;
    sum += s * s;
  }
  return sum / static_cast<double>(n);
}

/// The last `count` epochs' measurements.
std::vector<std::vector<double>> last_epochs(const RankingRun& run, size_t count) {
  std::vector<std::vector<double>> out;
  for (size_t e = run.epochs.size() > count ? run.epochs.size() - count : 0;
       e < run.epochs.size(); ++e)
    out.push_back(run.epochs[e].accuracies);
  return out;
}

}  // namespace

int analyze_ranking(const Args& args, const std::string& usage) {
  po::options_description options("options");
  options.add_options()("runs", po::value<std::vector<std::string>>(), "ranking run folders")(
      "truth", po::value<std::string>(), "the ground-truth table (table.json)")(
      "out", po::value<std::string>()->default_value(""), "output folder");
  po::variables_map vm;
  if (!parse_args(args, usage, options, {"runs"}, vm)) return 0;
  if (!vm.count("truth")) throw po::error("nasx analyze ranking needs --truth TABLE");
  const core::GroundTruthTable table = core::read_table(vm["truth"].as<std::string>());
  std::vector<RankingRun> runs;
  for (const std::string& dir : vm["runs"].as<std::vector<std::string>>()) {
    runs.push_back(read_run(dir));
    table.check_space(space_of(dir), "run " + dir);
    if (runs.back().children != runs.front().children)
      throw IoError(dir + " ranks other children than " + runs.front().dir.string());
  }
  const std::vector<std::string>& children = runs.front().children;
  std::vector<double> truth;
  for (const std::string& child : children) truth.push_back(table.accuracy(child));
  const fs::path out = analysis_folder(vm["out"].as<std::string>(), "ranking");

  // Per run.
  core::TextTable per_run{{"run", "setting", "epochs", "GT-Tau (last epoch)",
                           "GT-Tau (last k minibatches)", "k", "T1R", "T3R", "Spearman",
                           "S-Tau (last 10 epochs)", "consecutive tau", "rank var (last 10)"},
                          {}};
  core::TextTable per_epoch{{"run", "epoch", "gt_tau", "consecutive_tau", "spearman"}, {}};
  core::Plot tau_plot{"GT-Tau of shared-weight rankings over the epochs", "epoch",
                      "Kendall tau against the ground truth", {}, {}, false, true, {}, false};
  core::Plot lastk_plot{"GT-Tau after each of the last minibatches", "minibatch",
                        "Kendall tau against the ground truth", {}, {}, false, true, {}, false};
  std::map<std::string, std::vector<const RankingRun*>> by_setting;
  Json json_runs = Json::array();
  for (const RankingRun& run : runs) {
    by_setting[run.setting].push_back(&run);
    core::PlotSeries tau_series{run.name, {}, {}, "linespoints"};
    std::vector<double> consecutive;
    for (size_t e = 0; e < run.epochs.size(); ++e) {
      const auto& a = run.epochs[e].accuracies;
      const double tau = core::kendall_tau(a, truth);
      const double previous =
          e > 0 ? core::kendall_tau(run.epochs[e - 1].accuracies, a) : std::nan("");
      if (e > 0) consecutive.push_back(previous);
      per_epoch.rows.push_back({run.name, std::to_string(run.epochs[e].epoch + 1),
                                core::fixed(tau, 4), e > 0 ? core::fixed(previous, 4) : "-",
                                core::fixed(core::spearman_rho(a, truth), 4)});
      tau_series.x.push_back(static_cast<double>(run.epochs[e].epoch + 1));
      tau_series.y.push_back(tau);
    }
    tau_plot.series.push_back(tau_series);
    std::vector<double> lastk;
    core::PlotSeries lastk_series{run.name, {}, {}, "linespoints"};
    for (const Point& p : run.minibatches) {
      lastk.push_back(core::kendall_tau(p.accuracies, truth));
      lastk_series.x.push_back(static_cast<double>(p.minibatch));
      lastk_series.y.push_back(lastk.back());
    }
    if (!lastk.empty()) lastk_plot.series.push_back(lastk_series);
    const auto& final_acc = run.epochs.back().accuracies;
    const auto last10 = last_epochs(run, 10);
    const core::PairwiseTau within = core::pairwise_tau(last10);
    per_run.rows.push_back(
        {run.name, run.setting, std::to_string(run.epochs.size()),
         core::fixed(core::kendall_tau(final_acc, truth), 4),
         lastk.empty() ? "-" : pm(core::mean_std(lastk)), std::to_string(lastk.size()),
         std::to_string(core::top_n_true_rank(final_acc, truth, 1)),
         std::to_string(core::top_n_true_rank(final_acc, truth, 3)),
         core::fixed(core::spearman_rho(final_acc, truth), 4),
         within.pairs ? core::fixed(within.mean, 4) : "-",
         consecutive.empty() ? "-" : core::fixed(core::mean_std(consecutive).mean, 4),
         last10.size() > 1 ? core::fixed(rank_variance(last10), 1) : "-"});
    json_runs.push_back(core::JsonObject()
                            .add("run", run.dir.string())
                            .add("setting", run.setting)
                            .add("gt_tau_last_epoch", core::kendall_tau(final_acc, truth))
                            .add("gt_tau_lastk_mean", core::mean_std(lastk).mean)
                            .add("gt_tau_lastk_std", core::mean_std(lastk).std)
                            .add("t1r", core::top_n_true_rank(final_acc, truth, 1))
                            .add("t3r", core::top_n_true_rank(final_acc, truth, 3))
                            .json());
  }
  std::cout << "per run (" << children.size() << " children, truth: mean test accuracy over "
            << table.seeds().size() << " seeds of " << table.file.string() << ")\n";
  per_run.write(std::cout, out, "runs");
  std::ostringstream quiet;
  per_epoch.write(quiet, out, "epochs");

  // Per setting: S-Tau between its runs' final rankings, GT-Tau over all their last k
  // minibatch points, TnR averaged.
  core::TextTable per_setting{{"setting", "runs", "S-Tau (mean, min, max)", "GT-Tau last k",
                               "T1R", "T3R", "rank var across runs"},
                              {}};
  for (const auto& [setting, members] : by_setting) {
    std::vector<std::vector<double>> finals;
    std::vector<double> lastk, t1, t3;
    for (const RankingRun* run : members) {
      finals.push_back(run->epochs.back().accuracies);
      for (const Point& p : run->minibatches) lastk.push_back(core::kendall_tau(p.accuracies, truth));
      t1.push_back(static_cast<double>(core::top_n_true_rank(finals.back(), truth, 1)));
      t3.push_back(static_cast<double>(core::top_n_true_rank(finals.back(), truth, 3)));
    }
    const core::PairwiseTau s = core::pairwise_tau(finals);
    per_setting.rows.push_back(
        {setting, std::to_string(members.size()),
         s.pairs ? core::fixed(s.mean, 4) + " (" + core::fixed(s.min, 3) + ", " +
                       core::fixed(s.max, 3) + ")"
                 : "-",
         lastk.empty() ? "-" : pm(core::mean_std(lastk)), core::fixed(core::mean_std(t1).mean, 1),
         core::fixed(core::mean_std(t3).mean, 1),
         finals.size() > 1 ? core::fixed(rank_variance(finals), 1) : "-"});
  }
  // The truth against itself: each seed of the table as if it were a ranking.
  {
    std::vector<std::vector<double>> seeds;
    std::vector<double> gt, t1, t3;
    for (int64_t seed : table.seeds()) {
      std::vector<double> accuracies;
      for (const std::string& child : children)
        for (const core::TableRow* row : table.rows_of(child))
          if (row->seed == seed) accuracies.push_back(row->test_acc);
      if (accuracies.size() != children.size()) continue;
      seeds.push_back(accuracies);
      gt.push_back(core::kendall_tau(accuracies, truth));
      t1.push_back(static_cast<double>(core::top_n_true_rank(accuracies, truth, 1)));
      t3.push_back(static_cast<double>(core::top_n_true_rank(accuracies, truth, 3)));
    }
    const core::PairwiseTau s = core::pairwise_tau(seeds);
    if (!seeds.empty())
      per_setting.rows.push_back(
          {"ground truth (one seed each)", std::to_string(seeds.size()),
           s.pairs ? core::fixed(s.mean, 4) : "-", pm(core::mean_std(gt)) + " (vs the mean)",
           core::fixed(core::mean_std(t1).mean, 1), core::fixed(core::mean_std(t3).mean, 1),
           seeds.size() > 1 ? core::fixed(rank_variance(seeds), 1) : "-"});
  }
  std::cout << "\nper setting\n";
  per_setting.write(std::cout, out, "settings");

  // Plots: tau over epochs and the last minibatches, the top children's ranks.
  core::draw_plot(tau_plot, out, "gt-tau-epochs");
  if (!lastk_plot.series.empty()) core::draw_plot(lastk_plot, out, "gt-tau-last-minibatches");
  std::vector<size_t> top(children.size());
  for (size_t c = 0; c < top.size(); ++c) top[c] = c;
  std::sort(top.begin(), top.end(), [&](size_t a, size_t b) { return truth[a] > truth[b]; });
  top.resize(std::min<size_t>(top.size(), 10));
  core::Plot trajectories{"shared-weight rank of the 5 truly best children: " + runs.front().name,
                          "epoch", "rank by shared weights (1 = first)", {}, {}, true, true, {}, false};
  for (size_t k = 0; k < top.size() && k < 5; ++k) {
    core::PlotSeries s{children[top[k]] + " (true #" + std::to_string(k + 1) + ")", {}, {},
                       "linespoints"};
    for (const Point& p : runs.front().epochs) {
      s.x.push_back(static_cast<double>(p.epoch + 1));
      s.y.push_back(static_cast<double>(core::descending_ranks(p.accuracies)[top[k]]));
    }
    trajectories.series.push_back(s);
  }
  core::draw_plot(trajectories, out, "rank-trajectories");
  core::Plot boxes{"ranks of the 10 truly best children (every run, last 10 epochs)",
                   "child (true rank order)", "rank by shared weights", {}, {}, true, false, {},
                   false};
  for (size_t k = 0; k < top.size(); ++k) {
    core::BoxGroup group{children[top[k]], {}};
    for (const RankingRun& run : runs)
      for (const auto& a : last_epochs(run, 10))
        group.values.push_back(static_cast<double>(core::descending_ranks(a)[top[k]]));
    boxes.boxes.push_back(group);
  }
  core::draw_plot(boxes, out, "rank-boxes");
  core::write_file_atomically(out / "summary.json", core::JsonObject()
                                                         .add("table", table.file.string())
                                                         .add("children", children)
                                                         .add("runs", json_runs)
                                                         .json()
                                                         .dump(2) +
                                                     "\n");
  std::cout << "written: " << out.string()
            << "/{runs,settings,epochs}.{txt,csv}, summary.json, gt-tau-epochs.svg, "
               "gt-tau-last-minibatches.svg, rank-trajectories.svg, rank-boxes.svg\n";
  return 0;
}

}  // namespace nasx::cli
