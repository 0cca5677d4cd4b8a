#pragma once
/// Structured values for what nasx writes and reads as JSON (events.jsonl, summaries,
/// a plugin's events): nlohmann's JSON with members kept in insertion order.
///
///     ctx.log_event("size_bucket", {{"bucket", name}, {"valid_acc", accuracy}});
///
/// Non-finite numbers are written as null (JSON has no NaN).

#include <nlohmann/json.hpp>

namespace nasx {

using Json = nlohmann::ordered_json;

}  // namespace nasx
