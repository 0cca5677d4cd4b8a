#pragma once
/// One writer per folder. A run folder (and a training folder) is written by the one
/// process that holds its lock file; the kernel releases the lock when that process
/// ends, however it ends, so a killed run never leaves a stale lock behind.

#include <sys/types.h>

#include <filesystem>
#include <optional>

namespace nasx::core {

class RunLock {
 public:
  /// Takes the lock of `folder` (creating the folder and its `.lock` file). Throws
  /// IoError naming the process that holds it when another one does.
  explicit RunLock(const std::filesystem::path& folder);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  /// The process holding `folder`'s lock now, if any (without taking it).
  static std::optional<pid_t> holder(const std::filesystem::path& folder);

 private:
  int fd_ = -1;
};

}  // namespace nasx::core
