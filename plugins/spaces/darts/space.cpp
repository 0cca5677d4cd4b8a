#include <algorithm>

#include <ATen/ATen.h>

#include "darts/network.hpp"
#include "darts/supernet.hpp"
#include "nasx/error.hpp"

namespace nasx::darts {

namespace {

constexpr int kNone = 0;  // column of `none`
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

/// A non-`none` operation other than `current`, uniformly.
int other_operation(std::mt19937_64& rng, int current) {
  int op = 1 + uniform(rng, kOperations - 2);
  if (op >= current) ++op;
  return op;
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

const OptionsBinding<SpaceOptions>& binding() {
  static const auto b = [] {
    OptionsBinding<SpaceOptions> b;
    bind_space_options(b).field("stem_multiplier", &SpaceOptions::stem_multiplier,
                                "the stem outputs stem_multiplier * C channels", Range{1.0, 16.0});
    return b;
  }();
  return b;
}

}  // namespace

ParamSchema DartsSpace::schema() { return binding().schema(); }

DartsSpace::DartsSpace() : DartsSpace(SpaceOptions{}) {}

DartsSpace::DartsSpace(SpaceOptions options) { configure(std::move(options)); }

void DartsSpace::setup(const ParamValues& params) { configure(binding().read(params)); }

void DartsSpace::configure(SpaceOptions options) {
  if (options.layers == 0) options.layers = 8;
  if (options.layers < 3)
    throw ConfigError("space.layers = " + std::to_string(options.layers) +
                      ": the DARTS space needs at least 3 cells (reductions at 1/3 and 2/3)");
  options_ = std::move(options);
}

const std::vector<std::string>& DartsSpace::operations() const { return operation_names(); }

std::shared_ptr<Supernet> DartsSpace::build_supernet(const DataShape& shape) const {
  return std::make_shared<DartsSupernet>(*this, options(), shape);
}

std::shared_ptr<Network> DartsSpace::build_network(const Architecture& arch, const DataShape& shape,
                                                   int64_t channels, int64_t layers) const {
  check(arch);
  darts::EvalNetworkOptions sized;
  sized.channels = channels > 0 ? channels : options().channels;
  sized.layers = layers > 0 ? layers : options().layers;
  sized.stem_multiplier = options().stem_multiplier;
  return std::make_shared<darts::EvalNetwork>(to_genotype(arch), shape, sized);
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
  for (int64_t op = 1; op < static_cast<int64_t>(operation_names().size()); ++op)
    cell.operations.push_back(op);  // every operation but `none` (index 0)
  return {cell, cell};              // normal and reduction cells choose alike
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
  return to_architecture(Genotype::parse(text));
}

std::string DartsSpace::format(const Architecture& arch) const {
  check(arch);
  return to_genotype(arch).str();
}

Json DartsSpace::json(const Architecture& arch) const { return to_genotype(arch).json(); }

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
      if (op != Architecture::kNoEdge && (op <= kNone || op >= kOperations))
        throw GenotypeError(cell + " cell: operation " + std::to_string(op) +
                            " is not a chosen DARTS operation");
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
        ops[static_cast<size_t>(edge_index(node, input))] = 1 + uniform(rng, kOperations - 1);
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
    ops[edge] = other_operation(rng, ops[edge]);
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
      for (int op = 1; op < kOperations; ++op) {
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
  return to_architecture(derive_genotype(weights[0], weights[1]));
}

}  // namespace nasx::darts
