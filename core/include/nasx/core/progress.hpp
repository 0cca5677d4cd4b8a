#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>

namespace nasx::core {

/// The run's display: on a terminal one line rewritten in place (step, minibatch,
/// metrics, ETA); otherwise plain log lines, one per step plus one every
/// `log_interval` seconds, so logs of batch jobs stay readable.
class Progress {
 public:
  Progress(std::ostream& out, bool interactive, double log_interval_seconds = 30.0);

  /// Starts step `step` (0-based) of `total_steps`, each of unknown length.
  void begin_step(int64_t step, int64_t total_steps);
  /// Whether metrics should be read now (reading synchronises with the device).
  bool due(int64_t done, int64_t total);
  void update(int64_t done, int64_t total, const std::map<std::string, double>& metrics);
  /// A permanent line (clears the live line first on a terminal).
  void line(const std::string& text);

  bool interactive() const { return interactive_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::string eta(int64_t done, int64_t total) const;

  std::ostream& out_;
  bool interactive_;
  double log_interval_;
  int64_t step_ = 0, total_steps_ = 1;
  Clock::time_point run_start_ = Clock::now();
  Clock::time_point step_start_ = Clock::now();
  Clock::time_point last_refresh_{};
  int64_t batches_done_in_run_ = 0;
  int64_t last_done_ = 0;
  bool live_line_ = false;
};

/// "  name value" for each metric, four decimals.
/// A metric as people read it: counters as integers, small values (learning rates) in
/// four significant digits, the rest with four decimals.
std::string format_value(double value);

std::string format_metrics(const std::map<std::string, double>& metrics);

/// "1h02m", "3m07s", "12s".
std::string format_duration(double seconds);

}  // namespace nasx::core
