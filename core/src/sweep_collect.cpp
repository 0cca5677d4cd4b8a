// Reading a sweep folder back: per-trial status and results, and the collected table.

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>

#include "nasx/core/files.hpp"
#include "nasx/core/ground_truth.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/rank_statistics.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/sweep_run.hpp"
#include "nasx/core/text_table.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// "0.7104 ± 0.0081 (n=10)": mean and sample standard deviation over the seeds.
std::string mean_std_text(const MeanStd& s, int digits = 4) {
  if (s.count == 0) return "-";
  return fixed(s.mean, digits) + " ± " + fixed(s.std, digits) + " (n=" + std::to_string(s.count) +
         ")";
}

}  // namespace

namespace {

/// What slurm.json and the queue say of a trial the slurm executor submitted.
class SlurmTrial {
 public:
  SlurmTrial(const fs::path& dir, const Json& trial, std::optional<QueueStates>& queue,
             bool& queue_read)
      : submission_(parse_json_or_empty(read_text_file(dir / "slurm.json"))),
        job_(string_member(submission_, "job").value_or("")),
        task_started_(!job_.empty() && string_member(trial, "job") == job_),
        queue_(queue),
        queue_read_(queue_read) {}

  bool submitted_not_started() const { return !job_.empty() && !task_started_; }
  bool task_started() const { return task_started_; }
  const std::string& job() const { return job_; }

  /// The job's queue state, "" when it left the queue, nullopt without squeue.
  std::optional<std::string> in_queue() {
    if (!queue_read_) {
      queue_ = slurm_queue(string_member(submission_, "job_name").value_or(""));
      queue_read_ = true;
    }
    if (!queue_) return std::nullopt;
    const auto found = queue_->find(job_);
    return found == queue_->end() ? std::string() : found->second;
  }

  /// Why a job that left the queue did not finish, with accounting and its output file.
  std::string left_queue(const std::string& what) const {
    std::string detail = what;
    if (auto state = slurm_accounting_state(job_)) detail += ", sacct: " + *state;
    return detail + "; see " + string_member(submission_, "output").value_or("its slurm output");
  }

 private:
  Json submission_;
  std::string job_;
  bool task_started_;
  std::optional<QueueStates>& queue_;
  bool& queue_read_;
};

/// A submitted trial whose task has not started: queued, running, or gone from the queue.
void read_submitted_status(TrialRow& row, SlurmTrial& slurm) {
  const std::string& job = slurm.job();
  const auto queued = slurm.in_queue();
  if (!queued) {
    row.status = "submitted";
    row.detail = "job " + job + "; squeue unavailable here";
  } else if (queued->empty()) {
    row.status = "failed";
    row.detail = slurm.left_queue("job " + job + " left the queue without starting the trial");
  } else {
    row.status = *queued == "PENDING" ? "queued" : "running";
    row.detail =
        "job " + job + (*queued == "PENDING" || *queued == "RUNNING" ? "" : ", " + *queued);
  }
}

/// row.status and row.detail from the trial's folder, its record and (slurm) the queue.
void read_status(TrialRow& row, const fs::path& dir, std::optional<QueueStates>& queue,
                 bool& queue_read) {
  const Json trial = parse_json_or_empty(read_text_file(dir / "trial.json"));
  const TrialState state = trial_state(dir);
  const std::string recorded = string_member(trial, "status").value_or("");
  SlurmTrial slurm(dir, trial, queue, queue_read);
  if (state == TrialState::Done) {
    row.status = "done";
  } else if (slurm.submitted_not_started()) {
    read_submitted_status(row, slurm);
  } else if (recorded == "failed") {
    row.status = "failed";
    row.detail = string_member(trial, "exit").value_or("");
  } else if (recorded == "running" && slurm.task_started()) {
    const auto queued = slurm.in_queue();
    if (!queued || !queued->empty()) {
      row.status = "running";
      row.detail = "job " + slurm.job();
    } else {
      // The task ended without recording the end: cancelled, time limit, node failure.
      row.status = "interrupted";
      row.detail = slurm.left_queue("job " + slurm.job() + " ended without finishing the trial");
    }
  } else if (recorded == "running") {
    // A local trial whose process is gone was interrupted (the sweep was killed).
    const auto pid = number_member(trial, "pid");
    const bool alive = pid && fs::exists("/proc/" + std::to_string(static_cast<long>(*pid)));
    row.status = alive ? "running" : "interrupted";
  } else {
    row.status = state == TrialState::Started ? "interrupted" : "pending";
  }
}

/// row's genotype, accuracies and seconds from the trial's summaries.
void read_results(TrialRow& row, const fs::path& dir) {
  const Json summary = parse_json_or_empty(read_text_file(RunPaths(dir).summary));
  if (summary.empty()) return;
  row.genotype = string_member(summary, "genotype").value_or("");
  if (auto v = number_member(summary, "valid_acc"))
    row.search_acc = *v;
  else if (auto b = number_member(summary, "best_acc"))
    row.search_acc = *b;
  if (auto t = number_member(summary, "supernet_test_acc")) {
    row.test_acc = *t;
    row.test_kind = "supernet";
  } else if (auto s = number_member(summary, "shared_test_acc")) {
    row.test_acc = *s;
    row.test_kind = "shared";
  } else if (auto t = number_member(summary, "table_test_acc")) {
    row.test_acc = *t;
    row.test_kind = "table";
  } else if (!number_member(summary, "search_seconds")) {  // a table build's training
    row.test_acc = number_member(summary, "test_acc").value_or(-1);
    row.test_kind = "trained";
    row.seconds = number_member(summary, "train_seconds").value_or(-1);
    return;
  }
  row.seconds = number_member(summary, "search_seconds").value_or(-1);
  row.evaluation_seconds = number_member(summary, "evaluation_seconds").value_or(-1);
  const Json trained = parse_json_or_empty(read_text_file(TrainPaths(dir / "train").summary));
  if (auto t = number_member(trained, "test_acc")) {
    row.test_acc = *t;
    row.test_kind = "trained";
    if (auto s = number_member(trained, "train_seconds")) row.seconds += *s;
  }
}

/// A row's name, seed and axis values from its entry in sweep.json.
TrialRow row_of(const Json& entry, const std::vector<std::string>& axes) {
  TrialRow row;
  row.name = string_member(entry, "name").value_or("?");
  row.seed = static_cast<long long>(number_member(entry, "seed").value_or(0));
  const Json settings = entry.value("settings", Json::object());
  const Json labels = entry.value("labels", Json::object());  // older sweeps have none
  for (const auto& key : axes) {
    std::string value =
        string_member(labels, key).value_or(string_member(settings, key).value_or(""));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);  // TOML string -> its text
    row.values.push_back(value);
  }
  return row;
}

/// Each row's setting: the axes whose value differs between trials, as key=value (an
/// axis of one value, e.g. experiment.threads = [1], says nothing about a setting).
void name_settings(std::vector<TrialRow>& rows, const std::vector<std::string>& axes) {
  for (TrialRow& row : rows) {
    row.setting.clear();
    for (size_t a = 0; a < axes.size() && a < row.values.size(); ++a) {
      bool varies = false;
      for (const TrialRow& other : rows)
        varies = varies || (a < other.values.size() && other.values[a] != row.values[a]);
      if (varies)
        row.setting += (row.setting.empty() ? "" : " ") + axes[a].substr(axes[a].rfind('.') + 1) +
                       "=" + row.values[a];
    }
    if (row.setting.empty()) row.setting = "(base)";
  }
}

/// Each answer's true accuracy and rank in `table` (rows without an answer, or with one
/// the table lacks, keep -1).
void judge_by_truth(std::vector<TrialRow>& rows, const GroundTruthTable& table) {
  std::map<std::string, double> accuracy;
  for (const std::string& arch : table.architectures()) accuracy[arch] = table.accuracy(arch);
  for (TrialRow& row : rows) {
    const auto found = accuracy.find(row.genotype);
    if (found == accuracy.end()) continue;
    row.true_acc = found->second;
    row.true_rank = 1;
    for (const auto& [arch, acc] : accuracy) row.true_rank += acc > found->second ? 1 : 0;
  }
}

}  // namespace

bool judged_by_truth(const std::vector<TrialRow>& rows) {
  return std::any_of(rows.begin(), rows.end(),
                     [](const TrialRow& row) { return row.true_acc >= 0; });
}

std::vector<TrialRow> read_sweep_rows(const fs::path& sweep_dir, std::vector<std::string>* axes) {
  const fs::path index = sweep_dir / "sweep.json";
  if (!fs::exists(index))
    throw IoError(sweep_dir.string() +
                  " is not a sweep folder (no sweep.json): give the folder `nasx sweep` printed, "
                  "<output_dir>/<sweep name>");
  const Json sweep = parse_json_or_empty(read_text_file(index));
  if (!sweep.contains("trials") || !sweep["trials"].is_array())
    throw IoError(index.string() +
                  " is damaged (no list of trials); run `nasx sweep` on the "
                  "sweep file again to rewrite it");
  const auto axis_keys = sweep.value("axes", std::vector<std::string>());
  if (axes) *axes = axis_keys;
  std::vector<TrialRow> rows;
  std::optional<QueueStates> queue;  // squeue, asked once
  bool queue_read = false;
  for (const Json& entry : sweep["trials"]) {
    TrialRow row = row_of(entry, axis_keys);
    const fs::path dir = sweep_dir / row.name;
    read_status(row, dir, queue, queue_read);
    read_results(row, dir);
    rows.push_back(std::move(row));
  }
  name_settings(rows, axis_keys);
  if (const std::string truth = sweep.value("truth", std::string()); !truth.empty())
    judge_by_truth(rows, read_table(truth));
  return rows;
}

namespace {

/// The trial's cells of the table (and of the CSV): name, axes, seed, status, results.
std::vector<std::string> table_cells(const TrialRow& row, bool truth) {
  const auto number = [](double v, int digits) {
    return v < 0 ? std::string("-") : fixed(v, digits);
  };
  std::vector<std::string> cells = {row.name};
  for (const auto& v : row.values) cells.push_back(v);
  cells.push_back(std::to_string(row.seed));
  cells.push_back(row.status + (row.detail.empty() ? "" : " (" + row.detail + ")"));
  cells.push_back(number(row.search_acc, 4));
  cells.push_back(number(row.test_acc, 4));
  cells.push_back(row.test_kind.empty() ? "-" : row.test_kind);
  if (truth) {
    cells.push_back(number(row.true_acc, 4));
    cells.push_back(number(row.true_rank, 0));
  }
  cells.push_back(number(row.seconds, 0));
  cells.push_back(number(row.evaluation_seconds, 0));
  cells.push_back(row.genotype.empty() ? "-" : row.genotype);
  return cells;
}

Json trial_json(const TrialRow& row, const std::vector<std::string>& axes) {
  Json settings = Json::object();
  for (size_t a = 0; a < axes.size(); ++a) settings[axes[a]] = row.values[a];
  JsonObject object;
  object.add("trial", row.name)
      .add("settings", settings)
      .add("seed", static_cast<int64_t>(row.seed))
      .add("status", row.status);
  if (!row.detail.empty()) object.add("exit", row.detail);
  if (row.search_acc >= 0) object.add("search_acc", row.search_acc);
  if (row.test_acc >= 0) object.add("test_acc", row.test_acc).add("test_of", row.test_kind);
  if (row.true_acc >= 0) object.add("true_acc", row.true_acc).add("true_rank", row.true_rank);
  if (row.seconds >= 0) object.add("seconds", row.seconds);
  if (row.evaluation_seconds >= 0) object.add("evaluation_seconds", row.evaluation_seconds);
  if (!row.genotype.empty()) object.add("genotype", row.genotype);
  return object.json();
}

/// Mean ± std over the seeds of each setting, over the finished trials: the table's rows
/// and collect.json's "settings".
std::pair<std::vector<std::vector<std::string>>, Json> per_setting(
    const std::vector<TrialRow>& rows, bool truth) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const TrialRow*>> groups;
  for (const TrialRow& row : rows) {
    if (!groups.count(row.setting)) order.push_back(row.setting);
    groups[row.setting].push_back(&row);
  }
  std::vector<std::vector<std::string>> summary = {
      {"setting", "done", "search_acc (mean ± std)", "test_acc (mean ± std)"}};
  if (truth) {
    summary[0].push_back("true_acc (mean ± std)");
    summary[0].push_back("true_rank (mean ± std)");
  }
  summary[0].push_back("failed");
  Json settings = Json::array();
  for (const auto& setting : order) {
    std::vector<double> search, test, true_acc, true_rank;
    int failed = 0, done = 0;
    for (const TrialRow* row : groups[setting]) {
      if (row->status == "failed") ++failed;
      if (row->status != "done") continue;
      ++done;
      if (row->search_acc >= 0) search.push_back(row->search_acc);
      if (row->test_acc >= 0) test.push_back(row->test_acc);
      if (row->true_acc >= 0) true_acc.push_back(row->true_acc);
      if (row->true_rank >= 0) true_rank.push_back(row->true_rank);
    }
    const MeanStd s = mean_std(search), t = mean_std(test), ta = mean_std(true_acc),
                  tr = mean_std(true_rank);
    std::vector<std::string> line = {
        setting, std::to_string(done) + "/" + std::to_string(groups[setting].size()),
        mean_std_text(s), mean_std_text(t)};
    if (truth) {
      line.push_back(mean_std_text(ta));
      line.push_back(mean_std_text(tr, 1));
    }
    line.push_back(std::to_string(failed));
    summary.push_back(line);
    JsonObject g;
    g.add("setting", setting).add("done", done).add("failed", failed);
    if (s.count) g.add("search_acc_mean", s.mean).add("search_acc_std", s.std);
    if (t.count) g.add("test_acc_mean", t.mean).add("test_acc_std", t.std);
    if (ta.count) g.add("true_acc_mean", ta.mean).add("true_acc_std", ta.std);
    if (tr.count) g.add("true_rank_mean", tr.mean).add("true_rank_std", tr.std);
    settings.push_back(g.json());
  }
  return {summary, settings};
}

}  // namespace

void collect_sweep(const fs::path& sweep_dir, std::ostream& out) {
  std::vector<std::string> axes;
  const std::vector<TrialRow> rows = read_sweep_rows(sweep_dir, &axes);
  const bool truth = judged_by_truth(rows);
  std::vector<std::string> header = {"trial"};
  for (const auto& key : axes) header.push_back(key);
  for (const char* column : {"seed", "status", "search_acc", "test_acc", "test_of"})
    header.push_back(column);
  if (truth) {
    header.push_back("true_acc");
    header.push_back("true_rank");
  }
  for (const char* column : {"seconds", "eval_seconds", "genotype"}) header.push_back(column);

  std::vector<std::vector<std::string>> table = {header};
  std::string csv = csv_line(header);
  Json trials = Json::array();
  for (const TrialRow& row : rows) {
    const std::vector<std::string> cells = table_cells(row, truth);
    csv += csv_line(cells);
    std::vector<std::string> shown = cells;
    if (shown.back().size() > 60) shown.back() = shown.back().substr(0, 57) + "...";
    table.push_back(shown);
    trials.push_back(trial_json(row, axes));
  }
  out << "trials of " << sweep_dir.string() << ":\n";
  print_table(out, table);

  const auto [summary, settings] = per_setting(rows, truth);
  out << "\nper setting, over seeds (sample std):\n";
  print_table(out, summary);
  write_file_atomically(sweep_dir / "collect.csv", csv);
  Json collected = Json::object();
  collected["trials"] = trials;
  collected["settings"] = settings;
  write_file_atomically(sweep_dir / "collect.json", collected.dump(2) + "\n");
  out << "\nwritten: " << (sweep_dir / "collect.csv").string() << ", "
      << (sweep_dir / "collect.json").string() << "\n";
}

}  // namespace nasx::core
