// nasx keeps freed memory for reuse (glibc's malloc settings at startup): a block freed and
// allocated again costs no page faults, unless NASX_KEEP_FREED_MEMORY=0 or the user tuned
// malloc. Each case runs in a child process, so the settings never reach the test process.

#include "../../core/src/cli/memory_reuse.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace nasx::cli {
namespace {

// Larger than glibc's largest adaptive mmap threshold (32 MiB): with its defaults such a
// block is always its own mapping, unmapped when freed and faulted in again.
constexpr size_t kBlock = size_t{64} << 20;

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

/// Page faults of writing a fresh kBlock, then of doing it again after freeing it.
std::pair<long, long> faults_of_two_rounds() {
  long faults[2];
  for (long& count : faults) {
    const long before = minor_faults();
    // volatile: the compiler may not drop the writes, nor the allocation with them.
    volatile char* block = static_cast<volatile char*>(std::malloc(kBlock));
    if (block == nullptr) std::_Exit(3);
    for (size_t i = 0; i < kBlock; i += 4096) block[i] = 1;
    count = minor_faults() - before;
    std::free(const_cast<char*>(block));
  }
  return {faults[0], faults[1]};
}

/// In a child process: `env` set ("NAME=value"), the startup settings applied, two rounds.
/// {-1, -1} (and a failure) when the child could not run.
std::pair<long, long> rounds_in_child(const std::vector<std::string>& env) {
  int fds[2];
  if (pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return {-1, -1};
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    ADD_FAILURE() << "fork failed";
    return {-1, -1};
  }
  if (pid == 0) {
    close(fds[0]);
    for (const char* name : {"NASX_KEEP_FREED_MEMORY", "MALLOC_TRIM_THRESHOLD_",
                             "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"})
      unsetenv(name);
    for (const std::string& setting : env) {
      const size_t eq = setting.find('=');
      setenv(setting.substr(0, eq).c_str(), setting.substr(eq + 1).c_str(), 1);
    }
    keep_freed_memory_for_reuse();
    const std::pair<long, long> faults = faults_of_two_rounds();
    const long out[2] = {faults.first, faults.second};
    const bool written = write(fds[1], out, sizeof out) == static_cast<ssize_t>(sizeof out);
    _exit(written ? 0 : 4);
  }
  close(fds[1]);
  long in[2] = {-1, -1};
  const bool read_all = read(fds[0], in, sizeof in) == static_cast<ssize_t>(sizeof in);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(read_all && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child failed, status " << status;
  return {in[0], in[1]};
}

/// glibc reads its malloc settings from the environment when the process starts, and a
/// child inherits them: where this test process was started with some, "glibc's defaults"
/// are not what the children have.
bool malloc_tuned_at_startup() {
  for (const char* name :
       {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"})
    if (std::getenv(name) != nullptr) return true;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return tunables != nullptr && std::string(tunables).find("glibc.malloc.") != std::string::npos;
}

#if defined(__GLIBC__)

TEST(MemoryReuse, AFreedBlockIsReusedWithoutPageFaults) {
  const auto [first, second] = rounds_in_child({});
  ASSERT_GT(first, 0) << "touching a fresh block took no page faults: nothing to compare";
  EXPECT_LT(second, first / 10) << "page faults: first round " << first << ", second " << second;
}

TEST(MemoryReuse, NasxKeepFreedMemoryZeroKeepsGlibcsDefaults) {
  if (malloc_tuned_at_startup()) GTEST_SKIP() << "malloc tuned in this test's environment";
  const auto [first, second] = rounds_in_child({"NASX_KEEP_FREED_MEMORY=0"});
  ASSERT_GT(first, 0);
  EXPECT_GT(second, first / 2) << "page faults: first round " << first << ", second " << second;
}

TEST(MemoryReuse, AUsersMallocSettingsStand) {
  if (malloc_tuned_at_startup()) GTEST_SKIP() << "malloc tuned in this test's environment";
  // glibc read these when the process started; what matters is that nasx leaves malloc
  // alone when it sees them, so the block goes back as with the defaults.
  for (const char* setting : {"MALLOC_TRIM_THRESHOLD_=131072", "MALLOC_MMAP_THRESHOLD_=",
                              "GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072"}) {
    SCOPED_TRACE(setting);
    const auto [first, second] = rounds_in_child({std::string(setting)});
    ASSERT_GT(first, 0);
    EXPECT_GT(second, first / 2) << "page faults: first round " << first << ", second " << second;
  }
  // Tunables of something other than malloc leave it to nasx.
  const auto [first, second] = rounds_in_child({"GLIBC_TUNABLES=glibc.cpu.hwcap_mask=0"});
  EXPECT_LT(second, first / 10) << "page faults: first round " << first << ", second " << second;
}

#endif

}  // namespace
}  // namespace nasx::cli
