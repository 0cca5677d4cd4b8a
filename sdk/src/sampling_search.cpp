#include "nasx/sampling_search.hpp"

#include <cmath>

#include <algorithm>
#include <limits>
#include <sstream>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "nasx/context.hpp"
#include "nasx/error.hpp"
#include "nasx/metrics.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

std::map<std::string, double> train_paths_epoch(Context& ctx, WeightOptimizer& optimizer,
                                                BatchLoader& loader, int64_t epoch,
                                                int64_t max_batches,
                                                const std::function<Architecture()>& sample) {
  auto& net = ctx.supernet();
  optimizer.set_epoch(epoch);
  loader.set_epoch(epoch);
  int64_t batches = loader.batches_per_epoch();
  if (max_batches > 0) batches = std::min(batches, max_batches);
  MetricsMeter meter;
  net.train();
  for (int64_t i = 0; i < batches && !ctx.stop_requested(); ++i) {
    const Batch batch = loader.batch(i);
    const Architecture arch = sample();
    clear_gradients(optimizer.params());
    const at::Tensor logits = net.forward_path(batch.images, arch);
    const at::Tensor loss = at::cross_entropy_loss(logits, batch.labels);
    loss.backward();
    optimizer.step();
    meter.add("train_loss", loss.detach(), batch.labels.size(0));
    meter.add_accuracy("train_acc", logits.detach(), batch.labels);
    ctx.report_progress(i + 1, batches, meter);
  }
  auto metrics = meter.means();
  metrics["lr"] = optimizer.lr();
  return metrics;
}

NeighbourhoodScore neighbourhood_score(const SearchSpace& space, const Architecture& arch,
                                       const std::function<double(const Architecture&)>& accuracy,
                                       int64_t sample, bool worst, bool include_self,
                                       std::mt19937_64& rng) {
  return aggregate_neighbourhood(
      arch, neighbourhood_members(space, arch, sample, include_self, rng), accuracy, worst);
}

std::vector<Architecture> neighbourhood_members(const SearchSpace& space, const Architecture& arch,
                                                int64_t sample, bool include_self,
                                                std::mt19937_64& rng) {
  std::vector<Architecture> members = space.neighbours(arch);
  if (sample > 0 && sample < static_cast<int64_t>(members.size())) {
    std::shuffle(members.begin(), members.end(), rng);
    members.resize(static_cast<size_t>(sample));
  }
  if (include_self) members.insert(members.begin(), arch);
  return members;
}

NeighbourhoodScore aggregate_neighbourhood(
    const Architecture& arch, const std::vector<Architecture>& members,
    const std::function<double(const Architecture&)>& accuracy, bool worst) {
  NeighbourhoodScore result;
  result.own = accuracy(arch);
  result.members = static_cast<int64_t>(members.size());
  result.score = worst ? std::numeric_limits<double>::infinity() : 0.0;
  for (const auto& member : members) {
    const double value = accuracy(member);
    result.score = worst ? std::min(result.score, value) : result.score + value;
  }
  if (!worst && !members.empty()) result.score /= static_cast<double>(members.size());
  return result;
}

SamplingSearch::~SamplingSearch() = default;

void SamplingSearch::setup_sampling(Context& ctx, const SamplingSearchOptions& options) {
  options_ = options;
  supernet_epochs_ = uses_evaluator() && ctx.evaluator() == "shared" ? options.supernet_epochs : 0;
  optimizer_.emplace(ctx.supernet().weight_parameters(),
                     options.sgd(std::max<int64_t>(1, supernet_epochs_)));
  loader_.emplace(ctx.data().train, ctx.batch_size(), derive_seed(ctx.seed(), 13));
  rng_.seed(derive_seed(ctx.seed(), 22));
}

std::map<std::string, double> SamplingSearch::step(Context& ctx, int64_t step) {
  if (step < supernet_epochs_) {
    const SearchSpace& space = ctx.space();
    return train_paths_epoch(ctx, *optimizer_, *loader_, step, options_.steps_per_epoch,
                             [&] { return space.sample(rng_); });
  }
  auto metrics = search_step(ctx, step - supernet_epochs_);
  metrics["evaluated"] = static_cast<double>(evaluated());
  if (best_) metrics[uses_evaluator() ? "best_acc" : "best_score"] = best_accuracy_;
  return metrics;
}

double SamplingSearch::evaluate(Context& ctx, const Architecture& arch) {
  return evaluate_all(ctx, {arch}).front();
}

std::vector<double> SamplingSearch::evaluate_all(Context& ctx,
                                                 const std::vector<Architecture>& archs) {
  std::vector<Architecture> unmeasured;
  for (const Architecture& arch : archs)
    if (!cache_.count(arch) &&
        std::find(unmeasured.begin(), unmeasured.end(), arch) == unmeasured.end())
      unmeasured.push_back(arch);
  if (!unmeasured.empty()) {
    const std::vector<Evaluation> measured = measure_all(ctx, unmeasured);
    if (measured.size() != unmeasured.size())
      throw Error("measure_all gave " + std::to_string(measured.size()) + " measurements for " +
                  std::to_string(unmeasured.size()) + " architectures");
    for (size_t i = 0; i < unmeasured.size(); ++i) {
      const double accuracy = measured[i].accuracy;
      cache_.emplace(unmeasured[i], accuracy);
      // A non-finite measurement (a singular NASWOT kernel: -infinity) never becomes the
      // answer.
      if (std::isfinite(accuracy) && (!best_ || accuracy > best_accuracy_)) {
        best_ = unmeasured[i];
        best_accuracy_ = accuracy;
      }
    }
  }
  std::vector<double> accuracies;
  accuracies.reserve(archs.size());
  for (const Architecture& arch : archs) accuracies.push_back(cache_.at(arch));
  return accuracies;
}

void SamplingSearch::state(StateArchive& archive) {
  archive.object("optimizer", *optimizer_)
      .field("rng", rng_)
      .field("cache", cache_)
      .field("best", best_)
      .group("own", [this](StateArchive& own) { own_state(own); });
  if (archive.loading() && best_) best_accuracy_ = cache_.at(*best_);
}

}  // namespace nasx
