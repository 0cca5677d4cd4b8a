#pragma once
// Running the nasx executable from tests: real processes, real signals.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace nasx::testing {

inline const std::string kNasx = NASX_TEST_BINARY;

struct Outcome {
  int exit_code = -1;
  std::string output;
};

/// Runs a shell command line, stdout and stderr together.
inline Outcome run_shell(const std::string& command) {
  Outcome outcome;
  FILE* pipe = ::popen(("( " + command + " ) 2>&1").c_str(), "r");
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) outcome.output.append(buffer, n);
  const int status = ::pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return outcome;
}

/// Runs nasx with `args` (shell words), optionally with `env` ("NAME=value") set.
inline Outcome run_nasx(const std::string& args, const std::string& env = "") {
  return run_shell(env + " " + kNasx + " " + args);
}

inline std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Starts nasx with `args` (split on spaces: no quoting) in the background, its output
/// going to `log` (default: nowhere); returns its pid.
inline pid_t start_nasx(const std::string& args, const std::string& log = "/dev/null") {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!::freopen(log.c_str(), "w", stdout)) ::_exit(126);
    ::dup2(::fileno(stdout), 2);
    std::vector<std::string> words = {kNasx};
    std::istringstream split(args);
    for (std::string word; split >> word;) words.push_back(word);
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    ::execv(kNasx.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

/// The exit code of background process `pid` once it ends (128 + signal if killed).
inline int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Starts nasx with `args` (split on spaces: no quoting), waits until `ready` returns
/// true (at most 5 minutes), then SIGKILLs it. Returns whether it was still running.
inline bool run_and_kill_when(const std::string& args, const std::function<bool()>& ready) {
  const pid_t pid = start_nasx(args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline && !ready())
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status);
}

/// Occurrences of `needle` in `text`.
inline int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

/// A test with its own empty folder, dir_ (<tmp>/nasx_<suite>_<pid>_<test>), kept when
/// the test fails so its run folders can be read.
class FolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("nasx_" + std::string(info->test_suite_name()) + "_" + std::to_string(::getpid()) +
            "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
};

}  // namespace nasx::testing
