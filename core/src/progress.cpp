#include "nasx/core/progress.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace nasx::core {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(seconds + 0.5);
  char buffer[32];
  if (total >= 3600)
    std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", static_cast<long>(total / 3600),
                  static_cast<long>(total % 3600 / 60));
  else if (total >= 60)
    std::snprintf(buffer, sizeof buffer, "%ldm%02lds", static_cast<long>(total / 60),
                  static_cast<long>(total % 60));
  else
    std::snprintf(buffer, sizeof buffer, "%lds", static_cast<long>(total));
  return buffer;
}

std::string format_value(double value) {
  char buffer[64];
  if (std::isfinite(value) && value == std::round(value) && std::fabs(value) < 1e15)
    std::snprintf(buffer, sizeof buffer, "%.0f", value);  // counters: 10, not 10.0000
  else if (std::isfinite(value) && value != 0 && std::fabs(value) < 1e-3)
    std::snprintf(buffer, sizeof buffer, "%.4g", value);  // learning rates: 3e-04
  else
    std::snprintf(buffer, sizeof buffer, "%.4f", value);
  return buffer;
}

std::string format_metrics(const std::map<std::string, double>& metrics) {
  std::string text;
  for (const auto& [name, value] : metrics) text += "  " + name + " " + format_value(value);
  return text;
}

Progress::Progress(std::ostream& out, bool interactive, double log_interval_seconds)
    : out_(out), interactive_(interactive), log_interval_(log_interval_seconds) {}

void Progress::begin_step(int64_t step, int64_t total_steps) {
  step_ = step;
  total_steps_ = total_steps;
  step_start_ = Clock::now();
  last_refresh_ = step_start_;
  last_done_ = 0;
}

bool Progress::due(int64_t done, int64_t total) {
  batches_done_in_run_ += done - last_done_;
  last_done_ = done;
  const double since = std::chrono::duration<double>(Clock::now() - last_refresh_).count();
  if (done == total) return true;
  return interactive_ ? since >= 0.5 : since >= log_interval_;
}

std::string Progress::eta(int64_t done, int64_t total) const {
  if (batches_done_in_run_ <= 0 || total <= 0) return "?";
  const double elapsed = std::chrono::duration<double>(Clock::now() - run_start_).count();
  const double per_batch = elapsed / static_cast<double>(batches_done_in_run_);
  const double remaining =
      static_cast<double>(total - done) + static_cast<double>(total_steps_ - step_ - 1) * total;
  return format_duration(per_batch * remaining);
}

void Progress::update(int64_t done, int64_t total, const std::map<std::string, double>& metrics) {
  last_refresh_ = Clock::now();
  std::ostringstream text;
  text << "step " << step_ + 1 << '/' << total_steps_ << "  batch " << done << '/' << total;
  text << format_metrics(metrics) << "  ETA " << eta(done, total);
  if (interactive_) {
    out_ << "\r\033[K" << text.str() << std::flush;
    live_line_ = true;
  } else if (done < total) {
    out_ << text.str() << '\n' << std::flush;
  }
}

void Progress::line(const std::string& text) {
  if (interactive_ && live_line_) out_ << "\r\033[K";
  live_line_ = false;
  out_ << text << '\n' << std::flush;
}

}  // namespace nasx::core
