// nasx bench: figures, not tests. Times what NAS spends its hours on: the supernet's
// search step, the evaluation network's training step and epoch, the evaluation of
// children on shared weights and NASWOT scoring, each against its baseline: the
// papers' reference code (--baseline, run with python3-torch on the same LibTorch) or
// the straightforward computation. Every contender runs in its own process, measured
// alternately round after round in one invocation, so their ratio holds on a noisy
// machine; compare only numbers printed by one invocation.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <boost/program_options.hpp>

#include "bench.hpp"
#include "cli.hpp"
#include "nasx/core/cuda_graph.hpp"
#include "nasx/core/distributed.hpp"
#include "nasx/core/process.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/enumerate.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"
#include "op_profile.hpp"

namespace po = boost::program_options;

namespace nasx::cli {

namespace {

using bench::Contender;
using bench::Setup;
using bench::Timing;
using bench::Workload;

/// The reference's DARTS_V2 cell (genotypes.py): ref_train_step.py trains it.
constexpr const char* kDartsV2 =
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";

const char* const kUsage =
    R"help(usage: nasx bench [--what step|train|evaluate|naswot] [options]

Times one unit of work, nasx against its baseline, alternating round after round:
  step      a search step (architecture step + weight step) of the supernet, first,
            second order and mixed-level; baseline: the DARTS reference's search step
            (ref_darts_step.py), contiguous and channels-last; --space nb201: the
            reference's architect on AutoDL's NB-201 search network, built from the
            baseline folder's ref-naswot operations (share/nasx/ref_nb201_search_step.py)
  train     a training step of the evaluation network (DARTS_V2 by default, drop path,
            SGD, clipping), and whole trainer epochs per step (loading, augmentation);
            baseline: the reference NetworkCIFAR in a plain PyTorch loop (ref_train_step.py);
            --space nb201: the reference TinyNetwork (from the baseline folder's
            ref-naswot) in nasx's plain loop (share/nasx/ref_nb201_train_step.py)
  evaluate  children on the supernet's shared weights (4 minibatches each, batch
            statistics; every child of a space of at most 64, else 16 sampled, or
            --arch): all together (the work they share done once) and the supernet's
            one-hot mixture against the single path, one child after another
  naswot    building and scoring an untrained network; baseline: the NASWOT reference
            (ref_naswot_score.py, NB201 C=16 N=5)
Sizes left at 0 take the what's default: step/evaluate the quickstart's supernet (C=8,
5 cells, batch 64; evaluate on ws64: 4 cells, as configs/ranking-ws64.toml), train the
Fashion-MNIST preset (C=16, 8 cells, batch 96) or the space's protocol, naswot NB201's
network (C=16, N=5, batch 128). All on random data.

--device cuda runs every contender on the GPU (the DARTS reference's step too, with
cuDNN's algorithm search on, as the reference has it); --cuda-graph adds each nasx step
captured once in a CUDA graph and replayed, after its first replays are checked against
a twin's eager steps (the losses, and the first step's updates).

--against PATH measures each nasx contender (the epoch's overhead rows aside) on another
build too, alternating, and prints the speed-up over it: PATH is another nasx executable
(with the plugins beside it) or a folder of plugins this nasx loads instead of the ones
it loads by default (its own, $NASX_PLUGIN_PATH's), such as a copy of
build/lib/nasx/plugins taken before a change. The first lines say which space plugin
file each build measures; a second --against is also set against the first; --profile
and --profile-memory add what changed per operator.

  nasx bench --what step --baseline DIR --rounds 3
  nasx bench --what train --space nb201 --against /tmp/plugins-before --rounds 5
  nasx bench --what step --nproc 1,2 [--sync-batchnorm]    data-parallel rows
  nasx bench --what step --device cuda --cuda-graph --baseline DIR)help";

po::options_description bench_options() {
  po::options_description options("options");
  options.add_options()("what", po::value<std::string>()->default_value("step"),
                        "step, train, evaluate or naswot")(
      "space", po::value<std::string>()->default_value(""),
      "search space (default: darts; naswot: nb201)")(
      "channels", po::value<int64_t>()->default_value(0), "C of the first cells (0: default)")(
      "layers", po::value<int64_t>()->default_value(0), "cells (0: default)")(
      "batch", po::value<int64_t>()->default_value(0), "minibatch size (0: default)")(
      "image-size", po::value<int64_t>()->default_value(28), "image height and width")(
      "in-channels", po::value<int64_t>()->default_value(1), "image channels")(
      "classes", po::value<int64_t>()->default_value(10), "classes")(
      "order", po::value<std::string>()->default_value("all"),
      "step: first, second, mixed (MiLeNAS) or all")(
      "memory-format", po::value<std::string>()->default_value("channels_last"),
      "step: nasx's supernet in channels_last, contiguous or both")(
      "arch", po::value<std::vector<std::string>>()->composing(),
      "train: the network's architecture (default DARTS_V2 on darts); naswot: the scored "
      "ones (repeatable; default --steps sampled ones); evaluate: the children")(
      "drop-path", po::value<double>()->default_value(0.2, "0.2"), "train: drop-path probability")(
      "precision", po::value<std::string>()->default_value("float32"),
      "train: what nasx's ReLU-conv-BN convolutions compute in, float32 or bfloat16 (as "
      "[train] precision; the references stay in float32), or both: the float32 contenders "
      "and a step in bfloat16, alternating")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu or cuda[:N]")(
      "threads", po::value<int>()->default_value(0),
      "CPU threads of every contender (0: all cores)")(
      "warmup", po::value<int64_t>()->default_value(2), "untimed units first")(
      "steps", po::value<int64_t>()->default_value(5), "timed units per measurement")(
      "rounds", po::value<int>()->default_value(3), "measurements of each contender, alternating")(
      "baseline", po::value<std::string>()->default_value(""),
      "folder of the reference scripts (ref_darts_step.py, ref_train_step.py, "
      "ref_naswot_score.py); without it nasx is measured alone")(
      "python", po::value<std::string>()->default_value("python3"),
      "the interpreter of the baselines (python3-torch)")(
      "nproc", po::value<std::string>()->default_value("1"),
      "step: data-parallel ranks, a list such as 1,2: the same --batch split over each "
      "number of rank processes (threads per rank: --threads, else cores / ranks)")(
      "sync-batchnorm", po::bool_switch(), "step with ranks: synchronized BatchNorm")(
      "cuda-graph", po::bool_switch(),
      "step on a GPU: also each nasx step captured in a CUDA graph and replayed, checked "
      "against the eager step first")(
      "profile", po::bool_switch(),
      "also list each nasx contender's operators by self time (a run of its own)")(
      "profile-shapes", po::bool_switch(),
      "--profile (and --profile-memory), with each operator split by its inputs' shapes and "
      "integer arguments (a convolution's groups, strides, ...); alone, --profile so split")(
      "profile-memory", po::bool_switch(),
      "also list, for each nasx contender (a run of its own; CPU only), the tensors live at "
      "the peak of tensor memory by the operator that allocated them")(
      "profile-rows", po::value<int>()->default_value(25),
      "--profile / --profile-memory: how many operators (or operator and shape pairs) to "
      "list")("against", po::value<std::vector<std::string>>()->composing(),
              "another build to measure the nasx contenders on as well (repeatable): a nasx "
              "executable, or a plugin folder loaded instead of the default ones")(
      "single", po::value<std::string>()->default_value(""),
      "internal: measure one nasx contender in this process and print its figures")(
      "plugins-from", po::value<std::string>()->default_value(""),
      "internal: load plugins from this folder instead of nasx's own (--against a folder)")(
      "which-space-file", po::bool_switch(),
      "internal: print the file of the space plugin this bench would measure, and end");
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

std::vector<std::string> expand(const std::string& value, const std::string& all,
                                const std::vector<std::string>& every) {
  return value == all ? every : std::vector<std::string>{value};
}

/// Sizes per --what where the command line leaves 0.
void apply_defaults(Setup& s, const std::string& what, const SearchSpace& space) {
  int64_t channels = 8, layers = 5, batch = 64;
  if (what == "train") {
    const TrainingProtocol protocol = space.training_protocol();
    const bool darts = s.space.name == "darts";
    channels = darts ? 16 : protocol.channels;
    layers = darts ? 8 : protocol.layers;
    batch = darts ? 96 : protocol.options.batch_size;
  } else if (what == "naswot") {
    channels = 16;
    layers = 5;
    batch = 128;
  } else if (what == "evaluate" && s.space.name == "ws64") {
    layers = 4;  // configs/ranking-ws64.toml's network: C=8, 4 cells
  }
  if (s.channels == 0) s.channels = channels;
  if (s.layers == 0) s.layers = layers;
  if (s.batch == 0) s.batch = batch;
  s.space.params["channels"] = s.channels;
  s.space.params["layers"] = s.layers;
}

std::string describe(const Setup& s, const std::string& what) {
  std::ostringstream text;
  text << "nasx bench --what " << what << ": space " << s.space.name << ", C=" << s.channels << ", "
       << s.layers << (s.layers == 1 ? " cell" : " cells")
       << (s.space.name == "nb201" ? " per stage" : "") << ", batch " << s.batch << ", "
       << s.shape.channels << "x" << s.shape.height << "x" << s.shape.width << ", "
       << s.shape.classes << " classes, device " << s.device << ", " << s.threads
       << " threads per contender";
  return text.str();
}

/// Which profile a --single run of a contender prints.
enum class Profiled { none, time, memory };

/// This executable (or another `build`) with the invocation's options but --against,
/// --rounds and --single; of the profile options, those of `profiled` only (each profile
/// is a run of its own: the memory profile's bookkeeping would count in the time
/// profile's operators). single_argv adds the contender to measure alone.
Args build_argv(const Args& args, Profiled profiled, const bench::Build& build) {
  const bool executable = !build.path.empty() && !build.plugin_folder;
  Args argv = {executable ? build.path : self_binary(), "bench"};
  const Args passed = without_option(without_option(args, "--single"), "--rounds");
  for (const auto& a : without_option(passed, "--against")) {
    const bool time_option = a == "--profile", memory_option = a == "--profile-memory";
    const bool shapes_option = a == "--profile-shapes";
    if (time_option && profiled != Profiled::time) continue;
    if (memory_option && profiled != Profiled::memory) continue;
    if (shapes_option && profiled == Profiled::none) continue;
    argv.push_back(a);
  }
  // --profile-shapes alone is the time profile; a time run may hold it alone.
  if (profiled == Profiled::time && std::find(args.begin(), args.end(), "--profile") == args.end())
    argv.push_back("--profile");
  if (build.plugin_folder) {
    argv.push_back("--plugins-from");
    argv.push_back(build.path);
  }
  return argv;
}

Args single_argv(const Args& args, const std::string& name, Profiled profiled,
                 const bench::Build& build = {}) {
  Args argv = build_argv(args, profiled, build);
  argv.push_back("--single");
  argv.push_back(name);
  return argv;
}

/// A nasx contender: this executable (or another `build`) with --single NAME, in its
/// own process; its figure is the `seconds_key` it prints (median_s, or mean_s).
Contender nasx_contender(const Args& args, const std::string& label, const std::string& name,
                         const std::string& seconds_key = "median_s",
                         const bench::Build& build = {}) {
  const Args argv = single_argv(args, name, Profiled::none, build);
  std::string what = "nasx " + name + (build.path.empty() ? "" : " on " + build.path);
  if (build.plugin_folder)
    what +=
        " (a plugin folder given to --against replaces nasx's own: it must hold every "
        "plugin this bench needs)";
  Contender contender{
      label, false,
      [argv, what, seconds_key] { return bench::run_measurement(argv, seconds_key, what); }, name};
  contender.seconds_key = seconds_key;
  contender.build = build;
  return contender;
}

/// An --against path: a nasx executable or a folder holding plugins.
bench::Build other_build(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const std::string absolute = fs::absolute(path, error).lexically_normal().string();
  const auto usage = [&](const std::string& what) {
    return ConfigError("bench: --against " + path + ": " + what +
                       "; give another nasx executable (such as an older build's bin/nasx) or "
                       "a folder of plugins (such as a copy of build/lib/nasx/plugins)");
  };
  if (fs::is_directory(absolute, error)) {
    for (const auto& entry : fs::directory_iterator(absolute, error))
      if (entry.path().extension() == ".so") return {absolute, /*plugin_folder=*/true};
    throw usage("a folder without plugins (no .so file in it)");
  }
  if (!fs::exists(absolute, error)) throw usage("no such file or folder");
  if (fs::path(absolute).extension() == ".so")
    throw usage(
        "a plugin file, not a build; put it in a folder (a copy of the plugin folder, "
        "it in place of the newer one) and give the folder");
  if (!fs::is_regular_file(absolute, error) || ::access(absolute.c_str(), X_OK) != 0)
    throw usage("neither a folder nor an executable file");
  return {absolute, /*plugin_folder=*/false};
}

/// How `bench --which-space-file` names its space plugin's file, read back by the build
/// that asked (describe_builds).
constexpr const char* kSpacePluginFileKey = "space_plugin_file=";

/// The tag of --against's k-th build in contender names: "B", "C", ... (this build is A).
std::string build_tag(size_t k) { return std::string(1, static_cast<char>('B' + k)); }

/// With --against, which space plugin file each build measures, as each build itself
/// says (--which-space-file, in a process of its own, with the plugins it will load): a
/// plugin folder that lacks the space, or cannot load it, is refused before anything is
/// measured, and so is an executable that cannot; an older nasx that does not know the
/// option is named as such.
void describe_builds(const Args& args, const Setup& s) {
  if (s.against.empty()) return;
  const std::string prefix = kSpacePluginFileKey;
  const auto file_of = [&](const bench::Build& build) -> std::string {
    Args argv = build_argv(args, Profiled::none, build);
    argv.push_back("--which-space-file");
    const core::CommandOutput run = core::run_and_capture(argv);
    const size_t at = run.output.rfind(prefix);
    if (run.exit_code == 0 && at != std::string::npos)
      return "space '" + s.space.name + "' from " +
             run.output.substr(at + prefix.size(), run.output.find('\n', at) - at - prefix.size());
    const bool older =
        run.output.find("unrecognised option '--which-space-file'") != std::string::npos;
    if (!build.plugin_folder && (older || run.exit_code == 0))
      return "which does not say which space plugin file it loads (an older nasx?)";
    const std::string what =
        build.plugin_folder
            ? ": the folder replaces nasx's own plugins (and $NASX_PLUGIN_PATH's), and it "
              "lacks or cannot load the space plugin '" +
                  s.space.name +
                  "'; copy that plugin's .so (from the build to compare, such as "
                  "its lib/nasx/plugins) into the folder"
            : ": this executable cannot load the space plugin '" + s.space.name + "'";
    throw ConfigError("bench: --against " + build.path + what + ". It said:\n" + run.output);
  };
  std::cout << "[A]: this nasx, space '" << s.space.name << "' from "
            << s.registry->find(NASX_KIND_SPACE, s.space.name).path << "\n";
  for (size_t k = 0; k < s.against.size(); ++k) {
    const bench::Build& build = s.against[k];
    const std::string file = file_of(build);
    std::cout << "[" << build_tag(k) << "]: " << build.path
              << (build.plugin_folder
                      ? " (plugin folder: this nasx with its plugins instead of its own), "
                      : " (nasx executable, with the plugins it loads), ")
              << file << "\n";
  }
}

/// `contenders`, each nasx contender measured on its own (not an overhead row) followed
/// by its twin on every --against build: the same --single run by that build, named
/// "NAME [B]", a reference if the contender is one (of its build), the contender's
/// speed-up over it printed (and [B]'s over [C], ...).
std::vector<Contender> with_other_builds(const std::vector<Contender>& contenders, const Args& args,
                                         const Setup& s) {
  std::vector<Contender> all;
  for (const Contender& c : contenders) {
    if (c.single.empty() || !c.relative_to.empty() || !c.build.path.empty()) {
      all.push_back(c);
      continue;
    }
    Contender self = c;
    std::vector<Contender> twins;
    for (size_t k = 0; k < s.against.size(); ++k) {
      twins.push_back(nasx_contender(args, c.name + " [" + build_tag(k) + "]", c.single,
                                     c.seconds_key, s.against[k]));
      twins.back().reference = c.reference;
      self.speedup_over.push_back(twins.back().name);
    }
    // Each build over the ones named after it too: [B] over [C] says what lies between
    // two older builds, measured in the same rotation.
    for (size_t k = 0; k < twins.size(); ++k)
      for (size_t j = k + 1; j < twins.size(); ++j) twins[k].speedup_over.push_back(twins[j].name);
    all.push_back(self);
    all.insert(all.end(), twins.begin(), twins.end());
  }
  return all;
}

void note(const std::string& text) { std::cout << "(" << text << ")\n"; }

/// The profile of nasx contender `c` (its own run): its output, the table cut to
/// --profile-rows; `every_operator` asks for all of them, for read_printed_profile.
std::string profile_output(const Args& args, const Setup& s, const Contender& c, Profiled profiled,
                           bool every_operator) {
  Args argv = single_argv(args, c.single, profiled, c.build);
  if (!every_operator) return core::run_and_capture(argv).output;
  argv = without_option(argv, "--profile-rows");
  argv.insert(argv.end() - 2, {"--profile-rows", "1000000"});  // before --single NAME
  return core::run_and_capture(argv).output;
}

/// For each contender set against another (its twin on another build, or a later build
/// against an earlier one), the change per operator between their profiles of `kind`
/// (`profiles`, by contender name, each the median of `rounds`).
void print_profile_changes(const std::vector<Contender>& contenders,
                           const std::map<std::string, bench::PrintedProfile>& profiles,
                           const Setup& s, int rounds, bench::ProfileKind kind) {
  for (const Contender& c : contenders)
    for (const std::string& twin : c.speedup_over) {
      const auto after = profiles.find(c.name), before = profiles.find(twin);
      if (after == profiles.end() || before == profiles.end()) continue;
      if (!after->second.found || !before->second.found) {
        note((before->second.found ? c.name : twin) + " printed no " + bench::kind_name(kind) +
             " profile: the two are not compared");
        continue;
      }
      bench::print_profile_change(std::cout, twin, before->second, c.name, after->second,
                                  s.profile_rows, rounds, kind);
    }
}

/// Each measured nasx contender's profile of `kind`, `rounds` times, the contenders
/// alternating as in the timing (each round starting one later); the first of each is
/// printed. With --against (`compared`) every operator is asked for and read back, the
/// print cut to --profile-rows, and the change from each twin printed, median against
/// median.
void profile_and_compare(const Args& args, const Setup& s, const std::vector<Contender>& contenders,
                         bench::ProfileKind kind, int rounds) {
  std::vector<const Contender*> measured;
  for (const Contender& c : contenders)
    if (!c.single.empty()) measured.push_back(&c);
  const bool compared = !s.against.empty();
  const Profiled profiled = kind == bench::ProfileKind::time ? Profiled::time : Profiled::memory;
  std::map<std::string, std::vector<bench::PrintedProfile>> taken;  // by contender
  for (int round = 0; round < rounds; ++round)
    for (size_t k = 0; k < measured.size(); ++k) {
      const Contender& c = *measured[(k + static_cast<size_t>(round)) % measured.size()];
      const std::string output = profile_output(args, s, c, profiled, compared);
      if (compared) taken[c.name].push_back(bench::read_printed_profile(output, kind));
      if (round > 0) continue;
      std::cout << "\n"
                << c.name << " (" << c.single << "), "
                << (kind == bench::ProfileKind::time ? "profiled" : "memory profiled");
      if (rounds > 1) std::cout << " (the first of " << rounds << ")";
      std::cout << ":"
                << (compared ? bench::cut_printed_profile(output, s.profile_rows, kind) : output)
                << std::flush;
    }
  std::map<std::string, bench::PrintedProfile> medians;
  for (const auto& [name, profiles] : taken) medians[name] = bench::median_profile(profiles);
  print_profile_changes(contenders, medians, s, rounds, kind);
  std::cout << std::flush;
}

/// With --profile / --profile-memory: each nasx contender once more per profile, printing
/// where its time goes, then where its memory goes. With --against, each contender's
/// profiles are set against each twin's, operator by operator: what a change bought. The
/// time profiles are taken --rounds times and their medians compared (one profile alone
/// moves too much: the same convolutions took up to 1.4x as long in one run as in the
/// next on a 2-core machine); the memory profile once each (the same code allocates the
/// same tensors: a test checks it).
void print_profiles(const Args& args, const Setup& s, const std::vector<Contender>& contenders) {
  if (s.profile)
    profile_and_compare(args, s, contenders, bench::ProfileKind::time,
                        s.against.empty() ? 1 : s.rounds);
  if (s.profile_memory) profile_and_compare(args, s, contenders, bench::ProfileKind::memory, 1);
}

/// The baseline script's size arguments for this setup.
std::vector<std::string> reference_sizes(const Setup& s) {
  return {"--C",     std::to_string(s.channels),       "--layers",  std::to_string(s.layers),
          "--batch", std::to_string(s.batch),          "--size",    std::to_string(s.shape.height),
          "--in-ch", std::to_string(s.shape.channels), "--threads", std::to_string(s.threads),
          "--steps", std::to_string(s.steps)};
}

/// `script`'s contender in both memory layouts.
std::vector<Contender> reference_pair(const Setup& s, const std::string& script,
                                      std::vector<std::string> args) {
  std::vector<Contender> pair;
  for (const bool channels_last : {false, true}) {
    std::vector<std::string> a = args;
    if (channels_last) a.push_back("--channels-last");
    pair.push_back({std::string("reference ") + (channels_last ? "channels-last" : "contiguous"),
                    true, [s, script, a] { return bench::run_baseline(s, script, a, "median_s"); },
                    ""});
  }
  return pair;
}

/// An NB-201 baseline: nasx's script `name` (share/nasx beside bin/nasx, in the build tree
/// as installed) running the reference's code from the baseline folder (each of `needs`
/// under it), with `args` and the sizes, in both memory layouts.
std::vector<Contender> nb201_reference(const Setup& s, const std::string& name,
                                       const std::vector<std::string>& needs,
                                       const std::vector<std::string>& args) {
  const std::filesystem::path script =
      std::filesystem::path(self_binary()).parent_path().parent_path() / "share" / "nasx" / name;
  if (!std::filesystem::exists(script))
    throw Error("bench: no " + script.string() +
                " (it is built and installed with nasx; "
                "rebuild or reinstall)");
  // Said before anything is measured, not after nasx's first round.
  for (const std::string& need : needs) {
    const std::filesystem::path path = std::filesystem::path(s.baseline_dir) / need;
    if (!std::filesystem::exists(path))
      throw ConfigError("bench: no " + path.string() +
                        " (--baseline names the folder holding the references: ref-naswot/, "
                        "the NASWOT reference with NB-201's TinyNetwork and operations, and "
                        "ref-darts/, the DARTS reference's architect)");
  }
  std::vector<std::string> argv = {s.python,      script.string(),
                                   "--reference", s.baseline_dir,
                                   "--classes",   std::to_string(s.shape.classes),
                                   "--warmup",    std::to_string(s.warmup),
                                   "--device",    s.device.str()};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::vector<std::string> sizes = reference_sizes(s);
  argv.insert(argv.end(), sizes.begin(), sizes.end());
  std::vector<Contender> pair;
  for (const bool channels_last : {false, true}) {
    std::vector<std::string> a = argv;
    if (channels_last) a.push_back("--channels-last");
    pair.push_back(
        {std::string("reference ") + (channels_last ? "channels-last" : "contiguous"), true,
         [a, name] { return bench::run_measurement(a, "median_s", "the baseline " + name); }, ""});
  }
  return pair;
}

int bench_step(const Args& args, const Setup& s, const std::string& order_option,
               const std::string& format_option) {
  const auto orders = expand(order_option, "all", {"first", "second", "mixed"});
  const auto formats = expand(format_option, "both", {"channels_last", "contiguous"});
  for (const auto& format : formats)
    if (format != "contiguous" && format != "channels_last")
      throw ConfigError("bench: --memory-format must be channels_last, contiguous or both");
  for (const auto& order : orders) {
    std::vector<Contender> contenders;
    for (const auto& format : formats)
      contenders.push_back(nasx_contender(args, "nasx " + format, "step:" + order + ":" + format));
    if (s.cuda_graph)
      for (const auto& format : formats)
        contenders.push_back(nasx_contender(args, "nasx " + format + " graph",
                                            "step:" + order + ":" + format + ":graph"));
    const bool reference = !s.baseline_dir.empty() && order != "mixed" &&
                           (s.space.name == "darts" || s.space.name == "nb201");
    if (reference && s.space.name == "nb201") {
      const std::vector<std::string> a = {"--order", order == "first" ? "1" : "2"};
      for (auto& c :
           nb201_reference(s, "ref_nb201_search_step.py",
                           {"ref-naswot/models/cell_operations.py", "ref-darts/architect.py"}, a))
        contenders.push_back(c);
    } else if (reference) {
      std::vector<std::string> a = reference_sizes(s);
      const std::vector<std::string> extra = {"--order",   order == "first" ? "1" : "2",
                                              "--classes", std::to_string(s.shape.classes),
                                              "--device",  s.device.str()};
      a.insert(a.end(), extra.begin(), extra.end());
      for (auto& c : reference_pair(s, "ref_darts_step.py", a)) contenders.push_back(c);
    }
    contenders = with_other_builds(contenders, args, s);
    bench::compare("search step, " + order + " order", contenders, s, "s/step");
    print_profiles(args, s, contenders);
    if (!s.baseline_dir.empty() && !reference)
      note(order == "mixed" ? "the DARTS reference has no mixed-level step"
                            : "the reference search step exists for the darts and nb201 "
                              "spaces");
  }
  return 0;
}

int bench_train(const Args& args, const Setup& s, const Workload& work) {
  // The epoch's figure is a mean (its time over its steps), so it is set against the
  // steps' mean, not their median: the slow steps count in both.
  Contender steps_mean = nasx_contender(args, "nasx steps, mean", "train-step", "mean_s");
  steps_mean.single.clear();  // profiled as "nasx step"
  Contender epoch = nasx_contender(args, "nasx epoch, per step", "train-epoch");
  epoch.relative_to = steps_mean.name;
  std::vector<Contender> contenders = {nasx_contender(args, "nasx step", "train-step"),
                                       std::move(steps_mean), std::move(epoch)};
  if (work.both_precisions) {
    Contender bfloat16 = nasx_contender(args, "nasx step bfloat16", "train-step:bfloat16");
    bfloat16.relative_to = "nasx step";
    contenders.push_back(std::move(bfloat16));
  }
  const auto space = core::make_space(*s.registry, s.space);
  const bool v2 = s.space.name == "darts" && space->format(space->parse(work.archs.at(0))) ==
                                                 space->format(space->parse(kDartsV2));
  const bool nb201 = s.space.name == "nb201";
  // The DARTS reference's training script (ref_train_step.py) runs on the CPU only.
  const bool reference = !s.baseline_dir.empty() && (nb201 || (v2 && s.device.is_cpu()));
  if (reference && nb201) {
    for (auto& c : nb201_reference(s, "ref_nb201_train_step.py", {"ref-naswot/models/cell_infers"},
                                   {"--arch", space->format(space->parse(work.archs.at(0)))}))
      contenders.push_back(c);
  } else if (reference) {
    std::vector<std::string> a = reference_sizes(s);
    a.push_back("--drop-path");
    a.push_back(std::to_string(work.drop_path));
    for (auto& c : reference_pair(s, "ref_train_step.py", a)) contenders.push_back(c);
  }
  std::cout << "network: " << work.archs.at(0) << "\n";
  if (work.precision != ConvolutionPrecision::float32 || work.both_precisions)
    std::cout << "precision: nasx's ReLU-conv-BN convolutions in "
              << (work.both_precisions ? "float32, and in bfloat16 in 'nasx step bfloat16'"
                                       : precision_name(work.precision))
              << " (the references in float32)\n";
  contenders = with_other_builds(contenders, args, s);
  bench::compare("training step of the evaluation network", contenders, s, "s/step");
  print_profiles(args, s, contenders);
  note("epoch: the trainer's loop over " + std::to_string(s.steps) +
       " minibatches with loading, crops, flips and cutout, per step; step: forward, loss, "
       "backward and SGD alone (median of the steps; steps, mean: their mean, which the "
       "epoch's time per step compares with)");
  if (!s.baseline_dir.empty() && !reference)
    note(
        "the reference training step is DARTS_V2 on the darts space (on the CPU) or any cell "
        "of nb201 (TinyNetwork)");
  return 0;
}

/// The children --what evaluate measures without --arch: every one of a space of at most
/// 64 (ws64, the ranking analysis's), else 16 sampled.
std::vector<std::string> evaluation_children(const SearchSpace& space, std::mt19937_64& rng) {
  constexpr int64_t kAll = 64, kSampled = 16;
  std::vector<std::string> children;
  if (count_architectures(space) <= kAll) {
    for (const auto& arch : enumerate_architectures(space, kAll))
      children.push_back(space.format(arch));
    return children;
  }
  for (int64_t i = 0; i < kSampled; ++i) children.push_back(space.format(space.sample(rng)));
  return children;
}

int bench_evaluate(const Args& args, const Setup& s, const Workload& work) {
  std::vector<Contender> contenders = {nasx_contender(args, "nasx together", "evaluate:paths"),
                                       nasx_contender(args, "nasx one by one", "evaluate:path"),
                                       nasx_contender(args, "nasx one-hot", "evaluate:onehot")};
  contenders[1].reference = true;  // the straightforward way is this bench's baseline
  std::cout << "children: " << work.archs.size()
            << " (each contender's; the one-hot mixture times warm-up + steps of them in turn)\n";
  contenders = with_other_builds(contenders, args, s);
  bench::compare("evaluation of children on the shared weights (4 minibatches each)", contenders, s,
                 "s/child");
  print_profiles(args, s, contenders);
  note(
      "together: evaluate_paths, one pass over the data for all the children, the work "
      "they share (the stem, the first cell's edges on the same input) done once, the same "
      "figures bit for bit; one by one: evaluate_path, the single path of each in turn; "
      "one-hot: the supernet's mixture with one-hot weights, one child per unit");
  return 0;
}

int bench_naswot(const Args& args, const Setup& s, const Workload& work) {
  std::vector<Contender> contenders = {nasx_contender(args, "nasx", "naswot")};
  const bool reference = !s.baseline_dir.empty() && s.space.name == "nb201" && s.channels == 16 &&
                         s.layers == 5 && s.device.is_cpu();
  if (reference) {
    std::vector<std::string> a = {
        "--batch", std::to_string(s.batch),          "--size",    std::to_string(s.shape.height),
        "--in-ch", std::to_string(s.shape.channels), "--threads", std::to_string(s.threads)};
    for (const auto& arch : work.archs) {
      a.push_back("--arch");
      a.push_back(arch);
    }
    contenders.push_back(
        {"reference", true,
         [s, a] { return bench::run_baseline(s, "ref_naswot_score.py", a, "median_s"); }, ""});
  }
  std::cout << "architectures: " << work.archs.size() << " (the same for every contender)\n";
  contenders = with_other_builds(contenders, args, s);
  bench::compare("NASWOT: build and score one network", contenders, s, "s/arch");
  print_profiles(args, s, contenders);
  if (!s.baseline_dir.empty() && !reference)
    note("the NASWOT reference scores NB201 networks at C=16, N=5 on CPU");
  return 0;
}

/// Data-parallel contenders (--nproc): per order x format, each rank count (and with
/// --sync-batchnorm each count > 1 with and without it), alternated round after round.
/// A contender is `bench --single ... --nproc N` in its own process, which starts the
/// ranks; rank 0 prints the figures. References: one rank, and the unsynchronized
/// step of a rank count when --sync-batchnorm asks what synchronizing costs.
int bench_data_parallel(const Args& args, const Setup& s, const std::vector<int>& rank_counts,
                        const std::string& order_option, const std::string& format_option,
                        bool sync_batchnorm) {
  const Args base = without_option(args, "--nproc");
  Args unsynced;
  for (const auto& a : base)
    if (a != "--sync-batchnorm") unsynced.push_back(a);
  for (const auto& order : expand(order_option, "all", {"first", "second", "mixed"}))
    for (const auto& format : expand(format_option, "both", {"channels_last", "contiguous"})) {
      std::vector<Contender> contenders;
      for (const int n : rank_counts)
        for (const bool sync : {false, true}) {
          if (sync && (!sync_batchnorm || n == 1)) continue;
          Args argv = single_argv(unsynced, "step:" + order + ":" + format, Profiled::none);
          argv.push_back("--nproc");
          argv.push_back(std::to_string(n));
          if (sync) argv.push_back("--sync-batchnorm");
          const std::string name =
              std::to_string(n) + (n == 1 ? " rank" : " ranks") + (sync ? ", sync BN" : "");
          contenders.push_back(
              {name, n == 1 || (sync_batchnorm && !sync),
               [argv, name] { return bench::run_measurement(argv, "median_s", name); }, ""});
        }
      bench::compare("data-parallel search step, " + order + " order, " + format, contenders, s,
                     "s/step");
    }
  note("the batch is split over the ranks, the cores too (" + std::to_string(s.threads) +
       " threads for one rank, a share each for more, unless --threads); peak MB is rank 0's; "
       "small all-reduces go through shared memory (NASX_SHARED_MEMORY=0: all over Gloo)");
  return 0;
}

/// One data-parallel contender (--single with --nproc N): the launcher starts the ranks;
/// each rank measures in step with the others, and rank 0 prints the figures.
int bench_single_data_parallel(const Args& args, const Setup& s,
                               const std::optional<core::RankSetup>& rank_setup, int nproc,
                               bool sync_batchnorm, const std::string& single) {
  if (!rank_setup) {
    Args rank_args = {"bench"};
    for (const auto& a : without_option(args, "--nproc")) rank_args.push_back(a);
    return core::launch_local_ranks(nproc, self_binary(), rank_args);
  }
  core::ProcessGroup ranks(*rank_setup);
  core::DataParallelScope data_parallel(&ranks, sync_batchnorm);
  const Timing t = bench::measure_nasx(s, single, Workload{});
  if (ranks.rank() == 0)
    std::cout << bench::figures_line(t, s.device) << " transport=\"" << ranks.transport() << "\"\n";
  return 0;
}

}  // namespace

int bench_command(const Args& args) {
  po::options_description options = bench_options();
  po::variables_map vm;
  if (!parse_args(args, kUsage, options, {}, vm)) return 0;
  const std::string what = vm["what"].as<std::string>();
  if (what != "step" && what != "train" && what != "evaluate" && what != "naswot")
    throw ConfigError("bench: --what must be step, train, evaluate or naswot, not '" + what + "'");
  core::PluginRegistry registry;
  load_plugins(registry, vm, vm["plugins-from"].as<std::string>());
  Setup s;
  s.registry = &registry;
  s.space.name = vm["space"].as<std::string>();
  if (s.space.name.empty()) s.space.name = what == "naswot" ? "nb201" : "darts";
  if (vm["which-space-file"].as<bool>()) {  // another build's bench asks (--against)
    const std::string file = registry.find(NASX_KIND_SPACE, s.space.name).path;  // may throw
    std::cout << kSpacePluginFileKey << file << "\n";
    return 0;
  }
  s.channels = vm["channels"].as<int64_t>();
  s.layers = vm["layers"].as<int64_t>();
  s.batch = vm["batch"].as<int64_t>();
  s.shape = DataShape{vm["in-channels"].as<int64_t>(), vm["image-size"].as<int64_t>(),
                      vm["image-size"].as<int64_t>(), vm["classes"].as<int64_t>()};
  s.steps = vm["steps"].as<int64_t>();
  s.warmup = vm["warmup"].as<int64_t>();
  s.rounds = vm["rounds"].as<int>();
  s.baseline_dir = vm["baseline"].as<std::string>();
  s.python = vm["python"].as<std::string>();
  s.profile_shapes = vm["profile-shapes"].as<bool>();
  s.profile_memory = vm["profile-memory"].as<bool>();
  // --profile-shapes splits whichever profile is asked for; alone, the time profile.
  s.profile = vm["profile"].as<bool>() || (s.profile_shapes && !s.profile_memory);
  s.profile_rows = vm["profile-rows"].as<int>();
  if (s.profile_rows < 1) throw ConfigError("bench: --profile-rows must be at least 1");
  if (s.batch < 0 || s.steps < 1 || s.warmup < 0 || s.rounds < 1)
    throw ConfigError("bench: --batch, --steps and --rounds must be positive, --warmup >= 0");
  s.device = c10::Device(vm["device"].as<std::string>());
  if (s.device.is_cuda() && !at::hasCUDA())
    throw ConfigError("bench: no CUDA device in this LibTorch build");
  s.cuda_graph = vm["cuda-graph"].as<bool>();
  if (s.cuda_graph && (what != "step" || !s.device.is_cuda()))
    throw ConfigError(
        "bench: --cuda-graph captures the search step on a GPU: use it with "
        "--what step --device cuda");
  if (s.cuda_graph && !core::cuda_graphs_available())
    throw ConfigError(
        "bench: --cuda-graph: this nasx is built without CUDA graphs (a CPU-only "
        "LibTorch, or -DNASX_CUDA_GRAPHS=OFF)");
  if (s.cuda_graph && vm.count("against"))
    throw ConfigError("bench: --cuda-graph measures this build alone: leave --against out");
  // The reference DARTS code searches for cuDNN's fastest algorithms; so does nasx here.
  if (s.device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  if (s.profile_memory && !s.device.is_cpu())
    throw ConfigError("bench: --profile-memory records LibTorch's CPU allocator only; on " +
                      s.device.str() +
                      " leave it out (the figures' peak_cuda_mib is the "
                      "caching allocator's peak)");
  if (vm.count("against"))
    for (const std::string& build : vm["against"].as<std::vector<std::string>>())
      s.against.push_back(other_build(build));
  apply_defaults(s, what, *core::make_space(registry, s.space));

  // Threads: every contender gets the same number, the baselines included.
  // A rank of a data-parallel bench (started by the --nproc launch below) has its setup.
  const std::optional<core::RankSetup> rank_setup = core::ranks_from_environment();
  const std::vector<int> rank_counts = rank_counts_of(vm["nproc"].as<std::string>(), s.batch);
  const bool data_parallel =
      rank_setup.has_value() ||
      std::any_of(rank_counts.begin(), rank_counts.end(), [](int n) { return n > 1; });
  const int world = rank_setup ? rank_setup->world_size : 1;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = vm["threads"].as<int>();
  s.threads = threads > 0 ? threads : std::max(1, cores / world);
  at::set_num_threads(s.threads);

  Workload work;
  work.drop_path = vm["drop-path"].as<double>();
  if (!(work.drop_path >= 0 && work.drop_path <= 0.95)) {  // what [train] drop_path_prob takes
    std::ostringstream text;
    text << "bench: --drop-path must be in [0, 0.95], not " << work.drop_path;
    throw ConfigError(text.str());
  }
  const std::string precision = vm["precision"].as<std::string>();
  if (precision != "float32" && precision != "bfloat16" && precision != "both")
    throw ConfigError("bench: --precision must be float32, bfloat16 or both, not '" + precision +
                      "'");
  work.precision =
      precision == "bfloat16" ? ConvolutionPrecision::bfloat16 : ConvolutionPrecision::float32;
  work.both_precisions = precision == "both";
  if (precision != "float32" && what != "train")
    throw ConfigError("bench: --precision applies to --what train");
  // Another executable is measured with this invocation's options: an older nasx knows
  // neither --precision nor the bfloat16 contender. A plugin folder runs this nasx.
  for (const bench::Build& build : s.against)
    if (precision != "float32" && !build.plugin_folder)
      throw ConfigError("bench: --precision " + precision + " with --against " + build.path +
                        ": another nasx executable may not know it; give --against a folder "
                        "of plugins (a copy of build/lib/nasx/plugins), or leave --precision out");
  if (vm.count("arch")) work.archs = vm["arch"].as<std::vector<std::string>>();
  const auto space = core::make_space(registry, s.space);
  for (const auto& arch : work.archs) space->parse(arch);  // a bad one fails here, named
  if (work.archs.empty()) {
    std::mt19937_64 rng(0);
    if (what == "train")
      work.archs = {s.space.name == "darts" ? std::string(kDartsV2)
                                            : space->format(space->sample(rng))};
    else if (what == "naswot")
      for (int64_t i = 0; i < s.steps; ++i) work.archs.push_back(space->format(space->sample(rng)));
    else if (what == "evaluate")
      work.archs = evaluation_children(*space, rng);
  }

  const std::string single = vm["single"].as<std::string>();
  const bool sync = vm["sync-batchnorm"].as<bool>();
  if (data_parallel && what != "step")
    throw ConfigError("bench: --nproc measures --what step only");
  if (data_parallel && !s.against.empty())
    throw ConfigError("bench: --against measures one-process contenders; leave out --nproc");
  if (!single.empty() && data_parallel)
    return bench_single_data_parallel(args, s, rank_setup, rank_counts.back(), sync, single);
  if (!single.empty()) {
    // One contender, in this process: the figures on one line for the parent bench.
    std::cout << bench::figures_line(bench::measure_nasx(s, single, work), s.device) << "\n";
    return 0;
  }
  const std::string order = vm["order"].as<std::string>(),
                    format = vm["memory-format"].as<std::string>();
  if (data_parallel) {
    std::cout << describe(s, what) << "\n";
    return bench_data_parallel(args, s, rank_counts, order, format, sync);
  }
  std::cout << describe(s, what) << "\n";
  describe_builds(args, s);
  if (s.warmup == 0)
    note(
        "--warmup 0: each measurement's first unit also pays for what is done once (memory "
        "first touched, kernels chosen), so its figures and ratios move widely");
  if (what == "step") return bench_step(args, s, order, format);
  if (what == "train") return bench_train(args, s, work);
  if (what == "evaluate") return bench_evaluate(args, s, work);
  return bench_naswot(args, s, work);
}

}  // namespace nasx::cli
