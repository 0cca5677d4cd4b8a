#include "nasx/core/ground_truth.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/rank_statistics.hpp"
#include "nasx/core/sweep.hpp"
#include "nasx/core/text_table.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

std::vector<const TableRow*> GroundTruthTable::rows_of(const std::string& arch) const {
  std::vector<const TableRow*> out;
  for (const TableRow& row : rows)
    if (row.arch == arch) out.push_back(&row);
  return out;
}

namespace {

double mean_of(const GroundTruthTable& table, const std::string& arch,
               double TableRow::*member) {
  const auto rows = table.rows_of(arch);
  if (rows.empty())
    throw ConfigError("architecture " + arch + " is not in the ground-truth table " +
                      table.file.string() + " (" + std::to_string(table.architectures().size()) +
                      " architectures of space '" + table.space +
                      "'); build a table that holds it (nasx table build) or search a space "
                      "the table covers");
  double sum = 0;
  for (const TableRow* row : rows) sum += row->*member;
  return sum / static_cast<double>(rows.size());
}

}  // namespace

double GroundTruthTable::accuracy(const std::string& arch) const {
  return mean_of(*this, arch, &TableRow::test_acc);
}

double GroundTruthTable::seconds(const std::string& arch) const {
  return mean_of(*this, arch, &TableRow::seconds);
}

std::vector<std::string> GroundTruthTable::architectures() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const TableRow& row : rows)
    if (seen.insert(row.arch).second) out.push_back(row.arch);
  return out;
}

std::vector<int64_t> GroundTruthTable::seeds() const {
  std::set<int64_t> seeds;
  for (const TableRow& row : rows) seeds.insert(row.seed);
  return {seeds.begin(), seeds.end()};
}

void GroundTruthTable::check_space(const std::string& space_name, const std::string& use) const {
  if (space != space_name)
    throw ConfigError("the ground-truth table " + file.string() + " is of space '" + space +
                      "', but " + use + " is of space '" + space_name +
                      "'; give a table built for '" + space_name + "'");
}

namespace {

Json row_json(const TableRow& row) {
  return JsonObject()
      .add("arch", row.arch)
      .add("seed", row.seed)
      .add("test_acc", row.test_acc)
      .add("test_loss", row.test_loss)
      .add("parameters", row.parameters)
      .add("flops", row.flops)
      .add("seconds", row.seconds)
      .add("epochs", row.epochs)
      .add("train_loss", row.train_loss)
      .add("train_acc", row.train_acc)
      .add("epoch_test_acc", row.epoch_test_acc)
      .json();
}

/// A row read back; `where` names the file and the row for every error.
TableRow parse_row(const Json& json, const std::string& where) {
  if (!json.is_object()) throw ConfigError(where + ": a row must be a JSON object");
  TableRow row;
  auto field = [&](const char* key) -> const Json& {
    if (!json.contains(key)) throw ConfigError(where + ": '" + key + "' is missing");
    return json.at(key);
  };
  auto number = [&](const char* key) {
    const Json& value = field(key);
    if (!value.is_number())
      throw ConfigError(where + ": '" + key + "' must be a number, not " + value.dump());
    return value.get<double>();
  };
  auto integer = [&](const char* key) {
    const Json& value = field(key);
    if (!value.is_number_integer())
      throw ConfigError(where + ": '" + key + "' must be an integer, not " + value.dump());
    return value.get<int64_t>();
  };
  auto series = [&](const char* key) {
    const Json& value = field(key);
    std::vector<double> out;
    if (!value.is_array())
      throw ConfigError(where + ": '" + key + "' must be a list of numbers (one per epoch)");
    for (const Json& v : value) {
      if (!v.is_number())
        throw ConfigError(where + ": '" + key + "' holds " + v.dump() + ", not a number");
      out.push_back(v.get<double>());
    }
    return out;
  };
  const Json& arch = field("arch");
  if (!arch.is_string() || arch.get<std::string>().empty())
    throw ConfigError(where + ": 'arch' must be the architecture's text");
  row.arch = arch.get<std::string>();
  row.seed = integer("seed");
  row.test_acc = number("test_acc");
  if (!(row.test_acc >= 0 && row.test_acc <= 1))
    throw ConfigError(where + ": 'test_acc' " + json_line(row.test_acc) +
                      " is not an accuracy in [0, 1]");
  row.test_loss = number("test_loss");
  row.parameters = integer("parameters");
  row.flops = integer("flops");
  row.seconds = number("seconds");
  if (!(row.seconds >= 0))
    throw ConfigError(where + ": 'seconds' must be >= 0, not " + json_line(row.seconds));
  row.epochs = integer("epochs");
  row.train_loss = series("train_loss");
  row.train_acc = series("train_acc");
  row.epoch_test_acc = series("epoch_test_acc");
  return row;
}

}  // namespace

GroundTruthTable read_table(const fs::path& file) {
  std::error_code error;
  if (!fs::is_regular_file(file, error))
    throw ConfigError(file.string() +
                      ": no such ground-truth table; build one with `nasx table build` and "
                      "`nasx table collect DIR` (it writes DIR/table.json)");
  Json json;
  try {
    json = Json::parse(read_text_file(file));
  } catch (const Json::parse_error& e) {
    throw ConfigError(file.string() + ": not a ground-truth table (invalid JSON: " + e.what() +
                      ")");
  }
  const std::string what = file.string();
  if (!json.is_object() || json.value("format", "") != kTableFormat)
    throw ConfigError(what + ": not a ground-truth table (no \"format\": \"" + kTableFormat +
                      "\")");
  const Json version = json.value("version", Json());
  if (!version.is_number_integer() || version.get<int>() != kTableVersion)
    throw ConfigError(what + ": table format version " + version.dump() + ", this nasx reads " +
                      std::to_string(kTableVersion) + "; collect it again with this nasx");
  GroundTruthTable table;
  table.file = file;
  table.space = json.value("space", "");
  table.data = json.value("data", "");
  table.preset = json.value("preset", "");
  if (table.space.empty()) throw ConfigError(what + ": the table names no \"space\"");
  const Json rows = json.value("rows", Json());
  if (!rows.is_array() || rows.empty()) throw ConfigError(what + ": the table has no rows");
  std::set<std::pair<std::string, int64_t>> seen;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string where = what + ": row " + std::to_string(i);
    if (rows[i].is_object() && rows[i].contains("arch") && rows[i]["arch"].is_string())
      where += " (" + rows[i]["arch"].get<std::string>() + ")";
    table.rows.push_back(parse_row(rows[i], where));
    if (!seen.insert({table.rows.back().arch, table.rows.back().seed}).second)
      throw ConfigError(where + ": seed " + std::to_string(table.rows.back().seed) +
                        " of this architecture appears twice");
  }
  return table;
}

void write_table(const GroundTruthTable& table, const fs::path& file) {
  Json rows = Json::array();
  for (const TableRow& row : table.rows) rows.push_back(row_json(row));
  std::string text = "{\"format\": \"" + std::string(kTableFormat) +
                     "\", \"version\": " + std::to_string(kTableVersion) +
                     ", \"space\": " + json_line(table.space) + ", \"data\": " +
                     json_line(table.data) + ", \"preset\": " + json_line(table.preset) +
                     ",\n\"rows\": [\n";
  // One row per line: a table diffs and greps well.
  for (size_t i = 0; i < table.rows.size(); ++i)
    text += json_line(rows[i]) + (i + 1 < table.rows.size() ? ",\n" : "\n");
  write_file_atomically(file, text + "]}\n");
}

namespace {

/// The row of one finished training folder.
TableRow training_row(const fs::path& dir, const std::string& arch, int64_t seed) {
  const TrainPaths paths(dir);
  const Json summary = parse_json_or_empty(read_text_file(paths.summary));
  TableRow row;
  row.arch = arch;
  row.seed = seed;
  const auto need = [&](const char* key) {
    const auto value = number_member(summary, key);
    if (!value)
      throw IoError(paths.summary.string() + " has no '" + key +
                    "': the training did not finish cleanly; remove the folder and build again");
    return *value;
  };
  row.test_acc = need("test_acc");
  row.test_loss = need("test_loss");
  row.parameters = static_cast<int64_t>(need("parameters"));
  row.flops = static_cast<int64_t>(need("flops"));
  row.seconds = need("train_seconds");
  std::istringstream epochs(read_text_file(paths.epochs));
  for (std::string line; std::getline(epochs, line);) {
    const Json record = parse_json_or_empty(line);
    if (record.empty()) continue;
    row.train_loss.push_back(number_member(record, "train_loss").value_or(0));
    row.train_acc.push_back(number_member(record, "train_acc").value_or(0));
    row.epoch_test_acc.push_back(number_member(record, "test_acc").value_or(0));
  }
  row.epochs = static_cast<int64_t>(row.train_loss.size());
  return row;
}


}  // namespace

GroundTruthTable collect_table(const fs::path& build_dir, std::ostream& out) {
  const fs::path index = build_dir / "sweep.json";
  const Json sweep = parse_json_or_empty(read_text_file(index));
  if (sweep.empty() || !sweep.value("table", false))
    throw ConfigError(build_dir.string() +
                      " is not a table build's folder (its sweep.json, written by `nasx table "
                      "build`, is missing or is a sweep of searches)");
  GroundTruthTable table;
  table.space = sweep.value("space", "");
  int64_t missing = 0;
  std::vector<std::string> not_done;
  for (const Json& trial : sweep.value("trials", Json::array())) {
    const fs::path dir = build_dir / trial.value("name", "");
    if (trial_state(dir) != TrialState::Done) {
      ++missing;
      if (not_done.size() < 5) not_done.push_back(trial.value("name", ""));
      continue;
    }
    table.rows.push_back(
        training_row(dir, trial.value("architecture", ""), trial.value("seed", int64_t{0})));
    if (table.preset.empty()) {
      table.preset = read_text_file(TrainPaths(dir).config);
      const Json summary = parse_json_or_empty(read_text_file(TrainPaths(dir).summary));
      table.data = string_member(summary, "data").value_or("");
    }
  }
  if (table.rows.empty())
    throw ConfigError(build_dir.string() + ": no training is done yet; run `nasx table build` " +
                      "first (nasx sweep status " + build_dir.string() + " shows progress)");
  table.file = build_dir / "table.json";
  write_table(table, table.file);

  // Per architecture: mean ± std over seeds, best first.
  std::vector<std::pair<double, std::string>> order;
  for (const std::string& arch : table.architectures()) order.push_back({table.accuracy(arch), arch});
  std::sort(order.rbegin(), order.rend());
  out << "arch  seeds  test_acc (mean ± std)  parameters  seconds\n";
  std::vector<double> all_seconds;
  for (const auto& [accuracy, arch] : order) {
    std::vector<double> accs;
    const auto rows = table.rows_of(arch);
    for (const TableRow* row : rows) {
      accs.push_back(row->test_acc);
      all_seconds.push_back(row->seconds);
    }
    const MeanStd m = mean_std(accs);
    out << arch << "  " << rows.size() << "  " << fixed(m.mean, 4) << " ± " << fixed(m.std, 4)
        << "  " << rows.front()->parameters << "  " << fixed(table.seconds(arch), 1) << "\n";
  }
  const MeanStd seconds = mean_std(all_seconds);
  out << table.rows.size() << " rows, " << order.size() << " architectures, seeds";
  for (int64_t s : table.seeds()) out << " " << s;
  out << "; training " << fixed(seconds.mean, 1) << " ± " << fixed(seconds.std, 1)
      << " s per row, " << fixed(seconds.mean * static_cast<double>(seconds.count) / 3600.0, 2)
      << " h in all\n";
  if (missing > 0) {
    out << missing << " trainings not done yet (";
    for (size_t i = 0; i < not_done.size(); ++i) out << (i ? ", " : "") << not_done[i];
    out << (missing > static_cast<int64_t>(not_done.size()) ? ", ..." : "")
        << "): the table leaves them out; collect again once they are\n";
  }
  out << "table: " << table.file.string() << "\n";
  return table;
}

}  // namespace nasx::core
