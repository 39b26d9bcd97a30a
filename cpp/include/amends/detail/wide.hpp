// Native 128-bit sums of minor units, for the ledger's hot loops. Every
// value converted back to Decimal is checked to be within Decimal's range.
#pragma once

#include <cstdint>

#include "amends/money.hpp"

namespace amends::detail {

__extension__ typedef __int128 wide_int;
__extension__ typedef unsigned __int128 wide_uint;

// The largest count of 10^-places units a Decimal can hold: (2^128-1) / 10^(18-places).
inline wide_int max_minor_units(int places) {
  struct Table {
    wide_int limits[5];
    Table() {
      for (int p = 0; p <= 4; ++p) {
        wide_uint limit = ~static_cast<wide_uint>(0);
        for (int i = p; i < Decimal::scale_digits; ++i) limit /= 10;
        limits[p] = static_cast<wide_int>(limit);
      }
    }
  };
  static const Table table;
  AMENDS_ASSERT(places >= 0 && places <= 4);
  return table.limits[places];
}

inline Decimal decimal_from_minor(wide_int units, int places) {
  const bool negative = units < 0;
  const auto magnitude = static_cast<wide_uint>(negative ? -units : units);
  Decimal::rep value = static_cast<std::uint64_t>(magnitude >> 64);
  value <<= 64;
  value += static_cast<std::uint64_t>(magnitude);
  return Decimal::from_scaled(negative ? Decimal::rep(-value) : value, places);
}

}  // namespace amends::detail
