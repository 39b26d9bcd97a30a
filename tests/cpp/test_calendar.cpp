// Dates, monthly periods, fiscal calendars and period states.
#include "amends/calendar.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace amends {
namespace {

using date::day;
using date::month;
using date::year;
using date::year_month_day;

// Runs `action`, expects it to throw E, and returns the message.
template <typename E, typename F>
std::string message_of(F action) {
  try {
    action();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::vector<std::string> texts(const std::vector<Period>& periods) {
  std::vector<std::string> out;
  for (const Period& p : periods) out.push_back(p.to_string());
  return out;
}

// ---------------------------------------------------------------- Date

TEST(Date, default_is_the_unix_epoch) {
  EXPECT_EQ(Date().days_since_epoch(), 0);
  EXPECT_EQ(Date().to_string(), "1970-01-01");
}

TEST(Date, parses_an_ordinary_iso_date) {
  const Date d = Date::parse("2026-11-23");
  EXPECT_EQ(d.year(), 2026);
  EXPECT_EQ(d.month(), 11U);
  EXPECT_EQ(d.day(), 23U);
  EXPECT_EQ(d.ymd(), year_month_day(year{2026}, month{11}, day{23}));
  EXPECT_EQ(d.sys_days(), date::sys_days(year{2026} / 11 / 23));
}

TEST(Date, parses_the_epoch_and_days_on_either_side) {
  EXPECT_EQ(Date::parse("1970-01-01").days_since_epoch(), 0);
  EXPECT_EQ(Date::parse("1970-01-02").days_since_epoch(), 1);
  EXPECT_EQ(Date::parse("1969-12-31").days_since_epoch(), -1);
}

TEST(Date, accepts_february_29_in_leap_years) {
  EXPECT_EQ(Date::parse("2024-02-29").to_string(), "2024-02-29");
  EXPECT_EQ(Date::parse("2000-02-29").to_string(), "2000-02-29");  // divisible by 400
  EXPECT_EQ(Date::parse("2024-02-29").plus_days(1).to_string(), "2024-03-01");
}

TEST(Date, rejects_february_29_outside_leap_years) {
  const std::string message = message_of<parse_error>([] { Date::parse("2025-02-29"); });
  EXPECT_TRUE(contains(message, "\"2025-02-29\"")) << message;
  EXPECT_TRUE(contains(message, "2025-02 has no day 29")) << message;
  EXPECT_TRUE(contains(message, "YYYY-MM-DD")) << message;
  EXPECT_THROW(Date::parse("1900-02-29"), parse_error);  // divisible by 100, not by 400
  EXPECT_THROW(Date::parse("2100-02-29"), parse_error);
}

TEST(Date, accepts_the_last_day_of_every_month_and_rejects_the_day_after) {
  const char* last_days[] = {"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
                             "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30", "2026-12-31"};
  const char* day_after[] = {"2026-01-32", "2026-02-29", "2026-03-32", "2026-04-31", "2026-05-32", "2026-06-31",
                             "2026-07-32", "2026-08-32", "2026-09-31", "2026-10-32", "2026-11-31", "2026-12-32"};
  for (const char* text : last_days) EXPECT_EQ(Date::parse(text).to_string(), text);
  for (const char* text : day_after) EXPECT_THROW(Date::parse(text), parse_error) << text;
}

TEST(Date, accepts_the_first_and_last_four_digit_years) {
  EXPECT_EQ(Date::parse("0001-01-01").to_string(), "0001-01-01");
  EXPECT_EQ(Date::parse("9999-12-31").to_string(), "9999-12-31");
}

TEST(Date, rejects_year_zero_because_periods_start_at_year_one) {
  const std::string message = message_of<parse_error>([] { Date::parse("0000-06-15"); });
  EXPECT_TRUE(contains(message, "year 0000")) << message;
}

TEST(Date, rejects_a_single_digit_month_and_says_the_expected_format) {
  const std::string message = message_of<parse_error>([] { Date::parse("2026-1-05"); });
  EXPECT_TRUE(contains(message, "\"2026-1-05\"")) << message;
  EXPECT_TRUE(contains(message, "expected YYYY-MM-DD")) << message;
}

TEST(Date, rejects_trailing_characters) {
  const std::string message = message_of<parse_error>([] { Date::parse("2026-11-23x"); });
  EXPECT_TRUE(contains(message, "\"2026-11-23x\"")) << message;
  EXPECT_TRUE(contains(message, "11 characters, not 10")) << message;
  EXPECT_THROW(Date::parse("2026-11-23 "), parse_error);
  EXPECT_THROW(Date::parse("2026-11-23T00:00"), parse_error);
}

TEST(Date, rejects_every_malformed_shape) {
  const char* rejected[] = {
      "",           "2026",        "2026-11",     " 2026-11-23", "2026-11-2",  "2026/11/23", "2026-11/23",
      "2026_11-23", "20261123",    "+026-11-23",  "-026-11-23",  "2026-+1-23", "2026--1-23", "2026-11--3",
      "2026-11-+3", "2O26-11-23",  "2026-1l-23",  "2026-11-2a",  "a026-11-23", "26-11-2023", "23-11-2026",
      "2026-00-10", "2026-13-01",  "2026-99-01",  "2026-11-00",  "2026-11-99", "２026-11-23", "\xff\xfe""26-11-23",
  };
  for (const char* text : rejected) EXPECT_THROW(Date::parse(text), parse_error) << '"' << text << '"';
}

TEST(Date, rejects_an_embedded_nul) {
  using namespace std::string_view_literals;
  EXPECT_THROW(Date::parse("2026-11-2\0"sv), parse_error);
  EXPECT_THROW(Date::parse("2026\0""11-23"sv), parse_error);
}

TEST(Date, error_names_the_month_or_day_that_is_out_of_range) {
  EXPECT_TRUE(contains(message_of<parse_error>([] { Date::parse("2026-13-01"); }), "month 13 is outside 01..12"));
  EXPECT_TRUE(contains(message_of<parse_error>([] { Date::parse("2026-00-01"); }), "month 00 is outside 01..12"));
  EXPECT_TRUE(contains(message_of<parse_error>([] { Date::parse("2026-04-31"); }), "2026-04 has no day 31"));
  EXPECT_TRUE(contains(message_of<parse_error>([] { Date::parse("2026-04-00"); }), "2026-04 has no day 00"));
}

TEST(Date, error_escapes_and_shortens_the_quoted_text) {
  const std::string control = message_of<parse_error>([] { Date::parse("2026-11-2\n"); });
  EXPECT_TRUE(contains(control, "\"2026-11-2\\x0a\"")) << control;
  const std::string long_text(5000, '7');
  const std::string shortened = message_of<parse_error>([&] { Date::parse(long_text); });
  EXPECT_LT(shortened.size(), 200U) << shortened;
  EXPECT_TRUE(contains(shortened, "(5000 characters)")) << shortened;
}

TEST(Date, round_trips_every_day_from_year_1_to_9999_through_text) {
  const Date first = Date::parse("0001-01-01");
  const Date last = Date::parse("9999-12-31");
  EXPECT_EQ(last - first, 3652058);
  for (std::int32_t n = first.days_since_epoch(); n <= last.days_since_epoch(); n += 1) {
    const Date d = Date::from_days(n);
    const std::string text = d.to_string();
    ASSERT_EQ(Date::parse(text), d) << text;
  }
}

TEST(Date, fields_agree_with_the_date_library_across_its_whole_range) {
  const auto lo = date::sys_days(date::year::min() / 1 / 1).time_since_epoch().count();
  const auto hi = date::sys_days(date::year::max() / 12 / 31).time_since_epoch().count();
  for (std::int32_t n = lo; n <= hi; n += 97) {
    const Date d = Date::from_days(n);
    const year_month_day ymd = d.ymd();
    ASSERT_EQ(d.year(), static_cast<int>(ymd.year())) << n;
    ASSERT_EQ(d.month(), static_cast<unsigned>(ymd.month())) << n;
    ASSERT_EQ(d.day(), static_cast<unsigned>(ymd.day())) << n;
  }
}

TEST(Date, formats_years_outside_four_digits_without_truncating) {
  EXPECT_EQ(Date::from_ymd(10000, 1, 1).to_string(), "10000-01-01");
  EXPECT_EQ(Date::from_ymd(0, 3, 1).to_string(), "0000-03-01");
  EXPECT_EQ(Date::from_ymd(-1, 12, 31).to_string(), "-0001-12-31");
  EXPECT_EQ(Date::from_ymd(-1, 12, 31).plus_days(1), Date::from_ymd(0, 1, 1));
}

TEST(Date, extreme_day_counts_still_have_fields) {
  const Date far = Date::from_days(INT32_MAX);
  EXPECT_EQ(far.to_string(), "5881580-07-11");
  EXPECT_EQ(Date::from_days(INT32_MIN).to_string(), "-5877641-06-23");
}

TEST(Date, from_ymd_builds_valid_dates_and_refuses_invalid_ones) {
  EXPECT_EQ(Date::from_ymd(2026, 11, 23), Date::parse("2026-11-23"));
  EXPECT_EQ(Date::from_ymd(2024, 2, 29), Date::parse("2024-02-29"));
  EXPECT_THROW(Date::from_ymd(2025, 2, 29), invalid_argument);
  EXPECT_THROW(Date::from_ymd(2026, 0, 1), invalid_argument);
  EXPECT_THROW(Date::from_ymd(2026, 13, 1), invalid_argument);
  EXPECT_THROW(Date::from_ymd(2026, 1, 0), invalid_argument);
  // date::month and date::day hold one byte; 257 must not wrap to 1.
  EXPECT_THROW(Date::from_ymd(2026, 257, 1), invalid_argument);
  EXPECT_THROW(Date::from_ymd(2026, 1, 257), invalid_argument);
  EXPECT_THROW(Date::from_ymd(40000, 1, 1), invalid_argument);
  EXPECT_THROW(Date::from_ymd(-40000, 1, 1), invalid_argument);
}

TEST(Date, constructor_from_year_month_day_refuses_what_is_not_ok) {
  EXPECT_EQ(Date(year_month_day(year{2026}, month{11}, day{23})), Date::parse("2026-11-23"));
  EXPECT_EQ(Date(year_month_day(year{2024} / date::February / date::last)), Date::parse("2024-02-29"));
  const std::string message =
      message_of<invalid_argument>([] { Date(year_month_day(year{2025}, month{2}, day{29})); });
  EXPECT_TRUE(contains(message, "year 2025, month 2, day 29")) << message;
  EXPECT_THROW(Date(year_month_day(year{2026}, month{13}, day{1})), invalid_argument);
  EXPECT_THROW(Date(year_month_day(year{2026}, month{4}, day{31})), invalid_argument);
}

TEST(Date, constructs_from_sys_days) {
  EXPECT_EQ(Date(date::sys_days(year{2026} / 11 / 23)), Date::parse("2026-11-23"));
}

TEST(Date, day_arithmetic_crosses_month_and_year_boundaries) {
  const Date new_years_eve = Date::parse("2025-12-31");
  EXPECT_EQ(new_years_eve.plus_days(1).to_string(), "2026-01-01");
  EXPECT_EQ(new_years_eve.plus_days(-365).to_string(), "2024-12-31");
  EXPECT_EQ(Date::parse("2026-03-01").plus_days(-1).to_string(), "2026-02-28");
  EXPECT_EQ(Date::parse("2027-01-01") - Date::parse("2026-01-01"), 365);
  EXPECT_EQ(Date::parse("2025-01-01") - Date::parse("2024-01-01"), 366);
  EXPECT_EQ(Date::parse("2026-01-01") - Date::parse("2026-12-31"), -364);
}

TEST(Date, compares_chronologically) {
  EXPECT_LT(Date::parse("2025-12-31"), Date::parse("2026-01-01"));
  EXPECT_GT(Date::parse("2026-11-24"), Date::parse("2026-11-23"));
  EXPECT_EQ(Date::parse("2026-11-23"), Date::from_ymd(2026, 11, 23));
  EXPECT_NE(Date::parse("2026-11-23"), Date::parse("2026-11-22"));
  EXPECT_LT(Date::parse("1969-12-31"), Date());
}

// ---------------------------------------------------------------- Period

TEST(Period, index_counts_months_since_year_zero) {
  EXPECT_EQ(Period(2026, 11).index(), 2026 * 12 + 10);
  EXPECT_EQ(Period(1, 1).index(), 12);
  EXPECT_EQ(Period(9999, 12).index(), 9999 * 12 + 11);
  EXPECT_EQ(Period::from_index(2026 * 12 + 10), Period(2026, 11));
}

TEST(Period, exposes_year_and_month) {
  const Period p(2026, 11);
  EXPECT_EQ(p.year(), 2026);
  EXPECT_EQ(p.month(), 11U);
  EXPECT_EQ(p.to_string(), "2026-11");
  EXPECT_EQ(Period(7, 3).to_string(), "0007-03");
}

TEST(Period, refuses_months_outside_one_to_twelve) {
  EXPECT_THROW(Period(2026, 0), invalid_argument);
  EXPECT_THROW(Period(2026, 13), invalid_argument);
  const std::string message = message_of<invalid_argument>([] { Period(2026, 13); });
  EXPECT_TRUE(contains(message, "13")) << message;
}

TEST(Period, refuses_years_outside_one_to_9999) {
  EXPECT_NO_THROW(Period(1, 1));
  EXPECT_NO_THROW(Period(9999, 12));
  EXPECT_THROW(Period(0, 12), invalid_argument);
  EXPECT_THROW(Period(10000, 1), invalid_argument);
  EXPECT_THROW(Period(-5, 6), invalid_argument);
}

TEST(Period, of_a_date_is_the_month_containing_it) {
  EXPECT_EQ(Period::of(Date::parse("2026-11-23")), Period(2026, 11));
  EXPECT_EQ(Period::of(Date::parse("2026-11-01")), Period(2026, 11));
  EXPECT_EQ(Period::of(Date::parse("2026-11-30")), Period(2026, 11));
  EXPECT_EQ(Period::of(Date::parse("2026-12-01")), Period(2026, 12));
  EXPECT_EQ(Period::of(Date::parse("2024-02-29")), Period(2024, 2));
  EXPECT_EQ(Period::of(Date::parse("0001-01-01")), Period(1, 1));
  EXPECT_EQ(Period::of(Date::parse("9999-12-31")), Period(9999, 12));
  EXPECT_EQ(Period::of(Date::parse("1969-12-31")), Period(1969, 12));
}

TEST(Period, of_agrees_with_the_date_fields_for_every_day) {
  for (std::int32_t n = Date::parse("0001-01-01").days_since_epoch(); n <= Date::parse("9999-12-31").days_since_epoch();
       n += 1) {
    const Date d = Date::from_days(n);
    const Period p = Period::of(d);
    ASSERT_EQ(p.year(), d.year()) << n;
    ASSERT_EQ(p.month(), d.month()) << n;
  }
}

TEST(Period, of_a_date_outside_years_one_to_9999_throws) {
  EXPECT_THROW(Period::of(Date::from_ymd(0, 12, 31)), invalid_argument);
  EXPECT_THROW(Period::of(Date::from_ymd(10000, 1, 1)), invalid_argument);
}

TEST(Period, first_and_last_day_bound_the_month) {
  EXPECT_EQ(Period(2026, 11).first_day().to_string(), "2026-11-01");
  EXPECT_EQ(Period(2026, 11).last_day().to_string(), "2026-11-30");
  EXPECT_EQ(Period(2026, 12).last_day().to_string(), "2026-12-31");
  EXPECT_EQ(Period(2024, 2).last_day().to_string(), "2024-02-29");
  EXPECT_EQ(Period(2025, 2).last_day().to_string(), "2025-02-28");
  EXPECT_EQ(Period(1900, 2).last_day().to_string(), "1900-02-28");
  EXPECT_EQ(Period(2000, 2).last_day().to_string(), "2000-02-29");
  EXPECT_EQ(Period(2026, 11).last_day().plus_days(1), Period(2026, 12).first_day());
  EXPECT_EQ(Period(9999, 12).last_day().to_string(), "9999-12-31");
}

TEST(Period, contains_exactly_its_own_days) {
  const Period p(2026, 11);
  EXPECT_TRUE(p.contains(Date::parse("2026-11-01")));
  EXPECT_TRUE(p.contains(Date::parse("2026-11-30")));
  EXPECT_FALSE(p.contains(Date::parse("2026-10-31")));
  EXPECT_FALSE(p.contains(Date::parse("2026-12-01")));
  EXPECT_FALSE(p.contains(Date::parse("2025-11-15")));
}

TEST(Period, parses_year_and_month) {
  EXPECT_EQ(Period::parse("2026-11"), Period(2026, 11));
  EXPECT_EQ(Period::parse("0001-01"), Period(1, 1));
  EXPECT_EQ(Period::parse("9999-12"), Period(9999, 12));
}

TEST(Period, parse_is_strict) {
  const char* rejected[] = {"",        "2026",    "2026-1",   "2026-011", "2026-11-23", "2026/11", "202611",
                            "2026-00", "2026-13", "0000-05",  " 2026-11", "2026-11 ",   "2026--1", "2026-+1",
                            "2O26-11", "2026-1a", "-026-11"};
  for (const char* text : rejected) EXPECT_THROW(Period::parse(text), parse_error) << '"' << text << '"';
  const std::string message = message_of<parse_error>([] { Period::parse("2026-13"); });
  EXPECT_TRUE(contains(message, "\"2026-13\"")) << message;
  EXPECT_TRUE(contains(message, "month 13 is outside 01..12")) << message;
  EXPECT_TRUE(contains(message, "expected YYYY-MM")) << message;
}

TEST(Period, round_trips_every_period_through_text) {
  for (int y = 1; y <= 9999; ++y) {
    for (unsigned m = 1; m <= 12; ++m) {
      const Period p(y, m);
      ASSERT_EQ(Period::parse(p.to_string()), p);
      ASSERT_EQ(Period::of(p.first_day()), p);
      ASSERT_EQ(Period::of(p.last_day()), p);
    }
  }
}

TEST(Period, month_arithmetic_crosses_year_boundaries) {
  EXPECT_EQ(Period(2025, 12).next(), Period(2026, 1));
  EXPECT_EQ(Period(2026, 1).previous(), Period(2025, 12));
  EXPECT_EQ(Period(2026, 11).plus_months(14), Period(2028, 1));
  EXPECT_EQ(Period(2026, 11).plus_months(-23), Period(2024, 12));
  EXPECT_EQ(Period(2026, 11).plus_months(-11), Period(2025, 12));
  EXPECT_EQ(Period(2026, 11).plus_months(0), Period(2026, 11));
  EXPECT_EQ(Period(2026, 1) - Period(2025, 12), 1);
  EXPECT_EQ(Period(2027, 3) - Period(2026, 4), 11);
  EXPECT_EQ(Period(2024, 2) - Period(2026, 2), -24);
}

TEST(Period, compares_chronologically) {
  EXPECT_LT(Period(2025, 12), Period(2026, 1));
  EXPECT_LT(Period(2026, 1), Period(2026, 2));
  EXPECT_GT(Period(2027, 1), Period(2026, 12));
  EXPECT_EQ(Period::parse("2026-11"), Period::of(Date::parse("2026-11-23")));
}

TEST(Period, a_negative_index_still_names_a_month_in_range) {
  const Period p = Period::from_index(-1);
  EXPECT_EQ(p.year(), -1);
  EXPECT_EQ(p.month(), 12U);
  EXPECT_EQ(p.to_string(), "-0001-12");
  EXPECT_EQ(Period::from_index(0).to_string(), "0000-01");
}

// ---------------------------------------------------------------- period_range

TEST(PeriodRange, is_inclusive_at_both_ends) {
  EXPECT_EQ(texts(period_range(Period(2026, 10), Period(2026, 12))),
            (std::vector<std::string>{"2026-10", "2026-11", "2026-12"}));
}

TEST(PeriodRange, crosses_year_boundaries) {
  EXPECT_EQ(texts(period_range(Period(2025, 11), Period(2026, 2))),
            (std::vector<std::string>{"2025-11", "2025-12", "2026-01", "2026-02"}));
  const std::vector<Period> three_years = period_range(Period(2024, 1), Period(2026, 12));
  ASSERT_EQ(three_years.size(), 36U);
  for (std::size_t i = 1; i < three_years.size(); ++i) EXPECT_EQ(three_years[i], three_years[i - 1].next());
}

TEST(PeriodRange, of_one_period_holds_just_that_period) {
  EXPECT_EQ(period_range(Period(2026, 11), Period(2026, 11)), std::vector<Period>{Period(2026, 11)});
}

TEST(PeriodRange, is_empty_when_last_precedes_first) {
  EXPECT_TRUE(period_range(Period(2026, 11), Period(2026, 10)).empty());
  EXPECT_TRUE(period_range(Period(2027, 1), Period(2026, 12)).empty());
}

// ---------------------------------------------------------------- FiscalCalendar

TEST(FiscalCalendar, start_month_must_be_one_to_twelve) {
  EXPECT_EQ(FiscalCalendar().start_month(), 1U);
  EXPECT_EQ(FiscalCalendar(12).start_month(), 12U);
  EXPECT_THROW(FiscalCalendar(0), invalid_argument);
  EXPECT_THROW(FiscalCalendar(13), invalid_argument);
  const std::string message = message_of<invalid_argument>([] { FiscalCalendar(13); });
  EXPECT_TRUE(contains(message, "13")) << message;
}

TEST(FiscalCalendar, january_start_matches_the_calendar_year) {
  const FiscalCalendar fc(1);
  for (unsigned m = 1; m <= 12; ++m) {
    EXPECT_EQ(fc.fiscal_year(Period(2026, m)), 2026);
    EXPECT_EQ(fc.fiscal_month(Period(2026, m)), m);
    EXPECT_EQ(fc.fiscal_quarter(Period(2026, m)), (m - 1) / 3 + 1);
  }
  EXPECT_EQ(fc.first_period(2026), Period(2026, 1));
  EXPECT_EQ(fc.last_period(2026), Period(2026, 12));
  EXPECT_EQ(fc.quarter_label(Period(2026, 11)), "FY2026-Q4");
  EXPECT_EQ(fc.quarter_label(Period(2026, 1)), "FY2026-Q1");
  EXPECT_EQ(fc.fiscal_year(Date::parse("2026-12-31")), 2026);
}

TEST(FiscalCalendar, april_start_names_the_year_by_its_end) {
  const FiscalCalendar fc(4);
  EXPECT_EQ(fc.fiscal_year(Period(2026, 4)), 2027);
  EXPECT_EQ(fc.fiscal_year(Period(2026, 12)), 2027);
  EXPECT_EQ(fc.fiscal_year(Period(2027, 1)), 2027);
  EXPECT_EQ(fc.fiscal_year(Period(2027, 3)), 2027);
  EXPECT_EQ(fc.fiscal_year(Period(2026, 3)), 2026);
  EXPECT_EQ(fc.fiscal_year(Period(2027, 4)), 2028);
  EXPECT_EQ(fc.fiscal_year(Date::parse("2026-03-31")), 2026);
  EXPECT_EQ(fc.fiscal_year(Date::parse("2026-04-01")), 2027);
  EXPECT_EQ(fc.first_period(2027), Period(2026, 4));
  EXPECT_EQ(fc.last_period(2027), Period(2027, 3));
}

TEST(FiscalCalendar, april_start_months_and_quarters) {
  const FiscalCalendar fc(4);
  EXPECT_EQ(fc.fiscal_month(Period(2026, 4)), 1U);
  EXPECT_EQ(fc.fiscal_month(Period(2026, 12)), 9U);
  EXPECT_EQ(fc.fiscal_month(Period(2027, 1)), 10U);
  EXPECT_EQ(fc.fiscal_month(Period(2027, 3)), 12U);
  EXPECT_EQ(fc.fiscal_quarter(Period(2026, 4)), 1U);
  EXPECT_EQ(fc.fiscal_quarter(Period(2026, 6)), 1U);
  EXPECT_EQ(fc.fiscal_quarter(Period(2026, 7)), 2U);
  EXPECT_EQ(fc.fiscal_quarter(Period(2026, 10)), 3U);
  EXPECT_EQ(fc.fiscal_quarter(Period(2026, 12)), 3U);
  EXPECT_EQ(fc.fiscal_quarter(Period(2027, 1)), 4U);
  EXPECT_EQ(fc.fiscal_quarter(Period(2027, 3)), 4U);
  EXPECT_EQ(fc.quarter_label(Period(2026, 4)), "FY2027-Q1");
  EXPECT_EQ(fc.quarter_label(Period(2026, 11)), "FY2027-Q3");
  EXPECT_EQ(fc.quarter_label(Period(2027, 2)), "FY2027-Q4");
  EXPECT_EQ(fc.quarter_label(Period(2027, 4)), "FY2028-Q1");
}

TEST(FiscalCalendar, april_start_periods_and_quarter_periods) {
  const FiscalCalendar fc(4);
  EXPECT_EQ(texts(fc.periods(2027)),
            (std::vector<std::string>{"2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10",
                                      "2026-11", "2026-12", "2027-01", "2027-02", "2027-03"}));
  EXPECT_EQ(texts(fc.quarter_periods(2027, 1)), (std::vector<std::string>{"2026-04", "2026-05", "2026-06"}));
  EXPECT_EQ(texts(fc.quarter_periods(2027, 3)), (std::vector<std::string>{"2026-10", "2026-11", "2026-12"}));
  EXPECT_EQ(texts(fc.quarter_periods(2027, 4)), (std::vector<std::string>{"2027-01", "2027-02", "2027-03"}));
}

TEST(FiscalCalendar, july_start_names_the_year_by_its_end) {
  const FiscalCalendar fc(7);
  EXPECT_EQ(fc.fiscal_year(Period(2026, 6)), 2026);
  EXPECT_EQ(fc.fiscal_year(Period(2026, 7)), 2027);
  EXPECT_EQ(fc.first_period(2027), Period(2026, 7));
  EXPECT_EQ(fc.last_period(2027), Period(2027, 6));
  EXPECT_EQ(fc.fiscal_month(Period(2026, 7)), 1U);
  EXPECT_EQ(fc.fiscal_month(Period(2027, 6)), 12U);
  EXPECT_EQ(fc.quarter_label(Period(2026, 9)), "FY2027-Q1");
  EXPECT_EQ(fc.quarter_label(Period(2026, 12)), "FY2027-Q2");
  EXPECT_EQ(fc.quarter_label(Period(2027, 1)), "FY2027-Q3");
  EXPECT_EQ(fc.quarter_label(Period(2027, 6)), "FY2027-Q4");
  EXPECT_EQ(texts(fc.quarter_periods(2027, 2)), (std::vector<std::string>{"2026-10", "2026-11", "2026-12"}));
  EXPECT_EQ(texts(fc.quarter_periods(2027, 3)), (std::vector<std::string>{"2027-01", "2027-02", "2027-03"}));
}

TEST(FiscalCalendar, october_start_names_the_year_by_its_end) {
  const FiscalCalendar fc(10);  // the US federal fiscal year
  EXPECT_EQ(fc.fiscal_year(Period(2025, 9)), 2025);
  EXPECT_EQ(fc.fiscal_year(Period(2025, 10)), 2026);
  EXPECT_EQ(fc.fiscal_year(Period(2026, 9)), 2026);
  EXPECT_EQ(fc.first_period(2026), Period(2025, 10));
  EXPECT_EQ(fc.last_period(2026), Period(2026, 9));
  EXPECT_EQ(fc.quarter_label(Period(2025, 12)), "FY2026-Q1");
  EXPECT_EQ(fc.quarter_label(Period(2026, 1)), "FY2026-Q2");
  EXPECT_EQ(fc.quarter_label(Period(2026, 9)), "FY2026-Q4");
  EXPECT_EQ(texts(fc.quarter_periods(2026, 1)), (std::vector<std::string>{"2025-10", "2025-11", "2025-12"}));
}

TEST(FiscalCalendar, december_start_puts_december_in_the_next_year) {
  const FiscalCalendar fc(12);
  EXPECT_EQ(fc.fiscal_year(Period(2026, 11)), 2026);
  EXPECT_EQ(fc.fiscal_year(Period(2026, 12)), 2027);
  EXPECT_EQ(fc.fiscal_month(Period(2026, 12)), 1U);
  EXPECT_EQ(fc.fiscal_month(Period(2027, 1)), 2U);
  EXPECT_EQ(fc.fiscal_month(Period(2027, 11)), 12U);
  EXPECT_EQ(fc.first_period(2027), Period(2026, 12));
  EXPECT_EQ(fc.last_period(2027), Period(2027, 11));
  EXPECT_EQ(fc.quarter_label(Period(2026, 12)), "FY2027-Q1");
  EXPECT_EQ(fc.quarter_label(Period(2027, 2)), "FY2027-Q1");
  EXPECT_EQ(fc.quarter_label(Period(2027, 3)), "FY2027-Q2");
  EXPECT_EQ(fc.quarter_label(Period(2027, 11)), "FY2027-Q4");
  EXPECT_EQ(texts(fc.quarter_periods(2027, 1)), (std::vector<std::string>{"2026-12", "2027-01", "2027-02"}));
  EXPECT_EQ(texts(fc.quarter_periods(2027, 4)), (std::vector<std::string>{"2027-09", "2027-10", "2027-11"}));
}

TEST(FiscalCalendar, every_start_month_tiles_the_timeline_without_gaps) {
  for (unsigned start = 1; start <= 12; ++start) {
    const FiscalCalendar fc(start);
    for (int fy = 2020; fy <= 2030; ++fy) {
      const std::vector<Period> periods = fc.periods(fy);
      ASSERT_EQ(periods.size(), 12U);
      EXPECT_EQ(periods.front(), fc.first_period(fy));
      EXPECT_EQ(periods.back(), fc.last_period(fy));
      EXPECT_EQ(periods.front().month(), start);
      EXPECT_EQ(fc.last_period(fy).next(), fc.first_period(fy + 1));
      EXPECT_EQ(periods.back().year(), fy) << "a fiscal year is named by the calendar year it ends in";
      for (std::size_t i = 0; i < periods.size(); ++i) {
        EXPECT_EQ(fc.fiscal_year(periods[i]), fy);
        EXPECT_EQ(fc.fiscal_month(periods[i]), i + 1);
        EXPECT_EQ(fc.fiscal_quarter(periods[i]), i / 3 + 1);
      }
      std::vector<Period> quarters;
      for (unsigned q = 1; q <= 4; ++q) {
        for (const Period& p : fc.quarter_periods(fy, q)) {
          EXPECT_EQ(fc.fiscal_quarter(p), q);
          quarters.push_back(p);
        }
      }
      EXPECT_EQ(quarters, periods);
    }
  }
}

TEST(FiscalCalendar, quarter_must_be_one_to_four) {
  const FiscalCalendar fc(4);
  EXPECT_THROW(fc.quarter_periods(2027, 0), invalid_argument);
  EXPECT_THROW(fc.quarter_periods(2027, 5), invalid_argument);
  const std::string message = message_of<invalid_argument>([&] { fc.quarter_periods(2027, 5); });
  EXPECT_TRUE(contains(message, "5")) << message;
}

TEST(FiscalCalendar, a_fiscal_year_that_would_start_before_year_one_throws) {
  EXPECT_THROW(FiscalCalendar(4).first_period(1), invalid_argument);
  EXPECT_EQ(FiscalCalendar(1).first_period(1), Period(1, 1));
  EXPECT_EQ(FiscalCalendar(4).first_period(2), Period(1, 4));
}

TEST(FiscalCalendar, labels_pad_small_years_to_four_digits) {
  EXPECT_EQ(FiscalCalendar(1).quarter_label(Period(7, 5)), "FY0007-Q2");
  EXPECT_EQ(FiscalCalendar(4).quarter_label(Period(9999, 12)), "FY10000-Q3");
}

// ---------------------------------------------------------------- PeriodState

TEST(PeriodState, names_round_trip) {
  for (PeriodState s : {PeriodState::open, PeriodState::locked, PeriodState::closed}) {
    EXPECT_EQ(parse_period_state(to_string(s)), s);
  }
  EXPECT_EQ(to_string(PeriodState::open), "open");
  EXPECT_EQ(to_string(PeriodState::locked), "locked");
  EXPECT_EQ(to_string(PeriodState::closed), "closed");
}

TEST(PeriodState, unknown_names_list_the_valid_ones) {
  const std::string message = message_of<invalid_argument>([] { parse_period_state("frozen"); });
  EXPECT_TRUE(contains(message, "\"frozen\"")) << message;
  EXPECT_TRUE(contains(message, "open, locked, closed")) << message;
  EXPECT_THROW(parse_period_state("Open"), invalid_argument);
  EXPECT_THROW(parse_period_state("open "), invalid_argument);
  EXPECT_THROW(parse_period_state(""), invalid_argument);
}

TEST(PeriodState, a_value_outside_the_enum_has_no_name) {
  EXPECT_THROW(to_string(static_cast<PeriodState>(7)), invalid_argument);
}

// ---------------------------------------------------------------- PeriodTable

TEST(PeriodTable, every_period_starts_open) {
  const PeriodTable table;
  EXPECT_EQ(table.state(Period(2026, 11)), PeriodState::open);
  EXPECT_EQ(table.state(Period(1, 1)), PeriodState::open);
  EXPECT_TRUE(table.states().empty());
}

TEST(PeriodTable, open_period_can_be_locked_then_closed) {
  PeriodTable table;
  const Period p(2026, 10);
  table.lock(p);
  EXPECT_EQ(table.state(p), PeriodState::locked);
  table.close(p);
  EXPECT_EQ(table.state(p), PeriodState::closed);
  EXPECT_EQ(table.state(Period(2026, 11)), PeriodState::open) << "other periods are untouched";
}

TEST(PeriodTable, open_period_can_be_closed_directly) {
  PeriodTable table;
  table.close(Period(2026, 10));
  EXPECT_EQ(table.state(Period(2026, 10)), PeriodState::closed);
}

TEST(PeriodTable, locked_period_can_be_unlocked) {
  PeriodTable table;
  const Period p(2026, 10);
  table.lock(p);
  table.unlock(p);
  EXPECT_EQ(table.state(p), PeriodState::open);
  EXPECT_TRUE(table.states().empty()) << "an open period is not stored";
  table.lock(p);
  EXPECT_EQ(table.state(p), PeriodState::locked) << "it can be locked again";
}

TEST(PeriodTable, setting_the_same_state_is_a_no_op) {
  PeriodTable table;
  const Period p(2026, 10);
  table.unlock(p);  // open -> open
  table.set(p, PeriodState::open);
  EXPECT_EQ(table.state(p), PeriodState::open);
  EXPECT_TRUE(table.states().empty());
  table.lock(p);
  table.lock(p);
  EXPECT_EQ(table.state(p), PeriodState::locked);
  table.close(p);
  table.close(p);
  table.set(p, PeriodState::closed);
  EXPECT_EQ(table.state(p), PeriodState::closed);
}

TEST(PeriodTable, set_applies_the_same_rules) {
  PeriodTable table;
  const Period p(2026, 10);
  table.set(p, PeriodState::locked);
  EXPECT_EQ(table.state(p), PeriodState::locked);
  table.set(p, PeriodState::open);
  EXPECT_EQ(table.state(p), PeriodState::open);
  table.set(p, PeriodState::closed);
  EXPECT_EQ(table.state(p), PeriodState::closed);
  EXPECT_THROW(table.set(p, PeriodState::open), invalid_period_transition);
  EXPECT_THROW(table.set(p, PeriodState::locked), invalid_period_transition);
  EXPECT_THROW(table.set(Period(2026, 11), static_cast<PeriodState>(9)), invalid_argument);
  EXPECT_EQ(table.state(Period(2026, 11)), PeriodState::open);
}

TEST(PeriodTable, closed_period_cannot_be_reopened) {
  PeriodTable table;
  const Period p(2026, 10);
  table.close(p);
  const std::string message = message_of<invalid_period_transition>([&] { table.unlock(p); });
  EXPECT_TRUE(contains(message, "period 2026-10 is closed; a closed period cannot be reopened or locked")) << message;
  EXPECT_TRUE(contains(message, "open")) << message;
  EXPECT_EQ(table.state(p), PeriodState::closed);
}

TEST(PeriodTable, closed_period_cannot_be_locked) {
  PeriodTable table;
  const Period p(2026, 10);
  table.lock(p);
  table.close(p);
  const std::string message = message_of<invalid_period_transition>([&] { table.lock(p); });
  EXPECT_TRUE(contains(message, "period 2026-10 is closed")) << message;
  EXPECT_TRUE(contains(message, "locked")) << message;
  EXPECT_EQ(table.state(p), PeriodState::closed);
}

TEST(PeriodTable, states_lists_the_periods_that_are_not_open_in_order) {
  PeriodTable table;
  table.close(Period(2026, 9));
  table.lock(Period(2025, 12));
  table.lock(Period(2026, 10));
  table.unlock(Period(2026, 10));
  ASSERT_EQ(table.states().size(), 2U);
  auto it = table.states().begin();
  EXPECT_EQ(it->first, Period(2025, 12));
  EXPECT_EQ(it->second, PeriodState::locked);
  ++it;
  EXPECT_EQ(it->first, Period(2026, 9));
  EXPECT_EQ(it->second, PeriodState::closed);
}

TEST(PeriodTable, open_period_is_postable_with_or_without_override) {
  PeriodTable empty;
  EXPECT_NO_THROW(empty.check_postable(Date::parse("2026-10-15"), false));
  EXPECT_NO_THROW(empty.check_postable(Date::parse("2026-10-15"), true));
  PeriodTable table;
  table.close(Period(2026, 9));
  EXPECT_NO_THROW(table.check_postable(Date::parse("2026-10-15"), false));
  EXPECT_NO_THROW(table.check_postable(Date::parse("2026-10-15"), true));
}

TEST(PeriodTable, locked_period_refuses_postings_without_override) {
  PeriodTable table;
  table.lock(Period(2026, 10));
  const std::string message =
      message_of<period_locked>([&] { table.check_postable(Date::parse("2026-10-15"), false); });
  EXPECT_EQ(message, "period 2026-10 is locked; posting into it needs an explicit override");
  EXPECT_THROW(table.check_postable(Date::parse("2026-10-01"), false), period_locked);
  EXPECT_THROW(table.check_postable(Date::parse("2026-10-31"), false), period_locked);
  EXPECT_NO_THROW(table.check_postable(Date::parse("2026-09-30"), false));
  EXPECT_NO_THROW(table.check_postable(Date::parse("2026-11-01"), false));
}

TEST(PeriodTable, locked_period_accepts_postings_with_override) {
  PeriodTable table;
  table.lock(Period(2026, 10));
  EXPECT_NO_THROW(table.check_postable(Date::parse("2026-10-15"), true));
}

TEST(PeriodTable, closed_period_refuses_postings_even_with_override) {
  PeriodTable table;
  table.close(Period(2026, 10));
  const std::string message =
      message_of<period_closed>([&] { table.check_postable(Date::parse("2026-10-15"), false); });
  EXPECT_EQ(message,
            "period 2026-10 is closed; post the correction in an open period as an out-of-period adjustment");
  EXPECT_THROW(table.check_postable(Date::parse("2026-10-15"), true), period_closed);
  EXPECT_NO_THROW(table.check_postable(Date::parse("2026-11-01"), true));
}

TEST(PeriodTable, unlocked_period_is_postable_again) {
  PeriodTable table;
  table.lock(Period(2026, 10));
  table.unlock(Period(2026, 10));
  EXPECT_NO_THROW(table.check_postable(Date::parse("2026-10-15"), false));
}

TEST(PeriodTable, posting_errors_share_the_error_root) {
  PeriodTable table;
  table.lock(Period(2026, 10));
  table.close(Period(2026, 9));
  EXPECT_THROW(table.check_postable(Date::parse("2026-10-15"), false), error);
  EXPECT_THROW(table.check_postable(Date::parse("2026-09-15"), false), error);
  EXPECT_THROW(table.unlock(Period(2026, 9)), error);
}

}  // namespace
}  // namespace amends
