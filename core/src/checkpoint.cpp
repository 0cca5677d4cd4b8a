#include "nasx/core/checkpoint.hpp"

#include <algorithm>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/archive.h>

#include "nasx/core/files.hpp"
#include "nasx/error.hpp"
#include "nasx/strategy.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

void save_checkpoint(const std::filesystem::path& file, Supernet& net,
                     const std::string& plugin_key,
                     const std::function<void(torch::serialize::OutputArchive&)>& save_plugin,
                     const HostState& state) {
  torch::serialize::OutputArchive root;
  torch::serialize::OutputArchive net_archive;
  net.save(net_archive);
  root.write("supernet", net_archive);
  torch::serialize::OutputArchive plugin_archive;
  save_plugin(plugin_archive);
  root.write(plugin_key, plugin_archive);
  root.write("next_step", c10::IValue(state.next_step));
  root.write("total_steps", c10::IValue(state.total_steps));
  root.write("events_size", c10::IValue(state.events_size));
  root.write("genotypes_size", c10::IValue(state.genotypes_size));
  root.write("evaluations_size", c10::IValue(state.evaluations_size));
  root.write("elapsed_seconds", c10::IValue(state.elapsed_seconds));
  root.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
  std::filesystem::create_directories(file.parent_path());
  save_archive_atomically(root, file);
}

HostState load_checkpoint(const std::filesystem::path& file, Supernet& net,
                          const std::string& plugin_key,
                          const std::function<void(torch::serialize::InputArchive&)>& load_plugin,
                          const std::string& remedy) {
  torch::serialize::InputArchive root;
  try {
    root.load_from(file.string());
    torch::serialize::InputArchive net_archive;
    root.read("supernet", net_archive);
    net.load(net_archive);
    torch::serialize::InputArchive plugin_archive;
    root.read(plugin_key, plugin_archive);
    load_plugin(plugin_archive);
    HostState state;
    const auto read_int = [&](const char* key, int64_t& out) {
      c10::IValue value;
      root.read(key, value);
      out = value.toInt();
    };
    read_int("next_step", state.next_step);
    // Checkpoints written before total_steps was recorded leave it at 0 (unknown).
    c10::IValue total;
    if (root.try_read("total_steps", total)) state.total_steps = total.toInt();
    read_int("events_size", state.events_size);
    read_int("genotypes_size", state.genotypes_size);
    read_int("evaluations_size", state.evaluations_size);
    c10::IValue elapsed;
    root.read("elapsed_seconds", elapsed);
    state.elapsed_seconds = elapsed.toDouble();
    at::Tensor rng;
    root.read("torch_rng", rng, /*is_buffer=*/true);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
    return state;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // LibTorch's messages carry a C++ backtrace after the first line; the person needs
    // only the reason.
    const std::string what = e.what();
    throw IoError("cannot read checkpoint " + file.string() + ": " +
                  what.substr(0, std::min(what.find('\n'), size_t{400})) +
                  "\nThe file is damaged or from another configuration; " + remedy);
  }
}

void save_checkpoint(const RunPaths& paths, Supernet& net, const SearchStrategy& strategy,
                     const HostState& state) {
  HostState with_total = state;
  with_total.total_steps = strategy.total_steps();
  save_checkpoint(
      paths.checkpoint, net, "strategy",
      [&](torch::serialize::OutputArchive& archive) { strategy.save(archive); }, with_total);
}

HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy) {
  return load_checkpoint(
      paths.checkpoint, net, "strategy",
      [&](torch::serialize::InputArchive& archive) { strategy.load(archive); },
      "delete the checkpoint folder to restart this run from the beginning");
}

}  // namespace nasx::core
