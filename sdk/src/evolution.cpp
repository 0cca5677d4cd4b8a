#include "nasx/evolution.hpp"

#include <algorithm>
#include <cmath>

#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx {

RegularizedEvolution::~RegularizedEvolution() = default;

namespace {

void require_every_edge_kept(const SearchSpace& space) {
  for (const CellDecisions& cell : space.decisions())
    if (cell.inputs_per_node > 0)
      throw ConfigError(
          "search.mutation = \"node\" is the NB201 reference's rule for cells that "
          "keep every edge; the '" +
          space.name() + "' space chooses each node's inputs: use mutation = \"space\"");
}

size_t uniform_index(std::mt19937_64& rng, size_t n) {
  return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
}

}  // namespace

Architecture mutate_node_first(const SearchSpace& space, const Architecture& parent,
                               std::mt19937_64& rng) {
  require_every_edge_kept(space);
  space.check(parent);
  const std::vector<CellDecisions> cells = space.decisions();
  Architecture child = parent;
  const size_t c = uniform_index(rng, cells.size());
  const CellDecisions& cell = cells[c];
  const auto& node = cell.node_edges[uniform_index(rng, cell.node_edges.size())];
  const auto edge = static_cast<size_t>(node[uniform_index(rng, node.size())]);
  std::vector<int64_t> others;
  for (int64_t op : cell.operations)
    if (op != child.cells[c][edge]) others.push_back(op);
  if (others.empty())
    throw ConfigError("the '" + space.name() +
                      "' space has one operation per edge: nothing to mutate");
  child.cells[c][edge] = static_cast<int>(others[uniform_index(rng, others.size())]);
  return child;
}

void RegularizedEvolution::setup_evolution(Context& ctx, const EvolutionOptions& options) {
  options_ = options;
  if (options_.cycles < options_.population)
    throw ConfigError(
        "search.cycles = " + std::to_string(options_.cycles) +
        " is smaller than search.population = " + std::to_string(options_.population) +
        "; the budget must at least fill the population");
  if (options_.mutation == Mutation::NodeFirst) require_every_edge_kept(ctx.space());
  setup_sampling(ctx, options_);
}

std::vector<Architecture> RegularizedEvolution::initial_population(Context& ctx) {
  std::vector<Architecture> archs;
  for (int64_t i = 0; i < options_.population; ++i) archs.push_back(ctx.space().sample(rng()));
  return archs;
}

int64_t RegularizedEvolution::search_steps() const {
  return (options_.cycles + options_.evaluations_per_step - 1) / options_.evaluations_per_step;
}

std::map<std::string, double> RegularizedEvolution::search_step(Context& ctx, int64_t index) {
  const auto& space = ctx.space();
  const int64_t first = index * options_.evaluations_per_step;
  const int64_t last = std::min(options_.cycles, first + options_.evaluations_per_step);
  int64_t cycle = first;
  // The initial population's cycles of this step: independent of each other, measured as
  // one group (on the shared evaluator's fixed minibatches their paths share work).
  if (cycle < std::min(last, options_.population) && !ctx.stop_requested()) {
    if (initial_.empty()) {
      initial_ = initial_population(ctx);
      if (static_cast<int64_t>(initial_.size()) != options_.population)
        throw Error("the strategy chose " + std::to_string(initial_.size()) +
                    " initial architectures for a population of " +
                    std::to_string(options_.population));
    }
    const std::vector<Architecture> members(initial_.begin() + cycle,
                                            initial_.begin() + std::min(last, options_.population));
    const std::vector<double> accuracies = evaluate_all(ctx, members);
    for (size_t i = 0; i < members.size(); ++i) population_.push_back({members[i], accuracies[i]});
    cycle += static_cast<int64_t>(members.size());
  }
  for (; cycle < last && !ctx.stop_requested(); ++cycle) {
    std::uniform_int_distribution<size_t> pick(0, population_.size() - 1);
    const Member* parent = nullptr;
    for (int64_t s = 0; s < options_.sample_size; ++s) {
      const Member& candidate = population_[pick(rng())];
      if (!parent || candidate.accuracy > parent->accuracy) parent = &candidate;
    }
    const Architecture arch = options_.mutation == Mutation::NodeFirst
                                  ? mutate_node_first(space, parent->arch, rng())
                                  : space.mutate(parent->arch, rng());
    population_.push_back({arch, evaluate(ctx, arch)});
    if (static_cast<int64_t>(population_.size()) > options_.population)
      population_.pop_front();  // the oldest
  }
  // Over the finite measurements: a score evaluator's -infinity (a singular kernel) and
  // an empty population (stopped before the first) give no figure to average.
  double sum = 0;
  int64_t finite = 0;
  for (const auto& m : population_)
    if (std::isfinite(m.accuracy)) {
      sum += m.accuracy;
      ++finite;
    }
  if (finite == 0) return {};
  return {{"population_mean_acc", sum / static_cast<double>(finite)}};
}

void RegularizedEvolution::own_state(StateArchive& archive) {
  std::vector<Architecture> members;
  std::vector<double> accuracies;
  for (const Member& m : population_) {
    members.push_back(m.arch);
    accuracies.push_back(m.accuracy);
  }
  archive.field("population", members)
      .field("population_accuracy", accuracies)
      .field("initial", initial_);
  if (archive.loading()) {
    if (members.size() != accuracies.size())
      throw IoError(
          "the checkpoint's population and its accuracies differ in length; the "
          "checkpoint is damaged");
    population_.clear();
    for (size_t i = 0; i < members.size(); ++i) population_.push_back({members[i], accuracies[i]});
  }
}

}  // namespace nasx
