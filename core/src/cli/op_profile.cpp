#include "op_profile.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/record_function.h>

#include "nasx/error.hpp"

namespace nasx::cli::bench {

namespace {

// The words of the printed table that read_printed_profile finds again.
constexpr const char* kCalls = "calls";
constexpr const char* kSelfMs = "self ms";

using Clock = std::chrono::steady_clock;

struct OpTotals {
  int64_t calls = 0;
  double self = 0;   // seconds
  double total = 0;  // seconds
};

struct Frame : at::ObserverContext {
  Clock::time_point start;
  double children = 0;  // seconds spent in operators this one called
  std::string key;      // with shapes: the name and its inputs' shapes; else empty
};

std::mutex g_mutex;
std::map<std::string, OpTotals> g_totals;  // under g_mutex
bool g_active = false;
bool g_by_shapes = false;  // set before the callback is added
// The open frames of this thread, innermost last (backward runs on its own thread).
thread_local std::vector<Frame*> t_stack;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  auto frame = std::make_unique<Frame>();
  // The inputs are only there while the operator starts: read them now.
  if (g_by_shapes) frame->key = shape_key(fn);
  frame->start = Clock::now();
  t_stack.push_back(frame.get());
  return frame;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* context) {
  auto* frame = static_cast<Frame*>(context);
  if (frame == nullptr) return;
  const double total = std::chrono::duration<double>(Clock::now() - frame->start).count();
  if (!t_stack.empty() && t_stack.back() == frame) t_stack.pop_back();
  if (!t_stack.empty()) t_stack.back()->children += total;
  std::lock_guard<std::mutex> lock(g_mutex);
  OpTotals& totals = g_totals[frame->key.empty() ? std::string(fn.name()) : frame->key];
  ++totals.calls;
  totals.total += total;
  totals.self += std::max(0.0, total - frame->children);
}

}  // namespace

std::string shape_key(const at::RecordFunction& fn) {
  std::string key = fn.name();
  for (const c10::IValue& v : fn.inputs()) {
    if (v.isTensor()) {
      const at::Tensor& t = v.toTensor();
      if (!t.defined()) {
        key += " -";
        continue;
      }
      key += " [";
      for (int64_t d = 0; d < t.dim(); ++d) key += (d ? "," : "") + std::to_string(t.size(d));
      key += "]";
      // The layout, where it is not the default: channels-last or neither (strided).
      if (t.dim() == 4 && !t.is_contiguous() && t.is_contiguous(at::MemoryFormat::ChannelsLast))
        key += "cl";
      else if (!t.is_contiguous())
        key += "strided";
    } else if (v.isInt()) {
      key += " " + std::to_string(v.toInt());
    } else if (v.isIntList()) {
      key += " (";
      const auto list = v.toIntVector();
      for (size_t i = 0; i < list.size(); ++i) key += (i ? "," : "") + std::to_string(list[i]);
      key += ")";
    }
  }
  return key;
}

OpProfile::OpProfile(bool by_shapes) : by_shapes_(by_shapes) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_active) throw Error("bench: one operator profile at a time");
  g_active = true;
  g_by_shapes = by_shapes;
  g_totals.clear();
  handle_ =
      at::addGlobalCallback(at::RecordFunctionCallback(&on_start, &on_end).needsInputs(by_shapes));
}

OpProfile::~OpProfile() {
  at::removeCallback(handle_);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_active = false;
}

void OpProfile::print(std::ostream& out, int64_t units, int top) const {
  std::vector<std::pair<std::string, OpTotals>> ops;
  double all = 0;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    ops.assign(g_totals.begin(), g_totals.end());
  }
  for (const auto& [name, t] : ops) all += t.self;
  std::sort(ops.begin(), ops.end(),
            [](const auto& a, const auto& b) { return a.second.self > b.second.self; });
  const double per = 1000.0 / static_cast<double>(std::max<int64_t>(1, units));
  const size_t width =
      by_shapes_ ? name_column_width(ops, top,
                                     [](const auto& op) -> const std::string& { return op.first; })
                 : 64;
  const auto name_width = static_cast<int>(width);
  out << "\noperators by self time, per unit (" << units << (units == 1 ? " unit" : " units")
      << " recorded; self: the "
      << "operator's own time, total: with what it called)\n"
      << std::left << std::setw(name_width) << "operator" << std::right << std::setw(8) << kCalls
      << std::setw(11) << kSelfMs << std::setw(11) << "total ms" << std::setw(8) << "self %"
      << "\n";
  int shown = 0;
  for (const auto& [name, t] : ops) {
    if (shown++ == top) break;
    out << std::left << std::setw(name_width) << name.substr(0, width - 1) << std::right
        << std::setw(8) << t.calls / std::max<int64_t>(1, units) << std::fixed
        << std::setprecision(2) << std::setw(11) << t.self * per << std::setw(11) << t.total * per
        << std::setprecision(1) << std::setw(8) << (all > 0 ? 100.0 * t.self / all : 0.0)
        << std::defaultfloat << "\n";
  }
  out << std::left << std::setw(name_width) << kAllOperators << std::right << std::setw(8) << ""
      << std::fixed << std::setprecision(2) << std::setw(11) << all * per << std::defaultfloat
      << "\n";
}

namespace {

/// How the rows of a table of `kind` end: how many numbers, and which of them (counted
/// from the right) is the row's figure.
struct RowLayout {
  size_t numbers, figure_from_right;
};
RowLayout layout_of(ProfileKind kind) {
  // time: calls, self ms, total ms, self %; memory: tensors, MiB, %.
  return kind == ProfileKind::time ? RowLayout{4, 2} : RowLayout{3, 1};
}

bool is_table_header(const std::string& line, ProfileKind kind) {
  if (line.rfind("operator ", 0) != 0) return false;
  if (kind == ProfileKind::time)
    return line.find(kCalls) != std::string::npos && line.find(kSelfMs) != std::string::npos;
  return line.find(kTensorsColumn) != std::string::npos && line.find("MiB") != std::string::npos;
}

bool is_table_total(const std::string& line) { return line.rfind(kAllOperators, 0) == 0; }

/// Whether a table ends at `line`: its total row, or (a memory table of a build that
/// wrote none) a blank line. Other lines inside a table that are not rows, such as a
/// warning interleaved from stderr, are passed over.
bool ends_table(const std::string& line) { return is_table_total(line) || line.empty(); }

/// Whether `word` is a number and nothing else.
bool is_number(const std::string& word, double& value) {
  try {
    size_t used = 0;
    value = std::stod(word, &used);
    return used == word.size();
  } catch (const std::exception&) {
    return false;
  }
}

/// An operator row of a table laid out as `layout`: the name (which may hold spaces and
/// end in a number), then the layout's numbers; false unless the line ends in those
/// numbers after a name.
bool read_row(const std::string& line, RowLayout layout, std::string& name, double& figure) {
  std::vector<std::string> numbers;  // the last words, from the right
  size_t end = line.find_last_not_of(' ');
  size_t start = 0;
  while (numbers.size() < layout.numbers && end != std::string::npos) {
    const size_t space = line.find_last_of(' ', end);
    start = space == std::string::npos ? 0 : space + 1;
    numbers.push_back(line.substr(start, end + 1 - start));
    if (start == 0) return false;  // no name before the numbers
    end = line.find_last_not_of(' ', start - 1);
  }
  if (numbers.size() < layout.numbers) return false;
  double value = 0;
  for (size_t k = 0; k < layout.numbers; ++k) {
    if (!is_number(numbers[k], value)) return false;
    if (k == layout.figure_from_right) figure = value;
  }
  name = line.substr(0, start);
  name.erase(name.find_last_not_of(' ') + 1);
  return !name.empty();
}

bool is_row(const std::string& line, ProfileKind kind) {
  std::string name;
  double figure = 0;
  return read_row(line, layout_of(kind), name, figure);
}

/// The total row's figure: the time table's all-operators self ms (its one number), the
/// memory table's MiB at the peak (the middle of tensors, MiB, %).
double total_of(const std::string& line, ProfileKind kind) {
  std::istringstream words(line.substr(std::string(kAllOperators).size()));
  std::vector<double> numbers;
  for (double value = 0; words >> value;) numbers.push_back(value);
  const size_t at = kind == ProfileKind::time ? 0 : 1;
  return numbers.size() > at ? numbers[at] : 0;
}

}  // namespace

PrintedProfile read_printed_profile(const std::string& output, ProfileKind kind) {
  PrintedProfile profile;
  std::istringstream lines(output);
  bool inside = false;
  double memory_peak = 0;  // from the line before a memory table (for one without a total)
  for (std::string line; std::getline(lines, line);) {
    if (kind == ProfileKind::memory && line.rfind(kMemoryPeakLead, 0) == 0) {
      std::istringstream words(line.substr(std::string(kMemoryPeakLead).size()));
      words >> memory_peak;
    } else if (is_table_header(line, kind)) {
      inside = profile.found = true;
      profile.total = memory_peak;
    } else if (inside && ends_table(line)) {
      if (is_table_total(line)) profile.total = total_of(line, kind);
      break;
    } else if (inside) {
      std::string name;
      double figure = 0;
      if (read_row(line, layout_of(kind), name, figure)) profile.rows.emplace_back(name, figure);
    }
  }
  return profile;
}

PrintedProfile median_profile(const std::vector<PrintedProfile>& profiles) {
  PrintedProfile median;
  if (profiles.empty()) return median;
  median.found = std::all_of(profiles.begin(), profiles.end(),
                             [](const PrintedProfile& p) { return p.found; });
  auto median_of = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
  };
  std::map<std::string, std::vector<double>> figures;  // each operator's, one per profile
  std::vector<std::string> names;                      // in order of first appearance
  for (size_t k = 0; k < profiles.size(); ++k)
    for (const auto& [name, figure] : profiles[k].rows) {
      auto [at, added] = figures.emplace(name, std::vector<double>(profiles.size(), 0.0));
      if (added) names.push_back(name);
      at->second[k] += figure;
    }
  for (const std::string& name : names) median.rows.emplace_back(name, median_of(figures[name]));
  std::stable_sort(median.rows.begin(), median.rows.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<double> totals;
  for (const PrintedProfile& p : profiles) totals.push_back(p.total);
  median.total = median_of(totals);
  return median;
}

std::string cut_printed_profile(const std::string& output, int top, ProfileKind kind) {
  std::istringstream lines(output);
  std::string kept;
  int rows = -1;  // -1: outside the table
  for (std::string line; std::getline(lines, line);) {
    if (is_table_header(line, kind))
      rows = 0;
    else if (rows >= 0 && ends_table(line))
      rows = -1;
    else if (rows >= 0 && is_row(line, kind) && rows++ >= top)
      continue;
    kept += line + "\n";
  }
  return kept;
}

void print_profile_change(std::ostream& out, const std::string& before_name,
                          const PrintedProfile& before, const std::string& after_name,
                          const PrintedProfile& after, int top, int rounds, ProfileKind kind) {
  struct Change {
    std::string name;
    double before = 0, after = 0;
  };
  std::vector<Change> changes;
  std::map<std::string, size_t> index;
  auto entry = [&](const std::string& name) -> Change& {
    const auto [at, added] = index.emplace(name, changes.size());
    if (added) changes.push_back({name});
    return changes[at->second];
  };
  for (const auto& [name, figure] : before.rows) entry(name).before += figure;
  for (const auto& [name, figure] : after.rows) entry(name).after += figure;
  std::stable_sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
    return std::abs(a.after - a.before) > std::abs(b.after - b.before);
  });
  const size_t width =
      name_column_width(changes, top, [](const Change& c) -> const std::string& { return c.name; });
  const int name_width = static_cast<int>(width);
  const int column =
      static_cast<int>(std::max<size_t>(12, std::max(before_name.size(), after_name.size()) + 2));
  auto line = [&](const std::string& name, double b, double a) {
    std::ostringstream change;
    change << std::showpos << std::fixed << std::setprecision(2) << a - b;
    out << std::left << std::setw(name_width) << name.substr(0, width - 1) << std::right
        << std::fixed << std::setprecision(2) << std::setw(column) << b << std::setw(column) << a
        << std::setw(12) << change.str() << std::defaultfloat << "\n";
  };
  out << "\n"
      << (kind == ProfileKind::time ? "self ms per unit" : "MiB of tensors live at the peak")
      << ", " << after_name << " against " << before_name;
  if (rounds > 1)
    out << ", medians of " << rounds << " profiles each (all operators: the median total, "
        << "not the sum of the rows)";
  out << " (the operators that changed most first; change: " << after_name << " - " << before_name
      << ")\n"
      << std::left << std::setw(name_width) << "operator" << std::right << std::setw(column)
      << before_name << std::setw(column) << after_name << std::setw(12) << "change"
      << "\n";
  int shown = 0;
  for (const Change& c : changes) {
    if (shown++ == top) break;
    line(c.name, c.before, c.after);
  }
  line(kAllOperators, before.total, after.total);
}

}  // namespace nasx::cli::bench
