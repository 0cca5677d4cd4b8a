#pragma once
/// The plugin ABI.
///
/// A plugin is a shared library that exports one C function, `nasx_plugin_entry`,
/// returning a plain-C descriptor. The host reads the descriptor before it touches
/// any C++ type of the plugin: the ABI version first (it guards the rest of the
/// layout), then the build stamp, and only when every field matches does it call
/// the factory. A complete plugin:
///
///     #include <nasx/selector.hpp>
///
///     class Firstborn final : public nasx::Selector {
///      public:
///       static nasx::ParamSchema schema() { return {}; }
///       nasx::Architecture select(nasx::Context& ctx) override { ... }
///     };
///
///     NASX_PLUGIN(Firstborn, "firstborn", "1.0.0", "picks the first operation on every edge")
///
/// Build it with `nasx_add_plugin(firstborn selector firstborn.cpp)` and drop the
/// resulting `nasx_selector_firstborn.so` into a plugin folder.

#include <cstddef>
#include <cstdint>
#include <exception>

#include <torch/version.h>
#include <boost/config.hpp>

#include "nasx/export.hpp"
#include "nasx/params.hpp"
#include "nasx/version.hpp"

extern "C" {

/// The five kinds of plugin.
enum nasx_plugin_kind : uint32_t {
  NASX_KIND_STRATEGY = 1,  ///< nasx::SearchStrategy
  NASX_KIND_SELECTOR = 2,  ///< nasx::Selector
  NASX_KIND_PRUNER = 3,    ///< nasx::EnsemblePruner
  NASX_KIND_SCORER = 4,    ///< nasx::ArchScorer
  NASX_KIND_SPACE = 5,     ///< nasx::SearchSpace
};

/// What a plugin says about itself. Plain C; `abi_version` must stay the first field.
struct nasx_plugin_descriptor {
  uint32_t abi_version;       ///< NASX_ABI_VERSION the plugin was built with.
  uint32_t kind;              ///< A nasx_plugin_kind.
  const char* name;           ///< Unique name used in configs ("darts").
  const char* version;        ///< The plugin's own version ("1.0.0").
  const char* summary;        ///< One line for `nasx plugins list`.
  const char* sdk_version;    ///< NASX_SDK_VERSION at build time.
  const char* torch_version;  ///< TORCH_VERSION at build time ("1.13.0").
  int32_t cxx11_abi;          ///< _GLIBCXX_USE_CXX11_ABI at build time.
  int32_t with_cuda;          ///< 1 when built against a CUDA LibTorch.
  /// A new plugin object (a `nasx::Plugin*`), or null with a message in `error`.
  void* (*create)(char* error, size_t error_size);
  /// A new `nasx::ParamSchema*` describing the parameters, or null with a message.
  void* (*schema)(char* error, size_t error_size);
};

}  // extern "C"

/// The exported symbol every plugin defines (through NASX_PLUGIN).
#define NASX_PLUGIN_ENTRY_SYMBOL "nasx_plugin_entry"

#if defined(NASX_WITH_CUDA)
#define NASX_BUILT_WITH_CUDA 1
#else
#define NASX_BUILT_WITH_CUDA 0
#endif

namespace nasx {

/// Base of all plugin objects; the host owns them through this type.
class NASX_API Plugin {
 public:
  virtual ~Plugin();
};

/// Human name of a kind: "strategy", "selector", "pruner", "scorer", "space" ("unknown"
/// otherwise).
NASX_API const char* plugin_kind_name(uint32_t kind);

namespace detail {

NASX_API void copy_error(char* error, size_t error_size, const char* message);

template <class T>
void* create_plugin(char* error, size_t error_size) {
  try {
    return static_cast<Plugin*>(new T());
  } catch (const std::exception& e) {
    copy_error(error, error_size, e.what());
  } catch (...) {
    copy_error(error, error_size, "an exception that is not a std::exception");
  }
  return nullptr;
}

template <class T>
void* create_schema(char* error, size_t error_size) {
  try {
    return new ParamSchema(T::schema());
  } catch (const std::exception& e) {
    copy_error(error, error_size, e.what());
  } catch (...) {
    copy_error(error, error_size, "an exception that is not a std::exception");
  }
  return nullptr;
}

}  // namespace detail
}  // namespace nasx

/// Exports plugin class `Class` (default-constructible, derived from one of the
/// five kind interfaces, with `static nasx::ParamSchema schema()`). Write it once,
/// at namespace scope, in one source file of the plugin.
#define NASX_PLUGIN(Class, Name, Version, Summary)                                   \
  extern "C" BOOST_SYMBOL_EXPORT const nasx_plugin_descriptor* nasx_plugin_entry() { \
    static const nasx_plugin_descriptor descriptor = {                               \
        NASX_ABI_VERSION,                                                            \
        Class::kKind,                                                                \
        Name,                                                                        \
        Version,                                                                     \
        Summary,                                                                     \
        NASX_SDK_VERSION,                                                            \
        TORCH_VERSION,                                                               \
        _GLIBCXX_USE_CXX11_ABI,                                                      \
        NASX_BUILT_WITH_CUDA,                                                        \
        &::nasx::detail::create_plugin<Class>,                                       \
        &::nasx::detail::create_schema<Class>,                                       \
    };                                                                               \
    return &descriptor;                                                              \
  }
