#pragma once
/// Ground-truth tables: what every architecture of a space (or a sample of it) reached
/// when trained alone, per seed. Built by `nasx table build` (a sweep of trainings),
/// written by `nasx table collect` as one JSON file, read by the `table` evaluator and
/// by `nasx analyze`.
///
/// table.json, format "nasx-ground-truth-table" version 1:
///   {"format": "nasx-ground-truth-table", "version": 1, "space": "ws64",
///    "data": "fashion-mnist", "preset": "<the training config, TOML>",
///    "rows": [{"arch": "424", "seed": 0, "test_acc": 0.81, "test_loss": 0.52,
///              "parameters": 13026, "flops": 9652768, "seconds": 61.2, "epochs": 3,
///              "train_loss": [...per epoch], "train_acc": [...], "epoch_test_acc": [...]}]}
/// pandas: pd.DataFrame(json.load(open("table.json"))["rows"]); R:
/// jsonlite::fromJSON("table.json")$rows.

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace nasx::core {

constexpr const char* kTableFormat = "nasx-ground-truth-table";
constexpr int kTableVersion = 1;

/// One architecture trained with one seed.
struct TableRow {
  std::string arch;  ///< the space's text form
  int64_t seed = 0;
  double test_acc = 0;
  double test_loss = 0;
  int64_t parameters = 0;
  int64_t flops = 0;        ///< multiply-adds per image
  double seconds = 0;       ///< training wall time
  int64_t epochs = 0;
  std::vector<double> train_loss, train_acc, epoch_test_acc;  ///< per epoch
};

class GroundTruthTable {
 public:
  std::filesystem::path file;  ///< where it was read from (messages)
  std::string space;
  std::string data;
  std::string preset;
  std::vector<TableRow> rows;

  /// The rows of `arch` (its canonical text); empty when the table lacks it.
  std::vector<const TableRow*> rows_of(const std::string& arch) const;
  /// Mean test accuracy and training seconds over `arch`'s seeds. Throws ConfigError
  /// naming the architecture and the table when it has no row.
  double accuracy(const std::string& arch) const;
  double seconds(const std::string& arch) const;
  /// The architectures, in the order of their first row.
  std::vector<std::string> architectures() const;
  /// The seeds of the table, sorted.
  std::vector<int64_t> seeds() const;

  /// Throws ConfigError unless the table is of space `space_name`, naming both.
  void check_space(const std::string& space_name, const std::string& use) const;
};

/// Reads and validates a table file. Throws ConfigError naming the file and, for a
/// malformed row, its index, architecture and key.
GroundTruthTable read_table(const std::filesystem::path& file);

/// Writes `table` to `file` atomically.
void write_table(const GroundTruthTable& table, const std::filesystem::path& file);

/// `nasx table collect`: the table of a table build's folder (the trainings that are
/// done; `out` names the others), written to DIR/table.json; a summary per
/// architecture to `out`.
GroundTruthTable collect_table(const std::filesystem::path& build_dir, std::ostream& out);

}  // namespace nasx::core
