#pragma once

#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>

#include "nasx/architecture.hpp"
#include "nasx/data.hpp"
#include "nasx/export.hpp"
#include "nasx/json.hpp"

namespace at {
class Tensor;
}

namespace nasx {

class Supernet;

/// How the space's networks are sized and laid out ([space] in a config).
struct SpaceOptions {
  std::string name = "darts";
  int64_t channels = 16;  ///< C: channels of the first cells
  /// DARTS: number of cells (8); NB201: cells per stage N (5); 0: the space's default.
  int64_t layers = 0;
  int64_t stem_multiplier = 3;                  ///< DARTS: the stem outputs stem_multiplier * C
  std::string memory_format = "channels_last";  ///< or "contiguous"
};

/// A standalone network of one architecture: logits [batch, classes] from images.
class NASX_API Network : public torch::nn::Module {
 public:
  ~Network() override;
  virtual at::Tensor forward(const at::Tensor& images) = 0;

  /// The logits and, for a network with an auxiliary head in training mode, the
  /// auxiliary head's logits (undefined otherwise). The trainer calls this one.
  virtual std::pair<at::Tensor, at::Tensor> forward_with_auxiliary(const at::Tensor& images);

  /// Drop-path probability for the following training passes, masks drawn from
  /// `generator` (a CPU generator). Networks without drop path ignore it.
  virtual void set_drop_path(double probability, at::Generator generator);
};

/// Name prefix of an auxiliary head's parameters ("auxiliary."): counted apart,
/// since the head exists only for training.
NASX_API extern const char* const kAuxiliaryPrefix;

/// Trainable parameters of `module`; with `with_auxiliary` false, those whose name
/// starts with kAuxiliaryPrefix are left out.
NASX_API int64_t count_parameters(const torch::nn::Module& module, bool with_auxiliary = true);

/// A cell search space: its operations, its architectures (text forms, sampling,
/// mutation, neighbourhoods, derivation from architecture weights) and the networks
/// built from them. Every method is deterministic given its random generator.
class NASX_API SearchSpace {
 public:
  virtual ~SearchSpace();

  virtual std::string name() const = 0;
  /// Candidate operations of an edge, in alpha-column order.
  virtual const std::vector<std::string>& operations() const = 0;
  /// The cell types, in the order of Architecture::cells and the supernet's alphas.
  virtual std::vector<std::string> cell_types() const = 0;
  virtual int64_t edges_per_cell() const = 0;
  /// Per intermediate node of a cell, its incoming edges, for a space whose
  /// architectures keep two inputs per node (DARTS); empty for a space whose cells keep
  /// every edge (NB201, where `none` is an ordinary operation).
  virtual std::vector<std::vector<int64_t>> node_input_edges() const { return {}; }

  /// A new supernet for data of `shape`, alphas initialised from the global
  /// LibTorch generator (seed it first).
  virtual std::shared_ptr<Supernet> build_supernet(const DataShape& shape) const = 0;
  /// A new standalone network of `arch`, `channels`/`layers` as in SpaceOptions
  /// (0: the space options').
  virtual std::shared_ptr<Network> build_network(const Architecture& arch, const DataShape& shape,
                                                 int64_t channels = 0,
                                                 int64_t layers = 0) const = 0;

  /// Architecture from the space's text form; throws GenotypeError naming the offending
  /// position. And back to the canonical text, and to JSON for logs.
  virtual Architecture parse(std::string_view text) const = 0;
  virtual std::string format(const Architecture& arch) const = 0;
  virtual Json json(const Architecture& arch) const = 0;
  /// Throws GenotypeError when `arch` is not an architecture of this space.
  virtual void check(const Architecture& arch) const = 0;

  /// A uniformly random architecture.
  virtual Architecture sample(std::mt19937_64& rng) const = 0;
  /// A random architecture one edit away (one operation, or in DARTS one input).
  virtual Architecture mutate(const Architecture& arch, std::mt19937_64& rng) const = 0;
  /// Every architecture one operation away, in a fixed order.
  virtual std::vector<Architecture> neighbours(const Architecture& arch) const = 0;
  /// The magnitude (argmax) derivation from architecture weights, one [edges, ops]
  /// tensor per cell type.
  virtual Architecture derive(const std::vector<at::Tensor>& weights) const = 0;

  const SpaceOptions& options() const { return options_; }

 protected:
  explicit SearchSpace(SpaceOptions options) : options_(std::move(options)) {}

 private:
  SpaceOptions options_;
};

/// The names of the spaces this SDK provides.
NASX_API std::vector<std::string> search_space_names();

/// The space named in `options`; throws ConfigError for an unknown name.
NASX_API std::unique_ptr<SearchSpace> make_search_space(const SpaceOptions& options);

/// The space whose text form `text` has (NB201 arch strings start with '|'), or "".
NASX_API std::string guess_space(std::string_view text);

}  // namespace nasx
