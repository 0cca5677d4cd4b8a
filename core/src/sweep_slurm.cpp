// The slurm executor: a sweep's unfinished trials as one SLURM job array, each task
// running one trial through `nasx sweep SWEEP --trial NAME` (the local executor's
// trial runner, so a task records its trial exactly as a local run does).

#include <sys/stat.h>

#include <cctype>
#include <ostream>

#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/process.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/sweep_run.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// A [slurm] value on an #SBATCH line: no newline may end the directive early.
std::string directive_value(const std::string& value, const std::string& key) {
  if (value.find_first_of("\n\r") != std::string::npos)
    throw ConfigError("slurm." + key + " has a line break; give one line per #SBATCH option");
  return value;
}

}  // namespace

std::string slurm_job_name(const Sweep& sweep) { return "nasx-" + sweep.name; }

std::string slurm_array_script(const Sweep& sweep, const std::vector<const SweepTrial*>& trials,
                               const std::string& nasx_binary,
                               const std::vector<std::string>& plugin_paths,
                               const fs::path& workdir) {
  const fs::path dir = fs::absolute(sweep.dir);
  const SlurmOptions& slurm = sweep.slurm;
  std::string s = "#!/bin/bash\n";
  s += "# nasx sweep " + sweep.name + ": " + std::to_string(trials.size()) +
       " trials as one job array, written by `nasx sweep --executor slurm`.\n";
  s += "#SBATCH --job-name=" + slurm_job_name(sweep) + "\n";
  s += "#SBATCH --array=0-" + std::to_string(trials.size() - 1) + "\n";
  s += "#SBATCH --output=" + (dir / "slurm" / "%A_%a.out").string() + "\n";
  s += "#SBATCH --chdir=" + workdir.string() + "\n";
  if (!slurm.partition.empty())
    s += "#SBATCH --partition=" + directive_value(slurm.partition, "partition") + "\n";
  if (!slurm.time.empty()) s += "#SBATCH --time=" + directive_value(slurm.time, "time") + "\n";
  if (slurm.cpus > 0) s += "#SBATCH --cpus-per-task=" + std::to_string(slurm.cpus) + "\n";
  if (slurm.gpus > 0) s += "#SBATCH --gres=gpu:" + std::to_string(slurm.gpus) + "\n";
  if (!slurm.mem.empty()) s += "#SBATCH --mem=" + directive_value(slurm.mem, "mem") + "\n";
  for (const auto& line : slurm.extra) s += "#SBATCH " + directive_value(line, "extra") + "\n";
  s += "set -euo pipefail\n";
  s += "trials=(";
  for (const SweepTrial* trial : trials) s += "\n  " + shell_quote(trial->name);
  s += "\n)\n";
  s += "exec " + shell_quote(nasx_binary) + " sweep " +
       shell_quote(fs::absolute(sweep.file).string()) +
       " --trial \"${trials[$SLURM_ARRAY_TASK_ID]}\"";
  for (const auto& path : plugin_paths)
    s += " --plugin-path " + shell_quote(fs::absolute(path).string());
  return s + "\n";
}

std::optional<QueueStates> slurm_queue(const std::string& job_name) {
  // -r: one line per array task, pending ones included ("123_4", not "123_[4-7]").
  const CommandOutput result =
      run_and_capture({"squeue", "--noheader", "--array", "--name=" + job_name, "--format=%i|%T"});
  if (!result.started || result.exit_code != 0) return std::nullopt;
  std::map<std::string, std::string> jobs;
  size_t start = 0;
  while (start < result.output.size()) {
    size_t end = result.output.find('\n', start);
    if (end == std::string::npos) end = result.output.size();
    const std::string line = result.output.substr(start, end - start);
    const size_t bar = line.find('|');
    if (bar != std::string::npos) jobs[line.substr(0, bar)] = line.substr(bar + 1);
    start = end + 1;
  }
  return jobs;
}

std::optional<std::string> slurm_accounting_state(const std::string& job) {
  const CommandOutput result = run_and_capture(
      {"sacct", "--noheader", "--parsable2", "--allocations", "--jobs=" + job, "--format=State"});
  if (!result.started || result.exit_code != 0) return std::nullopt;
  const std::string state = result.output.substr(0, result.output.find('\n'));
  if (state.empty()) return std::nullopt;
  return state;
}

int submit_sweep_slurm(const Sweep& sweep, const std::string& nasx_binary,
                       const std::vector<std::string>& plugin_paths, std::ostream& out) {
  const std::string job_name = slurm_job_name(sweep);
  const auto queue = slurm_queue(job_name);
  if (!queue)
    throw Error(
        "--executor slurm: squeue cannot be run or fails here; run the sweep on a machine of a "
        "SLURM cluster (sbatch and squeue in PATH), or use --executor local");
  write_sweep_folder(sweep);
  std::vector<const SweepTrial*> todo;
  size_t done = 0, queued = 0;
  for (const SweepTrial& trial : sweep.trials) {
    const fs::path dir = sweep.dir / trial.name;
    if (trial_state(dir) == TrialState::Done) {
      ++done;
      continue;
    }
    const auto job = string_member(parse_json_or_empty(read_text_file(dir / "slurm.json")), "job");
    if (job && queue->count(*job)) {
      ++queued;  // its task is still pending or running: never two at once
      continue;
    }
    todo.push_back(&trial);
  }
  out << "sweep " << sweep.name << ": " << sweep.trials.size() << " trials, " << done
      << " already done, " << queued << " still in the queue, " << todo.size() << " to submit\n";
  if (todo.empty()) return 0;

  const fs::path slurm_dir = sweep.dir / "slurm";
  fs::create_directories(slurm_dir);
  for (const SweepTrial* trial : todo) fs::create_directories(sweep.dir / trial->name);
  const fs::path script = fs::absolute(slurm_dir / ("array-" + timestamp_for_path() + ".sh"));
  write_file_atomically(
      script, slurm_array_script(sweep, todo, nasx_binary, plugin_paths, fs::current_path()));
  ::chmod(script.c_str(), 0755);
  const CommandOutput submitted = run_and_capture({"sbatch", "--parsable", script.string()});
  if (!submitted.started)
    throw Error("--executor slurm: sbatch cannot be run (" + submitted.output.substr(0, 200) +
                "); run the sweep where SLURM's sbatch is in PATH");
  std::string job_id = submitted.output.substr(0, submitted.output.find_first_of(";\n"));
  const bool numeric = !job_id.empty() && std::all_of(job_id.begin(), job_id.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  if (submitted.exit_code != 0 || !numeric)
    throw Error("sbatch refused the job array (" + script.string() + "):\n" + submitted.output +
                "fix the [slurm] table of " + sweep.file.string() + " and run the same command");

  for (size_t task = 0; task < todo.size(); ++task) {
    const std::string job = job_id + "_" + std::to_string(task);
    write_file_atomically(
        sweep.dir / todo[task]->name / "slurm.json",
        JsonObject()
                .add("job", job)
                .add("job_name", job_name)
                .add("script", script.string())
                .add("output", (fs::absolute(slurm_dir) / (job + ".out")).string())
                .add("submitted", now_iso8601())
                .str() +
            "\n");
  }
  out << "submitted " << todo.size() << " trials as job array " << job_id << " (" << script.string()
      << ")\nfollow them with: nasx sweep status " << sweep.dir.string() << "\n";
  return static_cast<int>(todo.size());
}

}  // namespace nasx::core
