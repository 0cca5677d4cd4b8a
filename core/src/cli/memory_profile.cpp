#include "memory_profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <mutex>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <ATen/record_function.h>
#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include "nasx/error.hpp"
#include "op_profile.hpp"

// mallinfo2 (glibc 2.33 on): the heap's bytes in use and free at the peak.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define NASX_HAVE_MALLINFO2 1
#endif

namespace nasx::cli::bench {

namespace {

// reportMemoryUsage's totals are int64_t in LibTorch 1.13 and size_t in later releases:
// the override takes whatever the base class declares.
template <typename>
struct TotalsOf;
template <typename Class, typename Ptr, typename Size, typename Total, typename Device>
struct TotalsOf<void (Class::*)(Ptr, Size, Total, Total, Device)> {
  using type = Total;
};
using Total = TotalsOf<decltype(&c10::MemoryReportingInfoBase::reportMemoryUsage)>::type;

// Allocations made while these run are the operator's that called them.
bool is_allocation_helper(const std::string& key) {
  for (const char* name :
       {"aten::empty", "aten::empty_like", "aten::empty_strided", "aten::resize_",
        "aten::new_empty", "aten::new_empty_strided", "aten::zeros", "aten::zeros_like",
        "aten::ones_like", "aten::full", "aten::new_zeros"})
    if (key == name || key.rfind(std::string(name) + " ", 0) == 0) return true;
  return false;
}

// The open operators of this thread, innermost last.
thread_local std::vector<std::string> t_operators;
bool g_by_shapes = false;  // set before the callback is added
bool g_active = false;     // one profile at a time

struct Depth : at::ObserverContext {
  size_t depth = 0;  // the stack's size before this operator was pushed
};

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  auto frame = std::make_unique<Depth>();
  frame->depth = t_operators.size();
  t_operators.push_back(g_by_shapes ? shape_key(fn) : std::string(fn.name()));
  return frame;
}

void on_end(const at::RecordFunction&, at::ObserverContext* context) {
  // Truncating to the depth the operator found also drops frames whose end was missed.
  if (auto* frame = static_cast<Depth*>(context); frame && frame->depth <= t_operators.size())
    t_operators.resize(frame->depth);
}

}  // namespace

struct MemoryProfile::State : c10::MemoryReportingInfoBase {
  struct Block {
    int64_t bytes;
    size_t key;
  };
  struct Totals {
    int64_t bytes = 0;
    int64_t tensors = 0;
  };

  mutable std::mutex mutex;
  std::unordered_map<void*, Block> live;  // tensors allocated while recording
  std::vector<std::string> keys;          // operators, in the order first seen
  std::unordered_map<std::string, size_t> key_index;
  std::vector<Totals> now;      // per key, live now
  std::vector<Totals> at_peak;  // per key, live at the peak
  int64_t live_bytes = 0, peak_bytes = 0, allocations = 0;
  // At the peak: the process's resident bytes, malloc's bytes in use and its free bytes
  // kept inside the heap (freed chunks it could not give back or reuse); -1: not known.
  int64_t resident_at_peak = -1, heap_used_at_peak = -1, heap_free_at_peak = -1,
          heap_top_at_peak = -1;
  int statm = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

  ~State() override {
    if (statm >= 0) ::close(statm);
  }

  void reportMemoryUsage(void* ptr, int64_t alloc_size, Total, Total, c10::Device device) override {
    if (device.type() != c10::DeviceType::CPU || ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex);
    if (alloc_size > 0) {
      // An address still marked live was freed where no report came (another thread):
      // that block is gone.
      if (const auto stale = live.find(ptr); stale != live.end()) forget(stale);
      const size_t key = key_of_current_operator();
      live[ptr] = {alloc_size, key};
      now[key].bytes += alloc_size;
      ++now[key].tensors;
      live_bytes += alloc_size;
      ++allocations;
      if (live_bytes > peak_bytes) {
        peak_bytes = live_bytes;
        at_peak = now;
        resident_at_peak = resident_bytes();
#if defined(NASX_HAVE_MALLINFO2)
        const struct mallinfo2 heap = ::mallinfo2();
        heap_used_at_peak = static_cast<int64_t>(heap.uordblks + heap.hblkhd);
        heap_free_at_peak = static_cast<int64_t>(heap.fordblks);
        heap_top_at_peak = static_cast<int64_t>(heap.keepcost);
#endif
      }
      return;
    }
    if (const auto it = live.find(ptr); it != live.end()) forget(it);
    // else allocated before recording started
  }

  bool memoryProfilingEnabled() const override { return true; }

 private:
  void forget(std::unordered_map<void*, Block>::iterator it) {
    now[it->second.key].bytes -= it->second.bytes;
    --now[it->second.key].tensors;
    live_bytes -= it->second.bytes;
    live.erase(it);
  }

  // /proc/self/statm's second field (resident pages), re-read in place.
  int64_t resident_bytes() const {
    char text[128];
    const ssize_t n = statm < 0 ? -1 : ::pread(statm, text, sizeof text - 1, 0);
    if (n <= 0) return -1;
    text[n] = 0;
    long long size = 0, resident = 0;
    if (std::sscanf(text, "%lld %lld", &size, &resident) != 2) return -1;
    return static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
  }

  // The innermost operator on this thread that is not an allocation helper.
  size_t key_of_current_operator() {
    std::string key = "(outside any operator)";
    for (auto it = t_operators.rbegin(); it != t_operators.rend(); ++it)
      if (!is_allocation_helper(*it)) {
        key = *it;
        break;
      }
    const auto [it, added] = key_index.emplace(key, keys.size());
    if (added) {
      keys.push_back(key);
      now.emplace_back();
    }
    return it->second;
  }
};

MemoryProfile::MemoryProfile(bool by_shapes) : state_(std::make_shared<State>()) {
  if (g_active) throw Error("bench: one memory profile at a time");
  g_by_shapes = by_shapes;
  installed_ = std::make_unique<c10::DebugInfoGuard>(c10::DebugInfoKind::PROFILER_STATE, state_);
  handle_ = at::addThreadLocalCallback(
      at::RecordFunctionCallback(&on_start, &on_end).needsInputs(by_shapes));
  g_active = true;  // last: a constructor that threw leaves the next one free to start
}

MemoryProfile::~MemoryProfile() {
  at::removeCallback(handle_);
  installed_.reset();
  t_operators.clear();
  g_active = false;
}

MemoryAtPeak MemoryProfile::peak() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  MemoryAtPeak peak;
  peak.tensor_bytes = state_->peak_bytes;
  peak.allocations = state_->allocations;
  peak.live_at_end = state_->live_bytes;
  peak.resident = state_->resident_at_peak;
  peak.heap_in_use = state_->heap_used_at_peak;
  peak.heap_free = state_->heap_free_at_peak;
  peak.heap_top = state_->heap_top_at_peak;
  for (size_t k = 0; k < state_->at_peak.size(); ++k)
    if (state_->at_peak[k].bytes > 0)
      peak.by_operator.push_back(
          {state_->keys[k], state_->at_peak[k].tensors, state_->at_peak[k].bytes});
  std::stable_sort(peak.by_operator.begin(), peak.by_operator.end(),
                   [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  return peak;
}

void MemoryProfile::print(std::ostream& out, int top) const {
  const MemoryAtPeak peak = this->peak();
  const auto mib = [](int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
  const auto known_mib = [&](int64_t bytes) {
    return bytes < 0 ? std::string("unknown") : std::to_string(std::lround(mib(bytes))) + " MiB";
  };
  const size_t shown = std::min(peak.by_operator.size(), static_cast<size_t>(std::max(0, top)));
  const size_t width =
      name_column_width(peak.by_operator, static_cast<int>(shown),
                        [](const OperatorMemory& row) -> const std::string& { return row.op; });
  const auto name_width = static_cast<int>(width);
  out << "\n"
      << kMemoryPeakLead << std::fixed << std::setprecision(1) << mib(peak.tensor_bytes) << " MiB ("
      << peak.allocations << " allocations recorded; tensors from before, such as the "
      << "weights, are not counted; live at the end: " << mib(peak.live_at_end) << " MiB)\n"
      << "at that peak: resident " << known_mib(peak.resident) << ", malloc in use "
      << known_mib(peak.heap_in_use) << ", freed but kept by malloc " << known_mib(peak.heap_free)
      << " (" << known_mib(peak.heap_top) << " of it at the main heap's top, the rest in gaps "
      << "between live blocks and in other threads' arenas)\n"
      << std::left << std::setw(name_width) << "operator" << std::right << std::setw(9)
      << kTensorsColumn << std::setw(11) << "MiB" << std::setw(8) << "%"
      << "\n";
  for (size_t i = 0; i < shown; ++i) {
    const OperatorMemory& row = peak.by_operator[i];
    out << std::left << std::setw(name_width) << row.op.substr(0, width - 1) << std::right
        << std::setw(9) << row.tensors << std::setw(11) << std::setprecision(2) << mib(row.bytes)
        << std::setw(8) << std::setprecision(1)
        << 100.0 * static_cast<double>(row.bytes) /
               static_cast<double>(std::max<int64_t>(1, peak.tensor_bytes))
        << "\n";
  }
  int64_t tensors = 0;
  for (const OperatorMemory& row : peak.by_operator) tensors += row.tensors;
  out << std::left << std::setw(name_width) << kAllOperators << std::right << std::setw(9)
      << tensors << std::setw(11) << std::setprecision(2) << mib(peak.tensor_bytes) << std::setw(8)
      << std::setprecision(1) << 100.0 << "\n"
      << std::defaultfloat;
}

}  // namespace nasx::cli::bench
