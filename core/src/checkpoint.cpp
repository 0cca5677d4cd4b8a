#include "nasx/core/checkpoint.hpp"

#include <algorithm>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/serialize/archive.h>

#include "nasx/core/files.hpp"
#include "nasx/error.hpp"
#include "nasx/state.hpp"
#include "nasx/strategy.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

namespace {

/// The host's state and LibTorch's CPU generator, listed once for both directions.
void bind_host_state(StateArchive& archive, HostState& state) {
  archive.field("next_step", state.next_step)
      .field("total_steps", state.total_steps)
      .field("events_size", state.events_size)
      .field("genotypes_size", state.genotypes_size)
      .field("evaluations_size", state.evaluations_size)
      .field("elapsed_seconds", state.elapsed_seconds);
  at::Tensor rng =
      archive.saving() ? at::detail::getDefaultCPUGenerator().get_state() : at::Tensor();
  archive.field("torch_rng", rng);
  if (archive.loading()) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
  }
}

void bind_parts(StateArchive& archive, const CheckpointParts& parts, HostState& state) {
  archive.object(parts.model_key, parts.model).group(parts.state_key, parts.bind_state);
  bind_host_state(archive, state);
}

}  // namespace

void save_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                     const HostState& state) {
  torch::serialize::OutputArchive root;
  StateArchive archive(root);
  HostState saved = state;
  bind_parts(archive, parts, saved);
  std::filesystem::create_directories(file.parent_path());
  save_archive_atomically(root, file);
}

HostState load_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                          const std::string& remedy) {
  try {
    torch::serialize::InputArchive root;
    root.load_from(file.string());
    StateArchive archive(root);
    HostState state;
    bind_parts(archive, parts, state);
    return state;
  } catch (const Error&) {
    throw;  // already says what is wrong (a plugin's state that does not fit)
  } catch (const std::exception& e) {
    // LibTorch's messages carry a C++ backtrace after the first line; the person needs
    // only the reason.
    const std::string what = e.what();
    throw IoError("cannot read checkpoint " + file.string() + ": " +
                  what.substr(0, std::min(what.find('\n'), size_t{400})) +
                  "\nThe file is damaged or from another configuration; " + remedy);
  }
}

void save_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy,
                     const HostState& state) {
  HostState with_total = state;
  with_total.total_steps = strategy.total_steps();
  save_checkpoint(paths.checkpoint,
                  {net, "supernet", "strategy", [&](StateArchive& s) { strategy.state(s); }},
                  with_total);
}

HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy) {
  return load_checkpoint(paths.checkpoint,
                         {net, "supernet", "strategy", [&](StateArchive& s) { strategy.state(s); }},
                         "delete the checkpoint folder to restart this run from the beginning");
}

}  // namespace nasx::core
