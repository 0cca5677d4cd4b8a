// nasx analyze: one subcommand per question a NAS study asks of its results, each
// writing tables (text, CSV, JSON) and gnuplot SVG plots into an output folder.

#include <iostream>

#include <boost/program_options.hpp>

#include "analyze.hpp"
#include "cli.hpp"

namespace po = boost::program_options;

namespace nasx::cli {

namespace {

const char* const kUsage =
    R"(usage: nasx analyze ranking RUN_DIR... --truth TABLE [--out DIR]
       nasx analyze score --truth TABLE --scorer NAME [--out DIR]
       nasx analyze cell GENOTYPE|RUN_DIR|SWEEP_DIR... [--connections N] [--out DIR]
       nasx analyze variants GENOTYPE --connections N --operations N --seed S
                             --preset TRAIN.toml [--out DIR]
       nasx analyze tau A.jsonl B.jsonl

ranking   runs of the ranking strategy against a ground-truth table: GT-Tau per epoch
          and over the last k minibatches (mean ± std), T1R/T3R, Spearman rho,
          consecutive-epoch tau, S-Tau between runs of a setting and over a run's last
          10 epochs, rank variance; plots of tau over epochs, the top children's rank
          trajectories, rank box plots.
score     Kendall tau and Spearman rho between a scorer plugin's scores of every
          architecture in a ground-truth table and their trained accuracy; a scatter plot.
cell      width and depth of each cell type (Shu et al. 2020): of a genotype, of a run's
          answer and its history over steps (genotypes.jsonl), of a sweep's answers per
          setting; each argument is a group. --connections N adds, per group, N
          random-connection variants of each answer.
variants  random-connection and random-operation variants of a genotype, written as a
          table build (DIR/variants.toml: `nasx table build` trains them with the preset)
          with their width and depth.
tau       Kendall tau-b and Spearman rho between the measurements ("score" or "accuracy")
          of the same architectures in two evaluations.jsonl files.

Everything lands in --out (default runs/analyze-<what>-<time>): NAME.txt and NAME.csv
tables, summary.json, NAME.svg plots with the gnuplot script NAME.gp beside each.)";

}  // namespace

int analyze_command(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage << "\n";
    if (args.empty()) throw po::error("nasx analyze needs a question: ranking, score, cell, variants, tau");
    return 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "ranking") return analyze_ranking(rest, kUsage);
  if (args[0] == "score") return analyze_score(rest, kUsage);
  if (args[0] == "cell") return analyze_cell(rest, kUsage);
  if (args[0] == "variants") return analyze_variants(rest, kUsage);
  if (args[0] == "tau") return analyze_tau(rest, kUsage);
  throw po::error("nasx analyze " + args[0] + ": give ranking, score, cell, variants or tau");
}

}  // namespace nasx::cli
