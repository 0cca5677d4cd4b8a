// The perturbation selector: DARTS-PT (Wang, Cheng, Chen, Tang, Hsieh, "Rethinking
// Architecture Selection in Differentiable NAS", ICLR 2021; algorithms/darts-pt.md).
//
// Edge by edge (in a seeded random order, one edge of every cell type per decision, normal
// first), each candidate operation is masked out of the mixed edge and the supernet is
// evaluated on the validation split with batch statistics; the operation whose removal hurts
// most is fixed. Then, per node with more than two inputs, each input is judged by the
// supernet with it alone removed, and those whose removal hurts least are dropped until
// two remain (the later edge on ties). Between decisions the supernet is fine-tuned for
// `tune_epochs` epochs: weights by a new SGD, alphas of undecided edges by first-order
// DARTS, every forward with the effective weights (nasx/perturbation.hpp).
//
// One host step is one tuning epoch; a decision opens every `tune_epochs`-th step, so the
// reference's schedule is tune_epochs x (decisions - 1) + 1 steps (DARTS space: 17
// decisions, 81 epochs). The decisions and the optimizers are checkpointed by the host
// after every step.

#include <algorithm>
#include <iomanip>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include <nasx/bilevel.hpp>
#include <nasx/error.hpp>
#include <nasx/evaluate.hpp>
#include <nasx/metrics.hpp>
#include <nasx/optim.hpp>
#include <nasx/paired_epoch.hpp>
#include <nasx/selector.hpp>
#include <nasx/space.hpp>
#include <nasx/supernet.hpp>
#include "perturbation/decisions.hpp"

namespace {

/// What a masked operation is judged by.
enum class Criterion { Accuracy, Loss };

struct PerturbationOptions : nasx::WeightSgdParams, nasx::ArchAdamParams {
  int64_t tune_epochs = 5;
  Criterion criterion = Criterion::Accuracy;
  int64_t eval_batches = 0;
  int64_t steps_per_epoch = 0;
  bool tune_arch = true;
  PerturbationOptions() {
    w_lr = 0.0025;    // the search's 0.025 / 10
    w_lr_min = -1.0;  // the reference's per space, see below
  }
};

const nasx::OptionsBinding<PerturbationOptions>& binding() {
  using O = PerturbationOptions;
  static const auto b = [] {
    nasx::OptionsBinding<O> b;
    b.field("tune_epochs", &O::tune_epochs,
            "fine-tuning epochs after each decision (one host step each; 0: no tuning)",
            nasx::Range{0.0, {}})
        .field("criterion", &O::criterion,
               "what a masked operation is judged by: validation accuracy or loss",
               {{"acc", Criterion::Accuracy}, {"loss", Criterion::Loss}})
        .field("eval_batches", &O::eval_batches,
               "validation minibatches per evaluation (0: the whole split)", nasx::Range{0.0, {}})
        .field("steps_per_epoch", &O::steps_per_epoch,
               "cap on fine-tuning minibatches per epoch (0: one pass over the smaller split)",
               nasx::Range{0.0, {}})
        .field("tune_arch", &O::tune_arch,
               "update alpha of undecided edges by first-order DARTS while tuning (false: the "
               "fixed-alpha variant)")
        .field("w_lr", &O::w_lr, "fine-tuning weight SGD learning rate (reference: search lr / 10)",
               nasx::Range{0.0, {}})
        .field("w_lr_min", &O::w_lr_min,
               "final fine-tuning learning rate of the cosine schedule; -1: the reference's "
               "(0.001 on darts, no schedule on nb201)",
               nasx::Range{-1.0, 10.0})
        .field("w_momentum", &O::w_momentum, "weight SGD momentum", nasx::Range{0.0, 0.999})
        .field("w_nesterov", &O::w_nesterov, "Nesterov momentum for the weights")
        .field("w_weight_decay", &O::w_weight_decay, "weight L2 decay", nasx::Range{0.0, 1.0})
        .field("grad_clip", &O::grad_clip, "max weight-gradient norm (0: off)",
               nasx::Range{0.0, {}});
    nasx::bind_arch_adam(b);
    return b;
  }();
  return b;
}

std::string number(double value) {
  std::ostringstream out;
  out << std::setprecision(6) << value;
  return out.str();
}

const char* criterion_name(Criterion criterion) {
  return criterion == Criterion::Loss ? "loss" : "acc";
}

std::string edge_list(const std::vector<int64_t>& edges) {
  std::string out;
  for (size_t i = 0; i < edges.size(); ++i) out += (i ? ", " : "") + std::to_string(edges[i]);
  return "[" + out + "]";
}

class Perturbation final : public nasx::Selector {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    nasx::Supernet& net = ctx.supernet();
    const nasx::SearchSpace& space = ctx.space();
    cell_types_ = net.cell_types();
    // The space's description of its cells: where nodes keep some of their inputs, the
    // topology step decides which; an edge's candidates are the operations the space
    // allows on a kept edge (DARTS: all but `none`, which masking could never make win).
    const nasx::CellDecisions cell = space.decisions().at(0);
    if (cell.inputs_per_node > 0) nodes_ = cell.node_edges;
    candidates_ = cell.operations;
    const int64_t edges = space.edges_per_cell();
    std::vector<int64_t> decidable_nodes;  // nodes with more than two inputs to choose from
    for (int64_t n = 0; n < static_cast<int64_t>(nodes_.size()); ++n)
      if (nodes_[static_cast<size_t>(n)].size() > 2) decidable_nodes.push_back(n);
    decisions_per_cell_ = edges + static_cast<int64_t>(decidable_nodes.size());

    // The reference draws an undecided edge (node) uniformly at each decision: the same
    // as walking a seeded random permutation, which needs no generator in the checkpoint.
    std::mt19937_64 rng(nasx::derive_seed(ctx.seed(), 61));
    edge_order_.assign(cell_types_.size(), {});
    node_order_.assign(cell_types_.size(), {});
    for (size_t c = 0; c < cell_types_.size(); ++c) {
      edge_order_[c].resize(static_cast<size_t>(edges));
      std::iota(edge_order_[c].begin(), edge_order_[c].end(), 0);
      std::shuffle(edge_order_[c].begin(), edge_order_[c].end(), rng);
      node_order_[c] = decidable_nodes;
      std::shuffle(node_order_[c].begin(), node_order_[c].end(), rng);
    }
    decisions_.assign(cell_types_.size(), nasx::EdgeDecisions(edges));

    nasx::WeightSgdParams sgd = options_;
    if (sgd.w_lr_min < 0) sgd.w_lr_min = nodes_.empty() ? sgd.w_lr : 0.001;
    weight_optimizer_.emplace(net.weight_parameters(),
                              sgd.sgd(std::max<int64_t>(total_steps(), 1)));
    arch_optimizer_.emplace(net.arch_parameters(), options_.adam());
    loaders_.emplace(ctx, /*train_stream=*/62, /*search_stream=*/63);
  }

  int64_t total_steps() const override { return interval() * (decisions_per_cell_ - 1) + 1; }

  std::map<std::string, double> step(nasx::Context& ctx, int64_t step) override {
    std::map<std::string, double> metrics;
    if (step % interval() == 0) {
      const int64_t decision = step / interval();
      for (size_t c = 0; c < cell_types_.size() && !ctx.stop_requested(); ++c)
        metrics["decided_acc_" + cell_types_[c]] = decide(ctx, c, decision);
      metrics["decisions"] = static_cast<double>(decision + 1);
    }
    if (options_.tune_epochs > 0 && !ctx.stop_requested()) {
      const auto tuned = tune(ctx, step);
      metrics.insert(tuned.begin(), tuned.end());
    }
    return metrics;
  }

  nasx::Architecture select(nasx::Context& ctx) override {
    nasx::Architecture arch;
    for (size_t c = 0; c < decisions_.size(); ++c) {
      std::vector<int> ops;
      for (size_t e = 0; e < decisions_[c].operation.size(); ++e) {
        const int64_t op = decisions_[c].operation[e];
        if (op < 0 && !decisions_[c].removed[e])
          throw nasx::Error("perturbation: edge " + std::to_string(e) + " of the " +
                            cell_types_[c] +
                            " cell is undecided; the selection has not run all its steps");
        ops.push_back(decisions_[c].removed[e] ? nasx::Architecture::kNoEdge
                                               : static_cast<int>(op));
      }
      arch.cells.push_back(std::move(ops));
    }
    ctx.space().check(arch);
    return arch;
  }

  void state(nasx::StateArchive& archive) override {
    for (size_t c = 0; c < decisions_.size(); ++c) {
      std::vector<int64_t> operation = decisions_[c].operation;
      std::vector<int64_t> removed(decisions_[c].removed.begin(), decisions_[c].removed.end());
      archive.field("operation_" + cell_types_[c], operation)
          .field("removed_" + cell_types_[c], removed);
      if (archive.loading()) {
        if (operation.size() != decisions_[c].operation.size() ||
            removed.size() != decisions_[c].removed.size())
          throw nasx::Error("perturbation: the checkpoint's decisions are for another space");
        decisions_[c].operation = operation;
        for (size_t e = 0; e < removed.size(); ++e) decisions_[c].removed[e] = removed[e] != 0;
      }
    }
    archive.object("weight_optimizer", *weight_optimizer_)
        .object("arch_optimizer", *arch_optimizer_);
  }

 private:
  int64_t interval() const { return std::max<int64_t>(options_.tune_epochs, 1); }

  /// Effective weights of every cell type; with a graph to the alphas when asked.
  std::vector<at::Tensor> weights(nasx::Supernet& net, bool with_graph) const {
    const auto alphas = net.arch_parameters();
    std::vector<at::Tensor> out;
    for (size_t c = 0; c < alphas.size(); ++c) {
      at::Tensor w = nasx::effective_weights(alphas[c], decisions_[c]);
      out.push_back(with_graph ? w : w.detach());
    }
    return out;
  }

  /// The judged quantity of the supernet with cell type `cell`'s weights replaced by
  /// `masked`: validation accuracy, or minus the loss (so that lower is always worse).
  double judge(nasx::Context& ctx, const std::vector<at::Tensor>& all, size_t cell,
               const at::Tensor& masked) {
    std::vector<at::Tensor> w = all;
    w[cell] = masked;
    const nasx::EvalResult r = nasx::evaluate_supernet_with_weights(
        ctx.supernet(), w, ctx.data().search, ctx.batch_size(), options_.eval_batches,
        /*batch_statistics=*/true);
    ++evaluations_;
    ctx.report_progress(evaluations_, evaluations_planned_, meter_);
    return options_.criterion == Criterion::Loss ? -r.loss : r.accuracy;
  }

  /// Decision `decision` of cell type `cell`; returns the judged value of the supernet
  /// with the decision made (the accuracy with the chosen candidate's removal).
  double decide(nasx::Context& ctx, size_t cell, int64_t decision) {
    nasx::Supernet& net = ctx.supernet();
    const std::vector<at::Tensor> all = weights(net, false);
    const auto measure = [&](const at::Tensor& masked) { return judge(ctx, all, cell, masked); };
    const int64_t edges = static_cast<int64_t>(edge_order_[cell].size());
    const auto& operations = ctx.space().operations();
    evaluations_ = 0;
    meter_.reset();
    if (decision < edges) {
      const int64_t edge = edge_order_[cell][static_cast<size_t>(decision)];
      evaluations_planned_ = static_cast<int64_t>(candidates_.size());
      const nasx::OperationDecision d =
          nasx::choose_operation(all[cell], edge, candidates_, measure);
      if (ctx.stop_requested()) return 0;
      decisions_[cell].operation[static_cast<size_t>(edge)] = d.chosen;
      nasx::Json masked = nasx::Json::object();
      double chosen_value = 0;
      for (const auto& [k, value] : d.masked_accuracy) {
        masked[operations[static_cast<size_t>(k)]] = value;
        if (k == d.chosen) chosen_value = value;
      }
      ctx.log_event("pt_operation", {{"cell", cell_types_[cell]},
                                     {"edge", edge},
                                     {"chosen", operations[static_cast<size_t>(d.chosen)]},
                                     {"criterion", criterion_name(options_.criterion)},
                                     {"masked", masked}});
      ctx.info("  " + cell_types_[cell] + " edge " + std::to_string(edge) + ": " +
               operations[static_cast<size_t>(d.chosen)] + " (" +
               criterion_name(options_.criterion) + " without it " + number(chosen_value) + ")");
      return chosen_value;
    }
    const int64_t node = node_order_[cell][static_cast<size_t>(decision - edges)];
    const auto& inputs = nodes_[static_cast<size_t>(node)];
    const auto n = static_cast<int64_t>(inputs.size());
    evaluations_planned_ = n;  // each input judged once, alone
    const nasx::InputDecision d = nasx::choose_inputs(all[cell], inputs, measure);
    if (ctx.stop_requested()) return 0;
    for (int64_t e : d.dropped) decisions_[cell].removed[static_cast<size_t>(e)] = true;
    ctx.log_event(
        "pt_topology",
        {{"cell", cell_types_[cell]}, {"node", node}, {"kept", d.kept}, {"dropped", d.dropped}});
    ctx.info("  " + cell_types_[cell] + " node " + std::to_string(node) + ": keeps edges " +
             edge_list(d.kept));
    return d.accuracy;  // the last dropped input's trial
  }

  /// One fine-tuning epoch with the effective weights.
  std::map<std::string, double> tune(nasx::Context& ctx, int64_t epoch) {
    nasx::Supernet& net = ctx.supernet();
    return nasx::paired_epoch(
        ctx, *loaders_, *weight_optimizer_, epoch, options_.steps_per_epoch,
        [&](const nasx::Batch& train, const nasx::Batch& search, nasx::MetricsMeter& meter) {
          if (options_.tune_arch) {
            arch_optimizer_->zero_grad();
            const nasx::ForwardResult arch =
                nasx::first_order_arch_gradient(net, search, weights(net, true));
            arch_optimizer_->step();
            meter.add("arch_loss", arch.loss, search.labels.size(0));
          }
          const nasx::ForwardResult w =
              nasx::weight_step(net, *weight_optimizer_, train, weights(net, false));
          meter.add("tune_loss", w.loss, train.labels.size(0));
          meter.add_accuracy("tune_acc", w.logits, train.labels);
        });
  }

  PerturbationOptions options_;
  std::vector<std::string> cell_types_;
  std::vector<std::vector<int64_t>> nodes_;
  std::vector<int64_t> candidates_;
  int64_t decisions_per_cell_ = 1;
  std::vector<std::vector<int64_t>> edge_order_, node_order_;
  std::vector<nasx::EdgeDecisions> decisions_;
  std::optional<nasx::WeightOptimizer> weight_optimizer_;
  std::optional<nasx::ArchOptimizer> arch_optimizer_;
  std::optional<nasx::PairedLoaders> loaders_;
  nasx::MetricsMeter meter_;  // empty: progress during a decision counts evaluations
  int64_t evaluations_ = 0, evaluations_planned_ = 0;
};

}  // namespace

NASX_PLUGIN(Perturbation, "perturbation", "1.0.0",
            "DARTS-PT: operations and inputs chosen by how much masking them hurts the "
            "supernet, fine-tuned between decisions (Wang et al., ICLR 2021)")
