// Validation of the four kinds of concession against their terms.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "amends/concessions.hpp"
#include "amends/errors.hpp"

namespace {

using amends::Currency;
using amends::Date;
using amends::Decimal;
using amends::Money;
using amends::Period;
namespace c = amends::concessions;

Decimal D(const char* text) { return Decimal::parse(text); }
Money usd(const char* text) { return Money::parse(text, Currency::of("USD")); }
Money eur(const char* text) { return Money::parse(text, Currency::of("EUR")); }
Date day(const char* text) { return Date::parse(text); }

c::ServiceCreditClaim claim(const char* availability, const char* claimed_on = "2026-11-10") {
  return c::ServiceCreditClaim{usd("1000.00"), D(availability), Period::parse("2026-10"), day(claimed_on), std::nullopt};
}

// ---------------------------------------------------------------- service credits

struct SlaCase {
  const char* availability;
  const char* credit;
  const char* tier_or_note;
};

TEST(ServiceCredit, TheLowestTierTheMeasurementIsBelowSetsTheCredit) {
  const c::SlaTerms terms = c::SlaTerms::aws_style();
  for (const SlaCase& t : std::vector<SlaCase>{{"1.0000", "0.00", "no_breach"},
                                               {"0.9999", "0.00", "no_breach"},  // at the threshold: not below
                                               {"0.99989", "100.00", "tier"},
                                               {"0.9950", "100.00", "tier"},
                                               {"0.9899", "300.00", "tier"},
                                               {"0.9500", "300.00", "tier"},
                                               {"0.9499", "1000.00", "tier"},
                                               {"0", "1000.00", "tier"}}) {
    const c::Assessment a = c::assess_service_credit(terms, claim(t.availability));
    EXPECT_EQ(a.amount, usd(t.credit)) << t.availability;
    EXPECT_TRUE(a.has(t.tier_or_note)) << t.availability;
    EXPECT_FALSE(a.refused()) << t.availability;
    EXPECT_FALSE(a.has_exception()) << t.availability;
  }
}

TEST(ServiceCredit, CapsAndTheMinimumCreditApply) {
  c::SlaTerms terms = c::SlaTerms::aws_style();
  terms.cap_amount = D("250.00");
  c::Assessment capped = c::assess_service_credit(terms, claim("0.90"));
  EXPECT_EQ(capped.amount, usd("250.00"));
  EXPECT_TRUE(capped.has("capped"));

  c::ServiceCreditClaim small = claim("0.999");
  small.period_fee = usd("9.99");  // 10% is 1.00 (half-even of 0.999): issued
  EXPECT_EQ(c::assess_service_credit(terms, small).amount, usd("1.00"));
  small.period_fee = usd("9.94");  // 0.99: below the minimum, not issued
  c::Assessment tiny = c::assess_service_credit(terms, small);
  EXPECT_EQ(tiny.amount, usd("0.00"));
  EXPECT_TRUE(tiny.has("below_minimum_credit"));
}

TEST(ServiceCredit, ARequestAboveTheComputedAmountIsAnExceptionAndALateClaimARefusal) {
  const c::SlaTerms terms = c::SlaTerms::aws_style();
  c::ServiceCreditClaim asked = claim("0.995");
  asked.requested = usd("150.00");
  c::Assessment above = c::assess_service_credit(terms, asked);
  EXPECT_EQ(above.amount, usd("150.00"));
  EXPECT_TRUE(above.has_exception());
  EXPECT_TRUE(above.has("above_computed_amount"));
  EXPECT_FALSE(above.refused());

  asked.requested = usd("100.00");
  EXPECT_FALSE(c::assess_service_credit(terms, asked).has_exception());

  // October ends on the 31st; the window of 60 days closes on 2026-12-30.
  EXPECT_FALSE(c::assess_service_credit(terms, claim("0.995", "2026-12-30")).refused());
  c::Assessment late = c::assess_service_credit(terms, claim("0.995", "2026-12-31"));
  ASSERT_TRUE(late.refused());
  EXPECT_TRUE(late.has("outside_claim_window"));
  EXPECT_TRUE(late.findings.back().overridable);
}

TEST(ServiceCredit, BadMeasurementsAndCurrenciesAreTypedErrors) {
  const c::SlaTerms terms = c::SlaTerms::aws_style();
  EXPECT_THROW(c::assess_service_credit(terms, claim("99.5")), amends::invalid_argument);  // a percent, not a fraction
  c::ServiceCreditClaim other = claim("0.99");
  other.requested = eur("10.00");
  EXPECT_THROW(c::assess_service_credit(terms, other), amends::currency_mismatch);
}

// ---------------------------------------------------------------- refunds

TEST(Refund, StaysWithinTheRemainderTheCurrencyAndTheWindow) {
  const c::RefundTerms terms{30};
  const c::OriginalTransaction charge{"ch_3Q1", usd("120.00"), day("2026-11-01"), usd("20.00")};

  c::Assessment ok = c::assess_refund(terms, charge, usd("100.00"), day("2026-11-20"));
  EXPECT_TRUE(ok.findings.empty());
  EXPECT_EQ(ok.amount, usd("100.00"));

  c::Assessment too_much = c::assess_refund(terms, charge, usd("100.01"), day("2026-11-20"));
  EXPECT_TRUE(too_much.refused());
  EXPECT_TRUE(too_much.has("above_refundable_remainder"));
  EXPECT_FALSE(too_much.findings.front().overridable);

  c::Assessment late = c::assess_refund(terms, charge, usd("10.00"), day("2026-12-02"));
  EXPECT_FALSE(late.refused());
  EXPECT_TRUE(late.has("outside_return_window"));
  EXPECT_FALSE(c::assess_refund(terms, charge, usd("10.00"), day("2026-12-01")).has_exception());  // the last day

  EXPECT_TRUE(c::assess_refund(terms, charge, eur("10.00"), day("2026-11-02")).has("currency_differs"));
  EXPECT_TRUE(c::assess_refund(terms, charge, usd("0.00"), day("2026-11-02")).has("not_positive"));
}

// ---------------------------------------------------------------- goodwill

TEST(Goodwill, TierCapsAndTheTrailingTwelveMonths) {
  c::GoodwillTerms terms;
  terms.per_request_cap = {{"enterprise", D("500.00")}, {"starter", D("50.00")}};
  terms.trailing_cap = {{"enterprise", D("2000.00")}};
  c::CustomerContext customer{"C1042", "enterprise", usd("120000.00"), usd("1600.00")};

  c::Assessment ok = c::assess_goodwill(terms, customer, usd("400.00"));
  EXPECT_FALSE(ok.refused());
  EXPECT_FALSE(ok.has_exception());
  EXPECT_TRUE(ok.has("customer_context"));

  EXPECT_TRUE(c::assess_goodwill(terms, customer, usd("500.01")).has("above_tier_cap"));
  c::Assessment over_year = c::assess_goodwill(terms, customer, usd("400.01"));
  EXPECT_TRUE(over_year.has("above_trailing_cap"));
  EXPECT_FALSE(over_year.has("above_tier_cap"));

  customer.tier = "startup";
  EXPECT_TRUE(c::assess_goodwill(terms, customer, usd("10.00")).has("no_terms_for_tier"));
}

// ---------------------------------------------------------------- retention offers

TEST(Retention, TheOfferIsValuedAndWeighedAgainstTheCustomer) {
  const c::RetentionTerms terms{D("0.10")};
  const c::CustomerContext customer{"C7", "growth", usd("24000.00"), usd("0.00")};

  c::RetentionOffer discount;
  discount.discount = D("0.15");
  discount.monthly_fee = usd("1999.99");
  discount.months = 6;
  c::Assessment a = c::assess_retention(terms, customer, discount);
  EXPECT_EQ(a.amount, usd("1800.00"));  // 300.00 (299.9985 rounded) a month for six months
  EXPECT_TRUE(a.has("value_share"));
  EXPECT_FALSE(a.has_exception());  // 7.5% of the customer's value

  discount.months = 9;  // 2700.00: 11.25%
  EXPECT_TRUE(c::assess_retention(terms, customer, discount).has("above_value_share"));

  c::RetentionOffer credit;
  credit.credit = usd("500.00");
  credit.changes_contract = true;
  c::Assessment legal = c::assess_retention(terms, customer, credit);
  EXPECT_EQ(legal.amount, usd("500.00"));
  EXPECT_TRUE(legal.has("needs_legal_review"));

  c::RetentionOffer both = credit;
  both.discount = D("0.10");
  EXPECT_TRUE(c::assess_retention(terms, customer, both).has("malformed_offer"));
}

TEST(Kinds, NamesRoundTripAndUnknownOnesAreRefused) {
  for (c::Kind k : {c::Kind::goodwill, c::Kind::service_credit, c::Kind::refund, c::Kind::retention_offer})
    EXPECT_EQ(c::parse_kind(c::to_string(k)), k);
  EXPECT_THROW(c::parse_kind("discount"), amends::invalid_argument);
}

}  // namespace

namespace {

TEST(Accounting, EachEventPostsTheTableOfDesign) {
  struct Case {
    c::Event event;
    const char* debit;
    const char* credit;
  };
  for (const Case& t : std::vector<Case>{
           {c::Event::service_credit_accrued, "ContraRevenue:ServiceCredits", "Liabilities:CustomerCredits:C9"},
           {c::Event::goodwill_credited, "ContraRevenue:Goodwill", "Liabilities:CustomerCredits:C9"},
           {c::Event::credit_applied, "Liabilities:CustomerCredits:C9", "Assets:Receivables:C9"},
           {c::Event::refund_approved, "ContraRevenue:Refunds", "Liabilities:RefundsPayable"},
           {c::Event::refund_paid, "Liabilities:RefundsPayable", "Assets:Cash"},
           {c::Event::refund_failed, "Assets:Cash", "Liabilities:RefundsPayable"},
           {c::Event::retention_discount, "ContraRevenue:RetentionDiscounts", "Assets:Receivables:C9"}}) {
    const auto lines = c::postings_for(t.event, "C9", usd("12.50"));
    ASSERT_EQ(lines.size(), 2U);
    EXPECT_EQ(lines[0].account, t.debit) << c::to_string(t.event);
    EXPECT_EQ(lines[0].amount, D("12.50"));
    EXPECT_EQ(lines[1].account, t.credit) << c::to_string(t.event);
    EXPECT_EQ(lines[1].amount, D("-12.50"));
  }
  c::AccountingPolicy policy;
  policy.goodwill_as_expense = true;
  policy.cash_account = "Assets:StripeClearing";
  EXPECT_EQ(c::postings_for(c::Event::goodwill_credited, "C9", usd("1.00"), policy)[0].account, "Expense:Goodwill");
  EXPECT_EQ(c::postings_for(c::Event::refund_paid, "", usd("1.00"), policy)[1].account, "Assets:StripeClearing");
  EXPECT_THROW(c::postings_for(c::Event::goodwill_credited, "C9", usd("0.00")), amends::invalid_argument);
  EXPECT_THROW(c::postings_for(c::Event::goodwill_credited, "", usd("1.00")), amends::invalid_argument);
}

TEST(Accounting, AClosedServicePeriodIsAdjustedInTheFirstOpenOne) {
  amends::PeriodTable periods;
  periods.close(Period::parse("2026-09"));
  periods.close(Period::parse("2026-10"));
  periods.lock(Period::parse("2026-11"));

  const c::PostingPeriod open = c::posting_period(periods, Period::parse("2026-12"));
  EXPECT_EQ(open.period, Period::parse("2026-12"));
  EXPECT_FALSE(open.out_of_period);

  const c::PostingPeriod late = c::posting_period(periods, Period::parse("2026-09"));
  EXPECT_EQ(late.period, Period::parse("2026-12"));  // October closed, November locked
  EXPECT_TRUE(late.out_of_period);
  EXPECT_EQ(late.note, "out-of-period adjustment for 2026-09 (closed), posted in 2026-12");

  EXPECT_EQ(c::posting_period(periods, Period::parse("2026-09"), true).period, Period::parse("2026-11"));
  EXPECT_EQ(c::posting_period(periods, Period::parse("2026-11"), true).period, Period::parse("2026-11"));
}

}  // namespace
