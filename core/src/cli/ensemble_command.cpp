// nasx ensemble: an ensemble of sub-architectures from a finished search, pruned by
// each pruner plugin (SAEP and baselines), with validation and test accuracy before
// and after.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>
#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/pruning_schedule.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/core/run_support.hpp"
#include "nasx/core/trainer.hpp"
#include "nasx/core/training.hpp"
#include "nasx/ensemble.hpp"
#include "nasx/error.hpp"
#include "nasx/precision.hpp"
#include "nasx/space.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace nasx::cli {

namespace {

const char* const kUsage =
    R"(usage: nasx ensemble RUN_DIR [--members N] [--pruners a,b,...] [--schedule online|offline]
                     [--target N] [--tolerance X] [--set key=value]...

Builds an ensemble from a finished search: its N best evaluated architectures
(evaluations.jsonl), each trained from scratch with the run's [train] settings (or the
space's protocol; override with --set train.epochs=...) on the training split, its
class probabilities on the validation (search) split and the test split stored in
RUN_DIR/ensemble/. Then every pruner decides on the validation predictions; the table
gives each pruner's kept members and the soft vote's accuracy before and after.
Members already trained are reused, so an interrupted ensemble continues.)";

/// The distinct architectures of evaluations.jsonl, best first (ties: first measured).
std::vector<std::string> best_evaluated(const fs::path& log, int64_t count) {
  std::ifstream in(log);
  if (!in)
    throw IoError(log.string() +
                  " not found: the ensemble is built from a sampling search's "
                  "evaluations (random, evolution, area, naswot, ...)");
  std::vector<std::pair<std::string, double>> seen;
  for (std::string line; std::getline(in, line);) {
    const Json record = core::parse_json_or_empty(line);
    const auto text = core::string_member(record, "arch");
    auto value = core::number_member(record, "accuracy");
    if (!value) value = core::number_member(record, "score");
    if (!text || !value) continue;  // a failed measurement (null) or a half-written line
    if (std::none_of(seen.begin(), seen.end(), [&](const auto& s) { return s.first == *text; }))
      seen.push_back({*text, *value});
  }
  std::stable_sort(seen.begin(), seen.end(),
                   [](const auto& x, const auto& y) { return x.second > y.second; });
  std::vector<std::string> best;
  for (const auto& [text, accuracy] : seen) {
    if (static_cast<int64_t>(best.size()) == count) break;
    best.push_back(text);
  }
  return best;
}

at::Tensor probabilities(Network& net, const TensorDataset& data, int64_t batch_size) {
  net.eval();
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t n = std::min(batch_size, data.size() - start);
    parts.push_back(
        at::softmax(net.forward(data.images.narrow(0, start, n)), 1).to(at::kCPU, at::kDouble));
  }
  return at::cat(parts);
}

double accuracy_of(const at::Tensor& probs, const at::Tensor& labels,
                   const std::vector<int64_t>& members) {
  return 1.0 - soft_vote_error(probs, labels, members);
}

std::string list(const std::vector<int64_t>& members) {
  std::string out;
  for (int64_t m : members) out += (out.empty() ? "" : ",") + std::to_string(m);
  return out;
}

}  // namespace

namespace {

/// Every pruner found and set up with its defaults, before any training starts.
std::vector<std::unique_ptr<EnsemblePruner>> load_pruners(const core::PluginRegistry& registry,
                                                          const std::vector<std::string>& names) {
  std::vector<std::unique_ptr<EnsemblePruner>> pruners;
  for (const auto& name : names) {
    const auto& info = registry.find(NASX_KIND_PRUNER, name);
    auto pruner = core::create_plugin<EnsemblePruner>(registry, info);
    ParamValues params;
    for (const auto& spec : info.schema.specs()) params[spec.name] = spec.default_value;
    pruner->setup(params);
    pruners.push_back(std::move(pruner));
  }
  return pruners;
}

/// What the ensemble is built from: the data, the space and how members are trained.
struct MemberTraining {
  const SearchSpace& space;
  const DataSplits& data;
  const core::TrainSection& train;
  c10::Device device;
  uint64_t seed;
};

/// Member `i`'s validation and test probabilities: trained now, or read back from
/// `file` when an earlier (interrupted) ensemble left them.
std::pair<at::Tensor, at::Tensor> member_predictions(const MemberTraining& m, int64_t i,
                                                     int64_t members, const std::string& text,
                                                     const fs::path& file) {
  at::Tensor valid, test;
  if (fs::exists(file)) {
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(file.string());
      archive.read("valid", valid);
      archive.read("test", test);
      std::cout << "member " << i + 1 << "/" << members << ": reused " << file.string() << "\n";
      return {valid, test};
    } catch (const std::exception&) {
      // A cache, written atomically: damaged only by hand. Training it again is exact.
      std::cout << "member " << i + 1 << "/" << members << ": " << file.string()
                << " is damaged; training the member again\n";
    }
  }
  const ConvolutionPrecisionScope precision(m.train.precision);
  at::manual_seed(derive_seed(m.seed, 0xe5e0 + static_cast<uint64_t>(i)));
  auto net =
      m.space.build_network(m.space.parse(text), m.data.shape, m.train.channels, m.train.layers);
  net->to(m.device);
  core::Trainer trainer(*net, m.data.train, m.train.options,
                        derive_seed(m.seed, 0xe5e1 + static_cast<uint64_t>(i)));
  while (trainer.next_epoch() < trainer.epochs()) trainer.run_epoch();
  valid = probabilities(*net, m.data.search, m.train.options.batch_size);
  test = probabilities(*net, m.data.test, m.train.options.batch_size);
  torch::serialize::OutputArchive archive;
  archive.write("valid", valid);
  archive.write("test", test);
  core::save_archive_atomically(archive, file);
  std::cout << "member " << i + 1 << "/" << members << ": " << text << "  valid "
            << accuracy_of(valid.unsqueeze(0), m.data.search.labels.cpu(), {}) << "  test "
            << accuracy_of(test.unsqueeze(0), m.data.test.labels.cpu(), {}) << std::endl;
  return {valid, test};
}

/// How the kept members are chosen and judged.
struct PruningRun {
  std::string schedule;
  int64_t target = 0;
  double tolerance = 0;
  uint64_t seed = 0;
};

/// Every pruner on the pool: its kept members and their soft vote's accuracy, as a
/// table for the terminal and records for summary.json.
Json apply_pruners(const PruningRun& run, const std::vector<std::string>& names,
                   std::vector<std::unique_ptr<EnsemblePruner>>& pruners, const EnsemblePool& pool,
                   const at::Tensor& test_all, const at::Tensor& test_labels,
                   std::ostringstream& table) {
  Json results = Json::array();
  for (size_t p = 0; p < pruners.size(); ++p) {
    std::mt19937_64 rng(derive_seed(run.seed, 0x5ae9 + p));
    EnsemblePruner& pruner = *pruners[p];
    const core::PruneStep step = [&](const EnsemblePool& sub, std::mt19937_64& r) {
      return pruner.prune(sub, r);
    };
    const std::vector<int64_t> kept =
        pruner.one_shot() ? pruner.prune(pool, rng)
        : run.schedule == "online"
            ? core::prune_online(pool, step, rng)
            : core::prune_offline(pool, step, run.target, run.tolerance, rng);
    const double valid_after = accuracy_of(pool.probabilities, pool.labels, kept);
    const double test_after = accuracy_of(test_all, test_labels, kept);
    table << std::left << std::setw(10) << names[p] << std::setw(6) << kept.size() << std::setw(26)
          << list(kept) << std::right << std::setw(12) << valid_after << std::setw(12) << test_after
          << "\n";
    results.push_back(core::JsonObject()
                          .add("pruner", names[p])
                          .add("kept", kept)
                          .add("valid_acc", valid_after)
                          .add("test_acc", test_after)
                          .json());
  }
  return results;
}

/// The table's header and its first row, the whole pool.
void table_header(std::ostringstream& table, int64_t members, double valid, double test) {
  table << std::left << std::setw(10) << "pruner" << std::setw(6) << "kept" << std::setw(26)
        << "members" << std::right << std::setw(12) << "valid acc" << std::setw(12) << "test acc"
        << "\n"
        << std::left << std::setw(10) << "(all)" << std::setw(6) << members << std::setw(26) << ""
        << std::right << std::fixed << std::setprecision(4) << std::setw(12) << valid
        << std::setw(12) << test << "\n";
}

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> names;
  std::stringstream split(text);
  for (std::string name; std::getline(split, name, ',');)
    if (!name.empty()) names.push_back(name);
  return names;
}

}  // namespace

int ensemble_command(const Args& args) {
  po::options_description options("options");
  options.add_options()("run-dir", po::value<std::string>(), "a finished search run")(
      "members", po::value<int64_t>()->default_value(8), "pool size: the N best evaluated")(
      "pruners", po::value<std::string>()->default_value("keep_all,top_k,prs,pap,pie"),
      "pruner plugins, comma-separated")(
      "schedule", po::value<std::string>()->default_value("online"),
      "online (members arrive in rank order, SAEP's) or offline (repeat on the whole pool)")(
      "target", po::value<int64_t>()->default_value(0), "offline: stop at this size (0: none)")(
      "tolerance", po::value<double>()->default_value(0.0),
      "offline: stop before the validation error rises more than this")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a run config value, e.g. --set train.epochs=3");
  add_plugin_path_option(options);
  po::variables_map vm;
  if (!parse_args(args, kUsage, options, {"run-dir"}, vm)) return 0;
  core::PluginRegistry registry;
  load_plugins(registry, vm);
  const fs::path run_dir = vm["run-dir"].as<std::string>();
  const int64_t members = vm["members"].as<int64_t>();
  const PruningRun run{vm["schedule"].as<std::string>(), vm["target"].as<int64_t>(),
                       vm["tolerance"].as<double>(), 0};
  if (run.schedule != "online" && run.schedule != "offline")
    throw ConfigError("--schedule must be online or offline, not '" + run.schedule + "'");
  if (members < 2) throw ConfigError("--members must be at least 2");
  const std::vector<std::string> pruner_names = split_names(vm["pruners"].as<std::string>());
  auto pruners = load_pruners(registry, pruner_names);

  const auto overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const core::RunConfig config = core::load_run_config((run_dir / "config.toml").string(),
                                                       overrides, registry, core::ConfigUse::train);
  const std::vector<std::string> archs = best_evaluated(run_dir / "evaluations.jsonl", members);
  if (static_cast<int64_t>(archs.size()) < members)
    throw ConfigError("the run evaluated " + std::to_string(archs.size()) +
                      " distinct architectures, fewer than --members " + std::to_string(members));

  const c10::Device device = core::parse_device(config.experiment.device);
  core::set_threads(config.experiment.threads);
  const uint64_t seed = static_cast<uint64_t>(config.experiment.seed);
  const auto space = core::make_space(registry, config.space);
  const DataSplits data = core::to_device(core::load_data(config.data, seed), device);
  const core::TrainSection train = core::resolved_train_section(config);
  const fs::path dir = run_dir / "ensemble";
  fs::create_directories(dir);

  const MemberTraining training{*space, data, train, device, seed};
  std::vector<at::Tensor> valid_probs, test_probs;
  for (int64_t i = 0; i < members; ++i) {
    const auto [valid, test] =
        member_predictions(training, i, members, archs[static_cast<size_t>(i)],
                           dir / ("member_" + std::to_string(i) + ".pt"));
    valid_probs.push_back(valid);
    test_probs.push_back(test);
  }
  const EnsemblePool pool{at::stack(valid_probs), data.search.labels.cpu()};
  const at::Tensor test_all = at::stack(test_probs), test_labels = data.test.labels.cpu();
  const double valid_before = accuracy_of(pool.probabilities, pool.labels, {});
  const double test_before = accuracy_of(test_all, test_labels, {});

  std::ostringstream table;
  table_header(table, members, valid_before, test_before);
  PruningRun seeded = run;
  seeded.seed = seed;
  const Json results =
      apply_pruners(seeded, pruner_names, pruners, pool, test_all, test_labels, table);
  core::write_file_atomically(dir / "summary.json", core::JsonObject()
                                                            .add("schedule", run.schedule)
                                                            .add("members", archs)
                                                            .add("valid_acc", valid_before)
                                                            .add("test_acc", test_before)
                                                            .add("pruners", results)
                                                            .str() +
                                                        "\n");
  std::cout << "\nschedule " << run.schedule << "; soft vote of the kept members\n\n"
            << table.str() << "\nensemble folder: " << dir.string() << "\n";
  return 0;
}

}  // namespace nasx::cli
