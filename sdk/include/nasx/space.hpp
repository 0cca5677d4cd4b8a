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
#include "nasx/params.hpp"
#include "nasx/plugin.hpp"
#include "nasx/training_protocol.hpp"

namespace at {
class Tensor;
}

namespace nasx {

class Supernet;

/// How a space's networks are sized and laid out: the [space] keys every shipped space
/// has (a space plugin binds them with bind_space_options and adds its own).
struct SpaceOptions {
  int64_t channels = 16;  ///< C: channels of the first cells
  /// The space's depth: DARTS cells (8), NB201 cells per stage (5); 0: the space's default.
  int64_t layers = 0;
  int64_t stem_multiplier = 3;                  ///< DARTS: the stem outputs stem_multiplier * C
  std::string memory_format = "channels_last";  ///< or "contiguous"
};

/// Adds channels, layers and memory_format to a binding of an options struct derived
/// from SpaceOptions.
template <class Options>
OptionsBinding<Options>& bind_space_options(OptionsBinding<Options>& b) {
  return b
      .field("channels", &SpaceOptions::channels, "channels C of the first cells",
             Range{2.0, 4096.0})
      .field("layers", &SpaceOptions::layers, "the space's depth (0: its default)",
             Range{0.0, 256.0})
      .field("memory_format", &SpaceOptions::memory_format,
             "activation layout; channels_last is several times faster on CPU",
             std::vector<std::string>{"channels_last", "contiguous"});
}

/// How one cell type's architectures are chosen, for code that builds or edits
/// architectures decision by decision without knowing the space (the ENAS controller,
/// DARTS-PT's selection).
struct CellDecisions {
  int64_t inputs = 1;  ///< states before the first intermediate node (the cell's inputs)
  /// Per intermediate node, its incoming edge from each earlier state in state order:
  /// node_edges[n][s] is the edge from state s (the inputs first, then nodes 0..n-1).
  std::vector<std::vector<int64_t>> node_edges;
  /// Edges each node keeps (DARTS: 2); 0: every edge is kept and only its operation is
  /// chosen (NB201, where `none` is an ordinary operation).
  int64_t inputs_per_node = 0;
  /// The operations a kept edge may take (indices into operations()).
  std::vector<int64_t> operations;
  /// What the cell outputs: the concatenation of every intermediate node (DARTS, ws64)
  /// or the last node alone (NB201). Diagrams and cell-shape analyses read it.
  enum class Output { concat_nodes, last_node };
  Output output = Output::concat_nodes;
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

/// A cell search space, the fifth plugin kind ([space] name = "..."): its operations,
/// its architectures (text forms, sampling, mutation, neighbourhoods, derivation from
/// architecture weights, the decisions they are made of), the supernet and the
/// standalone networks built from them, and how those are trained. Every method is
/// deterministic given its random generator. Strategies and selectors work through
/// this interface only: none of them names a space.
class NASX_API SearchSpace : public Plugin {
 public:
  static constexpr uint32_t kKind = NASX_KIND_SPACE;
  ~SearchSpace() override;

  /// Reads the [space] parameters (validated against the plugin's schema); called once,
  /// before anything else. Throw ConfigError for a value the space cannot honour.
  virtual void setup(const ParamValues& params) = 0;

  virtual std::string name() const = 0;
  /// Candidate operations of an edge, in alpha-column order.
  virtual const std::vector<std::string>& operations() const = 0;
  /// The cell types, in the order of Architecture::cells and the supernet's alphas.
  virtual std::vector<std::string> cell_types() const = 0;
  virtual int64_t edges_per_cell() const = 0;
  /// Per cell type, how its architectures are chosen (nodes, their edges, operations).
  virtual std::vector<CellDecisions> decisions() const = 0;

  /// A new supernet for data of `shape`, alphas initialised from the global
  /// LibTorch generator (seed it first).
  virtual std::shared_ptr<Supernet> build_supernet(const DataShape& shape) const = 0;
  /// A new standalone network of `arch`, `channels`/`layers` as in SpaceOptions
  /// (0: the space options').
  virtual std::shared_ptr<Network> build_network(const Architecture& arch, const DataShape& shape,
                                                 int64_t channels = 0,
                                                 int64_t layers = 0) const = 0;
  /// How the space's networks are trained from scratch (the reference's recipe).
  virtual TrainingProtocol training_protocol() const = 0;

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
};

}  // namespace nasx
