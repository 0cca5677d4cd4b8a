#include "nasx/evolution.hpp"

#include <sstream>

#include <torch/serialize/archive.h>

#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx {

namespace {

std::string format_all(const std::vector<Architecture>& archs, const SearchSpace& space) {
  std::string out;
  for (const auto& arch : archs) out += space.format(arch) + '\n';
  return out;
}

}  // namespace

RegularizedEvolution::~RegularizedEvolution() = default;

void RegularizedEvolution::setup_evolution(Context& ctx, const EvolutionOptions& options) {
  options_ = options;
  if (options_.cycles < options_.population)
    throw ConfigError(
        "search.cycles = " + std::to_string(options_.cycles) +
        " is smaller than search.population = " + std::to_string(options_.population) +
        "; the budget must at least fill the population");
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
  for (int64_t cycle = first; cycle < last && !ctx.stop_requested(); ++cycle) {
    Architecture arch;
    if (cycle < options_.population) {
      if (initial_.empty()) {
        initial_ = initial_population(ctx);
        if (static_cast<int64_t>(initial_.size()) != options_.population)
          throw Error("the strategy chose " + std::to_string(initial_.size()) +
                      " initial architectures for a population of " +
                      std::to_string(options_.population));
      }
      arch = initial_[static_cast<size_t>(cycle)];
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

void RegularizedEvolution::save_extra(torch::serialize::OutputArchive& archive,
                                      const SearchSpace& space) const {
  std::ostringstream out;
  out.precision(17);
  for (const auto& m : population_) out << m.accuracy << '\t' << space.format(m.arch) << '\n';
  archive.write("population", c10::IValue(out.str()));
  archive.write("initial", c10::IValue(format_all(initial_, space)));
}

void RegularizedEvolution::load_extra(torch::serialize::InputArchive& archive,
                                      const SearchSpace& space) {
  c10::IValue value;
  archive.read("population", value);
  population_.clear();
  std::istringstream in(value.toStringRef());
  std::string accuracy, text;
  while (std::getline(in, accuracy, '\t') && std::getline(in, text))
    population_.push_back({space.parse(text), std::stod(accuracy)});
  archive.read("initial", value);
  initial_.clear();
  std::istringstream initial(value.toStringRef());
  while (std::getline(initial, text)) initial_.push_back(space.parse(text));
}

}  // namespace nasx
