// nasx bench: times the supernet search step (architecture step + weight step)
// for a space, batch, order and device. Figures, not tests: compare only numbers
// printed by one invocation on one machine.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/bilevel.hpp"
#include "nasx/core/distributed.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/distributed.hpp"
#include "nasx/error.hpp"
#include "nasx/naswot.hpp"
#include "nasx/optim.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"

#if defined(NASX_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace po = boost::program_options;

namespace nasx::cli {

namespace {

struct BenchCase {
  BilevelOptions options;
  std::string memory_format;
};

struct BenchFigures {
  double seconds_per_step = 0;
  double best_seconds_per_step = 0;
  double peak_memory_mb = 0;
};

/// Resets the process's peak resident set (Linux: write 5 to clear_refs).
void reset_cpu_peak() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
}

double cpu_peak_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

void synchronize(const c10::Device& device) {
#if defined(NASX_WITH_CUDA)
  if (device.is_cuda()) c10::cuda::device_synchronize();
#else
  (void)device;
#endif
}

BenchFigures bench_case(const core::PluginRegistry& registry, const core::SpaceSection& section,
                        const DataShape& shape, int64_t batch, const BenchCase& which,
                        c10::Device device, int64_t warmup, int64_t steps) {
  core::SpaceSection with_format = section;
  with_format.params["memory_format"] = which.memory_format;
  at::manual_seed(0);
  const auto space = core::make_space(registry, with_format);
  auto net = space->build_supernet(shape);
  net->to(device);
  net->train();
  WeightOptimizer weight_optimizer(net->weight_parameters(), SgdOptions{});
  ArchOptimizer arch_optimizer(net->arch_parameters(), AdamOptions{});
  auto make_batch = [&] {
    return Batch{at::randn({batch, shape.channels, shape.height, shape.width}).to(device),
                 at::randint(shape.classes, {batch}, at::kLong).to(device)};
  };
  // Data-parallel: this rank's slice of the same batches (the whole batch in one process).
  const Batch train = shard_batch(make_batch()), search = shard_batch(make_batch());
  for (int64_t i = 0; i < warmup; ++i)
    bilevel_step(*net, weight_optimizer, arch_optimizer, train, search, which.options);
  synchronize(device);

  reset_cpu_peak();
#if defined(NASX_WITH_CUDA)
  if (device.is_cuda())
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
#endif
  BenchFigures figures;
  figures.best_seconds_per_step = 1e30;
  double total = 0;
  for (int64_t i = 0; i < steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    bilevel_step(*net, weight_optimizer, arch_optimizer, train, search, which.options);
    synchronize(device);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    total += seconds;
    figures.best_seconds_per_step = std::min(figures.best_seconds_per_step, seconds);
  }
  figures.seconds_per_step = total / static_cast<double>(steps);
  figures.peak_memory_mb = cpu_peak_mb();
#if defined(NASX_WITH_CUDA)
  if (device.is_cuda()) {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    figures.peak_memory_mb = static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
  }
#endif
  return figures;
}

BilevelOptions options_for(const std::string& order) {
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

std::vector<std::string> expand(const std::string& value, const std::string& both,
                                const std::vector<std::string>& all) {
  return value == both ? all : std::vector<std::string>{value};
}

/// NASWOT scoring speed: architectures per second, sampling, network construction and
/// scoring included (what a NASWOT search pays per candidate).
int bench_naswot(const core::PluginRegistry& registry, const core::SpaceSection& section,
                 const DataShape& shape, int64_t batch, c10::Device device, int64_t warmup,
                 int64_t steps) {
  const auto space = core::make_space(registry, section);
  std::mt19937_64 rng(0);
  const at::Tensor images =
      at::randn({batch, shape.channels, shape.height, shape.width}).to(device);
  double build_seconds = 0, score_seconds = 0, forward_seconds = 0;
  std::vector<double> scores;
  for (int64_t i = 0; i < warmup + steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto net = space->build_network(space->sample(rng), shape);
    net->to(device);
    synchronize(device);
    const auto built = std::chrono::steady_clock::now();
    const double score = naswot_score(*net, images);
    synchronize(device);
    const auto end = std::chrono::steady_clock::now();
    {
      // The same forward pass without the ReLU observer: what the score adds to it.
      at::NoGradGuard no_grad;
      net->forward(images);
      synchronize(device);
    }
    forward_seconds +=
        i < warmup ? 0
                   : std::chrono::duration<double>(std::chrono::steady_clock::now() - end).count();
    if (i < warmup) continue;
    build_seconds += std::chrono::duration<double>(built - start).count();
    score_seconds += std::chrono::duration<double>(end - built).count();
    scores.push_back(score);
  }
  const double n = static_cast<double>(steps);
  std::cout << std::fixed << std::setprecision(4) << "architectures/s  "
            << n / (build_seconds + score_seconds) << "\nbuild s/arch     " << build_seconds / n
            << "\nscore s/arch     " << score_seconds / n
            << "  (its forward pass alone: " << forward_seconds / n << ")" << std::defaultfloat
            << "\n(last score " << scores.back() << ")\n";
  return 0;
}

po::options_description bench_options() {
  po::options_description options("options (defaults: the quickstart's supernet)");
  options.add_options()("what", po::value<std::string>()->default_value("step"),
                        "step: the supernet search step; naswot: NASWOT scoring of sampled "
                        "architectures (the space's networks at --channels/--layers, --batch "
                        "images)")("space", po::value<std::string>()->default_value("darts"),
                                   "search space")(
      "channels", po::value<int64_t>()->default_value(8), "C of the first cells")(
      "layers", po::value<int64_t>()->default_value(5), "cells")(
      "batch", po::value<int64_t>()->default_value(64),
      "minibatch size (each step uses one train and one search batch)")(
      "image-size", po::value<int64_t>()->default_value(28), "image height and width")(
      "in-channels", po::value<int64_t>()->default_value(1), "image channels")(
      "classes", po::value<int64_t>()->default_value(10), "classes")(
      "order", po::value<std::string>()->default_value("all"),
      "architecture gradient: first, second, mixed (MiLeNAS) or all")(
      "memory-format", po::value<std::string>()->default_value("both"),
      "channels_last, contiguous or both")("device", po::value<std::string>()->default_value("cpu"),
                                           "cpu or cuda[:N]")(
      "threads", po::value<int>()->default_value(0), "CPU threads (0: all cores)")(
      "warmup", po::value<int64_t>()->default_value(2), "untimed steps first")(
      "steps", po::value<int64_t>()->default_value(5), "timed steps")(
      "nproc", po::value<std::string>()->default_value("1"),
      "step: data-parallel ranks, a list such as 1,2: the same --batch split over each "
      "number of rank processes (threads per rank: --threads, else cores / ranks)")(
      "sync-batchnorm", po::bool_switch(), "step with ranks: synchronized BatchNorm");
  add_plugin_path_option(options);
  return options;
}

/// The --nproc list: rank counts that each divide the batch.
std::vector<int> rank_counts_of(const std::string& text, int64_t batch) {
  std::vector<int> counts;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, ',');) {
    const int n = std::atoi(item.c_str());
    if (n < 1 || batch % n != 0)
      throw ConfigError("bench: --nproc " + text +
                        ": give rank counts of 1 or more that divide --batch " +
                        std::to_string(batch));
    counts.push_back(n);
  }
  return counts;
}

/// What one bench of the search step measures: the supernet, the data's shape and the
/// timing settings.
struct StepBench {
  core::SpaceSection space;
  int64_t channels = 0, layers = 0;
  DataShape shape;
  int64_t batch = 0, warmup = 0, steps = 0;
  c10::Device device{c10::kCPU};
};

void print_step_header(const StepBench& b, int threads) {
  std::cout << "nasx bench: space " << b.space.name << ", C=" << b.channels << ", " << b.layers
            << " cells, batch " << b.batch << " (split over the ranks), " << b.shape.channels << "x"
            << b.shape.height << "x" << b.shape.width << ", " << b.shape.classes
            << " classes, device " << b.device << ", "
            << (threads > 0 ? std::to_string(threads) : "cores / ranks") << " threads per rank, "
            << b.steps << " timed steps after " << b.warmup << "\n\n";
  std::cout << std::left << std::setw(7) << "ranks" << std::setw(8) << "order" << std::setw(15)
            << "memory format" << std::right << std::setw(12) << "s/step" << std::setw(12)
            << "best s" << std::setw(12) << "images/s" << std::setw(14) << "peak MB"
            << "\n"
            << std::flush;
}

/// Every order x memory format in this process; rank 0 prints a row each.
void run_step_cases(const core::PluginRegistry& registry, const StepBench& b,
                    const std::vector<std::string>& orders, const std::vector<std::string>& formats,
                    int world, bool root) {
  for (const auto& order : orders) {
    for (const auto& format : formats) {
      if (format != "contiguous" && format != "channels_last")
        throw ConfigError("bench: --memory-format must be channels_last, contiguous or both");
      const BenchFigures f = bench_case(registry, b.space, b.shape, b.batch,
                                        {options_for(order), format}, b.device, b.warmup, b.steps);
      // One step consumes one training and one search minibatch.
      const double images_per_second = 2.0 * static_cast<double>(b.batch) / f.seconds_per_step;
      if (!root) continue;
      std::cout << std::left << std::setw(7) << world << std::setw(8) << order << std::setw(15)
                << format << std::right << std::fixed << std::setprecision(3) << std::setw(12)
                << f.seconds_per_step << std::setw(12) << f.best_seconds_per_step
                << std::setprecision(1) << std::setw(12) << images_per_second << std::setw(14)
                << f.peak_memory_mb << std::defaultfloat << "\n"
                << std::flush;
    }
  }
}

}  // namespace

int bench_command(const Args& args) {
  po::options_description options = bench_options();
  po::variables_map vm;
  if (!parse_args(args,
                  "usage: nasx bench [options]\n\nTimes one search step (architecture step + "
                  "weight step) of the supernet on random data, or with --what naswot the "
                  "NASWOT score of sampled architectures, e.g.\n  nasx bench --what naswot "
                  "--space nb201 --channels 16 --layers 5 --batch 128",
                  options, {}, vm))
    return 0;
  // A rank of a data-parallel bench (started by the --nproc launch below).
  std::unique_ptr<core::ProcessGroup> ranks;
  if (const auto setup = core::ranks_from_environment())
    ranks = std::make_unique<core::ProcessGroup>(*setup);
  const int world = ranks ? ranks->world_size() : 1;
  const int threads = vm["threads"].as<int>();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads > 0 ? threads : std::max(1, cores / world));
  StepBench b;
  b.space.name = vm["space"].as<std::string>();
  b.channels = vm["channels"].as<int64_t>();
  b.layers = vm["layers"].as<int64_t>();
  b.space.params = {{"channels", b.channels}, {"layers", b.layers}};
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  b.shape = DataShape{vm["in-channels"].as<int64_t>(), vm["image-size"].as<int64_t>(),
                      vm["image-size"].as<int64_t>(), vm["classes"].as<int64_t>()};
  b.batch = vm["batch"].as<int64_t>();
  b.steps = vm["steps"].as<int64_t>();
  b.warmup = vm["warmup"].as<int64_t>();
  if (b.batch < 1 || b.steps < 1 || b.warmup < 0)
    throw ConfigError("bench: --batch and --steps must be positive");
  b.device = c10::Device(vm["device"].as<std::string>());
  if (b.device.is_cuda() && !at::hasCUDA())
    throw ConfigError("bench: no CUDA device in this LibTorch build");
  const std::string what = vm["what"].as<std::string>();
  if (what == "naswot") {
    std::cout << "nasx bench: NASWOT scores, space " << b.space.name << ", C=" << b.channels
              << ", layers " << b.layers << ", batch " << b.batch << ", " << b.shape.channels << "x"
              << b.shape.height << "x" << b.shape.width << ", device " << b.device << ", "
              << at::get_num_threads() << " threads, " << b.steps << " architectures after "
              << b.warmup << "\n\n";
    return bench_naswot(registry, b.space, b.shape, b.batch, b.device, b.warmup, b.steps);
  }
  if (what != "step") throw ConfigError("bench: --what must be step or naswot, not '" + what + "'");
  const auto orders = expand(vm["order"].as<std::string>(), "all", {"first", "second", "mixed"});
  const auto formats =
      expand(vm["memory-format"].as<std::string>(), "both", {"contiguous", "channels_last"});
  const std::vector<int> rank_counts = rank_counts_of(vm["nproc"].as<std::string>(), b.batch);
  if (!ranks) print_step_header(b, threads);
  core::DataParallelScope data_parallel(ranks.get(), vm["sync-batchnorm"].as<bool>());
  if (ranks || std::find(rank_counts.begin(), rank_counts.end(), 1) != rank_counts.end())
    run_step_cases(registry, b, orders, formats, world, !ranks || ranks->rank() == 0);
  if (ranks) return 0;
  for (const int n : rank_counts) {
    if (n == 1) continue;
    // n rank processes of this same bench, each printing nothing but rank 0's rows.
    Args rank_args = {"bench"};
    for (const auto& a : without_option(args, "--nproc")) rank_args.push_back(a);
    const int status = core::launch_local_ranks(n, self_binary(), rank_args);
    if (status != 0) throw Error("bench: the " + std::to_string(n) + "-rank run failed");
  }
  std::cout << "\nimages/s counts both minibatches of a step (the whole batch, all ranks); "
               "peak MB is the process's (rank 0's) peak resident memory on CPU, the caching "
               "allocator's peak on CUDA.\n";
  return 0;
}

}  // namespace nasx::cli
