#include "nasx/core/shared_memory_collectives.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include <ATen/Dispatch.h>

#include "nasx/error.hpp"

namespace nasx::core {

namespace {

constexpr size_t kHeaderBytes = 4096;

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

/// Whether process `pid` has ended: gone, or a zombie its parent has not reaped yet.
bool has_ended(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto state = line.rfind(')');  // "pid (name) S ...": the name may hold spaces
  return state != std::string::npos && state + 2 < line.size() &&
         (line[state + 2] == 'Z' || line[state + 2] == 'X');
}

}  // namespace

/// The segment's first page: the arrival counter, then (from byte 64) each rank's
/// process id.
struct SharedMemoryCollectives::Header {
  std::atomic<uint64_t> arrivals;
};
constexpr size_t kPidsOffset = 64;
static_assert(std::atomic<uint64_t>::is_always_lock_free, "process-shared counter");
static_assert(std::atomic<pid_t>::is_always_lock_free, "process-shared pid");

SharedMemoryCollectives::SharedMemoryCollectives(const std::string& name, int rank, int world_size,
                                                 int timeout_seconds)
    : name_(name), rank_(rank), world_size_(world_size), timeout_seconds_(timeout_seconds) {
  if (kPidsOffset + sizeof(std::atomic<pid_t>) * static_cast<size_t>(world_size) > kHeaderBytes)
    throw Error("shared-memory collectives: too many ranks (" + std::to_string(world_size) + ")");
  bytes_ = kHeaderBytes + 2 * static_cast<size_t>(world_size) * kSlotBytes;
  const bool create = rank == 0;
  const int fd = ::shm_open(name.c_str(), create ? O_CREAT | O_EXCL | O_RDWR : O_RDWR, 0600);
  if (fd < 0) throw Error(system_error("cannot open shared memory " + name));
  if (create) {
    // Reserve the pages now: a full /dev/shm fails here, not as SIGBUS mid-run.
    const int reserved = ::ftruncate(fd, static_cast<off_t>(bytes_)) == 0
                             ? ::posix_fallocate(fd, 0, static_cast<off_t>(bytes_))
                             : errno;
    if (reserved != 0) {
      ::close(fd);
      ::shm_unlink(name.c_str());
      errno = reserved;
      throw Error(system_error("cannot reserve " + std::to_string(bytes_ >> 20) +
                               " MiB of shared memory in /dev/shm"));
    }
  }
  mapping_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int mapped_errno = errno;
  ::close(fd);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    if (create) ::shm_unlink(name.c_str());
    errno = mapped_errno;
    throw Error(system_error("cannot map shared memory " + name));
  }
  header_ = static_cast<Header*>(mapping_);
  // A new segment is zero-filled: the counter starts at 0 and no pid is known yet.
  pid_of(rank).store(::getpid(), std::memory_order_release);
}

SharedMemoryCollectives::~SharedMemoryCollectives() {
  if (mapping_ != nullptr) ::munmap(mapping_, bytes_);
  if (rank_ == 0) unlink();  // setup failed before the name was removed: remove it now
}

void SharedMemoryCollectives::unlink() {
  if (!unlinked_) ::shm_unlink(name_.c_str());
  unlinked_ = true;
}

std::atomic<pid_t>& SharedMemoryCollectives::pid_of(int rank) const {
  return reinterpret_cast<std::atomic<pid_t>*>(static_cast<unsigned char*>(mapping_) +
                                               kPidsOffset)[rank];
}

unsigned char* SharedMemoryCollectives::slot(uint64_t set, int rank) const {
  return static_cast<unsigned char*>(mapping_) + kHeaderBytes +
         (set * static_cast<size_t>(world_size_) + static_cast<size_t>(rank)) * kSlotBytes;
}

bool SharedMemoryCollectives::fits(const std::vector<at::Tensor>& tensors) const {
  if (tensors.empty()) return false;
  const auto type = tensors[0].scalar_type();
  if (type != at::kFloat && type != at::kDouble) return false;
  size_t total = 0;
  for (const auto& t : tensors) {
    if (!t.device().is_cpu() || !t.is_contiguous() || t.scalar_type() != type) return false;
    total += t.nbytes();
  }
  return total <= kSlotBytes;
}

void SharedMemoryCollectives::wait_for_all(uint64_t target) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto next_check = start + std::chrono::milliseconds(20);
  for (uint64_t spins = 0;; ++spins) {
    if (header_->arrivals.load(std::memory_order_acquire) >= target) return;
    if (spins < 4096) {  // the others are usually microseconds away: spin
      cpu_relax();
      continue;
    }
    const auto now = Clock::now();
    // Then yield the core (more ranks than cores), then sleep (a slow rank).
    if (now - start < std::chrono::milliseconds(2))
      ::sched_yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (now < next_check) continue;
    next_check = now + std::chrono::milliseconds(20);
    for (int r = 0; r < world_size_; ++r) {
      const pid_t pid = pid_of(r).load(std::memory_order_acquire);
      // A rank may arrive, finish and exit while this one sleeps: look once more.
      if (header_->arrivals.load(std::memory_order_acquire) >= target) return;
      if (r != rank_ && pid > 0 && has_ended(pid))
        throw Error("rank " + std::to_string(rank_) + ": rank " + std::to_string(r) + " (process " +
                    std::to_string(pid) +
                    ") is gone in the middle of an all-reduce; it has probably failed");
    }
    if (now - start > std::chrono::seconds(timeout_seconds_))
      throw Error("rank " + std::to_string(rank_) +
                  ": the other ranks did not reach an all-reduce"
                  " within " +
                  std::to_string(timeout_seconds_) + " s");
  }
}

void SharedMemoryCollectives::all_reduce_sum(std::vector<at::Tensor>& tensors) {
  const uint64_t set = collectives_ % 2;
  unsigned char* mine = slot(set, rank_);
  size_t offset = 0;
  for (const auto& t : tensors) {
    std::memcpy(mine + offset, t.data_ptr(), t.nbytes());
    offset += t.nbytes();
  }
  header_->arrivals.fetch_add(1, std::memory_order_acq_rel);
  ++collectives_;
  wait_for_all(collectives_ * static_cast<uint64_t>(world_size_));
  offset = 0;
  for (auto& t : tensors) {
    AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "shared_memory_all_reduce", [&] {
      scalar_t* out = t.data_ptr<scalar_t>();
      const int64_t n = t.numel();
      // In rank order on every rank: bitwise the same sums everywhere.
      std::memcpy(out, slot(set, 0) + offset, t.nbytes());
      for (int r = 1; r < world_size_; ++r) {
        const auto* in = reinterpret_cast<const scalar_t*>(slot(set, r) + offset);
        for (int64_t i = 0; i < n; ++i) out[i] += in[i];
      }
    });
    offset += t.nbytes();
  }
}

}  // namespace nasx::core
