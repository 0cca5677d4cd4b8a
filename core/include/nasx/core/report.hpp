#pragma once
/// `nasx report DIR`: one static HTML page (DIR/report/index.html, opens from disk) with
/// the SVG figures it shows, for a search run, a training folder, a sweep or an analysis
/// folder, regenerated from the folder's logs (also while a run is unfinished). Figures
/// are drawn by gnuplot (plots) and Graphviz (cells); without them the page keeps its
/// tables and says which package adds the figures.

#include <filesystem>
#include <string>
#include <vector>

namespace nasx::core {

class PluginRegistry;

enum class ReportKind { run, training, sweep, analysis };

/// "run", "training", "sweep", "analysis".
const char* report_kind_name(ReportKind kind);

/// What `dir` is. Throws IoError saying what a report needs when it is none of them (a
/// missing folder, an empty one, a run's checkpoint folder...).
ReportKind report_kind(const std::filesystem::path& dir);

struct ReportResult {
  std::filesystem::path page;      ///< DIR/report/index.html
  ReportKind kind = ReportKind::run;
  int64_t figures = 0;             ///< SVG files drawn
  std::vector<std::string> notes;  ///< what is missing (a program, a plugin), shown in the page
};

/// Writes DIR/report/ whole or not at all (an earlier report is replaced once the new one
/// is complete). A sweep's report also writes each started trial's own report, linked
/// from its row.
ReportResult write_report(const std::filesystem::path& dir, const PluginRegistry& registry);

}  // namespace nasx::core
