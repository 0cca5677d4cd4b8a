#pragma once

#include <filesystem>

namespace nasx::core {

/// The files of a run folder (see README: "A run folder").
struct RunPaths {
  explicit RunPaths(const std::filesystem::path& root)
      : dir(root),
        config(root / "config.toml"),
        events(root / "events.jsonl"),
        genotypes(root / "genotypes.jsonl"),
        evaluations(root / "evaluations.jsonl"),
        checkpoint_dir(root / "checkpoint"),
        checkpoint(root / "checkpoint" / "state.pt"),
        select_checkpoint(root / "checkpoint" / "select.pt"),
        genotype(root / "genotype.txt"),
        summary(root / "summary.json") {}

  std::filesystem::path dir, config, events, genotypes, evaluations, checkpoint_dir, checkpoint,
      select_checkpoint, genotype, summary;
};

}  // namespace nasx::core
