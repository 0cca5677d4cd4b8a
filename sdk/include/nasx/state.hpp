#pragma once
/// A plugin's persistent state, listed once for both directions.
///
/// A strategy or selector writes one function that names every member it must keep to
/// continue exactly after a kill; the host calls it with a saving archive for each
/// checkpoint and with a loading one on resume, so save and load cannot drift:
///
///     void own_state(nasx::StateArchive& state) override {
///       state.field("rng", rng_)                  // std::mt19937_64
///           .field("reward_index", reward_index_)  // int64_t
///           .field("answer", answer_)              // std::optional<Architecture>
///           .object("optimizer", *optimizer_);     // anything with save()/load()
///     }
///
/// Loading a key the checkpoint lacks throws IoError naming it (a checkpoint written
/// by another version of the plugin).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/architecture.hpp"
#include "nasx/export.hpp"

namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace nasx {

class NASX_API StateArchive {
 public:
  /// Saving into `archive`.
  explicit StateArchive(torch::serialize::OutputArchive& archive);
  /// Loading from `archive`.
  explicit StateArchive(torch::serialize::InputArchive& archive);

  bool saving() const { return output_ != nullptr; }
  bool loading() const { return input_ != nullptr; }

  StateArchive& field(const std::string& key, bool& value);
  StateArchive& field(const std::string& key, int64_t& value);
  StateArchive& field(const std::string& key, double& value);
  StateArchive& field(const std::string& key, std::string& value);
  /// Loading replaces `value` (shape, dtype and device as saved; CPU when saved so).
  StateArchive& field(const std::string& key, at::Tensor& value);
  StateArchive& field(const std::string& key, std::vector<int64_t>& value);
  StateArchive& field(const std::string& key, std::vector<double>& value);
  StateArchive& field(const std::string& key, std::vector<std::string>& value);
  /// The generator's whole state (the only way nasx saves a generator).
  StateArchive& field(const std::string& key, std::mt19937_64& value);
  StateArchive& field(const std::string& key, Architecture& value);
  StateArchive& field(const std::string& key, std::optional<Architecture>& value);
  StateArchive& field(const std::string& key, std::vector<Architecture>& value);
  /// Architectures with a value each (a cache of measurements).
  StateArchive& field(const std::string& key, std::map<Architecture, double>& value);

  /// A member with its own `save(OutputArchive&) const` and `load(InputArchive&)`
  /// (nasx's optimizers, a torch::nn::Module), in a nested archive.
  template <class T>
  StateArchive& object(const std::string& key, T& value) {
    return group(key, [&value](StateArchive& nested) {
      if (nested.saving())
        value.save(*nested.output_);
      else
        value.load(*nested.input_);
    });
  }

  /// A nested archive under `key`, bound by `bind` in both directions.
  StateArchive& group(const std::string& key, const std::function<void(StateArchive&)>& bind);

 private:
  torch::serialize::OutputArchive* output_ = nullptr;
  torch::serialize::InputArchive* input_ = nullptr;
};

}  // namespace nasx
