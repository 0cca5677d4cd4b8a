#include "nasx/space.hpp"

#include <ATen/ATen.h>

#include "nasx/darts/supernet.hpp"
#include "nasx/error.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

SearchSpace::~SearchSpace() = default;
Supernet::~Supernet() = default;

std::vector<at::Tensor> Supernet::arch_weights() {
  std::vector<at::Tensor> weights;
  for (const auto& alpha : arch_parameters()) weights.push_back(at::softmax(alpha, -1));
  return weights;
}

std::vector<std::string> search_space_names() { return {"darts"}; }

std::unique_ptr<SearchSpace> make_search_space(const SpaceOptions& options) {
  if (options.name == "darts") return std::make_unique<darts::DartsSpace>(options);
  std::string known;
  for (const auto& name : search_space_names()) known += (known.empty() ? "" : ", ") + name;
  throw ConfigError("unknown search space '" + options.name + "' (known: " + known + ")");
}

}  // namespace nasx
