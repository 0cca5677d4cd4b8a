#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "nasx/architecture.hpp"
#include "nasx/data.hpp"
#include "nasx/evaluation.hpp"
#include "nasx/export.hpp"
#include "nasx/json.hpp"
#include "nasx/params.hpp"

namespace nasx {

class MetricsMeter;
class SearchSpace;
class Supernet;

/// What the host hands a plugin. The host owns the loop, the run folder,
/// checkpoints, logging and progress; a plugin asks for what it needs here.
class NASX_API Context {
 public:
  virtual ~Context();

  virtual const SearchSpace& space() const = 0;
  /// The supernet of the run (built by the host from [space] and the data shape).
  virtual Supernet& supernet() = 0;
  virtual const DataSplits& data() const = 0;
  /// Minibatch size from [data].
  virtual int64_t batch_size() const = 0;
  virtual c10::Device device() const = 0;
  /// The experiment seed; derive every random stream from it.
  virtual uint64_t seed() const = 0;
  /// This plugin's parameters, validated against its schema, defaults filled in.
  virtual const ParamValues& params() const = 0;

  /// Progress inside the current step (`done` of `total` minibatches). The host
  /// decides how often to read `meter` (that synchronises) for the progress line,
  /// and stops the run with NonFiniteError when a value is NaN or infinite.
  virtual void report_progress(int64_t done, int64_t total, const MetricsMeter& meter) = 0;

  /// An event for events.jsonl: one line `{"type": type, "step": current step, ...fields}`.
  /// `fields` is a JSON object, e.g. `{{"edge", 3}, {"op", "sep_conv_3x3"}}`.
  virtual void log_event(const std::string& type, const Json& fields) = 0;

  /// Measures `arch` with the run's evaluator ([evaluator]) and logs it to
  /// evaluations.jsonl (architecture, accuracy, loss, seconds, step).
  virtual Evaluation evaluate(const Architecture& arch) = 0;
  /// Measures each of `archs` as evaluate() does and logs each line as it does, in this
  /// order; the evaluator may measure them together (the `shared` evaluator on its fixed
  /// minibatches: one pass with Supernet::forward_paths, each figure evaluate()'s bit for
  /// bit on the CPU, each line's seconds its share of the group's time). A group measured
  /// in one pass honours a stop request before it, one measured one by one between its
  /// members. Default: evaluate() one after another.
  virtual std::vector<Evaluation> evaluate_all(const std::vector<Architecture>& archs);
  /// The training-free score of `arch`'s untrained network by the scorer that
  /// [evaluator] scorer names (NASWOT by default); logged to evaluations.jsonl like
  /// evaluate(), with "score" in place of "accuracy". Higher is better.
  virtual Evaluation score(const Architecture& arch) = 0;
  /// The name of the run's evaluator ("shared", "train").
  virtual std::string evaluator() const = 0;

  /// A line for the person running the search.
  virtual void info(const std::string& message) = 0;

  /// True once the person asked the run to stop (Ctrl-C); a step may return early.
  virtual bool stop_requested() const = 0;
};

}  // namespace nasx
