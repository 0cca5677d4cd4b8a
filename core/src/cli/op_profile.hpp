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

/// Which of the bench's profile tables: OpProfile::print's (self milliseconds per unit of
/// work) or MemoryProfile::print's (MiB of tensors live at the peak of tensor memory, the
/// peak also in the line above the table). Each ends in an "all operators" total row
/// (a memory table of an older build has none; its total is read from the line above).
enum class ProfileKind { time, memory };
/// "time" or "memory".
inline const char* kind_name(ProfileKind kind) {
  return kind == ProfileKind::time ? "time" : "memory";
}

/// The line MemoryProfile::print starts its table with, before the peak's MiB.
inline constexpr const char* kMemoryPeakLead =
    "tensors live at the peak of tensor memory, by the operator that allocated them: ";
/// The memory table's column of tensor counts (read back by its header).
inline constexpr const char* kTensorsColumn = "tensors";
/// The name of both tables' total row.
inline constexpr const char* kAllOperators = "all operators";

/// A profile as OpProfile::print or MemoryProfile::print wrote it, read back from a bench
/// process's output: each operator's figure (self ms per unit, or MiB live at the peak),
/// in the order printed, and their total (all operators' self ms, or all tensors' MiB at
/// the peak).
struct PrintedProfile {
  bool found = false;  ///< the output held a profile table of its kind
  std::vector<std::pair<std::string, double>> rows;
  double total = 0;
};
PrintedProfile read_printed_profile(const std::string& output,
                                    ProfileKind kind = ProfileKind::time);

/// Profiles of one unit of work taken in turn, as one: each operator's median figure
/// over them (0 in a profile that lacks it), ordered by it, and the median total; found
/// when every one was.
PrintedProfile median_profile(const std::vector<PrintedProfile>& profiles);

/// `output` with its profile table of `kind` cut to the first `top` operators (the rest
/// of the output as it was).
std::string cut_printed_profile(const std::string& output, int top,
                                ProfileKind kind = ProfileKind::time);

/// Two profiles of one unit of work side by side, `before` (named `before_name`) and
/// `after`, each the median of `rounds` (1: a single profile): the `top` operators whose
/// figure changed most, each one's figure in both and the change (negative: less time,
/// or less memory, after), then the totals. An operator in one profile only counts 0 in
/// the other.
void print_profile_change(std::ostream& out, const std::string& before_name,
                          const PrintedProfile& before, const std::string& after_name,
                          const PrintedProfile& after, int top, int rounds = 1,
                          ProfileKind kind = ProfileKind::time);

}  // namespace nasx::cli::bench
