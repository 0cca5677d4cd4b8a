#include "nasx/params.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace nasx {

const char* param_type_name(ParamType type) {
  switch (type) {
    case ParamType::Bool:
      return "bool";
    case ParamType::Int:
      return "int";
    case ParamType::Float:
      return "float";
    case ParamType::String:
      return "string";
  }
  return "?";
}

std::string format_param_value(const ParamValue& value) {
  if (auto b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (auto i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (auto d = std::get_if<double>(&value)) {
    if (std::isnan(*d)) return "nan";
    if (std::isinf(*d)) return *d > 0 ? "inf" : "-inf";
    // The shortest of 15 or 17 significant digits that reads back as the same double.
    std::ostringstream out;
    out.precision(15);
    out << *d;
    // strtod, not stod: stod throws on a subnormal (it reports ERANGE), which is a value.
    if (std::strtod(out.str().c_str(), nullptr) != *d) {
      out.str("");
      out.precision(17);
      out << *d;
    }
    std::string text = out.str();
    if (text.find_first_of(".eE") == std::string::npos) text += ".0";  // TOML float syntax
    return text;
  }
  std::string quoted = "\"";
  for (char c : std::get<std::string>(value)) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

std::string param_value_problem(const ParamSpec& spec, const ParamValue& value) {
  std::ostringstream why;
  double number = 0;
  if (auto i = std::get_if<int64_t>(&value)) number = static_cast<double>(*i);
  if (auto d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) return format_param_value(value) + " is not a finite number";
    number = *d;
  }
  if (spec.type == ParamType::Int || spec.type == ParamType::Float) {
    if (spec.range.min && number < *spec.range.min) {
      why << format_param_value(value) << " is below the minimum " << *spec.range.min;
      return why.str();
    }
    if (spec.range.max && number > *spec.range.max) {
      why << format_param_value(value) << " is above the maximum " << *spec.range.max;
      return why.str();
    }
  }
  if (spec.type == ParamType::String && !spec.choices.empty()) {
    const auto& text = std::get<std::string>(value);
    for (const auto& choice : spec.choices)
      if (choice == text) return {};
    why << format_param_value(value) << " is not one of";
    for (const auto& choice : spec.choices) why << " \"" << choice << "\"";
    return why.str();
  }
  return {};
}

ParamSchema& ParamSchema::add(ParamSpec spec) {
  specs_.push_back(std::move(spec));
  return *this;
}

const ParamSpec* ParamSchema::find(std::string_view name) const {
  for (const auto& spec : specs_)
    if (spec.name == name) return &spec;
  return nullptr;
}

}  // namespace nasx
