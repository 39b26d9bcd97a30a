// Accounting dates, monthly periods, fiscal calendars and period states, on
// Howard Hinnant's date library.
#pragma once

#include <date/date.h>

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "amends/errors.hpp"

namespace amends {

// A calendar day, held as days since 1970-01-01 (date::sys_days).
class Date {
 public:
  Date() = default;
  explicit Date(date::sys_days days) : days_(static_cast<std::int32_t>(days.time_since_epoch().count())) {}
  explicit Date(date::year_month_day ymd);  // throws invalid_argument if !ymd.ok()
  static Date from_ymd(int year, unsigned month, unsigned day);
  static Date from_days(std::int32_t days_since_epoch) { Date d; d.days_ = days_since_epoch; return d; }
  // Strict ISO 8601 "YYYY-MM-DD"; parse_error names what is wrong.
  static Date parse(std::string_view text);

  std::int32_t days_since_epoch() const { return days_; }
  date::sys_days sys_days() const { return date::sys_days(date::days(days_)); }
  date::year_month_day ymd() const { return date::year_month_day(sys_days()); }
  int year() const;
  unsigned month() const;
  unsigned day() const;
  std::string to_string() const;  // "2026-11-23"

  Date plus_days(std::int32_t days) const { return from_days(days_ + days); }
  friend std::int32_t operator-(const Date& a, const Date& b) { return a.days_ - b.days_; }
  friend bool operator==(const Date&, const Date&) = default;
  friend auto operator<=>(const Date&, const Date&) = default;

 private:
  std::int32_t days_ = 0;
};

// A calendar month, the unit of posting periods: "2026-11".
class Period {
 public:
  Period() = default;
  Period(int year, unsigned month);  // throws invalid_argument for month outside 1..12 or year outside 1..9999
  static Period of(const Date& day);
  static Period parse(std::string_view text);  // "YYYY-MM"
  static Period from_index(std::int32_t months_since_year_0) { Period p; p.index_ = months_since_year_0; return p; }

  int year() const;
  unsigned month() const;
  Date first_day() const;
  Date last_day() const;
  bool contains(const Date& day) const { return Period::of(day) == *this; }
  std::string to_string() const;

  // Months since year 0, so periods subtract and compare as integers.
  std::int32_t index() const { return index_; }
  Period plus_months(std::int32_t months) const { return from_index(index_ + months); }
  Period next() const { return plus_months(1); }
  Period previous() const { return plus_months(-1); }
  friend std::int32_t operator-(const Period& a, const Period& b) { return a.index_ - b.index_; }
  friend bool operator==(const Period&, const Period&) = default;
  friend auto operator<=>(const Period&, const Period&) = default;

 private:
  std::int32_t index_ = 0;
};

// Inclusive list of consecutive periods first..last (empty if last < first).
std::vector<Period> period_range(Period first, Period last);

// A fiscal calendar: fiscal years of twelve monthly periods starting in
// `start_month`. A fiscal year is named by the calendar year in which it ends
// (start_month 4: FY2027 runs 2026-04 .. 2027-03); with start_month 1 the
// fiscal year equals the calendar year.
class FiscalCalendar {
 public:
  explicit FiscalCalendar(unsigned start_month = 1);  // 1..12
  unsigned start_month() const { return start_month_; }

  int fiscal_year(Period period) const;
  int fiscal_year(const Date& day) const { return fiscal_year(Period::of(day)); }
  unsigned fiscal_quarter(Period period) const;        // 1..4
  unsigned fiscal_month(Period period) const;          // 1..12, position in its fiscal year
  Period first_period(int fiscal_year) const;
  Period last_period(int fiscal_year) const { return first_period(fiscal_year).plus_months(11); }
  std::vector<Period> periods(int fiscal_year) const;
  std::vector<Period> quarter_periods(int fiscal_year, unsigned quarter) const;
  std::string quarter_label(Period period) const;      // "FY2027-Q1"

 private:
  unsigned start_month_;
};

enum class PeriodState : std::uint8_t { open, locked, closed };
std::string_view to_string(PeriodState state);
PeriodState parse_period_state(std::string_view name);

// States of the periods of one book. Every period is open until it is locked
// or closed. Allowed moves: open -> locked -> closed, locked -> open (unlock),
// open -> closed; a closed period never changes again.
class PeriodTable {
 public:
  PeriodState state(Period period) const;
  void lock(Period period);
  void unlock(Period period);
  void close(Period period);
  void set(Period period, PeriodState state);  // checked as above
  // Throws period_closed or period_locked (unless allow_locked) for a posting dated `day`.
  void check_postable(const Date& day, bool allow_locked) const;
  // Only the periods that are not open (an unlocked period leaves the map).
  const std::map<Period, PeriodState>& states() const { return states_; }

 private:
  std::map<Period, PeriodState> states_;
};

}  // namespace amends
