#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nasx::core {

/// `text` as a JSON string literal, quotes included.
std::string json_string(const std::string& text);
/// A JSON number; NaN and infinities (which JSON lacks) become null.
std::string json_number(double value);

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
