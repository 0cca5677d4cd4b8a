#include "nasx/core/kill_points.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <string>

namespace nasx::core {

namespace {

struct KillRequest {
  std::string point;
  long remaining = 0;  ///< passes left before the kill; 0: none requested
};

KillRequest& request() {
  static KillRequest parsed = [] {
    KillRequest r;
    const char* text = std::getenv("NASX_KILL_AT");
    if (text == nullptr || *text == '\0') return r;
    r.point = text;
    r.remaining = 1;
    if (const auto colon = r.point.find(':'); colon != std::string::npos) {
      r.remaining = std::max(1L, std::strtol(r.point.c_str() + colon + 1, nullptr, 10));
      r.point.resize(colon);
    }
    return r;
  }();
  return parsed;
}

}  // namespace

void kill_point(const char* point) {
  KillRequest& r = request();
  if (r.remaining == 0 || r.point != point) return;
  if (--r.remaining == 0) std::raise(SIGKILL);
}

}  // namespace nasx::core
