#pragma once
// Where a bench's memory goes, by operator: LibTorch's CPU allocator reports every tensor
// allocation and free to the memory reporter installed on the thread (the hook its own
// profiler's profile_memory uses, the same in 1.13 and 2.x), and RecordFunction callbacks
// say which operator was running when it allocated. At the highest sum of live tensor
// bytes, each operator's live tensors are listed.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace c10 {
class DebugInfoGuard;
}

namespace nasx::cli::bench {

/// An operator's tensors live at the peak.
struct OperatorMemory {
  std::string op;  ///< its name (with --profile-shapes, and its inputs' shapes)
  int64_t tensors = 0;
  int64_t bytes = 0;
};

/// What was live when the recorded tensors' bytes were highest.
struct MemoryAtPeak {
  int64_t tensor_bytes = 0;  ///< the recorded tensors' bytes then
  int64_t allocations = 0;   ///< tensors recorded in all
  int64_t live_at_end = 0;   ///< recorded tensors' bytes still live now
  int64_t resident = -1;     ///< the process's resident bytes then (-1: not known)
  int64_t heap_in_use = -1;  ///< malloc's bytes in use then (-1: not known)
  int64_t heap_free = -1;    ///< freed bytes malloc kept in its heaps then (-1: not known)
  int64_t heap_top = -1;     ///< ... of which at the main heap's top (-1: not known)
  std::vector<OperatorMemory> by_operator;  ///< most bytes first; none of 0 bytes
};

/// Records the calling thread's tensor allocations while alive (one at a time; autograd's
/// CPU backward runs on the calling thread, so it is recorded too; other threads' are
/// not). A tensor is the innermost running operator's, allocation helpers (aten::empty
/// and the like) passed over. Tensors allocated before it started are not counted.
class MemoryProfile {
 public:
  explicit MemoryProfile(bool by_shapes = false);
  ~MemoryProfile();
  MemoryProfile(const MemoryProfile&) = delete;
  MemoryProfile& operator=(const MemoryProfile&) = delete;

  MemoryAtPeak peak() const;
  /// The `top` operators by bytes of their tensors live at the peak: tensors, MiB, share.
  void print(std::ostream& out, int top = 25) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<c10::DebugInfoGuard> installed_;  // state_ as this thread's reporter
  uint64_t handle_;
};

}  // namespace nasx::cli::bench
