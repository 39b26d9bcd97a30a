// Exact decimal arithmetic, rounding, money and allocation. Integer arithmetic
// only: every value is a count of 10^-18 units in a checked 128-bit integer,
// and intermediate products use a checked 256-bit integer.
#include "amends/money.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace amends {

namespace {

namespace mp = boost::multiprecision;
using rep = Decimal::rep;
// Intermediate for products of two decimals: |a*b| < 2^256 for |a|,|b| < 2^128.
using wide = mp::checked_int256_t;
// Native unsigned 128-bit (GCC/Clang): magnitudes of raw values (the signed-
// magnitude rep spans +/-(2^128 - 1)), products of two uint64 and exact
// divisions, none of which can wrap. __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 u128;

constexpr int kScale = Decimal::scale_digits;

constexpr std::array<std::uint64_t, 20> kPow10 = [] {
  std::array<std::uint64_t, 20> table{};
  std::uint64_t value = 1;
  for (std::size_t i = 0; i < table.size(); ++i) {
    table[i] = value;
    if (i + 1 < table.size()) value *= 10;
  }
  return table;
}();

constexpr std::uint64_t pow10_u64(int n) { return kPow10[static_cast<std::size_t>(n)]; }

// 10^0 .. 10^36 as 256-bit integers (products of two scaled values carry
// 36 fraction digits).
const wide& pow10_wide(int n) {
  static const std::array<wide, 37> table = [] {
    std::array<wide, 37> t{};
    wide value = 1;
    for (std::size_t i = 0; i < t.size(); ++i) {
      t[i] = value;
      value *= 10;
    }
    return t;
  }();
  return table[static_cast<std::size_t>(n)];
}

// The largest magnitude of a raw value (2^128 - 1), and the same as decimal text.
rep rep_max() { return (std::numeric_limits<rep>::max)(); }
constexpr std::string_view kRangeText =
    "[-340282366920938463463.374607431768211455, 340282366920938463463.374607431768211455]";

constexpr u128 kU128Max = ~u128{0};

// |raw| as a native integer, read straight from the signed-magnitude limbs of
// the backend (one native 128-bit limb on GCC/Clang; two 64-bit limbs otherwise).
template <typename Backend>
u128 magnitude_of(const Backend& backend) {
  using limb = std::remove_cv_t<std::remove_pointer_t<decltype(backend.limbs())>>;
  if constexpr (sizeof(limb) == sizeof(u128)) {
    return static_cast<u128>(*backend.limbs());
  } else {
    static_assert(sizeof(limb) == sizeof(std::uint64_t), "unexpected limb size of checked_int128_t");
    const limb* limbs = backend.limbs();
    u128 m = limbs[0];
    if (backend.size() > 1) m |= static_cast<u128>(limbs[1]) << 64;
    return m;
  }
}

u128 magnitude(const rep& raw) { return magnitude_of(raw.backend()); }

bool is_negative(const rep& raw) { return raw.backend().sign(); }

// The rep of +/-m; every u128 is in range (the rep is signed-magnitude).
rep make_rep(bool negative, u128 m) {
  rep r(m);
  r.backend().sign(negative);  // stays positive when m == 0
  return r;
}

// +/-(a*b) as a rep; any product of two uint64 fits the 128-bit magnitude.
rep product_rep(bool negative, std::uint64_t a, std::uint64_t b) {
  return make_rep(negative, static_cast<u128>(a) * b);
}

// Division-free divisibility by 10^k: m is a multiple of 10^k iff its low k
// bits are zero and it is a multiple of 5^k. Since 5^k is odd it has an
// inverse modulo 2^128, and m is a multiple of 5^k iff m * inverse (mod 2^128),
// which is then the exact quotient, is at most (2^128 - 1) / 5^k: multiplying
// by the inverse maps the multiples 5^k * q (q <= that bound) one-to-one onto
// exactly those q, so no non-multiple can land there.
struct Pow5 {
  u128 inverse;  // 5^k * inverse == 1 (mod 2^128)
  u128 limit;    // (2^128 - 1) / 5^k: the largest quotient
};

// Newton's iteration x <- x * (2 - a * x) doubles the number of correct low
// bits; an odd a is its own inverse modulo 8 (3 bits), so 6 steps give 192.
constexpr u128 inverse_mod_2_128(u128 a) {
  u128 x = a;
  for (int i = 0; i < 6; ++i) x *= 2 - a * x;
  return x;
}

constexpr std::array<Pow5, kScale + 1> kPow5 = [] {
  std::array<Pow5, kScale + 1> table{};
  u128 p = 1;
  for (std::size_t k = 0; k < table.size(); ++k) {
    table[k] = Pow5{inverse_mod_2_128(p), kU128Max / p};
    p *= 5;
  }
  return table;
}();

static_assert([] {
  u128 p = 1;
  for (const Pow5& entry : kPow5) {
    if (p * entry.inverse != 1 || entry.limit != kU128Max / p) return false;
    p *= 5;
  }
  return true;
}());

// (2^128 - 1) / 10^k: the largest magnitude that 10^k can multiply.
constexpr std::array<u128, kScale + 1> kMaxTimesPow10 = [] {
  std::array<u128, kScale + 1> table{};
  for (std::size_t k = 0; k < table.size(); ++k) table[k] = kU128Max / kPow10[k];
  return table;
}();

// 10^k divides m; 0 <= k <= kScale.
bool divisible_by_pow10(u128 m, int k) {
  const Pow5& p5 = kPow5[static_cast<std::size_t>(k)];
  const std::uint64_t low_bits = (std::uint64_t{1} << k) - 1;
  return (static_cast<std::uint64_t>(m) & low_bits) == 0 && m * p5.inverse <= p5.limit;
}

// m / 10^k, given that 10^k divides m: shift out the 2^k, then multiply by
// the inverse of 5^k, which is exact for a multiple.
u128 exact_div_pow10(u128 m, int k) { return (m >> k) * kPow5[static_cast<std::size_t>(k)].inverse; }

// The largest k <= kScale with 10^k dividing m (m != 0): the trailing decimal
// zeros, capped at the scale. 10^k | m needs k trailing zero bits, which caps
// k; the power of 5 is then found by halving steps on the exact quotient,
// each a multiply by an inverse (5^zeros divides m; take a step if 5^step
// divides the quotient and zeros + step stays within the cap).
int trailing_decimal_zeros(u128 m) {
  const auto low = static_cast<std::uint64_t>(m);
  const int cap = low == 0 ? kScale : std::min(kScale, __builtin_ctzll(low));
  // Most amounts have as many decimal as binary trailing zeros (226.39 is
  // 22639 * 10^16): one check settles those.
  if (divisible_by_pow10(m, cap)) return cap;
  u128 quotient = m;  // m / 5^zeros
  int zeros = 0;
  for (const int step : {16, 8, 4, 2, 1}) {
    const Pow5& p5 = kPow5[static_cast<std::size_t>(step)];
    const u128 next = quotient * p5.inverse;
    const bool take = zeros + step <= cap && next <= p5.limit;
    quotient = take ? next : quotient;
    zeros += take ? step : 0;
  }
  return zeros;
}

std::uint64_t magnitude_u64(std::int64_t v) {
  return v < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
}

// Quotes user text for a message: at most 64 characters, non-printable bytes
// escaped, so a message never carries control characters or a huge field.
std::string quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  const std::size_t n = std::min(text.size(), kMax);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMax) out += "...";
  out += '"';
  return out;
}

[[noreturn, gnu::noinline, gnu::cold]] void throw_bad_places(int places, std::string_view operation) {
  throw invalid_argument(std::string(operation) + ": places must be between 0 and " + std::to_string(kScale) +
                         ", got " + std::to_string(places));
}

// Inline, so that the fast paths pay one compare for it.
inline void check_places(int places, std::string_view operation) {
  if (places < 0 || places > kScale) [[unlikely]] throw_bad_places(places, operation);
}

[[noreturn]] void throw_overflow(const std::string& what) {
  throw overflow_error(what + " leaves the exact decimal range " + std::string(kRangeText));
}

// Runs `f`, turning the checked-integer errors of Boost into overflow_error.
template <typename F>
auto guarded(F&& f, const auto& describe) -> decltype(f()) {
  try {
    return f();
  } catch (const std::overflow_error&) {
    throw_overflow(describe());
  } catch (const std::range_error&) {
    throw_overflow(describe());
  }
}

// Whether a truncated quotient moves one unit away from zero, given that the
// division left a non-zero remainder. `half` compares 2*|remainder| with
// |divisor| (-1, 0, 1); `odd` is the parity of the truncated quotient.
bool bump_away_from_zero(Rounding mode, bool negative, int half, bool odd) {
  switch (mode) {
    case Rounding::half_even:
      return half > 0 || (half == 0 && odd);
    case Rounding::half_up:
      return half >= 0;
    case Rounding::down:
      return false;
    case Rounding::up:
      return true;
    case Rounding::floor:
      return negative;
    case Rounding::ceiling:
      return !negative;
  }
  AMENDS_ASSERT(false && "unknown Rounding value");
  return false;
}

template <typename I>
int compare_twice(const I& remainder_abs, const I& divisor_abs) {
  const I twice = remainder_abs + remainder_abs;
  return twice < divisor_abs ? -1 : (divisor_abs < twice ? 1 : 0);
}

// numerator / divisor rounded to an integer by `mode`; divisor != 0.
template <typename I>
I divide_rounded(const I& numerator, const I& divisor, Rounding mode) {
  I quotient = numerator / divisor;  // truncates toward zero
  I remainder = numerator % divisor;  // sign of the numerator
  if (remainder != 0) {
    const bool negative = (numerator < 0) != (divisor < 0);
    const I r_abs = remainder < 0 ? I(-remainder) : remainder;
    const I d_abs = divisor < 0 ? I(-divisor) : divisor;
    const bool odd = (quotient % 2) != 0;
    if (bump_away_from_zero(mode, negative, compare_twice(r_abs, d_abs), odd)) {
      if (negative) {
        quotient -= 1;
      } else {
        quotient += 1;
      }
    }
  }
  return quotient;
}

// Trailing decimal zeros of a non-zero value below 10^18, by halving steps
// rather than one division per digit.
int trailing_zeros(std::uint64_t v) {
  int zeros = 0;
  for (const int step : {16, 8, 4, 2, 1}) {
    const std::uint64_t p = pow10_u64(step);
    if (v % p == 0) {
      v /= p;
      zeros += step;
    }
  }
  return zeros;
}

// Splits |raw| into the integer part (high and low 18-digit halves) and the
// 18 fraction digits.
struct Digits {
  std::uint64_t int_high;  // integer part / 10^18 (at most 340)
  std::uint64_t int_low;   // integer part % 10^18
  std::uint64_t fraction;  // |raw| % 10^18
};

Digits split(const rep& raw) {
  const u128 m = magnitude(raw);
  const std::uint64_t unit = pow10_u64(kScale);
  const u128 whole = m / unit;
  Digits d{};
  d.fraction = static_cast<std::uint64_t>(m - whole * unit);
  if (whole <= (std::numeric_limits<std::uint64_t>::max)()) {
    const auto w = static_cast<std::uint64_t>(whole);
    d.int_high = w / unit;
    d.int_low = w % unit;
  } else {
    const u128 high = whole / unit;
    d.int_high = static_cast<std::uint64_t>(high);
    d.int_low = static_cast<std::uint64_t>(whole - high * unit);
  }
  return d;
}

void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_padded(std::string& out, std::uint64_t v, int width) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  const auto len = static_cast<int>(res.ptr - buf);
  if (len < width) out.append(static_cast<std::size_t>(width - len), '0');
  out.append(buf, res.ptr);
}

// The sign and integer part of a value.
std::string integer_text(const rep& raw, const Digits& d) {
  std::string out;
  out.reserve(48);
  if (raw < 0) out += '-';
  if (d.int_high != 0) {
    append_u64(out, d.int_high);
    append_padded(out, d.int_low, kScale);
  } else {
    append_u64(out, d.int_low);
  }
  return out;
}

constexpr std::string_view kExpected = R"(expected [+-]digits[.digits] such as "1234.56", "-28.82" or ".5")";

[[noreturn]] void throw_parse(std::string_view text, const std::string& problem) {
  throw parse_error("cannot parse amount " + quote(text) + ": " + problem + "; " + std::string(kExpected));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The slow path of Decimal::parse: long numbers and every diagnosis.
Decimal parse_general(std::string_view text) {
  if (text.empty()) throw_parse(text, "the text is empty");
  std::size_t i = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    ++i;
  }
  const std::size_t int_begin = i;
  while (i < text.size() && is_digit(text[i])) ++i;
  const std::size_t int_end = i;
  std::size_t frac_begin = i;
  std::size_t frac_end = i;
  bool point = false;
  if (i < text.size() && text[i] == '.') {
    point = true;
    ++i;
    frac_begin = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    frac_end = i;
  }
  if (i < text.size()) {
    const char c = text[i];
    const std::string where = " at position " + std::to_string(i + 1);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      throw_parse(text, "whitespace" + where + " is not allowed (trim the field)");
    }
    if (c == ',' || c == '_' || c == '\'') {
      throw_parse(text, std::string("digit grouping with '") + c + "'" + where +
                            " is not allowed; the decimal point is '.'");
    }
    if (c == 'e' || c == 'E') throw_parse(text, "exponent notation is not allowed; write the digits out");
    if (c == '.') throw_parse(text, "a second '.'" + where + " is not allowed");
    if ((c == '+' || c == '-') && i == int_begin) throw_parse(text, "more than one sign");
    if (c == '+' || c == '-') throw_parse(text, "the sign must come first");
    throw_parse(text, "unexpected character " + quote(text.substr(i, 1)) + where);
  }
  const std::size_t int_digits = int_end - int_begin;
  const std::size_t frac_digits = frac_end - frac_begin;
  if (int_digits == 0 && frac_digits == 0) {
    throw_parse(text, point ? "there are no digits around the '.'" : "there are no digits");
  }
  if (point && frac_digits == 0) throw_parse(text, "it ends with '.' (drop the point or add fraction digits)");
  if (frac_digits > static_cast<std::size_t>(kScale)) {
    throw parse_error("cannot parse amount " + quote(text) + ": it has " + std::to_string(frac_digits) +
                      " fraction digits, at most " + std::to_string(kScale) + " are allowed (round it first)");
  }
  std::size_t significant = int_begin;
  while (significant < int_end && text[significant] == '0') ++significant;
  // 340282366920938463463 has 21 digits: a longer integer part cannot fit.
  if (int_end - significant > 21) {
    throw overflow_error("amount " + quote(text) + " is outside the exact decimal range " + std::string(kRangeText));
  }
  wide value = 0;
  for (std::size_t k = significant; k < int_end; ++k) value = value * 10 + (text[k] - '0');
  for (std::size_t k = frac_begin; k < frac_end; ++k) value = value * 10 + (text[k] - '0');
  value *= pow10_wide(kScale - static_cast<int>(frac_digits));
  if (value > wide(rep_max())) {
    throw overflow_error("amount " + quote(text) + " is outside the exact decimal range " + std::string(kRangeText));
  }
  rep raw(value);
  if (negative) raw = -raw;
  return Decimal::from_raw(raw);
}

}  // namespace

// ---------------------------------------------------------------- Rounding

std::string_view to_string(Rounding mode) {
  switch (mode) {
    case Rounding::half_even:
      return "half_even";
    case Rounding::half_up:
      return "half_up";
    case Rounding::down:
      return "down";
    case Rounding::up:
      return "up";
    case Rounding::floor:
      return "floor";
    case Rounding::ceiling:
      return "ceiling";
  }
  AMENDS_ASSERT(false && "unknown Rounding value");
  return "";
}

Rounding parse_rounding(std::string_view name) {
  static constexpr std::array<Rounding, 6> kModes = {Rounding::half_even, Rounding::half_up, Rounding::down,
                                                     Rounding::up,        Rounding::floor,   Rounding::ceiling};
  for (Rounding mode : kModes) {
    const std::string_view canonical = to_string(mode);
    if (name.size() != canonical.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i) {
      same = name[i] == canonical[i] || (canonical[i] == '_' && name[i] == '-');
    }
    if (same) return mode;
  }
  throw invalid_argument("unknown rounding mode " + quote(name) +
                         ": expected one of half_even, half_up, down, up, floor, ceiling"
                         " (the hyphen forms half-even and half-up are accepted too)");
}

// ---------------------------------------------------------------- Decimal

Decimal::Decimal(std::int64_t whole) : raw_(product_rep(whole < 0, magnitude_u64(whole), pow10_u64(kScale))) {}

Decimal Decimal::from_scaled(std::int64_t units, int places) {
  check_places(places, "Decimal::from_scaled");
  // One 64x64->128 multiply: |units| * 10^(18-places) < 2^63 * 10^18 < 2^128.
  return from_raw(product_rep(units < 0, magnitude_u64(units), pow10_u64(kScale - places)));
}

Decimal Decimal::from_scaled(const rep& units, int places) {
  check_places(places, "Decimal::from_scaled");
  const u128 m = magnitude(units);
  if (m > kMaxTimesPow10[static_cast<std::size_t>(kScale - places)]) {
    throw_overflow("Decimal::from_scaled(" + units.str() + ", " + std::to_string(places) + ")");
  }
  return from_raw(make_rep(is_negative(units), m * pow10_u64(kScale - places)));
}

Decimal Decimal::from_raw(const rep& raw_units) {
  Decimal d;
  d.raw_ = raw_units;
  return d;
}

Decimal Decimal::parse(std::string_view text) {
  // Fast path: [+-]digits[.digits] with at most 19 digits in all, which fit
  // a uint64; anything else (long, malformed) goes to parse_general.
  const char* p = text.data();
  const char* const end = p + text.size();
  bool negative = false;
  if (p != end && (*p == '-' || *p == '+')) {
    negative = *p == '-';
    ++p;
  }
  std::uint64_t acc = 0;
  const char* const int_begin = p;
  while (p != end && is_digit(*p)) {
    acc = acc * 10 + static_cast<std::uint64_t>(*p - '0');
    ++p;
  }
  const auto int_digits = p - int_begin;
  std::ptrdiff_t frac_digits = 0;
  bool point = false;
  if (p != end && *p == '.') {
    point = true;
    ++p;
    const char* const frac_begin = p;
    while (p != end && is_digit(*p)) {
      acc = acc * 10 + static_cast<std::uint64_t>(*p - '0');
      ++p;
    }
    frac_digits = p - frac_begin;
  }
  if (p != end || int_digits + frac_digits == 0 || (point && frac_digits == 0) || frac_digits > kScale ||
      int_digits + frac_digits > 19) {
    return parse_general(text);
  }
  return from_raw(product_rep(negative, acc, pow10_u64(kScale - static_cast<int>(frac_digits))));
}

std::string Decimal::to_string() const {
  if (raw_ == 0) return "0";
  const Digits d = split(raw_);
  std::string out = integer_text(raw_, d);
  if (d.fraction != 0) {
    const int zeros = trailing_zeros(d.fraction);
    out += '.';
    append_padded(out, d.fraction / pow10_u64(zeros), kScale - zeros);
  }
  return out;
}

std::string Decimal::to_string(int places) const {
  check_places(places, "Decimal::to_string");
  if (!fits_places(places)) {
    throw amount_too_precise(to_string() + " has " + std::to_string(fraction_digits()) +
                             " fraction digits; it cannot be written with " + std::to_string(places) +
                             " (round it first)");
  }
  const Digits d = split(raw_);
  // -0 never occurs: raw_ < 0 implies a non-zero value.
  std::string out = integer_text(raw_, d);
  if (places > 0) {
    out += '.';
    append_padded(out, d.fraction / pow10_u64(kScale - places), places);
  }
  return out;
}

namespace {
// Out of line and cold, so that the fast paths stay small.
[[noreturn, gnu::noinline, gnu::cold]] void throw_not_whole_units(const Decimal& value, int places) {
  throw amount_too_precise(value.to_string() + " has " + std::to_string(value.fraction_digits()) +
                           " fraction digits; it is not a whole count of 10^-" + std::to_string(places) +
                           " units (round it first)");
}

[[noreturn, gnu::noinline, gnu::cold]] void throw_not_int64_units(const Decimal& value, int places) {
  throw overflow_error(value.to_string() + " is not an int64 count of 10^-" + std::to_string(places) +
                       " units: that count is outside [-9223372036854775808, 9223372036854775807]");
}
}  // namespace

Decimal::rep Decimal::scaled(int places) const {
  check_places(places, "Decimal::scaled");
  const u128 m = magnitude(raw_);
  const int k = kScale - places;
  if (!divisible_by_pow10(m, k)) throw_not_whole_units(*this, places);
  return make_rep(is_negative(raw_), exact_div_pow10(m, k));
}

std::int64_t Decimal::to_minor(int places) const {
  check_places(places, "Decimal::to_minor");
  const u128 m = magnitude(raw_);
  const int k = kScale - places;
  if (!divisible_by_pow10(m, k)) throw_not_whole_units(*this, places);
  const u128 units = exact_div_pow10(m, k);
  const bool negative = is_negative(raw_);
  constexpr auto kInt64Max = static_cast<std::uint64_t>((std::numeric_limits<std::int64_t>::max)());
  if (units > u128{kInt64Max} + (negative ? 1 : 0)) throw_not_int64_units(*this, places);
  const auto u = static_cast<std::uint64_t>(units);
  // Two's complement wrap-around of the negation is exact for u <= 2^63.
  return static_cast<std::int64_t>(negative ? std::uint64_t{0} - u : u);
}

int Decimal::fraction_digits() const {
  const u128 m = magnitude(raw_);
  return m == 0 ? 0 : kScale - trailing_decimal_zeros(m);
}

bool Decimal::fits_places(int places) const {
  if (places >= kScale) return true;
  if (places < 0) return false;  // as fraction_digits() <= places: never
  return divisible_by_pow10(magnitude(raw_), kScale - places);
}

Decimal Decimal::round(int places, Rounding mode) const {
  check_places(places, "Decimal::round");
  if (fits_places(places)) return *this;
  const rep divisor(pow10_u64(kScale - places));
  const rep quotient = divide_rounded(raw_, divisor, mode);
  return from_raw(guarded([&] { return rep(quotient * divisor); },
                          [&] {
                            return "rounding " + to_string() + " to " + std::to_string(places) + " places (" +
                                   std::string(amends::to_string(mode)) + ")";
                          }));
}

Decimal Decimal::mul(const Decimal& factor, int places, Rounding mode) const {
  check_places(places, "Decimal::mul");
  const wide product = wide(raw_) * wide(factor.raw_);  // 36 fraction digits
  const wide units = divide_rounded(product, pow10_wide(2 * kScale - places), mode);
  return from_raw(guarded([&] { return rep(units * pow10_wide(kScale - places)); },
                          [&] { return "the product " + to_string() + " * " + factor.to_string(); }));
}

Decimal Decimal::div(const Decimal& divisor, int places, Rounding mode) const {
  check_places(places, "Decimal::div");
  if (divisor.is_zero()) throw invalid_argument("cannot divide " + to_string() + " by zero");
  const wide numerator = wide(raw_) * pow10_wide(places);
  const wide units = divide_rounded(numerator, wide(divisor.raw_), mode);
  return from_raw(guarded([&] { return rep(units * pow10_wide(kScale - places)); },
                          [&] { return "the quotient " + to_string() + " / " + divisor.to_string(); }));
}

Decimal Decimal::abs() const { return from_raw(raw_ < 0 ? rep(-raw_) : raw_); }

Decimal Decimal::operator-() const { return from_raw(-raw_); }

Decimal& Decimal::operator+=(const Decimal& other) {
  try {
    raw_ += other.raw_;
  } catch (const std::overflow_error&) {
    throw_overflow("the sum " + to_string() + " + " + other.to_string());
  }
  return *this;
}

Decimal& Decimal::operator-=(const Decimal& other) {
  try {
    raw_ -= other.raw_;
  } catch (const std::overflow_error&) {
    throw_overflow("the difference " + to_string() + " - " + other.to_string());
  }
  return *this;
}

Decimal operator*(const Decimal& a, std::int64_t count) {
  return Decimal::from_raw(guarded([&] { return Decimal::rep(a.raw_ * Decimal::rep(count)); },
                                   [&] { return "the product " + a.to_string() + " * " + std::to_string(count); }));
}

// ---------------------------------------------------------------- Money

Money::Money(Decimal amount, Currency currency) : amount_(std::move(amount)), currency_(currency) {
  if (!amount_.fits_places(currency_.minor_units())) {
    const std::string code(currency_.code());
    throw amount_too_precise(amount_.to_string() + " " + code + " is finer than " + code + "'s " +
                             std::to_string(currency_.minor_units()) + " minor digits; round it first");
  }
}

Money Money::parse(std::string_view amount_text, Currency currency) {
  return Money(Decimal::parse(amount_text), currency);
}

Money Money::from_minor(std::int64_t minor_units, Currency currency) {
  return Money(Decimal::from_scaled(minor_units, currency.minor_units()), currency);
}

std::string Money::to_string() const {
  std::string out = amount_.to_string(currency_.minor_units());
  out += ' ';
  out += currency_.code();
  return out;
}

namespace {
// "cannot add 5.00 EUR to 12.30 USD: ..."
[[noreturn]] void throw_mismatch(const Money& target, std::string_view verb, const Money& operand) {
  throw currency_mismatch("cannot " + std::string(verb) + " " + operand.to_string() +
                          (verb == "add" ? " to " : " from ") + target.to_string() +
                          ": the currencies differ (convert first)");
}
}  // namespace

Money& Money::operator+=(const Money& other) {
  if (!(currency_ == other.currency_)) throw_mismatch(*this, "add", other);
  amount_ += other.amount_;
  return *this;
}

Money& Money::operator-=(const Money& other) {
  if (!(currency_ == other.currency_)) throw_mismatch(*this, "subtract", other);
  amount_ -= other.amount_;
  return *this;
}

Money Money::mul(const Decimal& rate, Rounding mode) const {
  return Money(amount_.mul(rate, currency_.minor_units(), mode), currency_);
}

Money Money::convert(Currency to, const Decimal& rate, Rounding mode) const {
  if (rate.sign() <= 0) {
    throw invalid_argument("cannot convert " + to_string() + " to " + std::string(to.code()) + " at rate " +
                           rate.to_string() + ": an exchange rate must be positive");
  }
  return Money(amount_.mul(rate, to.minor_units(), mode), to);
}

// ---------------------------------------------------------------- allocation

std::vector<Decimal> allocate(const Decimal& total, std::span<const Decimal> weights, int places) {
  check_places(places, "allocate");
  if (weights.empty()) throw invalid_argument("allocate: needs at least one weight");
  wide weight_sum = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i].sign() < 0) {
      throw invalid_argument("allocate: weight #" + std::to_string(i + 1) + " is " + weights[i].to_string() +
                             "; weights must be >= 0");
    }
    weight_sum += wide(weights[i].raw());
  }
  if (weight_sum == 0) {
    throw invalid_argument("allocate: all " + std::to_string(weights.size()) +
                           " weights are 0; at least one must be positive");
  }
  if (!total.fits_places(places)) {
    throw amount_too_precise("allocate: the total " + total.to_string() + " has " +
                             std::to_string(total.fraction_digits()) + " fraction digits, more than the " +
                             std::to_string(places) + " places to allocate in; round it first");
  }
  const bool negative = total.sign() < 0;
  const wide units = wide(total.abs().raw()) / pow10_wide(kScale - places);

  const std::size_t n = weights.size();
  std::vector<wide> share(n);
  std::vector<wide> remainder(n);
  wide given = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const wide part = units * wide(weights[i].raw());  // < 2^256
    share[i] = part / weight_sum;
    remainder[i] = part % weight_sum;
    given += share[i];
  }
  // Each remainder is below weight_sum, so fewer than n units are left over;
  // the parts holding them have non-zero remainders, hence non-zero weights.
  const auto leftover = static_cast<std::size_t>(units - given);
  AMENDS_ASSERT(leftover < n);
  if (leftover > 0) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return remainder[b] < remainder[a]; });
    for (std::size_t k = 0; k < leftover; ++k) share[order[k]] += 1;
  }

  std::vector<Decimal> parts;
  parts.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    rep part(share[i]);  // share <= units, which came from a rep
    if (negative) part = -part;
    parts.push_back(Decimal::from_scaled(part, places));
  }
  return parts;
}

std::vector<Money> allocate(const Money& total, std::span<const Decimal> weights) {
  const std::vector<Decimal> amounts = allocate(total.amount(), weights, total.currency().minor_units());
  std::vector<Money> parts;
  parts.reserve(amounts.size());
  for (const Decimal& amount : amounts) parts.emplace_back(amount, total.currency());
  return parts;
}

std::vector<Money> allocate_evenly(const Money& total, std::size_t parts) {
  if (parts == 0) throw invalid_argument("allocate_evenly: needs at least one part, got 0");
  // Equal weights leave equal remainders, so the largest-remainder rule gives
  // the leftover units to the first parts.
  const int places = total.currency().minor_units();
  const bool negative = total.amount().sign() < 0;
  const rep units = total.amount().abs().scaled(places);
  const rep count(parts);
  const rep base = units / count;
  const auto extra = static_cast<std::size_t>(units - base * count);
  std::vector<Money> out;
  out.reserve(parts);
  for (std::size_t i = 0; i < parts; ++i) {
    rep part = i < extra ? rep(base + 1) : base;
    if (negative) part = -part;
    out.emplace_back(Decimal::from_scaled(part, places), total.currency());
  }
  return out;
}

}  // namespace amends
