#include <algorithm>

#include <ATen/ATen.h>

#include "darts/network.hpp"
#include "darts/supernet.hpp"
#include "nasx/error.hpp"

namespace nasx::darts {

namespace {

constexpr int kNone = 0;  // index of `none` in operation_names()
constexpr int kOperations = 8;
const std::vector<int> kConcat = {2, 3, 4, 5};

std::vector<int> cell_ops(const std::vector<GenotypeEdge>& edges, const std::string& cell) {
  if (edges.size() != 2 * kNodes)
    throw GenotypeError(cell + " cell: expected " + std::to_string(2 * kNodes) + " edges, got " +
                        std::to_string(edges.size()));
  std::vector<int> ops(kEdges, Architecture::kNoEdge);
  for (size_t i = 0; i < edges.size(); ++i) {
    const auto node = static_cast<int64_t>(i / 2);
    const GenotypeEdge& edge = edges[i];
    const int op = operation_index(edge.op);
    if (op == kNone)
      throw GenotypeError(cell + " cell, node " + std::to_string(node) +
                          ": 'none' cannot be a chosen operation");
    auto& slot = ops[static_cast<size_t>(edge_index(node, edge.input))];
    if (slot != Architecture::kNoEdge)
      throw GenotypeError(cell + " cell, node " + std::to_string(node) + " takes input " +
                          std::to_string(edge.input) +
                          " twice; the DARTS space has one edge per pair of states");
    slot = op;
  }
  return ops;
}

std::vector<GenotypeEdge> cell_edges(const std::vector<int>& ops) {
  std::vector<GenotypeEdge> edges;
  for (int64_t node = 0; node < kNodes; ++node)
    for (int64_t input = 0; input < node + 2; ++input) {
      const int op = ops[static_cast<size_t>(edge_index(node, input))];
      if (op != Architecture::kNoEdge)
        edges.push_back({operation_names()[static_cast<size_t>(op)], static_cast<int>(input)});
    }
  return edges;
}

int uniform(std::mt19937_64& rng, int n) {
  return std::uniform_int_distribution<int>(0, n - 1)(rng);
}

/// The present edges of `node`, as edge indices.
std::vector<int64_t> node_edges(const std::vector<int>& ops, int64_t node) {
  std::vector<int64_t> present;
  for (int64_t input = 0; input < node + 2; ++input)
    if (ops[static_cast<size_t>(edge_index(node, input))] != Architecture::kNoEdge)
      present.push_back(edge_index(node, input));
  return present;
}

}  // namespace

Architecture to_architecture(const Genotype& genotype) {
  if (genotype.normal_concat != kConcat || genotype.reduce_concat != kConcat)
    throw GenotypeError("the DARTS space concatenates nodes 2..5 (range(2, 6)) in both cells");
  return Architecture{{cell_ops(genotype.normal, "normal"), cell_ops(genotype.reduce, "reduce")}};
}

Genotype to_genotype(const Architecture& arch) {
  Genotype genotype;
  genotype.normal = cell_edges(arch.cells.at(0));
  genotype.reduce = cell_edges(arch.cells.at(1));
  genotype.normal_concat = genotype.reduce_concat = kConcat;
  return genotype;
}

namespace {

const OptionsBinding<DartsSpaceOptions>& binding() {
  static const auto b = [] {
    OptionsBinding<DartsSpaceOptions> b;
    bind_space_options(b)
        .field("stem_multiplier", &SpaceOptions::stem_multiplier,
               "the stem outputs stem_multiplier * C channels", Range{1.0, 16.0})
        .field("operations", &DartsSpaceOptions::operations,
               "comma-separated subset of the eight operations (empty: all); DARTS-PT: all but "
               "none");
    return b;
  }();
  return b;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::string known_operations() {
  std::string out;
  for (const auto& name : operation_names()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

/// The operations `list` names (comma-separated; empty: all), as ascending indices
/// into operation_names(); ConfigError for an unknown, repeated or insufficient list.
std::vector<int64_t> parse_operations(const std::string& list) {
  if (trim(list).empty()) return EdgeGroupImpl::all_operations();
  std::vector<bool> chosen(operation_names().size(), false);
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = trim(list.substr(start, comma - start));
    const int op = operation_index(name);
    if (op < 0)
      throw ConfigError("space.operations: '" + name +
                        "' is not a DARTS operation; the space has " + known_operations());
    if (chosen[static_cast<size_t>(op)])
      throw ConfigError("space.operations names '" + name + "' twice");
    chosen[static_cast<size_t>(op)] = true;
    start = comma + 1;
  }
  std::vector<int64_t> ops;
  for (size_t op = 0; op < chosen.size(); ++op)
    if (chosen[op]) ops.push_back(static_cast<int64_t>(op));
  if (ops.size() == 1 && ops[0] == kNone) ops.clear();
  if (ops.empty())
    throw ConfigError("space.operations = \"" + list +
                      "\" leaves no operation an edge could keep (`none` alone cannot be chosen)");
  return ops;
}

}  // namespace

ParamSchema DartsSpace::schema() { return binding().schema(); }

DartsSpace::DartsSpace() : DartsSpace(DartsSpaceOptions{}) {}

DartsSpace::DartsSpace(SpaceOptions options) {
  DartsSpaceOptions darts;
  static_cast<SpaceOptions&>(darts) = std::move(options);
  configure(std::move(darts));
}

DartsSpace::DartsSpace(DartsSpaceOptions options) { configure(std::move(options)); }

void DartsSpace::setup(const ParamValues& params) { configure(binding().read(params)); }

void DartsSpace::configure(DartsSpaceOptions options) {
  if (options.layers == 0) options.layers = 8;
  if (options.layers < 3)
    throw ConfigError("space.layers = " + std::to_string(options.layers) +
                      ": the DARTS space needs at least 3 cells (reductions at 1/3 and 2/3)");
  operations_ = parse_operations(options.operations);
  names_.clear();
  choices_.clear();
  for (size_t k = 0; k < operations_.size(); ++k) {
    names_.push_back(operation_names()[static_cast<size_t>(operations_[k])]);
    if (operations_[k] != kNone) choices_.push_back(static_cast<int>(k));
  }
  options_ = std::move(options);
}

std::shared_ptr<Supernet> DartsSpace::build_supernet(const DataShape& shape) const {
  return std::make_shared<DartsSupernet>(*this, options(), shape, operations_);
}

std::shared_ptr<Network> DartsSpace::build_network(const Architecture& arch, const DataShape& shape,
                                                   int64_t channels, int64_t layers) const {
  check(arch);
  darts::EvalNetworkOptions sized;
  sized.channels = channels > 0 ? channels : options().channels;
  sized.layers = layers > 0 ? layers : options().layers;
  sized.stem_multiplier = options().stem_multiplier;
  return std::make_shared<darts::EvalNetwork>(to_genotype(to_all_operations(arch)), shape, sized);
}

Architecture DartsSpace::to_all_operations(const Architecture& arch) const {
  Architecture out = arch;
  for (auto& ops : out.cells)
    for (int& op : ops)
      if (op != Architecture::kNoEdge)
        op = static_cast<int>(operations_.at(static_cast<size_t>(op)));
  return out;
}

Architecture DartsSpace::from_all_operations(const Architecture& arch) const {
  Architecture out = arch;
  for (auto& ops : out.cells)
    for (int& op : ops) {
      if (op == Architecture::kNoEdge) continue;
      const auto found = std::find(operations_.begin(), operations_.end(), op);
      if (found == operations_.end())
        throw GenotypeError("operation '" + operation_names().at(static_cast<size_t>(op)) +
                            "' is not in this space (space.operations = \"" + options_.operations +
                            "\")");
      op = static_cast<int>(found - operations_.begin());
    }
  return out;
}

int DartsSpace::other_choice(std::mt19937_64& rng, int current) const {
  std::vector<int> others;
  for (int c : choices_)
    if (c != current) others.push_back(c);
  if (others.empty()) return current;  // one operation: nothing else to choose
  return others[static_cast<size_t>(uniform(rng, static_cast<int>(others.size())))];
}

std::vector<CellDecisions> DartsSpace::decisions() const {
  CellDecisions cell;
  cell.inputs = 2;
  cell.inputs_per_node = 2;
  for (int64_t node = 0; node < kNodes; ++node) {
    std::vector<int64_t> edges;
    for (int64_t input = 0; input < node + 2; ++input) edges.push_back(edge_index(node, input));
    cell.node_edges.push_back(edges);
  }
  for (int c : choices_) cell.operations.push_back(c);  // every column but `none`'s
  // Normal and reduction cells choose alike.
  return {cell, cell};
}

TrainingProtocol DartsSpace::training_protocol() const {
  // The reference's final training (train.py); the keys not set here are TrainOptions'
  // defaults, which it shares (cosine to 0, momentum 0.9, clip 5).
  TrainingProtocol protocol;
  protocol.channels = 36;
  protocol.layers = 20;
  TrainOptions& o = protocol.options;
  o.epochs = 600;
  o.batch_size = 96;
  o.lr = 0.025;
  o.nesterov = false;
  o.weight_decay = 3e-4;
  o.auxiliary_weight = 0.4;
  o.drop_path_prob = 0.2;
  o.cutout = 16;
  o.crop_padding = 4;
  o.flip = true;
  return protocol;
}

Architecture DartsSpace::parse(std::string_view text) const {
  return from_all_operations(to_architecture(Genotype::parse(text)));
}

std::string DartsSpace::format(const Architecture& arch) const {
  check(arch);
  return to_genotype(to_all_operations(arch)).str();
}

Json DartsSpace::json(const Architecture& arch) const {
  return to_genotype(to_all_operations(arch)).json();
}

void DartsSpace::check(const Architecture& arch) const {
  if (arch.cells.size() != 2)
    throw GenotypeError("a DARTS architecture has 2 cell types, got " +
                        std::to_string(arch.cells.size()));
  for (size_t c = 0; c < 2; ++c) {
    const std::string cell = cell_types()[c];
    const auto& ops = arch.cells[c];
    if (ops.size() != kEdges)
      throw GenotypeError(cell + " cell: expected 14 edges, got " + std::to_string(ops.size()));
    for (int op : ops)
      if (op != Architecture::kNoEdge &&
          std::find(choices_.begin(), choices_.end(), op) == choices_.end())
        throw GenotypeError(cell + " cell: operation " + std::to_string(op) +
                            " is not a chosen operation of this DARTS space");
    for (int64_t node = 0; node < kNodes; ++node)
      if (node_edges(ops, node).size() != 2)
        throw GenotypeError(cell + " cell, node " + std::to_string(node) +
                            ": expected 2 input edges, got " +
                            std::to_string(node_edges(ops, node).size()));
  }
}

Architecture DartsSpace::sample(std::mt19937_64& rng) const {
  Architecture arch{{std::vector<int>(kEdges, Architecture::kNoEdge),
                     std::vector<int>(kEdges, Architecture::kNoEdge)}};
  for (auto& ops : arch.cells)
    for (int64_t node = 0; node < kNodes; ++node) {
      const int inputs = static_cast<int>(node) + 2;
      const int first = uniform(rng, inputs);
      int second = uniform(rng, inputs - 1);
      if (second >= first) ++second;
      for (int input : {first, second})
        ops[static_cast<size_t>(edge_index(node, input))] =
            choices_[static_cast<size_t>(uniform(rng, static_cast<int>(choices_.size())))];
    }
  return arch;
}

Architecture DartsSpace::mutate(const Architecture& arch, std::mt19937_64& rng) const {
  check(arch);
  Architecture child = arch;
  auto& ops = child.cells[static_cast<size_t>(uniform(rng, 2))];
  const int64_t node = uniform(rng, kNodes);
  const std::vector<int64_t> present = node_edges(ops, node);
  const auto edge = static_cast<size_t>(present[static_cast<size_t>(uniform(rng, 2))]);
  const bool rewire = uniform(rng, 2) == 1 && node > 0;  // node 0 has no free input
  if (!rewire) {
    ops[edge] = other_choice(rng, ops[edge]);
    return child;
  }
  std::vector<int64_t> free;
  for (int64_t input = 0; input < node + 2; ++input)
    if (ops[static_cast<size_t>(edge_index(node, input))] == Architecture::kNoEdge)
      free.push_back(edge_index(node, input));
  const auto target =
      static_cast<size_t>(free[static_cast<size_t>(uniform(rng, static_cast<int>(free.size())))]);
  ops[target] = ops[edge];
  ops[edge] = Architecture::kNoEdge;
  return child;
}

std::vector<Architecture> DartsSpace::neighbours(const Architecture& arch) const {
  check(arch);
  std::vector<Architecture> out;
  for (size_t c = 0; c < arch.cells.size(); ++c)
    for (size_t e = 0; e < kEdges; ++e) {
      if (arch.cells[c][e] == Architecture::kNoEdge) continue;
      for (int op : choices_) {
        if (op == arch.cells[c][e]) continue;
        Architecture neighbour = arch;
        neighbour.cells[c][e] = op;
        out.push_back(std::move(neighbour));
      }
    }
  return out;
}

Architecture DartsSpace::derive(const std::vector<at::Tensor>& weights) const {
  if (weights.size() != 2)
    throw GenotypeError("DARTS derivation: expected 2 weight matrices, got " +
                        std::to_string(weights.size()));
  // Columns the space lacks get weight -1, below every softmax weight, so the
  // derivation over all eight operations never picks them.
  const auto columns = at::tensor(operations_, at::TensorOptions(at::kLong));
  auto all = [&](const at::Tensor& w) {
    const at::Tensor cpu = w.detach().to(at::kCPU, at::kDouble);
    return at::full({cpu.size(0), kOperations}, -1.0, cpu.options()).index_copy_(1, columns, cpu);
  };
  return from_all_operations(to_architecture(derive_genotype(all(weights[0]), all(weights[1]))));
}

}  // namespace nasx::darts
