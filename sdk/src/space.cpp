#include "nasx/space.hpp"

#include <ATen/ATen.h>

#include "nasx/error.hpp"
#include "nasx/supernet.hpp"

namespace nasx {

SearchSpace::~SearchSpace() = default;
Network::~Network() = default;

std::pair<at::Tensor, at::Tensor> Network::forward_with_auxiliary(const at::Tensor& images) {
  return {forward(images), at::Tensor()};
}

void Network::set_drop_path(double, at::Generator) {}

const char* const kAuxiliaryPrefix = "auxiliary.";

int64_t count_parameters(const torch::nn::Module& module, bool with_auxiliary) {
  int64_t total = 0;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!with_auxiliary && item.key().rfind(kAuxiliaryPrefix, 0) == 0) continue;
    total += item.value().numel();
  }
  return total;
}
Supernet::~Supernet() = default;

std::vector<at::Tensor> Supernet::arch_weights() {
  std::vector<at::Tensor> weights;
  for (const auto& alpha : arch_parameters()) weights.push_back(at::softmax(alpha, -1));
  return weights;
}

std::vector<at::Tensor> Supernet::forward_paths(const at::Tensor& images,
                                                const std::vector<Architecture>& archs) {
  std::vector<at::Tensor> logits;
  logits.reserve(archs.size());
  for (const Architecture& arch : archs) logits.push_back(forward_path(images, arch));
  return logits;
}

std::vector<std::string> Supernet::cell_types() const { return space().cell_types(); }

Architecture Supernet::derive_architecture() {
  at::NoGradGuard no_grad;
  return space().derive(arch_weights());
}

std::vector<at::Tensor> Supernet::one_hot_weights(const Architecture& arch) {
  space().check(arch);
  std::vector<at::Tensor> weights;
  const auto alphas = arch_parameters();
  for (size_t c = 0; c < alphas.size(); ++c) {
    at::Tensor w = at::zeros(alphas[c].sizes(), alphas[c].options().requires_grad(false));
    for (size_t e = 0; e < arch.cells[c].size(); ++e)
      if (arch.cells[c][e] != Architecture::kNoEdge)
        w[static_cast<int64_t>(e)][arch.cells[c][e]] = 1.0;
    weights.push_back(w);
  }
  return weights;
}

}  // namespace nasx
