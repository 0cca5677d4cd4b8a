#include "nasx/core/json.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace nasx::core {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  // The shortest of 15 or 17 significant digits that reads back as the same double.
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.15g", value);
  if (std::strtod(buffer, nullptr) != value) std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

JsonObject& JsonObject::add_raw(const std::string& key, const std::string& json) {
  if (!members_.empty()) members_ += ", ";
  members_ += json_string(key) + ": " + json;
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, const std::string& value) {
  return add_raw(key, json_string(value));
}
JsonObject& JsonObject::add(const std::string& key, const char* value) {
  return add_raw(key, json_string(value));
}
JsonObject& JsonObject::add(const std::string& key, double value) {
  return add_raw(key, json_number(value));
}
JsonObject& JsonObject::add(const std::string& key, int64_t value) {
  return add_raw(key, std::to_string(value));
}
JsonObject& JsonObject::add(const std::string& key, bool value) {
  return add_raw(key, value ? "true" : "false");
}
JsonObject& JsonObject::add_all(const std::map<std::string, double>& values) {
  for (const auto& [key, value] : values) add(key, value);
  return *this;
}

std::string JsonObject::str() const { return "{" + members_ + "}"; }

namespace {

/// The string literal starting at `json[quote]` (a '"'), unescaped; `end` receives the
/// index after its closing quote.
std::string read_string(const std::string& json, size_t quote, size_t* end) {
  std::string out;
  size_t i = quote + 1;
  for (; i < json.size() && json[i] != '"'; ++i) {
    if (json[i] != '\\' || i + 1 >= json.size()) {
      out += json[i];
      continue;
    }
    const char c = json[++i];
    switch (c) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'u':  // nasx writes \u00XX only for control characters
        if (i + 4 < json.size())
          out += static_cast<char>(std::stoi(json.substr(i + 1, 4), nullptr, 16));
        i += 4;
        break;
      default:
        out += c;
    }
  }
  if (end) *end = i + 1;
  return out;
}

size_t value_start(const std::string& json, const std::string& key, size_t from = 0) {
  const std::string needle = json_string(key) + ":";
  const size_t at = json.find(needle, from);
  if (at == std::string::npos) return std::string::npos;
  size_t i = at + needle.size();
  while (i < json.size() && std::isspace(static_cast<unsigned char>(json[i]))) ++i;
  return i;
}

}  // namespace

std::optional<double> json_number_field(const std::string& json, const std::string& key) {
  const size_t i = value_start(json, key);
  if (i == std::string::npos || i >= json.size()) return std::nullopt;
  try {
    size_t used = 0;
    const double value = std::stod(json.substr(i, 40), &used);
    if (used == 0) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> json_string_field(const std::string& json, const std::string& key) {
  const size_t i = value_start(json, key);
  if (i == std::string::npos || i >= json.size() || json[i] != '"') return std::nullopt;
  return read_string(json, i, nullptr);
}

std::map<std::string, std::string> json_string_members(const std::string& json,
                                                       const std::string& object) {
  std::map<std::string, std::string> members;
  size_t i = value_start(json, object);
  if (i == std::string::npos || i >= json.size() || json[i] != '{') return members;
  ++i;
  while (i < json.size()) {
    while (i < json.size() && (std::isspace(static_cast<unsigned char>(json[i])) || json[i] == ','))
      ++i;
    if (i >= json.size() || json[i] != '"') break;
    size_t end = 0;
    const std::string key = read_string(json, i, &end);
    i = end;
    while (i < json.size() && (std::isspace(static_cast<unsigned char>(json[i])) || json[i] == ':'))
      ++i;
    if (i >= json.size() || json[i] != '"') break;
    members[key] = read_string(json, i, &end);
    i = end;
  }
  return members;
}

}  // namespace nasx::core
