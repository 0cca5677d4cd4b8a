// MiLeNAS: mixed-level reformulation (He, Ye, Shen, Zhang, CVPR 2020, Eq. 5).
// One objective, min over alpha and w of L_train + lambda * L_val: the architecture
// step follows grad_alpha L_train(x_t) + lambda * grad_alpha L_val(x_v) at the current
// w (no unrolling, no Hessian), then the weight step as DARTS. lambda multiplies the
// validation term as in the paper; the reference code (chaoyanghe/MiLeNAS) puts it on
// the training term, which agrees at its lambda = 1.
//
// Model-size buckets: after every epoch the derived architecture's convolutions are
// counted per cell type; per count the one with the best validation accuracy is kept
// (events "size_bucket"), so one search yields architectures of several sizes. With
// early_stop (DARTS space) the search ends when the normal cell has 6 convolutions and
// the reduction cell none (the reference's rule).

#include <sstream>

#include <torch/serialize/archive.h>

#include <nasx/bilevel.hpp>
#include <nasx/error.hpp>
#include <nasx/gradient_search.hpp>
#include <nasx/space.hpp>
#include <nasx/supernet.hpp>

namespace {

struct MilenasOptions : nasx::GradientSearchOptions {
  double lambda = 1.0;
  bool early_stop = false;
};

const nasx::OptionsBinding<MilenasOptions>& binding() {
  static const auto b = [] {
    nasx::OptionsBinding<MilenasOptions> b;
    b.field("lambda", &MilenasOptions::lambda,
            "weight of the validation term: grad L_train + lambda * grad L_val",
            nasx::Range{0.0, {}});
    nasx::bind_gradient_search(b).field(
        "early_stop", &MilenasOptions::early_stop,
        "DARTS space: stop once the normal cell has 6 convolutions and the reduction cell 0");
    return b;
  }();
  return b;
}

/// Convolutions (operations whose name has "conv") per cell type of `arch`.
std::vector<int> convolutions(const nasx::SearchSpace& space, const nasx::Architecture& arch) {
  std::vector<int> counts;
  for (const auto& cell : arch.cells) {
    int n = 0;
    for (int op : cell)
      if (op != nasx::Architecture::kNoEdge &&
          space.operations()[static_cast<size_t>(op)].find("conv") != std::string::npos)
        ++n;
    counts.push_back(n);
  }
  return counts;
}

std::string bucket_name(const std::vector<std::string>& cell_types,
                        const std::vector<int>& counts) {
  std::string name;
  for (size_t i = 0; i < counts.size(); ++i)
    name += (i ? "_" : "") + cell_types[i] + std::to_string(counts[i]);
  return name;
}

class Milenas final : public nasx::GradientSearch {
 public:
  static nasx::ParamSchema schema() { return binding().schema(); }

  void setup(nasx::Context& ctx) override {
    options_ = binding().read(ctx.params());
    if (options_.early_stop && ctx.space().name() != "darts")
      throw nasx::ConfigError(
          "search.early_stop: the 6/0-convolution rule is for the DARTS "
          "space; set it to false on '" +
          ctx.space().name() + "'");
    setup_search(ctx, options_);
  }

  bool end_step(nasx::Context& ctx, int64_t step,
                const std::map<std::string, double>& metrics) override {
    const auto& space = ctx.space();
    const nasx::Architecture arch = ctx.supernet().derive_architecture();
    const std::vector<int> counts = convolutions(space, arch);
    const std::string bucket = bucket_name(space.cell_types(), counts);
    const double accuracy = metrics.count("valid_acc") ? metrics.at("valid_acc") : 0.0;
    auto found = buckets_.find(bucket);
    if (found == buckets_.end() || accuracy > found->second.first) {
      buckets_[bucket] = {accuracy, space.format(arch)};
      ctx.log_event("size_bucket", {{"bucket", bucket}, {"valid_acc", accuracy}, {"epoch", step}});
      ctx.info("size bucket " + bucket + ": best so far (valid_acc " + std::to_string(accuracy) +
               ")");
    }
    const bool rule_met = counts.size() == 2 && counts[0] == 6 && counts[1] == 0;
    return !(options_.early_stop && rule_met);
  }

 protected:
  at::Tensor arch_gradient(nasx::Context& ctx, const nasx::Batch& train,
                           const nasx::Batch& search) override {
    const auto losses =
        nasx::mixed_level_arch_gradient(ctx.supernet(), train, search, options_.lambda);
    return losses.train_loss + options_.lambda * losses.val_loss;
  }

  void own_state(nasx::StateArchive& archive) override {
    std::vector<std::string> names, genotypes;
    std::vector<double> accuracies;
    for (const auto& [bucket, best] : buckets_) {
      names.push_back(bucket);
      accuracies.push_back(best.first);
      genotypes.push_back(best.second);
    }
    archive.field("bucket_names", names)
        .field("bucket_accuracies", accuracies)
        .field("bucket_genotypes", genotypes);
    if (archive.loading()) {
      buckets_.clear();
      for (size_t i = 0; i < names.size(); ++i)
        buckets_[names[i]] = {accuracies.at(i), genotypes.at(i)};
    }
  }

 private:
  MilenasOptions options_;
  std::map<std::string, std::pair<double, std::string>> buckets_;  // best (valid_acc, arch)
};

}  // namespace

NASX_PLUGIN(Milenas, "milenas", "1.0.0",
            "MiLeNAS: mixed-level gradient L_train + lambda L_val (He et al., CVPR 2020)")
