// The report page of a sweep: every trial with its result and a link to its own report,
// mean ± std per setting, and a box chart per metric across settings.

#include <map>

#include "nasx/core/rank_statistics.hpp"
#include "nasx/core/report.hpp"
#include "nasx/core/sweep_run.hpp"
#include "nasx/core/text_table.hpp"
#include "nasx/error.hpp"
#include "report_parts.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

std::string value_or_dash(double value) { return value < 0 ? "-" : fixed(value, 4); }

std::string mean_std_cell(const std::vector<double>& values, int digits) {
  if (values.empty()) return "-";
  const MeanStd s = mean_std(values);
  return fixed(s.mean, digits) + " \u00b1 " + fixed(s.std, digits) +
         " (n=" + std::to_string(s.count) + ")";
}

struct Metric {
  const char* title;
  double TrialRow::*field;
  int digits = 4;           ///< of the table's mean and std
  const char* better = "";  ///< said in the chart's title
};

}  // namespace

void sweep_page(HtmlPage& page, ReportFigures& figures, const fs::path& dir,
                const PluginRegistry& registry) {
  std::vector<std::string> axes;
  const std::vector<TrialRow> rows = read_sweep_rows(dir, &axes);
  std::string axes_text;
  for (const std::string& axis : axes) axes_text += (axes_text.empty() ? "" : ", ") + axis;
  page.paragraph(std::to_string(rows.size()) + " trials" +
                 (axes_text.empty() ? "" : " over " + axes_text) +
                 ". Each trial's name links to its own report.");

  // Each started trial's own report first, so the links below lead somewhere.
  std::map<std::string, bool> reported;
  for (const TrialRow& row : rows) {
    const fs::path trial = dir / row.name;
    if (row.status == "pending" || !fs::is_directory(trial)) continue;
    try {
      write_report(trial, registry);
      reported[row.name] = true;
    } catch (const Error& e) {
      figures.add_note("no report for trial " + row.name + ": " + e.what());
    }
  }

  const bool truth = judged_by_truth(rows);  // [sweep] truth: answers judged by a table
  std::vector<Metric> metrics = {{"search accuracy", &TrialRow::search_acc, 4, "higher is better"},
                                 {"test accuracy", &TrialRow::test_acc, 4, "higher is better"}};
  if (truth) {
    metrics.push_back({"true accuracy", &TrialRow::true_acc, 4, "higher is better"});
    metrics.push_back({"true rank", &TrialRow::true_rank, 1, "1 is the best, lower is better"});
  }
  metrics.push_back({"seconds", &TrialRow::seconds, 1});
  metrics.push_back({"evaluation seconds", &TrialRow::evaluation_seconds, 1});

  // Per setting, in the order the trials list them.
  std::vector<std::string> settings;
  std::map<std::string, std::map<std::string, std::vector<double>>> values;
  for (const TrialRow& row : rows) {
    if (!values.count(row.setting)) settings.push_back(row.setting);
    auto& per_metric = values[row.setting];
    if (row.status != "done") continue;
    for (const Metric& metric : metrics)
      if (row.*metric.field >= 0) per_metric[metric.title].push_back(row.*metric.field);
  }
  page.heading(2, "Per setting (mean \u00b1 std over seeds)", "settings");
  std::vector<std::string> header = {"setting"};
  for (const Metric& metric : metrics) header.push_back(metric.title);
  std::vector<std::vector<std::string>> table;
  for (const std::string& setting : settings) {
    std::vector<std::string> line = {setting.empty() ? "(base)" : setting};
    for (const Metric& metric : metrics)
      line.push_back(mean_std_cell(values[setting][metric.title], metric.digits));
    table.push_back(line);
  }
  page.table(header, table);
  page.paragraph(
      "search accuracy: the search's own measure of its answer (valid_acc of a gradient "
      "search, best_acc of a sampling one); test accuracy: the trained network's when the "
      "trial trained one, else the supernet's or the evaluator's (the trials table says "
      "which); " +
      std::string(truth ? "true accuracy and true rank: the answer's mean test accuracy in "
                          "the sweep's ground-truth table ([sweep] truth) and its rank among "
                          "the table's architectures (1: the best); "
                        : "") +
      "seconds: the search's wall time (with its training); evaluation seconds: what a "
      "sampling search spent against [evaluator] budget_seconds.");
  for (const Metric& metric : metrics) {
    Plot plot;
    plot.title = metric.title + std::string(" per setting: mean, std and each seed") +
                 (*metric.better ? std::string(" (") + metric.better + ")" : "");
    plot.ylabel = metric.title;
    plot.bars = true;
    // Accuracies of a benchmark differ by a point or two: bars from zero would hide it.
    plot.from_zero = std::string(metric.title).find("accuracy") == std::string::npos;
    for (const std::string& setting : settings) {
      const auto& v = values[setting][metric.title];
      if (!v.empty()) plot.boxes.push_back({setting.empty() ? "(base)" : setting, v});
    }
    if (plot.boxes.empty()) continue;
    if (const auto file = figures.plot(plot, std::string("sweep-") + metric.title))
      page.figure(*file, plot.title + " (" + *file + ")");
  }

  page.heading(2, "Trials", "trials");
  std::vector<std::vector<std::string>> trial_rows;
  for (const TrialRow& row : rows) {
    const std::string name = reported.count(row.name)
                                 ? html_link("../" + row.name + "/report/index.html", row.name)
                                 : row.name;
    trial_rows.push_back(
        {name, row.setting, std::to_string(row.seed),
         row.status + (row.detail.empty() ? "" : " (" + row.detail + ")"),
         value_or_dash(row.search_acc),
         value_or_dash(row.test_acc) + (row.test_kind.empty() ? "" : " (" + row.test_kind + ")"),
         row.true_acc < 0 ? "-"
                          : fixed(row.true_acc, 4) + " (rank " + fixed(row.true_rank, 0) + ")",
         row.seconds < 0 ? "-" : fixed(row.seconds, 1), row.genotype});
  }
  page.table({"trial", "setting", "seed", "status", "search acc", "test acc", "true acc", "seconds",
              "architecture"},
             trial_rows);
}

}  // namespace nasx::core
