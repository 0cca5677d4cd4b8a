#pragma once
// Shared pieces of `nasx bench`: what one invocation measures, the clock and the peak
// memory, and the comparison of contenders (nasx variants and the reference baselines,
// each run in its own process) measured alternately, round by round, in one invocation.
// Figures, not tests: only numbers printed by one invocation on one machine compare.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "nasx/core/spaces.hpp"
#include "nasx/data.hpp"
#include "nasx/precision.hpp"

namespace nasx::core {
class PluginRegistry;
}  // namespace nasx::core

namespace nasx::cli::bench {

/// The build a nasx contender runs: this one (an empty path), or an --against path,
/// absolute: another nasx executable, or a plugin folder this executable loads instead
/// of the folders it loads by default.
struct Build {
  std::string path;
  bool plugin_folder = false;
};

/// One invocation's settings (`nasx bench --help` lists them).
struct Setup {
  const core::PluginRegistry* registry = nullptr;
  core::SpaceSection space;  ///< name and its channels/layers
  int64_t channels = 0, layers = 0;
  DataShape shape;
  int64_t batch = 0, warmup = 0, steps = 0;
  c10::Device device{c10::kCPU};
  int threads = 1;           ///< per process, resolved (the baselines get the same)
  std::string baseline_dir;  ///< the reference scripts' folder; "" for nasx alone
  std::string python = "python3";
  int rounds = 1;               ///< alternations of every contender
  bool profile = false;         ///< a nasx contender prints its operators by self time
  bool profile_shapes = false;  ///< ... split by their inputs' shapes
  int profile_rows = 25;        ///< ... the first this many
  bool profile_memory = false;  ///< ... and the tensors live at its memory peak
  bool cuda_graph = false;      ///< the step also captured in a CUDA graph (--cuda-graph)
  /// Other builds the nasx contenders are also measured on (--against).
  std::vector<Build> against;
};

/// What one measurement of a contender gives.
struct Timing {
  double seconds = 0;  ///< median seconds per unit (step, architecture, child)
  double best = 0;     ///< the fastest unit
  double mean = 0;     ///< mean seconds per unit (0: not reported)
  double peak_mb = 0;  ///< peak memory while measuring (0: not known)
  /// A step captured in a CUDA graph: the largest relative difference between the
  /// losses of its first replays and of a twin's eager steps from the same state
  /// (-1: not such a contender).
  double graph_vs_eager = -1;
  /// ... and between the first replay's updates and the twin's first step's, the norm
  /// of their difference over the norm of the eager update, the worse of the weights'
  /// and the architecture's (-1: not such a contender).
  double graph_update_vs_eager = -1;
};

/// A nasx variant or a baseline; `measure` runs it once (warm-up included).
struct Contender {
  std::string name;
  bool reference = false;
  std::function<Timing()> measure;
  std::string single;                    ///< a nasx contender's --single name ("" for a baseline)
  std::string seconds_key = "median_s";  ///< a nasx contender's figure
  /// Another contender's name: compare() also prints this one's time as a multiple of
  /// that one's, round by round (an overhead, rather than a speed-up over a baseline).
  std::string relative_to = {};
  /// Other contenders' names: compare() also prints this one's speed-up over each, as
  /// over a reference (a nasx contender over its twins on other builds, --against).
  std::vector<std::string> speedup_over = {};
  /// The build a nasx contender runs; speed-ups over references are printed within one
  /// build only (a baseline counts as this build's).
  Build build = {};
};

double seconds_since(std::chrono::steady_clock::time_point start);
void synchronize(const c10::Device& device);
/// The process's peak resident memory on CPU, the caching allocator's peak on CUDA.
double peak_mb(const c10::Device& device);
/// Starts peak_mb over (the caching allocator's peak on CUDA; the process's peak on the
/// CPU cannot be, and is left).
void reset_peak(const c10::Device& device);
/// "median_s=... min_s=... mean_s=... peak_rss_mib=..." (peak_cuda_mib on CUDA): how a nasx
/// contender prints its figures, the way the baseline scripts print theirs.
std::string figures_line(const Timing& timing, const c10::Device& device);
/// Runs `argv` and reads its last line's key=value words into a Timing: `seconds_key`
/// (seconds per unit), min_s, mean_s, peak_rss_mib / peak_cuda_mib. `what` names it in
/// errors.
Timing run_measurement(const std::vector<std::string>& argv, const std::string& seconds_key,
                       const std::string& what);
double median(std::vector<double> values);

/// Runs `unit` warmup times untimed, then `steps` times timed: median, best, mean and the
/// process's peak so far (a whole-process peak, as the baselines report theirs).
Timing time_units(const std::function<void()>& unit, const Setup& setup);

/// Runs `setup.python SCRIPT args...` from the baseline folder and reads the figures of
/// its last line's key=value words: `seconds_key` (seconds per unit) and, when present,
/// peak_rss_mib / peak_cuda_mib. Throws Error with the script's output when it fails.
Timing run_baseline(const Setup& setup, const std::string& script, std::vector<std::string> args,
                    const std::string& seconds_key);

/// Measures every contender `setup.rounds` times, rotating who goes first each round,
/// and prints a table of the rounds, the medians, the peaks and each nasx contender's
/// speed-up over each reference (the median of the rounds' ratios), and each contender's
/// time relative to its `relative_to` (the same way). `unit`: what one
/// timed unit is ("s/step", "s/arch").
void compare(const std::string& title, const std::vector<Contender>& contenders, const Setup& setup,
             const std::string& unit);

/// What a nasx contender measures besides the Setup.
struct Workload {
  std::vector<std::string> archs;  ///< train: the network's; naswot: the scored ones;
                                   ///< evaluate: the children
  double drop_path = 0.2;          ///< train: drop-path probability
  /// train: what nasx's ReLU-conv-BN convolutions compute in
  ConvolutionPrecision precision = ConvolutionPrecision::float32;
  /// train: also the step in bfloat16 ("nasx step bfloat16"), beside the float32 one
  bool both_precisions = false;
};

/// Measures nasx contender `name` in this process: "step:ORDER:FORMAT" (a search step),
/// "train-step" (a training step of the evaluation network; "train-step:bfloat16" in
/// bfloat16 mixed precision), "train-epoch" (the same
/// steps through the trainer: loading and augmentation included), "evaluate:path" (the
/// children on the shared weights one after another, single path), "evaluate:paths" (the
/// same children together, sharing their common work), "evaluate:onehot" (a child as the
/// supernet's mixture with one-hot weights), "naswot" (build and score one network).
Timing measure_nasx(const Setup& setup, const std::string& name, const Workload& work);

}  // namespace nasx::cli::bench
