// The shared-memory all-reduce between this test and a forked peer process: sums,
// bitwise agreement, many collectives in a row at uneven speeds, a peer that dies, and
// what it refuses (so those go over Gloo).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/core/shared_memory_collectives.hpp"
#include "nasx/error.hpp"

namespace nasx::core {
namespace {

std::string segment_name() {
  return "/nasx-test-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

/// Rank r's contribution to collective k: distinct values, some not exactly representable.
std::vector<at::Tensor> contribution(int rank, int k, at::ScalarType type) {
  const auto options = at::TensorOptions(type);
  return {at::arange(5, options) * 0.1 + rank + k, at::full({2, 3}, 1.0 / (3 + rank + k), options)};
}

/// Forks the peer (rank 1): it runs `work` on its own mapping and exits 0 when it
/// returns, 1 when it throws. (The child touches no thread pool: plain loops only.)
template <typename Work>
pid_t fork_peer(const std::string& name, Work work) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      SharedMemoryCollectives peer(name, 1, 2, 10);
      work(peer);
      ::_exit(0);
    } catch (...) {
      ::_exit(1);
    }
  }
  return pid;
}

int exit_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Collective k as `rank` sees it, after `delay_ms` of "work": whether every tensor came
/// back as the sum in rank order, to the bit (float for even k, double for odd).
bool collective(SharedMemoryCollectives& ranks, int rank, int k, int delay_ms) {
  const auto type = k % 2 ? at::kDouble : at::kFloat;
  auto mine = contribution(rank, k, type);
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  ranks.all_reduce_sum(mine);
  const auto a = contribution(0, k, type), b = contribution(1, k, type);
  for (size_t i = 0; i < mine.size(); ++i)
    if (!at::equal(mine[i], a[i] + b[i])) return false;
  return true;
}

TEST(SharedMemoryCollectives, ManyAllReducesAtUnevenSpeedsSumExactlyOnBothRanks) {
  const std::string name = segment_name();
  SharedMemoryCollectives rank0(name, 0, 2, 10);
  constexpr int kCollectives = 200;
  const pid_t peer = fork_peer(name, [](SharedMemoryCollectives& ranks) {
    // The peer checks its own copies too.
    for (int k = 0; k < kCollectives; ++k)
      if (!collective(ranks, 1, k, k % 7 == 0 ? 3 : 0)) throw std::runtime_error("sum differs");
  });
  for (int k = 0; k < kCollectives; ++k) {
    // After one collective both have mapped it: no name left in /dev/shm, the mapping
    // lives on.
    if (k == 1) rank0.unlink();
    ASSERT_TRUE(collective(rank0, 0, k, k % 5 == 0 ? 2 : 0)) << "collective " << k;
  }
  EXPECT_EQ(exit_status(peer), 0) << "the peer's sums differ from rank 0's";
}

TEST(SharedMemoryCollectives, APeerThatDiesIsReportedNotWaitedForever) {
  const std::string name = segment_name();
  SharedMemoryCollectives rank0(name, 0, 2, 60);
  const pid_t peer = fork_peer(name, [](SharedMemoryCollectives& ranks) {
    auto mine = contribution(1, 0, at::kFloat);
    ranks.all_reduce_sum(mine);
    ::raise(SIGKILL);  // gone before the second collective
  });
  auto mine = contribution(0, 0, at::kFloat);
  rank0.all_reduce_sum(mine);
  rank0.unlink();
  const auto start = std::chrono::steady_clock::now();
  try {
    rank0.all_reduce_sum(mine);
    FAIL() << "an all-reduce with a dead peer returned";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("rank 1 (process " + std::to_string(peer)));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("is gone in the middle of an all-reduce"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(exit_status(peer), -1);
}

TEST(SharedMemoryCollectives, TakesSmallFloatingContiguousCpuTensorsOnly) {
  const std::string name = segment_name();
  SharedMemoryCollectives rank0(name, 0, 2, 10);
  rank0.unlink();
  const size_t floats = SharedMemoryCollectives::kSlotBytes / sizeof(float);
  EXPECT_TRUE(rank0.fits({at::zeros({3}), at::zeros({4, 4})}));
  EXPECT_TRUE(rank0.fits({at::zeros({static_cast<int64_t>(floats)})}));
  EXPECT_FALSE(rank0.fits({at::zeros({static_cast<int64_t>(floats) + 1})})) << "too large";
  EXPECT_FALSE(rank0.fits({at::zeros({3}, at::kLong)})) << "integers";
  EXPECT_FALSE(rank0.fits({at::zeros({3}), at::zeros({3}, at::kDouble)})) << "mixed types";
  EXPECT_FALSE(rank0.fits({at::zeros({4, 4}).t()})) << "not contiguous";
  EXPECT_FALSE(rank0.fits({})) << "nothing";
}

TEST(SharedMemoryCollectives, ANameTakenOrMissingIsAClearError) {
  const std::string name = segment_name();
  SharedMemoryCollectives rank0(name, 0, 2, 10);
  EXPECT_THROW(SharedMemoryCollectives(name, 0, 2, 10), Error) << "rank 0 creates, never reuses";
  rank0.unlink();
  try {
    SharedMemoryCollectives late(name, 1, 2, 10);
    FAIL() << "opened an unlinked segment";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("cannot open shared memory " + name));
  }
}

}  // namespace
}  // namespace nasx::core
