#pragma once
/// Plots drawn by gnuplot's SVG terminal (Debian's gnuplot-nox, which tools/setup
/// installs). Each plot is written twice: NAME.gp, the gnuplot script with its data
/// inline (restyle it and run `gnuplot NAME.gp`), and NAME.svg, what it draws.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace nasx::core {

/// One line or point set.
struct PlotSeries {
  std::string title;
  std::vector<double> x, y;
  std::string style = "lines";  ///< gnuplot's: lines, points, linespoints
};

/// Box plots of several groups side by side (one box per group: quartiles, whiskers
/// at 1.5 IQR, outliers as points).
struct BoxGroup {
  std::string label;
  std::vector<double> values;
};

struct Plot {
  std::string title, xlabel, ylabel;
  std::vector<PlotSeries> series;
  std::vector<BoxGroup> boxes;  ///< a box plot instead of series when not empty
  bool reverse_y = false;       ///< ranks: 1 at the top
  bool key_outside = false;     ///< the legend right of the plot (many series)
  /// Extra gnuplot commands before `plot` (e.g. "set yrange [0:1]").
  std::vector<std::string> commands;
  /// Draw `boxes` as bars of the mean with the sample standard deviation as error bars
  /// and every value as a point (readable with a few seeds, where boxes collapse).
  bool bars = false;
  /// With `bars`: false draws the mean as a point with its error bar instead of a bar
  /// from zero, and lets the y axis fit the values (accuracies a point apart stay apart).
  bool from_zero = true;
};

/// Small heatmaps side by side on one colour scale: one panel per item (an edge), rows
/// (its operations) over columns (steps). Colour from white (`low`) to dark blue (`high`).
struct HeatmapPanel {
  std::string title;
  std::vector<std::vector<double>> values;  ///< [column][row]
};

struct Heatmaps {
  std::string title, xlabel, scale_label;
  std::vector<std::string> row_labels;  ///< one per row, shown on the left column's panels
  std::vector<double> columns;          ///< x of each column (e.g. the step)
  std::vector<HeatmapPanel> panels;
  int64_t panels_per_row = 4;
  double low = 0, high = 1;  ///< the colour scale's ends
};

/// The gnuplot script that draws `plot` to `svg_name` (data inline).
std::string gnuplot_script(const Plot& plot, const std::string& svg_name);

/// The gnuplot script (a multiplot) that draws `maps` to `svg_name`.
std::string heatmaps_script(const Heatmaps& maps, const std::string& svg_name);

/// draw_plot for heatmaps.
void draw_heatmaps(const Heatmaps& maps, const std::filesystem::path& folder,
                   const std::string& name);

/// Writes folder/NAME.gp and draws folder/NAME.svg (atomically). Throws IoError when
/// gnuplot is missing (saying what to install) or fails (quoting it).
void draw_plot(const Plot& plot, const std::filesystem::path& folder, const std::string& name);

}  // namespace nasx::core
