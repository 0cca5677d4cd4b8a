// The local executor: trials as child `nasx` processes, N at a time.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ostream>

#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
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

/// Starts `nasx args...` with stdout and stderr appended to `log`.
pid_t spawn(const std::string& binary, const std::vector<std::string>& args, const fs::path& log) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot open " + log.string() + ": " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    throw Error(std::string("cannot start a trial process: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    std::vector<std::string> words = {binary};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    const std::string message =
        "nasx sweep: cannot run " + binary + ": " + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, message.data(), message.size());
    ::_exit(127);
  }
  ::close(fd);
  return pid;
}

std::string exit_description(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "stopped";
}

}  // namespace

int run_sweep_local(const Sweep& sweep, const std::string& nasx_binary, int jobs,
                    const std::vector<std::string>& plugin_paths, std::ostream& out) {
  write_sweep_folder(sweep);
  std::vector<const SweepTrial*> todo;
  for (const SweepTrial& trial : sweep.trials)
    if (trial_state(sweep.dir / trial.name) != TrialState::Done) todo.push_back(&trial);
  const size_t skipped = sweep.trials.size() - todo.size();
  out << "sweep " << sweep.name << ": " << sweep.trials.size() << " trials, " << skipped
      << " already done, " << todo.size() << " to run, " << jobs << " at a time -> "
      << sweep.dir.string() << "\n"
      << std::flush;

  std::vector<Running> running;
  size_t next = 0, finished = 0;
  int failed = 0;
  while (true) {
    while (static_cast<int>(running.size()) < jobs && next < todo.size() && !stop_was_requested()) {
      const SweepTrial& trial = *todo[next++];
      const fs::path dir = sweep.dir / trial.name;
      fs::create_directories(dir);
      const std::vector<std::string> args = trial_command(sweep, trial, plugin_paths);
      const pid_t pid = spawn(nasx_binary, args, dir / "log.txt");
      write_file_atomically(dir / "trial.json", JsonObject()
                                                        .add("status", "running")
                                                        .add("executor", "local")
                                                        .add("pid", static_cast<int64_t>(pid))
                                                        .add("command", args[0])
                                                        .add("started", now_iso8601())
                                                        .str() +
                                                    "\n");
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
    JsonObject record;
    record.add("status", ok ? "done" : "failed")
        .add("executor", "local")
        .add("exit", exit_description(status))
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

}  // namespace nasx::core
