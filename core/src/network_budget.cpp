#include "nasx/core/network_budget.hpp"

#include <unistd.h>

#include <cmath>
#include <sstream>

#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

int64_t estimated_parameters(const SearchSpace& space, const Architecture& arch,
                             const DataShape& shape, int64_t channels, int64_t layers) {
  const auto count = [&](int64_t c) {
    return static_cast<double>(
        count_parameters(*space.build_network(arch, shape, c, layers), /*with_auxiliary=*/true));
  };
  if (channels <= 24) return static_cast<int64_t>(count(channels));
  // p(C) = a C^2 + b C + c through C = 8, 16, 24 (second differences).
  const double p8 = count(8), p16 = count(16), p24 = count(24);
  const double a = (p24 - 2 * p16 + p8) / (2 * 8.0 * 8.0);
  const double b = (p16 - p8) / 8.0 - a * (16 + 8);
  const double c = p8 - a * 64 - b * 8;
  const double x = static_cast<double>(channels);
  return static_cast<int64_t>(std::llround(std::max(0.0, a * x * x + b * x + c)));
}

int64_t machine_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0 ? static_cast<int64_t>(pages) * page_size : INT64_MAX;
}

void check_parameters_fit(int64_t parameters, double copies, const std::string& change) {
  const double needed = static_cast<double>(parameters) * 4.0 * copies;
  const double have = static_cast<double>(machine_memory_bytes());
  if (needed <= have) return;
  std::ostringstream message;
  message.precision(3);
  message << "the network would have about " << static_cast<double>(parameters)
          << " parameters, about " << needed / 1e9 << " GB of memory as float32"
          << (copies > 1 ? " with its training copies" : "") << ", but this machine has "
          << have / 1e9 << " GB; " << change;
  throw ConfigError(message.str());
}

}  // namespace nasx::core
