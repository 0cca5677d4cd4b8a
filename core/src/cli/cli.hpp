#pragma once
// The nasx subcommands. Each parses its own options (Boost.Program_options) and
// returns the process exit code; errors are thrown as nasx::Error and reported
// once, in main().

#include <string>
#include <vector>

namespace boost::program_options {
class options_description;
class variables_map;
}  // namespace boost::program_options

namespace nasx::core {
class PluginRegistry;
struct TrainRunResult;
}  // namespace nasx::core

namespace nasx::cli {

using Args = std::vector<std::string>;

int run_command(const Args& args);
int resume_command(const Args& args);
int plugins_command(const Args& args);
int validate_command(const Args& args);
int bench_command(const Args& args);
int arch_command(const Args& args);
int train_command(const Args& args);
int ensemble_command(const Args& args);
int select_command(const Args& args);
int sweep_command(const Args& args);
int table_command(const Args& args);
int analyze_command(const Args& args);
int export_command(const Args& args);
int report_command(const Args& args);

/// Runs a sweep file's trials (`nasx sweep FILE`, `nasx table build FILE`); with
/// `table_only`, a sweep of searches is refused.
int sweep_file_command(const Args& args, const std::string& usage, bool table_only);

/// Prints a finished training's metrics and folder, writes its report; returns 0.
int print_training(const core::TrainRunResult& result, const core::PluginRegistry& registry);

/// Writes `dir`'s report (nasx report) and prints its path; a report that cannot be
/// written is a note, not a failure of the finished work.
void write_report_at_end(const std::string& dir, const core::PluginRegistry& registry);

/// Adds --plugin-path to `options`.
void add_plugin_path_option(boost::program_options::options_description& options);

/// The registry with the default folders plus every --plugin-path (which must exist);
/// with `instead_of_defaults`, that folder (which must exist) replaces the default ones.
void load_plugins(core::PluginRegistry& registry, const boost::program_options::variables_map& vm,
                  const std::string& instead_of_defaults = "");

/// Parses `args` against `options` (+ positional names); prints usage and returns
/// false when --help was given. The first `required_positionals` positionals
/// (default: all) must be present; bad usage throws program_options::error.
bool parse_args(const Args& args, const std::string& usage,
                boost::program_options::options_description& options,
                const std::vector<std::string>& positional,
                boost::program_options::variables_map& vm,
                size_t required_positionals = size_t(-1));

/// This nasx executable's path (for the processes it starts).
std::string self_binary();

/// `args` without `--name VALUE` / `--name=VALUE`.
Args without_option(const Args& args, const std::string& name);

}  // namespace nasx::cli
