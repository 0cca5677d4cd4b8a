#include "nasx/core/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <torch/serialize/archive.h>

#include "nasx/error.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {
[[noreturn]] void fail(const std::string& what, const fs::path& path) {
  throw IoError(what + " " + path.string() + ": " + std::strerror(errno) +
                "; check that the folder exists, is writable and the disk is not full");
}
}  // namespace

void fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open", path);
  if (::fsync(fd) != 0 && errno != EINVAL) {
    ::close(fd);
    fail("cannot fsync", path);
  }
  ::close(fd);
}

void commit_rename(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) fail("cannot rename to", to);
  fsync_path(to.parent_path().empty() ? fs::path(".") : to.parent_path());
}

void write_file_atomically(const fs::path& path, const std::string& content) {
  const fs::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("cannot write", temporary);
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail("cannot write", temporary);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("cannot fsync", temporary);
  }
  ::close(fd);
  commit_rename(temporary, path);
}

JsonlLog::JsonlLog(fs::path path) : path_(std::move(path)) {}

void JsonlLog::append(const std::string& json_line) {
  if (path_.empty()) return;
  std::ofstream out(path_, std::ios::app | std::ios::binary);
  if (!out) fail("cannot append to", path_);
  out << json_line << '\n';
  out.flush();
  if (!out) fail("cannot append to", path_);
}

uint64_t JsonlLog::sync() {
  if (path_.empty()) return 0;
  std::error_code error;
  if (!fs::exists(path_, error)) return 0;
  fsync_path(path_);
  return fs::file_size(path_);
}

void JsonlLog::truncate(uint64_t size) {
  if (path_.empty()) return;
  std::error_code error;
  if (!fs::exists(path_, error)) return;
  fs::resize_file(path_, size, error);
  if (error) throw IoError("cannot truncate " + path_.string() + ": " + error.message());
}

void save_archive_atomically(torch::serialize::OutputArchive& archive, const fs::path& path) {
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
  const fs::path temporary = path.string() + ".tmp";
  try {
    archive.save_to(temporary.string());
  } catch (const std::exception& e) {
    throw IoError("cannot write " + temporary.string() + ": " + e.what());
  }
  fsync_path(temporary);
  commit_rename(temporary, path);
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace nasx::core
