// ENAS: efficient NAS via parameter sharing (Pham et al., ICML 2018; AutoDL's NB201
// port, ENAS.py). Every epoch: (1) the shared weights train on single paths the
// controller samples (one per training minibatch, no gradient to the controller);
// (2) the controller samples architectures, each rewarded with its accuracy on one
// validation minibatch with the shared weights (eval mode), and learns by REINFORCE
// with a moving-average baseline. After the last epoch, the answer is the best of
// `final_samples` sampled architectures measured by the run's evaluator.
// Rewards use each minibatch's BatchNorm statistics by default: with the running ones
// (the reference's eval mode) single-path training leaves statistics that mix every
// path's, and on NB201/Fashion-MNIST the rewards stayed at chance (mean 0.11 over 20
// epochs) and the controller's entropy at its maximum; `reward_batchnorm = "running"`
// restores the reference's behaviour.
// Controller, REINFORCE and single-path training are the SDK's.
//
// Defaults depend on the space, as the references do: on cells that keep every edge
// (NB201) AutoDL's port (250 epochs, wd 2.5e-4, one cosine; controller lr 1e-3, 1000
// samples, 20 per update, reward batch 128); on cells that choose inputs (DARTS) the
// micro reference (150 epochs, wd 1e-4, cosine with warm restarts T0 10 x 2; controller
// lr 3.5e-3, 300 samples, 10 per update, reward batch 160). A key left at -1 takes the
// space's value; the values used are logged at setup.

#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include <nasx/error.hpp>
#include <nasx/evaluate.hpp>
#include <nasx/sampling_search.hpp>
#include <nasx/space.hpp>
#include <nasx/supernet.hpp>
#include "enas/controller.hpp"

namespace {

/// BatchNorm statistics of a reward evaluation.
enum class RewardBatchNorm { Batch, Running };

/// -1 in a space-dependent key: the space's default.
constexpr double kSpaceDefault = -1;

// Shared weights: SGD cosine 0.05 -> 5e-4, Nesterov (both references).
struct EnasOptions : nasx::WeightSgdParams {
  EnasOptions() {
    w_lr = 0.05;
    w_lr_min = 5e-4;
    w_nesterov = true;
    w_weight_decay = kSpaceDefault;
  }
  int64_t epochs = -1;
  int64_t steps_per_epoch = 0;
  int64_t w_restart_period = -1;
  int64_t w_restart_multiplier = 2;
  int64_t controller_samples = -1;
  int64_t samples_per_update = -1;
  double controller_lr = kSpaceDefault;
  double entropy_weight = 1e-4;
  double baseline_decay = 0.99;
  int64_t reward_batch = -1;
  RewardBatchNorm reward_batchnorm = RewardBatchNorm::Batch;
  int64_t final_samples = 100;
};

/// `options` with every key left at -1 set to the references' value for the kind of
/// cells `space` has.
EnasOptions with_space_defaults(EnasOptions options, const nasx::SearchSpace& space) {
  bool micro = false;  // cells choose their inputs: the reference's micro space
  for (const nasx::CellDecisions& cell : space.decisions()) micro |= cell.inputs_per_node > 0;
  auto fill = [](auto& value, auto nb201, auto darts, bool is_micro) {
    if (value < 0) value = is_micro ? darts : nb201;
  };
  fill(options.epochs, int64_t{250}, int64_t{150}, micro);
  fill(options.w_weight_decay, 2.5e-4, 1e-4, micro);
  fill(options.w_restart_period, int64_t{0}, int64_t{10}, micro);
  fill(options.controller_lr, 1e-3, 3.5e-3, micro);
  fill(options.controller_samples, int64_t{1000}, int64_t{300}, micro);
  fill(options.samples_per_update, int64_t{20}, int64_t{10}, micro);
  fill(options.reward_batch, int64_t{128}, int64_t{160}, micro);
  if (options.epochs < 1 || options.controller_samples < 1 || options.samples_per_update < 1 ||
      options.reward_batch < 1)
    throw nasx::ConfigError(
        "search.epochs, controller_samples, samples_per_update and reward_batch must be at "
        "least 1 (or -1: the space's default)");
  return options;
}

const nasx::OptionsBinding<EnasOptions>& binding() {
  using nasx::Range;
  using O = EnasOptions;
  static const auto b =
      nasx::OptionsBinding<O>()
          .field("epochs", &O::epochs,
                 "epochs of shared-weight and controller training (-1: 250 on NB201-like "
                 "cells, 150 on DARTS-like)",
                 Range{-1.0, {}})
          .field("w_lr", &O::w_lr, "shared weights: SGD learning rate, cosine-annealed",
                 Range{0.0, {}})
          .field("w_lr_min", &O::w_lr_min, "shared weights: final learning rate", Range{0.0, 10.0})
          .field("w_momentum", &O::w_momentum, "shared weights: SGD momentum", Range{0.0, 0.999})
          .field("w_nesterov", &O::w_nesterov, "shared weights: Nesterov momentum")
          .field("w_weight_decay", &O::w_weight_decay,
                 "shared weights: L2 decay (-1: 2.5e-4 NB201-like, 1e-4 DARTS-like)",
                 Range{-1.0, 1.0})
          .field("w_restart_period", &O::w_restart_period,
                 "shared weights: first cosine period of warm restarts, in epochs (0: one "
                 "cosine over all epochs; -1: 0 NB201-like, 10 DARTS-like)",
                 Range{-1.0, {}})
          .field("w_restart_multiplier", &O::w_restart_multiplier,
                 "shared weights: each warm-restart period this many times the last",
                 Range{1.0, {}})
          .field("grad_clip", &O::grad_clip, "shared weights: max gradient norm (0: off)",
                 Range{0.0, {}})
          .field("steps_per_epoch", &O::steps_per_epoch,
                 "cap on shared-weight minibatches per epoch (0: one pass)", Range{0.0, {}})
          .field("controller_samples", &O::controller_samples,
                 "architectures the controller samples and learns from per epoch (-1: 1000 "
                 "NB201-like, 300 DARTS-like)",
                 Range{-1.0, {}})
          .field("samples_per_update", &O::samples_per_update,
                 "samples whose gradients one controller update averages (-1: 20 NB201-like, "
                 "10 DARTS-like)",
                 Range{-1.0, {}})
          .field("controller_lr", &O::controller_lr,
                 "controller Adam learning rate, betas 0, 0.999; eps 1e-3; clip 5 (-1: 1e-3 "
                 "NB201-like, 3.5e-3 DARTS-like)",
                 Range{-1.0, 1.0})
          .field("entropy_weight", &O::entropy_weight, "entropy bonus added to the reward",
                 Range{0.0, {}})
          .field("baseline_decay", &O::baseline_decay, "moving-average baseline decay",
                 Range{0.0, 1.0})
          .field("reward_batch", &O::reward_batch,
                 "validation images per reward, one minibatch (-1: 128 NB201-like, 160 "
                 "DARTS-like)",
                 Range{-1.0, {}})
          .field("reward_batchnorm", &O::reward_batchnorm,
                 "BatchNorm statistics for rewards: each minibatch's (running ones restored) or "
                 "the running ones (the reference's eval mode)",
                 {{"batch", RewardBatchNorm::Batch}, {"running", RewardBatchNorm::Running}})
          .field("final_samples", &O::final_samples,
                 "sampled architectures measured by the evaluator for the answer", Range{1.0, {}});
  return b;
}

class Enas final : public nasx::SearchStrategy {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = with_space_defaults(binding().read(ctx.params()), ctx.space());
    std::ostringstream used;
    used << "enas: epochs " << options_.epochs << ", w_weight_decay " << options_.w_weight_decay
         << ", w_restart_period " << options_.w_restart_period << ", controller_lr "
         << options_.controller_lr << ", controller_samples " << options_.controller_samples
         << ", samples_per_update " << options_.samples_per_update << ", reward_batch "
         << options_.reward_batch;
    ctx.info(used.str());
    controller_ =
        nasx::enas::Controller(ctx.space(), nasx::enas::default_controller_options(ctx.space()));
    nasx::enas::ReinforceOptions reinforce;
    reinforce.lr = options_.controller_lr;
    reinforce.entropy_weight = options_.entropy_weight;
    reinforce.baseline_decay = options_.baseline_decay;
    reinforce.samples_per_update = options_.samples_per_update;
    reinforce_.emplace(controller_, reinforce);
    nasx::SgdOptions sgd = options_.sgd(options_.epochs);
    sgd.restart_period = options_.w_restart_period;
    sgd.restart_multiplier = options_.w_restart_multiplier;
    weight_optimizer_.emplace(ctx.supernet().weight_parameters(), sgd);
    train_loader_.emplace(ctx.data().train, ctx.batch_size(), nasx::derive_seed(ctx.seed(), 14));
    reward_loader_.emplace(ctx.data().search,
                           std::min(options_.reward_batch, ctx.data().search.size()),
                           nasx::derive_seed(ctx.seed(), 15));
    rng_.seed(nasx::derive_seed(ctx.seed(), 23));
  }

  int64_t total_steps() const override { return options_.epochs + 1; }
  bool trains_arch_parameters() const override { return false; }
  std::optional<nasx::Architecture> best() const override { return answer_ ? answer_ : likeliest_; }

  std::map<std::string, double> step(nasx::Context& ctx, int64_t step) override {
    if (step == options_.epochs) return final_pick(ctx);
    auto metrics = nasx::train_paths_epoch(ctx, *weight_optimizer_, *train_loader_, step,
                                           options_.steps_per_epoch, [&] {
                                             at::NoGradGuard no_grad;
                                             return controller_->sample(rng_).arch;
                                           });
    if (ctx.stop_requested()) return metrics;
    const auto controller = train_controller(ctx);
    metrics.insert(controller.begin(), controller.end());
    likeliest_ = controller_->most_likely();
    return metrics;
  }

  void state(nasx::StateArchive& archive) override {
    archive.object("weight_optimizer", *weight_optimizer_)
        .object("reinforce", *reinforce_)
        .field("rng", rng_)
        .field("reward_index", reward_index_)
        .field("answer", answer_)
        .field("likeliest", likeliest_);
  }

 private:
  /// The next reward minibatch, cycling through the search split in seeded orders.
  nasx::Batch reward_batch() {
    const int64_t per_epoch = reward_loader_->batches_per_epoch();
    reward_loader_->set_epoch(reward_index_ / per_epoch);
    return reward_loader_->batch(reward_index_++ % per_epoch);
  }

  std::map<std::string, double> train_controller(nasx::Context& ctx) {
    auto& net = ctx.supernet();
    double reward_sum = 0, entropy_sum = 0;
    int64_t done = 0;
    for (; done < options_.controller_samples && !ctx.stop_requested(); ++done) {
      const nasx::enas::ControllerSample sample = controller_->sample(rng_);
      const nasx::Batch batch = reward_batch();
      const nasx::TensorDataset reward_set{batch.images, batch.labels};
      const double accuracy =
          nasx::evaluate_path(net, sample.arch, reward_set, reward_set.size(), 0,
                              options_.reward_batchnorm == RewardBatchNorm::Batch)
              .accuracy;
      reward_sum += reinforce_->add(sample, accuracy);
      entropy_sum += sample.entropy.item<double>();
    }
    const double n = static_cast<double>(std::max<int64_t>(done, 1));
    return {{"reward", reward_sum / n},
            {"baseline", reinforce_->baseline()},
            {"controller_entropy", entropy_sum / n}};
  }

  std::map<std::string, double> final_pick(nasx::Context& ctx) {
    std::set<nasx::Architecture> seen;
    double best_accuracy = -1;
    for (int64_t i = 0; i < options_.final_samples && !ctx.stop_requested(); ++i) {
      nasx::Architecture arch;
      {
        at::NoGradGuard no_grad;
        arch = controller_->sample(rng_).arch;
      }
      if (!seen.insert(arch).second) continue;
      const double accuracy = ctx.evaluate(arch).accuracy;
      if (accuracy > best_accuracy) {
        best_accuracy = accuracy;
        answer_ = arch;
      }
    }
    return {{"best_acc", best_accuracy}, {"distinct_samples", static_cast<double>(seen.size())}};
  }

  EnasOptions options_;
  nasx::enas::Controller controller_{nullptr};
  std::optional<nasx::enas::Reinforce> reinforce_;
  std::optional<nasx::WeightOptimizer> weight_optimizer_;
  std::optional<nasx::BatchLoader> train_loader_, reward_loader_;
  std::mt19937_64 rng_;
  int64_t reward_index_ = 0;
  std::optional<nasx::Architecture> answer_, likeliest_;
};

}  // namespace

NASX_PLUGIN(Enas, "enas", "1.0.0",
            "ENAS: LSTM controller trained by REINFORCE on shared-weight rewards (Pham et al.)")
