// Text shapes the store exchanges with PostgreSQL: COPY text-format fields
// and the small JSON documents of dimensions and metadata.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace amends::store::text {

// Appends `value` escaped for a COPY text-format field. A NUL byte, which
// no text column can hold, is invalid_text (in append_json_string too).
void append_copy_field(std::string& out, std::string_view value);
// Splits one COPY text-format line into fields, unescaping them; a NULL
// field (\N) comes back as std::nullopt-like: `nulls[i]` is true.
void split_copy_line(std::string_view line, std::vector<std::string>& fields, std::vector<bool>& nulls);

// JSON: a string, an array of [key, value] string pairs, an object of strings.
void append_json_string(std::string& out, std::string_view value);
std::string json_pairs(const std::vector<std::pair<std::string, std::string>>& pairs);
template <class Map>
std::string json_object(const Map& map) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : map) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
    append_json_string(out, value);
  }
  return out + "}";
}
// Parses either shape; throws store_error on anything else.
std::vector<std::pair<std::string, std::string>> parse_json_pairs(std::string_view json);
std::vector<std::pair<std::string, std::string>> parse_json_object(std::string_view json);

}  // namespace amends::store::text
