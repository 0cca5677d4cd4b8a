#include "nasx/core/json.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace nasx::core {

namespace {

std::string number_text(double value) {
  if (!std::isfinite(value)) return "null";
  // The shortest of 15 or 17 significant digits that reads back as the same double.
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.15g", value);
  if (std::strtod(buffer, nullptr) != value) std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

void write(const Json& value, std::string& out) {
  switch (value.type()) {
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : value.items()) {
        if (!first) out += ", ";
        first = false;
        out += Json(key).dump() + ": ";
        write(member, out);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < value.size(); ++i) {
        if (i) out += ", ";
        write(value[i], out);
      }
      out += ']';
      return;
    }
    case Json::value_t::number_float:
      out += number_text(value.get<double>());
      return;
    default:  // strings (escaped by the library), integers, booleans, null
      out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

}  // namespace

std::string json_line(const Json& value) {
  std::string out;
  write(value, out);
  return out;
}

Json parse_json_or_empty(const std::string& text) {
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? Json::object() : parsed;
}

std::optional<double> number_member(const Json& json, const std::string& key) {
  if (!json.is_object()) return std::nullopt;
  const auto found = json.find(key);
  if (found == json.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
}

std::optional<std::string> string_member(const Json& json, const std::string& key) {
  if (!json.is_object()) return std::nullopt;
  const auto found = json.find(key);
  if (found == json.end() || !found->is_string()) return std::nullopt;
  return found->get<std::string>();
}

Json json_object(const std::map<std::string, double>& values) {
  Json object = Json::object();
  for (const auto& [key, value] : values) object[key] = value;
  return object;
}

}  // namespace nasx::core
