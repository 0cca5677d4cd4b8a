#pragma once
// Small pieces every kind of run (search, training) shares.

#include <cstdint>
#include <string>

#include <c10/core/Device.h>

namespace nasx::core {

/// The current UTC time as 2026-11-23T19:20:32Z.
std::string now_iso8601();

/// The local time for a folder or file name: 20261123-192032.
std::string timestamp_for_path();

/// The device named in [experiment] device; throws ConfigError saying what to use.
c10::Device parse_device(const std::string& text);

/// LibTorch's CPU threads: `threads`, or every core when 0.
void set_threads(int64_t threads);

}  // namespace nasx::core
