#include "amends/concessions.hpp"

#include <algorithm>

#include "amends/errors.hpp"

namespace amends::concessions {

namespace {

Decimal dec(std::string_view text) { return Decimal::parse(text); }

std::string money_text(const Decimal& amount, Currency currency) {
  return amount.to_string(currency.minor_units()) + " " + std::string(currency.code());
}

std::string percent(const Decimal& fraction) {
  return fraction.mul(dec("100"), 4).to_string() + "%";
}

void add(Assessment& a, std::string code, Severity severity, std::string message, bool overridable = false) {
  a.findings.push_back(Finding{std::move(code), severity, overridable, std::move(message)});
}

}  // namespace

std::string_view to_string(Kind kind) {
  switch (kind) {
    case Kind::goodwill: return "goodwill";
    case Kind::service_credit: return "service_credit";
    case Kind::refund: return "refund";
    case Kind::retention_offer: return "retention_offer";
  }
  return "goodwill";
}

Kind parse_kind(std::string_view name) {
  for (Kind k : kinds)
    if (to_string(k) == name) return k;
  throw invalid_argument("unknown concession kind \"" + std::string(name) +
                         "\"; use goodwill, service_credit, refund or retention_offer");
}

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::note: return "note";
    case Severity::exception: return "exception";
    case Severity::refusal: return "refusal";
  }
  return "note";
}

bool Assessment::refused() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::refusal; });
}
bool Assessment::has_exception() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::exception; });
}
bool Assessment::has(std::string_view code) const {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) { return f.code == code; });
}

SlaTerms SlaTerms::aws_style() {
  SlaTerms t;
  t.tiers = {{dec("0.9999"), dec("0.10")}, {dec("0.99"), dec("0.30")}, {dec("0.95"), dec("1.00")}};
  t.cap_fraction = dec("1.00");
  t.minimum_credit = dec("1.00");
  t.claim_window_days = 60;
  return t;
}

Assessment assess_service_credit(const SlaTerms& terms, const ServiceCreditClaim& claim) {
  const Currency currency = claim.period_fee.currency();
  const int places = currency.minor_units();
  if (claim.measured_availability.sign() < 0 || dec("1") < claim.measured_availability)
    throw invalid_argument("measured availability must be a fraction between 0 and 1 (0.9987 for 99.87%), not " +
                           claim.measured_availability.to_string());
  if (claim.period_fee.amount().sign() < 0) throw invalid_argument("the period's fee can't be negative");
  if (claim.requested && !(claim.requested->currency() == currency))
    throw currency_mismatch("a service credit is in the fee's currency (" + std::string(currency.code()) + "), not " +
                            std::string(claim.requested->currency().code()));

  // The tier with the lowest threshold the measurement is below.
  const SlaTier* tier = nullptr;
  for (const SlaTier& t : terms.tiers)
    if (claim.measured_availability < t.below && (!tier || t.below < tier->below)) tier = &t;

  Decimal computed;
  Assessment a{Money::zero(currency), {}};
  if (!tier) {
    add(a, "no_breach", Severity::note,
        "measured availability " + percent(claim.measured_availability) + " is within every SLA tier: no credit is owed");
  } else {
    computed = claim.period_fee.amount().mul(tier->credit, places);
    add(a, "tier", Severity::note,
        "measured availability " + percent(claim.measured_availability) + " is below " + percent(tier->below) +
            ": the SLA credits " + percent(tier->credit) + " of the period's fee of " +
            money_text(claim.period_fee.amount(), currency));
    Decimal cap = computed;
    if (terms.cap_fraction) cap = std::min(cap, claim.period_fee.amount().mul(*terms.cap_fraction, places));
    if (terms.cap_amount) cap = std::min(cap, terms.cap_amount->round(places));
    if (cap < computed) {
      add(a, "capped", Severity::note,
          "the credit is capped at " + money_text(cap, currency) + " (computed " + money_text(computed, currency) + ")");
      computed = cap;
    }
    if (computed.sign() > 0 && computed < terms.minimum_credit) {
      add(a, "below_minimum_credit", Severity::note,
          "a credit of " + money_text(computed, currency) + " is below the minimum of " +
              money_text(terms.minimum_credit, currency) + " and is not issued");
      computed = Decimal();
    }
  }
  a.amount = Money(computed, currency);

  const Date deadline = claim.service_period.last_day().plus_days(terms.claim_window_days);
  if (deadline < claim.claimed_on)
    add(a, "outside_claim_window", Severity::refusal,
        "claimed on " + claim.claimed_on.to_string() + ", after the claim window closed on " + deadline.to_string() +
            " (" + std::to_string(terms.claim_window_days) + " days after " + claim.service_period.to_string() +
            " ended); only an authority override can allow it",
        true);
  if (claim.requested) {
    if (computed < claim.requested->amount())
      add(a, "above_computed_amount", Severity::exception,
          "requested " + claim.requested->to_string() + ", above the " + money_text(computed, currency) +
              " the contract's SLA terms give; the difference needs finance approval");
    a.amount = *claim.requested;
  }
  return a;
}

Assessment assess_refund(const RefundTerms& terms, const OriginalTransaction& original, const Money& requested,
                         Date requested_on) {
  Assessment a{requested, {}};
  if (!(requested.currency() == original.amount.currency())) {
    add(a, "currency_differs", Severity::refusal,
        "a refund of " + original.id + " is in its currency, " + std::string(original.amount.currency().code()) +
            ", not " + std::string(requested.currency().code()));
    return a;
  }
  if (requested.amount().sign() <= 0)
    add(a, "not_positive", Severity::refusal, "a refund is a positive amount, not " + requested.to_string());
  const Money remainder = original.amount - original.refunded;
  if (remainder.amount() < requested.amount())
    add(a, "above_refundable_remainder", Severity::refusal,
        "requested " + requested.to_string() + " but only " + remainder.to_string() + " of " + original.id + " (" +
            original.amount.to_string() + ", " + original.refunded.to_string() + " refunded already) can be refunded");
  const Date last_day = original.date.plus_days(terms.return_window_days);
  if (last_day < requested_on)
    add(a, "outside_return_window", Severity::exception,
        "requested on " + requested_on.to_string() + ", after the " + std::to_string(terms.return_window_days) +
            "-day return window of " + original.id + " closed on " + last_day.to_string());
  return a;
}

Assessment assess_goodwill(const GoodwillTerms& terms, const CustomerContext& customer, const Money& requested) {
  Assessment a{requested, {}};
  const Currency currency = requested.currency();
  add(a, "customer_context", Severity::note,
      "customer " + customer.id + " (" + customer.tier + ", value " + customer.value.to_string() + ") had " +
          customer.goodwill_trailing_12_months.to_string() + " of goodwill in the last 12 months");
  if (requested.amount().sign() <= 0)
    add(a, "not_positive", Severity::refusal, "a goodwill credit is a positive amount, not " + requested.to_string());
  const auto cap = terms.per_request_cap.find(customer.tier);
  if (cap == terms.per_request_cap.end()) {
    add(a, "no_terms_for_tier", Severity::refusal,
        "the goodwill terms have no cap for tier \"" + customer.tier + "\"; add one to the policy");
    return a;
  }
  if (cap->second < requested.amount())
    add(a, "above_tier_cap", Severity::exception,
        requested.to_string() + " is above the " + customer.tier + " cap of " + money_text(cap->second, currency) +
            " per request");
  if (auto trailing = terms.trailing_cap.find(customer.tier); trailing != terms.trailing_cap.end()) {
    const Money total = customer.goodwill_trailing_12_months + requested;
    if (trailing->second < total.amount())
      add(a, "above_trailing_cap", Severity::exception,
          "with this credit the customer's goodwill over 12 months would be " + total.to_string() + ", above the " +
              customer.tier + " cap of " + money_text(trailing->second, currency));
  }
  return a;
}

Assessment assess_retention(const RetentionTerms& terms, const CustomerContext& customer, const RetentionOffer& offer) {
  const Currency currency = customer.value.currency();
  Assessment a{Money::zero(currency), {}};
  const bool is_discount = offer.discount.has_value();
  const bool is_credit = offer.credit.has_value();
  if (is_discount == is_credit) {
    add(a, "malformed_offer", Severity::refusal, "a retention offer is either a discount or a credit, exactly one");
    return a;
  }
  Money value = Money::zero(currency);
  if (is_discount) {
    if (!offer.monthly_fee || offer.months <= 0 || offer.discount->sign() <= 0 || dec("1") < *offer.discount) {
      add(a, "malformed_offer", Severity::refusal,
          "a discount needs a fraction between 0 and 1, the monthly fee and a number of months");
      return a;
    }
    if (!(offer.monthly_fee->currency() == currency)) {
      add(a, "malformed_offer", Severity::refusal,
          "the monthly fee is in " + std::string(offer.monthly_fee->currency().code()) +
              "; retention offers are valued in the customer's currency, " + std::string(currency.code()));
      return a;
    }
    const Money per_month = offer.monthly_fee->mul(*offer.discount);
    value = Money(per_month.amount() * offer.months, currency);
  } else {
    if (!(offer.credit->currency() == currency) || offer.credit->amount().sign() <= 0) {
      add(a, "malformed_offer", Severity::refusal,
          "a retention credit is a positive amount in the customer's currency, " + std::string(currency.code()));
      return a;
    }
    value = *offer.credit;
  }
  a.amount = value;
  if (customer.value.amount().sign() > 0) {
    const Decimal share = value.amount().div(customer.value.amount(), 4);
    add(a, "value_share", Severity::note,
        "the offer is worth " + value.to_string() + ", " + percent(share) + " of the customer's value of " +
            customer.value.to_string());
    if (terms.max_share_of_value < share)
      add(a, "above_value_share", Severity::exception,
          "the offer costs " + percent(share) + " of what it retains, above the policy's " +
              percent(terms.max_share_of_value));
  } else {
    add(a, "above_value_share", Severity::exception, "the customer has no recorded value to weigh the offer against");
  }
  if (offer.changes_contract)
    add(a, "needs_legal_review", Severity::exception, "the offer changes contract terms: legal review is required");
  return a;
}

}  // namespace amends::concessions

namespace amends::concessions {

std::string_view to_string(Event event) {
  switch (event) {
    case Event::service_credit_accrued: return "service_credit_accrued";
    case Event::goodwill_credited: return "goodwill_credited";
    case Event::credit_applied: return "credit_applied";
    case Event::refund_approved: return "refund_approved";
    case Event::refund_paid: return "refund_paid";
    case Event::refund_failed: return "refund_failed";
    case Event::retention_discount: return "retention_discount";
  }
  return "service_credit_accrued";
}

Event applied_event(Kind kind) {
  switch (kind) {
    case Kind::goodwill: return Event::goodwill_credited;
    case Kind::service_credit: return Event::service_credit_accrued;
    case Kind::refund: return Event::refund_approved;
    case Kind::retention_offer: return Event::retention_discount;
  }
  return Event::goodwill_credited;
}

std::vector<PostingLine> postings_for(Event event, const std::string& customer, const Money& amount,
                                      const AccountingPolicy& policy) {
  if (amount.amount().sign() <= 0)
    throw invalid_argument("a concession posts a positive amount; " + amount.to_string() + " is not");
  const bool per_customer = event != Event::refund_approved && event != Event::refund_paid && event != Event::refund_failed;
  if (per_customer && (customer.empty() || customer.find(':') != std::string::npos))
    throw invalid_argument(std::string(to_string(event)) + " needs a customer id without ':'");
  const std::string credits = "Liabilities:CustomerCredits:" + customer;
  const std::string receivables = "Assets:Receivables:" + customer;
  auto pair = [&](std::string debit, std::string credit) {
    return std::vector<PostingLine>{{std::move(debit), amount.amount()}, {std::move(credit), -amount.amount()}};
  };
  switch (event) {
    case Event::service_credit_accrued: return pair("ContraRevenue:ServiceCredits", credits);
    case Event::goodwill_credited:
      return pair(policy.goodwill_as_expense ? "Expense:Goodwill" : "ContraRevenue:Goodwill", credits);
    case Event::credit_applied: return pair(credits, receivables);
    case Event::refund_approved: return pair("ContraRevenue:Refunds", "Liabilities:RefundsPayable");
    case Event::refund_paid: return pair("Liabilities:RefundsPayable", policy.cash_account);
    case Event::refund_failed: return pair(policy.cash_account, "Liabilities:RefundsPayable");
    case Event::retention_discount: return pair("ContraRevenue:RetentionDiscounts", receivables);
  }
  return {};
}

PostingPeriod posting_period(const PeriodTable& periods, Period service_period, bool allow_locked) {
  auto postable = [&](Period p) {
    const PeriodState s = periods.state(p);
    return s == PeriodState::open || (allow_locked && s == PeriodState::locked);
  };
  if (postable(service_period)) return PostingPeriod{service_period, false, {}};
  Period p = service_period.next();
  // Periods are open unless marked, so this ends within the marked ones.
  while (!postable(p)) p = p.next();
  return PostingPeriod{p, true,
                       "out-of-period adjustment for " + service_period.to_string() + " (" +
                           std::string(amends::to_string(periods.state(service_period))) + "), posted in " +
                           p.to_string()};
}

}  // namespace amends::concessions
