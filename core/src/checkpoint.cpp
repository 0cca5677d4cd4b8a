#include "nasx/core/checkpoint.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/archive.h>

#include "nasx/core/files.hpp"
#include "nasx/error.hpp"
#include "nasx/strategy.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

void save_checkpoint(const RunPaths& paths, Supernet& net, const SearchStrategy& strategy,
                     const HostState& state) {
  torch::serialize::OutputArchive root;
  torch::serialize::OutputArchive net_archive;
  net.save(net_archive);
  root.write("supernet", net_archive);
  torch::serialize::OutputArchive strategy_archive;
  strategy.save(strategy_archive);
  root.write("strategy", strategy_archive);
  root.write("next_step", c10::IValue(state.next_step));
  root.write("events_size", c10::IValue(state.events_size));
  root.write("genotypes_size", c10::IValue(state.genotypes_size));
  root.write("evaluations_size", c10::IValue(state.evaluations_size));
  root.write("elapsed_seconds", c10::IValue(state.elapsed_seconds));
  root.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
  save_archive_atomically(root, paths.checkpoint);
}

HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy) {
  torch::serialize::InputArchive root;
  try {
    root.load_from(paths.checkpoint.string());
    torch::serialize::InputArchive net_archive;
    root.read("supernet", net_archive);
    net.load(net_archive);
    torch::serialize::InputArchive strategy_archive;
    root.read("strategy", strategy_archive);
    strategy.load(strategy_archive);
    HostState state;
    c10::IValue value;
    root.read("next_step", value);
    state.next_step = value.toInt();
    root.read("events_size", value);
    state.events_size = value.toInt();
    root.read("genotypes_size", value);
    state.genotypes_size = value.toInt();
    root.read("evaluations_size", value);
    state.evaluations_size = value.toInt();
    root.read("elapsed_seconds", value);
    state.elapsed_seconds = value.toDouble();
    at::Tensor rng;
    root.read("torch_rng", rng, /*is_buffer=*/true);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
    return state;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw IoError("cannot read checkpoint " + paths.checkpoint.string() + ": " +
                  std::string(e.what()).substr(0, 400) +
                  "\nThe file is damaged or from another configuration; delete the checkpoint "
                  "folder to restart this run from the beginning");
  }
}

}  // namespace nasx::core
