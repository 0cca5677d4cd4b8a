#pragma once
/// How the host measures an architecture for Context::evaluate()/score() ([evaluator]
/// in a config): on the supernet's shared weights, by short training, or by a scorer.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nasx/architecture.hpp"
#include "nasx/data.hpp"
#include "nasx/evaluation.hpp"

namespace nasx {

class ArchScorer;
class SearchSpace;
class Supernet;

}  // namespace nasx

namespace nasx::core {

/// [evaluator]: `shared` reads the supernet's shared weights (single path) on a fixed
/// set of validation batches; `train` trains the architecture's own network from
/// scratch on a subset of the training split and reports validation accuracy;
/// `table` looks the architecture up in a ground-truth table (its mean test accuracy
/// over the table's seeds, its mean training seconds as the cost: a simulated clock);
/// `score:NAME` scores the untrained network with scorer plugin NAME.
struct EvaluatorOptions {
  std::string name = "shared";
  int64_t batches = 10;        ///< shared: validation minibatches, the same for every candidate
  bool fresh_batches = false;  ///< shared: minibatches drawn per candidate (seeded by its name)
  std::string batchnorm = "batch";  ///< shared: "batch" statistics of each minibatch or "running"
  int64_t epochs = 1;               ///< train: epochs
  int64_t train_images = 2048;      ///< train: images of the training split it trains on (0: all)
  int64_t valid_images = 1024;      ///< train: images of the search split it reports on (0: all)
  int64_t channels = 0;             ///< train: network channels (0: [space] channels)
  int64_t layers = 0;               ///< train: network cells (0: [space] layers)
  double lr = 0.1;                  ///< train: SGD learning rate, cosine to 0, Nesterov, wd 5e-4
  std::string scorer = "naswot";    ///< the scorer of Context::score() (and of "score:")
  int64_t score_batch = 128;        ///< scorers: images of the one minibatch every candidate sees
  std::string table;                ///< table: the ground-truth table file (absolute once loaded)
  double budget_seconds = 0;        ///< end the search once evaluations cost this much (0: never)
};

class Evaluator {
 public:
  virtual ~Evaluator();
  virtual std::string name() const = 0;
  virtual Evaluation evaluate(const Architecture& arch) = 0;
  /// Whether evaluate_all() measures a group in one pass (else the host measures its
  /// members one by one, a stop request honoured between them).
  virtual bool measures_together() const { return false; }
  /// Each of `archs` as evaluate() measures it, in order (default: one after another).
  virtual std::vector<Evaluation> evaluate_all(const std::vector<Architecture>& archs);
};

/// The evaluator names this SDK provides ("score:NAME" besides, for any scorer plugin).
std::vector<std::string> evaluator_names();

/// The scorer an evaluator name "score:NAME" names, or "" for other names.
std::string scorer_of(const std::string& evaluator_name);

/// The evaluator that scores each architecture's untrained network with `scorer`: the
/// network built by the space (options.channels/layers, 0: the space's), initialised
/// from a seed of (seed, architecture) so a score does not depend on evaluation order,
/// scored on one fixed seeded minibatch of options.score_batch training images.
std::unique_ptr<Evaluator> make_score_evaluator(std::shared_ptr<ArchScorer> scorer,
                                                const std::string& scorer_name,
                                                const SearchSpace& space, const DataSplits& data,
                                                const EvaluatorOptions& options, uint64_t seed);

/// The evaluator named in `options`, reading `net` (and its space) and `data`
/// (already on the device); minibatches of `batch_size`. Throws ConfigError for an
/// unknown name.
std::unique_ptr<Evaluator> make_evaluator(const EvaluatorOptions& options, Supernet& net,
                                          const DataSplits& data, int64_t batch_size,
                                          uint64_t seed);

}  // namespace nasx::core
