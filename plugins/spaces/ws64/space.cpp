#include "ws64/space.hpp"

#include <ATen/ATen.h>

#include "nasx/error.hpp"
#include "ws64/network.hpp"

namespace nasx::ws64 {

Architecture to_architecture(const Child& child) {
  return Architecture{{std::vector<int>(child.ops.begin(), child.ops.end())}};
}

Child to_child(const Architecture& arch) {
  Child child;
  std::copy(arch.cells.at(0).begin(), arch.cells.at(0).end(), child.ops.begin());
  return child;
}

namespace {

const OptionsBinding<SpaceOptions>& binding() {
  static const auto b = [] {
    OptionsBinding<SpaceOptions> b;
    bind_space_options(b);
    return b;
  }();
  return b;
}

}  // namespace

ParamSchema Ws64Space::schema() { return binding().schema(); }

Ws64Space::Ws64Space() : Ws64Space(SpaceOptions{}) {}

Ws64Space::Ws64Space(SpaceOptions options) { configure(std::move(options)); }

void Ws64Space::setup(const ParamValues& params) { configure(binding().read(params)); }

void Ws64Space::configure(SpaceOptions options) {
  if (options.layers == 0) options.layers = 4;
  options_ = std::move(options);
}

std::vector<CellDecisions> Ws64Space::decisions() const {
  CellDecisions cell;
  cell.inputs = 1;
  cell.node_edges = {{0}, {1, 2}};  // node 1 <- x0; node 2 <- x0, node 1
  cell.inputs_per_node = 0;
  cell.operations = {0, 1, 2, 3};
  return {cell};
}

TrainingProtocol Ws64Space::training_protocol() const {
  TrainingProtocol protocol;
  protocol.channels = 16;
  protocol.layers = 4;
  protocol.options.epochs = 200;
  protocol.options.batch_size = 256;
  protocol.options.lr = 0.025;
  protocol.options.lr_min = 0.001;
  protocol.options.momentum = 0.9;
  protocol.options.nesterov = false;
  protocol.options.weight_decay = 1e-3;
  protocol.options.grad_clip = 0.0;
  return protocol;
}

std::shared_ptr<nasx::Supernet> Ws64Space::build_supernet(const DataShape& shape) const {
  return std::make_shared<Ws64Supernet>(*this, options(), shape);
}

std::shared_ptr<nasx::Network> Ws64Space::build_network(const Architecture& arch,
                                                        const DataShape& shape, int64_t channels,
                                                        int64_t layers) const {
  check(arch);
  return std::make_shared<ChildNetwork>(to_child(arch), shape,
                                        channels > 0 ? channels : options().channels,
                                        layers > 0 ? layers : options().layers);
}

Architecture Ws64Space::parse(std::string_view text) const {
  return to_architecture(Child::parse(text));
}

std::string Ws64Space::format(const Architecture& arch) const {
  check(arch);
  return to_child(arch).name();
}

Json Ws64Space::json(const Architecture& arch) const {
  check(arch);
  Json cell = Json::array();
  for (int edge = 0; edge < kEdges; ++edge) {
    const auto [target, source] = edge_nodes(edge);
    cell.push_back(Json::array(
        {operation_names()[static_cast<size_t>(arch.cells[0][static_cast<size_t>(edge)])], source,
         target}));
  }
  return {{"child", to_child(arch).name()}, {"cell", cell}};
}

void Ws64Space::check(const Architecture& arch) const {
  if (arch.cells.size() != 1 || arch.cells[0].size() != kEdges)
    throw GenotypeError("a ws64 architecture is one cell of 3 edges");
  for (int op : arch.cells[0])
    if (op < 0 || op >= kOperations)
      throw GenotypeError("ws64: every edge needs an operation 0..3, got " + std::to_string(op));
}

Architecture Ws64Space::sample(std::mt19937_64& rng) const {
  return to_architecture(
      Child::from_index(std::uniform_int_distribution<int64_t>(0, kChildren - 1)(rng)));
}

Architecture Ws64Space::mutate(const Architecture& arch, std::mt19937_64& rng) const {
  check(arch);
  Architecture out = arch;
  const auto edge = static_cast<size_t>(std::uniform_int_distribution<int>(0, kEdges - 1)(rng));
  const int shift = std::uniform_int_distribution<int>(1, kOperations - 1)(rng);
  out.cells[0][edge] = (out.cells[0][edge] + shift) % kOperations;
  return out;
}

std::vector<Architecture> Ws64Space::neighbours(const Architecture& arch) const {
  check(arch);
  std::vector<Architecture> out;
  for (size_t edge = 0; edge < kEdges; ++edge)
    for (int op = 0; op < kOperations; ++op)
      if (op != arch.cells[0][edge]) {
        Architecture next = arch;
        next.cells[0][edge] = op;
        out.push_back(std::move(next));
      }
  return out;
}

Architecture Ws64Space::derive(const std::vector<at::Tensor>& weights) const {
  if (weights.size() != 1)
    throw GenotypeError("ws64 derivation: expected 1 weight matrix, got " +
                        std::to_string(weights.size()));
  const at::Tensor best = weights[0].detach().argmax(1).to(at::kCPU, at::kLong).contiguous();
  Architecture arch{{std::vector<int>(kEdges)}};
  for (int edge = 0; edge < kEdges; ++edge)
    arch.cells[0][static_cast<size_t>(edge)] = static_cast<int>(best[edge].item<int64_t>());
  return arch;
}

}  // namespace nasx::ws64
