// The local executor: trials as child `nasx` processes, N at a time.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <ostream>

#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/process.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/core/run_lock.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/sweep_run.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

struct Running {
  pid_t pid = 0;
  const SweepTrial* trial = nullptr;
  std::chrono::steady_clock::time_point start;
};

/// A trial.json record: its status and where it runs.
JsonObject trial_record(const std::string& status, const TrialLaunch& launch) {
  JsonObject record;
  record.add("status", status).add("executor", launch.executor);
  if (!launch.job.empty()) record.add("job", launch.job).add("host", launch.host);
  return record;
}

/// Runs `todo`, `jobs` at a time, recording each in its trial.json; returns how many
/// failed or were not started (a stop was requested).
int run_trials(const Sweep& sweep, const std::vector<const SweepTrial*>& todo,
               const std::string& nasx_binary, int jobs,
               const std::vector<std::string>& plugin_paths, const TrialLaunch& launch,
               std::ostream& out) {
  std::vector<Running> running;
  size_t next = 0, finished = 0;
  int failed = 0;
  while (true) {
    while (static_cast<int>(running.size()) < jobs && next < todo.size() && !stop_was_requested()) {
      const SweepTrial& trial = *todo[next++];
      const fs::path dir = sweep.dir / trial.name;
      if (const std::optional<pid_t> holder = RunLock::holder(dir)) {
        // Left by a driver that was killed: it received SIGTERM with its driver and stops
        // at its next checkpoint. Running the trial beside it would write one folder twice.
        ++finished;
        ++failed;
        out << "[" << finished << "/" << todo.size() << "] " << trial.name
            << ": NOT STARTED, still running in process " << *holder
            << " (left by an earlier sweep driver; it stops at its next checkpoint). Run the "
               "sweep again once it has ended\n"
            << std::flush;
        continue;
      }
      fs::create_directories(dir);
      // A local run replaces an earlier slurm submission of this trial.
      if (launch.executor == "local") fs::remove(dir / "slurm.json");
      const std::vector<std::string> args = trial_command(sweep, trial, plugin_paths);
      const pid_t pid = spawn_logged(nasx_binary, args, dir / "log.txt");
      JsonObject record = trial_record("running", launch);
      record.add("pid", static_cast<int64_t>(pid))
          .add("command", args[0])
          .add("started", now_iso8601());
      write_file_atomically(dir / "trial.json", record.str() + "\n");
      running.push_back({pid, &trial, std::chrono::steady_clock::now()});
      out << "  started " << trial.name << " (" << args[0] << ")\n" << std::flush;
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;  // Ctrl-C: the children stop at a checkpoint; wait
      throw Error(std::string("waiting for the trials failed: ") + std::strerror(errno));
    }
    auto it = std::find_if(running.begin(), running.end(),
                           [&](const Running& r) { return r.pid == pid; });
    if (it == running.end()) continue;
    const SweepTrial& trial = *it->trial;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - it->start).count();
    running.erase(it);
    ++finished;
    const fs::path dir = sweep.dir / trial.name;
    const bool ok =
        WIFEXITED(status) && WEXITSTATUS(status) == 0 && trial_state(dir) == TrialState::Done;
    JsonObject record = trial_record(ok ? "done" : "failed", launch);
    record.add("exit", exit_description(status))
        .add("seconds", seconds)
        .add("finished", now_iso8601());
    const std::string tail = tail_of_file(dir / "log.txt", 20);
    if (!ok) record.add("log_tail", tail);
    write_file_atomically(dir / "trial.json", record.str() + "\n");
    out << "[" << finished << "/" << todo.size() << "] " << trial.name << ": "
        << (ok ? "done" : "FAILED, " + exit_description(status)) << " (" << format_duration(seconds)
        << ")\n";
    if (!ok) {
      failed++;
      std::string indented;
      for (size_t start = 0; start < tail.size();) {
        const size_t end = tail.find('\n', start);
        indented += "    | " + tail.substr(start, end - start) + "\n";
        if (end == std::string::npos) break;
        start = end + 1;
      }
      out << indented;
    }
    out << std::flush;
  }
  if (next < todo.size())
    out << "stopped: " << todo.size() - next << " trials not started; run the same command "
        << "again to go on\n";
  return failed + static_cast<int>(todo.size() - next);
}

}  // namespace

int run_sweep_local(const Sweep& sweep, const std::string& nasx_binary, int jobs,
                    const std::vector<std::string>& plugin_paths, std::ostream& out) {
  const RunLock lock(sweep.dir);  // one driver per sweep folder
  write_sweep_folder(sweep);
  std::vector<const SweepTrial*> todo;
  for (const SweepTrial& trial : sweep.trials)
    if (trial_state(sweep.dir / trial.name) != TrialState::Done) todo.push_back(&trial);
  const size_t skipped = sweep.trials.size() - todo.size();
  out << "sweep " << sweep.name << ": " << sweep.trials.size() << " trials, " << skipped
      << " already done, " << todo.size() << " to run, " << jobs << " at a time -> "
      << sweep.dir.string() << "\n"
      << std::flush;
  return run_trials(sweep, todo, nasx_binary, jobs, plugin_paths, TrialLaunch{}, out);
}

int run_sweep_trial(const Sweep& sweep, const std::string& trial_name,
                    const std::string& nasx_binary, const std::vector<std::string>& plugin_paths,
                    const TrialLaunch& launch, std::ostream& out) {
  const auto trial = std::find_if(sweep.trials.begin(), sweep.trials.end(),
                                  [&](const SweepTrial& t) { return t.name == trial_name; });
  if (trial == sweep.trials.end())
    throw ConfigError("sweep " + sweep.file.string() + " has no trial '" + trial_name +
                      "' (nasx sweep " + sweep.file.string() + " --dry-run lists them)");
  if (trial_state(sweep.dir / trial->name) == TrialState::Done) {
    out << trial->name << ": already done\n";
    return 0;
  }
  return run_trials(sweep, {&*trial}, nasx_binary, 1, plugin_paths, launch, out);
}

}  // namespace nasx::core
