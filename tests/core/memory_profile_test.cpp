// The bench's memory profile: which operator's tensors are live at the peak of tensor
// memory, checked against tensors of known sizes allocated inside named scopes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <c10/core/Allocator.h>
#include <torch/csrc/autograd/autograd.h>

#include "../../core/src/cli/memory_profile.hpp"
#include "../../core/src/cli/op_profile.hpp"

namespace {

using nasx::cli::bench::MemoryAtPeak;
using nasx::cli::bench::MemoryProfile;
using nasx::cli::bench::OperatorMemory;
using ::testing::HasSubstr;

constexpr int64_t kMiB = 1024 * 1024;

/// A float tensor of `mib` MiB, allocated inside an operator scope named `scope`.
at::Tensor allocate_in(const char* scope, double mib) {
  RECORD_FUNCTION(scope, std::vector<c10::IValue>());
  return at::empty({static_cast<int64_t>(mib * kMiB / 4)}, at::kFloat);
}

/// The row whose operator key starts with `prefix`.
const OperatorMemory* row_of(const MemoryAtPeak& peak, const std::string& prefix) {
  for (const OperatorMemory& row : peak.by_operator)
    if (row.op.rfind(prefix, 0) == 0) return &row;
  return nullptr;
}

std::string keys_of(const MemoryAtPeak& peak) {
  std::string keys;
  for (const OperatorMemory& row : peak.by_operator) keys += row.op + "\n";
  return keys;
}

TEST(MemoryProfile, ListsTheTensorsLiveAtThePeakByTheOperatorThatAllocatedThem) {
  at::Tensor before = at::empty({kMiB / 4}, at::kFloat);  // 1 MiB, not recorded
  MemoryProfile profile;
  at::Tensor a1 = allocate_in("test::op_a", 1);
  at::Tensor a2 = allocate_in("test::op_a", 1);
  before.reset();  // a free of a tensor from before recording changes nothing
  at::Tensor b1 = allocate_in("test::op_b", 3);
  // The peak: a1, a2 and b1, 5 MiB. After it, less is live.
  b1.reset();
  a2.reset();
  at::Tensor b2 = allocate_in("test::op_b", 0.5);
  at::Tensor c1 = allocate_in("test::op_c", 2);  // 3.5 MiB live: under the peak
  const MemoryAtPeak peak = profile.peak();

  EXPECT_EQ(peak.tensor_bytes, 5 * kMiB);
  EXPECT_EQ(peak.allocations, 5);
  EXPECT_EQ(peak.live_at_end, 3 * kMiB + kMiB / 2);
  ASSERT_EQ(peak.by_operator.size(), 2u);           // op_c's tensor came after the peak
  EXPECT_EQ(peak.by_operator[0].op, "test::op_b");  // most bytes first
  EXPECT_EQ(peak.by_operator[0].tensors, 1);
  EXPECT_EQ(peak.by_operator[0].bytes, 3 * kMiB);
  EXPECT_EQ(peak.by_operator[1].op, "test::op_a");  // not aten::empty, which it called
  EXPECT_EQ(peak.by_operator[1].tensors, 2);
  EXPECT_EQ(peak.by_operator[1].bytes, 2 * kMiB);
#if defined(__GLIBC__)
  EXPECT_GT(peak.resident, 0);
  EXPECT_GE(peak.heap_in_use, peak.tensor_bytes);
  EXPECT_GE(peak.heap_top, 0);
  EXPECT_GE(peak.heap_free, peak.heap_top);
#endif

  std::ostringstream out;
  profile.print(out, 1);  // one row
  EXPECT_THAT(out.str(), HasSubstr("peak of tensor memory, by the operator that allocated them: "
                                   "5.0 MiB (5 allocations recorded"));
  EXPECT_THAT(out.str(), HasSubstr("live at the end: 3.5 MiB"));
  EXPECT_THAT(out.str(), HasSubstr("test::op_b"));
  EXPECT_THAT(out.str(), HasSubstr("3.00    60.0\n"));
  EXPECT_THAT(out.str(), ::testing::Not(HasSubstr("test::op_a")));
}

// Autograd's CPU backward runs on the calling thread: its tensors are recorded, and the
// ones it frees leave the count. By shapes, an operator's key carries its inputs' sizes.
TEST(MemoryProfile, RecordsTheBackwardAndSplitsByShapes) {
  at::Tensor x = at::ones({kMiB / 4}, at::kFloat).set_requires_grad(true);  // not recorded
  MemoryProfile profile(/*by_shapes=*/true);
  {
    at::Tensor loss = x.exp().sum();  // exp's 1 MiB output is saved for its backward
    torch::autograd::backward({loss});
  }
  const MemoryAtPeak peak = profile.peak();
  // At the peak, in the backward: exp's saved output and the product gy * exp(x), which
  // becomes x.grad; the sum's gradient is an expanded scalar.
  const OperatorMemory* exp = row_of(peak, "aten::exp [262144]");
  const OperatorMemory* mul = row_of(peak, "aten::mul [262144]");
  ASSERT_NE(exp, nullptr) << keys_of(peak);
  ASSERT_NE(mul, nullptr) << keys_of(peak);
  EXPECT_EQ(exp->bytes, kMiB);
  EXPECT_EQ(mul->bytes, kMiB);
  EXPECT_GE(peak.tensor_bytes, 2 * kMiB);
  EXPECT_LT(peak.tensor_bytes, 2 * kMiB + 4096);  // and scalars
  // The graph is gone with its saved output; x.grad stays.
  EXPECT_GE(peak.live_at_end, kMiB);
  EXPECT_LT(peak.live_at_end, kMiB + 4096);
  ASSERT_TRUE(x.grad().defined());
}

// A block freed where no report came (another thread) and its address handed out again:
// the new allocation replaces it instead of adding to it.
TEST(MemoryProfile, AnAddressAllocatedAgainReplacesItsUnreportedFree) {
  MemoryProfile profile;
  char block = 0;
  {
    RECORD_FUNCTION("test::first", std::vector<c10::IValue>());
    c10::reportMemoryUsageToProfiler(&block, kMiB, 0, 0, c10::Device(c10::kCPU));
  }
  {
    RECORD_FUNCTION("test::second", std::vector<c10::IValue>());
    c10::reportMemoryUsageToProfiler(&block, 2 * kMiB, 0, 0, c10::Device(c10::kCPU));
  }
  MemoryAtPeak peak = profile.peak();
  EXPECT_EQ(peak.tensor_bytes, 2 * kMiB);
  ASSERT_EQ(peak.by_operator.size(), 1u);
  EXPECT_EQ(peak.by_operator[0].op, "test::second");
  c10::reportMemoryUsageToProfiler(&block, -2 * kMiB, 0, 0, c10::Device(c10::kCPU));
  EXPECT_EQ(profile.peak().live_at_end, 0);
}

// What print wrote is read back (nasx bench --against compares two builds' tables): each
// operator's MiB, names with spaces included, the peak as the total; cut to its first rows
// with the rest of the output kept; a time table in the same output is not taken for it.
TEST(MemoryProfile, ItsPrintedTableIsReadBackAndCut) {
  using nasx::cli::bench::ProfileKind;
  std::ostringstream out;
  {
    MemoryProfile profile;
    at::Tensor a = allocate_in("test::op a", 1);
    at::Tensor b = allocate_in("test::op_b", 2.5);
    at::Tensor c = allocate_in("test::op_c 3", 0.25);  // a name ending in a number
    out << "operators by self time, per unit (1 unit recorded)\n"
        << "operator   calls    self ms   total ms  self %\n"
        << "aten::mm       1      99.00      99.00   100.0\n"
        << "all operators         99.00\n";
    profile.print(out, 10);
    out << "median_s=0.5 min_s=0.4 peak_rss_mib=100\n";
  }
  const auto read = nasx::cli::bench::read_printed_profile(out.str(), ProfileKind::memory);
  ASSERT_TRUE(read.found) << out.str();
  EXPECT_EQ(read.rows, (std::vector<std::pair<std::string, double>>{
                           {"test::op_b", 2.5}, {"test::op a", 1.0}, {"test::op_c 3", 0.25}}))
      << out.str();
  EXPECT_DOUBLE_EQ(read.total, 3.75);  // the total row's, to 0.01 MiB
  EXPECT_THAT(out.str(), ::testing::ContainsRegex("all operators +3 +3.75 +100.0\n"));
  // A warning interleaved into the table is passed over; a table without a total row (an
  // older build's) ends at a blank line and takes its total from the line above it.
  std::string text = out.str();
  text.insert(text.find("test::op a"), "[W warning from stderr]\n");
  EXPECT_EQ(nasx::cli::bench::read_printed_profile(text, ProfileKind::memory).rows, read.rows);
  const std::string older = "\n" + std::string(nasx::cli::bench::kMemoryPeakLead) +
                            "7.0 MiB (2 allocations recorded)\n"
                            "operator          tensors        MiB       %\n"
                            "aten::empty             2       7.00   100.0\n"
                            "\n"
                            "unrelated line      1     2     3\n";
  const auto old_read = nasx::cli::bench::read_printed_profile(older, ProfileKind::memory);
  EXPECT_EQ(old_read.rows, (std::vector<std::pair<std::string, double>>{{"aten::empty", 7.0}}));
  EXPECT_DOUBLE_EQ(old_read.total, 7.0);
  const std::string cut = nasx::cli::bench::cut_printed_profile(out.str(), 1, ProfileKind::memory);
  EXPECT_THAT(cut, HasSubstr("test::op_b"));
  EXPECT_THAT(cut, ::testing::Not(HasSubstr("test::op a")));
  EXPECT_THAT(cut, HasSubstr("aten::mm"));  // the time table is not the memory table
  EXPECT_THAT(cut, HasSubstr("median_s=0.5 min_s=0.4 peak_rss_mib=100\n"));
  EXPECT_FALSE(nasx::cli::bench::read_printed_profile("median_s=0.5\n", ProfileKind::memory).found);
}

TEST(MemoryProfile, OneAtATime) {
  MemoryProfile first;
  EXPECT_THROW(MemoryProfile second, std::exception);
}

}  // namespace
