// nasx table: ground-truth tables. `build` trains every architecture of a space (a sweep
// of trainings, run by the sweep executors); `collect` writes the table file.

#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "nasx/core/ground_truth.hpp"

namespace po = boost::program_options;

namespace nasx::cli {

namespace {

const char* const kUsage =
    R"(usage: nasx table build TABLE.toml [--dry-run] [--executor local|slurm] [--jobs N]
       nasx table collect DIR

A ground-truth table: every architecture of a finite space (or N seeded samples of a
large one) trained alone with one training preset, S seeds each. A table file is a sweep
file whose [sweep] lists architectures; its base is a training config (what
`nasx train --config` reads). Each training runs in its own folder,
<output_dir>/<name>/<index>_<arch>_seed<S>/; running build again skips finished ones and
resumes interrupted ones (local --jobs N, or one SLURM job array, as `nasx sweep`).

  [sweep]
  name = "ws64-fmnist"
  base = "../train-ws64-fmnist.toml"  # the training preset, relative to this file; set
                                      # data.data_seed in it so every seed trains on the
                                      # same images
  architectures = "all"             # or a count (with sample_seed, default 0), or ["111", "424"]
  seeds = 2                         # or a list: [0, 1]

collect DIR   writes DIR/table.json (format nasx-ground-truth-table, version 1): one row
              per architecture and seed with test_acc, test_loss, parameters, flops,
              seconds, epochs and the per-epoch train_loss, train_acc, epoch_test_acc;
              prints each architecture's mean ± std over seeds.
              pandas: pd.DataFrame(json.load(open("table.json"))["rows"])
              R:      jsonlite::fromJSON("table.json")$rows
Use it: [evaluator] name = "table", table = "DIR/table.json"; nasx analyze --truth.)";

}  // namespace

int table_command(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage << "\n";
    if (args.empty()) throw po::error("nasx table needs build or collect");
    return 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "build") return sweep_file_command(rest, kUsage, /*table_only=*/true);
  if (args[0] == "collect") {
    if (rest.size() == 1 && (rest[0] == "--help" || rest[0] == "-h")) {
      std::cout << kUsage << "\n";
      return 0;
    }
    if (rest.size() != 1 || rest[0].rfind("-", 0) == 0)
      throw po::error("nasx table collect takes one table build folder");
    core::collect_table(rest[0], std::cout);
    return 0;
  }
  throw po::error("nasx table " + args[0] + ": give build or collect");
}

}  // namespace nasx::cli
