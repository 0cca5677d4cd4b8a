#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nasx::core {

/// `text` as a JSON string literal, quotes included.
std::string json_string(const std::string& text);
/// A JSON number; NaN and infinities (which JSON lacks) become null.
std::string json_number(double value);

/// The first `"key": <number>` in `json` (files nasx writes itself: flat objects).
std::optional<double> json_number_field(const std::string& json, const std::string& key);
/// The first `"key": "<string>"` in `json`, unescaped.
std::optional<std::string> json_string_field(const std::string& json, const std::string& key);
/// Every `"key": "value"` member of the first object named `object` (`"object": {...}`).
std::map<std::string, std::string> json_string_members(const std::string& json,
                                                       const std::string& object);

/// Builds one JSON object, members in insertion order.
class JsonObject {
 public:
  JsonObject& add(const std::string& key, const std::string& value);
  JsonObject& add(const std::string& key, const char* value);
  JsonObject& add(const std::string& key, double value);
  JsonObject& add(const std::string& key, int64_t value);
  JsonObject& add(const std::string& key, bool value);
  /// `json` is inserted verbatim (an object, array or number already formatted).
  JsonObject& add_raw(const std::string& key, const std::string& json);
  JsonObject& add_all(const std::map<std::string, double>& values);
  std::string str() const;

 private:
  std::string members_;
};

}  // namespace nasx::core
