#include "nasx/core/trainer.hpp"

#include <chrono>
#include <tuple>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/archive.h>

#include "nasx/metrics.hpp"
#include "nasx/optim.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

namespace {

// Random streams of one epoch, apart from the data order (BatchLoader's own).
constexpr uint64_t kAugmentStream = 0xa09e;
constexpr uint64_t kDropPathStream = 0xd209;

at::Generator epoch_generator(uint64_t seed, uint64_t stream, int64_t epoch) {
  return at::make_generator<at::CPUGeneratorImpl>(
      derive_seed(derive_seed(seed, stream), static_cast<uint64_t>(epoch)));
}

SgdOptions sgd_options(const TrainOptions& options) {
  SgdOptions sgd;
  sgd.lr = options.lr;
  sgd.lr_min = options.lr_min;
  sgd.momentum = options.momentum;
  sgd.nesterov = options.nesterov;
  sgd.weight_decay = options.weight_decay;
  sgd.grad_clip = options.grad_clip;
  sgd.epochs = options.epochs;
  return sgd;
}

/// Per-image random crops of `padding`-padded images back to the original size.
at::Tensor random_crop(const at::Tensor& images, int64_t padding, at::Generator& generator) {
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  const at::Tensor padded = at::constant_pad_nd(images, {padding, padding, padding, padding});
  const at::Tensor offsets =
      at::randint(0, 2 * padding + 1, {n, 2}, generator, at::TensorOptions(at::kLong));
  const auto o = offsets.accessor<int64_t, 2>();
  std::vector<at::Tensor> crops;
  crops.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    crops.push_back(padded[i].narrow(1, o[i][0], h).narrow(2, o[i][1], w));
  return at::stack(crops).contiguous(images.suggest_memory_format());
}

/// The reference's Cutout: a `length` square centred anywhere in the image (clipped
/// at the borders) set to zero.
at::Tensor cutout(const at::Tensor& images, int64_t length, at::Generator& generator) {
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  const at::Tensor centres = at::empty({n, 2}, at::kLong);
  centres.select(1, 0).random_(0, h, generator);
  centres.select(1, 1).random_(0, w, generator);
  const at::TensorOptions long_options = at::TensorOptions(at::kLong).device(images.device());
  const at::Tensor cy = centres.select(1, 0).to(images.device()).view({n, 1, 1});
  const at::Tensor cx = centres.select(1, 1).to(images.device()).view({n, 1, 1});
  const at::Tensor ys = at::arange(h, long_options).view({1, h, 1});
  const at::Tensor xs = at::arange(w, long_options).view({1, 1, w});
  // Rows y with max(0, cy - L/2) <= y < min(h, cy + L/2), likewise for columns.
  const at::Tensor inside = (ys >= cy - length / 2) & (ys < cy + length / 2) &
                            (xs >= cx - length / 2) & (xs < cx + length / 2);
  return images * (~inside).unsqueeze(1).to(images.scalar_type());
}

}  // namespace

at::Tensor augment(const at::Tensor& images, const TrainOptions& options,
                   at::Generator& generator) {
  at::Tensor x = images;
  if (options.crop_padding > 0) x = random_crop(x, options.crop_padding, generator);
  if (options.flip) {
    const at::Tensor flips = at::empty({x.size(0)}, at::kFloat).bernoulli_(0.5, generator);
    x = at::where(flips.to(x.device()).gt(0.5).view({-1, 1, 1, 1}), x.flip({3}), x);
  }
  if (options.cutout > 0) x = cutout(x, options.cutout, generator);
  return x;
}

Trainer::Trainer(Network& net, TensorDataset train, TrainOptions options, uint64_t seed)
    : net_(net),
      train_(std::move(train)),
      options_(options),
      seed_(seed),
      optimizer_(std::make_unique<WeightOptimizer>(net.parameters(), sgd_options(options))) {}

Trainer::~Trainer() = default;

EpochResult Trainer::run_epoch(const std::function<bool()>& stop) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t epoch = next_epoch_;
  EpochResult result;
  result.epoch = epoch;
  optimizer_->set_epoch(epoch);
  result.lr = optimizer_->lr();
  BatchLoader loader(train_, std::min(options_.batch_size, train_.size()), seed_);
  loader.set_epoch(epoch);
  at::Generator augment_rng = epoch_generator(seed_, kAugmentStream, epoch);
  // The reference's schedule: drop_path_prob * epoch / epochs, starting at 0.
  net_.set_drop_path(options_.drop_path_prob * static_cast<double>(epoch) /
                         static_cast<double>(std::max<int64_t>(1, options_.epochs)),
                     epoch_generator(seed_, kDropPathStream, epoch));
  const bool augmenting = options_.crop_padding > 0 || options_.flip || options_.cutout > 0;
  net_.train();
  MetricsMeter meter;
  for (int64_t i = 0; i < loader.batches_per_epoch(); ++i) {
    if (stop && stop()) {
      result.complete = false;
      break;
    }
    const Batch batch = loader.batch(i);
    const at::Tensor images =
        augmenting ? augment(batch.images, options_, augment_rng) : batch.images;
    clear_gradients(optimizer_->params());
    // The auxiliary head is computed only when its loss counts.
    const bool auxiliary_loss = options_.auxiliary_weight > 0;
    at::Tensor logits, auxiliary;
    if (auxiliary_loss)
      std::tie(logits, auxiliary) = net_.forward_with_auxiliary(images);
    else
      logits = net_.forward(images);
    at::Tensor loss = at::cross_entropy_loss(logits, batch.labels);
    const at::Tensor main_loss = loss.detach();
    if (auxiliary_loss && auxiliary.defined())
      loss = loss + options_.auxiliary_weight * at::cross_entropy_loss(auxiliary, batch.labels);
    loss.backward();
    optimizer_->step();
    meter.add("loss", main_loss, batch.labels.size(0));
    meter.add_accuracy("acc", logits.detach(), batch.labels);
  }
  const auto means = meter.means();
  if (means.count("loss")) {
    result.train_loss = means.at("loss");
    result.train_acc = means.at("acc");
  }
  if (result.complete) ++next_epoch_;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void Trainer::save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive optimizer;
  optimizer_->save(optimizer);
  archive.write("optimizer", optimizer);
  archive.write("next_epoch", at::tensor(next_epoch_));
}

void Trainer::load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive optimizer;
  archive.read("optimizer", optimizer);
  optimizer_->load(optimizer);
  at::Tensor next;
  archive.read("next_epoch", next);
  next_epoch_ = next.item<int64_t>();
}

TrainResult train_network(Network& net, const TensorDataset& train, const TensorDataset& valid,
                          const TrainOptions& options, uint64_t seed,
                          const std::function<bool()>& stop) {
  const auto start = std::chrono::steady_clock::now();
  Trainer trainer(net, train, options, seed);
  TrainResult result;
  while (trainer.next_epoch() < trainer.epochs()) {
    const EpochResult epoch = trainer.run_epoch(stop);
    if (epoch.train_loss != 0 || epoch.complete) {
      result.train_loss = epoch.train_loss;
      result.train_acc = epoch.train_acc;
    }
    if (!epoch.complete) break;
  }
  result.valid = evaluate_network(net, valid, options.batch_size);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace nasx::core
