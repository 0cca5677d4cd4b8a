#pragma once
// The pieces the report pages share: reading JSON-lines logs, drawing figures into the
// report folder (or noting why not), curves of a log's metrics, cell diagrams.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nasx/core/html_page.hpp"
#include "nasx/core/plot.hpp"
#include "nasx/json.hpp"

namespace nasx {
class SearchSpace;
}

namespace nasx::core {

class PluginRegistry;

/// The JSON objects of a JSON-lines file, in order; a line that does not parse (the
/// half-written last line of a running process) is left out. Empty when missing.
std::vector<Json> read_jsonl(const std::filesystem::path& path);

/// The records of `records` whose "type" is `type`.
std::vector<Json> of_type(const std::vector<Json>& records, const std::string& type);

/// Draws into one report folder and keeps what could not be drawn as notes for the page.
class ReportFigures {
 public:
  explicit ReportFigures(std::filesystem::path folder);

  /// The SVG file name, or nullopt (the reason noted) when gnuplot is missing or fails.
  std::optional<std::string> plot(const Plot& plot, const std::string& name);
  std::optional<std::string> heatmaps(const Heatmaps& maps, const std::string& name);
  /// One SVG per cell type of `text` (empty when dot is missing or `space` is null).
  std::vector<std::string> cells(const SearchSpace* space, const std::string& text,
                                 const std::string& name);
  /// Copies a figure drawn elsewhere (an analysis's) into the report; its file name.
  std::string adopt(const std::filesystem::path& svg);
  /// A file name no other figure has ("cell-step3", "curves-train"), from `wanted`.
  std::string unique(const std::string& wanted);

  const std::filesystem::path& folder() const { return folder_; }
  int64_t drawn() const { return drawn_; }
  const std::vector<std::string>& notes() const { return notes_; }
  void add_note(const std::string& note);

 private:
  std::filesystem::path folder_;
  bool have_gnuplot_, have_dot_;
  int64_t drawn_ = 0;
  std::set<std::string> names_;
  std::vector<std::string> notes_;
};

/// Loss, accuracy, learning-rate and other curves of `records` (numbers per record) over
/// `x_key`, one figure each, with `what` in the titles ("search", "training").
void add_curves(HtmlPage& page, ReportFigures& figures, const std::vector<Json>& records,
                const std::string& x_key, const std::string& what);

/// A table of the numbers and strings of a JSON object (summary.json).
void add_summary_table(HtmlPage& page, const Json& summary,
                       const std::set<std::string>& skip = {});

/// The diagrams of `text`'s cells in a row, or a line saying why there are none.
void add_cells(HtmlPage& page, ReportFigures& figures, const SearchSpace* space,
               const std::string& text, const std::string& name, const std::string& caption);

/// The space of a folder's config (config.toml or train.toml), or null with a note (the
/// plugin is not found, the config does not load).
std::unique_ptr<SearchSpace> report_space(const PluginRegistry& registry,
                                          const std::filesystem::path& config,
                                          ReportFigures& figures);

/// The training section of a training folder (used for `nasx train` folders and a run's
/// train/).
void add_training_sections(HtmlPage& page, ReportFigures& figures,
                           const std::filesystem::path& dir, const SearchSpace* space,
                           int heading_level);

/// %.4g of `value` (integers without a fraction).
std::string report_number(double value);

/// Page builders per folder kind (report_run.cpp, report_sweep.cpp, report.cpp).
void run_page(HtmlPage& page, ReportFigures& figures, const std::filesystem::path& dir,
              const PluginRegistry& registry);
void training_page(HtmlPage& page, ReportFigures& figures, const std::filesystem::path& dir,
                   const PluginRegistry& registry);
void sweep_page(HtmlPage& page, ReportFigures& figures, const std::filesystem::path& dir,
                const PluginRegistry& registry);
void analysis_page(HtmlPage& page, ReportFigures& figures, const std::filesystem::path& dir);

}  // namespace nasx::core
