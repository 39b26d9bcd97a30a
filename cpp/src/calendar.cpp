// Accounting dates, monthly periods, fiscal calendars and period states.
//
// Date::parse and Period::of sit on hot paths (millions of CSV dates, one call
// per entry), so they parse digits by hand, never touch iostreams and never
// allocate unless they throw.
#include "amends/calendar.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace amends {

namespace {

constexpr int min_period_year = 1;
constexpr int max_period_year = 9999;

constexpr bool is_leap_year(int year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

constexpr unsigned days_in_month(int year, unsigned month) {
  constexpr std::array<unsigned char, 12> lengths{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29U : lengths[month - 1];
}

struct Civil {
  int year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's civil_from_days, in 64-bit arithmetic so that every int32
// day count converts (date::year_month_day narrows the year to a short).
constexpr Civil civil_from_days(std::int32_t days_since_epoch) {
  const std::int64_t z = std::int64_t{days_since_epoch} + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<std::uint32_t>(z - era * 146097);              // [0, 146096]
  const std::uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const std::uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);          // [0, 365]
  const std::uint32_t mp = (5 * doy + 2) / 153;                               // [0, 11]
  const std::uint32_t d = doy - (153 * mp + 2) / 5 + 1;                       // [1, 31]
  const std::uint32_t m = mp < 10 ? mp + 3 : mp - 9;                          // [1, 12]
  const std::int64_t y = std::int64_t{yoe} + era * 400 + (m <= 2 ? 1 : 0);
  return Civil{static_cast<int>(y), m, d};
}

static_assert(civil_from_days(0).year == 1970 && civil_from_days(0).month == 1 && civil_from_days(0).day == 1);
static_assert(civil_from_days(-1).year == 1969 && civil_from_days(-1).month == 12 && civil_from_days(-1).day == 31);
static_assert(civil_from_days(19782).year == 2024 && civil_from_days(19782).month == 2 &&
              civil_from_days(19782).day == 29);

// Value of one ASCII decimal digit, or 10 or more for anything else.
constexpr unsigned digit_value(char c) { return static_cast<unsigned>(static_cast<unsigned char>(c)) - unsigned{'0'}; }

// Writes `value` (< 10^width) as exactly `width` decimal digits at `out`.
constexpr void write_digits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// A year as at least four digits, with a leading '-' before year 0.
void append_year(std::string& out, int year) {
  if (year >= 0 && year <= 9999) {
    char buffer[4];
    write_digits(buffer, static_cast<unsigned>(year), 4);
    out.append(buffer, 4);
    return;
  }
  std::int64_t magnitude = year;
  if (magnitude < 0) {
    out.push_back('-');
    magnitude = -magnitude;
  }
  std::string digits = std::to_string(magnitude);
  if (digits.size() < 4) out.append(4 - digits.size(), '0');
  out += digits;
}

void append_two_digits(std::string& out, unsigned value) {
  char buffer[2];
  write_digits(buffer, value, 2);
  out.append(buffer, 2);
}

// "YYYY-MM-DD" for any year.
std::string format_ymd(int year, unsigned month, unsigned day) {
  if (year >= 0 && year <= 9999) {
    std::string out(10, '-');  // fits the small-string buffer: no allocation
    write_digits(out.data(), static_cast<unsigned>(year), 4);
    write_digits(out.data() + 5, month, 2);
    write_digits(out.data() + 8, day, 2);
    return out;
  }
  std::string out;
  append_year(out, year);
  out.push_back('-');
  append_two_digits(out, month);
  out.push_back('-');
  append_two_digits(out, day);
  return out;
}

// Text as it appears in an error message: quoted, cut short if long, with
// control and non-ASCII bytes escaped so the message stays one readable line.
std::string quoted(std::string_view text) {
  constexpr std::size_t max_shown = 40;
  std::string out = "\"";
  const std::size_t shown = text.size() < max_shown ? text.size() : max_shown;
  for (std::size_t i = 0; i < shown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '"' || byte == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(byte));
    } else if (byte >= 0x20 && byte < 0x7f) {
      out.push_back(static_cast<char>(byte));
    } else {
      constexpr std::string_view hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[static_cast<std::size_t>(byte >> 4U)]);
      out.push_back(hex[static_cast<std::size_t>(byte & 0xfU)]);
    }
  }
  out.push_back('"');
  if (shown < text.size()) out += "... (" + std::to_string(text.size()) + " characters)";
  return out;
}

[[noreturn]] void throw_date_error(std::string_view text, const std::string& problem) {
  throw parse_error("invalid date " + quoted(text) + ": " + problem + "; expected YYYY-MM-DD, e.g. 2026-11-23");
}

[[noreturn]] void throw_period_error(std::string_view text, const std::string& problem) {
  throw parse_error("invalid period " + quoted(text) + ": " + problem + "; expected YYYY-MM, e.g. 2026-11");
}

// Parses exactly four digits at text[at]; false if any is not a digit.
constexpr bool parse_four_digits(std::string_view text, std::size_t at, unsigned& value) {
  const unsigned d0 = digit_value(text[at]);
  const unsigned d1 = digit_value(text[at + 1]);
  const unsigned d2 = digit_value(text[at + 2]);
  const unsigned d3 = digit_value(text[at + 3]);
  if (d0 > 9 || d1 > 9 || d2 > 9 || d3 > 9) return false;  // a non-digit maps above 9
  value = ((d0 * 10 + d1) * 10 + d2) * 10 + d3;
  return true;
}

constexpr bool parse_two_digits(std::string_view text, std::size_t at, unsigned& value) {
  const unsigned d0 = digit_value(text[at]);
  const unsigned d1 = digit_value(text[at + 1]);
  if (d0 > 9 || d1 > 9) return false;
  value = d0 * 10 + d1;
  return true;
}

// The "YYYY-MM" head shared by dates and periods; `fail` reports a problem.
template <typename Fail>
void parse_year_month(std::string_view text, unsigned& year, unsigned& month, Fail fail) {
  if (!parse_four_digits(text, 0, year)) fail("the year must be four digits");
  if (text[4] != '-') fail("the year must be followed by '-'");
  if (!parse_two_digits(text, 5, month)) fail("the month must be two digits");
  if (year == 0) fail("year 0000 is outside 0001..9999");
  if (month < 1 || month > 12) fail("month " + std::string(text.substr(5, 2)) + " is outside 01..12");
}

std::string period_text(int year, unsigned month) {
  std::string out;
  out.reserve(8);
  append_year(out, year);
  out.push_back('-');
  append_two_digits(out, month);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- Date

Date::Date(date::year_month_day ymd) {
  if (!ymd.ok()) {
    throw invalid_argument("not a calendar date: year " + std::to_string(static_cast<int>(ymd.year())) + ", month " +
                           std::to_string(static_cast<unsigned>(ymd.month())) + ", day " +
                           std::to_string(static_cast<unsigned>(ymd.day())));
  }
  days_ = static_cast<std::int32_t>(date::sys_days(ymd).time_since_epoch().count());
}

Date Date::from_ymd(int year, unsigned month, unsigned day) {
  // Range-check before building the date types: date::month and date::day hold
  // a byte, so month 257 would silently become 1.
  if (year < static_cast<int>(date::year::min()) || year > static_cast<int>(date::year::max()) || month < 1 ||
      month > 12 || day < 1 || day > days_in_month(year, month)) {
    throw invalid_argument("not a calendar date: year " + std::to_string(year) + ", month " + std::to_string(month) +
                           ", day " + std::to_string(day));
  }
  return Date(date::sys_days(date::year_month_day{date::year{year}, date::month{month}, date::day{day}}));
}

Date Date::parse(std::string_view text) {
  if (text.size() != 10) {
    throw_date_error(text, "it has " + std::to_string(text.size()) + " characters, not 10");
  }
  unsigned year = 0;
  unsigned month = 0;
  unsigned day = 0;
  parse_year_month(text, year, month, [text](const std::string& problem) { throw_date_error(text, problem); });
  if (text[7] != '-') throw_date_error(text, "the month must be followed by '-'");
  if (!parse_two_digits(text, 8, day)) throw_date_error(text, "the day must be two digits");
  const int y = static_cast<int>(year);
  if (day < 1 || day > days_in_month(y, month)) {
    throw_date_error(text, period_text(y, month) + " has no day " + std::string(text.substr(8, 2)));
  }
  return Date(date::sys_days(date::year_month_day{date::year{y}, date::month{month}, date::day{day}}));
}

int Date::year() const { return civil_from_days(days_).year; }
unsigned Date::month() const { return civil_from_days(days_).month; }
unsigned Date::day() const { return civil_from_days(days_).day; }

std::string Date::to_string() const {
  const Civil c = civil_from_days(days_);
  return format_ymd(c.year, c.month, c.day);
}

// ---------------------------------------------------------------- Period

Period::Period(int year, unsigned month) {
  if (month < 1 || month > 12) {
    throw invalid_argument("period month " + std::to_string(month) + " is outside 1..12");
  }
  if (year < min_period_year || year > max_period_year) {
    throw invalid_argument("period year " + std::to_string(year) + " is outside 1..9999");
  }
  index_ = year * 12 + static_cast<std::int32_t>(month - 1);
}

Period Period::of(const Date& day) {
  const Civil c = civil_from_days(day.days_since_epoch());
  if (c.year < min_period_year || c.year > max_period_year) [[unlikely]] {
    throw invalid_argument("date " + day.to_string() + " has no period: period years are 1..9999");
  }
  return from_index(c.year * 12 + static_cast<std::int32_t>(c.month - 1));
}

Period Period::parse(std::string_view text) {
  if (text.size() != 7) {
    throw_period_error(text, "it has " + std::to_string(text.size()) + " characters, not 7");
  }
  unsigned year = 0;
  unsigned month = 0;
  parse_year_month(text, year, month, [text](const std::string& problem) { throw_period_error(text, problem); });
  return from_index(static_cast<std::int32_t>(year * 12 + (month - 1)));
}

// Floor division, so that even a negative index from from_index() names a
// proper month 1..12.
int Period::year() const {
  const std::int32_t q = index_ / 12;
  return index_ % 12 < 0 ? q - 1 : q;
}

unsigned Period::month() const {
  const std::int32_t r = index_ % 12;
  return static_cast<unsigned>(r < 0 ? r + 12 : r) + 1;
}

Date Period::first_day() const { return Date::from_ymd(year(), month(), 1); }

Date Period::last_day() const {
  const int y = year();
  const unsigned m = month();
  return Date::from_ymd(y, m, days_in_month(y, m));
}

std::string Period::to_string() const { return period_text(year(), month()); }

std::vector<Period> period_range(Period first, Period last) {
  std::vector<Period> out;
  if (last < first) return out;
  out.reserve(static_cast<std::size_t>(std::int64_t{last.index()} - first.index() + 1));
  for (std::int64_t i = first.index(); i <= last.index(); ++i) out.push_back(Period::from_index(static_cast<std::int32_t>(i)));
  return out;
}

// ---------------------------------------------------------------- FiscalCalendar

FiscalCalendar::FiscalCalendar(unsigned start_month) : start_month_(start_month) {
  if (start_month < 1 || start_month > 12) {
    throw invalid_argument("fiscal year start month " + std::to_string(start_month) + " is outside 1..12");
  }
}

// A fiscal year ends in the month before start_month; months after that end
// month belong to the fiscal year named by the next calendar year.
int FiscalCalendar::fiscal_year(Period period) const {
  return start_month_ != 1 && period.month() >= start_month_ ? period.year() + 1 : period.year();
}

unsigned FiscalCalendar::fiscal_month(Period period) const { return (period.month() + 12 - start_month_) % 12 + 1; }

unsigned FiscalCalendar::fiscal_quarter(Period period) const { return (fiscal_month(period) - 1) / 3 + 1; }

Period FiscalCalendar::first_period(int fiscal_year) const {
  return start_month_ == 1 ? Period(fiscal_year, 1) : Period(fiscal_year - 1, start_month_);
}

std::vector<Period> FiscalCalendar::periods(int fiscal_year) const {
  const Period first = first_period(fiscal_year);
  return period_range(first, first.plus_months(11));
}

std::vector<Period> FiscalCalendar::quarter_periods(int fiscal_year, unsigned quarter) const {
  if (quarter < 1 || quarter > 4) {
    throw invalid_argument("fiscal quarter " + std::to_string(quarter) + " is outside 1..4");
  }
  const Period first = first_period(fiscal_year).plus_months(static_cast<std::int32_t>(3 * (quarter - 1)));
  return period_range(first, first.plus_months(2));
}

std::string FiscalCalendar::quarter_label(Period period) const {
  std::string out = "FY";
  append_year(out, fiscal_year(period));
  out += "-Q";
  out.push_back(static_cast<char>('0' + fiscal_quarter(period)));
  return out;
}

// ---------------------------------------------------------------- PeriodState

std::string_view to_string(PeriodState state) {
  switch (state) {
    case PeriodState::open: return "open";
    case PeriodState::locked: return "locked";
    case PeriodState::closed: return "closed";
  }
  throw invalid_argument("not a period state: " + std::to_string(static_cast<unsigned>(state)));
}

PeriodState parse_period_state(std::string_view name) {
  if (name == "open") return PeriodState::open;
  if (name == "locked") return PeriodState::locked;
  if (name == "closed") return PeriodState::closed;
  throw invalid_argument("unknown period state " + quoted(name) + "; expected one of: open, locked, closed");
}

// ---------------------------------------------------------------- PeriodTable
//
// Only periods that are not open are stored, so a book that never locked
// anything keeps an empty map and check_postable returns at once.

PeriodState PeriodTable::state(Period period) const {
  const auto it = states_.find(period);
  return it == states_.end() ? PeriodState::open : it->second;
}

void PeriodTable::lock(Period period) { set(period, PeriodState::locked); }
void PeriodTable::unlock(Period period) { set(period, PeriodState::open); }
void PeriodTable::close(Period period) { set(period, PeriodState::closed); }

void PeriodTable::set(Period period, PeriodState new_state) {
  const std::string_view target = to_string(new_state);  // rejects values outside the enum
  const PeriodState current = state(period);
  if (current == new_state) return;
  if (current == PeriodState::closed) {
    throw invalid_period_transition("period " + period.to_string() +
                                    " is closed; a closed period cannot be reopened or locked (requested: " +
                                    std::string(target) + ")");
  }
  // Every other move among open, locked and closed is allowed.
  if (new_state == PeriodState::open) {
    states_.erase(period);
  } else {
    states_[period] = new_state;
  }
}

void PeriodTable::check_postable(const Date& day, bool allow_locked) const {
  if (states_.empty()) return;
  const auto it = states_.find(Period::of(day));
  if (it == states_.end()) return;
  if (it->second == PeriodState::closed) {
    throw period_closed("period " + it->first.to_string() +
                        " is closed; post the correction in an open period as an out-of-period adjustment");
  }
  if (it->second == PeriodState::locked && !allow_locked) {
    throw period_locked("period " + it->first.to_string() + " is locked; posting into it needs an explicit override");
  }
}

}  // namespace amends
