#include "nasx/core/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include "nasx/error.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

fs::path lock_file(const fs::path& folder) { return folder / ".lock"; }

/// The pid the holder wrote into the lock file (best effort: 0 when unreadable).
pid_t pid_in(int fd) {
  char buffer[32] = {0};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  return n > 0 ? static_cast<pid_t>(std::atol(buffer)) : 0;
}

std::string holder_text(pid_t pid) {
  return pid > 0 ? "process " + std::to_string(pid) : "another process";
}

}  // namespace

RunLock::RunLock(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error)
    throw IoError("cannot create folder " + folder.string() + ": " + error.message() +
                  "; choose a writable --out (or experiment.output_dir)");
  const fs::path file = lock_file(folder);
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw IoError("cannot open " + file.string() + ": " + std::strerror(errno) +
                  "; check that the folder is writable");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    if (saved == ENOSYS || saved == ENOLCK || saved == EOPNOTSUPP || saved == EINVAL) {
      // Some network file systems (Lustre without -o flock, some FUSE) have no locks:
      // run unprotected rather than not at all, and say so.
      std::cerr << "nasx: warning: " << folder.string()
                << " cannot be locked on this file system (" << std::strerror(saved)
                << "); make sure no other nasx process writes it\n";
      return;
    }
    const pid_t pid = pid_in(fd_);
    ::close(fd_);
    fd_ = -1;
    if (saved == EWOULDBLOCK)
      throw IoError(folder.string() + " is in use: " + holder_text(pid) +
                    " is writing it (a run, a resume or a sweep's trial). Wait for it to end "
                    "or stop it (kill " +
                    (pid > 0 ? std::to_string(pid) : std::string("<pid>")) +
                    "); one folder has one writer");
    throw IoError("cannot lock " + file.string() + ": " + std::strerror(saved));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

std::optional<pid_t> RunLock::holder(const fs::path& folder) {
  const int fd = ::open(lock_file(folder).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<pid_t> result;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) result = pid_in(fd);
  ::close(fd);
  return result;
}

}  // namespace nasx::core
