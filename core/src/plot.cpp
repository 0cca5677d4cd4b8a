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
    gp << (s ? ", \\\n     " : "") << "$series" << s << " using 1:2 with " << series.style
       << (series.style == "lines" ? " lw 2" : " pt 7 ps 0.6") << " title "
       << double_quoted(series.title);
  }
  gp << "\n";
  return gp.str();
}

void draw_plot(const Plot& plot, const fs::path& folder, const std::string& name) {
  const std::string svg = name + ".svg";
  write_file_atomically(folder / (name + ".gp"), gnuplot_script(plot, svg));
  // Drawn to a temporary name, then renamed: a failed plot leaves no half-written SVG.
  const fs::path temporary = folder / (name + ".svg.tmp");
  const fs::path script = folder / (name + ".gp.tmp");
  write_file_atomically(script, gnuplot_script(plot, temporary.string()));
  const CommandOutput result = run_and_capture({"gnuplot", script.string()});
  std::error_code ignored;
  fs::remove(script, ignored);
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

}  // namespace nasx::core
