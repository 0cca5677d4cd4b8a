#pragma once
// Where a bench's time goes, by operator: LibTorch's RecordFunction callbacks (the same
// in 1.13 and 2.x) time every operator and autograd node the process runs; self time is
// an operator's time minus that of the operators it called.

#include <cstdint>
#include <iosfwd>
#include <string>

namespace at {
struct RecordFunction;
}

namespace nasx::cli::bench {

/// "name [64,8,28,28]cl [8,1,3,3] 1 (1,1)": the operator's name, then its tensors' sizes
/// (`-` undefined; `cl` channels-last, `strided` neither layout), integers and integer
/// lists, in argument order (the callback must have asked for its inputs).
std::string shape_key(const at::RecordFunction& fn);

/// Records while alive (one at a time); print() lists the operators by self time,
/// `by_shapes`: each operator per distinct shapes of its inputs (and integer arguments).
class OpProfile {
 public:
  explicit OpProfile(bool by_shapes = false);
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  /// The `top` operators by self time, per unit of work (`units` of them recorded):
  /// calls, self and total milliseconds, share of all self time.
  void print(std::ostream& out, int64_t units, int top = 25) const;

 private:
  uint64_t handle_;
  bool by_shapes_;
};

}  // namespace nasx::cli::bench
