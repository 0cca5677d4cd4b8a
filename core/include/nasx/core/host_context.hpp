#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nasx/context.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

class JsonlLog;
class Progress;

/// Thrown inside a step when the person asked the run to stop (Ctrl-C, SIGTERM).
class StopRequested : public Error {
 public:
  using Error::Error;
};

/// Asks a running search to stop after the current minibatch (signal-safe).
void request_stop();
bool stop_was_requested();

/// Throws NonFiniteError naming the first NaN or infinite metric, where it happened
/// and what to do.
void check_finite(const std::map<std::string, double>& metrics, const std::string& where,
                  const RunPaths& paths);

/// The seconds recorded in an evaluations.jsonl (0 when it does not exist).
double logged_evaluation_seconds(const std::filesystem::path& evaluations);

/// The Context the host hands to plugins during a run.
class HostContext final : public Context {
 public:
  HostContext(const SearchSpace& space, Supernet& net, const DataSplits& data,
              const RunConfig& config, c10::Device device, Progress& progress, JsonlLog& events,
              JsonlLog& evaluations, Evaluator& evaluator, const RunPaths& paths,
              std::function<std::unique_ptr<Evaluator>()> make_scorer = {});

  void set_params(const ParamValues* params) { params_ = params; }
  void set_step(int64_t step) { step_ = step; }
  /// Seconds the evaluations so far cost (with the table evaluator, simulated);
  /// restored from evaluations.jsonl on resume.
  double evaluation_seconds() const { return evaluation_seconds_; }
  void set_evaluation_seconds(double seconds) { evaluation_seconds_ = seconds; }
  /// Until write_held_lines(), the events and evaluations a strategy logs are kept here:
  /// its setup() runs before the run folder exists (a refused setting leaves none).
  void hold_lines() { holding_ = true; }
  /// Appends the held lines to their logs, in the order they were logged, and stops
  /// holding.
  void write_held_lines();

  const SearchSpace& space() const override { return space_; }
  Supernet& supernet() override { return net_; }
  const DataSplits& data() const override { return data_; }
  int64_t batch_size() const override { return config_.data.batch_size; }
  c10::Device device() const override { return device_; }
  uint64_t seed() const override { return static_cast<uint64_t>(config_.experiment.seed); }
  const ParamValues& params() const override { return *params_; }
  void report_progress(int64_t done, int64_t total, const MetricsMeter& meter) override;
  void log_event(const std::string& type, const Json& fields) override;
  Evaluation evaluate(const Architecture& arch) override;
  std::vector<Evaluation> evaluate_all(const std::vector<Architecture>& archs) override;
  Evaluation score(const Architecture& arch) override;
  std::string evaluator() const override { return evaluator_.name(); }
  void info(const std::string& message) override;
  /// In a data-parallel run, whether any rank was asked to stop (all ranks agree, so
  /// they leave a step at the same minibatch).
  bool stop_requested() const override;

 private:
  const SearchSpace& space_;
  Supernet& net_;
  const DataSplits& data_;
  const RunConfig& config_;
  c10::Device device_;
  Progress& progress_;
  JsonlLog& events_;
  JsonlLog& evaluations_;
  Evaluator& evaluator_;
  const RunPaths& paths_;
  std::function<std::unique_ptr<Evaluator>()> make_scorer_;
  std::unique_ptr<Evaluator> scorer_;  // made on the first score()
  const ParamValues* params_ = nullptr;
  int64_t step_ = 0;
  double evaluation_seconds_ = 0;
  bool holding_ = false;
  std::vector<std::pair<JsonlLog*, std::string>> held_;  // (log, line) while holding_

  void append(JsonlLog& log, const std::string& line);

  Evaluation measure(Evaluator& evaluator, const Architecture& arch);
  /// One line of evaluations.jsonl for `result`, its seconds counted.
  void log_measurement(const Evaluator& evaluator, const Architecture& arch,
                       const Evaluation& result);
};

}  // namespace nasx::core
