// The nasx side of `nasx bench`: each contender measured in its own process, the way
// a baseline script measures the reference.

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

#include <torch/serialize/archive.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "bench.hpp"
#include "memory_profile.hpp"
#include "nasx/bilevel.hpp"
#include "nasx/core/cuda_graph.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/trainer.hpp"
#include "nasx/distributed.hpp"
#include "nasx/error.hpp"
#include "nasx/evaluate.hpp"
#include "nasx/naswot.hpp"
#include "nasx/optim.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"
#include "op_profile.hpp"

namespace nasx::cli::bench {

namespace {

Batch random_batch(const Setup& setup) {
  const DataShape& s = setup.shape;
  return Batch{at::randn({setup.batch, s.channels, s.height, s.width}).to(setup.device),
               at::randint(s.classes, {setup.batch}, at::kLong).to(setup.device)};
}

BilevelOptions order_options(const std::string& order) {
  BilevelOptions options;
  if (order == "first")
    options.gradient = ArchGradient::FirstOrder;
  else if (order == "second")
    options.gradient = ArchGradient::SecondOrder;
  else if (order == "mixed")
    options.gradient = ArchGradient::MixedLevel;
  else
    throw ConfigError("bench: --order must be first, second, mixed or all, not '" + order + "'");
  return options;
}

std::unique_ptr<SearchSpace> space_with_format(const Setup& setup, const std::string& format) {
  core::SpaceSection section = setup.space;
  if (!format.empty()) section.params["memory_format"] = format;
  return core::make_space(*setup.registry, section);
}

/// A supernet with its optimisers and the two batches of a search step: every rig built
/// in one process starts from the same seed, so two are twins.
struct StepRig {
  StepRig(const Setup& setup, const std::string& order, const std::string& format) {
    at::manual_seed(0);
    space = space_with_format(setup, format);
    net = space->build_supernet(setup.shape);
    net->to(setup.device);
    net->train();
    weights = std::make_unique<WeightOptimizer>(net->weight_parameters(), SgdOptions{});
    alphas = std::make_unique<ArchOptimizer>(net->arch_parameters(), AdamOptions{});
    // Data-parallel: this rank's slice of the same batches (the whole batch alone).
    train = shard_batch(random_batch(setup));
    search = shard_batch(random_batch(setup));
    options = order_options(order);
  }
  BilevelStepResult step() { return bilevel_step(*net, *weights, *alphas, train, search, options); }
  std::vector<at::Tensor> parameters() const {
    std::vector<at::Tensor> all = net->weight_parameters();
    for (const auto& a : net->arch_parameters()) all.push_back(a);
    return all;
  }

  std::unique_ptr<SearchSpace> space;
  std::shared_ptr<Supernet> net;
  std::unique_ptr<WeightOptimizer> weights;
  std::unique_ptr<ArchOptimizer> alphas;
  Batch train, search;
  BilevelOptions options;
};

/// A rig's state between steps: parameters, SGD momentum, and the architecture
/// optimiser serialised (Adam's moments and its step count).
struct RigState {
  std::vector<at::Tensor> parameters, momentum;
  std::string arch_optimizer;
};

RigState save_state(const StepRig& rig) {
  RigState state;
  for (const auto& p : rig.parameters()) state.parameters.push_back(p.detach().clone());
  for (const auto& m : rig.weights->momentum_buffers()) state.momentum.push_back(m.clone());
  torch::serialize::OutputArchive archive;
  rig.alphas->save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  state.arch_optimizer = bytes.str();
  return state;
}

void load_state(StepRig& rig, const RigState& state) {
  at::NoGradGuard no_grad;
  const std::vector<at::Tensor> parameters = rig.parameters();
  for (size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(state.parameters[i]);
  const auto& momentum = rig.weights->momentum_buffers();
  for (size_t i = 0; i < momentum.size(); ++i) momentum[i].copy_(state.momentum[i]);
  torch::serialize::InputArchive archive;
  std::istringstream bytes(state.arch_optimizer);
  archive.load_from(bytes, rig.net->arch_parameters().front().device());
  rig.alphas->load(archive);
}

/// A one-element tensor's value on the host.
double host_value(const at::Tensor& t) { return t.to(at::kCPU, at::kDouble).item<double>(); }

double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  const double x = host_value(a), y = host_value(b);
  return std::abs(x - y) / std::max(std::abs(y), 1e-12);
}

/// ‖after_a − after_b‖ / ‖after_b − before‖ over tensors [begin, end): how far update a
/// is from update b, relative to b (both from `before`).
double update_difference(const std::vector<at::Tensor>& before,
                         const std::vector<at::Tensor>& after_a,
                         const std::vector<at::Tensor>& after_b, size_t begin, size_t end) {
  double apart = 0, update = 0;
  for (size_t i = begin; i < end; ++i) {
    apart += std::pow(host_value((after_a[i] - after_b[i]).norm()), 2);
    update += std::pow(host_value((after_b[i] - before[i]).norm()), 2);
  }
  return std::sqrt(apart) / std::max(std::sqrt(update), 1e-30);
}

/// The step captured in a CUDA graph and replayed (`graph`), or, to test this check's
/// premise on any device, run eagerly in its place. Before it is timed, its first runs
/// are set against eager steps of a twin put in the very state the capture started from
/// (parameters, momentum, Adam's moments and count): the architecture and weight losses
/// of each step must agree, and so must the first step's updates of the weights and of
/// the architecture. On the CPU, eagerly, both are 0 exactly. Losses and whole updates,
/// not single values: a GPU's sums come in varying orders, and a step turns such rounding
/// into large relative changes of the few weights whose gradient is rounding alone (a
/// BatchNorm-ed convolution's bias), which a loss or an update's norm does not show. A
/// capture that froze an input, or dropped an update, differs by a step's change of the
/// loss, a percent or so here, or by the whole update. The architecture's updates move
/// the losses far less than that, hence their own check. Only a few steps, since the
/// graph keeps Adam's bias correction of the captured count (cuda_graph.hpp).
Timing measure_checked_step(const Setup& setup, const std::string& order, const std::string& format,
                            bool graph) {
  constexpr int kWarmup = 3, kChecked = 3;
  StepRig rig(setup, order, format);
  std::optional<RigState> before_capture;
  BilevelStepResult replayed;  // the step's outputs, rewritten by each replay
  int calls = 0;
  const auto step = [&] {
    replayed = rig.step();
    if (++calls == kWarmup) before_capture = save_state(rig);
  };
  std::optional<core::CapturedStep> captured;
  if (graph)
    captured.emplace(step, setup.device, kWarmup);
  else
    for (int i = 0; i < kWarmup; ++i) step();
  const auto again = [&] {
    if (captured)
      captured->replay();
    else
      replayed = rig.step();
  };
  double losses = 0, updates = 0;
  {
    StepRig twin(setup, order, format);
    load_state(twin, *before_capture);
    const size_t weights = rig.weights->params().size(), all = rig.parameters().size();
    for (int i = 0; i < kChecked; ++i) {
      const BilevelStepResult eager = twin.step();
      again();
      synchronize(setup.device);
      losses = std::max({losses, relative_difference(replayed.arch_loss, eager.arch_loss),
                         relative_difference(replayed.weights.loss, eager.weights.loss)});
      if (i == 0) {
        const std::vector<at::Tensor>& before = before_capture->parameters;
        const std::vector<at::Tensor> checked = rig.parameters(), step = twin.parameters();
        updates = std::max(update_difference(before, checked, step, 0, weights),
                           update_difference(before, checked, step, weights, all));
      }
    }
    before_capture.reset();
  }
  reset_peak(setup.device);  // the twin and the saved state are gone: the step's own peak
  Timing timing = time_units(again, setup);
  timing.graph_vs_eager = losses;
  timing.graph_update_vs_eager = updates;
  return timing;
}

/// One search step (architecture step + weight step) of the supernet.
Timing measure_step(const Setup& setup, const std::string& order, const std::string& format) {
  StepRig rig(setup, order, format);
  return time_units([&] { rig.step(); }, setup);
}

/// The evaluation network of `arch` trained as `nasx train` trains it: SGD lr 0.025,
/// momentum 0.9, wd 3e-4, clip 5 (the reference's), drop path, no auxiliary loss.
TrainOptions train_options(const Setup& setup, const Workload& work) {
  TrainOptions options;
  options.lr = 0.025;
  options.nesterov = false;
  options.weight_decay = 3e-4;
  options.grad_clip = 5;
  options.batch_size = setup.batch;
  options.drop_path_prob = work.drop_path;
  options.epochs = 1;
  return options;
}

std::shared_ptr<Network> training_network(const Setup& setup, const Workload& work,
                                          const SearchSpace& space) {
  if (work.archs.size() != 1) throw ConfigError("bench: --what train takes one --arch");
  at::manual_seed(0);
  auto net =
      space.build_network(space.parse(work.archs[0]), setup.shape, setup.channels, setup.layers);
  net->to(setup.device);
  net->train();
  return net;
}

/// The trainer's step without its loop: clear, forward, loss, backward, SGD.
Timing measure_train_step(const Setup& setup, const Workload& work) {
  const ConvolutionPrecisionScope precision(work.precision);
  const auto space = space_with_format(setup, "");
  const auto net = training_network(setup, work, *space);
  const TrainOptions options = train_options(setup, work);
  SgdOptions sgd;
  sgd.lr = options.lr;
  sgd.weight_decay = options.weight_decay;
  sgd.grad_clip = options.grad_clip;
  WeightOptimizer optimizer(net->parameters(), sgd);
  net->set_drop_path(work.drop_path, at::make_generator<at::CPUGeneratorImpl>(0));
  const Batch batch = random_batch(setup);
  return time_units(
      [&] {
        clear_gradients(optimizer.params());
        const at::Tensor loss = at::cross_entropy_loss(net->forward(batch.images), batch.labels);
        loss.backward();
        optimizer.step();
      },
      setup);
}

/// Whole epochs of the trainer (data order, augmentation: crops, flips, cutout; the
/// metrics), per step: what the steps above cost once a training loop carries them.
Timing measure_train_epoch(const Setup& setup, const Workload& work) {
  const ConvolutionPrecisionScope precision(work.precision);
  const auto space = space_with_format(setup, "");
  const auto net = training_network(setup, work, *space);
  TrainOptions options = train_options(setup, work);
  options.crop_padding = 2;
  options.flip = true;
  options.cutout = setup.shape.height / 4;
  options.epochs = 1 + setup.warmup;
  const int64_t steps = setup.steps;
  const DataShape& s = setup.shape;
  TensorDataset data{at::randn({steps * setup.batch, s.channels, s.height, s.width}),
                     at::randint(s.classes, {steps * setup.batch}, at::kLong)};
  data.images = data.images.to(setup.device);
  data.labels = data.labels.to(setup.device);
  core::Trainer trainer(*net, data, options, 0);
  // Warm-up epochs of one step each would change the loader; whole epochs instead,
  // the last one timed. Drop path reaches work.drop_path only at the end of the
  // schedule, so the timed epoch runs at its last value: (epochs - 1) / epochs of it.
  std::optional<MemoryProfile> memory;  // this thread's tensors: the loader's are not counted
  if (setup.profile_memory) memory.emplace(setup.profile_shapes);
  for (int64_t e = 0; e < setup.warmup; ++e) trainer.run_epoch();
  synchronize(setup.device);
  std::optional<OpProfile> profile;
  if (setup.profile) profile.emplace(setup.profile_shapes);
  const auto start = std::chrono::steady_clock::now();
  trainer.run_epoch();
  synchronize(setup.device);
  if (profile) profile->print(std::cout, steps, setup.profile_rows);
  if (memory) memory->print(std::cout, setup.profile_rows);
  Timing timing;
  timing.seconds = seconds_since(start) / static_cast<double>(steps);
  timing.best = timing.seconds;
  timing.mean = timing.seconds;  // the epoch's time per step is a mean
  timing.peak_mb = peak_mb(setup.device);
  return timing;
}

/// Evaluation of the children `work.archs` on the shared weights, 4 minibatches each with
/// BatchNorm on each minibatch (as the shared evaluator does), per child. "path": one
/// child after another (evaluate_path), the whole set per unit; "paths": the set together
/// (evaluate_paths, the work the children share done once), per unit; "onehot": one child
/// per unit, the set in turn, as the supernet's mixture with one-hot weights (every
/// operation of every edge computed).
Timing measure_evaluate(const Setup& setup, const Workload& work, const std::string& mode) {
  at::manual_seed(0);
  const auto space = space_with_format(setup, "");
  auto net = space->build_supernet(setup.shape);
  net->to(setup.device);
  const int64_t batches = 4;
  const DataShape& s = setup.shape;
  const TensorDataset data{
      at::randn({batches * setup.batch, s.channels, s.height, s.width}).to(setup.device),
      at::randint(s.classes, {batches * setup.batch}, at::kLong).to(setup.device)};
  std::vector<Architecture> children;
  for (const auto& text : work.archs) children.push_back(space->parse(text));
  if (children.empty()) throw ConfigError("bench: --what evaluate needs children");
  const auto n = static_cast<double>(children.size());
  if (mode == "onehot") {
    size_t next = 0;
    return time_units(
        [&] {
          const Architecture& arch = children[next++ % children.size()];
          evaluate_supernet_with_weights(*net, net->one_hot_weights(arch), data, setup.batch, 0,
                                         /*batch_statistics=*/true);
        },
        setup);
  }
  Timing timing = time_units(
      [&] {
        if (mode == "paths") {
          evaluate_paths(*net, children, data, setup.batch, 0, /*batch_statistics=*/true);
          return;
        }
        for (const Architecture& arch : children)
          evaluate_path(*net, arch, data, setup.batch, 0, /*batch_statistics=*/true);
      },
      setup);
  timing.seconds /= n;
  timing.best /= n;
  return timing;
}

/// Building and scoring one network per unit (what a NASWOT search pays per candidate),
/// the architectures of `work` in turn.
Timing measure_naswot(const Setup& setup, const Workload& work) {
  const auto space = space_with_format(setup, "");
  if (work.archs.empty()) throw ConfigError("bench: --what naswot needs architectures");
  at::manual_seed(0);
  const at::Tensor images =
      at::randn({setup.batch, setup.shape.channels, setup.shape.height, setup.shape.width})
          .to(setup.device);
  size_t next = 0;
  return time_units(
      [&] {
        auto net = space->build_network(space->parse(work.archs[next++ % work.archs.size()]),
                                        setup.shape, setup.channels, setup.layers);
        net->to(setup.device);
        naswot_score(*net, images);
      },
      setup);
}

}  // namespace

Timing measure_nasx(const Setup& setup, const std::string& name, const Workload& work) {
  if (name.rfind("step:", 0) == 0) {
    // step:ORDER:FORMAT; step:ORDER:FORMAT:graph, the step in a CUDA graph, checked against
    // a twin; step:ORDER:FORMAT:twin, the check alone, eagerly (its premise, tested).
    const auto colon = name.find(':', 5);
    if (colon == std::string::npos) throw ConfigError("bench: step:ORDER:FORMAT, not " + name);
    const std::string order = name.substr(5, colon - 5);
    std::string format = name.substr(colon + 1);
    const auto mode = format.find(':');
    if (mode != std::string::npos) {
      const std::string how = format.substr(mode + 1);
      if (how != "graph" && how != "twin")
        throw ConfigError("bench: step:ORDER:FORMAT[:graph|:twin], not " + name);
      format.resize(mode);
      return measure_checked_step(setup, order, format, how == "graph");
    }
    return measure_step(setup, order, format);
  }
  if (name == "train-step") return measure_train_step(setup, work);
  if (name == "train-step:bfloat16") {
    Workload bfloat16 = work;
    bfloat16.precision = ConvolutionPrecision::bfloat16;
    return measure_train_step(setup, bfloat16);
  }
  if (name == "train-epoch") return measure_train_epoch(setup, work);
  if (name.rfind("evaluate:", 0) == 0) {
    const std::string mode = name.substr(9);
    if (mode != "path" && mode != "paths" && mode != "onehot")
      throw ConfigError("bench: no nasx contender '" + name + "'");
    return measure_evaluate(setup, work, mode);
  }
  if (name == "naswot") return measure_naswot(setup, work);
  throw ConfigError("bench: no nasx contender '" + name + "'");
}

}  // namespace nasx::cli::bench
