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
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write", temporary);
  // On any failure (a full disk, a file size limit) the temporary goes and the old file
  // stays as it was.
  const auto give_up = [&](const char* what) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    errno = saved;
    fail(what, temporary);
  };
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      give_up("cannot write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) give_up("cannot fsync");
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(temporary.c_str());
    errno = saved;
    fail("cannot write", temporary);
  }
  try {
    commit_rename(temporary, path);
  } catch (const IoError&) {
    ::unlink(temporary.c_str());
    throw;
  }
}

StagedFolder::StagedFolder(fs::path target)
    : target_(std::move(target)), staging_(target_.string() + ".tmp") {
  std::error_code error;
  fs::remove_all(staging_, error);  // a killed earlier attempt's
  fs::remove_all(target_.string() + ".old", error);
  if (!fs::create_directories(staging_, error) || error)
    throw IoError("cannot create " + staging_.string() + ": " + error.message() +
                  "; check that the folder is writable and the disk is not full");
}

StagedFolder::~StagedFolder() {
  std::error_code error;
  if (!committed_) fs::remove_all(staging_, error);
}

void StagedFolder::commit() {
  const fs::path old = target_.string() + ".old";
  std::error_code error;
  const bool replacing = fs::exists(target_, error);
  if (replacing) commit_rename(target_, old);
  commit_rename(staging_, target_);
  committed_ = true;
  if (replacing) fs::remove_all(old, error);
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
  if (!folder_synced_) {
    fsync_path(path_.parent_path().empty() ? fs::path(".") : path_.parent_path());
    folder_synced_ = true;
  }
  const uint64_t size = fs::file_size(path_, error);
  if (error) throw IoError("cannot read the size of " + path_.string() + ": " + error.message());
  return size;
}

void JsonlLog::truncate(uint64_t size, const std::string& remedy) {
  if (path_.empty()) return;
  std::error_code error;
  const bool exists = fs::exists(path_, error);
  if (!exists && size == 0) return;
  const uint64_t actual = exists ? fs::file_size(path_, error) : 0;
  // Cutting back is the only repair: a log shorter than the checkpoint's record, or one
  // whose recorded end is not the end of a line, was changed after the checkpoint, and
  // extending it would write zero bytes into the middle of the log.
  if (!exists || error || actual < size)
    throw IoError(path_.string() + " is " + (exists ? std::to_string(actual) + " bytes" : "missing") +
                  " but the checkpoint recorded " + std::to_string(size) +
                  " bytes of it: the log was cut or removed after the checkpoint was written. "
                  "Restore the file, or " + remedy);
  if (size > 0) {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(size - 1));
    char last = 0;
    if (!in.get(last) || last != '\n')
      throw IoError(path_.string() + ": byte " + std::to_string(size) +
                    ", where the checkpoint says the log ends, is not the end of a line: the "
                    "log was edited after the checkpoint was written. Restore the file, or " +
                    remedy);
  }
  if (actual == size) return;
  fs::resize_file(path_, size, error);
  if (error) throw IoError("cannot truncate " + path_.string() + ": " + error.message());
  fsync_path(path_);
}

std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  // Serialising into memory first means a full disk fails in our own writer (one error,
  // the temporary removed) and never inside LibTorch's, whose file writer throws again
  // from its destructor and ends the process.
  std::string bytes;
  archive.save_to([&bytes](const void* data, size_t size) -> size_t {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  return bytes;
}

void save_archive_atomically(torch::serialize::OutputArchive& archive, const fs::path& path) {
  if (!path.parent_path().empty()) {
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    if (error)
      throw IoError("cannot create " + path.parent_path().string() + ": " + error.message() +
                    "; check that the folder is writable");
  }
  write_file_atomically(path, archive_bytes(archive));
}

void remove_leftover_temporaries(const fs::path& folder) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const fs::path& path = entry.path();
    if (path.extension() == ".tmp" || path.filename() == ".write-test") fs::remove(path, error);
  }
}

void check_writable(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error)
    throw IoError("cannot create " + folder.string() + ": " + error.message() +
                  "; check that the folder is writable and the disk is not full");
  write_file_atomically(folder / ".write-test", "ok\n");
  fs::remove(folder / ".write-test", error);
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string first_line_of(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace nasx::core
