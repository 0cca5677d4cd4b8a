#pragma once
/// Regularized (aging) evolution (Real, Aggarwal, Huang, Le, AAAI 2019; AutoDL's NB201
/// port, R_EA.py), shared by the `evolution` and `area` strategies. A population of P
/// measured architectures; each cycle samples S members with replacement, mutates the
/// best of them (one edit, SearchSpace::mutate), measures the child, appends it and
/// removes the OLDEST member (age, not fitness). The answer is the best architecture
/// ever measured. The initial population is P uniform samples unless a strategy
/// chooses it otherwise (AREA: the best-scored of M).

#include <deque>
#include <vector>

#include "nasx/sampling_search.hpp"

namespace nasx {

/// How a child is made from its parent.
enum class Mutation {
  Space,      ///< SearchSpace::mutate: the space's own edit (an edge drawn uniformly)
  NodeFirst,  ///< the NB201 reference's: a node uniformly, then one of its incoming edges
};

struct EvolutionOptions : SamplingSearchOptions {
  int64_t population = 10;
  int64_t sample_size = 3;
  int64_t cycles = 100;
  Mutation mutation = Mutation::Space;
};

/// The NB201 reference's mutation (AutoDL R_EA.py): a cell type and an intermediate
/// node uniformly, then one of the node's incoming edges uniformly, whose operation
/// becomes a different one of the cell's operations. An edge into a node with few
/// inputs is likelier to change than one into a node with many. For spaces whose
/// cells keep every edge (CellDecisions::inputs_per_node == 0); throws ConfigError
/// for others.
NASX_API Architecture mutate_node_first(const SearchSpace& space, const Architecture& parent,
                                        std::mt19937_64& rng);

template <class Options>
OptionsBinding<Options>& bind_evolution(OptionsBinding<Options>& b) {
  using O = EvolutionOptions;
  b.field("population", &O::population, "P: population size", Range{1.0, {}})
      .field("sample_size", &O::sample_size, "S: members drawn (with replacement) to pick a parent",
             Range{1.0, {}})
      .field("cycles", &O::cycles, "budget: architectures created, the initial population included",
             Range{1.0, {}})
      // Cast: an enum field's template deduces from a member of Options itself.
      .field("mutation", static_cast<Mutation Options::*>(&O::mutation),
             "space: the space's own edit (an edge uniformly); node: the NB201 reference's "
             "(a node uniformly, then one of its edges; spaces that keep every edge)",
             {{"space", Mutation::Space}, {"node", Mutation::NodeFirst}});
  return bind_sampling_search(b);
}

class NASX_API RegularizedEvolution : public SamplingSearch {
 public:
  ~RegularizedEvolution() override;

 protected:
  /// Checks the budget and sets up sampling; call from setup().
  void setup_evolution(Context& ctx, const EvolutionOptions& options);

  /// The P architectures of the initial population, measured in this order. Called
  /// once, at the first cycle; the default draws P uniformly.
  virtual std::vector<Architecture> initial_population(Context& ctx);

  int64_t search_steps() const override;
  std::map<std::string, double> search_step(Context& ctx, int64_t index) override;
  /// The population and the initial architectures. A strategy built on this class
  /// with state of its own overrides it and calls this one first.
  void own_state(StateArchive& archive) override;

  const EvolutionOptions& evolution_options() const { return options_; }

 private:
  struct Member {
    Architecture arch;
    double accuracy;
  };
  EvolutionOptions options_;
  std::vector<Architecture> initial_;  // chosen at the first cycle
  std::deque<Member> population_;      // front: the oldest
};

}  // namespace nasx
