#pragma once
// The subcommands of `nasx analyze` (analyze_command.cpp dispatches) and what they share.

#include <filesystem>
#include <string>

#include "cli.hpp"

namespace nasx::cli {

int analyze_score(const Args& args, const std::string& usage);
int analyze_cell(const Args& args, const std::string& usage);
int analyze_variants(const Args& args, const std::string& usage);
int analyze_tau(const Args& args, const std::string& usage);
int analyze_ranking(const Args& args, const std::string& usage);

/// The output folder: --out, or runs/analyze-<what>-<time>; created.
std::filesystem::path analysis_folder(const std::string& out, const std::string& what);

}  // namespace nasx::cli
