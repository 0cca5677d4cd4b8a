#pragma once
/// `nasx export DIR --format pytorch`: a trained network as a state_dict file that
/// Python's torch.load reads, under the parameter names of the space's reference PyTorch
/// implementation when its network provides them (nasx::PytorchReference).

#include <cstdint>
#include <filesystem>
#include <string>

namespace nasx::core {

class PluginRegistry;

struct PytorchExport {
  std::filesystem::path folder;      ///< what was written
  std::filesystem::path trained;     ///< the training folder it came from
  std::string module;                ///< the PyTorch module the names fit
  bool reference_names = false;      ///< false: nasx's own names (the space has no reference)
  int64_t tensors = 0;               ///< entries in the state_dict
  double max_abs_logit = 0;          ///< of the example batch (a sanity figure)
};

/// The training folder of `dir`: itself when it is one (train.toml), its train/ when it is
/// a search run with a finished [train]. Throws IoError saying what `dir` is and what to
/// do when it holds no trained network (a search without [train], an unfinished training,
/// a folder that is neither).
std::filesystem::path trained_network_folder(const std::filesystem::path& dir);

/// Writes `out` (default: <training folder>/export-pytorch) whole or not at all:
///   state_dict.pt  {name: tensor}, torch.load-able, for load_state_dict(strict=True)
///   example.pt     {"images": 8 test images as the network sees them, "logits": nasx's}
///   genotype.txt   the architecture
///   export.json    module, names, tensors, test accuracy, where it came from
///   README.md      how to load it
PytorchExport export_pytorch(const std::filesystem::path& dir, const PluginRegistry& registry,
                             std::filesystem::path out = {});

}  // namespace nasx::core
