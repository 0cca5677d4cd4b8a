#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "nasx/error.hpp"
#include "nasx/params.hpp"
#include "nasx/plugin.hpp"

namespace nasx::core {

/// A plugin whose descriptor passed every check.
struct PluginInfo {
  std::string path;
  uint32_t kind = 0;
  std::string name;
  std::string version;
  std::string summary;
  std::string sdk_version;
  std::string torch_version;
  ParamSchema schema;
  const nasx_plugin_descriptor* descriptor = nullptr;
};

/// A file in a plugin folder that could not be used, and why.
struct PluginFailure {
  std::string path;
  std::string reason;
};

/// Finds, checks and keeps plugin libraries. Libraries are never unloaded: code
/// linked against LibTorch must stay mapped for the life of the process.
class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  /// The folders searched by default: the build's plugin folder, the installed one
  /// next to the executable, then every entry of $NASX_PLUGIN_PATH.
  static std::vector<std::string> default_directories();

  /// Loads every `*.so` in `directory`; files that fail are recorded in failures().
  /// Throws PluginError when the folder does not exist and `required` is set.
  void add_directory(const std::string& directory, bool required);

  /// Loads one library; throws PluginError with the file, the reason and the fix.
  const PluginInfo& load_file(const std::string& path);

  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  /// The folders a user named (--plugin-path), absolute, in the order given.
  const std::vector<std::string>& requested_directories() const { return requested_; }
  const std::vector<PluginFailure>& failures() const { return failures_; }

  /// The plugin `name` of `kind`; throws PluginError listing what is available
  /// (with a did-you-mean) and the files that failed to load.
  const PluginInfo& find(uint32_t kind, const std::string& name) const;
  /// The plugin `name` of any kind, or null.
  const PluginInfo* find_any(const std::string& name) const;

  /// A new instance; the plugin's exceptions become PluginError naming the file.
  std::unique_ptr<Plugin> create(const PluginInfo& info) const;

 private:
  std::vector<PluginInfo> plugins_;
  std::vector<PluginFailure> failures_;
  std::vector<std::string> requested_;
};

/// A run or training folder remembers the plugin folders it was started with
/// (DIR/plugin_paths.txt, one per line), so that `nasx resume DIR` finds its plugins
/// without --plugin-path. Writes nothing when no folder was named.
void remember_plugin_directories(const PluginRegistry& registry, const std::filesystem::path& dir);

/// Loads the plugin folders `dir` remembers. Throws PluginError naming the file when one
/// of them is gone.
void add_remembered_plugin_directories(PluginRegistry& registry, const std::filesystem::path& dir);

/// Creates a plugin of the expected interface type.
template <class Interface>
std::unique_ptr<Interface> create_plugin(const PluginRegistry& registry, const PluginInfo& info) {
  std::unique_ptr<Plugin> plugin = registry.create(info);
  auto* typed = dynamic_cast<Interface*>(plugin.get());
  if (typed == nullptr)
    throw PluginError(info.path + ": plugin '" + info.name + "' says it is a " +
                      plugin_kind_name(info.kind) +
                      " but its object does not implement that interface; rebuild it with "
                      "NASX_PLUGIN on a class derived from the matching nasx interface");
  plugin.release();
  return std::unique_ptr<Interface>(typed);
}

}  // namespace nasx::core
