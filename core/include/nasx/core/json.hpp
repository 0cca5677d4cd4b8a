#pragma once
/// nasx's JSON files and lines (events.jsonl, summary.json, trial.json, ...): values are
/// nasx::Json (nlohmann's), written one per line in one style and read back leniently.

#include <map>
#include <optional>
#include <string>

#include "nasx/json.hpp"

namespace nasx::core {

/// `value` on one line, members as `"key": value` separated by ", " (easy to grep),
/// numbers as the shortest of 15 or 17 digits that reads back exactly; NaN and
/// infinities (which JSON lacks) as null.
std::string json_line(const Json& value);

/// `text` parsed; an object with no members when it is empty or not valid JSON (a file
/// another process is still writing, or one a crash cut short).
Json parse_json_or_empty(const std::string& text);

/// The member `key` of object `json` when it is a number / a string.
std::optional<double> number_member(const Json& json, const std::string& key);
std::optional<std::string> string_member(const Json& json, const std::string& key);

/// `values` as members of one object (metrics).
Json json_object(const std::map<std::string, double>& values);

/// Builds one record member by member, in insertion order:
/// `JsonObject().add("type", "step").add_all(metrics).str()`.
class JsonObject {
 public:
  JsonObject& add(const std::string& key, Json value) {
    value_[key] = std::move(value);
    return *this;
  }
  JsonObject& add_all(const std::map<std::string, double>& values) {
    for (const auto& [key, value] : values) value_[key] = value;
    return *this;
  }
  const Json& json() const { return value_; }
  /// json_line() of the record.
  std::string str() const { return json_line(value_); }

 private:
  Json value_ = Json::object();
};

}  // namespace nasx::core
