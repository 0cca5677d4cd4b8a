#pragma once
// Where a bench's time goes, by operator: LibTorch's RecordFunction callbacks (the same
// in 1.13 and 2.x) time every operator and autograd node the process runs; self time is
// an operator's time minus that of the operators it called.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

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

/// The width of a profile table's name column: 64, widened to the longest name among
/// the first `top` rows (shapes make long keys), at most 160. `name_of(row)` gives a
/// row's name.
template <typename Rows, typename NameOf>
size_t name_column_width(const Rows& rows, int top, NameOf name_of) {
  size_t width = 64, shown = 0;
  for (const auto& row : rows) {
    if (shown++ == static_cast<size_t>(top)) break;
    width = std::max(width, std::min<size_t>(160, name_of(row).size() + 1));
  }
  return width;
}

/// A time profile as OpProfile::print wrote it, read back from a bench process's output:
/// each operator's self milliseconds per unit, in the order printed, and their total.
struct PrintedProfile {
  bool found = false;  ///< the output held a profile table
  std::vector<std::pair<std::string, double>> self_ms;
  double all_ms = 0;
};
PrintedProfile read_printed_profile(const std::string& output);

/// Profiles of one unit of work taken in turn, as one: each operator's median self time
/// over them (0 in a profile that lacks it), ordered by it, and the median total; found
/// when every one was.
PrintedProfile median_profile(const std::vector<PrintedProfile>& profiles);

/// `output` with its profile table cut to the first `top` operators (the rest of the
/// output as it was).
std::string cut_printed_profile(const std::string& output, int top);

/// Two profiles of one unit of work side by side, `before` (named `before_name`) and
/// `after`, each the median of `rounds` (1: a single profile): the `top` operators whose
/// self time changed most, each one's milliseconds in both and the change (negative:
/// less time after), then the totals. An operator in one profile only counts 0 in the
/// other.
void print_profile_change(std::ostream& out, const std::string& before_name,
                          const PrintedProfile& before, const std::string& after_name,
                          const PrintedProfile& after, int top, int rounds = 1);

}  // namespace nasx::cli::bench
