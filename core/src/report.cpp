#include "nasx/core/report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "nasx/core/cell_diagram.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"
#include "report_parts.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream folders(path ? path : "");
  std::string folder;
  while (std::getline(folders, folder, ':'))
    if (!folder.empty() && ::access((fs::path(folder) / program).c_str(), X_OK) == 0) return true;
  return false;
}

bool has_file_with_extension(const fs::path& dir, const std::string& extension) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error))
    if (entry.path().extension() == extension) return true;
  return false;
}

}  // namespace

std::vector<Json> read_jsonl(const fs::path& path) {
  std::vector<Json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Json record = parse_json_or_empty(line);
    if (record.is_object() && !record.empty()) records.push_back(std::move(record));
  }
  return records;
}

std::vector<Json> of_type(const std::vector<Json>& records, const std::string& type) {
  std::vector<Json> out;
  for (const Json& record : records)
    if (string_member(record, "type").value_or("") == type) out.push_back(record);
  return out;
}

std::string report_number(double value) { return format_value(value); }

ReportFigures::ReportFigures(fs::path folder)
    : folder_(std::move(folder)), have_gnuplot_(on_path("gnuplot")), have_dot_(on_path("dot")) {
  if (!have_gnuplot_)
    add_note("gnuplot is not installed, so this page has no plots: install gnuplot-nox "
             "(apt-get install gnuplot-nox, or tools/setup) and run nasx report again.");
  if (!have_dot_)
    add_note("Graphviz is not installed, so this page has no cell diagrams: install graphviz "
             "(apt-get install graphviz, or tools/setup) and run nasx report again.");
}

void ReportFigures::add_note(const std::string& note) {
  if (std::find(notes_.begin(), notes_.end(), note) == notes_.end()) notes_.push_back(note);
}

std::string ReportFigures::unique(const std::string& wanted) {
  std::string base;
  for (char c : wanted)
    base += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '-';
  std::string name = base;
  for (int i = 2; names_.count(name); ++i) name = base + "-" + std::to_string(i);
  names_.insert(name);
  return name;
}

std::string ReportFigures::adopt(const fs::path& svg) {
  const std::string name = unique(svg.stem().string()) + ".svg";
  fs::copy_file(svg, folder_ / name, fs::copy_options::overwrite_existing);
  ++drawn_;
  return name;
}

std::optional<std::string> ReportFigures::plot(const Plot& given, const std::string& name) {
  Plot plot = given;
  // Whole steps or epochs as tics while there are few of them.
  bool whole = !plot.series.empty();
  double low = 0, high = 0;
  for (const PlotSeries& series : plot.series)
    for (double x : series.x) {
      whole = whole && x == std::floor(x);
      low = std::min(low, x);
      high = std::max(high, x);
    }
  if (whole && high - low <= 20) plot.commands.insert(plot.commands.begin(), "set xtics 1");
  const std::string file = unique(name);
  if (!have_gnuplot_) {  // the script still, to draw where gnuplot is
    write_file_atomically(folder_ / (file + ".gp"), gnuplot_script(plot, file + ".svg"));
    return std::nullopt;
  }
  try {
    draw_plot(plot, folder_, file);
  } catch (const IoError& e) {
    add_note(e.what());
    return std::nullopt;
  }
  ++drawn_;
  return file + ".svg";
}

std::optional<std::string> ReportFigures::heatmaps(const Heatmaps& maps, const std::string& name) {
  const std::string file = unique(name);
  if (!have_gnuplot_) {
    write_file_atomically(folder_ / (file + ".gp"), heatmaps_script(maps, file + ".svg"));
    return std::nullopt;
  }
  try {
    draw_heatmaps(maps, folder_, file);
  } catch (const IoError& e) {
    add_note(e.what());
    return std::nullopt;
  }
  ++drawn_;
  return file + ".svg";
}

std::vector<std::string> ReportFigures::cells(const SearchSpace* space, const std::string& text,
                                              const std::string& name) {
  if (space == nullptr || text.empty()) return {};
  std::vector<std::string> files;
  if (!have_dot_) {  // the DOT text still, to draw where Graphviz is
    try {
      const Architecture arch = space->parse(text);
      const std::string stem = unique(name);
      const std::vector<std::string> types = space->cell_types();
      for (size_t c = 0; c < types.size(); ++c)
        write_file_atomically(folder_ / (stem + "-" + types[c] + ".dot"),
                              cell_dot(*space, arch, c, types[c] + " cell"));
    } catch (const Error& e) {
      add_note(std::string("a cell diagram could not be written: ") + e.what());
    }
    return {};
  }
  try {
    for (const fs::path& svg : draw_cells(*space, space->parse(text), folder_, unique(name)))
      files.push_back(svg.filename().string());
  } catch (const Error& e) {
    add_note(std::string("a cell diagram could not be drawn: ") + e.what());
    return {};
  }
  drawn_ += static_cast<int64_t>(files.size());
  return files;
}

std::unique_ptr<SearchSpace> report_space(const PluginRegistry& registry, const fs::path& config,
                                          ReportFigures& figures) {
  try {
    const RunConfig loaded =
        load_run_config(config.string(), {}, registry, ConfigUse::train);
    return make_space(registry, loaded.space);
  } catch (const Error& e) {
    // An older folder's config may not load any more; its space with the defaults still
    // parses and draws its architectures.
    std::string name;
    for (const Json& record : read_jsonl(config.parent_path() / "events.jsonl"))
      if (const auto space = string_member(record, "space")) name = *space;
    if (name.empty())
      name = string_member(parse_json_or_empty(read_text_file(config.parent_path() /
                                                              "summary.json")),
                           "space")
                 .value_or("");
    if (!name.empty()) {
      try {
        SpaceSection section;
        section.name = name;
        auto space = make_space(registry, section);
        figures.add_note(config.string() + " does not load (" + e.what() +
                         "); the cells are drawn by space '" + name + "' with its defaults.");
        return space;
      } catch (const Error&) {
      }
    }
    figures.add_note(std::string("no cell diagrams or edge names: ") + e.what());
    return nullptr;
  }
}

void add_cells(HtmlPage& page, ReportFigures& figures, const SearchSpace* space,
               const std::string& text, const std::string& name, const std::string& caption) {
  const std::vector<std::string> files = figures.cells(space, text, name);
  if (!files.empty()) page.figures(files, caption);
}

namespace {

/// Which figure a metric goes in.
std::string metric_group(const std::string& key) {
  if (key.find("loss") != std::string::npos) return "loss";
  if (key.size() >= 3 && (key.find("_acc") != std::string::npos || key.rfind("acc", 0) == 0))
    return "accuracy";
  if (key == "lr" || key.find("_lr") != std::string::npos) return "learning rate";
  return key;
}

}  // namespace

void add_curves(HtmlPage& page, ReportFigures& figures, const std::vector<Json>& records,
                const std::string& x_key, const std::string& what) {
  // group -> key -> (x, y)
  std::map<std::string, std::map<std::string, PlotSeries>> groups;
  std::vector<std::string> order;
  for (const Json& record : records) {
    const auto x = number_member(record, x_key);
    if (!x) continue;
    for (const auto& [key, value] : record.items()) {
      if (key == x_key || key == "seconds" || !value.is_number()) continue;
      const std::string group = metric_group(key);
      if (!groups.count(group)) order.push_back(group);
      PlotSeries& series = groups[group][key];
      series.title = key;
      series.style = "linespoints";
      series.x.push_back(*x);
      series.y.push_back(value.get<double>());
    }
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& group : order) {
    Plot plot;
    plot.title = what + ": " + group;
    plot.xlabel = x_key;
    plot.ylabel = group;
    for (auto& [key, series] : groups[group]) plot.series.push_back(series);
    if (const auto file = figures.plot(plot, what + "-" + group))
      files.emplace_back(*file, plot.title + " (" + *file + ")");
  }
  page.gallery(files);
  if (groups.empty()) page.paragraph("No " + what + " records yet.");
}

void add_summary_table(HtmlPage& page, const Json& summary, const std::set<std::string>& skip) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, value] : summary.items()) {
    if (skip.count(key)) continue;
    if (value.is_number())
      rows.push_back({key, report_number(value.get<double>())});
    else if (value.is_string())
      rows.push_back({key, value.get<std::string>()});
    else if (value.is_boolean())
      rows.push_back({key, value.get<bool>() ? "true" : "false"});
  }
  if (!rows.empty()) page.table({"key", "value"}, rows);
}

void add_training_sections(HtmlPage& page, ReportFigures& figures, const fs::path& dir,
                           const SearchSpace* space, int level) {
  const TrainPaths paths(dir);
  const std::string genotype = first_line_of(paths.genotype);
  const Json summary = parse_json_or_empty(read_text_file(paths.summary));
  const std::vector<Json> epochs = read_jsonl(paths.epochs);
  if (summary.empty())
    page.note("This training has not finished: " + std::to_string(epochs.size()) +
              (epochs.size() == 1 ? " epoch" : " epochs") + " logged so far (nasx resume " +
              dir.string() + " continues it).");
  page.heading(level, "The network trained");
  page.raw("<code>" + html_escape(genotype) + "</code>");
  add_cells(page, figures, space, genotype, "trained-cell", "the cells of the trained network");
  if (!summary.empty()) add_summary_table(page, summary, {"genotype"});
  page.heading(level, "Training curves");
  add_curves(page, figures, epochs, "epoch", "training");
  page.begin_details("train.toml");
  page.preformatted(read_text_file(paths.config));
  page.end_details();
}

void training_page(HtmlPage& page, ReportFigures& figures, const fs::path& dir,
                   const PluginRegistry& registry) {
  const auto space = report_space(registry, TrainPaths(dir).config, figures);
  add_training_sections(page, figures, dir, space.get(), 2);
}

void analysis_page(HtmlPage& page, ReportFigures& figures, const fs::path& dir) {
  // The analysis drew its own figures (NAME.svg beside NAME.gp): copied, not redrawn.
  std::vector<fs::path> texts, svgs, csvs;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string extension = entry.path().extension().string();
    if (extension == ".txt") texts.push_back(entry.path());
    if (extension == ".svg") svgs.push_back(entry.path());
    if (extension == ".csv") csvs.push_back(entry.path());
  }
  std::sort(texts.begin(), texts.end());
  std::sort(svgs.begin(), svgs.end());
  std::sort(csvs.begin(), csvs.end());
  page.heading(2, "Tables");
  for (const fs::path& text : texts) {
    page.heading(3, text.filename().string());
    page.preformatted(read_text_file(text));
  }
  if (!csvs.empty()) {
    std::string links;
    for (const fs::path& csv : csvs)
      links += (links.empty() ? "" : ", ") + html_link("../" + csv.filename().string(),
                                                        csv.filename().string());
    page.raw("The same tables as CSV: " + links);
  }
  page.heading(2, "Figures");
  for (const fs::path& svg : svgs) {
    page.figure(figures.adopt(svg), svg.filename().string());
  }
  if (svgs.empty()) page.paragraph("The analysis drew no figures (was gnuplot missing?).");
}

const char* report_kind_name(ReportKind kind) {
  switch (kind) {
    case ReportKind::run: return "run";
    case ReportKind::training: return "training";
    case ReportKind::sweep: return "sweep";
    case ReportKind::analysis: return "analysis";
  }
  return "?";
}

ReportKind report_kind(const fs::path& dir) {
  std::error_code error;
  if (!fs::exists(dir, error))
    throw IoError(dir.string() + " does not exist; give a run, training, sweep or analysis "
                  "folder");
  if (!fs::is_directory(dir, error))
    throw IoError(dir.string() + " is a file, not a folder; give the run, training, sweep or "
                  "analysis folder it is in");
  if (fs::exists(dir / "sweep.json", error)) return ReportKind::sweep;
  if (is_training_folder(dir)) return ReportKind::training;
  if (fs::exists(RunPaths(dir).config, error) && fs::exists(RunPaths(dir).events, error))
    return ReportKind::run;
  if (fs::exists(dir / "summary.json", error) && has_file_with_extension(dir, ".txt") &&
      has_file_with_extension(dir, ".csv"))
    return ReportKind::analysis;
  throw IoError(dir.string() + " is not a folder nasx report reads: a search run has "
                "config.toml and events.jsonl, a training folder train.toml, a sweep "
                "sweep.json, an analysis summary.json with its .txt and .csv tables; give "
                "the folder nasx printed");
}

ReportResult write_report(const fs::path& dir, const PluginRegistry& registry) {
  ReportResult result;
  result.kind = report_kind(dir);
  const fs::path target = dir / "report";
  // The report folder is replaced whole: never a report/ that nasx did not write.
  std::error_code error;
  if (fs::exists(target, error) && !fs::exists(target / "index.html", error))
    throw IoError(target.string() + " exists and is not an earlier report (no index.html); "
                  "nasx report replaces that folder whole, so move it away first");
  StagedFolder staged(target);
  ReportFigures figures(staged.path());
  const std::string name = fs::absolute(dir).lexically_normal().filename().string();
  HtmlPage page(std::string(report_kind_name(result.kind)) + " " +
                (name.empty() ? dir.string() : name));
  HtmlPage body("");
  switch (result.kind) {
    case ReportKind::run: run_page(body, figures, dir, registry); break;
    case ReportKind::training: training_page(body, figures, dir, registry); break;
    case ReportKind::sweep: sweep_page(body, figures, dir, registry); break;
    case ReportKind::analysis: analysis_page(body, figures, dir); break;
  }
  page.paragraph("Folder: " + fs::absolute(dir).lexically_normal().string() +
                 ". Every figure's data and gnuplot or Graphviz script is beside it "
                 "(NAME.gp, NAME.dot) to restyle.");
  for (const std::string& note : figures.notes()) page.note(note);
  page.raw_body(body);
  write_file_atomically(staged.path() / "index.html", page.html());
  staged.commit();
  result.page = target / "index.html";
  result.figures = figures.drawn();
  result.notes = figures.notes();
  return result;
}

}  // namespace nasx::core
