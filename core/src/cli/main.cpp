// nasx: the host executable. Dispatches to a subcommand; the one place where
// errors become messages and exit codes.

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <new>
#include <string>
#include <iostream>

#include <boost/program_options/errors.hpp>

#include <torch/version.h>
#include "cli.hpp"
#include "memory_reuse.hpp"
#include "nasx/core/host_context.hpp"
#include "nasx/error.hpp"
#include "nasx/version.hpp"

namespace {

const char* const kUsage = R"(nasx — neural architecture search experiments

usage: nasx <command> [options]     (nasx <command> --help for its options)

commands:
  run CONFIG        run the experiment described in a TOML file
  resume DIR        continue a search or a training from its last checkpoint
  train GENOTYPE    train an architecture's network from scratch (or a run's answer)
  select RUN_DIR    re-select from a search's supernet with any selector
  ensemble RUN_DIR  ensemble of a search's best architectures, pruned by each pruner
  sweep SWEEP.toml  run a sweep of trials (strategies x seeds x settings); also
                    sweep status DIR, sweep collect DIR
  table build FILE  ground-truth table: train every architecture of a space, S seeds;
                    table collect DIR writes its table.json
  analyze WHAT      ranking, score, cell, variants, tau: tables and plots of a study's results
  report DIR        an HTML page with cell diagrams and plots of a run, training,
                    sweep or analysis folder (DIR/report/index.html)
  export DIR        a trained network as a PyTorch state_dict (--format pytorch)
  validate CONFIG   check a config (and its plugins' parameters) without running
  plugins list      list the plugins found, with kind and version
  plugins info NAME show a plugin's parameters
  bench             time the supernet search step
  arch STRING       parse an architecture: space, canonical form, parameter count
  version           print versions
)";

/// Whether `e` says that memory ran out (LibTorch's allocators throw c10::Error).
bool out_of_memory(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return true;
  const std::string what = e.what();
  return what.find("can't allocate memory") != std::string::npos ||
         what.find("out of memory") != std::string::npos;
}

void on_interrupt(int) {
  nasx::core::request_stop();
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  nasx::cli::keep_freed_memory_for_reuse();
  const std::string command = argv[1];
  const nasx::cli::Args args(argv + 2, argv + argc);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  // Past a file size limit (ulimit -f) a write fails with EFBIG, which nasx reports like
  // a full disk, instead of the process being killed.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    if (command == "run") return nasx::cli::run_command(args);
    if (command == "train") return nasx::cli::train_command(args);
    if (command == "select") return nasx::cli::select_command(args);
    if (command == "ensemble") return nasx::cli::ensemble_command(args);
    if (command == "sweep") return nasx::cli::sweep_command(args);
    if (command == "table") return nasx::cli::table_command(args);
    if (command == "analyze") return nasx::cli::analyze_command(args);
    if (command == "report") return nasx::cli::report_command(args);
    if (command == "export") return nasx::cli::export_command(args);
    if (command == "resume") return nasx::cli::resume_command(args);
    if (command == "validate") return nasx::cli::validate_command(args);
    if (command == "plugins") return nasx::cli::plugins_command(args);
    if (command == "bench") return nasx::cli::bench_command(args);
    if (command == "arch") return nasx::cli::arch_command(args);
    if (command == "version" || command == "--version") {
      std::cout << "nasx " << NASX_SDK_VERSION << " (plugin ABI " << NASX_ABI_VERSION
                << ", LibTorch " << TORCH_VERSION << ")\n";
      return 0;
    }
    std::cerr << "nasx: unknown command '" << command << "'\n\n" << kUsage;
    return 2;
  } catch (const boost::program_options::error& e) {
    std::cerr << "nasx " << command << ": " << e.what() << " (see nasx " << command << " --help)\n";
    return 2;
  } catch (const nasx::Error& e) {
    // A rank of a data-parallel run says which one it is.
    const char* rank = std::getenv("RANK");
    std::cerr << "nasx"
              << (rank && std::getenv("WORLD_SIZE") ? std::string(" (rank ") + rank + ")" : "")
              << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "nasx: error: " << e.what()
              << "; check that the path exists, is writable and the disk is not full\n";
    return 1;
  } catch (const std::exception& e) {
    if (out_of_memory(e)) {
      const std::string what = e.what();
      std::cerr << "nasx: error: out of memory: "
                << what.substr(0, std::min(what.find('\n'), size_t{300}))
                << "\nThe sizes asked for do not fit in this machine's memory; lower the batch "
                   "size, channels, layers or image size (the run folder keeps its last "
                   "checkpoint)\n";
      return 1;
    }
    std::cerr << "nasx: internal error: " << e.what()
              << "\nThis is a bug in nasx or a plugin; please report it with the command line.\n";
    return 3;
  }
}
