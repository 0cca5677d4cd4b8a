#pragma once
/// Child processes: the sweep executors start `nasx` trials and ask SLURM's tools.

#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace nasx::core {

/// Starts `binary args...` with stdout and stderr appended to `log`; returns its pid.
/// Throws IoError when the log cannot be opened, Error when no process can be made.
pid_t spawn_logged(const std::string& binary, const std::vector<std::string>& args,
                   const std::filesystem::path& log);

/// In a forked child: replaces the process by `argv` (looked up in PATH when
/// `search_path`), or writes why it cannot to stderr and exits 127.
[[noreturn]] void exec_or_exit(std::vector<std::string> argv, bool search_path);

/// A word as bash reads it back: as it is when it holds only safe characters, else
/// single-quoted ('it'\''s'), so a printed command can be pasted into a shell.
std::string shell_quote(const std::string& word);

/// `text` in double quotes, '"' and '\\' escaped: a string as gnuplot scripts and
/// Graphviz DOT files read it.
std::string double_quoted(const std::string& text);

/// "exit status 3", "killed by signal 9 (Killed)": a waitpid status in words.
std::string exit_description(int status);

/// What a finished command printed (stdout and stderr together) and how it ended.
struct CommandOutput {
  bool started = false;  ///< false: the program was not found or could not be run
  int exit_code = -1;    ///< its exit status; -1 when it was killed
  std::string output;
};

/// Runs `argv[0]` (looked up in PATH) to the end and captures what it prints.
CommandOutput run_and_capture(const std::vector<std::string>& argv);

}  // namespace nasx::core
