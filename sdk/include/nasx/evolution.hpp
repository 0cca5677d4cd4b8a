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

struct EvolutionOptions : SamplingSearchOptions {
  int64_t population = 10;
  int64_t sample_size = 3;
  int64_t cycles = 100;
};

template <class Options>
OptionsBinding<Options>& bind_evolution(OptionsBinding<Options>& b) {
  using O = EvolutionOptions;
  b.field("population", &O::population, "P: population size", Range{1.0, {}})
      .field("sample_size", &O::sample_size, "S: members drawn (with replacement) to pick a parent",
             Range{1.0, {}})
      .field("cycles", &O::cycles, "budget: architectures created, the initial population included",
             Range{1.0, {}});
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
