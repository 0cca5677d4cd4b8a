#pragma once
/// Running a sweep's trials and reading their results back.

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "nasx/core/sweep.hpp"

namespace nasx::core {

/// Runs every trial that is not done, `jobs` at a time, each in its own `nasx` process
/// (`nasx_binary`) with its output in <trial>/log.txt; finished trials are skipped,
/// started ones resumed. A trial that exits non-zero or is killed is recorded as failed
/// in <trial>/trial.json (exit status, log tail) while the others go on. Returns the
/// number of failed trials.
int run_sweep_local(const Sweep& sweep, const std::string& nasx_binary, int jobs,
                    const std::vector<std::string>& plugin_paths, std::ostream& out);

/// One trial's row: its state and what its run folder reports.
struct TrialRow {
  std::string name;
  std::string setting;              ///< the axis values, seed excluded
  std::vector<std::string> values;  ///< per axis, TOML
  long long seed = 0;
  std::string status;  ///< pending, running, done, failed, interrupted (slurm: queued, ...)
  std::string genotype;
  double search_acc = -1;  ///< valid_acc (gradient) or best_acc (sampling); -1: none
  double test_acc = -1;    ///< trained_test_acc, else the supernet's/shared test accuracy
  std::string test_kind;   ///< "trained", "supernet", "shared" or ""
  double seconds = -1;     ///< search (+ training) wall time
  std::string detail;      ///< failure: exit status
};

/// The rows of a sweep folder (written by `nasx sweep`), in trial order.
std::vector<TrialRow> read_sweep_rows(const std::filesystem::path& sweep_dir,
                                      std::vector<std::string>* axes = nullptr);

/// `nasx sweep collect`: the aligned table (with mean ± std over seeds per setting) to
/// `out`; collect.csv and collect.json into the sweep folder.
void collect_sweep(const std::filesystem::path& sweep_dir, std::ostream& out);

}  // namespace nasx::core
