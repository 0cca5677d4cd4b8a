#include "nasx/core/registry.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/dll/shared_library.hpp>

#include "nasx/core/config.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/plugin_file.hpp"

#ifndef NASX_BUILD_PLUGIN_DIR
#define NASX_BUILD_PLUGIN_DIR ""
#endif

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// Every library ever loaded, never destroyed: unloading code that links LibTorch
/// (static registrations, thread-locals) crashes at exit.
std::vector<boost::dll::shared_library*>& loaded_libraries() {
  static auto* libraries = new std::vector<boost::dll::shared_library*>();
  return *libraries;
}

std::string host_stamp() {
  std::ostringstream out;
  out << "SDK " << NASX_SDK_VERSION << ", ABI " << NASX_ABI_VERSION << ", LibTorch "
      << TORCH_VERSION << (NASX_BUILT_WITH_CUDA ? " (CUDA)" : " (CPU)")
      << ", _GLIBCXX_USE_CXX11_ABI=" << _GLIBCXX_USE_CXX11_ABI;
  return out.str();
}

std::string str_or_empty(const char* text) { return text ? text : ""; }

std::string major_minor(const std::string& version) {
  const auto first = version.find('.');
  if (first == std::string::npos) return version;
  const auto second = version.find('.', first + 1);
  return version.substr(0, second);
}

}  // namespace

PluginRegistry::PluginRegistry() = default;
PluginRegistry::~PluginRegistry() = default;

std::vector<std::string> PluginRegistry::default_directories() {
  std::vector<std::string> dirs;
  // PREFIX/lib/nasx/plugins beside PREFIX/bin/nasx: the install layout, which the build
  // tree repeats (build/bin, build/lib/nasx/plugins). An installed host thus never loads
  // a build folder's plugins beside its own; the compiled-in build folder is the
  // fallback for a binary elsewhere.
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  const fs::path beside =
      error ? fs::path() : exe.parent_path().parent_path() / "lib" / "nasx" / "plugins";
  const std::string build_dir = NASX_BUILD_PLUGIN_DIR;
  if (!beside.empty() && fs::is_directory(beside, error))
    dirs.push_back(beside.string());
  else if (!build_dir.empty() && fs::is_directory(build_dir, error))
    dirs.push_back(build_dir);
  if (const char* env = std::getenv("NASX_PLUGIN_PATH")) {
    std::stringstream stream(env);
    for (std::string dir; std::getline(stream, dir, ':');)
      if (!dir.empty()) dirs.push_back(dir);
  }
  return dirs;
}

void PluginRegistry::add_directory(const std::string& directory, bool required) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    if (required)
      throw PluginError(
          "plugin folder " + directory +
          " does not exist or is not a folder; check --plugin-path / NASX_PLUGIN_PATH");
    failures_.push_back({directory, "plugin folder does not exist (from NASX_PLUGIN_PATH?)"});
    return;
  }
  if (required) {
    const std::string absolute = fs::absolute(directory).lexically_normal().string();
    if (std::find(requested_.begin(), requested_.end(), absolute) == requested_.end())
      requested_.push_back(absolute);
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(directory, error))
    if (entry.path().extension() == ".so") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());  // load order must not depend on the file system
  for (const auto& file : files) {
    try {
      load_file(file);
    } catch (const PluginError& e) {
      failures_.push_back({file, e.what()});
    }
  }
}

namespace {

/// The library at `canonical`, loaded with every symbol resolved now (a library built
/// against another LibTorch fails here, not at a random call later) and never unloaded.
std::unique_ptr<boost::dll::shared_library> open_library(const std::string& canonical) {
  auto mode = static_cast<boost::dll::load_mode::type>(
      boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local | RTLD_NODELETE);
  try {
    return std::make_unique<boost::dll::shared_library>(canonical, mode);
  } catch (const std::exception& e) {
    const std::string why = e.what();  // carries dlerror()'s text
    std::string hint = "is it a shared library built for this machine?";
    if (why.find("undefined symbol") != std::string::npos)
      hint =
          "it was probably built against another nasx SDK or LibTorch; rebuild it against "
          "this host (" +
          host_stamp() + ")";
    throw PluginError(canonical + ": cannot be loaded: " + why + "; " + hint);
  }
}

const nasx_plugin_descriptor* read_descriptor(const boost::dll::shared_library& library,
                                              const std::string& canonical) {
  if (!library.has(NASX_PLUGIN_ENTRY_SYMBOL))
    throw PluginError(canonical + ": not a nasx plugin: it does not export '" +
                      NASX_PLUGIN_ENTRY_SYMBOL +
                      "'. A plugin's source must end with NASX_PLUGIN(Class, name, version, "
                      "summary); anything else does not belong in a plugin folder");
  auto entry = library.get<const nasx_plugin_descriptor*()>(NASX_PLUGIN_ENTRY_SYMBOL);
  const nasx_plugin_descriptor* descriptor = entry();
  if (descriptor == nullptr)
    throw PluginError(canonical + ": " + NASX_PLUGIN_ENTRY_SYMBOL +
                      " returned no descriptor; the plugin is broken, rebuild it with NASX_PLUGIN");
  return descriptor;
}

/// The ABI number alone first (it guards the layout of everything after it), then every
/// mismatch of the build stamp in one sentence.
void check_build(const nasx_plugin_descriptor& descriptor, const std::string& canonical) {
  if (descriptor.abi_version != NASX_ABI_VERSION)
    throw PluginError(canonical + ": built for plugin ABI " +
                      std::to_string(descriptor.abi_version) + ", but this nasx loads ABI " +
                      std::to_string(NASX_ABI_VERSION) + "; rebuild the plugin against this SDK (" +
                      host_stamp() + ")");
  std::vector<std::string> mismatches;
  const std::string torch_version = str_or_empty(descriptor.torch_version);
  if (major_minor(torch_version) != major_minor(TORCH_VERSION))
    mismatches.push_back("LibTorch " + torch_version + " instead of " + TORCH_VERSION);
  if (descriptor.cxx11_abi != _GLIBCXX_USE_CXX11_ABI)
    mismatches.push_back("_GLIBCXX_USE_CXX11_ABI=" + std::to_string(descriptor.cxx11_abi) +
                         " instead of " + std::to_string(_GLIBCXX_USE_CXX11_ABI));
  if (descriptor.with_cuda != NASX_BUILT_WITH_CUDA)
    mismatches.push_back(std::string(descriptor.with_cuda ? "a CUDA" : "a CPU-only") +
                         " LibTorch instead of " +
                         (NASX_BUILT_WITH_CUDA ? "a CUDA" : "a CPU-only") + " one");
  if (mismatches.empty()) return;
  std::string list;
  for (size_t i = 0; i < mismatches.size(); ++i)
    list += (i ? (i + 1 == mismatches.size() ? " and " : ", ") : "") + mismatches[i];
  throw PluginError(canonical + ": built with " + list + "; rebuild it against this host (" +
                    host_stamp() + ")");
}

}  // namespace

const PluginInfo& PluginRegistry::load_file(const std::string& path) {
  std::error_code error;
  const std::string canonical = fs::weakly_canonical(path, error).string();
  for (const auto& info : plugins_)
    if (info.path == canonical) return info;
  if (!fs::is_regular_file(canonical, error)) throw PluginError(path + ": no such plugin file");
  // A damaged file must be an error here, not a crash inside dlopen.
  check_plugin_elf(canonical, NASX_PLUGIN_ENTRY_SYMBOL);
  probe_plugin_in_child(canonical, NASX_PLUGIN_ENTRY_SYMBOL);

  std::unique_ptr<boost::dll::shared_library> library = open_library(canonical);
  const nasx_plugin_descriptor* descriptor = read_descriptor(*library, canonical);
  check_build(*descriptor, canonical);
  const std::string name = str_or_empty(descriptor->name);
  if (name.empty() || descriptor->create == nullptr || descriptor->schema == nullptr ||
      std::string(plugin_kind_name(descriptor->kind)) == "unknown")
    throw PluginError(canonical + ": its descriptor is incomplete (empty name, unknown kind " +
                      std::to_string(descriptor->kind) +
                      " or a null factory); rebuild it with the NASX_PLUGIN macro");
  // Names are unique per kind: a scorer and a strategy may share one ("naswot").
  for (const auto& other : plugins_)
    if (other.name == name && other.kind == descriptor->kind)
      throw PluginError(canonical + ": another " + plugin_kind_name(other.kind) +
                        " plugin is already named '" + name + "' (" + other.path +
                        "); remove one of the two files or rename one plugin");

  char message[1024] = {0};
  std::unique_ptr<ParamSchema> schema(
      static_cast<ParamSchema*>(descriptor->schema(message, sizeof message)));
  if (!schema)
    throw PluginError(canonical + ": plugin '" + name + "' failed to describe its parameters: " +
                      message + "; this is a bug in the plugin");

  PluginInfo info;
  info.path = canonical;
  info.kind = descriptor->kind;
  info.name = name;
  info.version = str_or_empty(descriptor->version);
  info.summary = str_or_empty(descriptor->summary);
  info.sdk_version = str_or_empty(descriptor->sdk_version);
  info.torch_version = str_or_empty(descriptor->torch_version);
  info.schema = *schema;
  info.descriptor = descriptor;
  loaded_libraries().push_back(library.release());
  plugins_.push_back(std::move(info));
  return plugins_.back();
}

const PluginInfo* PluginRegistry::find_any(const std::string& name) const {
  for (const auto& info : plugins_)
    if (info.name == name) return &info;
  return nullptr;
}

const PluginInfo& PluginRegistry::find(uint32_t kind, const std::string& name) const {
  for (const auto& info : plugins_)
    if (info.name == name && info.kind == kind) return info;
  const PluginInfo* found = find_any(name);
  std::ostringstream message;
  if (found != nullptr) {
    message << "plugin '" << name << "' is a " << plugin_kind_name(found->kind) << ", not a "
            << plugin_kind_name(kind);
  } else {
    message << "no " << plugin_kind_name(kind) << " plugin named '" << name << "'";
  }
  std::vector<std::string> candidates;
  for (const auto& info : plugins_)
    if (info.kind == kind) candidates.push_back(info.name);
  const std::string guess = did_you_mean(name, candidates);
  if (!guess.empty()) message << "; did you mean '" << guess << "'?";
  const std::string kind_name = plugin_kind_name(kind);
  message << " (available "
          << (kind_name.back() == 'y' ? kind_name.substr(0, kind_name.size() - 1) + "ies"
                                      : kind_name + "s")
          << ":";
  if (candidates.empty()) message << " none";
  for (const auto& candidate : candidates) message << ' ' << candidate;
  message << "; `nasx plugins list` shows all; a plugin outside nasx's folders loads with "
             "--plugin-path DIR or NASX_PLUGIN_PATH)";
  for (const auto& failure : failures_)
    message << "\n  note: " << failure.path << " was not loaded: " << failure.reason;
  throw PluginError(message.str());
}

std::unique_ptr<Plugin> PluginRegistry::create(const PluginInfo& info) const {
  char message[1024] = {0};
  void* object = nullptr;
  try {
    object = info.descriptor->create(message, sizeof message);
  } catch (const std::exception& e) {
    detail::copy_error(message, sizeof message, e.what());
  }
  if (object == nullptr)
    throw PluginError(info.path + ": the factory of plugin '" + info.name + "' threw: " + message +
                      "; this is an error in the plugin (or in the parameters it was given)");
  return std::unique_ptr<Plugin>(static_cast<Plugin*>(object));
}

namespace {
const char* const kRememberedFile = "plugin_paths.txt";
}  // namespace

void remember_plugin_directories(const PluginRegistry& registry, const fs::path& dir) {
  if (registry.requested_directories().empty()) return;
  std::string text;
  for (const std::string& directory : registry.requested_directories()) text += directory + "\n";
  write_file_atomically(dir / kRememberedFile, text);
}

void add_remembered_plugin_directories(PluginRegistry& registry, const fs::path& dir) {
  std::ifstream in(dir / kRememberedFile);
  std::string directory;
  while (std::getline(in, directory)) {
    if (directory.empty()) continue;
    std::error_code error;
    if (!fs::is_directory(directory, error))
      throw PluginError((dir / kRememberedFile).string() + ": the run was started with "
                        "--plugin-path " + directory + ", which is no longer a folder; put the "
                        "plugins back there, or edit the file to name where they are now");
    registry.add_directory(directory, /*required=*/true);
  }
}

}  // namespace nasx::core
