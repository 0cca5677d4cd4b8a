// The report page of a search run: the answer's cells, the search curves, how the
// architecture weights moved, the architecture after every step, the sampled
// architectures, the selection and the final training.

#include <algorithm>
#include <cmath>

#include "nasx/core/cell_diagram.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/training.hpp"
#include "nasx/space.hpp"
#include "report_parts.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// step -> cell type -> [edge][operation] weights, from the arch_weights records.
struct ArchWeights {
  std::vector<double> steps;
  std::vector<std::string> cell_types;
  std::vector<std::string> operations;  ///< the column names the records carry
  std::vector<std::map<std::string, std::vector<std::vector<double>>>> at_step;
};

ArchWeights read_arch_weights(const std::vector<Json>& events) {
  ArchWeights weights;
  for (const Json& record : of_type(events, "arch_weights")) {
    std::map<std::string, std::vector<std::vector<double>>> cells;
    for (const auto& [key, value] : record.items()) {
      if (key == "operations" && value.is_array()) {
        weights.operations.clear();
        for (const Json& name : value)
          if (name.is_string()) weights.operations.push_back(name.get<std::string>());
        continue;
      }
      if (!value.is_array() || value.empty() || !value.front().is_array()) continue;
      std::vector<std::vector<double>> rows;
      for (const Json& row : value) {
        std::vector<double> numbers;
        if (row.is_array())
          for (const Json& v : row)
            if (v.is_number()) numbers.push_back(v.get<double>());
        rows.push_back(numbers);
      }
      if (std::find(weights.cell_types.begin(), weights.cell_types.end(), key) ==
          weights.cell_types.end())
        weights.cell_types.push_back(key);
      cells[key] = rows;
    }
    weights.steps.push_back(number_member(record, "step").value_or(0));
    weights.at_step.push_back(cells);
  }
  return weights;
}

double entropy(const std::vector<double>& p) {
  double h = 0;
  for (double v : p)
    if (v > 0) h -= v * std::log(v);
  return h;
}

void add_arch_weights(HtmlPage& page, ReportFigures& figures, const std::vector<Json>& events,
                      const SearchSpace* space) {
  const ArchWeights weights = read_arch_weights(events);
  if (weights.steps.empty()) return;
  page.heading(2, "Architecture weights", "arch-weights");
  page.paragraph(
      "Per edge, the softmax over its operations after every step, coloured from white (the "
      "smallest weight seen) to dark blue (the largest; the colour bar gives the values, so "
      "read it before reading contrast: early in a search all weights are near uniform): an "
      "edge whose skip_connect row darkens while the others fade is "
      "the skip-connection collapse. Below each, the entropy of every edge's distribution "
      "(ln of the number of operations when uniform, 0 when one operation has it all).");
  const std::vector<std::string> cell_types =
      space ? space->cell_types() : weights.cell_types;
  for (size_t c = 0; c < weights.cell_types.size(); ++c) {
    const std::string& type = weights.cell_types[c];
    // "normal cell", "reduce cell"; NB201's one type is already called "cell".
    const std::string cell = type == "cell" ? type : type + " cell";
    const auto position = std::find(cell_types.begin(), cell_types.end(), type);
    const bool known = space && position != cell_types.end();
    const std::vector<std::string> labels =
        known ? edge_labels(*space, static_cast<size_t>(position - cell_types.begin()))
              : std::vector<std::string>{};
    Heatmaps maps;
    maps.title = cell + ": operation weights per edge over steps";
    maps.xlabel = "step";
    maps.scale_label = "weight";
    maps.columns = weights.steps;
    maps.low = 1;
    maps.high = 0;
    size_t edges = 0, operations = 0;
    for (const auto& cells : weights.at_step) {
      const auto found = cells.find(type);
      if (found == cells.end()) continue;
      edges = std::max(edges, found->second.size());
      for (const auto& row : found->second) {
        operations = std::max(operations, row.size());
        for (double v : row) {
          maps.low = std::min(maps.low, v);
          maps.high = std::max(maps.high, v);
        }
      }
    }
    for (size_t o = 0; o < operations; ++o)
      maps.row_labels.push_back(o < weights.operations.size() ? weights.operations[o]
                                : space && o < space->operations().size() ? space->operations()[o]
                                                                          : "op " + std::to_string(o));
    std::vector<PlotSeries> entropies;
    for (size_t e = 0; e < edges; ++e) {
      HeatmapPanel panel;
      panel.title = e < labels.size() ? labels[e] : "edge " + std::to_string(e);
      PlotSeries series;
      series.title = panel.title;
      for (size_t s = 0; s < weights.at_step.size(); ++s) {
        const auto found = weights.at_step[s].find(type);
        std::vector<double> row(operations, 0.0);
        if (found != weights.at_step[s].end() && e < found->second.size()) row = found->second[e];
        row.resize(operations, 0.0);
        panel.values.push_back(row);
        series.x.push_back(weights.steps[s]);
        series.y.push_back(entropy(row));
      }
      maps.panels.push_back(panel);
      entropies.push_back(series);
    }
    maps.panels_per_row = edges > 6 ? 5 : static_cast<int64_t>(std::max<size_t>(edges, 1));
    // The colours span the weights seen, so that an early search's small differences
    // show; the colour bar gives the values (a collapse shows as a bar up to ~1).
    if (maps.high <= maps.low) maps.high = maps.low + 1e-6;
    page.heading(3, cell);
    if (const auto file = figures.heatmaps(maps, "weights-" + type))
      page.figure(*file, "operation weights of the " + cell + " (" + *file + ")");
    Plot plot;
    plot.title = cell + ": entropy of each edge's operation weights";
    plot.xlabel = "step";
    plot.ylabel = "entropy (nats)";
    plot.series = entropies;
    for (auto& series : plot.series) series.style = "linespoints";
    plot.key_outside = true;
    // From 0 (one operation) to ln(operations) (uniform): small changes look small.
    plot.commands.push_back("set yrange [0:" +
                            std::to_string(1.02 * std::log(static_cast<double>(
                                                      std::max<size_t>(operations, 2)))) +
                            "]");
    if (const auto file = figures.plot(plot, "entropy-" + type))
      page.figure(*file, "edge entropies of the " + cell + " (" + *file + ")");
    // The last step's numbers, for reading off exact values.
    const auto& last = weights.at_step.back();
    const auto found = last.find(type);
    if (found == last.end()) continue;
    std::vector<std::string> header = {"edge"};
    header.insert(header.end(), maps.row_labels.begin(), maps.row_labels.end());
    header.push_back("entropy");
    std::vector<std::vector<std::string>> rows;
    for (size_t e = 0; e < found->second.size(); ++e) {
      std::vector<std::string> row = {e < labels.size() ? labels[e] : std::to_string(e)};
      for (double v : found->second[e]) row.push_back(report_number(v));
      row.push_back(report_number(entropy(found->second[e])));
      rows.push_back(row);
    }
    page.begin_details("the weights after the last step (" +
                       report_number(weights.steps.back()) + ")");
    page.table(header, rows);
    page.end_details();
  }
}

void add_genotype_history(HtmlPage& page, ReportFigures& figures, const fs::path& file,
                          const SearchSpace* space) {
  const std::vector<Json> records = read_jsonl(file);
  if (records.empty()) return;
  page.heading(2, "The architecture after every step", "history");
  // One entry per change: "steps 3-7" share a drawing.
  struct Span {
    double first, last;
    std::string genotype;
  };
  std::vector<Span> spans;
  for (const Json& record : records) {
    const std::string genotype = string_member(record, "genotype").value_or("");
    const double step = number_member(record, "step").value_or(0);
    if (!spans.empty() && spans.back().genotype == genotype)
      spans.back().last = step;
    else
      spans.push_back({step, step, genotype});
  }
  constexpr size_t kDrawn = 40;  // the last ones; a long evolution changes its best often
  page.paragraph(std::to_string(records.size()) + " steps, " + std::to_string(spans.size()) +
                 " different architectures" +
                 (spans.size() > kDrawn ? " (the last " + std::to_string(kDrawn) + " drawn)" : "") +
                 ".");
  for (size_t i = spans.size() > kDrawn ? spans.size() - kDrawn : 0; i < spans.size(); ++i) {
    const Span& span = spans[i];
    const std::string steps = span.first == span.last
                                  ? "step " + report_number(span.first)
                                  : "steps " + report_number(span.first) + "\u2013" +
                                        report_number(span.last);
    page.begin_details(steps + ": " + span.genotype);
    add_cells(page, figures, space, span.genotype, "step-" + report_number(span.first), steps);
    page.end_details();
  }
}

void add_evaluations(HtmlPage& page, ReportFigures& figures, const fs::path& file) {
  const std::vector<Json> records = read_jsonl(file);
  if (records.empty()) return;
  page.heading(2, "Evaluated architectures", "evaluations");
  PlotSeries each, best;
  each.title = "each evaluation";
  each.style = "points";
  best.title = "best so far";
  double best_acc = -1;
  std::vector<std::pair<double, std::string>> ranked;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto accuracy = number_member(records[i], "accuracy");
    if (!accuracy) continue;
    each.x.push_back(static_cast<double>(i + 1));
    each.y.push_back(*accuracy);
    best_acc = std::max(best_acc, *accuracy);
    best.x.push_back(static_cast<double>(i + 1));
    best.y.push_back(best_acc);
    ranked.emplace_back(*accuracy, string_member(records[i], "arch").value_or(""));
  }
  Plot plot;
  plot.title = "accuracy of every evaluated architecture";
  plot.xlabel = "evaluation";
  plot.ylabel = "accuracy";
  plot.series = {each, best};
  if (const auto svg = figures.plot(plot, "evaluations"))
    page.figure(*svg, std::to_string(records.size()) + " evaluations (" + *svg + ")");
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < ranked.size() && i < 10; ++i)
    rows.push_back({std::to_string(i + 1), report_number(ranked[i].first), ranked[i].second});
  page.paragraph("The ten best evaluations:");
  page.table({"rank", "accuracy", "architecture"}, rows);
}

void add_selection(HtmlPage& page, ReportFigures& figures, const fs::path& dir,
                   const std::vector<Json>& events, const SearchSpace* space) {
  const std::vector<Json> selected = of_type(events, "selected");
  std::vector<fs::path> folders;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error))
    if (entry.is_directory() && entry.path().filename().string().rfind("select-", 0) == 0)
      folders.push_back(entry.path());
  std::sort(folders.begin(), folders.end());
  if (selected.empty() && folders.empty()) return;
  page.heading(2, "Selection", "selection");
  for (const Json& record : selected)
    page.raw("selected by <b>" + html_escape(string_member(record, "by").value_or("?")) +
             "</b>: <code>" + html_escape(string_member(record, "genotype").value_or("")) +
             "</code>");
  for (const fs::path& folder : folders) {
    const std::string name = folder.filename().string();
    page.heading(3, name + " (nasx select)");
    const std::string genotype = first_line_of(folder / "genotype.txt");
    if (!genotype.empty()) {
      page.raw("<code>" + html_escape(genotype) + "</code>");
      add_cells(page, figures, space, genotype, name,
                "the architecture " + name + " chose");
    }
    const std::vector<Json> select_events = read_jsonl(folder / "events.jsonl");
    add_curves(page, figures, of_type(select_events, "select_step"), "step", name);
    const std::vector<Json> decisions = of_type(select_events, "pt_operation");
    if (!decisions.empty()) {
      std::vector<std::vector<std::string>> rows;
      for (const Json& d : decisions)
        rows.push_back({report_number(number_member(d, "step").value_or(0)),
                        string_member(d, "cell").value_or(""),
                        report_number(number_member(d, "edge").value_or(0)),
                        string_member(d, "chosen").value_or(""),
                        string_member(d, "criterion").value_or("")});
      page.begin_details("the " + std::to_string(decisions.size()) +
                         " decisions of the perturbation selection");
      page.table({"step", "cell", "edge", "chosen", "criterion"}, rows);
      page.end_details();
    }
  }
}

}  // namespace

void run_page(HtmlPage& page, ReportFigures& figures, const fs::path& dir,
              const PluginRegistry& registry) {
  const RunPaths paths(dir);
  const auto space = report_space(registry, paths.config, figures);
  const std::vector<Json> events = read_jsonl(paths.events);
  const std::vector<Json> steps = of_type(events, "step");
  const Json summary = parse_json_or_empty(read_text_file(paths.summary));
  const std::vector<Json> starts = of_type(events, "start");
  if (!starts.empty()) {
    const Json& start = starts.front();
    std::string line;
    for (const char* key : {"strategy", "space", "evaluator", "seed", "time"})
      if (start.contains(key))
        line += std::string(line.empty() ? "" : ", ") + key + " " +
                (start[key].is_string() ? start[key].get<std::string>() : start[key].dump());
    page.paragraph(line + ".");
  }
  if (summary.empty())
    page.note("This search has not finished: " + std::to_string(steps.size()) +
              " steps logged so far. The page shows them; run nasx report again later.");

  page.heading(2, "The answer", "answer");
  std::string answer = first_line_of(paths.genotype);
  if (answer.empty()) {
    const std::vector<Json> history = read_jsonl(paths.genotypes);
    if (!history.empty()) answer = string_member(history.back(), "genotype").value_or("");
    if (!answer.empty()) page.paragraph("No answer yet; the architecture after the last step:");
  }
  if (!answer.empty()) {
    page.raw("<code>" + html_escape(answer) + "</code>");
    add_cells(page, figures, space.get(), answer, "answer", "the answer's cells");
  }
  if (!summary.empty()) add_summary_table(page, summary, {"genotype", "genotype_cells"});

  page.heading(2, "Search curves", "curves");
  add_curves(page, figures, steps, "step", "search");
  add_arch_weights(page, figures, events, space.get());
  add_evaluations(page, figures, paths.evaluations);
  add_genotype_history(page, figures, paths.genotypes, space.get());
  add_selection(page, figures, dir, events, space.get());
  page.heading(2, "Final training (train/)", "training");
  if (is_training_folder(dir / "train"))
    add_training_sections(page, figures, dir / "train", space.get(), 3);
  else
    page.paragraph("This run has no final training (its config has no [train]): `nasx train " +
                   dir.string() + "` trains its answer into " + (dir / "train").string() + ".");
  page.heading(2, "Configuration", "config");
  page.begin_details("config.toml");
  page.preformatted(read_text_file(paths.config));
  page.end_details();
}

}  // namespace nasx::core
