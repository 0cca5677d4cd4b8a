// NA-RS: neighbourhood-aware random search (Wang, Cao, Li, Kitani, BMVC 2021), in
// nasx's formulation. Candidates are drawn uniformly; each is scored by aggregating the
// accuracy over its neighbourhood (every architecture one operation away, or M drawn
// uniformly from them), itself included, so flat architectures beat sharp ones. The
// answer is the best-scoring candidate; its own accuracy is reported beside its score.
// The budget counts distinct measured architectures (neighbourhoods overlap; each is
// measured once), the same unit as random search's `candidates`: at equal numbers both
// measure as many architectures, and NA-RS scores about |N| times fewer candidates.
// A candidate whose neighbourhood no longer fits in the budget is not scored (the
// members it measured stay in the count) and the search ends.

#include <algorithm>
#include <random>
#include <sstream>

#include <torch/serialize/archive.h>

#include <nasx/bilevel.hpp>
#include <nasx/error.hpp>
#include <nasx/sampling_search.hpp>
#include <nasx/space.hpp>

namespace {

struct NarandomOptions : nasx::SamplingSearchOptions {
  int64_t budget = 100;
  int64_t neighbours = 0;
  nasx::NeighbourAggregate aggregate = nasx::NeighbourAggregate::Mean;
  bool include_self = true;
  NarandomOptions() { evaluations_per_step = 1; }
};

const nasx::OptionsBinding<NarandomOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<NarandomOptions> b;
    b.field("budget", &NarandomOptions::budget,
            "distinct architectures measured, neighbours included (random search's "
            "`candidates` at equal cost)",
            nasx::Range{1.0, {}})
        .field("neighbours", &NarandomOptions::neighbours,
               "M: neighbours drawn per candidate (0: the whole neighbourhood)",
               nasx::Range{0.0, {}})
        .field(
            "aggregate", &NarandomOptions::aggregate,
            "mean accuracy over the neighbourhood, or the worst (min)",
            {{"mean", nasx::NeighbourAggregate::Mean}, {"worst", nasx::NeighbourAggregate::Worst}})
        .field("include_self", &NarandomOptions::include_self,
               "the candidate counts as a member of its neighbourhood");
    nasx::bind_sampling_search(b);
    return b;
  }();
  return b;
}

class Narandom final : public nasx::SamplingSearch {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    // Refused before the supernet trains: a budget that cannot score one candidate. The
    // shipped spaces' neighbourhoods all have one size; one sample (its own generator,
    // so the search's draws are unchanged) tells it.
    std::mt19937_64 probe(0);
    const int64_t neighbourhood =
        static_cast<int64_t>(ctx.space().neighbours(ctx.space().sample(probe)).size());
    const int64_t members =
        (options_.neighbours > 0 ? std::min(options_.neighbours, neighbourhood) : neighbourhood) +
        (options_.include_self ? 1 : 0);
    if (options_.budget < members)
      throw nasx::ConfigError("search.budget = " + std::to_string(options_.budget) +
                              " does not cover one candidate's neighbourhood (" +
                              std::to_string(members) +
                              " architectures); raise it or set search.neighbours");
    setup_sampling(ctx, options_);
  }

  bool end_step(nasx::Context&, int64_t, const std::map<std::string, double>&) override {
    return !spent_;
  }

  std::optional<nasx::Architecture> best() const override {
    if (scored_.empty()) return std::nullopt;
    return scored_[best_index()].arch;
  }

 protected:
  // At most one candidate per measured architecture: the search ends earlier, when the
  // budget is spent (end_step).
  int64_t search_steps() const override {
    return (options_.budget + options_.evaluations_per_step - 1) / options_.evaluations_per_step;
  }

  std::map<std::string, double> search_step(nasx::Context& ctx, int64_t) override {
    const auto& space = ctx.space();
    for (int64_t k = 0; k < options_.evaluations_per_step && !spent_ && !ctx.stop_requested();
         ++k) {
      const nasx::Architecture candidate = space.sample(rng());
      const std::vector<nasx::Architecture> members = nasx::neighbourhood_members(
          space, candidate, options_.neighbours, options_.include_self, rng());
      // The neighbourhood's unmeasured architectures, measured together, in the order the
      // score reads them (the candidate first). What exceeds the budget is not measured:
      // the ones before it are (they count), the candidate is not scored, the search ends.
      std::vector<nasx::Architecture> unmeasured;
      const auto wanted = [&](const nasx::Architecture& a) {
        if (!measurements().count(a) &&
            std::find(unmeasured.begin(), unmeasured.end(), a) == unmeasured.end())
          unmeasured.push_back(a);
      };
      wanted(candidate);
      for (const auto& member : members) wanted(member);
      const auto room = static_cast<size_t>(std::max<int64_t>(0, options_.budget - evaluated()));
      if (unmeasured.size() > room) {
        unmeasured.resize(room);  // setup made sure the first candidate fits
        evaluate_all(ctx, unmeasured);
        spent_ = true;
        break;
      }
      evaluate_all(ctx, unmeasured);
      const nasx::NeighbourhoodScore scored = nasx::aggregate_neighbourhood(
          candidate, members, [&](const nasx::Architecture& a) { return measurements().at(a); },
          options_.aggregate == nasx::NeighbourAggregate::Worst);
      scored_.push_back({candidate, scored.score, scored.own});
      ctx.log_event("neighbourhood_score", {{"candidate", space.format(candidate)},
                                            {"score", scored.score},
                                            {"own_acc", scored.own},
                                            {"members", scored.members}});
      if (evaluated() >= options_.budget) spent_ = true;
    }
    if (scored_.empty())  // stopped before the first candidate
      return {{"candidates", 0.0}, {"measured", static_cast<double>(evaluated())}};
    const Scored& answer = scored_[best_index()];
    return {{"candidates", static_cast<double>(scored_.size())},
            {"measured", static_cast<double>(evaluated())},
            {"answer_score", answer.score},
            {"answer_acc", answer.own}};
  }

  void own_state(nasx::StateArchive& archive) override {
    std::vector<nasx::Architecture> archs;
    std::vector<double> scores, own;
    for (const auto& s : scored_) {
      archs.push_back(s.arch);
      scores.push_back(s.score);
      own.push_back(s.own);
    }
    archive.field("scored", archs)
        .field("scores", scores)
        .field("own_accuracies", own)
        .field("budget_spent", spent_);
    if (archive.loading()) {
      scored_.clear();
      for (size_t i = 0; i < archs.size(); ++i)
        scored_.push_back({archs[i], scores.at(i), own.at(i)});
    }
  }

 private:
  struct Scored {
    nasx::Architecture arch;
    double score;
    double own;
  };

  /// The highest score, the first candidate on ties.
  size_t best_index() const {
    size_t best = 0;
    for (size_t i = 1; i < scored_.size(); ++i)
      if (scored_[i].score > scored_[best].score) best = i;
    return best;
  }

  NarandomOptions options_;
  std::vector<Scored> scored_;
  bool spent_ = false;
};

}  // namespace

NASX_PLUGIN(Narandom, "narandom", "1.0.0",
            "NA-RS: random search scored by mean accuracy over each candidate's neighbourhood")
