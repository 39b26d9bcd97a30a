// Exact money: a fixed-scale decimal on a checked 128-bit integer, ISO 4217
// currencies with their minor units, named rounding, and allocation that never
// loses or invents a cent.
#pragma once

#include <boost/multiprecision/cpp_int.hpp>

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "amends/errors.hpp"

namespace amends {

enum class Rounding : std::uint8_t {
  half_even,  // banker's rounding, the default
  half_up,    // ties away from zero
  down,       // toward zero (truncate)
  up,         // away from zero
  floor,      // toward negative infinity
  ceiling,    // toward positive infinity
};

std::string_view to_string(Rounding mode);
Rounding parse_rounding(std::string_view name);  // "half_even", "half-up", ...

// A decimal number with exactly `scale_digits` digits after the point, held as
// an integer count of 10^-scale_digits units. Every operation is exact or names
// its rounding; leaving the 128-bit range throws overflow_error.
class Decimal {
 public:
  using rep = boost::multiprecision::checked_int128_t;
  static constexpr int scale_digits = 18;

  Decimal() = default;
  // From a whole number of units: Decimal(5) is 5.
  Decimal(std::int64_t whole);  // NOLINT(google-explicit-constructor): integers convert exactly
  template <typename F, std::enable_if_t<std::is_floating_point_v<F>, int> = 0>
  Decimal(F) = delete;  // a binary float is never an amount

  // From an integer count of 10^-places units: from_scaled(1234, 2) is 12.34.
  static Decimal from_scaled(std::int64_t units, int places);
  static Decimal from_scaled(const rep& units, int places);
  static Decimal from_raw(const rep& raw_units);

  // Accepts [+-]digits[.digits] and [+-].digits; up to scale_digits fraction
  // digits. No exponent, no grouping, no surrounding spaces: what to fix is in
  // the message of the parse_error.
  static Decimal parse(std::string_view text);

  // Shortest exact text: "12.5", "-0.001", "7".
  std::string to_string() const;
  // Exactly `places` fraction digits; throws amount_too_precise if the value
  // has more significant fraction digits than that (round first).
  std::string to_string(int places) const;

  const rep& raw() const { return raw_; }
  // The value as an integer count of 10^-places units; throws
  // amount_too_precise if that would drop digits.
  rep scaled(int places) const;
  // The same count as an int64 (minor units: D("12.34").to_minor(2) is 1234);
  // throws amount_too_precise if that would drop digits and overflow_error if
  // the count is outside the int64 range.
  std::int64_t to_minor(int places) const;
  // Fraction digits needed to write the value exactly (0..scale_digits).
  int fraction_digits() const;
  // fraction_digits() <= places, without dividing.
  bool fits_places(int places) const;

  Decimal round(int places, Rounding mode = Rounding::half_even) const;
  // this * factor, rounded to `places` fraction digits.
  Decimal mul(const Decimal& factor, int places, Rounding mode = Rounding::half_even) const;
  // this / divisor, rounded to `places` fraction digits; divisor must not be 0.
  Decimal div(const Decimal& divisor, int places, Rounding mode = Rounding::half_even) const;

  bool is_zero() const { return raw_ == 0; }
  int sign() const { return raw_ < 0 ? -1 : (raw_ > 0 ? 1 : 0); }
  Decimal abs() const;

  Decimal operator-() const;
  Decimal& operator+=(const Decimal& other);
  Decimal& operator-=(const Decimal& other);
  friend Decimal operator+(Decimal a, const Decimal& b) { return a += b; }
  friend Decimal operator-(Decimal a, const Decimal& b) { return a -= b; }
  // Exact multiplication by an integer count (quantity, number of months).
  friend Decimal operator*(const Decimal& a, std::int64_t count);

  friend bool operator==(const Decimal& a, const Decimal& b) { return a.raw_ == b.raw_; }
  friend std::strong_ordering operator<=>(const Decimal& a, const Decimal& b) {
    return a.raw_ < b.raw_ ? std::strong_ordering::less
                           : (b.raw_ < a.raw_ ? std::strong_ordering::greater : std::strong_ordering::equal);
  }

 private:
  rep raw_ = 0;
};

static_assert(!std::is_constructible_v<Decimal, double>, "money never comes from a binary float");
static_assert(!std::is_constructible_v<Decimal, float>, "money never comes from a binary float");

// An ISO 4217 currency. A small value type: equality is identity of the entry
// in the built-in table.
struct CurrencyInfo {
  char code[4];
  std::uint16_t numeric;
  std::uint8_t minor_units;
  const char* name;
};

class Currency {
 public:
  // Looks up an ISO 4217 alphabetic code ("USD"); throws unknown_currency.
  static Currency of(std::string_view code);
  static bool exists(std::string_view code);
  static std::span<const CurrencyInfo> all();

  std::string_view code() const { return info_->code; }
  std::uint16_t numeric() const { return info_->numeric; }
  int minor_units() const { return info_->minor_units; }
  std::string_view name() const { return info_->name; }

  friend bool operator==(const Currency& a, const Currency& b) { return a.info_ == b.info_; }
  friend bool operator<(const Currency& a, const Currency& b) { return a.code() < b.code(); }

 private:
  explicit Currency(const CurrencyInfo* info) : info_(info) {}
  const CurrencyInfo* info_;
};

// An amount in a currency. Construction checks the amount is representable in
// the currency's minor units (amount_too_precise otherwise).
class Money {
 public:
  Money(Decimal amount, Currency currency);
  static Money parse(std::string_view amount_text, Currency currency);
  static Money zero(Currency currency) { return Money(Decimal(), currency); }
  // From minor units: Money::from_minor(1234, USD) is 12.34 USD.
  static Money from_minor(std::int64_t minor_units, Currency currency);

  const Decimal& amount() const { return amount_; }
  Currency currency() const { return currency_; }
  Decimal::rep minor_units() const { return amount_.scaled(currency_.minor_units()); }
  std::string to_string() const;  // "12.30 USD": always the currency's minor digits

  Money operator-() const { return Money(-amount_, currency_); }
  Money& operator+=(const Money& other);  // currency_mismatch across currencies
  Money& operator-=(const Money& other);
  friend Money operator+(Money a, const Money& b) { return a += b; }
  friend Money operator-(Money a, const Money& b) { return a -= b; }

  // this * rate (a percentage as 0.15, a price factor), rounded to minor units.
  Money mul(const Decimal& rate, Rounding mode = Rounding::half_even) const;
  // Converts at `rate` (units of `to` per unit of this currency), rounded to
  // the target's minor units.
  Money convert(Currency to, const Decimal& rate, Rounding mode = Rounding::half_even) const;

  friend bool operator==(const Money& a, const Money& b) = default;

 private:
  Decimal amount_;
  Currency currency_;
};

// Splits `total` into weights.size() parts with at most `places` fraction
// digits that sum exactly to `total`. Each part first gets its rounded-down
// share; the leftover units go one each to the parts with the largest
// remainders, ties to the earlier part. Weights must be >= 0 and not all 0.
std::vector<Decimal> allocate(const Decimal& total, std::span<const Decimal> weights, int places);
std::vector<Money> allocate(const Money& total, std::span<const Decimal> weights);
std::vector<Money> allocate_evenly(const Money& total, std::size_t parts);

}  // namespace amends
