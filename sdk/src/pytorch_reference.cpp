#include "nasx/pytorch_reference.hpp"

#include <set>
#include <stdexcept>

#include <torch/nn/module.h>

namespace nasx {

PytorchReference::~PytorchReference() = default;

namespace {

void collect(const torch::nn::Module& module, const std::string& prefix,
             const ChildRenamer& rename, NamedTensors& out) {
  for (const auto& item : module.named_parameters(/*recurse=*/false))
    out.emplace_back(prefix + item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/false))
    out.emplace_back(prefix + item.key(), item.value());
  const std::string parent_class = module.name();
  for (const auto& child : module.named_children())
    collect(*child.value(), prefix + rename(parent_class, child.key()) + ".", rename, out);
}

}  // namespace

NamedTensors renamed_state_dict(const torch::nn::Module& module, const ChildRenamer& rename) {
  NamedTensors out;
  collect(module, "", rename, out);
  std::set<std::string> seen;
  for (const auto& [name, tensor] : out)
    if (!seen.insert(name).second)
      throw std::logic_error("two tensors of " + module.name() + " are renamed to '" + name +
                             "'");
  return out;
}

NamedTensors own_state_dict(const torch::nn::Module& module) {
  return renamed_state_dict(
      module, [](const std::string&, const std::string& child) { return child; });
}

}  // namespace nasx
