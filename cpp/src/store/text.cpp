#include "text.hpp"

#include <cstdint>

#include "amends/detail/json_string.hpp"
#include "amends/errors.hpp"

namespace amends::store::text {

namespace {
// The core refuses a NUL in the text it keeps; this is the last line before
// the database, for text that came another way.
void refuse_nul(std::string_view value) {
  if (value.find('\0') != std::string_view::npos) check_text("text for the database", std::string(value));
}
}  // namespace

void append_copy_field(std::string& out, std::string_view value) {
  refuse_nul(value);
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

void split_copy_line(std::string_view line, std::vector<std::string>& fields, std::vector<bool>& nulls) {
  fields.clear();
  nulls.clear();
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::string field;
  std::size_t i = 0;
  while (true) {
    field.clear();
    bool is_null = false;
    if (line.substr(i, 2) == "\\N" && (i + 2 == line.size() || line[i + 2] == '\t')) {
      is_null = true;
      i += 2;
    } else {
      while (i < line.size() && line[i] != '\t') {
        char c = line[i++];
        if (c != '\\' || i == line.size()) {
          field += c;
          continue;
        }
        char e = line[i++];
        switch (e) {
          case 't': field += '\t'; break;
          case 'n': field += '\n'; break;
          case 'r': field += '\r'; break;
          case 'b': field += '\b'; break;
          case 'f': field += '\f'; break;
          case 'v': field += '\v'; break;
          default: field += e;
        }
      }
    }
    fields.push_back(field);
    nulls.push_back(is_null);
    if (i >= line.size()) break;
    ++i;  // the tab
  }
}

void append_json_string(std::string& out, std::string_view value) {
  refuse_nul(value);  // jsonb refuses \u0000
  amends::detail::append_json_string(out, value);
}

std::string json_pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out = "[";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i) out += ',';
    out += '[';
    append_json_string(out, pairs[i].first);
    out += ',';
    append_json_string(out, pairs[i].second);
    out += ']';
  }
  return out + "]";
}

namespace {

struct Parser {
  std::string_view s;
  std::size_t i = 0;

  [[noreturn]] void fail() const {
    throw store_error("unexpected JSON in the database at offset " + std::to_string(i) + ": " + std::string(s.substr(0, 200)));
  }
  void space() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  }
  void expect(char c) {
    space();
    if (i >= s.size() || s[i] != c) fail();
    ++i;
  }
  bool peek(char c) {
    space();
    return i < s.size() && s[i] == c;
  }
  unsigned hex4() {
    if (i + 4 > s.size()) fail();
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s[i++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else fail();
    }
    return v;
  }
  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i >= s.size()) fail();
      char c = s[i++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) fail();
      char e = s[i++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && s.substr(i, 2) == "\\u") {
            i += 2;
            unsigned low = hex4();
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          utf8(out, cp);
          break;
        }
        default: fail();
      }
    }
  }
};

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_json_pairs(std::string_view json) {
  Parser p{json};
  std::vector<std::pair<std::string, std::string>> out;
  p.expect('[');
  if (p.peek(']')) return out;
  while (true) {
    p.expect('[');
    std::string key = p.string();
    p.expect(',');
    std::string value = p.string();
    p.expect(']');
    out.emplace_back(std::move(key), std::move(value));
    if (p.peek(']')) break;
    p.expect(',');
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_json_object(std::string_view json) {
  Parser p{json};
  std::vector<std::pair<std::string, std::string>> out;
  p.expect('{');
  if (p.peek('}')) return out;
  while (true) {
    std::string key = p.string();
    p.expect(':');
    std::string value = p.string();
    out.emplace_back(std::move(key), std::move(value));
    if (p.peek('}')) break;
    p.expect(',');
  }
  return out;
}

}  // namespace amends::store::text
