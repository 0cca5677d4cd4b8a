#include "nasx/core/run_support.hpp"

#include <ctime>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "nasx/error.hpp"

namespace nasx::core {

std::string now_iso8601() {
  const std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buffer;
}

std::string timestamp_for_path() {
  const std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%d-%H%M%S", std::localtime(&now));
  return buffer;
}

c10::Device parse_device(const std::string& text) {
  try {
    c10::Device device(text);
    if (device.is_cuda() && !at::hasCUDA())
      throw ConfigError("experiment.device = \"" + text +
                        "\" but this LibTorch has no CUDA device available; use \"cpu\"");
    return device;
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception&) {
    throw ConfigError("experiment.device: '" + text +
                      "' is not a device (use \"cpu\" or \"cuda:0\")");
  }
}

void set_threads(int64_t threads) {
  // This LibTorch starts with one OpenMP thread whatever the machine has; 0 means all cores.
  at::set_num_threads(threads > 0
                          ? static_cast<int>(threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace nasx::core
