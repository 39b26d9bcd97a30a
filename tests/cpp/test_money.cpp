// Tests of the exact money layer: Decimal parsing, printing, rounding and
// overflow; ISO 4217 currencies; Money; allocation.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "amends/money.hpp"

namespace {

using amends::allocate;
using amends::allocate_evenly;
using amends::Currency;
using amends::Decimal;
using amends::Money;
using amends::Rounding;
using rep = Decimal::rep;

Decimal D(std::string_view text) { return Decimal::parse(text); }

Currency C(std::string_view code) { return Currency::of(code); }

Money M(std::string_view amount, std::string_view code) { return Money::parse(amount, Currency::of(code)); }

Decimal max_decimal() { return Decimal::from_raw((std::numeric_limits<rep>::max)()); }

// Runs `f`, which must throw exactly E (or a subclass); returns its message.
template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a different exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> texts(const std::vector<Decimal>& values) {
  std::vector<std::string> out;
  for (const Decimal& v : values) out.push_back(v.to_string());
  return out;
}

std::vector<std::string> texts(const std::vector<Money>& values) {
  std::vector<std::string> out;
  for (const Money& v : values) out.push_back(v.to_string());
  return out;
}

std::vector<Decimal> weights(std::initializer_list<std::string_view> list) {
  std::vector<Decimal> out;
  for (std::string_view w : list) out.push_back(D(w));
  return out;
}

Decimal sum(const std::vector<Decimal>& values) {
  Decimal total;
  for (const Decimal& v : values) total += v;
  return total;
}

// A small deterministic generator (SplitMix64) for property tests.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

// ------------------------------------------------------------ rounding tables

constexpr std::size_t kModeCount = 6;
constexpr std::array<Rounding, kModeCount> kModes = {Rounding::half_even, Rounding::half_up, Rounding::down,
                                                     Rounding::up,        Rounding::floor,   Rounding::ceiling};

struct RoundingRow {
  const char* value;
  int places;
  // Expected results in the order of kModes.
  std::array<const char*, kModeCount> expected;
};

// clang-format off
const RoundingRow kRoundingTable[] = {
    //  value                     places  half_even  half_up  down   up     floor  ceiling
    {"2.5",                       0, {"2",      "3",     "2",   "3",   "2",   "3"}},
    {"1.5",                       0, {"2",      "2",     "1",   "2",   "1",   "2"}},
    {"0.5",                       0, {"0",      "1",     "0",   "1",   "0",   "1"}},
    {"3.5",                       0, {"4",      "4",     "3",   "4",   "3",   "4"}},
    {"-0.5",                      0, {"0",      "-1",    "0",   "-1",  "-1",  "0"}},
    {"-1.5",                      0, {"-2",     "-2",    "-1",  "-2",  "-2",  "-1"}},
    {"-2.5",                      0, {"-2",     "-3",    "-2",  "-3",  "-3",  "-2"}},
    {"2.4",                       0, {"2",      "2",     "2",   "3",   "2",   "3"}},
    {"2.6",                       0, {"3",      "3",     "2",   "3",   "2",   "3"}},
    {"-2.4",                      0, {"-2",     "-2",    "-2",  "-3",  "-3",  "-2"}},
    {"-2.6",                      0, {"-3",     "-3",    "-2",  "-3",  "-3",  "-2"}},
    {"3",                         0, {"3",      "3",     "3",   "3",   "3",   "3"}},
    {"-3",                        0, {"-3",     "-3",    "-3",  "-3",  "-3",  "-3"}},
    {"0",                         0, {"0",      "0",     "0",   "0",   "0",   "0"}},
    {"0.000000000000000001",      0, {"0",      "0",     "0",   "1",   "0",   "1"}},
    {"-0.000000000000000001",     0, {"0",      "0",     "0",   "-1",  "-1",  "0"}},
    {"2.500000000000000001",      0, {"3",      "3",     "2",   "3",   "2",   "3"}},
    {"2.499999999999999999",      0, {"2",      "2",     "2",   "3",   "2",   "3"}},
    {"-2.500000000000000001",     0, {"-3",     "-3",    "-2",  "-3",  "-3",  "-2"}},
    {"1.005",                     2, {"1",      "1.01",  "1",   "1.01", "1",  "1.01"}},
    {"1.015",                     2, {"1.02",   "1.02",  "1.01", "1.02", "1.01", "1.02"}},
    {"-1.005",                    2, {"-1",     "-1.01", "-1",  "-1.01", "-1.01", "-1"}},
    {"-1.015",                    2, {"-1.02",  "-1.02", "-1.01", "-1.02", "-1.02", "-1.01"}},
    {"0.125",                     2, {"0.12",   "0.13",  "0.12", "0.13", "0.12", "0.13"}},
    {"0.135",                     2, {"0.14",   "0.14",  "0.13", "0.14", "0.13", "0.14"}},
    {"12.3449",                   2, {"12.34",  "12.34", "12.34", "12.35", "12.34", "12.35"}},
    {"-12.3451",                  2, {"-12.35", "-12.35", "-12.34", "-12.35", "-12.35", "-12.34"}},
    {"123.456789",                4, {"123.4568", "123.4568", "123.4567", "123.4568", "123.4567", "123.4568"}},
    {"0.0005",                    3, {"0",      "0.001", "0",   "0.001", "0",  "0.001"}},
    {"0.0015",                    3, {"0.002",  "0.002", "0.001", "0.002", "0.001", "0.002"}},
    {"-0.0025",                   3, {"-0.002", "-0.003", "-0.002", "-0.003", "-0.003", "-0.002"}},
    {"99.995",                    2, {"100",    "100",   "99.99", "100", "99.99", "100"}},
    {"-99.995",                   2, {"-100",   "-100",  "-99.99", "-100", "-100", "-99.99"}},
    {"0.000000000000000005",      17, {"0",     "0.00000000000000001", "0", "0.00000000000000001", "0",
                                        "0.00000000000000001"}},
    {"7.123456789012345678",      18, {"7.123456789012345678", "7.123456789012345678", "7.123456789012345678",
                                        "7.123456789012345678", "7.123456789012345678", "7.123456789012345678"}},
};
// clang-format on

void check_rounding_column(std::size_t column) {
  const Rounding mode = kModes[column];
  for (const RoundingRow& row : kRoundingTable) {
    EXPECT_EQ(D(row.value).round(row.places, mode).to_string(), row.expected[column])
        << row.value << " to " << row.places << " places, " << amends::to_string(mode);
  }
}

TEST(Decimal, rounding_half_even_ties_go_to_the_even_neighbour) { check_rounding_column(0); }

TEST(Decimal, rounding_half_up_ties_go_away_from_zero) { check_rounding_column(1); }

TEST(Decimal, rounding_down_truncates_toward_zero) { check_rounding_column(2); }

TEST(Decimal, rounding_up_goes_away_from_zero) { check_rounding_column(3); }

TEST(Decimal, rounding_floor_goes_toward_negative_infinity) { check_rounding_column(4); }

TEST(Decimal, rounding_ceiling_goes_toward_positive_infinity) { check_rounding_column(5); }

TEST(Decimal, rounding_defaults_to_half_even) {
  EXPECT_EQ(D("2.5").round(0), D("2"));
  EXPECT_EQ(D("3.5").round(0), D("4"));
  EXPECT_EQ(D("0.125").round(2), D("0.12"));
}

TEST(Decimal, rounding_an_already_fitting_value_returns_it_unchanged) {
  for (Rounding mode : kModes) {
    EXPECT_EQ(D("12.34").round(2, mode), D("12.34"));
    EXPECT_EQ(D("-12.3").round(2, mode), D("-12.3"));
    EXPECT_EQ(max_decimal().round(18, mode), max_decimal());
  }
}

TEST(Decimal, rounding_every_mode_agrees_with_floor_and_ceiling_bounds) {
  // Whatever the mode, the result is floor(x) or ceiling(x), and exact values stay.
  Rng rng{42};
  for (int i = 0; i < 2000; ++i) {
    const auto raw = static_cast<std::int64_t>(rng.next() >> 2) * (rng.below(2) == 0 ? 1 : -1);
    const Decimal x = Decimal::from_raw(rep(raw));
    const int places = static_cast<int>(rng.below(19));
    const Decimal lo = x.round(places, Rounding::floor);
    const Decimal hi = x.round(places, Rounding::ceiling);
    EXPECT_LE(lo, x);
    EXPECT_GE(hi, x);
    EXPECT_TRUE(lo.fits_places(places));
    EXPECT_TRUE(hi.fits_places(places));
    if (x.fits_places(places)) {
      EXPECT_EQ(lo, hi);
    } else {
      EXPECT_EQ(hi - lo, Decimal::from_scaled(1, places));
    }
    for (Rounding mode : kModes) {
      const Decimal r = x.round(places, mode);
      EXPECT_TRUE(r == lo || r == hi) << x.to_string() << " " << places;
    }
    EXPECT_EQ(x.round(places, Rounding::down), x.sign() < 0 ? hi : lo);
    EXPECT_EQ(x.round(places, Rounding::up), x.sign() < 0 ? lo : hi);
  }
}

TEST(Decimal, rounding_rejects_places_outside_zero_to_eighteen) {
  const std::string message = message_of<amends::invalid_argument>([] { (void)D("1.5").round(19); });
  EXPECT_TRUE(contains(message, "between 0 and 18")) << message;
  EXPECT_THROW((void)D("1.5").round(-1), amends::invalid_argument);
}

TEST(Decimal, rounding_up_at_the_edge_of_the_range_overflows) {
  EXPECT_THROW((void)max_decimal().round(0, Rounding::up), amends::overflow_error);
  EXPECT_THROW((void)(-max_decimal()).round(0, Rounding::floor), amends::overflow_error);
  EXPECT_EQ(max_decimal().round(0, Rounding::down), D("340282366920938463463"));
}

// ------------------------------------------------------------ parsing

TEST(Decimal, parse_accepts_plain_decimal_numbers) {
  EXPECT_EQ(D("1234.56").raw(), rep(123456) * rep(10000000000000000ULL));
  EXPECT_EQ(D("1234.56"), Decimal::from_scaled(123456, 2));
  EXPECT_EQ(D("-28.82"), Decimal::from_scaled(-2882, 2));
  EXPECT_EQ(D("0"), Decimal());
  EXPECT_EQ(D("7"), Decimal(7));
  EXPECT_EQ(D("+5"), Decimal(5));
  EXPECT_EQ(D("007"), Decimal(7));
  EXPECT_EQ(D("0.50"), Decimal::from_scaled(5, 1));
  EXPECT_EQ(D(".5"), Decimal::from_scaled(5, 1));
  EXPECT_EQ(D("-.5"), Decimal::from_scaled(-5, 1));
  EXPECT_EQ(D("+.25"), Decimal::from_scaled(25, 2));
  EXPECT_EQ(D("0.000000000000000001").raw(), rep(1));
  EXPECT_EQ(D("-0.000000000000000001").raw(), rep(-1));
  EXPECT_EQ(D("123456789012345678"), Decimal(123456789012345678));
}

TEST(Decimal, parse_of_minus_zero_is_zero) {
  for (const char* text : {"-0", "-0.0", "-.000", "+0", "-000.000000000000000000"}) {
    const Decimal z = D(text);
    EXPECT_TRUE(z.is_zero()) << text;
    EXPECT_EQ(z.sign(), 0) << text;
    EXPECT_EQ(z, Decimal()) << text;
    EXPECT_EQ(z.to_string(), "0") << text;
    EXPECT_EQ(z.to_string(2), "0.00") << text;
  }
}

TEST(Decimal, parse_fast_and_general_paths_agree_around_nineteen_digits) {
  // 19 digits in all take the fast path; 20 take the general one.
  EXPECT_EQ(D("9999999999999999999").to_string(), "9999999999999999999");
  EXPECT_EQ(D("18446744073709551615").to_string(), "18446744073709551615");
  EXPECT_EQ(D("18446744073709551616").to_string(), "18446744073709551616");
  EXPECT_EQ(D("1.234567890123456789"), D("0001.234567890123456789"));
  EXPECT_EQ(D("12345678901234567890.5").to_string(), "12345678901234567890.5");
  EXPECT_EQ(D("0000000000000000000000000000000000000000001.5"), D("1.5"));
  EXPECT_EQ(D("-99999999999999999999.999999999999999999").to_string(), "-99999999999999999999.999999999999999999");
  Rng rng{7};
  for (int i = 0; i < 2000; ++i) {
    // Digits split between integer and fraction parts in every way.
    // At most 20 integer digits (always in range) and 18 fraction digits.
    const int whole = static_cast<int>(rng.below(21));
    const int fraction = whole == 0 ? 1 + static_cast<int>(rng.below(18)) : static_cast<int>(rng.below(19));
    const int total = whole + fraction;
    std::string digits;
    for (int k = 0; k < total; ++k) digits += static_cast<char>('0' + rng.below(10));
    std::string text = digits.substr(0, static_cast<std::size_t>(total - fraction));
    if (fraction > 0) text += "." + digits.substr(static_cast<std::size_t>(total - fraction));
    if (rng.below(2) == 0) text = "-" + text;
    const Decimal value = D(text);
    EXPECT_EQ(D(value.to_string()), value) << text;
    EXPECT_EQ(D("000" + (text[0] == '-' ? text.substr(1) : text)), value.abs()) << text;
  }
}

TEST(Decimal, parse_rejects_malformed_text_with_a_message_that_quotes_it) {
  const char* bad[] = {"",     "-",     "+",      ".",     "-.",   "+.",     "5.",   "-5.",   " 5",
                       "5 ",   "1 000", "1,234.56", "1e5", "1E5",  "1.5e-3", "--5",  "+-5",   "5-",
                       "1.2.3", "abc",  "0x10",   "1_000", "NaN",  "inf",    "1/2",  "$5",    "5$",
                       "\t5",  "5\n",   "1'000",  "1..2",  "..5",  "(5)",    "12.34.", "+ 5", "- 5"};
  for (const char* text : bad) {
    const std::string message = message_of<amends::parse_error>([&] { (void)D(text); });
    EXPECT_TRUE(contains(message, "expected")) << text << ": " << message;
    if (std::string_view(text).find_first_of("\t\n") == std::string_view::npos) {
      EXPECT_TRUE(contains(message, "\"" + std::string(text) + "\"")) << text << ": " << message;
    }
  }
}

TEST(Decimal, parse_messages_say_what_to_fix) {
  EXPECT_TRUE(contains(message_of<amends::parse_error>([] { (void)D("1,234.56"); }), "grouping"));
  EXPECT_TRUE(contains(message_of<amends::parse_error>([] { (void)D("1e5"); }), "exponent"));
  EXPECT_TRUE(contains(message_of<amends::parse_error>([] { (void)D(" 5"); }), "whitespace"));
  EXPECT_TRUE(contains(message_of<amends::parse_error>([] { (void)D("5."); }), "ends with '.'"));
  EXPECT_TRUE(contains(message_of<amends::parse_error>([] { (void)D(""); }), "empty"));
  EXPECT_TRUE(contains(message_of<amends::parse_error>([] { (void)D("-"); }), "no digits"));
  EXPECT_TRUE(contains(message_of<amends::parse_error>([] { (void)D("1.2.3"); }), "second '.'"));
  // Control characters are escaped rather than copied into the message.
  EXPECT_TRUE(contains(message_of<amends::parse_error>([] { (void)D("5\n"); }), "\"5\\x0a\""));
}

TEST(Decimal, parse_rejects_more_than_eighteen_fraction_digits) {
  const std::string message = message_of<amends::parse_error>([] { (void)D("0.0000000000000000001"); });
  EXPECT_TRUE(contains(message, "\"0.0000000000000000001\"")) << message;
  EXPECT_TRUE(contains(message, "19 fraction digits")) << message;
  EXPECT_TRUE(contains(message, "at most 18")) << message;
  // Even trailing zeros: the format is strict.
  EXPECT_THROW((void)D("1.0000000000000000000"), amends::parse_error);
  EXPECT_THROW((void)D("-123456789012345678901.1234567890123456789"), amends::parse_error);
  EXPECT_NO_THROW((void)D("1.000000000000000000"));
}

TEST(Decimal, parse_rejects_values_beyond_the_128_bit_range) {
  EXPECT_EQ(D("340282366920938463463.374607431768211455"), max_decimal());
  EXPECT_EQ(D("-340282366920938463463.374607431768211455"), -max_decimal());
  for (const char* text : {"340282366920938463463.374607431768211456", "-340282366920938463463.374607431768211456",
                           "340282366920938463464", "1000000000000000000000",
                           "99999999999999999999999999999999999999999",
                           "-100000000000000000000000000000000000000000000000000000.5"}) {
    const std::string message = message_of<amends::overflow_error>([&] { (void)D(text); });
    EXPECT_TRUE(contains(message, std::string("\"") + std::string(text).substr(0, 64))) << message;
    EXPECT_TRUE(contains(message, "range")) << message;
  }
}

// ------------------------------------------------------------ printing

TEST(Decimal, to_string_is_the_shortest_exact_text) {
  EXPECT_EQ(D("12.5").to_string(), "12.5");
  EXPECT_EQ(D("12.50").to_string(), "12.5");
  EXPECT_EQ(D("-0.001").to_string(), "-0.001");
  EXPECT_EQ(D("7").to_string(), "7");
  EXPECT_EQ(D("7.000").to_string(), "7");
  EXPECT_EQ(D("0").to_string(), "0");
  EXPECT_EQ(D("-7").to_string(), "-7");
  EXPECT_EQ(D("100").to_string(), "100");
  EXPECT_EQ(D("0.000000000000000001").to_string(), "0.000000000000000001");
  EXPECT_EQ(D("100000000000000000000").to_string(), "100000000000000000000");
  EXPECT_EQ(D("1000000000000000000.000000000000000001").to_string(), "1000000000000000000.000000000000000001");
  EXPECT_EQ(max_decimal().to_string(), "340282366920938463463.374607431768211455");
  EXPECT_EQ((-max_decimal()).to_string(), "-340282366920938463463.374607431768211455");
  EXPECT_EQ(Decimal((std::numeric_limits<std::int64_t>::min)()).to_string(), "-9223372036854775808");
  EXPECT_EQ(Decimal((std::numeric_limits<std::int64_t>::max)()).to_string(), "9223372036854775807");
}

TEST(Decimal, to_string_with_places_pads_to_exactly_that_many_digits) {
  EXPECT_EQ(D("12.5").to_string(2), "12.50");
  EXPECT_EQ(D("7").to_string(0), "7");
  EXPECT_EQ(D("7").to_string(3), "7.000");
  EXPECT_EQ(D("-0.5").to_string(2), "-0.50");
  EXPECT_EQ(D("0").to_string(4), "0.0000");
  EXPECT_EQ(D("1").to_string(18), "1.000000000000000000");
  EXPECT_EQ(D("0.000000000000000001").to_string(18), "0.000000000000000001");
  EXPECT_EQ(max_decimal().to_string(18), "340282366920938463463.374607431768211455");
}

TEST(Decimal, to_string_with_too_few_places_throws_amount_too_precise) {
  const std::string message = message_of<amends::amount_too_precise>([] { (void)D("12.345").to_string(2); });
  EXPECT_TRUE(contains(message, "12.345")) << message;
  EXPECT_TRUE(contains(message, "round")) << message;
  EXPECT_THROW((void)D("0.5").to_string(0), amends::amount_too_precise);
  EXPECT_THROW((void)D("1").to_string(19), amends::invalid_argument);
  EXPECT_THROW((void)D("1").to_string(-1), amends::invalid_argument);
}

TEST(Decimal, parse_and_to_string_round_trip) {
  for (const char* text : {"0", "1", "-1", "12.5", "-0.001", "1234.56", "-28.82", "0.000000000000000001",
                           "99999999999999999999.999999999999999999", "340282366920938463463.374607431768211455",
                           "-340282366920938463463.374607431768211455", "18446744073709551616.5", "10", "0.1"}) {
    EXPECT_EQ(D(text).to_string(), text);
  }
  Rng rng{2024};
  for (int i = 0; i < 5000; ++i) {
    rep raw = rep(rng.next());
    raw = raw * rep(std::numeric_limits<std::uint64_t>::max()) + rep(rng.next());
    raw >>= static_cast<unsigned>(rng.below(128));
    if (rng.below(2) == 0) raw = -raw;
    const Decimal value = Decimal::from_raw(raw);
    EXPECT_EQ(D(value.to_string()), value) << value.to_string();
    EXPECT_EQ(D(value.to_string(18)), value) << value.to_string(18);
    const int places = value.fraction_digits();
    EXPECT_EQ(D(value.to_string(places)), value);
  }
}

// ------------------------------------------------------------ construction, accessors

TEST(Decimal, from_scaled_counts_units_of_ten_to_the_minus_places) {
  EXPECT_EQ(Decimal::from_scaled(1234, 2).to_string(), "12.34");
  EXPECT_EQ(Decimal::from_scaled(-5, 0).to_string(), "-5");
  EXPECT_EQ(Decimal::from_scaled(1, 18).raw(), rep(1));
  EXPECT_EQ(Decimal::from_scaled(rep(1234), 3).to_string(), "1.234");
  EXPECT_EQ(Decimal::from_scaled((std::numeric_limits<std::int64_t>::min)(), 0).to_string(), "-9223372036854775808");
  EXPECT_THROW((void)Decimal::from_scaled(1, 19), amends::invalid_argument);
  EXPECT_THROW((void)Decimal::from_scaled(1, -1), amends::invalid_argument);
  EXPECT_THROW((void)Decimal::from_scaled((std::numeric_limits<rep>::max)(), 0), amends::overflow_error);
  EXPECT_EQ(Decimal::from_scaled((std::numeric_limits<rep>::max)(), 18), max_decimal());
}

TEST(Decimal, integers_convert_exactly) {
  EXPECT_EQ(Decimal(5), D("5"));
  EXPECT_EQ(Decimal(-5), D("-5"));
  EXPECT_EQ(Decimal(0), Decimal());
  EXPECT_TRUE(Decimal().is_zero());
}

TEST(Decimal, scaled_gives_the_count_of_units_or_refuses_to_drop_digits) {
  EXPECT_EQ(D("12.34").scaled(2), rep(1234));
  EXPECT_EQ(D("-12.3").scaled(3), rep(-12300));
  EXPECT_EQ(D("5").scaled(0), rep(5));
  EXPECT_EQ(D("0.000000000000000001").scaled(18), rep(1));
  const std::string message = message_of<amends::amount_too_precise>([] { (void)D("12.345").scaled(2); });
  EXPECT_TRUE(contains(message, "12.345")) << message;
  EXPECT_THROW((void)D("1").scaled(19), amends::invalid_argument);
}

TEST(Decimal, fraction_digits_counts_the_significant_fraction_digits) {
  EXPECT_EQ(D("12.5").fraction_digits(), 1);
  EXPECT_EQ(D("12.50").fraction_digits(), 1);
  EXPECT_EQ(D("7").fraction_digits(), 0);
  EXPECT_EQ(D("0").fraction_digits(), 0);
  EXPECT_EQ(D("-0.001").fraction_digits(), 3);
  EXPECT_EQ(D("0.000000000000000001").fraction_digits(), 18);
  EXPECT_EQ(max_decimal().fraction_digits(), 18);
  EXPECT_TRUE(D("12.34").fits_places(2));
  EXPECT_TRUE(D("12.3").fits_places(2));
  EXPECT_FALSE(D("12.345").fits_places(2));
}

// ------------------------------------------------------------ fast unit checks
//
// fits_places, fraction_digits, scaled, to_minor and from_scaled avoid 128-bit
// division; these compare them with the straightforward computation in
// boost arithmetic on random and edge values of the whole 128-bit range.

rep pow10_rep(int n) {
  rep p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// The slow references.
int slow_fraction_digits(const rep& raw) {
  rep m = raw < 0 ? rep(-raw) : raw;
  if (m == 0) return 0;
  int zeros = 0;
  while (zeros < Decimal::scale_digits && m % 10 == 0) {
    m /= 10;
    ++zeros;
  }
  return Decimal::scale_digits - zeros;
}

bool slow_fits_places(const rep& raw, int places) {
  if (places >= Decimal::scale_digits) return true;
  if (places < 0) return false;
  return raw % pow10_rep(Decimal::scale_digits - places) == 0;
}

// A random magnitude: 0..128 random bits, at times rounded down to a multiple
// of a random power of ten (so that every fraction_digits occurs), and
// random sign.
rep random_raw(Rng& rng) {
  const int bits = static_cast<int>(rng.below(129));
  rep m = 0;
  if (bits > 0) {
    m = rep(rng.next());
    m <<= 64;
    m |= rep(rng.next());
    m >>= 128 - bits;
  }
  if (rng.below(4) != 0) {
    const rep p = pow10_rep(static_cast<int>(rng.below(39)));
    m = m / p * p;
  }
  return rng.below(2) == 0 ? m : rep(-m);
}

// Values at the edges: 0, +/-1, +/-(2^128 - 1) and its neighbours, the
// largest multiples of every power of ten, powers of two and of five.
std::vector<rep> edge_raws() {
  const rep max = (std::numeric_limits<rep>::max)();
  std::vector<rep> out = {0, 1, 2, 5, 10, max, max - 1, rep(max - 10), rep(max / 2), rep(max / 2 + 1)};
  for (int k = 0; k <= 38; ++k) {
    const rep p = pow10_rep(k);
    const rep top = max / p * p;
    out.push_back(p);
    out.push_back(top);
    out.push_back(top - p);
    out.push_back(top - 1);
    if (p != 1) out.push_back(p + 1);
    if (k > 0) out.push_back(p - 1);
  }
  rep two = 1;
  for (int k = 0; k < 128; ++k) {
    out.push_back(two);
    if (k == 127) break;
    out.push_back(rep(two * 2 - 1));
    two *= 2;
  }
  for (rep five = 1; five <= max / 5; five *= 5) {
    out.push_back(five);
    out.push_back(rep(five * 4));
  }
  const std::size_t n = out.size();
  for (std::size_t i = 0; i < n; ++i) out.push_back(-out[i]);
  return out;
}

std::vector<rep> test_raws(int random_count) {
  std::vector<rep> out = edge_raws();
  Rng rng{2024};
  for (int i = 0; i < random_count; ++i) out.push_back(random_raw(rng));
  return out;
}

TEST(Decimal, fits_places_and_fraction_digits_agree_with_division_everywhere) {
  for (const rep& raw : test_raws(20000)) {
    const Decimal value = Decimal::from_raw(raw);
    const int digits = value.fraction_digits();
    ASSERT_EQ(digits, slow_fraction_digits(raw)) << raw.str();
    for (int places = -2; places <= Decimal::scale_digits + 2; ++places) {
      ASSERT_EQ(value.fits_places(places), slow_fits_places(raw, places)) << raw.str() << " places " << places;
      ASSERT_EQ(value.fits_places(places), digits <= places) << raw.str() << " places " << places;
    }
  }
}

TEST(Decimal, scaled_and_to_minor_agree_with_division_everywhere) {
  const rep int64_min((std::numeric_limits<std::int64_t>::min)());
  const rep int64_max((std::numeric_limits<std::int64_t>::max)());
  // Fewer random values: most of them throw for most places, which is slow.
  for (const rep& raw : test_raws(3000)) {
    const Decimal value = Decimal::from_raw(raw);
    for (int places = 0; places <= Decimal::scale_digits; ++places) {
      const rep divisor = pow10_rep(Decimal::scale_digits - places);
      if (raw % divisor != 0) {
        ASSERT_THROW((void)value.scaled(places), amends::amount_too_precise) << raw.str() << " places " << places;
        ASSERT_THROW((void)value.to_minor(places), amends::amount_too_precise) << raw.str() << " places " << places;
        continue;
      }
      const rep units = raw / divisor;
      ASSERT_EQ(value.scaled(places), units) << raw.str() << " places " << places;
      if (units < int64_min || units > int64_max) {
        ASSERT_THROW((void)value.to_minor(places), amends::overflow_error) << raw.str() << " places " << places;
      } else {
        ASSERT_EQ(value.to_minor(places), static_cast<std::int64_t>(units)) << raw.str() << " places " << places;
      }
    }
  }
}

TEST(Decimal, to_minor_counts_minor_units) {
  EXPECT_EQ(D("12.34").to_minor(2), 1234);
  EXPECT_EQ(D("12.3").to_minor(2), 1230);
  EXPECT_EQ(D("-12.3").to_minor(3), -12300);
  EXPECT_EQ(D("-0.01").to_minor(2), -1);
  EXPECT_EQ(D("5").to_minor(0), 5);
  EXPECT_EQ(D("0").to_minor(0), 0);
  EXPECT_EQ(D("0").to_minor(18), 0);
  EXPECT_EQ(D("0.000000000000000001").to_minor(18), 1);
  EXPECT_EQ(D("-9.223372036854775808").to_minor(18), (std::numeric_limits<std::int64_t>::min)());
  EXPECT_EQ(D("9.223372036854775807").to_minor(18), (std::numeric_limits<std::int64_t>::max)());
  EXPECT_EQ(D("-92233720368547758.08").to_minor(2), (std::numeric_limits<std::int64_t>::min)());
  EXPECT_EQ(D("92233720368547758.07").to_minor(2), (std::numeric_limits<std::int64_t>::max)());
  EXPECT_EQ(D("9223372036854775807").to_minor(0), (std::numeric_limits<std::int64_t>::max)());
  EXPECT_EQ(D("-9223372036854775808").to_minor(0), (std::numeric_limits<std::int64_t>::min)());
}

TEST(Decimal, to_minor_refuses_to_drop_digits_or_leave_int64) {
  const std::string message = message_of<amends::amount_too_precise>([] { (void)D("12.345").to_minor(2); });
  EXPECT_EQ(message, "12.345 has 3 fraction digits; it is not a whole count of 10^-2 units (round it first)");
  EXPECT_THROW((void)D("-0.001").to_minor(2), amends::amount_too_precise);
  EXPECT_THROW((void)max_decimal().to_minor(17), amends::amount_too_precise);
  const std::string overflow = message_of<amends::overflow_error>([] { (void)D("92233720368547758.08").to_minor(2); });
  EXPECT_TRUE(contains(overflow, "92233720368547758.08")) << overflow;
  EXPECT_TRUE(contains(overflow, "int64")) << overflow;
  EXPECT_THROW((void)D("-92233720368547758.09").to_minor(2), amends::overflow_error);
  EXPECT_THROW((void)D("9.223372036854775808").to_minor(18), amends::overflow_error);
  EXPECT_THROW((void)D("-9.223372036854775809").to_minor(18), amends::overflow_error);
  EXPECT_THROW((void)D("9223372036854775808").to_minor(0), amends::overflow_error);
  EXPECT_THROW((void)max_decimal().to_minor(18), amends::overflow_error);
  EXPECT_THROW((void)(-max_decimal()).to_minor(18), amends::overflow_error);
  EXPECT_THROW((void)D("1").to_minor(19), amends::invalid_argument);
  EXPECT_THROW((void)D("1").to_minor(-1), amends::invalid_argument);
}

TEST(Decimal, from_scaled_agrees_with_multiplication_everywhere) {
  std::vector<std::int64_t> units = {0,
                                     1,
                                     -1,
                                     9,
                                     10,
                                     -10,
                                     (std::numeric_limits<std::int64_t>::max)(),
                                     (std::numeric_limits<std::int64_t>::min)(),
                                     (std::numeric_limits<std::int64_t>::max)() - 1,
                                     (std::numeric_limits<std::int64_t>::min)() + 1};
  Rng rng{99};
  for (int i = 0; i < 20000; ++i) {
    const int bits = static_cast<int>(rng.below(64));
    auto u = static_cast<std::int64_t>(bits == 0 ? 0 : rng.next() >> (64 - bits));
    units.push_back(rng.below(2) == 0 ? u : -u);
  }
  for (const std::int64_t u : units) {
    for (int places = 0; places <= Decimal::scale_digits; ++places) {
      const Decimal value = Decimal::from_scaled(u, places);
      const rep expected = rep(u) * pow10_rep(Decimal::scale_digits - places);
      ASSERT_EQ(value.raw(), expected) << u << " places " << places;
      ASSERT_EQ(value.sign(), u < 0 ? -1 : (u > 0 ? 1 : 0)) << u << " places " << places;
      ASSERT_EQ(value.to_minor(places), u) << u << " places " << places;
      ASSERT_EQ(Decimal::from_scaled(rep(u), places), value) << u << " places " << places;
    }
  }
  EXPECT_THROW((void)Decimal::from_scaled(std::int64_t{1}, 19), amends::invalid_argument);
  EXPECT_THROW((void)Decimal::from_scaled(std::int64_t{1}, -1), amends::invalid_argument);
}

TEST(Decimal, from_scaled_of_a_rep_is_checked_at_the_edge_of_the_range) {
  const rep max = (std::numeric_limits<rep>::max)();
  for (int places = 0; places <= Decimal::scale_digits; ++places) {
    const rep factor = pow10_rep(Decimal::scale_digits - places);
    const rep largest = max / factor;
    EXPECT_EQ(Decimal::from_scaled(largest, places).raw(), rep(largest * factor)) << places;
    EXPECT_EQ(Decimal::from_scaled(rep(-largest), places).raw(), rep(-largest * factor)) << places;
    if (places < Decimal::scale_digits) {
      EXPECT_THROW((void)Decimal::from_scaled(rep(largest + 1), places), amends::overflow_error) << places;
      EXPECT_THROW((void)Decimal::from_scaled(rep(-largest - 1), places), amends::overflow_error) << places;
    }
  }
  const std::string message = message_of<amends::overflow_error>([&] { (void)Decimal::from_scaled(max, 0); });
  EXPECT_TRUE(contains(message, "Decimal::from_scaled(" + max.str() + ", 0)")) << message;
}

TEST(Decimal, sign_abs_and_negation) {
  EXPECT_EQ(D("-3.5").sign(), -1);
  EXPECT_EQ(D("3.5").sign(), 1);
  EXPECT_EQ(D("0").sign(), 0);
  EXPECT_EQ(D("-3.5").abs(), D("3.5"));
  EXPECT_EQ(D("3.5").abs(), D("3.5"));
  EXPECT_EQ(-D("3.5"), D("-3.5"));
  EXPECT_EQ(-Decimal(), Decimal());
  EXPECT_EQ((-Decimal()).to_string(), "0");
  EXPECT_EQ(-(-max_decimal()), max_decimal());
}

TEST(Decimal, comparisons_order_by_value) {
  EXPECT_LT(D("-1"), D("-0.5"));
  EXPECT_LT(D("-0.5"), D("0"));
  EXPECT_LT(D("0"), D("0.000000000000000001"));
  EXPECT_LT(D("1.99"), D("2"));
  EXPECT_EQ(D("2.50"), D("2.5"));
  EXPECT_NE(D("2.5"), D("2.05"));
  EXPECT_GT(max_decimal(), D("340282366920938463463"));
  EXPECT_EQ(D("1") <=> D("1.0"), std::strong_ordering::equal);
}

// ------------------------------------------------------------ arithmetic and overflow

TEST(Decimal, addition_and_subtraction_are_exact) {
  EXPECT_EQ(D("0.1") + D("0.2"), D("0.3"));
  EXPECT_EQ(D("1234.56") - D("1234.57"), D("-0.01"));
  EXPECT_EQ(D("-28.82") + D("28.82"), Decimal());
  Decimal total;
  for (int i = 0; i < 1000; ++i) total += D("0.001");
  EXPECT_EQ(total, D("1"));
  EXPECT_EQ(D("0.000000000000000001") + D("99999999999999999999.999999999999999999"), D("100000000000000000000"));
}

TEST(Decimal, addition_past_the_128_bit_edge_throws_overflow_error) {
  const Decimal tiny = Decimal::from_raw(rep(1));
  Decimal top = max_decimal();
  const std::string message = message_of<amends::overflow_error>([&] { top += tiny; });
  EXPECT_TRUE(contains(message, "340282366920938463463.374607431768211455")) << message;
  EXPECT_TRUE(contains(message, "range")) << message;
  EXPECT_EQ(top, max_decimal()) << "a failed += leaves the value unchanged";
  EXPECT_THROW((void)(max_decimal() + max_decimal()), amends::overflow_error);
  EXPECT_THROW((void)(-max_decimal() + -tiny), amends::overflow_error);
  EXPECT_EQ(max_decimal() + -max_decimal(), Decimal());
  EXPECT_EQ(max_decimal() + -tiny + tiny, max_decimal());
}

TEST(Decimal, subtraction_past_the_128_bit_edge_throws_overflow_error) {
  const Decimal tiny = Decimal::from_raw(rep(1));
  Decimal bottom = -max_decimal();
  EXPECT_THROW(bottom -= tiny, amends::overflow_error);
  EXPECT_EQ(bottom, -max_decimal());
  EXPECT_THROW((void)(max_decimal() - -tiny), amends::overflow_error);
  EXPECT_THROW((void)(max_decimal() - -max_decimal()), amends::overflow_error);
  EXPECT_EQ(max_decimal() - max_decimal(), Decimal());
  EXPECT_EQ(-max_decimal() - -tiny, Decimal::from_raw(-(std::numeric_limits<rep>::max)() + 1));
}

TEST(Decimal, multiplication_by_an_integer_count_is_exact_and_checked) {
  EXPECT_EQ(D("19.99") * 3, D("59.97"));
  EXPECT_EQ(D("-0.5") * -4, D("2"));
  EXPECT_EQ(D("0.000000000000000001") * 7, D("0.000000000000000007"));
  EXPECT_EQ(D("123.45") * 0, Decimal());
  EXPECT_EQ(max_decimal() * 1, max_decimal());
  EXPECT_EQ(max_decimal() * -1, -max_decimal());
  EXPECT_EQ(D("1") * (std::numeric_limits<std::int64_t>::min)(), Decimal((std::numeric_limits<std::int64_t>::min)()));
  const Decimal half = Decimal::from_raw((std::numeric_limits<rep>::max)() / 2);
  EXPECT_EQ(half * 2, max_decimal() - Decimal::from_raw(rep(1)));
  const std::string message = message_of<amends::overflow_error>([] { (void)(max_decimal() * 2); });
  EXPECT_TRUE(contains(message, "* 2")) << message;
  EXPECT_THROW((void)(D("100000000000") * 10000000000), amends::overflow_error);
}

TEST(Decimal, mul_rounds_the_exact_product_to_the_requested_places) {
  EXPECT_EQ(D("19.99").mul(D("3"), 2), D("59.97"));
  EXPECT_EQ(D("10").mul(D("0.15"), 2), D("1.5"));
  EXPECT_EQ(D("2.675").mul(D("1"), 2, Rounding::half_even), D("2.68"));
  EXPECT_EQ(D("2.665").mul(D("1"), 2, Rounding::half_even), D("2.66"));
  EXPECT_EQ(D("1.005").mul(D("1"), 2, Rounding::half_up), D("1.01"));
  // -1.25 * 0.5 = -0.625 exactly.
  EXPECT_EQ(D("-1.25").mul(D("0.5"), 2, Rounding::half_even), D("-0.62"));
  EXPECT_EQ(D("-1.25").mul(D("0.5"), 2, Rounding::half_up), D("-0.63"));
  EXPECT_EQ(D("-1.25").mul(D("0.5"), 2, Rounding::down), D("-0.62"));
  EXPECT_EQ(D("-1.25").mul(D("0.5"), 2, Rounding::up), D("-0.63"));
  EXPECT_EQ(D("-1.25").mul(D("0.5"), 2, Rounding::floor), D("-0.63"));
  EXPECT_EQ(D("-1.25").mul(D("0.5"), 2, Rounding::ceiling), D("-0.62"));
  EXPECT_EQ(D("-1.25").mul(D("-0.5"), 2, Rounding::floor), D("0.62"));
  // Digits beyond 10^-18 are rounded, never dropped silently.
  EXPECT_EQ(D("0.000000001").mul(D("0.000000001"), 18), D("0.000000000000000001"));
  EXPECT_EQ(D("0.000000001").mul(D("0.0000000001"), 18), Decimal());
  EXPECT_EQ(D("0.000000001").mul(D("0.0000000001"), 18, Rounding::up), D("0.000000000000000001"));
  EXPECT_EQ(D("0.000000001").mul(D("0.0000000005"), 18, Rounding::half_up), D("0.000000000000000001"));
  EXPECT_EQ(D("0.000000001").mul(D("0.0000000005"), 18, Rounding::half_even), Decimal());
  // The intermediate is 256-bit: a huge product that rounds back into range is fine.
  EXPECT_EQ(max_decimal().mul(D("1"), 18), max_decimal());
  EXPECT_EQ(max_decimal().mul(D("0.5"), 0, Rounding::down), D("170141183460469231731"));
  EXPECT_EQ(D("100000000000000000000").mul(D("3.4"), 0), D("340000000000000000000"));
}

TEST(Decimal, mul_past_the_128_bit_edge_throws_overflow_error) {
  EXPECT_THROW((void)D("100000000000").mul(D("100000000000"), 2), amends::overflow_error);
  EXPECT_THROW((void)max_decimal().mul(D("1.000000000000000001"), 18), amends::overflow_error);
  EXPECT_THROW((void)max_decimal().mul(max_decimal(), 0), amends::overflow_error);
  EXPECT_THROW((void)max_decimal().mul(D("1"), 0, Rounding::up), amends::overflow_error);
  EXPECT_THROW((void)D("1").mul(D("1"), 19), amends::invalid_argument);
}

TEST(Decimal, div_rounds_the_quotient_to_the_requested_places) {
  EXPECT_EQ(D("10").div(D("3"), 2), D("3.33"));
  EXPECT_EQ(D("20").div(D("3"), 2), D("6.67"));
  EXPECT_EQ(D("-10").div(D("3"), 2, Rounding::floor), D("-3.34"));
  EXPECT_EQ(D("-10").div(D("3"), 2, Rounding::ceiling), D("-3.33"));
  EXPECT_EQ(D("10").div(D("-3"), 2, Rounding::up), D("-3.34"));
  EXPECT_EQ(D("1").div(D("8"), 2, Rounding::half_even), D("0.12"));
  EXPECT_EQ(D("3").div(D("8"), 2, Rounding::half_even), D("0.38"));
  EXPECT_EQ(D("1").div(D("8"), 2, Rounding::half_up), D("0.13"));
  EXPECT_EQ(D("1").div(D("-8"), 2, Rounding::half_up), D("-0.13"));
  EXPECT_EQ(D("-1").div(D("-8"), 2, Rounding::half_even), D("0.12"));
  EXPECT_EQ(D("1").div(D("3"), 18), D("0.333333333333333333"));
  EXPECT_EQ(D("2").div(D("3"), 18), D("0.666666666666666667"));
  EXPECT_EQ(D("2").div(D("3"), 18, Rounding::down), D("0.666666666666666666"));
  EXPECT_EQ(D("7.5").div(D("2.5"), 0), D("3"));
  EXPECT_EQ(D("1").div(D("0.000000000000000001"), 0), D("1000000000000000000"));
  EXPECT_EQ(max_decimal().div(D("1"), 18), max_decimal());
}

TEST(Decimal, div_by_zero_is_an_invalid_argument_and_overflow_is_checked) {
  const std::string message = message_of<amends::invalid_argument>([] { (void)D("12.5").div(Decimal(), 2); });
  EXPECT_TRUE(contains(message, "12.5")) << message;
  EXPECT_TRUE(contains(message, "zero")) << message;
  EXPECT_THROW((void)max_decimal().div(D("0.5"), 0), amends::overflow_error);
  EXPECT_THROW((void)D("1000").div(D("0.000000000000000001"), 18), amends::overflow_error);
  EXPECT_THROW((void)D("1").div(D("3"), 19), amends::invalid_argument);
}

// ------------------------------------------------------------ rounding names

TEST(Rounding, names_round_trip_through_to_string_and_parse_rounding) {
  const std::array<std::string_view, kModeCount> names = {"half_even", "half_up", "down", "up", "floor", "ceiling"};
  for (std::size_t i = 0; i < kModeCount; ++i) {
    EXPECT_EQ(amends::to_string(kModes[i]), names[i]);
    EXPECT_EQ(amends::parse_rounding(names[i]), kModes[i]);
  }
}

TEST(Rounding, parse_rounding_accepts_the_hyphen_forms) {
  EXPECT_EQ(amends::parse_rounding("half-even"), Rounding::half_even);
  EXPECT_EQ(amends::parse_rounding("half-up"), Rounding::half_up);
}

TEST(Rounding, parse_rounding_rejects_unknown_names_listing_the_valid_ones) {
  for (const char* name : {"bankers", "", "HALF_EVEN", "half_even ", "half even", "halfeven", "truncate", "ceil"}) {
    const std::string message = message_of<amends::invalid_argument>([&] { (void)amends::parse_rounding(name); });
    EXPECT_TRUE(contains(message, "\"" + std::string(name) + "\"")) << message;
    for (const char* valid : {"half_even", "half_up", "down", "up", "floor", "ceiling"}) {
      EXPECT_TRUE(contains(message, valid)) << message;
    }
  }
}

// ------------------------------------------------------------ currencies

TEST(Currency, common_codes_have_their_iso_numeric_code_and_minor_units) {
  struct Row {
    const char* code;
    int numeric;
    int minor;
  };
  const Row rows[] = {
      {"USD", 840, 2}, {"EUR", 978, 2}, {"GBP", 826, 2}, {"CHF", 756, 2}, {"CAD", 124, 2}, {"AUD", 36, 2},
      {"CNY", 156, 2}, {"INR", 356, 2}, {"BRL", 986, 2}, {"MXN", 484, 2}, {"ALL", 8, 2},   {"DZD", 12, 2},
      {"JPY", 392, 0}, {"KRW", 410, 0}, {"CLP", 152, 0}, {"ISK", 352, 0}, {"VND", 704, 0}, {"XAF", 950, 0},
      {"XOF", 952, 0}, {"XPF", 953, 0}, {"UGX", 800, 0}, {"PYG", 600, 0}, {"BIF", 108, 0}, {"DJF", 262, 0},
      {"GNF", 324, 0}, {"KMF", 174, 0}, {"RWF", 646, 0}, {"VUV", 548, 0}, {"UYI", 940, 0}, {"BHD", 48, 3},
      {"IQD", 368, 3}, {"JOD", 400, 3}, {"KWD", 414, 3}, {"LYD", 434, 3}, {"OMR", 512, 3}, {"TND", 788, 3},
      {"CLF", 990, 4}, {"UYW", 927, 4}, {"ZWG", 924, 2}, {"SLE", 925, 2}, {"VES", 928, 2}, {"VED", 926, 2},
      {"XCD", 951, 2}, {"MRU", 929, 2}, {"STN", 930, 2}, {"HUF", 348, 2}, {"IDR", 360, 2}, {"XCG", 532, 2},
  };
  for (const Row& row : rows) {
    const Currency c = C(row.code);
    EXPECT_EQ(c.code(), row.code);
    EXPECT_EQ(c.numeric(), row.numeric) << row.code;
    EXPECT_EQ(c.minor_units(), row.minor) << row.code;
    EXPECT_TRUE(Currency::exists(row.code));
  }
  EXPECT_EQ(C("USD").name(), "US Dollar");
  EXPECT_EQ(C("EUR").name(), "Euro");
  EXPECT_EQ(C("JPY").name(), "Yen");
}

TEST(Currency, the_table_is_sorted_unique_and_the_size_of_the_current_iso_list) {
  const auto all = Currency::all();
  EXPECT_GE(all.size(), 155U);
  EXPECT_LE(all.size(), 180U);
  std::set<std::string_view> codes;
  std::set<int> numerics;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const amends::CurrencyInfo& info = all[i];
    const std::string_view code(info.code);
    ASSERT_EQ(code.size(), 3U);
    for (char ch : code) {
      EXPECT_TRUE(ch >= 'A' && ch <= 'Z') << code;
    }
    if (i > 0) {
      EXPECT_LT(std::string_view(all[i - 1].code), code);
    }
    EXPECT_TRUE(codes.insert(code).second) << code;
    EXPECT_TRUE(numerics.insert(info.numeric).second) << code << " " << info.numeric;
    EXPECT_TRUE(info.minor_units == 0 || info.minor_units == 2 || info.minor_units == 3 || info.minor_units == 4)
        << code;
    EXPECT_GT(info.numeric, 0) << code;
    EXPECT_LE(info.numeric, 999) << code;
    EXPECT_NE(std::string_view(info.name), "") << code;
    // Every entry is found by its code, and is that very entry.
    const Currency c = Currency::of(code);
    EXPECT_EQ(c.numeric(), info.numeric);
    EXPECT_EQ(c.name().data(), info.name);
  }
}

TEST(Currency, withdrawn_codes_and_codes_without_minor_units_are_absent) {
  for (const char* code : {"HRK", "ZWL", "VEF", "LTL", "DEM", "FRF", "XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX",
                           "XBA", "XSU", "XUA"}) {
    EXPECT_FALSE(Currency::exists(code)) << code;
  }
  const std::string message = message_of<amends::unknown_currency>([] { (void)C("XAU"); });
  EXPECT_TRUE(contains(message, "\"XAU\"")) << message;
  EXPECT_TRUE(contains(message, "minor unit")) << message;
}

TEST(Currency, unknown_codes_throw_with_a_message_naming_the_expected_form) {
  for (const char* code : {"XYZ", "ABC", "", "US", "USDX", "U$D", "12 ", "EURO"}) {
    const std::string message = message_of<amends::unknown_currency>([&] { (void)C(code); });
    EXPECT_TRUE(contains(message, "\"" + std::string(code) + "\"")) << message;
    EXPECT_TRUE(contains(message, "ISO 4217")) << message;
    EXPECT_TRUE(contains(message, "\"USD\"")) << message;
    EXPECT_FALSE(Currency::exists(code)) << code;
  }
}

TEST(Currency, lower_case_codes_are_rejected_with_a_hint_to_write_upper_case) {
  for (const char* code : {"usd", "Usd", "eUR"}) {
    const std::string message = message_of<amends::unknown_currency>([&] { (void)C(code); });
    EXPECT_TRUE(contains(message, "upper case")) << message;
    EXPECT_FALSE(Currency::exists(code));
  }
  EXPECT_TRUE(contains(message_of<amends::unknown_currency>([] { (void)C("usd"); }), "\"USD\""));
}

TEST(Currency, lookup_tolerates_bytes_outside_ascii) {
  const std::string weird = std::string("\xc3\xa9") + "U";
  EXPECT_FALSE(Currency::exists(weird));
  EXPECT_FALSE(Currency::exists(std::string_view("US\0", 3)));
  EXPECT_THROW((void)C(weird), amends::unknown_currency);
}

TEST(Currency, equality_is_identity_and_ordering_is_by_code) {
  EXPECT_EQ(C("USD"), C("USD"));
  EXPECT_FALSE(C("USD") == C("EUR"));
  EXPECT_LT(C("EUR"), C("USD"));
  EXPECT_FALSE(C("USD") < C("EUR"));
}

// ------------------------------------------------------------ money

TEST(Money, to_string_always_shows_the_currency_minor_digits) {
  EXPECT_EQ(M("12.3", "USD").to_string(), "12.30 USD");
  EXPECT_EQ(M("-0.5", "USD").to_string(), "-0.50 USD");
  EXPECT_EQ(Money::zero(C("USD")).to_string(), "0.00 USD");
  EXPECT_EQ(M("1500", "JPY").to_string(), "1500 JPY");
  EXPECT_EQ(M("1.5", "KWD").to_string(), "1.500 KWD");
  EXPECT_EQ(M("1.2345", "CLF").to_string(), "1.2345 CLF");
  EXPECT_EQ(M("7", "UYW").to_string(), "7.0000 UYW");
}

TEST(Money, an_amount_finer_than_the_minor_unit_is_rejected) {
  const std::string message = message_of<amends::amount_too_precise>([] { (void)Money(D("0.001"), C("USD")); });
  EXPECT_EQ(message, "0.001 USD is finer than USD's 2 minor digits; round it first");
  EXPECT_THROW((void)Money(D("0.5"), C("JPY")), amends::amount_too_precise);
  EXPECT_THROW((void)Money(D("0.0001"), C("KWD")), amends::amount_too_precise);
  EXPECT_THROW((void)Money(D("0.00001"), C("CLF")), amends::amount_too_precise);
  EXPECT_THROW((void)M("12.345", "USD"), amends::amount_too_precise);
  EXPECT_NO_THROW((void)Money(D("0.0001"), C("CLF")));
  EXPECT_NO_THROW((void)Money(D("0.001"), C("KWD")));
  EXPECT_NO_THROW((void)Money(D("12.340"), C("USD")));
  EXPECT_NO_THROW((void)Money(D("0.001").round(2), C("USD")));
}

TEST(Money, parse_reports_malformed_amounts_as_parse_errors) {
  EXPECT_THROW((void)M("12,34", "USD"), amends::parse_error);
  EXPECT_THROW((void)M("", "USD"), amends::parse_error);
  EXPECT_EQ(M("12.34", "USD").amount(), D("12.34"));
}

TEST(Money, from_minor_counts_minor_units) {
  EXPECT_EQ(Money::from_minor(1234, C("USD")), M("12.34", "USD"));
  EXPECT_EQ(Money::from_minor(-5, C("USD")).to_string(), "-0.05 USD");
  EXPECT_EQ(Money::from_minor(1500, C("JPY")).to_string(), "1500 JPY");
  EXPECT_EQ(Money::from_minor(1234, C("KWD")).to_string(), "1.234 KWD");
  EXPECT_EQ(Money::from_minor(1, C("CLF")).to_string(), "0.0001 CLF");
  EXPECT_EQ(M("12.34", "USD").minor_units(), rep(1234));
  EXPECT_EQ(M("-1.5", "KWD").minor_units(), rep(-1500));
  EXPECT_EQ(M("99", "JPY").minor_units(), rep(99));
}

TEST(Money, addition_and_subtraction_need_the_same_currency) {
  Money a = M("10.25", "USD");
  a += M("0.75", "USD");
  EXPECT_EQ(a, M("11", "USD"));
  a -= M("20", "USD");
  EXPECT_EQ(a, M("-9", "USD"));
  EXPECT_EQ(-a, M("9", "USD"));
  EXPECT_EQ(M("1", "USD") + M("2", "USD"), M("3", "USD"));
  EXPECT_EQ(M("1", "USD") - M("2", "USD"), M("-1", "USD"));

  const std::string message = message_of<amends::currency_mismatch>([] { (void)(M("12.3", "USD") + M("5", "EUR")); });
  EXPECT_EQ(message, "cannot add 5.00 EUR to 12.30 USD: the currencies differ (convert first)");
  EXPECT_THROW((void)(M("1", "USD") - M("1", "EUR")), amends::currency_mismatch);
  Money b = M("1", "USD");
  EXPECT_THROW(b += M("1", "JPY"), amends::currency_mismatch);
  EXPECT_EQ(b, M("1", "USD"));
}

TEST(Money, equality_compares_amount_and_currency) {
  EXPECT_EQ(M("1.5", "USD"), M("1.50", "USD"));
  EXPECT_FALSE(M("1", "USD") == M("1", "EUR"));
  EXPECT_FALSE(M("1", "USD") == M("1.01", "USD"));
}

TEST(Money, addition_overflow_is_reported) {
  const Money big(D("340282366920938463463.37"), C("USD"));
  Money m = big;
  EXPECT_THROW(m += big, amends::overflow_error);
}

TEST(Money, mul_rounds_to_the_currency_minor_units) {
  EXPECT_EQ(M("100", "USD").mul(D("0.15")), M("15", "USD"));
  EXPECT_EQ(M("10.01", "USD").mul(D("0.5")), M("5", "USD"));  // 5.005 ties to even
  EXPECT_EQ(M("10.03", "USD").mul(D("0.5")), M("5.02", "USD"));  // 5.015 ties to even
  EXPECT_EQ(M("10.01", "USD").mul(D("0.5"), Rounding::half_up), M("5.01", "USD"));
  EXPECT_EQ(M("-10.01", "USD").mul(D("0.5"), Rounding::floor), M("-5.01", "USD"));
  EXPECT_EQ(M("1001", "JPY").mul(D("0.5")), M("500", "JPY"));
  EXPECT_EQ(M("1001", "JPY").mul(D("0.5"), Rounding::half_up), M("501", "JPY"));
  EXPECT_EQ(M("1.001", "KWD").mul(D("0.5"), Rounding::up), M("0.501", "KWD"));
  EXPECT_EQ(M("19.99", "USD").mul(D("3")).to_string(), "59.97 USD");
}

TEST(Money, convert_rounds_to_the_target_minor_units) {
  EXPECT_EQ(M("100", "USD").convert(C("JPY"), D("151.237")), M("15124", "JPY"));
  EXPECT_EQ(M("100", "USD").convert(C("EUR"), D("0.92345")), M("92.34", "EUR"));  // 92.345 ties to even
  EXPECT_EQ(M("100", "USD").convert(C("EUR"), D("0.92345"), Rounding::half_up), M("92.35", "EUR"));
  EXPECT_EQ(M("100", "USD").convert(C("EUR"), D("0.92345"), Rounding::down), M("92.34", "EUR"));
  EXPECT_EQ(M("1", "KWD").convert(C("USD"), D("3.2573")), M("3.26", "USD"));
  EXPECT_EQ(M("1000", "JPY").convert(C("USD"), D("0.0066")), M("6.6", "USD"));
  EXPECT_EQ(M("10", "USD").convert(C("KWD"), D("0.30705")), M("3.070", "KWD"));  // 3.0705 ties to even
  EXPECT_EQ(M("10", "USD").convert(C("CLF"), D("0.000263157")), M("0.0026", "CLF"));
  EXPECT_EQ(M("-10", "USD").convert(C("EUR"), D("0.925")), M("-9.25", "EUR"));
  EXPECT_EQ(M("-0.01", "USD").convert(C("JPY"), D("151.5")), M("-2", "JPY"));  // -1.515
  EXPECT_EQ(M("-0.01", "USD").convert(C("JPY"), D("151.5"), Rounding::ceiling), M("-1", "JPY"));
  EXPECT_EQ(M("5", "USD").convert(C("USD"), D("1")), M("5", "USD"));
  EXPECT_EQ(M("100", "USD").convert(C("JPY"), D("151.237")).currency(), C("JPY"));
  EXPECT_THROW((void)M("1", "USD").convert(C("EUR"), Decimal()), amends::invalid_argument);
  EXPECT_THROW((void)M("1", "USD").convert(C("EUR"), D("-0.9")), amends::invalid_argument);
}

// ------------------------------------------------------------ allocation

TEST(Allocate, one_hundred_by_three_equal_weights_gives_the_extra_cent_to_the_first) {
  const auto parts = allocate(D("100.00"), weights({"1", "1", "1"}), 2);
  EXPECT_EQ(texts(parts), (std::vector<std::string>{"33.34", "33.33", "33.33"}));
  EXPECT_EQ(sum(parts), D("100"));
}

TEST(Allocate, negative_totals_allocate_the_magnitude_then_negate) {
  const auto parts = allocate(D("-100.00"), weights({"1", "1", "1"}), 2);
  EXPECT_EQ(texts(parts), (std::vector<std::string>{"-33.34", "-33.33", "-33.33"}));
  EXPECT_EQ(sum(parts), D("-100"));
  EXPECT_EQ(texts(allocate(D("-0.05"), weights({"1", "2"}), 2)), (std::vector<std::string>{"-0.02", "-0.03"}));
}

TEST(Allocate, leftover_units_go_to_the_largest_remainders) {
  // 100 * 1/6 = 16.666.., 100 * 2/6 = 33.333.., 100 * 3/6 = 50
  EXPECT_EQ(texts(allocate(D("100"), weights({"1", "2", "3"}), 2)),
            (std::vector<std::string>{"16.67", "33.33", "50"}));
  // 10 * 0.3 = 3, 10 * 0.3 = 3, 10 * 0.4 = 4, exact
  EXPECT_EQ(texts(allocate(D("10"), weights({"0.3", "0.3", "0.4"}), 2)),
            (std::vector<std::string>{"3", "3", "4"}));
  // 1.00 by 3:7 at 0 places: 0.3 -> 0, 0.7 -> 1
  EXPECT_EQ(texts(allocate(D("1"), weights({"3", "7"}), 0)), (std::vector<std::string>{"0", "1"}));
  // 0.10 by 1:1:3 -> 0.02, 0.02, 0.06
  EXPECT_EQ(texts(allocate(D("0.10"), weights({"1", "1", "3"}), 2)),
            (std::vector<std::string>{"0.02", "0.02", "0.06"}));
  // 0.07 by 1:2:4: shares 0.01, 0.02, 0.04 exact
  EXPECT_EQ(texts(allocate(D("0.07"), weights({"1", "2", "4"}), 2)),
            (std::vector<std::string>{"0.01", "0.02", "0.04"}));
}

TEST(Allocate, ties_between_equal_remainders_go_to_the_earlier_part) {
  EXPECT_EQ(texts(allocate(D("0.05"), weights({"1", "1", "1", "1", "1", "1"}), 2)),
            (std::vector<std::string>{"0.01", "0.01", "0.01", "0.01", "0.01", "0"}));
  EXPECT_EQ(texts(allocate(D("0.01"), weights({"1", "0", "1"}), 2)), (std::vector<std::string>{"0.01", "0", "0"}));
  EXPECT_EQ(texts(allocate(D("0.02"), weights({"2", "1", "1", "2"}), 2)),
            (std::vector<std::string>{"0.01", "0", "0", "0.01"}));
}

TEST(Allocate, zero_weights_get_nothing) {
  EXPECT_EQ(texts(allocate(D("10"), weights({"0", "1", "0", "1"}), 2)),
            (std::vector<std::string>{"0", "5", "0", "5"}));
  EXPECT_EQ(texts(allocate(D("0.03"), weights({"0", "1", "1"}), 2)), (std::vector<std::string>{"0", "0.02", "0.01"}));
  EXPECT_EQ(texts(allocate(D("0.01"), weights({"0", "0", "5"}), 2)), (std::vector<std::string>{"0", "0", "0.01"}));
}

TEST(Allocate, a_zero_total_gives_zero_parts) {
  EXPECT_EQ(texts(allocate(Decimal(), weights({"1", "2"}), 2)), (std::vector<std::string>{"0", "0"}));
}

TEST(Allocate, a_single_weight_takes_the_whole_total) {
  EXPECT_EQ(texts(allocate(D("12.34"), weights({"0.001"}), 2)), (std::vector<std::string>{"12.34"}));
}

TEST(Allocate, rejects_negative_all_zero_or_missing_weights) {
  const std::string negative =
      message_of<amends::invalid_argument>([] { (void)allocate(D("10"), weights({"1", "-1"}), 2); });
  EXPECT_TRUE(contains(negative, "-1")) << negative;
  EXPECT_TRUE(contains(negative, ">= 0")) << negative;
  const std::string zeros =
      message_of<amends::invalid_argument>([] { (void)allocate(D("10"), weights({"0", "0"}), 2); });
  EXPECT_TRUE(contains(zeros, "all 2 weights are 0")) << zeros;
  EXPECT_THROW((void)allocate(D("10"), std::vector<Decimal>{}, 2), amends::invalid_argument);
  EXPECT_THROW((void)allocate(D("10"), weights({"1"}), 19), amends::invalid_argument);
  EXPECT_THROW((void)allocate(D("10"), weights({"1"}), -1), amends::invalid_argument);
}

TEST(Allocate, a_total_finer_than_the_places_is_amount_too_precise) {
  const std::string message =
      message_of<amends::amount_too_precise>([] { (void)allocate(D("10.005"), weights({"1", "1"}), 2); });
  EXPECT_TRUE(contains(message, "10.005")) << message;
}

TEST(Allocate, money_uses_the_currency_minor_units_jpy_kwd_clf) {
  const std::vector<Decimal> thirds = weights({"1", "1", "1"});
  EXPECT_EQ(texts(allocate(M("1000", "JPY"), thirds)), (std::vector<std::string>{"334 JPY", "333 JPY", "333 JPY"}));
  EXPECT_EQ(texts(allocate(M("10", "KWD"), thirds)),
            (std::vector<std::string>{"3.334 KWD", "3.333 KWD", "3.333 KWD"}));
  EXPECT_EQ(texts(allocate(M("1", "CLF"), thirds)),
            (std::vector<std::string>{"0.3334 CLF", "0.3333 CLF", "0.3333 CLF"}));
  EXPECT_EQ(texts(allocate(M("-100", "USD"), thirds)),
            (std::vector<std::string>{"-33.34 USD", "-33.33 USD", "-33.33 USD"}));
  EXPECT_EQ(texts(allocate(M("5", "JPY"), weights({"1", "1"}))), (std::vector<std::string>{"3 JPY", "2 JPY"}));
}

TEST(Allocate, evenly_splits_money_into_n_parts) {
  EXPECT_EQ(texts(allocate_evenly(M("100", "USD"), 3)),
            (std::vector<std::string>{"33.34 USD", "33.33 USD", "33.33 USD"}));
  EXPECT_EQ(texts(allocate_evenly(M("-0.05", "USD"), 3)),
            (std::vector<std::string>{"-0.02 USD", "-0.02 USD", "-0.01 USD"}));
  EXPECT_EQ(texts(allocate_evenly(M("7", "JPY"), 1)), (std::vector<std::string>{"7 JPY"}));
  EXPECT_EQ(texts(allocate_evenly(M("0.002", "KWD"), 4)),
            (std::vector<std::string>{"0.001 KWD", "0.001 KWD", "0.000 KWD", "0.000 KWD"}));
  EXPECT_THROW((void)allocate_evenly(M("1", "USD"), 0), amends::invalid_argument);
}

TEST(Allocate, evenly_matches_allocation_by_equal_weights) {
  Rng rng{99};
  for (int i = 0; i < 300; ++i) {
    const auto minor = static_cast<std::int64_t>(rng.below(2000000)) - 1000000;
    const std::size_t n = 1 + rng.below(12);
    const Money total = Money::from_minor(minor, C("USD"));
    const std::vector<Decimal> equal(n, Decimal(1));
    EXPECT_EQ(allocate_evenly(total, n), allocate(total, equal)) << total.to_string() << " / " << n;
  }
}

TEST(Allocate, parts_always_sum_exactly_and_stay_within_one_unit_of_the_exact_share) {
  Rng rng{12345};
  for (int i = 0; i < 2000; ++i) {
    const int places = static_cast<int>(rng.below(5));
    const auto units = static_cast<std::int64_t>(rng.below(100000000)) - 50000000;
    const Decimal total = Decimal::from_scaled(units, places);
    const std::size_t n = 1 + rng.below(8);
    std::vector<std::int64_t> w(n);
    std::int64_t w_sum = 0;
    for (auto& x : w) {
      x = static_cast<std::int64_t>(rng.below(4) == 0 ? 0 : rng.below(1000));
      w_sum += x;
    }
    if (w_sum == 0) {
      w[0] = 1;
      w_sum = 1;
    }
    std::vector<Decimal> wd;
    for (std::int64_t x : w) wd.push_back(Decimal(x));
    const auto parts = allocate(total, wd, places);
    ASSERT_EQ(parts.size(), n);
    EXPECT_EQ(sum(parts), total);
    const std::int64_t magnitude = units < 0 ? -units : units;
    for (std::size_t k = 0; k < n; ++k) {
      EXPECT_TRUE(parts[k].fits_places(places));
      // The part is floor(|total| * w / W) or one unit more, with the total's sign.
      const std::int64_t floor_share = magnitude * w[k] / w_sum;  // < 5e7 * 1e3, no overflow
      auto got = static_cast<std::int64_t>(parts[k].abs().scaled(places));
      EXPECT_TRUE(got == floor_share || got == floor_share + 1) << total.to_string() << " part " << k;
      if (w[k] == 0) {
        EXPECT_EQ(got, 0);
      }
      EXPECT_TRUE(parts[k].sign() == 0 || parts[k].sign() == (units < 0 ? -1 : 1));
    }
    // Deterministic: the same call gives the same parts.
    EXPECT_EQ(allocate(total, wd, places), parts);
    // Symmetric: a negative total gives the negated parts.
    std::vector<Decimal> negated;
    for (const Decimal& p : parts) negated.push_back(-p);
    EXPECT_EQ(allocate(-total, wd, places), negated);
  }
}

TEST(Allocate, works_at_the_edge_of_the_range_with_extreme_weights) {
  const Decimal total = D("340282366920938463463.37");
  const auto parts = allocate(total, std::vector<Decimal>{max_decimal(), Decimal::from_raw(rep(1)), D("1")}, 2);
  EXPECT_EQ(sum(parts), total);
  const auto equal = allocate(-max_decimal(), std::vector<Decimal>{max_decimal(), max_decimal(), max_decimal()}, 18);
  EXPECT_EQ(sum(equal), -max_decimal());
  EXPECT_EQ(texts(equal), (std::vector<std::string>{"-113427455640312821154.458202477256070485",
                                                    "-113427455640312821154.458202477256070485",
                                                    "-113427455640312821154.458202477256070485"}));
  const auto fine = allocate(D("1"), weights({"0.000000000000000001", "0.000000000000000002"}), 18);
  EXPECT_EQ(texts(fine), (std::vector<std::string>{"0.333333333333333333", "0.666666666666666667"}));
}

}  // namespace
