#pragma once
/// All-reduce among ranks on one machine through a shared memory segment.
///
/// Why: Gloo over loopback TCP costs ~0.8 ms a collective on an idle 2-core machine and
/// ~2 ms between busy ranks, whatever the size; synchronized BatchNorm makes two tiny
/// collectives per layer (~860 per DARTS search step), so the transport's latency, not
/// the arithmetic, was what sync BatchNorm cost. Here a collective is a copy into this
/// rank's slot, one shared counter, and a sum over the slots: microseconds when the
/// ranks arrive together.
///
/// Every rank sums the slots in rank order, so all ranks get bitwise the same result.
/// Two sets of slots alternate between consecutive collectives, so one counter is the
/// only synchronization: a rank can only write a set again after every rank has
/// arrived at the collective in between, i.e. finished reading it.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace nasx::core {

class SharedMemoryCollectives {
 public:
  /// Rank 0: creates a segment named `name` (with a leading '/'); the others: open it.
  /// Throws Error when that fails (no /dev/shm, or it is full). Every rank must call
  /// unlink() (any rank) only after all have connected.
  SharedMemoryCollectives(const std::string& name, int rank, int world_size, int timeout_seconds);
  ~SharedMemoryCollectives();
  SharedMemoryCollectives(const SharedMemoryCollectives&) = delete;
  SharedMemoryCollectives& operator=(const SharedMemoryCollectives&) = delete;

  /// Removes the segment's name; the mapping lives on until every rank is gone, and no
  /// segment outlives a crash.
  void unlink();

  /// Whether all_reduce_sum takes `tensors`: CPU, contiguous, all float or all double,
  /// together at most the slot capacity. (Every rank decides alike: the shapes agree.)
  bool fits(const std::vector<at::Tensor>& tensors) const;

  /// Element-wise sum over the ranks, in place. Throws Error when another rank's process
  /// is gone, or no rank came within the timeout.
  void all_reduce_sum(std::vector<at::Tensor>& tensors);

  /// Bytes one rank's slot holds.
  static constexpr size_t kSlotBytes = 4u << 20;

 private:
  struct Header;
  void wait_for_all(uint64_t target);
  unsigned char* slot(uint64_t set, int rank) const;
  std::atomic<pid_t>& pid_of(int rank) const;

  std::string name_;
  int rank_, world_size_, timeout_seconds_;
  bool unlinked_ = false;
  size_t bytes_ = 0;
  void* mapping_ = nullptr;
  Header* header_ = nullptr;
  uint64_t collectives_ = 0;  // this rank's count; every rank calls in the same order
};

}  // namespace nasx::core
