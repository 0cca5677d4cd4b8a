#include "enas/controller.hpp"

#include <algorithm>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx::enas {

namespace {

bool chooses_inputs(const std::vector<CellDecisions>& cells) {
  for (const CellDecisions& cell : cells)
    if (cell.inputs_per_node > 0) return true;
  return false;
}

/// The cells' decisions, checked for what one controller can drive: the same operation
/// choices and the same kind of cell everywhere.
std::vector<CellDecisions> controller_cells(const SearchSpace& space) {
  std::vector<CellDecisions> cells = space.decisions();
  if (cells.empty())
    throw ConfigError("the ENAS controller: space '" + space.name() + "' describes no decisions");
  for (const CellDecisions& cell : cells)
    if (cell.operations != cells[0].operations ||
        (cell.inputs_per_node > 0) != chooses_inputs(cells))
      throw ConfigError(
          "the ENAS controller needs cells that choose alike (the same operations, "
          "all keeping every edge or all choosing inputs); space '" +
          space.name() + "' mixes them");
  return cells;
}

}  // namespace

ControllerOptions default_controller_options(const SearchSpace& space) {
  ControllerOptions options;
  if (chooses_inputs(space.decisions())) {
    options.hidden = 64;
    options.layers = 1;
    options.bias = false;
    options.temperature = 0;
    options.input_tanh_constant = 1.1;
    options.tanh_constant = 1.1 / 2.5;
    // The reference's b_soft (learned, [10, 10, 0, 0, 0]) and b_soft_no_learn
    // ([0.25, 0.25, -0.25, -0.25, -0.25], normal cell) over its operations
    // [sep_conv_3x3, sep_conv_5x5, avg_pool, max_pool, identity]: by name here.
    const std::vector<CellDecisions> cells = space.decisions();
    for (int64_t op : cells.at(0).operations) {
      const bool separable =
          space.operations().at(static_cast<size_t>(op)).rfind("sep_conv", 0) == 0;
      options.op_bias.push_back(separable ? 10.0 : 0.0);
      options.first_cell_op_bias.push_back(separable ? 0.25 : -0.25);
    }
  }
  return options;
}

ControllerImpl::ControllerImpl(const SearchSpace& space, ControllerOptions options)
    : space_(space),
      options_(options),
      cells_(controller_cells(space)),
      chooses_inputs_(chooses_inputs(cells_)) {
  const int64_t h = options.hidden;
  for (int64_t l = 0; l < options.layers; ++l)
    lstm_.push_back(
        register_module("lstm_" + std::to_string(l),
                        torch::nn::LSTMCell(torch::nn::LSTMCellOptions(h, h).bias(options.bias))));
  start_ = register_parameter("start", at::zeros({1, h}));
  const auto ops = static_cast<int64_t>(cells_[0].operations.size());
  op_embedding_ = register_module("op_embedding", torch::nn::Embedding(ops, h));
  op_logits_ = register_module(
      "op_logits", torch::nn::Linear(torch::nn::LinearOptions(h, ops).bias(options.bias)));
  if (chooses_inputs_) {
    attn_key_ =
        register_module("attn_key", torch::nn::Linear(torch::nn::LinearOptions(h, h).bias(false)));
    attn_query_ = register_module("attn_query",
                                  torch::nn::Linear(torch::nn::LinearOptions(h, h).bias(false)));
    attn_v_ =
        register_module("attn_v", torch::nn::Linear(torch::nn::LinearOptions(h, 1).bias(false)));
  }
  auto row = [&](const std::vector<double>& values, const char* what) {
    if (static_cast<int64_t>(values.size()) != ops)
      throw ConfigError(std::string("ENAS controller: ") + what + " has " +
                        std::to_string(values.size()) + " entries for " + std::to_string(ops) +
                        " operations");
    return at::tensor(values, at::TensorOptions(at::kDouble)).to(at::kFloat).view({1, ops});
  };
  if (!options.op_bias.empty()) op_bias_ = register_parameter("op_bias", at::zeros({1, ops}));
  if (!options.first_cell_op_bias.empty())
    first_cell_op_bias_ = register_buffer("first_cell_op_bias",
                                          row(options.first_cell_op_bias, "first_cell_op_bias"));
  at::NoGradGuard no_grad;
  for (auto& p : parameters()) p.uniform_(-0.1, 0.1);
  if (op_bias_.defined()) op_bias_.copy_(row(options.op_bias, "op_bias"));
}

int64_t ControllerImpl::decisions_per_architecture() const {
  int64_t decisions = 0;
  for (const CellDecisions& cell : cells_)
    for (const auto& edges : cell.node_edges)
      decisions += chooses_inputs_ ? 2 * cell.inputs_per_node : static_cast<int64_t>(edges.size());
  return decisions;
}

ControllerSample ControllerImpl::sample(std::mt19937_64& rng) {
  return run(Mode::Sample, {}, &rng);
}

ControllerSample ControllerImpl::replay(const std::vector<int64_t>& decisions) {
  if (static_cast<int64_t>(decisions.size()) != decisions_per_architecture())
    throw GenotypeError("ENAS controller: expected " +
                        std::to_string(decisions_per_architecture()) + " decisions, got " +
                        std::to_string(decisions.size()));
  return run(Mode::Replay, decisions, nullptr);
}

Architecture ControllerImpl::most_likely() {
  at::NoGradGuard no_grad;
  return run(Mode::Greedy, {}, nullptr).arch;
}

int64_t ControllerImpl::decide(ControllerSample& out, Mode mode, const std::vector<int64_t>& forced,
                               std::mt19937_64* rng, const at::Tensor& logits,
                               const std::vector<int64_t>& allowed) {
  at::Tensor z = logits.reshape({-1});
  if (!allowed.empty()) z = z.index_select(0, at::tensor(allowed, at::TensorOptions(at::kLong)));
  const at::Tensor log_p = at::log_softmax(z, 0);
  const at::Tensor p = log_p.exp();
  int64_t position = 0;
  const size_t index = out.decisions.size();
  auto position_of = [&](int64_t entry) {
    if (allowed.empty()) return entry;
    for (size_t i = 0; i < allowed.size(); ++i)
      if (allowed[i] == entry) return static_cast<int64_t>(i);
    throw GenotypeError("ENAS controller: decision " + std::to_string(index) + " = " +
                        std::to_string(entry) + " is not allowed there");
  };
  if (mode == Mode::Replay) {
    position = position_of(forced[index]);
    if (position < 0 || position >= z.size(0))
      throw GenotypeError("ENAS controller: decision " + std::to_string(index) +
                          " is out of range");
  } else if (mode == Mode::Greedy) {
    position = z.argmax().item<int64_t>();
  } else {
    const at::Tensor probs = p.detach().to(at::kDouble).contiguous();
    const double* q = probs.data_ptr<double>();
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(*rng);
    position = probs.size(0) - 1;
    for (int64_t i = 0; i < probs.size(0); ++i) {
      if (u < q[i]) {
        position = i;
        break;
      }
      u -= q[i];
    }
  }
  out.log_prob = out.log_prob + log_p[position];
  out.entropy = out.entropy - (p * log_p).sum();
  const int64_t entry = allowed.empty() ? position : allowed[static_cast<size_t>(position)];
  out.decisions.push_back(entry);
  return entry;
}

ControllerSample ControllerImpl::run(Mode mode, const std::vector<int64_t>& forced,
                                     std::mt19937_64* rng) {
  ControllerSample out;
  out.log_prob = at::zeros({}, start_.options());
  out.entropy = at::zeros({}, start_.options());
  std::vector<at::Tensor> h(lstm_.size(), at::zeros_like(start_)), c = h;
  auto lstm_step = [&](at::Tensor x) {
    for (size_t l = 0; l < lstm_.size(); ++l) {
      std::tie(h[l], c[l]) = lstm_[l](x, std::make_tuple(h[l], c[l]));
      x = h[l];
    }
    return x;
  };
  auto bound = [&](at::Tensor logits, double tanh_constant) {
    if (options_.temperature > 0) logits = logits / options_.temperature;
    return tanh_constant > 0 ? tanh_constant * at::tanh(logits) : logits;
  };
  auto decide = [&](const at::Tensor& logits, const std::vector<int64_t>& allowed) {
    return ControllerImpl::decide(out, mode, forced, rng, logits, allowed);
  };
  // An operation for edge `edge` of cell `cell`; the next input is its embedding.
  at::Tensor x = start_;
  auto choose_operation = [&](size_t cell, int64_t edge) {
    at::Tensor logits = op_logits_(lstm_step(x));
    if (op_bias_.defined()) logits = logits + op_bias_;
    logits = bound(logits, options_.tanh_constant);
    if (cell == 0 && first_cell_op_bias_.defined()) logits = logits + first_cell_op_bias_;
    const int64_t op = decide(logits, {});
    out.arch.cells[cell][static_cast<size_t>(edge)] =
        static_cast<int>(cells_[cell].operations[static_cast<size_t>(op)]);
    x = op_embedding_(at::tensor({op}, at::TensorOptions(at::kLong)));
  };

  for (size_t cell = 0; cell < cells_.size(); ++cell) {
    const CellDecisions& decisions = cells_[cell];
    out.arch.cells.push_back(
        std::vector<int>(static_cast<size_t>(space_.edges_per_cell()), Architecture::kNoEdge));
    if (!chooses_inputs_) {
      for (const auto& edges : decisions.node_edges)
        for (int64_t edge : edges) choose_operation(cell, edge);
      continue;
    }
    std::vector<at::Tensor> keys, anchors;
    for (int64_t k = 0; k < decisions.inputs; ++k) {  // the cell's inputs
      const at::Tensor out_h = lstm_step(x);
      keys.push_back(attn_key_(out_h));
      anchors.push_back(at::zeros_like(out_h));
    }
    for (const auto& edges : decisions.node_edges) {
      std::vector<int64_t> inputs;
      for (int64_t j = 0; j < decisions.inputs_per_node; ++j) {
        const at::Tensor query = attn_query_(lstm_step(x));
        const at::Tensor scores = attn_v_(at::tanh(at::cat(keys, 0) + query));  // [states, 1]
        std::vector<int64_t> allowed;
        for (int64_t s = 0; s < static_cast<int64_t>(edges.size()); ++s)
          if (std::find(inputs.begin(), inputs.end(), s) == inputs.end()) allowed.push_back(s);
        inputs.push_back(
            decide(bound(scores.reshape({1, -1}), options_.input_tanh_constant), allowed));
        x = anchors[static_cast<size_t>(inputs.back())];
      }
      for (int64_t input : inputs) choose_operation(cell, edges[static_cast<size_t>(input)]);
      const at::Tensor node_h = lstm_step(x);
      anchors.push_back(node_h);
      keys.push_back(attn_key_(node_h));
      x = start_;
    }
  }
  return out;
}

at::Tensor reinforce_loss(const ControllerSample& sample, double reward, double baseline) {
  return -(reward - baseline) * sample.log_prob;
}

namespace {
AdamOptions adam_options(const ReinforceOptions& options) {
  AdamOptions adam;
  adam.lr = options.lr;
  adam.beta1 = options.beta1;
  adam.beta2 = options.beta2;
  adam.eps = options.eps;
  adam.weight_decay = 0;
  return adam;
}
}  // namespace

Reinforce::Reinforce(Controller controller, ReinforceOptions options)
    : controller_(std::move(controller)),
      options_(options),
      optimizer_(controller_->parameters(), adam_options(options)) {
  optimizer_.zero_grad();
}

double Reinforce::add(const ControllerSample& sample, double accuracy) {
  const double reward = accuracy + options_.entropy_weight * sample.entropy.item<double>();
  if (!has_baseline_) {
    baseline_ = reward;
    has_baseline_ = true;
  } else {
    baseline_ = options_.baseline_decay * baseline_ + (1 - options_.baseline_decay) * reward;
  }
  (reinforce_loss(sample, reward, baseline_) / static_cast<double>(options_.samples_per_update))
      .backward();
  if (++pending_ == options_.samples_per_update) {
    if (options_.grad_clip > 0) {
      at::NoGradGuard no_grad;
      std::vector<at::Tensor> norms;
      for (const auto& p : controller_->parameters())
        if (p.grad().defined()) norms.push_back(p.grad().norm());
      const double norm = at::stack(norms).norm().item<double>();
      if (norm > options_.grad_clip)
        for (auto& p : controller_->parameters())
          if (p.grad().defined()) p.mutable_grad().mul_(options_.grad_clip / (norm + 1e-6));
    }
    optimizer_.step();
    optimizer_.zero_grad();
    pending_ = 0;
  }
  return reward;
}

void Reinforce::save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive controller, optimizer;
  controller_->save(controller);
  optimizer_.save(optimizer);
  archive.write("controller", controller);
  archive.write("optimizer", optimizer);
  archive.write("baseline", c10::IValue(baseline_));
  archive.write("has_baseline", c10::IValue(has_baseline_));
  archive.write("pending", c10::IValue(pending_));
  std::vector<at::Tensor> grads;
  for (const auto& p : controller_->parameters())
    grads.push_back(p.grad().defined() ? p.grad().detach().clone() : at::zeros_like(p));
  archive.write("pending_gradients", c10::IValue(c10::List<at::Tensor>(grads)));
}

void Reinforce::load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive controller, optimizer;
  archive.read("controller", controller);
  archive.read("optimizer", optimizer);
  controller_->load(controller);
  optimizer_.load(optimizer);
  c10::IValue value;
  archive.read("baseline", value);
  baseline_ = value.toDouble();
  archive.read("has_baseline", value);
  has_baseline_ = value.toBool();
  archive.read("pending", value);
  pending_ = value.toInt();
  archive.read("pending_gradients", value);
  const auto grads = value.toTensorList();
  auto params = controller_->parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads.get(i).clone();
}

}  // namespace nasx::enas
