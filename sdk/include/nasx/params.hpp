#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "nasx/export.hpp"

namespace nasx {

/// The types a plugin parameter can have; TOML booleans, integers, floats, strings.
enum class ParamType { Bool, Int, Float, String };

/// "bool", "int", "float" or "string".
NASX_API const char* param_type_name(ParamType type);

/// One parameter value. Its alternative always matches the spec's ParamType.
using ParamValue = std::variant<bool, int64_t, double, std::string>;

/// The value in TOML syntax: `true`, `3`, `0.025`, `"first"`.
NASX_API std::string format_param_value(const ParamValue& value);

/// Inclusive bounds for Int and Float parameters.
struct Range {
  std::optional<double> min;
  std::optional<double> max;
};

/// What a plugin declares about one parameter; `nasx plugins info` prints it and the
/// host validates the plugin's TOML section against it.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Float;
  ParamValue default_value;
  Range range;
  std::vector<std::string> choices;  ///< String parameters: the allowed values (empty: any).
  std::string doc;                   ///< One line, shown by `nasx plugins info`.
};

/// Why `value` is not acceptable for `spec` ("0 is below the minimum 1"), or empty
/// when it is. The value must already have the spec's type.
NASX_API std::string param_value_problem(const ParamSpec& spec, const ParamValue& value);

/// The ordered list of a plugin's parameters.
class NASX_API ParamSchema {
 public:
  ParamSchema& add(ParamSpec spec);
  const std::vector<ParamSpec>& specs() const { return specs_; }
  const ParamSpec* find(std::string_view name) const;

 private:
  std::vector<ParamSpec> specs_;
};

/// Resolved parameter values by name: every parameter of the schema is present,
/// defaults filled in by the host.
using ParamValues = std::map<std::string, ParamValue>;

/// Binds a plugin's options struct to its schema so that defaults live on the
/// struct's field lines and one call reads resolved values into the struct.
///
///     struct MyOptions { int64_t epochs = 50; double lr = 0.025; };
///     static const auto binding = nasx::OptionsBinding<MyOptions>()
///         .field("epochs", &MyOptions::epochs, "search epochs", {1, std::nullopt})
///         .field("lr", &MyOptions::lr, "learning rate", {0.0, std::nullopt});
///     binding.schema();           // defaults taken from MyOptions{}
///     binding.read(ctx.params()); // MyOptions with the run's values
///
/// An option with a few named values is an enum, parsed once here (the TOML holds the
/// name, a step compares enums):
///
///     enum class Order { First, Second };
///     .field("order", &MyOptions::order, "gradient order",
///            {{"first", Order::First}, {"second", Order::Second}})
template <class Options>
class OptionsBinding {
 public:
  OptionsBinding& field(std::string name, bool Options::*member, std::string doc) {
    return bind(std::move(name), ParamType::Bool, member, std::move(doc), {}, {});
  }
  OptionsBinding& field(std::string name, int64_t Options::*member, std::string doc,
                        Range range = {}) {
    return bind(std::move(name), ParamType::Int, member, std::move(doc), range, {});
  }
  OptionsBinding& field(std::string name, double Options::*member, std::string doc,
                        Range range = {}) {
    return bind(std::move(name), ParamType::Float, member, std::move(doc), range, {});
  }
  OptionsBinding& field(std::string name, std::string Options::*member, std::string doc,
                        std::vector<std::string> choices = {}) {
    return bind(std::move(name), ParamType::String, member, std::move(doc), {}, std::move(choices));
  }

  template <class Enum, class = std::enable_if_t<std::is_enum_v<Enum>>>
  OptionsBinding& field(std::string name, Enum Options::*member, std::string doc,
                        std::vector<std::pair<std::string, Enum>> values) {
    const Options defaults;
    std::vector<std::string> names;
    std::string default_name;
    for (const auto& [value_name, value] : values) {
      names.push_back(value_name);
      if (value == defaults.*member) default_name = value_name;
    }
    schema_.add(
        ParamSpec{name, ParamType::String, ParamValue(default_name), {}, names, std::move(doc)});
    setters_.push_back([name, member, values](Options& options, const ParamValues& given) {
      auto found = given.find(name);
      if (found == given.end()) return;
      for (const auto& [value_name, value] : values)
        if (value_name == std::get<std::string>(found->second)) options.*member = value;
    });
    getters_.push_back([name, member, values](const Options& options, ParamValues& out) {
      for (const auto& [value_name, value] : values)
        if (value == options.*member) out[name] = ParamValue(value_name);
    });
    return *this;
  }

  const ParamSchema& schema() const { return schema_; }

  /// The options with every bound field taken from `values` (absent names keep
  /// their defaults).
  Options read(const ParamValues& values) const {
    Options options;
    for (const auto& setter : setters_) setter(options, values);
    return options;
  }

  /// The options as parameter values (what a resolved config writes out).
  ParamValues values(const Options& options) const {
    ParamValues values;
    for (const auto& getter : getters_) getter(options, values);
    return values;
  }

 private:
  template <class T>
  OptionsBinding& bind(std::string name, ParamType type, T Options::*member, std::string doc,
                       Range range, std::vector<std::string> choices) {
    const Options defaults;
    schema_.add(ParamSpec{name, type, ParamValue(defaults.*member), range, std::move(choices),
                          std::move(doc)});
    setters_.push_back([name, member](Options& options, const ParamValues& values) {
      auto found = values.find(name);
      if (found != values.end()) options.*member = std::get<T>(found->second);
    });
    getters_.push_back([name, member](const Options& options, ParamValues& values) {
      values[name] = ParamValue(options.*member);
    });
    return *this;
  }

  ParamSchema schema_;
  std::vector<std::function<void(Options&, const ParamValues&)>> setters_;
  std::vector<std::function<void(const Options&, ParamValues&)>> getters_;
};

}  // namespace nasx
