#pragma once
/// What one measurement of an architecture gives a strategy (Context::evaluate and
/// Context::score). How it is measured is the host's [evaluator].

namespace nasx {

/// One measurement: `accuracy` is what strategies maximise. A training-free scorer's
/// evaluation carries its score there (is_score; higher is better, may be -infinity).
struct Evaluation {
  double accuracy = 0;
  double loss = 0;
  double seconds = 0;  ///< wall time the evaluation took (its cost)
  bool is_score = false;
};

}  // namespace nasx
