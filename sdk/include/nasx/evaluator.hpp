#pragma once
/// How strategies that sample architectures measure one ([evaluator] in a config).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nasx/architecture.hpp"
#include "nasx/data.hpp"
#include "nasx/export.hpp"

namespace nasx {

class Supernet;

/// One measurement: `accuracy` is what strategies maximise.
struct Evaluation {
  double accuracy = 0;
  double loss = 0;
  double seconds = 0;  ///< wall time the evaluation took (its cost)
};

/// [evaluator]: `shared` reads the supernet's shared weights (single path) on a fixed
/// set of validation batches; `train` trains the architecture's own network from
/// scratch on a subset of the training split and reports validation accuracy.
struct EvaluatorOptions {
  std::string name = "shared";
  int64_t batches = 10;  ///< shared: validation minibatches, the same for every candidate
  std::string batchnorm = "batch";  ///< shared: "batch" statistics of each minibatch or "running"
  int64_t epochs = 1;               ///< train: epochs
  int64_t train_images = 2048;      ///< train: images of the training split it trains on (0: all)
  int64_t valid_images = 1024;      ///< train: images of the search split it reports on (0: all)
  int64_t channels = 0;             ///< train: network channels (0: [space] channels)
  int64_t layers = 0;               ///< train: network cells (0: [space] layers)
  double lr = 0.1;                  ///< train: SGD learning rate, cosine to 0, Nesterov, wd 5e-4
};

class NASX_API Evaluator {
 public:
  virtual ~Evaluator();
  virtual std::string name() const = 0;
  virtual Evaluation evaluate(const Architecture& arch) = 0;
};

/// The evaluator names this SDK provides.
NASX_API std::vector<std::string> evaluator_names();

/// The evaluator named in `options`, reading `net` (and its space) and `data`
/// (already on the device); minibatches of `batch_size`. Throws ConfigError for an
/// unknown name.
NASX_API std::unique_ptr<Evaluator> make_evaluator(const EvaluatorOptions& options, Supernet& net,
                                                   const DataSplits& data, int64_t batch_size,
                                                   uint64_t seed);

}  // namespace nasx
