#include "nasx/core/step_loop.hpp"

#include <chrono>

#include "nasx/core/files.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/kill_points.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

StepLoopResult run_steps(StepJob& job, HostState state, const StepLog& log, Progress& progress) {
  StepLoopResult result;
  result.last_metrics = state.last_metrics;  // a resume that finds every step done
  const int64_t total = job.total_steps();
  try {
    for (int64_t step = state.next_step; step < total; ++step) {
      const auto start = std::chrono::steady_clock::now();
      progress.begin_step(step, total);
      std::map<std::string, double> metrics = job.run_step(step);
      job.check(step, metrics);
      const bool keep_going = job.finish_step(step, metrics);
      const double seconds = seconds_since(start);
      // Logs count steps as the console does, from 1: "step": 3 is the line "step 3/8".
      if (log.log != nullptr) log.log->append(json_line(log.record(step + 1, metrics, seconds)));
      job.log_step(step, metrics, keep_going);
      progress.line(log.noun + " " + std::to_string(step + 1) + "/" + std::to_string(total) +
                    format_metrics(metrics) + "  (" + format_duration(seconds) + ")");
      if (!keep_going)
        progress.line("ended early after " + log.noun + " " + std::to_string(step + 1));

      state.next_step = keep_going ? step + 1 : total;
      state.total_steps = total;
      for (const auto& [synced, size] : log.synced)
        state.*size = static_cast<int64_t>(synced->sync());
      state.elapsed_seconds += seconds;
      state.last_metrics = metrics;
      kill_point("step_logged");
      job.save_checkpoint(state);
      kill_point("checkpoint");
      result.last_metrics = std::move(metrics);
      if (!keep_going) break;
    }
  } catch (const StopRequested&) {
    progress.line("stopped; the last checkpoint is after " + log.noun + " " +
                  std::to_string(state.next_step) + ". Continue with: " + log.resume_command);
    throw Error("interrupted by the user");
  }
  result.state = state;
  return result;
}

}  // namespace nasx::core
