#pragma once
/// Sweeps: one base experiment, axes over its config keys and seeds, expanded into
/// trials; each trial is a full run folder under <output_dir>/<sweep name>/<trial>/.
///
///   [sweep]
///   name = "strategies"          # the folder under output_dir
///   base = "quickstart.toml"     # relative to the sweep file; or a [base] table inline
///   seeds = [0, 1, 2]            # or a count: seeds = 3 gives 0, 1, 2
///   output_dir = "runs"          # default: the base experiment's experiment.output_dir
///   nproc = 2                    # each trial a data-parallel run on 2 ranks (--nproc)
///
///   [grid]                       # every combination of these
///   "search.strategy" = ["darts", "milenas"]
///
///   [zip]                        # walked together (equal lengths), crossed with the grid
///   "search.epochs" = [2, 4]
///   "data.subset" = [2048, 4096]
///
///   [slurm]                      # the slurm executor's job array
///   partition = "debug"  time = "01:00:00"  cpus = 2  gpus = 0  mem = "8G"  extra = [...]
///
/// A ground-truth table build is a sweep of trainings: `architectures` in [sweep] makes
/// every trial `nasx train ARCH --config BASE` (the base is a training preset) in a
/// training folder of its own; no [grid] or [zip] (one table, one preset):
///
///   [sweep]
///   name = "ws64-fmnist"  base = "train-ws64-fmnist.toml"  seeds = 2
///   architectures = "all"        # every architecture of the space; or a count of
///                                # seeded samples (sample_seed = 0), or a list of texts

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nasx::core {

class PluginRegistry;

/// One trial: the axis values (key, TOML value) and the seed.
struct SweepTrial {
  std::string name;  ///< its folder: 000_search-darts-order-second_seed0
  std::vector<std::pair<std::string, std::string>> settings;
  /// Each setting's label, in the same order: [labels] of the sweep file, or made from
  /// the value (for a table value, the entries that tell the axis's values apart).
  std::vector<std::string> labels;
  int64_t seed = 0;
  std::string architecture;  ///< a table build's trial: the architecture it trains
  /// "key=value" overrides for `nasx run`, experiment.seed last.
  std::vector<std::string> overrides() const;
};

struct SlurmOptions {
  std::string partition;
  std::string time;
  int64_t cpus = 0;
  int64_t gpus = 0;
  std::string mem;
  std::vector<std::string> extra;  ///< more #SBATCH lines, e.g. "--qos=short"
};

struct Sweep {
  std::filesystem::path file;  ///< the sweep file
  std::string name;
  std::filesystem::path base;     ///< the base experiment file (absolute), when not inline
  std::string inline_base;        ///< a [base] table's TOML, when inline
  std::filesystem::path dir;      ///< <output_dir>/<name>
  std::vector<std::string> axes;  ///< the axis keys, grid then zip
  std::vector<SweepTrial> trials;
  int64_t nproc = 1;  ///< ranks per trial (nasx run --nproc)
  SlurmOptions slurm;
  std::string space;  ///< the base config's space
  /// A table build's architectures (texts, in trial order); empty for a sweep of searches.
  std::vector<std::string> architectures;
  /// [sweep] truth: a ground-truth table of the space (absolute), by which collect and
  /// report judge every answer (true accuracy and rank); empty: none.
  std::filesystem::path truth;

  bool builds_table() const { return !architectures.empty(); }

  /// The base config a trial's `nasx run` reads: `base`, or dir/base.toml for an inline one.
  std::filesystem::path base_config() const;
};

/// Reads, expands and validates a sweep file: every trial's config is checked against
/// the host's and the plugins' schemas before anything is written. Throws ConfigError
/// naming file:line and the key (an unknown [sweep] key, an axis over a key the config
/// does not have, an empty axis, zip lists of different lengths, a seed that is not an
/// integer, ...).
/// `nasx table build` asks for a table build: a file without sweep.architectures is then
/// refused before its base is judged as a search.
enum class SweepKind { any, table_build };
Sweep load_sweep(const std::filesystem::path& file, const PluginRegistry& registry,
                 SweepKind expected = SweepKind::any);

/// Creates the sweep folder: sweep.toml (the file as given), base.toml (inline base),
/// sweep.json (the trials). Existing trial folders are left as they are.
void write_sweep_folder(const Sweep& sweep);

/// A trial's state, read from its folder (a search run's or a training folder's).
enum class TrialState { New, Started, Done };
TrialState trial_state(const std::filesystem::path& trial_dir);

/// The nasx arguments that (re)start a trial: `run BASE --set ... --out DIR` (a table
/// build's: `train ARCH --config BASE --set ... --out DIR`), or `resume DIR` when it has
/// started; `plugin_paths` are passed on.
std::vector<std::string> trial_command(const Sweep& sweep, const SweepTrial& trial,
                                       const std::vector<std::string>& plugin_paths);

/// The last `lines` lines of a file ("" when it cannot be read).
std::string tail_of_file(const std::filesystem::path& path, int lines);

}  // namespace nasx::core
