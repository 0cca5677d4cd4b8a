#pragma once
/// The ENAS controller (Pham et al., ICML 2018): an LSTM that emits an architecture
/// decision by decision; trained with REINFORCE on the shared-weight reward.
///
/// It works from the space's description of its decisions (SearchSpace::decisions), so
/// it searches any space. Cells that keep every edge (NB201; AutoDL's port): one
/// decision per edge, an operation; the next input is the chosen operation's embedding.
/// Cells whose nodes keep some of their inputs (DARTS; the reference's micro
/// controller): per node, its inputs chosen by attention over the earlier states (each
/// different from the node's earlier choices: a space has one edge per pair of states),
/// then an operation for each.

#include <cstdint>
#include <random>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include "nasx/architecture.hpp"
#include "nasx/export.hpp"
#include "nasx/optim.hpp"
#include "nasx/space.hpp"

namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace nasx {

class SearchSpace;

namespace enas {

struct ControllerOptions {
  int64_t hidden = 32;               ///< LSTM width
  int64_t layers = 2;                ///< stacked LSTM cells
  bool bias = true;                  ///< biases in the LSTM and the operation logits
  double temperature = 5.0;          ///< logits / temperature before the tanh bound (0: none)
  double tanh_constant = 2.5;        ///< operation logits bounded by tanh_constant * tanh(.)
  double input_tanh_constant = 1.1;  ///< DARTS: input logits bound
  /// A learned operation-logit bias, one entry per operation the cells choose from,
  /// added before the tanh bound, starting at these values (empty: none).
  std::vector<double> op_bias;
  /// A fixed bias added to the bounded operation logits of the first cell type (the
  /// normal cell) only (empty: none).
  std::vector<double> first_cell_op_bias;
};

/// For cells that keep every edge, AutoDL's NB201 defaults: 2 x 32, biases,
/// 2.5 tanh(logits / 5). For cells that choose inputs, the reference's micro controller:
/// 1 x 64, no biases, no temperature, inputs 1.1 tanh, operations 1.1 / 2.5 tanh, and
/// its operation biases: learned, starting at 10 for the separable convolutions and 0
/// for the others, plus a fixed +0.25 (separable) / -0.25 (others) in the normal cell,
/// so that early samples favour separable convolutions.
ControllerOptions default_controller_options(const SearchSpace& space);

/// One sampled (or replayed) architecture with what REINFORCE needs.
struct ControllerSample {
  Architecture arch;
  std::vector<int64_t> decisions;  ///< the index chosen at every decision, in order
  at::Tensor log_prob;             ///< sum of the decisions' log-probabilities (graph attached)
  at::Tensor entropy;              ///< sum of the decisions' entropies (graph attached)
};

class ControllerImpl : public torch::nn::Module {
 public:
  ControllerImpl(const SearchSpace& space, ControllerOptions options);

  /// Samples an architecture with `rng` (CPU probabilities, one draw per decision).
  ControllerSample sample(std::mt19937_64& rng);
  /// The same computation for a given decision sequence (no sampling).
  ControllerSample replay(const std::vector<int64_t>& decisions);
  /// The most likely decision at every step (greedy decoding).
  Architecture most_likely();

  int64_t decisions_per_architecture() const;

 private:
  enum class Mode { Sample, Replay, Greedy };
  /// The decision sequence over every cell: operations edge by edge, or per node its
  /// inputs by attention, then their operations.
  ControllerSample run(Mode mode, const std::vector<int64_t>& forced, std::mt19937_64* rng);
  /// One decision among the entries of `logits` [1, n] listed in `allowed` (all when
  /// empty): sampled, replayed from `forced` or greedy; its log-probability and entropy
  /// are added to `out`. Returns the chosen entry.
  int64_t decide(ControllerSample& out, Mode mode, const std::vector<int64_t>& forced,
                 std::mt19937_64* rng, const at::Tensor& logits,
                 const std::vector<int64_t>& allowed);

  const SearchSpace& space_;
  ControllerOptions options_;
  std::vector<CellDecisions> cells_;
  bool chooses_inputs_;  ///< the cells keep some inputs per node (DARTS), not every edge
  std::vector<torch::nn::LSTMCell> lstm_;
  at::Tensor start_;  ///< [1, hidden] learned first input
  torch::nn::Embedding op_embedding_{nullptr};
  torch::nn::Linear op_logits_{nullptr};
  at::Tensor op_bias_;             ///< [1, ops] learned (undefined: none)
  at::Tensor first_cell_op_bias_;  ///< [1, ops] fixed (undefined: none)
  // Cells that choose inputs: attention over the earlier states.
  torch::nn::Linear attn_key_{nullptr}, attn_query_{nullptr}, attn_v_{nullptr};
};
TORCH_MODULE(Controller);

/// The REINFORCE loss of one sample: −(reward − baseline) · log π(decisions).
at::Tensor reinforce_loss(const ControllerSample& sample, double reward, double baseline);

/// Controller training (AutoDL's NB201 port): Adam lr 1e-3, betas (0, 0.999), eps 1e-3,
/// gradient norm clipped to 5, entropy bonus 1e-4, baseline decay 0.99, gradients
/// accumulated over 20 samples per update.
struct ReinforceOptions {
  double lr = 1e-3;
  double beta1 = 0.0;
  double beta2 = 0.999;
  double eps = 1e-3;
  double grad_clip = 5.0;
  double entropy_weight = 1e-4;
  double baseline_decay = 0.99;
  int64_t samples_per_update = 20;
};

/// REINFORCE with a moving-average baseline. The reward of a sample is its accuracy plus
/// entropy_weight times its entropy (not differentiated). The baseline moves towards
/// each reward before that sample's loss is formed (the first reward sets it), as the
/// reference's per-sample update does.
class Reinforce {
 public:
  Reinforce(Controller controller, ReinforceOptions options);

  /// Adds one sample: returns the reward used. Every samples_per_update samples, one
  /// clipped Adam step on the accumulated mean gradient.
  double add(const ControllerSample& sample, double accuracy);
  double baseline() const { return baseline_; }
  int64_t updates() const { return optimizer_.steps_taken(); }

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  Controller controller_;
  ReinforceOptions options_;
  ArchOptimizer optimizer_;
  double baseline_ = 0;
  bool has_baseline_ = false;
  int64_t pending_ = 0;  ///< samples accumulated since the last update
};

}  // namespace enas
}  // namespace nasx
