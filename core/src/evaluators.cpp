#include "nasx/core/evaluators.hpp"

#include <chrono>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "nasx/core/ground_truth.hpp"
#include "nasx/core/trainer.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/scorer.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

Evaluator::~Evaluator() = default;

std::vector<Evaluation> Evaluator::evaluate_all(const std::vector<Architecture>& archs) {
  std::vector<Evaluation> evaluations;
  evaluations.reserve(archs.size());
  for (const Architecture& arch : archs) evaluations.push_back(evaluate(arch));
  return evaluations;
}

namespace {

/// FNV-1a: a hash that is the same on every build, so seeds derived from it are too.
uint64_t stable_hash(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The first `count` images of a seeded permutation of `data` (all when count is 0
/// or larger than the set).
TensorDataset seeded_subset(const TensorDataset& data, int64_t count, uint64_t seed) {
  if (count <= 0 || count >= data.size()) return data;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor order =
      at::randperm(data.size(), generator, at::TensorOptions(at::kLong)).narrow(0, 0, count);
  const at::Tensor index = order.to(data.images.device());
  return TensorDataset{data.images.index_select(0, index), data.labels.index_select(0, index)};
}

class SharedEvaluator final : public Evaluator {
 public:
  SharedEvaluator(const EvaluatorOptions& options, Supernet& net, const DataSplits& data,
                  int64_t batch_size, uint64_t seed)
      : net_(net),
        batch_size_(batch_size),
        batch_statistics_(options.batchnorm == "batch"),
        fresh_batches_(options.fresh_batches),
        images_(options.batches * batch_size),
        seed_(derive_seed(seed, 41)),
        search_(data.search),
        valid_(seeded_subset(data.search, images_, seed_)) {}

  std::string name() const override { return "shared"; }

  Evaluation evaluate(const Architecture& arch) override {
    const auto start = std::chrono::steady_clock::now();
    // Fresh batches are seeded by the architecture's name, not by a counter, so that a
    // resumed search (or a cache miss) measures an architecture exactly as before.
    const TensorDataset valid =
        fresh_batches_ ? seeded_subset(search_, images_,
                                       derive_seed(seed_, stable_hash(net_.space().format(arch))))
                       : valid_;
    const EvalResult result = evaluate_path(net_, arch, valid, batch_size_, 0, batch_statistics_);
    return {result.accuracy, result.loss, seconds_since(start)};
  }

  /// Fresh minibatches differ per architecture: nothing is shared, one by one.
  bool measures_together() const override { return !fresh_batches_; }

  /// On the fixed minibatches, the architectures together (evaluate_paths: what their
  /// paths share computed once, each figure evaluate_path's); each one's seconds are its
  /// share of the group's time.
  std::vector<Evaluation> evaluate_all(const std::vector<Architecture>& archs) override {
    if (fresh_batches_ || archs.size() < 2) return Evaluator::evaluate_all(archs);
    const auto start = std::chrono::steady_clock::now();
    const std::vector<EvalResult> results =
        evaluate_paths(net_, archs, valid_, batch_size_, 0, batch_statistics_);
    const double share = seconds_since(start) / static_cast<double>(archs.size());
    std::vector<Evaluation> evaluations;
    for (const EvalResult& result : results)
      evaluations.push_back({result.accuracy, result.loss, share});
    return evaluations;
  }

 private:
  Supernet& net_;
  int64_t batch_size_;
  bool batch_statistics_;
  bool fresh_batches_;
  int64_t images_;
  uint64_t seed_;
  TensorDataset search_;  // tensors share storage with the data splits
  TensorDataset valid_;
};

class TrainEvaluator final : public Evaluator {
 public:
  TrainEvaluator(const EvaluatorOptions& options, Supernet& net, const DataSplits& data,
                 int64_t batch_size, uint64_t seed)
      : options_(options),
        space_(net.space()),
        shape_(data.shape),
        seed_(seed),
        train_(seeded_subset(data.train, options.train_images, derive_seed(seed, 42))),
        valid_(seeded_subset(data.search, options.valid_images, derive_seed(seed, 43))) {
    train_options_.epochs = options.epochs;
    train_options_.batch_size = batch_size;
    train_options_.lr = options.lr;
    if (train_.size() < 1) throw ConfigError("evaluator.train_images leaves no training images");
  }

  std::string name() const override { return "train"; }

  Evaluation evaluate(const Architecture& arch) override {
    // The same architecture gets the same initial weights and data order wherever
    // and whenever it is evaluated.
    const uint64_t arch_seed = derive_seed(seed_, stable_hash(space_.format(arch)));
    at::manual_seed(arch_seed);
    auto net = space_.build_network(arch, shape_, options_.channels, options_.layers);
    net->to(train_.images.device());
    const TrainResult result = train_network(*net, train_, valid_, train_options_, arch_seed);
    return {result.valid.accuracy, result.valid.loss, result.seconds};
  }

 private:
  EvaluatorOptions options_;
  const SearchSpace& space_;
  DataShape shape_;
  uint64_t seed_;
  TensorDataset train_, valid_;
  TrainOptions train_options_;
};

class ScoreEvaluator final : public Evaluator {
 public:
  ScoreEvaluator(std::shared_ptr<ArchScorer> scorer, std::string scorer_name,
                 const SearchSpace& space, const DataSplits& data, const EvaluatorOptions& options,
                 uint64_t seed)
      : scorer_(std::move(scorer)),
        name_("score:" + scorer_name),
        space_(space),
        shape_(data.shape),
        options_(options),
        seed_(seed),
        images_(seeded_subset(data.train, options.score_batch, derive_seed(seed, 44)).images) {
    if (images_.size(0) < 2)
      throw ConfigError("evaluator.score_batch: a score needs a minibatch of at least 2 images");
  }

  std::string name() const override { return name_; }

  Evaluation evaluate(const Architecture& arch) override {
    const auto start = std::chrono::steady_clock::now();
    at::manual_seed(derive_seed(seed_, stable_hash(space_.format(arch))));
    auto net = space_.build_network(arch, shape_, options_.channels, options_.layers);
    net->to(images_.device());
    net->train();
    Evaluation evaluation;
    evaluation.accuracy = scorer_->score(*net, images_);
    evaluation.is_score = true;
    evaluation.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return evaluation;
  }

 private:
  std::shared_ptr<ArchScorer> scorer_;
  std::string name_;
  const SearchSpace& space_;
  DataShape shape_;
  EvaluatorOptions options_;
  uint64_t seed_;
  at::Tensor images_;
};

/// A ground-truth table in place of training: what the architecture reached when trained
/// alone (mean over the table's seeds), its training time as the cost.
class TableEvaluator final : public Evaluator {
 public:
  TableEvaluator(const EvaluatorOptions& options, const SearchSpace& space)
      : table_(read_table(options.table)), space_(space) {
    table_.check_space(space.name(), "the run's [space]");
  }

  std::string name() const override { return "table"; }

  Evaluation evaluate(const Architecture& arch) override {
    const std::string text = space_.format(arch);
    Evaluation evaluation;
    evaluation.accuracy = table_.accuracy(text);
    evaluation.seconds = table_.seconds(text);
    double loss = 0;
    const auto rows = table_.rows_of(text);
    for (const TableRow* row : rows) loss += row->test_loss;
    evaluation.loss = loss / static_cast<double>(rows.size());
    return evaluation;
  }

 private:
  GroundTruthTable table_;
  const SearchSpace& space_;
};

}  // namespace

std::vector<std::string> evaluator_names() { return {"shared", "train", "table"}; }

std::string scorer_of(const std::string& evaluator_name) {
  const std::string prefix = "score:";
  return evaluator_name.rfind(prefix, 0) == 0 ? evaluator_name.substr(prefix.size()) : "";
}

std::unique_ptr<Evaluator> make_score_evaluator(std::shared_ptr<ArchScorer> scorer,
                                                const std::string& scorer_name,
                                                const SearchSpace& space, const DataSplits& data,
                                                const EvaluatorOptions& options, uint64_t seed) {
  return std::make_unique<ScoreEvaluator>(std::move(scorer), scorer_name, space, data, options,
                                          seed);
}

std::unique_ptr<Evaluator> make_evaluator(const EvaluatorOptions& options, Supernet& net,
                                          const DataSplits& data, int64_t batch_size,
                                          uint64_t seed) {
  if (options.name == "shared")
    return std::make_unique<SharedEvaluator>(options, net, data, batch_size, seed);
  if (options.name == "train")
    return std::make_unique<TrainEvaluator>(options, net, data, batch_size, seed);
  if (options.name == "table") return std::make_unique<TableEvaluator>(options, net.space());
  throw ConfigError("unknown evaluator '" + options.name +
                    "' (known: shared, train, score:NAME for a scorer plugin)");
}

}  // namespace nasx::core
