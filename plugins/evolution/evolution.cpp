// Regularized (aging) evolution (Real, Aggarwal, Huang, Le, AAAI 2019; AutoDL's NB201
// port, R_EA.py). A population of P measured architectures, first drawn uniformly;
// each cycle samples S members with replacement, mutates the best of them (one edit,
// SearchSpace::mutate), measures the child, appends it and removes the OLDEST member
// (age, not fitness). The answer is the best architecture ever measured.

#include <deque>
#include <sstream>

#include <torch/serialize/archive.h>

#include <nasx/error.hpp>
#include <nasx/sampling_search.hpp>
#include <nasx/space.hpp>

namespace {

struct EvolutionOptions : nasx::SamplingSearchOptions {
  int64_t population = 10;
  int64_t sample_size = 3;
  int64_t cycles = 100;
};

const nasx::OptionsBinding<EvolutionOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<EvolutionOptions> b;
    b.field("population", &EvolutionOptions::population, "P: population size", nasx::Range{1.0, {}})
        .field("sample_size", &EvolutionOptions::sample_size,
               "S: members drawn (with replacement) to pick a parent", nasx::Range{1.0, {}})
        .field("cycles", &EvolutionOptions::cycles,
               "budget: architectures created, the initial population included",
               nasx::Range{1.0, {}});
    nasx::bind_sampling_search(b);
    return b;
  }();
  return b;
}

class Evolution final : public nasx::SamplingSearch {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    if (options_.cycles < options_.population)
      throw nasx::ConfigError(
          "search.cycles = " + std::to_string(options_.cycles) +
          " is smaller than search.population = " + std::to_string(options_.population) +
          "; the budget must at least fill the population");
    setup_sampling(ctx, options_);
  }

 protected:
  int64_t search_steps() const override {
    return (options_.cycles + options_.evaluations_per_step - 1) / options_.evaluations_per_step;
  }

  std::map<std::string, double> search_step(nasx::Context& ctx, int64_t index) override {
    const auto& space = ctx.space();
    const int64_t first = index * options_.evaluations_per_step;
    const int64_t last = std::min(options_.cycles, first + options_.evaluations_per_step);
    for (int64_t cycle = first; cycle < last && !ctx.stop_requested(); ++cycle) {
      nasx::Architecture arch;
      if (cycle < options_.population) {
        arch = space.sample(rng());
      } else {
        std::uniform_int_distribution<size_t> pick(0, population_.size() - 1);
        const Member* parent = nullptr;
        for (int64_t s = 0; s < options_.sample_size; ++s) {
          const Member& candidate = population_[pick(rng())];
          if (!parent || candidate.accuracy > parent->accuracy) parent = &candidate;
        }
        arch = space.mutate(parent->arch, rng());
      }
      population_.push_back({arch, evaluate(ctx, arch)});
      if (static_cast<int64_t>(population_.size()) > options_.population)
        population_.pop_front();  // the oldest
    }
    double mean = 0;
    for (const auto& m : population_) mean += m.accuracy;
    return {{"population_mean_acc", mean / static_cast<double>(population_.size())}};
  }

  void save_extra(torch::serialize::OutputArchive& archive,
                  const nasx::SearchSpace& space) const override {
    std::ostringstream out;
    out.precision(17);
    for (const auto& m : population_) out << m.accuracy << '\t' << space.format(m.arch) << '\n';
    archive.write("population", c10::IValue(out.str()));
  }

  void load_extra(torch::serialize::InputArchive& archive,
                  const nasx::SearchSpace& space) override {
    c10::IValue value;
    archive.read("population", value);
    population_.clear();
    std::istringstream in(value.toStringRef());
    std::string accuracy, text;
    while (std::getline(in, accuracy, '\t') && std::getline(in, text))
      population_.push_back({space.parse(text), std::stod(accuracy)});
  }

 private:
  struct Member {
    nasx::Architecture arch;
    double accuracy;
  };
  EvolutionOptions options_;
  std::deque<Member> population_;  // front: the oldest
};

}  // namespace

NASX_PLUGIN(Evolution, "evolution", "1.0.0",
            "regularized (aging) evolution over any evaluator (Real et al., AAAI 2019)")
