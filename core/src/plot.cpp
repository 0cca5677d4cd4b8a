#include "nasx/core/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "nasx/core/files.hpp"
#include "nasx/core/process.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

std::string number(double value) {
  if (!std::isfinite(value)) return "NaN";
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

/// Inside the plot's top left; a legend of many series beside it, or under it when its
/// titles are long (run folder names) and would squeeze the plot to a strip.
std::string key_position(const Plot& plot) {
  if (!plot.key_outside) return "set key top left";
  size_t longest = 0;
  for (const PlotSeries& series : plot.series) longest = std::max(longest, series.title.size());
  return longest > 24 ? "set key below" : "set key outside right top";
}

}  // namespace

std::string gnuplot_script(const Plot& plot, const std::string& svg_name) {
  std::ostringstream gp;
  gp << "# Drawn by nasx; edit and run `gnuplot " << fs::path(svg_name).stem().string()
     << ".gp` to redraw.\n"
     << "set terminal svg size 820,520 dynamic enhanced font 'sans,12' background '#ffffff'\n"
     << "set output " << double_quoted(svg_name) << "\n"
     << "set title " << double_quoted(plot.title) << " noenhanced\n"
     << "set xlabel " << double_quoted(plot.xlabel) << " noenhanced\n"
     << "set ylabel " << double_quoted(plot.ylabel) << " noenhanced\n"
     << "set grid lc rgb '#dddddd'\nset border lc rgb '#555555'\n"
     << key_position(plot) << " noenhanced\n";
  if (plot.reverse_y) gp << "set yrange [*:*] reverse\n";
  for (const std::string& command : plot.commands) gp << command << "\n";
  if (!plot.boxes.empty() && plot.bars) {
    gp << "$bars << EOD\n";
    for (const BoxGroup& group : plot.boxes) {
      std::string label = group.label;
      std::replace(label.begin(), label.end(), '"', '\'');
      double mean = 0, squares = 0;
      for (double v : group.values) mean += v / static_cast<double>(group.values.size());
      for (double v : group.values) squares += (v - mean) * (v - mean);
      const double std = group.values.size() > 1
                             ? std::sqrt(squares / static_cast<double>(group.values.size() - 1))
                             : 0.0;
      gp << '"' << label << "\" " << number(mean) << " " << number(std) << "\n";
    }
    gp << "EOD\n$points << EOD\n";
    for (size_t g = 0; g < plot.boxes.size(); ++g)
      for (double v : plot.boxes[g].values) gp << g << " " << number(v) << "\n";
    bool non_negative = true;
    for (const BoxGroup& group : plot.boxes)
      for (double v : group.values) non_negative = non_negative && v >= 0;
    // Bars are read from zero; means with error bars let the axis fit the values.
    gp << "EOD\n" << (non_negative && plot.from_zero ? "set yrange [0:*]\n" : "");
    gp << "set style fill solid 0.35 border -1\nset boxwidth 0.6\nset key off\n"
       << "set xtics rotate by -20 noenhanced\nset xrange [-0.6:"
       << number(static_cast<double>(plot.boxes.size()) - 0.4) << "]\n"
       << "plot $bars using 0:2:3:xtic(1) with "
       << (plot.from_zero ? "boxerrorbars lc rgb '#4477aa'"
                          : "yerrorbars pt 5 ps 1.2 lw 2 lc rgb '#4477aa'")
       << " notitle, \\\n"
       << "     $points using 1:2 with points pt 7 ps 0.8 lc rgb '#222222' notitle\n";
    return gp.str();
  }
  if (!plot.boxes.empty()) {
    // The label is the box's factor column: gnuplot puts box g at x = g + 1 and writes
    // the label under it. Data-block strings take no escapes, hence no double quotes.
    gp << "$boxes << EOD\n";
    for (const BoxGroup& group : plot.boxes) {
      std::string label = group.label;
      std::replace(label.begin(), label.end(), '"', '\'');
      for (double v : group.values) gp << '"' << label << "\" " << number(v) << "\n";
    }
    gp << "EOD\nset style fill solid 0.35 border -1\nset style boxplot outliers pointtype 7\n"
       << "set style data boxplot\nset boxwidth 0.6\nset key off\n"
       << "set xtics rotate by -45 noenhanced\nset xrange [0.3:" << number(plot.boxes.size() + 0.7)
       << "]\n";
    gp << "plot $boxes using (1):2:(0.6):1 lc rgb '#4477aa' notitle\n";
    return gp.str();
  }
  for (size_t s = 0; s < plot.series.size(); ++s) {
    gp << "$series" << s << " << EOD\n";
    const PlotSeries& series = plot.series[s];
    for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i)
      gp << number(series.x[i]) << " " << number(series.y[i]) << "\n";
    gp << "EOD\n";
  }
  gp << "plot ";
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const PlotSeries& series = plot.series[s];
    // Past gnuplot's 8 colours the point shape and dash tell series apart.
    const std::string shape = plot.series.size() > 8 ? " pt " + std::to_string(s % 13 + 1) +
                                                           " dt " + std::to_string(s / 8 + 1)
                                                     : " pt 7";
    gp << (s ? ", \\\n     " : "") << "$series" << s << " using 1:2 with " << series.style
       << (series.style == "lines" ? " lw 2" : shape + " ps 0.6") << " title "
       << double_quoted(series.title);
  }
  gp << "\n";
  return gp.str();
}

std::string heatmaps_script(const Heatmaps& maps, const std::string& svg_name) {
  const auto panels = static_cast<int64_t>(maps.panels.size());
  const int64_t per_row = std::max<int64_t>(1, std::min(maps.panels_per_row, panels));
  const int64_t rows = std::max<int64_t>(1, (panels + per_row - 1) / per_row);
  const auto height = static_cast<long long>(80 + rows * (40 + 16 * maps.row_labels.size()));
  std::ostringstream gp;
  gp << "# Drawn by nasx; edit and run `gnuplot " << fs::path(svg_name).stem().string()
     << ".gp` to redraw.\n"
     << "set terminal svg size 1000," << height
     << " dynamic enhanced font 'sans,10' background '#ffffff'\n"
     << "set output " << double_quoted(svg_name) << "\n"
     << "set palette defined (0 '#ffffff', 1 '#08306b')\n"
     << "set cbrange [" << number(maps.low) << ":"
     << number(maps.high > maps.low ? maps.high : maps.low + 1) << "]\n"
     << "set cblabel " << double_quoted(maps.scale_label) << " noenhanced\n"
     << "set border lc rgb '#555555'\nset tics scale 0.5\n";
  const double first = maps.columns.empty() ? 0 : maps.columns.front();
  const double last = maps.columns.empty() ? 0 : maps.columns.back();
  const double half = maps.columns.size() > 1
                          ? (last - first) / static_cast<double>(maps.columns.size() - 1) / 2
                          : 0.5;
  // The steps themselves as tics while they are few.
  if (!maps.columns.empty() && maps.columns.size() <= 12) {
    std::string tics;
    for (double column : maps.columns) tics += (tics.empty() ? "" : ", ") + number(column);
    gp << "set xtics (" << tics << ")\n";
  }
  gp << "set xrange [" << number(first - half) << ":" << number(last + half) << "]\n"
     << "set yrange [-0.5:" << number(static_cast<double>(maps.row_labels.size()) - 0.5) << "]\n";
  std::string row_tics = "(";
  for (size_t r = 0; r < maps.row_labels.size(); ++r)
    row_tics += (r ? ", " : "") + double_quoted(maps.row_labels[r]) + " " + std::to_string(r);
  row_tics += ")";
  // Margins in screen fractions: room for the operation names left, the scale right.
  gp << "set multiplot layout " << rows << "," << per_row << " title " << double_quoted(maps.title)
     << " noenhanced margins 0.11,0.9," << number(50.0 / static_cast<double>(height)) << ","
     << number(1 - 56.0 / static_cast<double>(height)) << " spacing 0.012,"
     << number(24.0 / static_cast<double>(height)) << "\n";
  for (int64_t p = 0; p < panels; ++p) {
    const HeatmapPanel& panel = maps.panels[static_cast<size_t>(p)];
    gp << "$panel" << p << " << EOD\n";
    for (size_t c = 0; c < panel.values.size() && c < maps.columns.size(); ++c)
      for (size_t r = 0; r < panel.values[c].size(); ++r)
        gp << number(maps.columns[c]) << " " << r << " " << number(panel.values[c][r]) << "\n";
    gp << "EOD\n"
       << "set title " << double_quoted(panel.title) << " noenhanced offset 0,-0.6\n"
       << (p % per_row == 0 ? "set ytics " + row_tics + " noenhanced\n" : "unset ytics\n")
       << (p + per_row >= panels
               ? "set xtics format '% h'\nset xlabel " + double_quoted(maps.xlabel) + "\n"
               : "set xtics format ''\nunset xlabel\n")
       << (p == 0 ? "set colorbox user origin screen 0.93, screen 0.15 size screen 0.015, "
                    "screen 0.7\n"
                  : "unset colorbox\n")
       << "plot $panel" << p << " using 1:2:(" << number(half)
       << "):(0.5):3 with boxxyerror fs solid 1.0 noborder lc palette notitle\n";
  }
  gp << "unset multiplot\n";
  return gp.str();
}

namespace {

/// Writes folder/NAME.gp and draws folder/NAME.svg with the script `script(svg path)`.
void draw_gnuplot(const std::function<std::string(const std::string&)>& script,
                  const fs::path& folder, const std::string& name) {
  const std::string svg = name + ".svg";
  write_file_atomically(folder / (name + ".gp"), script(svg));
  // Drawn to a temporary name, then renamed: a failed plot leaves no half-written SVG.
  const fs::path temporary = folder / (name + ".svg.tmp");
  const fs::path gp = folder / (name + ".gp.tmp");
  write_file_atomically(gp, script(temporary.string()));
  const CommandOutput result = run_and_capture({"gnuplot", gp.string()});
  std::error_code ignored;
  fs::remove(gp, ignored);
  if (!result.started)
    throw IoError("cannot draw " + (folder / svg).string() +
                  ": gnuplot is not installed; install gnuplot-nox (tools/setup does), or read "
                  "the numbers in the tables beside it");
  if (result.exit_code != 0 || !fs::exists(temporary)) {
    fs::remove(temporary, ignored);
    throw IoError("gnuplot failed to draw " + (folder / svg).string() + ": " + result.output +
                  " (its script: " + (folder / (name + ".gp")).string() + ")");
  }
  commit_rename(temporary, folder / svg);
}

}  // namespace

void draw_plot(const Plot& plot, const fs::path& folder, const std::string& name) {
  draw_gnuplot([&](const std::string& svg) { return gnuplot_script(plot, svg); }, folder, name);
}

void draw_heatmaps(const Heatmaps& maps, const fs::path& folder, const std::string& name) {
  draw_gnuplot([&](const std::string& svg) { return heatmaps_script(maps, svg); }, folder, name);
}

}  // namespace nasx::core
