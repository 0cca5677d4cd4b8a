#include "nasx/plugin.hpp"

#include <cstring>

#include "nasx/context.hpp"
#include "nasx/pruner.hpp"
#include "nasx/scorer.hpp"
#include "nasx/selector.hpp"
#include "nasx/strategy.hpp"

namespace nasx {

// Key functions: the vtables and type_info of the plugin interfaces live here.
Plugin::~Plugin() = default;
SearchStrategy::~SearchStrategy() = default;
bool SearchStrategy::end_step(Context&, int64_t, const std::map<std::string, double>&) {
  return true;
}
Selector::~Selector() = default;
void Selector::setup(Context&) {}
std::map<std::string, double> Selector::step(Context&, int64_t) { return {}; }
void Selector::state(StateArchive&) {}
EnsemblePruner::~EnsemblePruner() = default;
ArchScorer::~ArchScorer() = default;
Context::~Context() = default;
std::vector<Evaluation> Context::evaluate_all(const std::vector<Architecture>& archs) {
  std::vector<Evaluation> evaluations;
  evaluations.reserve(archs.size());
  for (const Architecture& arch : archs) evaluations.push_back(evaluate(arch));
  return evaluations;
}

const char* plugin_kind_name(uint32_t kind) {
  switch (kind) {
    case NASX_KIND_STRATEGY:
      return "strategy";
    case NASX_KIND_SELECTOR:
      return "selector";
    case NASX_KIND_PRUNER:
      return "pruner";
    case NASX_KIND_SPACE:
      return "space";
    case NASX_KIND_SCORER:
      return "scorer";
    default:
      return "unknown";
  }
}

namespace detail {
void copy_error(char* error, size_t error_size, const char* message) {
  if (error == nullptr || error_size == 0) return;
  std::strncpy(error, message, error_size - 1);
  error[error_size - 1] = '\0';
}
}  // namespace detail

}  // namespace nasx
