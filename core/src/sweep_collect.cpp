// Reading a sweep folder back: per-trial status and results, and the collected table.

#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>

#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/sweep_run.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// The trial objects of sweep.json, one per line as write_sweep_folder writes them.
std::vector<std::string> trial_lines(const std::string& sweep_json) {
  std::vector<std::string> lines;
  std::istringstream in(sweep_json);
  for (std::string line; std::getline(in, line);)
    if (line.find("{\"name\": ") != std::string::npos &&
        line.find("\"settings\"") != std::string::npos)
      lines.push_back(line);
  return lines;
}

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

struct Stats {
  int n = 0;
  double mean = 0, std = 0;
};

Stats stats(const std::vector<double>& values) {
  Stats s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  for (double v : values) s.mean += v;
  s.mean /= s.n;
  if (s.n > 1) {
    for (double v : values) s.std += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(s.std / (s.n - 1));  // sample standard deviation
  }
  return s;
}

std::string mean_std(const Stats& s) {
  if (s.n == 0) return "-";
  return fixed(s.mean, 4) + " ± " + fixed(s.std, 4) + " (n=" + std::to_string(s.n) + ")";
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  const auto display = [](const std::string& s) {  // UTF-8 aware enough for '±'
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], display(row[i]));
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - display(row[i]) + 2, ' ');
    }
    out << line << "\n";
  }
}

}  // namespace

std::vector<TrialRow> read_sweep_rows(const fs::path& sweep_dir, std::vector<std::string>* axes) {
  const fs::path index = sweep_dir / "sweep.json";
  if (!fs::exists(index))
    throw IoError(sweep_dir.string() +
                  " is not a sweep folder (no sweep.json): give the folder `nasx sweep` printed, "
                  "<output_dir>/<sweep name>");
  const std::string sweep_json = read_text_file(index);
  std::vector<std::string> axis_keys;
  {
    const size_t at = sweep_json.find("\"axes\": [");
    const size_t end = sweep_json.find(']', at);
    std::string list = sweep_json.substr(at + 9, end - at - 9);
    for (size_t i = list.find('"'); i != std::string::npos; i = list.find('"', i)) {
      const size_t close = list.find('"', i + 1);
      axis_keys.push_back(list.substr(i + 1, close - i - 1));
      i = close + 1;
    }
  }
  if (axes) *axes = axis_keys;
  std::vector<TrialRow> rows;
  std::optional<std::map<std::string, std::string>> queue;  // squeue, asked once
  bool queue_read = false;
  for (const std::string& line : trial_lines(sweep_json)) {
    TrialRow row;
    row.name = json_string_field(line, "name").value_or("?");
    row.seed = static_cast<long long>(json_number_field(line, "seed").value_or(0));
    const auto settings = json_string_members(line, "settings");
    for (const auto& key : axis_keys) {
      const auto found = settings.find(key);
      std::string value = found == settings.end() ? "" : found->second;
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);  // TOML string -> its text
      row.values.push_back(value);
      row.setting += (row.setting.empty() ? "" : " ") + key.substr(key.rfind('.') + 1) + "=" +
                     row.values.back();
    }
    if (row.setting.empty()) row.setting = "(base)";

    const fs::path dir = sweep_dir / row.name;
    const std::string trial = read_text_file(dir / "trial.json");
    const TrialState state = trial_state(dir);
    const std::string recorded = json_string_field(trial, "status").value_or("");
    // The slurm executor's submission, when its task has not recorded the trial yet.
    const std::string slurm = read_text_file(dir / "slurm.json");
    const std::string job = json_string_field(slurm, "job").value_or("");
    const bool task_started = !job.empty() && json_string_field(trial, "job") == job;
    const auto in_queue = [&]() -> std::optional<std::string> {
      if (!queue_read) {
        queue = slurm_queue(json_string_field(slurm, "job_name").value_or(""));
        queue_read = true;
      }
      if (!queue) return std::nullopt;
      const auto found = queue->find(job);
      return found == queue->end() ? std::string() : found->second;
    };
    const auto left_queue = [&](const std::string& what) {
      row.detail = what;
      if (auto state = slurm_accounting_state(job)) row.detail += ", sacct: " + *state;
      row.detail += "; see " + json_string_field(slurm, "output").value_or("its slurm output");
    };
    if (state == TrialState::Done) {
      row.status = "done";
    } else if (!job.empty() && !task_started) {
      const auto queued = in_queue();
      if (!queued) {
        row.status = "submitted";
        row.detail = "job " + job + "; squeue unavailable here";
      } else if (queued->empty()) {
        row.status = "failed";
        left_queue("job " + job + " left the queue without starting the trial");
      } else {
        row.status = *queued == "PENDING" ? "queued" : "running";
        row.detail =
            "job " + job + (*queued == "PENDING" || *queued == "RUNNING" ? "" : ", " + *queued);
      }
    } else if (recorded == "failed") {
      row.status = "failed";
      row.detail = json_string_field(trial, "exit").value_or("");
    } else if (recorded == "running" && task_started) {
      const auto queued = in_queue();
      if (!queued || !queued->empty()) {
        row.status = "running";
        row.detail = "job " + job;
      } else {
        // The task ended without recording the end: cancelled, time limit, node failure.
        row.status = "interrupted";
        left_queue("job " + job + " ended without finishing the trial");
      }
    } else if (recorded == "running") {
      // A local trial whose process is gone was interrupted (the sweep was killed).
      const auto pid = json_number_field(trial, "pid");
      const bool alive = pid && fs::exists("/proc/" + std::to_string(static_cast<long>(*pid)));
      row.status = alive ? "running" : "interrupted";
    } else {
      row.status = state == TrialState::Started ? "interrupted" : "pending";
    }
    const std::string summary = read_text_file(RunPaths(dir).summary);
    if (!summary.empty()) {
      row.genotype = json_string_field(summary, "genotype").value_or("");
      if (auto v = json_number_field(summary, "valid_acc"))
        row.search_acc = *v;
      else if (auto b = json_number_field(summary, "best_acc"))
        row.search_acc = *b;
      if (auto t = json_number_field(summary, "supernet_test_acc")) {
        row.test_acc = *t;
        row.test_kind = "supernet";
      } else if (auto s = json_number_field(summary, "shared_test_acc")) {
        row.test_acc = *s;
        row.test_kind = "shared";
      }
      row.seconds = json_number_field(summary, "search_seconds").value_or(-1);
      const std::string trained = read_text_file(TrainPaths(dir / "train").summary);
      if (auto t = json_number_field(trained, "test_acc")) {
        row.test_acc = *t;
        row.test_kind = "trained";
        if (auto s = json_number_field(trained, "train_seconds")) row.seconds += *s;
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void collect_sweep(const fs::path& sweep_dir, std::ostream& out) {
  std::vector<std::string> axes;
  const std::vector<TrialRow> rows = read_sweep_rows(sweep_dir, &axes);
  std::vector<std::string> header = {"trial"};
  for (const auto& key : axes) header.push_back(key);
  for (const char* column :
       {"seed", "status", "search_acc", "test_acc", "test_of", "seconds", "genotype"})
    header.push_back(column);

  std::vector<std::vector<std::string>> table = {header};
  std::string csv, json = "[";
  for (size_t i = 0; i < header.size(); ++i) csv += (i ? "," : "") + csv_field(header[i]);
  csv += "\n";
  const auto number = [](double v, int digits) {
    return v < 0 ? std::string("-") : fixed(v, digits);
  };
  for (const TrialRow& row : rows) {
    std::vector<std::string> cells = {row.name};
    for (const auto& v : row.values) cells.push_back(v);
    cells.push_back(std::to_string(row.seed));
    cells.push_back(row.status + (row.detail.empty() ? "" : " (" + row.detail + ")"));
    cells.push_back(number(row.search_acc, 4));
    cells.push_back(number(row.test_acc, 4));
    cells.push_back(row.test_kind.empty() ? "-" : row.test_kind);
    cells.push_back(number(row.seconds, 0));
    cells.push_back(row.genotype.empty() ? "-" : row.genotype);
    for (size_t i = 0; i < cells.size(); ++i) csv += (i ? "," : "") + csv_field(cells[i]);
    csv += "\n";
    std::vector<std::string> shown = cells;
    if (shown.back().size() > 60) shown.back() = shown.back().substr(0, 57) + "...";
    table.push_back(shown);

    std::string settings = "{";
    for (size_t a = 0; a < axes.size(); ++a)
      settings += (a ? ", " : "") + json_string(axes[a]) + ": " + json_string(row.values[a]);
    JsonObject object;
    object.add("trial", row.name)
        .add_raw("settings", settings + "}")
        .add("seed", static_cast<int64_t>(row.seed));
    object.add("status", row.status);
    if (!row.detail.empty()) object.add("exit", row.detail);
    if (row.search_acc >= 0) object.add("search_acc", row.search_acc);
    if (row.test_acc >= 0) object.add("test_acc", row.test_acc).add("test_of", row.test_kind);
    if (row.seconds >= 0) object.add("seconds", row.seconds);
    if (!row.genotype.empty()) object.add("genotype", row.genotype);
    json += (json.size() > 1 ? ",\n  " : "\n  ") + object.str();
  }
  out << "trials of " << sweep_dir.string() << ":\n";
  print_table(out, table);

  // Mean ± std over the seeds of each setting, over the finished trials.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const TrialRow*>> groups;
  for (const TrialRow& row : rows) {
    if (!groups.count(row.setting)) order.push_back(row.setting);
    groups[row.setting].push_back(&row);
  }
  std::vector<std::vector<std::string>> summary = {
      {"setting", "done", "search_acc (mean ± std)", "test_acc (mean ± std)", "failed"}};
  std::string groups_json = "[";
  for (const auto& setting : order) {
    std::vector<double> search, test;
    int failed = 0, done = 0;
    for (const TrialRow* row : groups[setting]) {
      if (row->status == "failed") ++failed;
      if (row->status != "done") continue;
      ++done;
      if (row->search_acc >= 0) search.push_back(row->search_acc);
      if (row->test_acc >= 0) test.push_back(row->test_acc);
    }
    const Stats s = stats(search), t = stats(test);
    summary.push_back({setting, std::to_string(done) + "/" + std::to_string(groups[setting].size()),
                       mean_std(s), mean_std(t), std::to_string(failed)});
    JsonObject g;
    g.add("setting", setting)
        .add("done", static_cast<int64_t>(done))
        .add("failed", static_cast<int64_t>(failed));
    if (s.n) g.add("search_acc_mean", s.mean).add("search_acc_std", s.std);
    if (t.n) g.add("test_acc_mean", t.mean).add("test_acc_std", t.std);
    groups_json += (groups_json.size() > 1 ? ",\n  " : "\n  ") + g.str();
  }
  out << "\nper setting, over seeds (sample std):\n";
  print_table(out, summary);
  write_file_atomically(sweep_dir / "collect.csv", csv);
  write_file_atomically(sweep_dir / "collect.json",
                        "{\"trials\": " + json + "\n], \"settings\": " + groups_json + "\n]}\n");
  out << "\nwritten: " << (sweep_dir / "collect.csv").string() << ", "
      << (sweep_dir / "collect.json").string() << "\n";
}

}  // namespace nasx::core
