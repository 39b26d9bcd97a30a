// One JSON string literal, written the one way amends writes them where the
// bytes matter (the store's documents, the reconciliation inputs checksum):
// `"` and `\` escaped with a backslash, every byte below 0x20 as \u00XX,
// everything else as it is (UTF-8 passes through unchanged).
#pragma once

#include <string>
#include <string_view>

namespace amends::detail {

inline void append_json_string(std::string& out, std::string_view value) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace amends::detail
