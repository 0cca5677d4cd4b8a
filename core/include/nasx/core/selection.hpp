#pragma once
/// The host's side of a selector: its steps with a checkpoint after each (a selector
/// that fine-tunes the supernet, like DARTS-PT, runs for a while), then its answer.
/// `nasx run` and `nasx select` both go through here.

#include <filesystem>
#include <string>

#include "nasx/architecture.hpp"
#include "nasx/core/checkpoint.hpp"

namespace nasx {
class Selector;
class Supernet;
}  // namespace nasx

namespace nasx::core {

class HostContext;
class JsonlLog;
class Progress;

/// Where a selection keeps its state and logs.
struct SelectionFiles {
  std::filesystem::path checkpoint;  ///< supernet + selector + host counters
  JsonlLog& events;
  JsonlLog& evaluations;
  /// The resolved configuration the selection runs under (recorded in its checkpoint
  /// and compared on resume); empty: not compared.
  std::string config = {};
  StartMode mode = StartMode::resume;
};

/// True when `files.checkpoint` holds an unfinished selection to continue.
bool has_selection_checkpoint(const SelectionFiles& files);

/// Sets the selector up, continues from its checkpoint when there is one (restoring the
/// supernet it tuned and cutting the logs back to that point), runs the remaining
/// steps with a checkpoint after each, and returns selector.select(). Ctx's params must
/// be the selector's. Throws StopRequested when the person stops it between steps.
/// `resume_command` continues it after a stop ("nasx resume DIR").
Architecture run_selection(HostContext& ctx, Selector& selector, Supernet& net,
                           const SelectionFiles& files, Progress& progress,
                           const std::string& resume_command);

}  // namespace nasx::core
