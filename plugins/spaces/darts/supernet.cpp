#include "darts/supernet.hpp"

#include <algorithm>
#include <numeric>

#include <ATen/ATen.h>

#include "darts/depthwise.hpp"
#include "darts/mixture.hpp"
#include "nasx/distributed.hpp"
#include "nasx/error.hpp"
#include "nasx/memory_format.hpp"

namespace nasx::darts {

// Reference order: node 0's edges from s0, s1; node 1's from s0, s1, node 0; ...
int64_t edge_index(int64_t node, int64_t input) { return 2 * node + node * (node - 1) / 2 + input; }

namespace {

/// The first node a state feeds: s0 and s1 feed every node, node j the nodes after it.
int64_t first_target(int64_t state) { return state < 2 ? 0 : state - 1; }

}  // namespace

std::vector<int64_t> EdgeGroupImpl::all_operations() { return {0, 1, 2, 3, 4, 5, 6, 7}; }

namespace {

// Indices into operation_names().
enum Op : int64_t { kNone, kMaxPool, kAvgPool, kSkip, kSep3, kSep5, kDil3, kDil5 };

}  // namespace

EdgeGroupImpl::EdgeGroupImpl(int64_t c, int64_t edges, int64_t stride,
                             std::vector<int64_t> operations)
    : channels_(c),
      edges_(edges),
      stride_(stride),
      operations_(std::move(operations)),
      column_(operation_names().size(), -1) {
  for (size_t k = 0; k < operations_.size(); ++k)
    column_.at(static_cast<size_t>(operations_[k])) = static_cast<int64_t>(k);
  auto has = [&](int64_t op) { return column_[static_cast<size_t>(op)] >= 0; };
  using Kind = PoolBNImpl::Kind;
  // In the search network both pools are followed by a BatchNorm without affine
  // parameters (reference: MixedOp in model_search.py); the same for every edge.
  if (has(kMaxPool))
    max_pool_ = register_module("max_pool_3x3", PoolBN(Kind::Max, c, stride, true, false));
  if (has(kAvgPool))
    avg_pool_ = register_module("avg_pool_3x3", PoolBN(Kind::Average, c, stride, true, false));
  if (has(kSkip) && stride != 1)
    skip_reduce_ = register_module("skip_connect", FactorizedReduce(c, c, false, edges));
  if (has(kSep3))
    sep_3_ = register_module("sep_conv_3x3", SepConv(c, c, 3, stride, 1, false, edges));
  if (has(kSep5))
    sep_5_ = register_module("sep_conv_5x5", SepConv(c, c, 5, stride, 2, false, edges));
  if (has(kDil3))
    dil_3_ = register_module("dil_conv_3x3", DilConv(c, c, 3, stride, 2, 2, false, edges));
  if (has(kDil5))
    dil_5_ = register_module("dil_conv_5x5", DilConv(c, c, 5, stride, 4, 2, false, edges));
}

std::vector<at::Tensor> EdgeGroupImpl::forward(const at::Tensor& x, const at::Tensor& weights) {
  // relu(x) in every edge's copy, side by side on channels: the input of the four
  // operations' first (grouped) convolutions, made once for all four and only read by
  // them — their backward passes keep x itself, which the cell keeps anyway. Not made
  // where the convolutions read x themselves (nasx's channels-last kernel).
  at::Tensor activated;
  if ((sep_3_ || sep_5_ || dil_3_ || dil_5_) && depthwise_conv2d_of_relu_reads_input(x)) {
    const at::NoGradGuard only_read;
    const at::Tensor relu_x = at::relu(x);
    activated = edges_ == 1
                    ? relu_x
                    : relu_x.repeat({1, edges_, 1, 1}).contiguous(relu_x.suggest_memory_format());
  }
  // Each operation's output: [B, E*C, H, W] (one per edge), or [B, C, H, W] for the
  // operations that read the shared input (pools, identity), with its weight's column.
  std::vector<at::Tensor> terms;
  std::vector<int64_t> columns;
  auto add = [&](const at::Tensor& term, int64_t op) {
    terms.push_back(term);
    columns.push_back(column_[static_cast<size_t>(op)]);
  };
  if (sep_3_) add(sep_3_->forward(x, activated), kSep3);
  if (sep_5_) add(sep_5_->forward(x, activated), kSep5);
  if (dil_3_) add(dil_3_->forward(x, activated), kDil3);
  if (dil_5_) add(dil_5_->forward(x, activated), kDil5);
  if (max_pool_) add(max_pool_(x), kMaxPool);
  if (avg_pool_) add(avg_pool_(x), kAvgPool);
  if (column_[kSkip] >= 0) add(stride_ == 1 ? x : skip_reduce_->forward(x), kSkip);
  if (terms.empty()) {  // `none` alone: every edge outputs zeros
    const at::Tensor zeros = zero_op(x, stride_).unsqueeze(1);
    return (zeros.expand({-1, edges_, -1, -1, -1}) *
            weights.select(1, column_[kNone]).reshape({1, edges_, 1, 1, 1}))
        .unbind(1);
  }
  // The weights' columns in the terms' order (the terms leave `none` out). Built once
  // and kept on the weights' device: no host-to-device copy per step.
  if (!term_columns_.defined() || term_columns_.device() != weights.device())
    term_columns_ = at::tensor(columns, at::TensorOptions(at::kLong)).to(weights.device());
  return weighted_mixture(weights.index_select(1, term_columns_), terms, edges_, channels_);
}

at::Tensor EdgeGroupImpl::forward_edge(const at::Tensor& x, int64_t edge, int64_t column) {
  TORCH_CHECK(column >= 0 && column < static_cast<int64_t>(operations_.size()),
              "DARTS edge: no operation column ", column);
  switch (operations_[static_cast<size_t>(column)]) {
    case kNone:
      return zero_op(x, stride_);
    case kMaxPool:
      return max_pool_(x);
    case kAvgPool:
      return avg_pool_(x);
    case kSkip:
      return stride_ == 1 ? x : skip_reduce_->forward_copy(x, edge);
    case kSep3:
      return sep_3_->forward_copy(x, edge);
    case kSep5:
      return sep_5_->forward_copy(x, edge);
    case kDil3:
      return dil_3_->forward_copy(x, edge);
    case kDil5:
      return dil_5_->forward_copy(x, edge);
    default:
      TORCH_CHECK(false, "DARTS edge: no operation ", column);
  }
}

SearchCellImpl::SearchCellImpl(int64_t c_prev_prev, int64_t c_prev, int64_t c, bool reduction,
                               bool reduction_prev, const std::vector<int64_t>& operations)
    : reduction_(reduction) {
  if (reduction_prev)
    preprocess_0_reduce_ = register_module("preprocess_0", FactorizedReduce(c_prev_prev, c, false));
  else
    preprocess_0_ = register_module("preprocess_0", ReLUConvBN(c_prev_prev, c, 1, 1, 0, false));
  preprocess_1_ = register_module("preprocess_1", ReLUConvBN(c_prev, c, 1, 1, 0, false));
  for (int64_t state = 0; state < kNodes + 1; ++state) {
    const int64_t stride = reduction && state < 2 ? 2 : 1;
    groups_.push_back(
        register_module("state_" + std::to_string(state),
                        EdgeGroup(c, kNodes - first_target(state), stride, operations)));
    std::vector<int64_t> rows;
    for (int64_t node = first_target(state); node < kNodes; ++node)
      rows.push_back(edge_index(node, state));
    group_rows_.push_back(at::tensor(rows, at::TensorOptions(at::kLong)));
  }
}

at::Tensor SearchCellImpl::forward(const at::Tensor& s0, const at::Tensor& s1,
                                   const at::Tensor& weights) {
  std::vector<at::Tensor> states;
  states.reserve(2 + kNodes);
  states.push_back(preprocess_0_reduce_ ? preprocess_0_reduce_(s0) : preprocess_0_(s0));
  states.push_back(preprocess_1_(s1));
  std::vector<at::Tensor> nodes(kNodes);  // running sums of each node's incoming edges
  for (int64_t state = 0; state < kNodes + 1; ++state) {
    if (state >= 2) states.push_back(nodes[state - 2]);  // node state-2 has all its inputs
    const int64_t first = first_target(state);
    at::Tensor& rows = group_rows_[static_cast<size_t>(state)];
    if (rows.device() != weights.device()) rows = rows.to(weights.device());
    const at::Tensor group_weights = weights.index_select(0, rows);
    const std::vector<at::Tensor> out = groups_[state](states[state], group_weights);
    for (int64_t node = first; node < kNodes; ++node) {
      const at::Tensor& y = out[node - first];
      nodes[node] = nodes[node].defined() ? nodes[node] + y : y;
    }
  }
  states.push_back(nodes[kNodes - 1]);
  return at::cat(at::TensorList(states).slice(2), 1);
}

at::Tensor SearchCellImpl::forward_path(const at::Tensor& s0, const at::Tensor& s1,
                                        const std::vector<int>& ops, InputMemo* memo) {
  std::vector<at::Tensor> states;
  states.reserve(2 + kNodes);
  if (memo && !memo->states.empty()) {
    states = memo->states;
  } else {
    states.push_back(preprocess_0_reduce_ ? preprocess_0_reduce_(s0) : preprocess_0_(s0));
    states.push_back(preprocess_1_(s1));
    if (memo) memo->states = states;
  }
  for (int64_t node = 0; node < kNodes; ++node) {
    at::Tensor sum;
    for (int64_t input = 0; input < node + 2; ++input) {
      const int op = ops[static_cast<size_t>(edge_index(node, input))];
      if (op == Architecture::kNoEdge) continue;
      auto edge = [&] {
        return groups_[input]->forward_edge(states[input], node - first_target(input), op);
      };
      at::Tensor y;
      if (memo && input < 2) {
        at::Tensor& kept = memo->edges[{input, node, op}];
        if (!kept.defined()) kept = edge();
        y = kept;
      } else {
        y = edge();
      }
      sum = sum.defined() ? sum + y : y;
    }
    TORCH_CHECK(sum.defined(), "DARTS cell: node ", node, " has no input edge");
    states.push_back(sum);
  }
  return at::cat(at::TensorList(states).slice(2), 1);
}

DartsSupernet::DartsSupernet(const SearchSpace& space, const SpaceOptions& options,
                             const DataShape& shape, const std::vector<int64_t>& operations)
    : space_(space), channels_last_(options.memory_format == "channels_last") {
  // FactorizedReduce joins two stride-2 convolutions, one shifted by a pixel: their
  // outputs only agree in size on even inputs, as in the reference.
  if (shape.height % 4 != 0 || shape.width % 4 != 0)
    throw ConfigError("the DARTS space needs image sizes divisible by 4 (two reductions), got " +
                      std::to_string(shape.height) + "x" + std::to_string(shape.width));
  const int64_t c = options.channels;
  int64_t c_current = options.stem_multiplier * c;
  stem_conv_ = register_module(
      "stem_conv",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(shape.channels, c_current, 3).padding(1).bias(false)));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(c_current));
  int64_t c_prev_prev = c_current, c_prev = c_current;
  c_current = c;
  bool reduction_prev = false;
  for (int64_t i = 0; i < options.layers; ++i) {
    const bool reduction = i == options.layers / 3 || i == 2 * options.layers / 3;
    if (reduction) c_current *= 2;
    cells_.push_back(register_module(
        "cell_" + std::to_string(i),
        SearchCell(c_prev_prev, c_prev, c_current, reduction, reduction_prev, operations)));
    reduction_prev = reduction;
    c_prev_prev = c_prev;
    c_prev = kNodes * c_current;
  }
  classifier_ = register_module("classifier", torch::nn::Linear(c_prev, shape.classes));
  const auto n_ops = static_cast<int64_t>(operations.size());
  alpha_normal_ = register_parameter("alpha_normal", 1e-3 * at::randn({kEdges, n_ops}));
  alpha_reduce_ = register_parameter("alpha_reduce", 1e-3 * at::randn({kEdges, n_ops}));
}

at::Tensor DartsSupernet::forward(const at::Tensor& images) {
  return forward_with_weights(images, arch_weights());
}

at::Tensor DartsSupernet::stem(const at::Tensor& images) {
  const at::Tensor x = channels_last_ ? channels_last(images) : images;
  return batch_norm(stem_bn_, stem_conv_(x));
}

at::Tensor DartsSupernet::path_from_stem(const at::Tensor& stem_out, const Architecture& arch,
                                         SearchCellImpl::InputMemo* first_cell) {
  at::Tensor s0 = stem_out;
  at::Tensor s1 = s0;
  for (size_t i = 0; i < cells_.size(); ++i) {
    SearchCell& cell = cells_[i];
    at::Tensor next = cell->forward_path(s0, s1, arch.cells[cell->reduction() ? 1 : 0],
                                         i == 0 ? first_cell : nullptr);
    s0 = s1;
    s1 = next;
  }
  return classifier_(s1.mean({2, 3}));
}

at::Tensor DartsSupernet::forward_path(const at::Tensor& images, const Architecture& arch) {
  space_.check(arch);
  return path_from_stem(stem(images), arch, nullptr);
}

std::vector<at::Tensor> DartsSupernet::forward_paths(const at::Tensor& images,
                                                     const std::vector<Architecture>& archs) {
  for (const Architecture& arch : archs) space_.check(arch);
  const at::Tensor stem_out = archs.empty() ? at::Tensor() : stem(images);
  SearchCellImpl::InputMemo first_cell;
  std::vector<at::Tensor> logits;
  logits.reserve(archs.size());
  for (const Architecture& arch : archs)
    logits.push_back(path_from_stem(stem_out, arch, &first_cell));
  return logits;
}

at::Tensor DartsSupernet::forward_with_weights(const at::Tensor& images,
                                               const std::vector<at::Tensor>& weights) {
  TORCH_CHECK(weights.size() == 2, "DARTS supernet: expected 2 weight matrices, got ",
              weights.size());
  at::Tensor s0 = stem(images);
  at::Tensor s1 = s0;
  for (auto& cell : cells_) {
    at::Tensor next = cell(s0, s1, cell->reduction() ? weights[1] : weights[0]);
    s0 = s1;
    s1 = next;
  }
  // mean, not nasx::global_average_pool (the evaluation network's): with its channels-last
  // gradient the last cell's BatchNorms would run the SDK's backward kernel instead of
  // LibTorch's contiguous one, whose sums run in another order, and every search would
  // change in the last bits (the quickstart found another normal cell) for ~1% of a step.
  return classifier_(s1.mean({2, 3}));
}

std::vector<at::Tensor> DartsSupernet::arch_parameters() { return {alpha_normal_, alpha_reduce_}; }

std::vector<at::Tensor> DartsSupernet::weight_parameters() {
  std::vector<at::Tensor> weights;
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    if (item.key() == "alpha_normal" || item.key() == "alpha_reduce") continue;
    weights.push_back(item.value());
  }
  return weights;
}

namespace {

std::vector<GenotypeEdge> derive_cell(const at::Tensor& weights) {
  const at::Tensor w = weights.detach().to(at::kCPU, at::kDouble).contiguous();
  const auto n_ops = w.size(1);
  const double* data = w.data_ptr<double>();
  const int none = operation_index("none");
  auto weight_of = [&](int64_t edge, int64_t op) { return data[edge * n_ops + op]; };
  std::vector<GenotypeEdge> chosen;
  int64_t start = 0;
  for (int64_t node = 0; node < kNodes; ++node) {
    const int64_t inputs = node + 2;
    auto strongest_op = [&](int64_t edge) {
      int64_t best = -1;
      for (int64_t op = 0; op < n_ops; ++op)
        if (op != none && (best < 0 || weight_of(edge, op) > weight_of(edge, best))) best = op;
      return best;
    };
    std::vector<int64_t> order(inputs);
    std::iota(order.begin(), order.end(), 0);
    // Stable, so ties keep the lower input first, as the reference's sorted() does.
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return weight_of(start + a, strongest_op(start + a)) >
             weight_of(start + b, strongest_op(start + b));
    });
    for (int k = 0; k < 2; ++k) {
      const int64_t input = order[k];
      chosen.push_back({operation_names()[strongest_op(start + input)], static_cast<int>(input)});
    }
    start += inputs;
  }
  return chosen;
}

}  // namespace

Genotype derive_genotype(const at::Tensor& normal_weights, const at::Tensor& reduce_weights) {
  Genotype genotype;
  genotype.normal = derive_cell(normal_weights);
  genotype.reduce = derive_cell(reduce_weights);
  genotype.normal_concat = genotype.reduce_concat = {2, 3, 4, 5};
  return genotype;
}

}  // namespace nasx::darts
