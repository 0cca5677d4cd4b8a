#include "op_profile.hpp"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include <ATen/record_function.h>

#include "nasx/error.hpp"

namespace nasx::cli::bench {

namespace {

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
  // Shapes make long keys: the column widens to the longest shown (at most 160).
  size_t width = 64;
  if (by_shapes_)
    for (size_t i = 0; i < ops.size() && i < static_cast<size_t>(top); ++i)
      width = std::max(width, std::min<size_t>(160, ops[i].first.size() + 1));
  const auto name_width = static_cast<int>(width);
  out << "\noperators by self time, per unit (" << units << " units recorded; self: the "
      << "operator's own time, total: with what it called)\n"
      << std::left << std::setw(name_width) << "operator" << std::right << std::setw(8) << "calls"
      << std::setw(11) << "self ms" << std::setw(11) << "total ms" << std::setw(8) << "self %"
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
  out << std::left << std::setw(name_width) << "all operators" << std::right << std::setw(8) << ""
      << std::fixed << std::setprecision(2) << std::setw(11) << all * per << std::defaultfloat
      << "\n";
}

}  // namespace nasx::cli::bench
