#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace torch::serialize {
class OutputArchive;
}

namespace nasx::core {

/// Writes `content` to `path` so that a reader sees the old file or the whole new
/// one, never a part: write a temporary beside it, fsync, rename, fsync the folder.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

/// The whole file ("" when it does not exist or cannot be read).
std::string read_text_file(const std::filesystem::path& path);

/// Its first line, without the newline (genotype.txt's architecture); "" likewise.
std::string first_line_of(const std::filesystem::path& path);

/// The bytes LibTorch would write for `archive` (serialised in memory).
std::string archive_bytes(torch::serialize::OutputArchive& archive);

/// Saves `archive` to `path` the same way (temporary, fsync, rename); creates the folder.
void save_archive_atomically(torch::serialize::OutputArchive& archive,
                             const std::filesystem::path& path);

/// Removes what a killed writer may have left in `folder` (not its subfolders): the
/// temporaries of atomic writes (*.tmp) and check_writable's test file. The caller holds
/// the folder's lock.
void remove_leftover_temporaries(const std::filesystem::path& folder);

/// Creates `folder` and writes (then removes) a small file in it: a read-only or full
/// folder is an IoError before any work that would be lost at the first checkpoint.
void check_writable(const std::filesystem::path& folder);

/// fsync a file or folder; throws IoError naming it.
void fsync_path(const std::filesystem::path& path);

/// Renames `from` to `to` and fsyncs the folder (the commit step of an atomic write).
void commit_rename(const std::filesystem::path& from, const std::filesystem::path& to);

/// A folder of results (a report, an export) written whole or not at all: the files go
/// into TARGET.tmp beside it, and commit() puts that in TARGET's place (an earlier TARGET
/// is removed only once the new one is complete). Destroyed without commit(), it removes
/// what it wrote and TARGET stays as it was.
class StagedFolder {
 public:
  explicit StagedFolder(std::filesystem::path target);
  ~StagedFolder();
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;
  /// Where to write (TARGET.tmp, created empty).
  const std::filesystem::path& path() const { return staging_; }
  void commit();

 private:
  std::filesystem::path target_, staging_;
  bool committed_ = false;
};

/// An append-only JSON-lines log whose size can be recorded in a checkpoint and
/// cut back to on resume, so a resumed run neither loses nor repeats a line. An empty
/// path keeps nothing (the ranks other than 0 of a data-parallel run write no folder).
class JsonlLog {
 public:
  explicit JsonlLog(std::filesystem::path path);
  void append(const std::string& json_line);
  /// Bytes durably written (fsyncs first).
  uint64_t sync();
  /// Cuts the log back to `size` bytes (a checkpoint's record). A log shorter than
  /// that, or one where `size` is not the end of a line, is an IoError whose last
  /// words are `remedy` (what else the person can do): it is never extended.
  void truncate(uint64_t size, const std::string& remedy);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool folder_synced_ = false;  ///< the folder's entry for a new log is durable too
};

}  // namespace nasx::core
