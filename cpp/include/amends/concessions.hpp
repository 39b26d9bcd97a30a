// Validation of the four kinds of concession against contract and policy
// terms: what a request may be, before anyone routes or approves it.
//
// Each check returns an Assessment: the amount the terms allow (computed for
// service credits and retention offers, the requested one otherwise) and the
// findings. A finding is either an exception -- allowed, but only with the
// approval the policy names for it (a requested amount above the computed
// one, a refund outside the return window, goodwill above a tier's cap) -- or
// a refusal, which no approval overrides except the named authority
// override (a claim outside the SLA claim window), or none at all (a refund
// above the refundable remainder, a currency that differs from the original).
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "amends/calendar.hpp"
#include "amends/money.hpp"

namespace amends::concessions {

enum class Kind : std::uint8_t { goodwill, service_credit, refund, retention_offer };
// Every kind, in this order (amends._core.KINDS).
inline constexpr std::array<Kind, 4> kinds = {Kind::goodwill, Kind::service_credit, Kind::refund, Kind::retention_offer};
std::string_view to_string(Kind kind);
Kind parse_kind(std::string_view name);  // "goodwill", "service_credit", "refund", "retention_offer"

enum class Severity : std::uint8_t {
  note,       // recorded, nothing more
  exception,  // allowed only with the approval the policy names for exceptions
  refusal,    // refused; `overridable` says whether an authority override can lift it
};
std::string_view to_string(Severity severity);

struct Finding {
  std::string code;  // stable, for policies and tests: "above_computed_amount", "outside_claim_window", ...
  Severity severity;
  bool overridable = false;
  std::string message;  // what an approver or auditor reads
};

struct Assessment {
  Money amount;  // what the terms allow (see above)
  std::vector<Finding> findings;
  bool refused() const;
  bool has_exception() const;
  bool has(std::string_view code) const;
};

// ---------------------------------------------------------------- service credits

// Measured availability below `below` (a fraction: 0.9999 for 99.99%) earns
// `credit` (a fraction of the period's fee). The tier with the lowest
// threshold the measurement is below applies.
struct SlaTier {
  Decimal below;
  Decimal credit;
};

struct SlaTerms {
  std::vector<SlaTier> tiers;
  std::optional<Decimal> cap_fraction;  // at most this fraction of the period's fee
  std::optional<Decimal> cap_amount;    // at most this much, in the fee's currency
  Decimal minimum_credit;               // a smaller computed credit is not issued (AWS: under one dollar)
  int claim_window_days = 60;           // claims are due within this many days after the period ends (the desk
                                        // judges a claim at its first submission, not at a resubmission)

  // AWS-style: below 99.99% 10%, below 99% 30%, below 95% 100%.
  static SlaTerms aws_style();
};

struct ServiceCreditClaim {
  Money period_fee;
  Decimal measured_availability;  // a fraction, 0..1
  Period service_period;
  Date claimed_on;
  std::optional<Money> requested;  // nullopt: take the computed amount
};

// The computed credit and the findings: above_computed_amount (exception),
// outside_claim_window (refusal, overridable), no_breach, below_minimum_credit
// (notes; the computed amount is then zero), capped (note).
Assessment assess_service_credit(const SlaTerms& terms, const ServiceCreditClaim& claim);

// ---------------------------------------------------------------- refunds

struct OriginalTransaction {
  std::string id;  // the billing system's charge or invoice id
  Money amount;
  Date date;
  Money refunded;  // by earlier refunds, same currency
};

struct RefundTerms {
  int return_window_days = 30;
};

// Findings: currency_differs and above_refundable_remainder (refusals, not
// overridable), outside_return_window (exception), not_positive (refusal).
Assessment assess_refund(const RefundTerms& terms, const OriginalTransaction& original, const Money& requested,
                         Date requested_on);

// ---------------------------------------------------------------- goodwill

struct CustomerContext {
  std::string id;
  std::string tier;                  // "enterprise", "growth", ...
  Money value;                       // ARR or lifetime value, base currency
  Money goodwill_trailing_12_months;  // already given, base currency
};

struct GoodwillTerms {
  std::map<std::string, Decimal, std::less<>> per_request_cap;  // by tier, base currency
  std::map<std::string, Decimal, std::less<>> trailing_cap;     // by tier, over 12 months
};

// Findings: no_terms_for_tier and not_positive (refusals), above_tier_cap and
// above_trailing_cap (exceptions); a note with the customer context.
Assessment assess_goodwill(const GoodwillTerms& terms, const CustomerContext& customer, const Money& requested);

// ---------------------------------------------------------------- retention offers

struct RetentionOffer {
  // Either a discount: `discount` (a fraction) of `monthly_fee` for `months`;
  std::optional<Decimal> discount;
  std::optional<Money> monthly_fee;
  int months = 0;
  // or a one-off credit.
  std::optional<Money> credit;
  bool changes_contract = false;  // new term, price or scope: legal review
};

struct RetentionTerms {
  Decimal max_share_of_value;  // offer value / customer value above this: exception
};

// The total concession value and the findings: malformed_offer (refusal),
// above_value_share (exception), needs_legal_review (exception), a note with
// the share of the customer's value.
Assessment assess_retention(const RetentionTerms& terms, const CustomerContext& customer, const RetentionOffer& offer);

}  // namespace amends::concessions

namespace amends::concessions {

// ---------------------------------------------------------------- posting (docs/architecture.md, Accounting)

enum class Event : std::uint8_t {
  service_credit_accrued,  // ContraRevenue:ServiceCredits / Liabilities:CustomerCredits:<customer>
  goodwill_credited,       // ContraRevenue:Goodwill (or Expense:Goodwill) / Liabilities:CustomerCredits:<customer>
  credit_applied,          // Liabilities:CustomerCredits:<customer> / Assets:Receivables:<customer>
  refund_approved,         // ContraRevenue:Refunds / Liabilities:RefundsPayable
  refund_paid,             // Liabilities:RefundsPayable / Assets:Cash (or the processor's clearing account)
  refund_failed,           // Assets:Cash / Liabilities:RefundsPayable
  retention_discount,      // ContraRevenue:RetentionDiscounts / Assets:Receivables:<customer>
};
std::string_view to_string(Event event);

// The event that applying a concession of `kind` posts: goodwill_credited,
// service_credit_accrued, refund_approved or retention_discount.
Event applied_event(Kind kind);

// The book's accounting policy (the defaults are docs/architecture.md's table).
struct AccountingPolicy {
  bool goodwill_as_expense = false;          // Expense:Goodwill instead of ContraRevenue:Goodwill
  std::string cash_account = "Assets:Cash";  // or a processor clearing account
};

struct PostingLine {
  std::string account;
  Decimal amount;  // debit positive
};

// The two postings of an event for a customer and a positive amount.
std::vector<PostingLine> postings_for(Event event, const std::string& customer, const Money& amount,
                                      const AccountingPolicy& policy = {});

// Where a concession for `service_period` is posted: the service period
// itself when it is open (or locked, with the override), else the first
// open period after it -- an out-of-period adjustment that references the
// service period.
struct PostingPeriod {
  Period period;
  bool out_of_period = false;
  std::string note;  // for the entry's description and metadata
};
PostingPeriod posting_period(const PeriodTable& periods, Period service_period, bool allow_locked = false);

}  // namespace amends::concessions
