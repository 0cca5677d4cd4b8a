#pragma once
/// An optional capability of a Network: its trained tensors under the parameter names
/// of the space's reference PyTorch implementation, so that `nasx export --format pytorch`
/// writes a state_dict that the reference module loads with `strict=True`.
///
/// A space's network class opts in by deriving from both:
///
///     class EvalNetwork : public nasx::Network, public nasx::PytorchReference { ... };
///
/// Networks without it are exported under nasx's own names (their named parameters
/// and buffers), which load into any PyTorch module registered the same way.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace torch::nn {
class Module;
}

namespace nasx {

/// Parameters and buffers, in registration order, under state_dict names.
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class NASX_API PytorchReference {
 public:
  virtual ~PytorchReference();
  /// The PyTorch class (and its constructor arguments) that the names fit, in words, for
  /// the export's README: "NetworkCIFAR(C=16, num_classes=10, layers=8, ...) of ...".
  virtual std::string reference_module() const = 0;
  /// Every parameter and buffer under the reference's state_dict names.
  virtual NamedTensors reference_state_dict() const = 0;
  /// Python lines for the export's README, run after `state` (the state_dict) and
  /// `example` are loaded: build the reference module from genotype.txt, load `state`
  /// with strict=True, and set `logits` for example["images"].
  virtual std::string reference_python() const = 0;
};

/// How a child module is named in the reference: given the class of the parent (as
/// torch::nn::Module::name() gives it, e.g. "nasx::darts::SepConvImpl") and the child's
/// nasx name, the reference's name ("depthwise_1" -> "op.1"); the child's own name
/// when the reference uses the same.
using ChildRenamer = std::function<std::string(const std::string& parent_class,
                                               const std::string& child)>;

/// The parameters and buffers of `module` with every module on each path renamed by
/// `rename`. Throws std::logic_error when two tensors end up under one name.
NASX_API NamedTensors renamed_state_dict(const torch::nn::Module& module,
                                         const ChildRenamer& rename);

/// The parameters and buffers of `module` under their own (nasx) names.
NASX_API NamedTensors own_state_dict(const torch::nn::Module& module);

}  // namespace nasx
