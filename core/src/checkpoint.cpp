#include "nasx/core/checkpoint.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/serialize/archive.h>

#include "nasx/core/config.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/error.hpp"
#include "nasx/state.hpp"
#include "nasx/strategy.hpp"
#include "nasx/supernet.hpp"

namespace nasx::core {

namespace {

constexpr char kMagic[8] = {'N', 'A', 'S', 'X', 'C', 'K', 'P', 'T'};
constexpr uint32_t kEnvelopeFormat = 1;
constexpr size_t kHeaderSize = 24;  // magic, format, CRC-32, payload size

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t get_le(const std::string& in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return value;
}

uint32_t crc32_of(const char* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {  // zlib takes at most 4 GiB per call
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

std::string envelope(const std::string& payload) {
  std::string out(kMagic, sizeof kMagic);
  put_le(out, kEnvelopeFormat, 4);
  put_le(out, crc32_of(payload.data(), payload.size()), 4);
  put_le(out, payload.size(), 8);
  return out + payload;
}

/// The archive inside `file`'s envelope, checked; IoError saying what is wrong otherwise.
/// The header is checked against the file's size before the archive is read.
std::string checked_payload(const std::filesystem::path& file, const std::string& remedy) {
  const std::string where = "checkpoint " + file.string();
  std::ifstream in(file, std::ios::binary);
  std::error_code error;
  const uint64_t file_size = std::filesystem::file_size(file, error);
  if (!in || error) throw IoError("cannot open " + where + "; " + remedy);
  std::string header(kHeaderSize, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header.size()));
  header.resize(static_cast<size_t>(in.gcount()));
  if (header.size() >= 4 && header.compare(0, 4, "PK\x03\x04") == 0)
    throw IoError(where +
                  " was written by nasx before 0.6 (no checksum), which cannot be checked; "
                  "finish it with that version, or " + remedy);
  if (header.size() < kHeaderSize || header.compare(0, sizeof kMagic, kMagic, sizeof kMagic) != 0)
    throw IoError(where + " is not a nasx checkpoint (" + std::to_string(file_size) +
                  " bytes, no NASXCKPT header); " + remedy);
  const uint64_t format = get_le(header, 8, 4);
  if (format != kEnvelopeFormat)
    throw IoError(where + " has envelope format " + std::to_string(format) +
                  ", this nasx reads format " + std::to_string(kEnvelopeFormat) + "; " + remedy);
  const uint64_t size = get_le(header, 16, 8);
  if (size != file_size - kHeaderSize)
    throw IoError(where + " is damaged: it should hold " + std::to_string(size) +
                  " bytes after its header but holds " + std::to_string(file_size - kHeaderSize) +
                  " (cut or extended); " + remedy);
  std::string payload(size, '\0');
  in.read(payload.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size)
    throw IoError("cannot read " + where + " to its end; " + remedy);
  const uint32_t stored = static_cast<uint32_t>(get_le(header, 12, 4));
  if (stored != crc32_of(payload.data(), payload.size()))
    throw IoError(where +
                  " is damaged: its checksum does not match its contents (the file changed "
                  "after nasx wrote it); " + remedy);
  return payload;
}

/// The host's state and LibTorch's CPU generator, listed once for both directions.
void bind_host_state(StateArchive& archive, HostState& state) {
  std::string last_metrics = archive.saving() ? json_line(json_object(state.last_metrics)) : "";
  archive.field("next_step", state.next_step)
      .field("total_steps", state.total_steps)
      .field("events_size", state.events_size)
      .field("genotypes_size", state.genotypes_size)
      .field("evaluations_size", state.evaluations_size)
      .field("elapsed_seconds", state.elapsed_seconds)
      .field("last_metrics", last_metrics)
      .field("config", state.config);
  if (archive.loading()) {
    state.last_metrics.clear();
    const Json metrics = parse_json_or_empty(last_metrics);
    for (const auto& [name, value] : metrics.items())
      state.last_metrics[name] = value.is_number() ? value.get<double>() : std::nan("");
  }
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
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  if (error)
    throw IoError("cannot create " + file.parent_path().string() + ": " + error.message() +
                  "; check that the folder is writable");
  write_file_atomically(file, envelope(archive_bytes(root)));
}

void read_checkpoint_archive(const std::filesystem::path& file,
                             torch::serialize::InputArchive& archive, const std::string& remedy) {
  const std::string payload = checked_payload(file, remedy);
  try {
    archive.load_from(payload.data(), payload.size());
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw IoError("cannot read checkpoint " + file.string() + ": " +
                  what.substr(0, std::min(what.find('\n'), size_t{400})) + "; " + remedy);
  }
}

void check_checkpoint_config(const std::filesystem::path& file, const HostState& state,
                             const std::string& current, StartMode mode, Progress& progress) {
  // Compared key by key: the header comment names the file it was resolved from.
  const std::vector<std::string> differences = config_differences(state.config, current);
  if (differences.empty()) return;
  std::string list;
  for (const auto& line : differences) list += "\n  " + line;
  if (mode == StartMode::resume_accepting_config_change) {
    progress.line("accepting a changed configuration (" + file.string() + " was written under "
                  "another one):" + list);
    return;
  }
  throw ConfigError("the checkpoint " + file.string() +
                    " was written under another configuration than the run folder's "
                    "config.toml now gives (checkpoint value -> config.toml value):" +
                    list +
                    "\nUndo the edit (or put back this run's own checkpoint), or resume with "
                    "--accept-config-change if the change is deliberate: the run then goes on "
                    "under the new settings from its last checkpoint");
}

HostState load_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                          const std::string& remedy,
                          const std::function<void(const HostState&)>& check_first) {
  torch::serialize::InputArchive root;
  read_checkpoint_archive(file, root, remedy);
  try {
    StateArchive archive(root);
    HostState state;
    if (check_first) {
      // The host's part alone first: a changed config is named key by key before the
      // model's or the plugin's state, whose shapes it may have changed, is read.
      bind_host_state(archive, state);
      check_first(state);
    }
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
  save_checkpoint(paths.checkpoint,
                  {net, "supernet", "strategy", [&](StateArchive& s) { strategy.state(s); }},
                  state);
}

HostState load_checkpoint(const RunPaths& paths, Supernet& net, SearchStrategy& strategy,
                          const std::function<void(const HostState&)>& check_first) {
  return load_checkpoint(paths.checkpoint,
                         {net, "supernet", "strategy", [&](StateArchive& s) { strategy.state(s); }},
                         "delete the checkpoint folder to restart this run from the beginning",
                         check_first);
}

}  // namespace nasx::core
