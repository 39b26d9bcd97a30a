#include "amends/names.hpp"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "amends/errors.hpp"

namespace amends::names {

namespace {

const icu::Normalizer2& nfkc_casefold() {
  // ICU builds the instance once and shares it; it is safe to use from any thread.
  static const icu::Normalizer2* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* normalizer = icu::Normalizer2::getNFKCCasefoldInstance(status);
    if (U_FAILURE(status) || normalizer == nullptr)
      throw error(std::string("ICU has no NFKC_Casefold data (") + u_errorName(status) +
                  "): install ICU's data library (libicu72 on Debian 12)");
    return normalizer;
  }();
  return *instance;
}

bool shown_as_is(UChar32 c) {
  return c == ' ' || (u_isgraph(c) && !u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT));
}

void append_escape(std::string& out, const char* format, unsigned value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, format, value);
  out += buffer;
}

std::int32_t checked_length(std::string_view name) {
  if (name.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    throw invalid_name("a name of " + std::to_string(name.size()) + " bytes is not a person's name: give a name");
  return static_cast<std::int32_t>(name.size());
}

// The code points of `name`, refusing bytes that are not UTF-8.
std::vector<UChar32> decode(std::string_view name) {
  const std::int32_t length = checked_length(name);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(name.data());
  std::vector<UChar32> code_points;
  code_points.reserve(name.size());
  std::int32_t at = 0;
  while (at < length) {
    const std::int32_t start = at;
    UChar32 c = 0;
    U8_NEXT(bytes, at, length, c);
    if (c < 0)
      throw invalid_name("the name " + quoted(name) + " is not valid UTF-8 (a stray byte at position " +
                         std::to_string(start) + "): send names as UTF-8 text");
    code_points.push_back(c);
  }
  return code_points;
}

}  // namespace

std::string quoted(std::string_view name) {
  const std::int32_t length = checked_length(name);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(name.data());
  std::string out = "\"";
  std::int32_t at = 0;
  while (at < length) {
    const std::int32_t start = at;
    UChar32 c = 0;
    U8_NEXT(bytes, at, length, c);
    if (c < 0) {
      for (std::int32_t i = start; i < at; ++i)
        append_escape(out, "\\x%02x", bytes[i]);
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (shown_as_is(c)) {
      out.append(name.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(at - start)));
    } else {
      append_escape(out, c <= 0xFFFF ? "\\u%04x" : "\\U%08x", static_cast<unsigned>(c));
    }
  }
  out += '"';
  return out;
}

std::string normalise(std::string_view name) {
  const std::vector<UChar32> code_points = decode(name);
  std::size_t first = 0;
  std::size_t last = code_points.size();
  while (first < last && u_isUWhiteSpace(code_points[first])) ++first;
  while (last > first && u_isUWhiteSpace(code_points[last - 1])) --last;

  icu::UnicodeString trimmed;
  for (std::size_t i = first; i < last; ++i) {
    const UChar32 c = code_points[i];
    if (u_charType(c) == U_CONTROL_CHAR) {
      std::string code(16, '\0');
      code.resize(static_cast<std::size_t>(std::snprintf(code.data(), code.size(), "U+%04X", static_cast<unsigned>(c))));
      throw invalid_name("the name " + quoted(name) + " holds the control character " + code +
                         "; a name is one line of printable text: remove it");
    }
    trimmed.append(c);
  }

  UErrorCode status = U_ZERO_ERROR;
  const icu::UnicodeString folded = nfkc_casefold().normalize(trimmed, status);
  if (U_FAILURE(status))
    throw error(std::string("ICU could not normalise a name (") + u_errorName(status) + ")");

  // Whitespace again: folding removes invisible characters next to spaces and
  // maps compatibility spaces to U+0020. Each inner run becomes one space.
  icu::UnicodeString key;
  bool space_pending = false;
  for (std::int32_t i = 0; i < folded.length(); i = folded.moveIndex32(i, 1)) {
    const UChar32 c = folded.char32At(i);
    if (u_isUWhiteSpace(c)) {
      space_pending = !key.isEmpty();
      continue;
    }
    if (space_pending) key.append(static_cast<UChar>(' '));
    space_pending = false;
    key.append(c);
  }
  if (key.isEmpty()) {
    if (name.empty()) throw invalid_name("a name is required, and this one is empty: give the person's name");
    throw invalid_name("the name " + quoted(name) +
                       " is empty once spaces and invisible characters are removed: give the person's name");
  }
  std::string out;
  key.toUTF8String(out);
  return out;
}

bool same_person(std::string_view a, std::string_view b) { return normalise(a) == normalise(b); }

}  // namespace amends::names
