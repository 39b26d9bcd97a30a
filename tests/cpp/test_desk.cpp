// The concession desk end to end: submit -> validate -> route -> approval
// chain -> budget reservation -> apply (the accounting table) -> notification
// and audit trail, for the four kinds of concession.
//
// Every expected amount, account and date below is worked out by hand from
// the policy in kPolicy, the fixture's budgets, charges and rates, and
// docs/architecture.md's accounting table -- never copied from what the code prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <ostream>
#include <optional>
#include <string>
#include <vector>

#include "amends/desk.hpp"

// Readable failure messages for the core's value types (internal linkage:
// other test files may print them their own way).
namespace amends {
[[maybe_unused]] static void PrintTo(const Decimal& d, std::ostream* os) { *os << d.to_string(); }
[[maybe_unused]] static void PrintTo(const Money& m, std::ostream* os) { *os << m.to_string(); }
[[maybe_unused]] static void PrintTo(const Period& p, std::ostream* os) { *os << p.to_string(); }
[[maybe_unused]] static void PrintTo(const Date& d, std::ostream* os) { *os << d.to_string(); }
[[maybe_unused]] static void PrintTo(EntryStatus s, std::ostream* os) { *os << to_string(s); }
[[maybe_unused]] static void PrintTo(EntryId id, std::ostream* os) { *os << "entry " << id.value; }
namespace requests {
[[maybe_unused]] static void PrintTo(State s, std::ostream* os) { *os << to_string(s); }
}  // namespace requests
}  // namespace amends

namespace {

using amends::Currency;
using amends::Date;
using amends::Decimal;
using amends::EntryId;
using amends::EntryStatus;
using amends::Ledger;
using amends::Money;
using amends::Period;
using amends::PeriodState;
using amends::approvals::approval_error;
using amends::concessions::Kind;
using amends::concessions::Severity;
using amends::desk::Desk;
using amends::desk::RequestRecord;
using amends::requests::AuditTrail;
using amends::requests::RequestContent;
using amends::requests::State;
using amends::requests::Timestamp;

constexpr Timestamp kMinute = 60'000'000;
constexpr Timestamp kHour = 60 * kMinute;
constexpr Timestamp kDay = 24 * kHour;

// Microseconds since 1970 for a date ("2026-11-05") and a time of day (UTC).
Timestamp ts(const char* day, int hour, int minute = 0) {
  return static_cast<Timestamp>(Date::parse(day).days_since_epoch()) * kDay + hour * kHour + minute * kMinute;
}

Decimal D(const char* text) { return Decimal::parse(text); }
Money usd(const char* text) { return Money::parse(text, Currency::of("USD")); }
Money eur(const char* text) { return Money::parse(text, Currency::of("EUR")); }
Period period(const char* text) { return Period::parse(text); }
Date day(const char* text) { return Date::parse(text); }

const char* const kVersion = "2026-11-01";

// Bands (base currency USD):
//   goodwill        <= 50 auto | 50-500 team lead | 500-5000 enterprise: team lead, then finance (24 h -> cfo)
//   service credit  <= 1000 auto | any amount: team lead
//   refund          <= 100 auto | <= 2000 team lead
//   retention       finance and strategy (in parallel)
// Exceptions add a finance step. Goodwill caps per request: starter 100,
// growth 500, enterprise 2000. Budgets over a soft limit go to the cfo.
const char* const kPolicy = R"(
version = "2026-11-01"
base_currency = "USD"
exception_role = "finance"

[roles]
team_lead = ["lena", "omar", "fatima"]
finance = ["fatima", "ines"]
strategy = ["sol", "ines"]
cfo = ["chen"]

[[delegations]]
from = "fatima"
to = "raj"
start = 2026-12-20
end = 2027-01-05

[[rules]]
name = "small goodwill"
kinds = ["goodwill"]
up_to = "50.00"
auto_approve = true

[[rules]]
name = "goodwill"
kinds = ["goodwill"]
over = "50.00"
up_to = "500.00"
steps = [ { any_of = ["team_lead"] } ]

[[rules]]
name = "large goodwill, enterprise"
kinds = ["goodwill"]
over = "500.00"
up_to = "5000.00"
tiers = ["enterprise"]
steps = [ { any_of = ["team_lead"] }, { any_of = ["finance"], escalate_after_hours = 24, escalate_to = "cfo" } ]

[[rules]]
name = "service credit in policy"
kinds = ["service_credit"]
up_to = "1000.00"
auto_approve = true

[[rules]]
name = "service credit review"
kinds = ["service_credit"]
steps = [ { any_of = ["team_lead"] } ]

[[rules]]
name = "small refund"
kinds = ["refund"]
up_to = "100.00"
auto_approve = true

[[rules]]
name = "refund"
kinds = ["refund"]
up_to = "2000.00"
steps = [ { any_of = ["team_lead"] } ]

[[rules]]
name = "retention"
kinds = ["retention_offer"]
steps = [ { all_of = ["finance", "strategy"] } ]

[terms.goodwill]
per_request_cap = { starter = "100.00", growth = "500.00", enterprise = "2000.00" }
trailing_cap = { starter = "300.00", growth = "1500.00", enterprise = "10000.00" }

[budget]
escalate_to = "cfo"
)";

// The reference data every test starts from: the policy (published
// 2026-11-01 08:00), generous hard budgets for team "support" from November
// to January, three charges of customer C-300, and one EUR rate.
void set_up(Desk& desk) {
  desk.publish_policy(kPolicy, "controller", ts("2026-11-01", 8));
  for (const char* p : {"2026-11", "2026-12", "2027-01"})
    for (Kind k : {Kind::goodwill, Kind::service_credit, Kind::retention_offer})
      desk.allocate("support", k, period(p), D("100000.00"), true, day("2026-11-01"));
  desk.record_charge({"CH-1", "C-300", usd("500.00"), day("2026-11-01"), D("0")});
  desk.record_charge({"CH-2", "C-300", usd("300.00"), day("2026-11-01"), D("250.00")});
  desk.record_charge({"CH-3", "C-300", usd("3000.00"), day("2026-11-01"), D("0")});
  desk.set_rate(Currency::of("EUR"), day("2026-11-02"), D("1.0850"));
}

// ---------------------------------------------------------------- request builders

RequestContent goodwill(const char* amount, const char* tier, const char* team = "support",
                        const char* requester = "maria", const char* customer = "C-100", const char* currency = "USD") {
  RequestContent c;
  c.kind = Kind::goodwill;
  c.currency = Currency::of(currency);
  c.customer = {customer, tier, std::nullopt};
  c.amount = Money::parse(amount, c.currency);
  c.reason_code = "onboarding_delay";
  c.justification = "Onboarding slipped three weeks";
  c.evidence = {"ZD-1"};
  c.requester = requester;
  c.team = team;
  return c;
}

RequestContent service_credit(const char* fee, const char* availability, const char* service = "2026-10",
                              const char* currency = "USD") {
  RequestContent c;
  c.kind = Kind::service_credit;
  c.currency = Currency::of(currency);
  c.customer = {"C-200", "enterprise", std::nullopt};
  c.service_period = period(service);
  c.claim.period_fee = Money::parse(fee, c.currency);
  c.claim.measured_availability = D(availability);
  c.reason_code = "sla_breach";
  c.evidence = {"INC-7", "SLA-METRICS-2026-10"};
  c.requester = "maria";
  c.team = "support";
  return c;
}

RequestContent retention(const char* discount, const char* monthly_fee, int months) {
  RequestContent c;
  c.kind = Kind::retention_offer;
  c.customer = {"C-400", "growth", usd("12000.00")};
  c.claim.discount = D(discount);
  c.claim.monthly_fee = usd(monthly_fee);
  c.claim.months = months;
  c.reason_code = "churn_risk";
  c.requester = "maria";
  c.team = "support";
  return c;
}

// ---------------------------------------------------------------- reading results

// "account amount currency date" for every posting of the entries, in order.
std::vector<std::string> postings_of(const Ledger& book, const std::vector<EntryId>& ids) {
  std::vector<std::string> out;
  for (EntryId id : ids) {
    const amends::EntryView e = book.entry(id);
    for (const amends::PostingView& p : e.postings) {
      const amends::Account& a = book.account(p.account);
      out.push_back(a.name + " " + p.amount.to_string(a.currency.minor_units()) + " " + std::string(a.currency.code()) +
                    " " + e.date.to_string());
    }
  }
  return out;
}

struct Post {
  const char* account;
  const char* amount;
  const char* currency;
  const char* date;
};

std::vector<std::string> lines(const std::vector<Post>& posts) {
  std::vector<std::string> out;
  for (const Post& p : posts)
    out.push_back(std::string(p.account) + " " + p.amount + " " + p.currency + " " + p.date);
  return out;
}

std::vector<std::string> codes(const RequestRecord& r, Severity severity) {
  std::vector<std::string> out;
  for (const auto& f : r.assessment.findings)
    if (f.severity == severity) out.push_back(f.code);
  return out;
}

std::vector<std::string> events_of(const Desk& desk, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& e : desk.audit().events())
    if (e.request == id) out.push_back(e.event);
  return out;
}

bool has_event(const Desk& desk, const std::string& id, const std::string& what) {
  for (const auto& e : desk.audit().events())
    if (e.request == id && e.event == what) return true;
  return false;
}

// Everything an operation could change, for "it threw and changed nothing".
struct Snapshot {
  std::vector<std::string> records;
  std::vector<std::string> entries;  // status of every ledger entry
  std::size_t audit = 0, outbox = 0, accounts = 0, next_number = 0, policies = 0, rates = 0, charges = 0;
  std::string last_hash;
  std::size_t closed_periods = 0;
  bool operator==(const Snapshot&) const = default;
};

void PrintTo(const Snapshot& s, std::ostream* os) {
  *os << "\n  audit " << s.audit << " (last " << s.last_hash.substr(0, 12) << "), outbox " << s.outbox << ", accounts "
      << s.accounts << ", next R-" << s.next_number << ", policies " << s.policies << ", rates " << s.rates
      << ", charges " << s.charges << ", periods not open " << s.closed_periods << "\n  entries:";
  for (std::size_t i = 0; i < s.entries.size(); ++i) *os << " " << i + 1 << "=" << s.entries[i];
  for (const std::string& r : s.records) *os << "\n  " << r;
}

Snapshot snapshot(const Desk& desk, const Ledger& book) {
  Snapshot s;
  for (const auto& [id, r] : desk.records()) {
    std::string line = id + " " + std::string(amends::requests::to_string(r.state())) + " v" +
                       std::to_string(r.request.version()) + " h" + std::to_string(r.request.history().size()) +
                       " policy=" + r.policy_version + " reservation=" + std::to_string(r.reservation.value) +
                       " entries=" + std::to_string(r.entries.size()) + " accrued=" + std::to_string(r.accrued) +
                       " escalated=" + std::to_string(r.budget_escalated) + " blocked=" + r.blocked;
    if (r.chain) {
      line += " step=" + std::to_string(r.chain->current_step()) + "/" + std::to_string(r.chain->steps().size());
      for (const auto& st : r.chain->steps()) {
        line += st.escalated ? " [esc" : " [";
        for (const auto& a : st.approvals) line += " " + a.person + ":" + a.role;
        line += "]";
      }
    }
    s.records.push_back(line);
  }
  for (std::size_t i = 1; i <= book.entry_count(); ++i)
    s.entries.push_back(std::string(amends::to_string(book.status_of(EntryId{i}))));
  s.audit = desk.audit().events().size();
  if (s.audit) s.last_hash = amends::requests::to_hex(desk.audit().events().back().hash);
  s.outbox = desk.outbox().size();
  s.accounts = book.account_count();
  s.next_number = desk.next_number();
  s.policies = desk.policy_order().size();
  s.rates = desk.rates().size();
  s.charges = desk.charges().size();
  s.closed_periods = book.periods().states().size();
  return s;
}

class DeskTest : public ::testing::Test {
 protected:
  void SetUp() override { set_up(desk); }
  Snapshot snap() const { return snapshot(desk, book); }
  std::string submit(const RequestContent& c, Timestamp at) { return desk.submit(c, at).id(); }
  State state(const std::string& id) const { return desk.get(id).state(); }

  Ledger book;
  Desk desk{book};
};

// ================================================================ the scenario tables

struct Row {
  const char* name;  // the test's name
  Kind kind;
  const char* customer;
  const char* tier;
  const char* amount = nullptr;  // requested; nullptr: computed
  const char* submitted = "2026-11-05";  // submitted 09:00, approvals from 10:00 hourly, applied 17:00
  // service credits
  const char* fee = nullptr;
  const char* availability = nullptr;
  const char* service_period = nullptr;
  const char* override_reason = nullptr;
  // refunds
  const char* charge = nullptr;
  // retention offers
  const char* value = nullptr;  // the customer's value, USD
  const char* discount = nullptr;
  const char* monthly_fee = nullptr;
  int months = 0;
  bool changes_contract = false;
  // what happens
  std::vector<const char*> approvers = {};
  const char* outcome = "";  // auto_approved, needs_approval, blocked, or "refused" (declined by validation)
  const char* rule = "";
  std::vector<std::string> exceptions = {};
  std::vector<std::string> refusals = {};
  State state = State::applied;
  const char* granted = nullptr;
  std::vector<Post> posted = {};
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

RequestContent content_of(const Row& row) {
  RequestContent c;
  c.kind = row.kind;
  c.currency = Currency::of("USD");
  c.customer = {row.customer, row.tier, row.value ? std::optional<Money>(usd(row.value)) : std::nullopt};
  if (row.amount) c.amount = usd(row.amount);
  if (row.service_period) c.service_period = period(row.service_period);
  if (row.fee) c.claim.period_fee = usd(row.fee);
  if (row.availability) c.claim.measured_availability = D(row.availability);
  if (row.override_reason) c.claim.override_reason = row.override_reason;
  if (row.charge) c.claim.original_transaction = row.charge;
  if (row.discount) c.claim.discount = D(row.discount);
  if (row.monthly_fee) c.claim.monthly_fee = usd(row.monthly_fee);
  c.claim.months = row.months;
  c.claim.changes_contract = row.changes_contract;
  c.reason_code = "table";
  c.evidence = {"EV-1"};
  c.requester = "maria";
  c.team = "support";
  return c;
}

class DeskScenario : public ::testing::TestWithParam<Row> {};

TEST_P(DeskScenario, RoutesApprovesAndPostsAsTheTableSays) {
  const Row& row = GetParam();
  Ledger book;
  Desk desk(book);
  set_up(desk);
  const std::size_t outbox_before = desk.outbox().size();

  const std::string id = desk.submit(content_of(row), ts(row.submitted, 9)).id();
  {
    const RequestRecord& r = desk.get(id);
    EXPECT_EQ(codes(r, Severity::exception), row.exceptions);
    EXPECT_EQ(codes(r, Severity::refusal), row.refusals);
    if (std::string(row.outcome) == "refused") {
      // Declined by validation under the policy in force: never routed, the customer is told.
      EXPECT_EQ(r.state(), State::declined);
      EXPECT_EQ(r.policy_version, desk.policy().version);
      EXPECT_TRUE(r.route.policy_version.empty());
      ASSERT_EQ(desk.outbox().size(), outbox_before + 1);
      EXPECT_EQ(desk.outbox().back().event, "declined");
      EXPECT_EQ(desk.outbox().back().request, id);
      EXPECT_EQ(desk.outbox().back().customer, row.customer);
      EXPECT_TRUE(has_event(desk, id, "refused"));
    } else {
      EXPECT_EQ(amends::policy::to_string(r.route.outcome), row.outcome);
      EXPECT_EQ(r.route.rule, row.rule);
      EXPECT_EQ(r.policy_version, kVersion);
    }
    if (std::string(row.outcome) == "blocked") {
      EXPECT_EQ(r.state(), State::validated);
      EXPECT_NE(r.blocked.find("no rule of policy 2026-11-01"), std::string::npos) << r.blocked;
      EXPECT_THROW(desk.approve(id, "lena", ts(row.submitted, 9, 30)), approval_error);
    }
  }
  int hour = 10;
  for (const char* person : row.approvers) desk.approve(id, person, ts(row.submitted, hour++));
  if (desk.get(id).state() == State::approved) {
    const std::size_t entries_before = book.entry_count();
    desk.apply(id, "billing", ts(row.submitted, 17));
    const RequestRecord& r = desk.get(id);
    // The concession's entries, plus the completion of the budget reservation.
    EXPECT_EQ(book.entry_count(), entries_before + r.entries.size() + (r.reservation ? 1U : 0U));
    EXPECT_EQ(desk.outbox().back().event, "applied");
  }
  const RequestRecord& r = desk.get(id);
  EXPECT_EQ(r.state(), row.state);
  if (row.granted) {
    ASSERT_TRUE(r.amount.has_value());
    EXPECT_EQ(*r.amount, usd(row.granted));
  }
  EXPECT_EQ(postings_of(book, r.entries), lines(row.posted));
  EXPECT_TRUE(AuditTrail::verify(desk.audit().events()).ok);
}

std::string row_name(const ::testing::TestParamInfo<Row>& info) { return info.param.name; }

// Goodwill: customer C-100, USD, by maria of support. Applied on the day it
// was submitted: ContraRevenue:Goodwill / Liabilities:CustomerCredits:C-100.
const std::vector<Row> kGoodwill = {
    {.name = "starter_40_auto", .kind = Kind::goodwill, .customer = "C-100", .tier = "starter", .amount = "40.00",
     .outcome = "auto_approved", .rule = "small goodwill", .granted = "40.00",
     .posted = {{"ContraRevenue:Goodwill", "40.00", "USD", "2026-11-05"},
                {"Liabilities:CustomerCredits:C-100", "-40.00", "USD", "2026-11-05"}}},
    {.name = "growth_50_at_the_band_ceiling_auto", .kind = Kind::goodwill, .customer = "C-100", .tier = "growth",
     .amount = "50.00", .outcome = "auto_approved", .rule = "small goodwill", .granted = "50.00",
     .posted = {{"ContraRevenue:Goodwill", "50.00", "USD", "2026-11-05"},
                {"Liabilities:CustomerCredits:C-100", "-50.00", "USD", "2026-11-05"}}},
    {.name = "growth_50_01_goes_to_a_team_lead", .kind = Kind::goodwill, .customer = "C-100", .tier = "growth",
     .amount = "50.01", .approvers = {"omar"}, .outcome = "needs_approval", .rule = "goodwill", .granted = "50.01",
     .posted = {{"ContraRevenue:Goodwill", "50.01", "USD", "2026-11-05"},
                {"Liabilities:CustomerCredits:C-100", "-50.01", "USD", "2026-11-05"}}},
    {.name = "starter_120_above_tier_cap_needs_finance_too", .kind = Kind::goodwill, .customer = "C-100",
     .tier = "starter", .amount = "120.00", .approvers = {"lena", "ines"}, .outcome = "needs_approval",
     .rule = "goodwill", .exceptions = {"above_tier_cap"}, .granted = "120.00",
     .posted = {{"ContraRevenue:Goodwill", "120.00", "USD", "2026-11-05"},
                {"Liabilities:CustomerCredits:C-100", "-120.00", "USD", "2026-11-05"}}},
    {.name = "enterprise_800_team_lead_then_finance", .kind = Kind::goodwill, .customer = "C-100",
     .tier = "enterprise", .amount = "800.00", .approvers = {"lena", "fatima"}, .outcome = "needs_approval",
     .rule = "large goodwill, enterprise", .granted = "800.00",
     .posted = {{"ContraRevenue:Goodwill", "800.00", "USD", "2026-11-05"},
                {"Liabilities:CustomerCredits:C-100", "-800.00", "USD", "2026-11-05"}}},
    {.name = "growth_800_no_rule_blocked", .kind = Kind::goodwill, .customer = "C-100", .tier = "growth",
     .amount = "800.00", .outcome = "blocked", .exceptions = {"above_tier_cap"}, .state = State::validated,
     .granted = "800.00"},
    {.name = "enterprise_6000_over_every_band_blocked", .kind = Kind::goodwill, .customer = "C-100",
     .tier = "enterprise", .amount = "6000.00", .outcome = "blocked", .exceptions = {"above_tier_cap"},
     .state = State::validated},
    {.name = "tier_without_terms_refused", .kind = Kind::goodwill, .customer = "C-100", .tier = "trial",
     .amount = "10.00", .outcome = "refused", .refusals = {"no_terms_for_tier"}, .state = State::declined},
};

// Service credits: customer C-200 (enterprise), service period 2026-10,
// AWS-style tiers (below 99.99% 10%, below 99% 30%, below 95% 100%, minimum
// credit 1.00, claims within 60 days of the period's end: until 2026-12-30).
// October is open, so the credit is posted in it, on its last day.
const std::vector<Row> kServiceCredits = {
    {.name = "availability_99_95_earns_10_percent", .kind = Kind::service_credit, .customer = "C-200",
     .tier = "enterprise", .fee = "1000.00", .availability = "0.9995", .service_period = "2026-10",
     .outcome = "auto_approved", .rule = "service credit in policy", .granted = "100.00",
     .posted = {{"ContraRevenue:ServiceCredits", "100.00", "USD", "2026-10-31"},
                {"Liabilities:CustomerCredits:C-200", "-100.00", "USD", "2026-10-31"}}},
    {.name = "availability_98_5_earns_30_percent", .kind = Kind::service_credit, .customer = "C-200",
     .tier = "enterprise", .fee = "1000.00", .availability = "0.985", .service_period = "2026-10",
     .outcome = "auto_approved", .rule = "service credit in policy", .granted = "300.00",
     .posted = {{"ContraRevenue:ServiceCredits", "300.00", "USD", "2026-10-31"},
                {"Liabilities:CustomerCredits:C-200", "-300.00", "USD", "2026-10-31"}}},
    {.name = "availability_94_on_3000_fee_is_reviewed", .kind = Kind::service_credit, .customer = "C-200",
     .tier = "enterprise", .fee = "3000.00", .availability = "0.94", .service_period = "2026-10",
     .approvers = {"omar"}, .outcome = "needs_approval", .rule = "service credit review", .granted = "3000.00",
     .posted = {{"ContraRevenue:ServiceCredits", "3000.00", "USD", "2026-10-31"},
                {"Liabilities:CustomerCredits:C-200", "-3000.00", "USD", "2026-10-31"}}},
    {.name = "requested_below_computed_auto", .kind = Kind::service_credit, .customer = "C-200",
     .tier = "enterprise", .amount = "80.00", .fee = "1000.00", .availability = "0.9995",
     .service_period = "2026-10", .outcome = "auto_approved", .rule = "service credit in policy", .granted = "80.00",
     .posted = {{"ContraRevenue:ServiceCredits", "80.00", "USD", "2026-10-31"},
                {"Liabilities:CustomerCredits:C-200", "-80.00", "USD", "2026-10-31"}}},
    {.name = "requested_above_computed_is_an_exception", .kind = Kind::service_credit, .customer = "C-200",
     .tier = "enterprise", .amount = "150.00", .fee = "1000.00", .availability = "0.9995",
     .service_period = "2026-10", .approvers = {"lena", "fatima"}, .outcome = "needs_approval",
     .rule = "service credit review", .exceptions = {"above_computed_amount"}, .granted = "150.00",
     .posted = {{"ContraRevenue:ServiceCredits", "150.00", "USD", "2026-10-31"},
                {"Liabilities:CustomerCredits:C-200", "-150.00", "USD", "2026-10-31"}}},
    {.name = "at_99_99_no_breach_nothing_owed", .kind = Kind::service_credit, .customer = "C-200",
     .tier = "enterprise", .fee = "1000.00", .availability = "0.9999", .service_period = "2026-10",
     .outcome = "refused", .state = State::declined},
    {.name = "below_minimum_credit_nothing_owed", .kind = Kind::service_credit, .customer = "C-200",
     .tier = "enterprise", .fee = "5.00", .availability = "0.999", .service_period = "2026-10",
     .outcome = "refused", .state = State::declined},
    {.name = "last_day_of_claim_window", .kind = Kind::service_credit, .customer = "C-200", .tier = "enterprise",
     .submitted = "2026-12-30", .fee = "1000.00", .availability = "0.9995", .service_period = "2026-10",
     .outcome = "auto_approved", .rule = "service credit in policy", .granted = "100.00",
     .posted = {{"ContraRevenue:ServiceCredits", "100.00", "USD", "2026-10-31"},
                {"Liabilities:CustomerCredits:C-200", "-100.00", "USD", "2026-10-31"}}},
    {.name = "outside_claim_window_declined", .kind = Kind::service_credit, .customer = "C-200",
     .tier = "enterprise", .submitted = "2026-12-31", .fee = "1000.00", .availability = "0.9995",
     .service_period = "2026-10", .outcome = "refused", .refusals = {"outside_claim_window"},
     .state = State::declined},
    // With an override asked for, the exception role decides (finance; on
    // 2026-12-31 fatima's authority is with raj, ines approves).
    {.name = "outside_claim_window_with_override_goes_to_finance", .kind = Kind::service_credit,
     .customer = "C-200", .tier = "enterprise", .submitted = "2026-12-31", .fee = "1000.00",
     .availability = "0.9995", .service_period = "2026-10",
     .override_reason = "the customer's MSP filed the outage report late", .approvers = {"lena", "ines"},
     .outcome = "needs_approval", .rule = "service credit review", .exceptions = {"outside_claim_window"},
     .granted = "100.00",
     .posted = {{"ContraRevenue:ServiceCredits", "100.00", "USD", "2026-10-31"},
                {"Liabilities:CustomerCredits:C-200", "-100.00", "USD", "2026-10-31"}}},
};

// Refunds: customer C-300. CH-1 500.00 on 2026-11-01 (30-day window: until
// 2026-12-01), CH-2 300.00 with 250.00 refunded in billing, CH-3 3000.00.
// ContraRevenue:Refunds / Liabilities:RefundsPayable, on the day applied.
const std::vector<Row> kRefunds = {
    {.name = "refund_80_auto", .kind = Kind::refund, .customer = "C-300", .tier = "growth", .amount = "80.00",
     .charge = "CH-1", .outcome = "auto_approved", .rule = "small refund", .granted = "80.00",
     .posted = {{"ContraRevenue:Refunds", "80.00", "USD", "2026-11-05"},
                {"Liabilities:RefundsPayable", "-80.00", "USD", "2026-11-05"}}},
    {.name = "refund_100_at_the_band_ceiling_auto", .kind = Kind::refund, .customer = "C-300", .tier = "growth",
     .amount = "100.00", .charge = "CH-1", .outcome = "auto_approved", .rule = "small refund", .granted = "100.00",
     .posted = {{"ContraRevenue:Refunds", "100.00", "USD", "2026-11-05"},
                {"Liabilities:RefundsPayable", "-100.00", "USD", "2026-11-05"}}},
    {.name = "refund_of_the_whole_charge_goes_to_a_team_lead", .kind = Kind::refund, .customer = "C-300",
     .tier = "growth", .amount = "500.00", .charge = "CH-1", .approvers = {"omar"}, .outcome = "needs_approval",
     .rule = "refund", .granted = "500.00",
     .posted = {{"ContraRevenue:Refunds", "500.00", "USD", "2026-11-05"},
                {"Liabilities:RefundsPayable", "-500.00", "USD", "2026-11-05"}}},
    {.name = "above_refundable_remainder_declined", .kind = Kind::refund, .customer = "C-300", .tier = "growth",
     .amount = "500.01", .charge = "CH-1", .outcome = "refused", .refusals = {"above_refundable_remainder"},
     .state = State::declined},
    {.name = "partly_refunded_in_billing_remainder_50", .kind = Kind::refund, .customer = "C-300", .tier = "growth",
     .amount = "60.00", .charge = "CH-2", .outcome = "refused", .refusals = {"above_refundable_remainder"},
     .state = State::declined},
    {.name = "partly_refunded_in_billing_within_remainder", .kind = Kind::refund, .customer = "C-300",
     .tier = "growth", .amount = "50.00", .charge = "CH-2", .outcome = "auto_approved", .rule = "small refund",
     .granted = "50.00",
     .posted = {{"ContraRevenue:Refunds", "50.00", "USD", "2026-11-05"},
                {"Liabilities:RefundsPayable", "-50.00", "USD", "2026-11-05"}}},
    {.name = "last_day_of_return_window_auto", .kind = Kind::refund, .customer = "C-300", .tier = "growth",
     .amount = "80.00", .submitted = "2026-12-01", .charge = "CH-1", .outcome = "auto_approved",
     .rule = "small refund", .granted = "80.00",
     .posted = {{"ContraRevenue:Refunds", "80.00", "USD", "2026-12-01"},
                {"Liabilities:RefundsPayable", "-80.00", "USD", "2026-12-01"}}},
    {.name = "outside_return_window_is_an_exception", .kind = Kind::refund, .customer = "C-300", .tier = "growth",
     .amount = "80.00", .submitted = "2026-12-02", .charge = "CH-1", .approvers = {"lena", "fatima"},
     .outcome = "needs_approval", .rule = "refund", .exceptions = {"outside_return_window"}, .granted = "80.00",
     .posted = {{"ContraRevenue:Refunds", "80.00", "USD", "2026-12-02"},
                {"Liabilities:RefundsPayable", "-80.00", "USD", "2026-12-02"}}},
    {.name = "refund_2500_over_every_band_blocked", .kind = Kind::refund, .customer = "C-300", .tier = "growth",
     .amount = "2500.00", .charge = "CH-3", .outcome = "blocked", .state = State::validated},
    {.name = "unknown_charge_refused", .kind = Kind::refund, .customer = "C-300", .tier = "growth",
     .amount = "20.00", .charge = "CH-9", .outcome = "refused", .refusals = {"no_original_transaction"},
     .state = State::declined},
    {.name = "another_customers_charge_refused", .kind = Kind::refund, .customer = "C-999", .tier = "growth",
     .amount = "20.00", .charge = "CH-1", .outcome = "refused", .refusals = {"other_customer"},
     .state = State::declined},
};

// Retention offers: customer C-400, value 12,000.00 USD (25% share: 3,000.00).
// A discount posts once per invoiced month: the first on the day applied, the
// next on the first of each following month.
// ContraRevenue:RetentionDiscounts / Assets:Receivables:C-400.
const std::vector<Row> kRetention = {
    {.name = "discount_20_percent_of_250_for_3_months", .kind = Kind::retention_offer, .customer = "C-400",
     .tier = "growth", .value = "12000.00", .discount = "0.20", .monthly_fee = "250.00", .months = 3,
     .approvers = {"fatima", "sol"}, .outcome = "needs_approval", .rule = "retention", .granted = "150.00",
     .posted = {{"ContraRevenue:RetentionDiscounts", "50.00", "USD", "2026-11-05"},
                {"Assets:Receivables:C-400", "-50.00", "USD", "2026-11-05"},
                {"ContraRevenue:RetentionDiscounts", "50.00", "USD", "2026-12-01"},
                {"Assets:Receivables:C-400", "-50.00", "USD", "2026-12-01"},
                {"ContraRevenue:RetentionDiscounts", "50.00", "USD", "2027-01-01"},
                {"Assets:Receivables:C-400", "-50.00", "USD", "2027-01-01"}}},
    // 10% of 99.85 is 9.985: half-even to 9.98 a month, 29.94 in all.
    {.name = "discount_rounds_half_even_per_month", .kind = Kind::retention_offer, .customer = "C-400",
     .tier = "growth", .value = "12000.00", .discount = "0.10", .monthly_fee = "99.85", .months = 3,
     .approvers = {"ines", "sol"}, .outcome = "needs_approval", .rule = "retention", .granted = "29.94",
     .posted = {{"ContraRevenue:RetentionDiscounts", "9.98", "USD", "2026-11-05"},
                {"Assets:Receivables:C-400", "-9.98", "USD", "2026-11-05"},
                {"ContraRevenue:RetentionDiscounts", "9.98", "USD", "2026-12-01"},
                {"Assets:Receivables:C-400", "-9.98", "USD", "2026-12-01"},
                {"ContraRevenue:RetentionDiscounts", "9.98", "USD", "2027-01-01"},
                {"Assets:Receivables:C-400", "-9.98", "USD", "2027-01-01"}}},
    {.name = "one_month_discount_posts_once", .kind = Kind::retention_offer, .customer = "C-400", .tier = "growth",
     .value = "12000.00", .discount = "0.50", .monthly_fee = "100.00", .months = 1, .approvers = {"fatima", "sol"},
     .outcome = "needs_approval", .rule = "retention", .granted = "50.00",
     .posted = {{"ContraRevenue:RetentionDiscounts", "50.00", "USD", "2026-11-05"},
                {"Assets:Receivables:C-400", "-50.00", "USD", "2026-11-05"}}},
    {.name = "one_off_credit_at_the_value_share_limit", .kind = Kind::retention_offer, .customer = "C-400",
     .tier = "growth", .amount = "3000.00", .value = "12000.00", .approvers = {"fatima", "sol"},
     .outcome = "needs_approval", .rule = "retention", .granted = "3000.00",
     .posted = {{"ContraRevenue:RetentionDiscounts", "3000.00", "USD", "2026-11-05"},
                {"Assets:Receivables:C-400", "-3000.00", "USD", "2026-11-05"}}},
    {.name = "credit_above_value_share_needs_finance_again", .kind = Kind::retention_offer, .customer = "C-400",
     .tier = "growth", .amount = "3500.00", .value = "12000.00", .approvers = {"fatima", "sol", "ines"},
     .outcome = "needs_approval", .rule = "retention", .exceptions = {"above_value_share"}, .granted = "3500.00",
     .posted = {{"ContraRevenue:RetentionDiscounts", "3500.00", "USD", "2026-11-05"},
                {"Assets:Receivables:C-400", "-3500.00", "USD", "2026-11-05"}}},
    {.name = "contract_change_needs_review", .kind = Kind::retention_offer, .customer = "C-400", .tier = "growth",
     .value = "12000.00", .discount = "0.20", .monthly_fee = "250.00", .months = 2, .changes_contract = true,
     .approvers = {"ines", "sol", "fatima"}, .outcome = "needs_approval", .rule = "retention",
     .exceptions = {"needs_legal_review"}, .granted = "100.00",
     .posted = {{"ContraRevenue:RetentionDiscounts", "50.00", "USD", "2026-11-05"},
                {"Assets:Receivables:C-400", "-50.00", "USD", "2026-11-05"},
                {"ContraRevenue:RetentionDiscounts", "50.00", "USD", "2026-12-01"},
                {"Assets:Receivables:C-400", "-50.00", "USD", "2026-12-01"}}},
    {.name = "no_customer_value_refused", .kind = Kind::retention_offer, .customer = "C-400", .tier = "growth",
     .amount = "100.00", .outcome = "refused", .refusals = {"no_customer_value"}, .state = State::declined},
    {.name = "discount_without_months_refused", .kind = Kind::retention_offer, .customer = "C-400",
     .tier = "growth", .value = "12000.00", .discount = "0.20", .monthly_fee = "250.00", .months = 0,
     .outcome = "refused", .refusals = {"malformed_offer"}, .state = State::declined},
};

INSTANTIATE_TEST_SUITE_P(DeskGoodwill, DeskScenario, ::testing::ValuesIn(kGoodwill), row_name);
INSTANTIATE_TEST_SUITE_P(DeskServiceCredit, DeskScenario, ::testing::ValuesIn(kServiceCredits), row_name);
INSTANTIATE_TEST_SUITE_P(DeskRefund, DeskScenario, ::testing::ValuesIn(kRefunds), row_name);
INSTANTIATE_TEST_SUITE_P(DeskRetention, DeskScenario, ::testing::ValuesIn(kRetention), row_name);

TEST_F(DeskTest, ABudgetStepIsNeverLeftWithoutAnApprover) {
  // chen, the only cfo, completes an escalated step; the request is then over
  // its soft budget, whose approver is the cfo too. Someone must still be
  // able to finish it (here: chen's approval already covers the amount).
  desk.allocate("soft", Kind::goodwill, period("2026-11"), D("500.00"), false, day("2026-11-01"));
  const std::string id = submit(goodwill("800.00", "enterprise", "soft"), ts("2026-11-05", 9));
  desk.approve(id, "lena", ts("2026-11-05", 10));
  ASSERT_EQ(desk.escalate_due(ts("2026-11-06", 10)), std::vector<std::string>{id});
  desk.approve(id, "chen", ts("2026-11-06", 11));
  const RequestRecord& r = desk.get(id);
  if (r.state() == State::pending_approval) {
    EXPECT_FALSE(r.chain->waiting_for(day("2026-11-06")).empty()) << desk.explain(id);
  } else {
    EXPECT_EQ(r.state(), State::approved);
    EXPECT_EQ(desk.utilisation("soft", Kind::goodwill, period("2026-11")).available, D("-300.00"));
  }
}

TEST_F(DeskTest, ACustomerIdTheAccountsCannotCarryIsRefusedAtSubmission) {
  // Customer credits are kept per customer in Liabilities:CustomerCredits:<id>;
  // an id with ':' can't name one, so the request could never be applied.
  const Snapshot before = snap();
  RequestContent c = goodwill("40.00", "growth");
  c.customer.id = "ACME:EU";
  EXPECT_THROW(desk.submit(c, ts("2026-11-05", 9)), amends::invalid_argument);
  EXPECT_EQ(snap(), before);
}

// ================================================================ refusals and notifications

TEST_F(DeskTest, ARefusedRefundTellsTheCustomerWhy) {
  RequestContent c = content_of(kRefunds[3]);  // 500.01 of CH-1's 500.00
  const std::string id = submit(c, ts("2026-11-05", 9));
  EXPECT_EQ(state(id), State::declined);
  ASSERT_EQ(desk.outbox().size(), 1U);
  const auto& n = desk.outbox()[0];
  EXPECT_EQ(n.id, 1);
  EXPECT_EQ(n.request, id);
  EXPECT_EQ(n.customer, "C-300");
  EXPECT_EQ(n.event, "declined");
  EXPECT_NE(n.body.find("500.00"), std::string::npos) << n.body;  // the remainder it could have had
  EXPECT_EQ(events_of(desk, id), (std::vector<std::string>{"created", "submitted", "refused", "declined", "notified"}));
  EXPECT_EQ(desk.get(id).reservation, EntryId{});
}

TEST_F(DeskTest, ARefundInFlightCountsAgainstTheRemainder) {
  RequestContent first = content_of(kRefunds[0]);
  first.amount = usd("400.00");  // team lead: pending
  const std::string a = submit(first, ts("2026-11-05", 9));
  ASSERT_EQ(state(a), State::pending_approval);
  RequestContent second = content_of(kRefunds[0]);
  second.amount = usd("100.01");  // only 100.00 of CH-1 is left
  const std::string b = submit(second, ts("2026-11-05", 10));
  EXPECT_EQ(state(b), State::declined);
  EXPECT_EQ(codes(desk.get(b), Severity::refusal), (std::vector<std::string>{"above_refundable_remainder"}));
  second.amount = usd("100.00");
  const std::string c = submit(second, ts("2026-11-05", 11));
  EXPECT_EQ(state(c), State::approved);
  // Once the first is declined, its 400.00 is refundable again.
  desk.decline(a, "lena", ts("2026-11-05", 12), "refund the shipping only");
  second.amount = usd("400.00");
  const std::string d = submit(second, ts("2026-11-05", 13));
  EXPECT_EQ(state(d), State::pending_approval);
}

TEST_F(DeskTest, AnApproverDeclinesWithAlternatives) {
  const std::string id = submit(goodwill("200.00", "growth"), ts("2026-11-05", 9));
  EXPECT_THROW(desk.decline(id, "omar", ts("2026-11-05", 10), ""), amends::invalid_argument);
  EXPECT_THROW(desk.decline(id, "ines", ts("2026-11-05", 10), "no"), approval_error);  // not a team lead
  desk.decline(id, "omar", ts("2026-11-05", 10), "outside goodwill guidelines", {"a 50.00 credit", "a free month"});
  EXPECT_EQ(state(id), State::declined);
  ASSERT_EQ(desk.outbox().size(), 1U);
  const auto& n = desk.outbox().back();
  EXPECT_EQ(n.event, "declined");
  EXPECT_NE(n.body.find("outside goodwill guidelines"), std::string::npos) << n.body;
  EXPECT_NE(n.body.find("a 50.00 credit"), std::string::npos) << n.body;
  EXPECT_NE(n.body.find("a free month"), std::string::npos) << n.body;
  EXPECT_EQ(desk.get(id).alternatives, (std::vector<std::string>{"a 50.00 credit", "a free month"}));
}

// ================================================================ separation of duties

TEST_F(DeskTest, TheRequesterCannotApproveOrDeclineTheirOwnRequest) {
  const std::string id = submit(goodwill("200.00", "growth", "support", "lena"), ts("2026-11-05", 9));
  ASSERT_EQ(state(id), State::pending_approval);
  EXPECT_EQ(desk.get(id).chain->waiting_for(day("2026-11-05")), (std::vector<std::string>{"omar", "fatima"}));
  EXPECT_THROW(desk.approve(id, "lena", ts("2026-11-05", 10)), approval_error);
  EXPECT_THROW(desk.decline(id, "lena", ts("2026-11-05", 10), "never mind"), approval_error);
  EXPECT_TRUE(desk.pending_for("lena", day("2026-11-05")).empty());
  desk.approve(id, "omar", ts("2026-11-05", 11));
  EXPECT_EQ(state(id), State::approved);
}

TEST_F(DeskTest, NobodyApprovesTwiceAcrossSteps) {
  // fatima is a team lead and in finance: she approves once.
  const std::string id = submit(goodwill("800.00", "enterprise"), ts("2026-11-05", 9));
  desk.approve(id, "fatima", ts("2026-11-05", 10));
  EXPECT_EQ(desk.get(id).chain->current_step(), 1U);
  EXPECT_EQ(desk.get(id).chain->steps()[0].approvals[0].role, "team_lead");
  EXPECT_THROW(desk.approve(id, "fatima", ts("2026-11-05", 11)), approval_error);
  EXPECT_TRUE(desk.pending_for("fatima", day("2026-11-05")).empty());
  EXPECT_EQ(desk.pending_for("ines", day("2026-11-05")), std::vector<std::string>{id});
  EXPECT_THROW(desk.approve(id, "omar", ts("2026-11-05", 11)), approval_error);  // a lead, not finance
  desk.approve(id, "ines", ts("2026-11-05", 12));
  EXPECT_EQ(state(id), State::approved);
}

TEST_F(DeskTest, APersonWithBothRolesOfAnAllOfStepApprovesOnce) {
  // ines is in finance and strategy; the retention step needs both, from two people.
  const std::string id = submit(retention("0.20", "250.00", 3), ts("2026-11-05", 9));
  desk.approve(id, "ines", ts("2026-11-05", 10));
  EXPECT_EQ(state(id), State::pending_approval);
  EXPECT_THROW(desk.approve(id, "ines", ts("2026-11-05", 11)), approval_error);
  EXPECT_THROW(desk.approve(id, "fatima", ts("2026-11-05", 11)), approval_error);  // finance is done
  EXPECT_EQ(desk.get(id).chain->waiting_for(day("2026-11-05")), std::vector<std::string>{"sol"});
  desk.approve(id, "sol", ts("2026-11-05", 12));
  EXPECT_EQ(state(id), State::approved);
  const auto& approvals = desk.get(id).chain->steps()[0].approvals;
  ASSERT_EQ(approvals.size(), 2U);
  EXPECT_EQ(approvals[0].person + ":" + approvals[0].role, "ines:finance");
  EXPECT_EQ(approvals[1].person + ":" + approvals[1].role, "sol:strategy");
}

// ================================================================ delegation and escalation

TEST_F(DeskTest, DelegationHoldsForItsDateRangeOnly) {
  // fatima's authority is with raj from 2026-12-20 to 2027-01-05.
  const std::string id = submit(goodwill("800.00", "enterprise"), ts("2026-12-21", 9));
  desk.approve(id, "lena", ts("2026-12-21", 10));
  EXPECT_EQ(desk.get(id).chain->waiting_for(day("2026-12-21")), (std::vector<std::string>{"raj", "ines"}));
  EXPECT_EQ(desk.pending_for("raj", day("2026-12-21")), std::vector<std::string>{id});
  EXPECT_EQ(desk.pending_for("raj", day("2027-01-05")), std::vector<std::string>{id});
  EXPECT_TRUE(desk.pending_for("raj", day("2027-01-06")).empty());
  EXPECT_TRUE(desk.pending_for("raj", day("2026-12-19")).empty());
  EXPECT_TRUE(desk.pending_for("fatima", day("2026-12-21")).empty());
  EXPECT_EQ(desk.pending_for("fatima", day("2027-01-06")), std::vector<std::string>{id});
  EXPECT_THROW(desk.approve(id, "fatima", ts("2026-12-21", 11)), approval_error);
  desk.approve(id, "raj", ts("2026-12-22", 9), "covering for fatima");
  EXPECT_EQ(state(id), State::approved);
  const auto& given = desk.get(id).chain->steps()[1].approvals.at(0);
  EXPECT_EQ(given.person, "raj");
  EXPECT_EQ(given.role, "finance");
  EXPECT_TRUE(given.as_delegate);
  // Reserved against the December budget (the month it was submitted in).
  EXPECT_EQ(desk.get(id).budget_period, period("2026-12"));
  EXPECT_EQ(desk.utilisation("support", Kind::goodwill, period("2026-12")).reserved, D("800.00"));
}

TEST_F(DeskTest, DelegateOutsideTheRangeCannotApprove) {
  const std::string id = submit(goodwill("800.00", "enterprise"), ts("2027-01-05", 9));
  desk.approve(id, "omar", ts("2027-01-05", 10));
  EXPECT_THROW(desk.approve(id, "raj", ts("2027-01-06", 0, 1)), approval_error);
  desk.approve(id, "fatima", ts("2027-01-06", 9));
  EXPECT_EQ(state(id), State::approved);
  EXPECT_FALSE(desk.get(id).chain->steps()[1].approvals.at(0).as_delegate);
}

TEST_F(DeskTest, AnOverdueStepEscalatesAndTheEscalationRoleCompletesIt) {
  const std::string id = submit(goodwill("800.00", "enterprise"), ts("2026-11-05", 9));
  // Step 1 has no escalation: nothing escalates however long it waits.
  EXPECT_TRUE(desk.escalate_due(ts("2026-11-08", 9)).empty());
  desk.approve(id, "lena", ts("2026-11-08", 10));  // finance's step starts at 10:00
  EXPECT_TRUE(desk.pending_for("chen", day("2026-11-08")).empty());
  EXPECT_TRUE(desk.escalate_due(ts("2026-11-09", 9, 59)).empty());  // 23 h 59 min
  EXPECT_EQ(desk.escalate_due(ts("2026-11-09", 10)), std::vector<std::string>{id});
  EXPECT_TRUE(desk.get(id).chain->steps()[1].escalated);
  EXPECT_TRUE(desk.escalate_due(ts("2026-11-10", 10)).empty());  // once
  EXPECT_TRUE(has_event(desk, id, "escalated"));
  EXPECT_EQ(desk.pending_for("chen", day("2026-11-10")), std::vector<std::string>{id});
  EXPECT_EQ(desk.pending_for("ines", day("2026-11-10")), std::vector<std::string>{id});  // finance still may
  desk.approve(id, "chen", ts("2026-11-10", 11));
  EXPECT_EQ(state(id), State::approved);
  EXPECT_EQ(desk.get(id).chain->steps()[1].approvals.at(0).role, "cfo");
  EXPECT_NE(desk.explain(id).find("escalated to cfo"), std::string::npos) << desk.explain(id);
}

// ================================================================ budgets

TEST_F(DeskTest, AHardBudgetRefusesAnApprovalAndNothingChanges) {
  desk.allocate("tiny", Kind::goodwill, period("2026-11"), D("80.00"), true, day("2026-11-01"));
  RequestContent small = goodwill("40.00", "growth", "tiny");
  const std::string a = submit(small, ts("2026-11-05", 9));
  ASSERT_EQ(state(a), State::approved);
  auto u = desk.utilisation("tiny", Kind::goodwill, period("2026-11"));
  EXPECT_EQ(u.reserved, D("40.00"));
  EXPECT_EQ(u.available, D("40.00"));
  const std::string b = submit(goodwill("70.00", "growth", "tiny"), ts("2026-11-05", 10));
  ASSERT_EQ(state(b), State::pending_approval);

  const Snapshot before = snap();
  EXPECT_THROW(desk.approve(b, "lena", ts("2026-11-05", 11)), amends::budget_exceeded);
  EXPECT_EQ(snap(), before);
  EXPECT_EQ(state(b), State::pending_approval);
  EXPECT_TRUE(desk.get(b).chain->steps()[0].approvals.empty());
  EXPECT_EQ(desk.utilisation("tiny", Kind::goodwill, period("2026-11")).available, D("40.00"));

  // An auto-approval over the budget (45.00 of 40.00) is refused as a whole: no request is made.
  EXPECT_THROW(desk.submit(goodwill("45.00", "growth", "tiny"), ts("2026-11-05", 12)), amends::budget_exceeded);
  EXPECT_THROW(desk.submit(goodwill("45.00", "growth", "tiny"), ts("2026-11-05", 12)), amends::balance_limit_exceeded);
  EXPECT_EQ(snap(), before);

  // With 40.00 more allocated (80.00 free) the same approval goes through.
  desk.allocate("tiny", Kind::goodwill, period("2026-11"), D("40.00"), true, day("2026-11-05"));
  desk.approve(b, "lena", ts("2026-11-05", 13));
  EXPECT_EQ(state(b), State::approved);
  u = desk.utilisation("tiny", Kind::goodwill, period("2026-11"));
  EXPECT_EQ(u.allocated, D("120.00"));
  EXPECT_EQ(u.reserved, D("110.00"));
  EXPECT_EQ(u.available, D("10.00"));
}

TEST_F(DeskTest, NoBudgetAtAllIsBudgetExceeded) {
  const std::string id = submit(goodwill("70.00", "growth", "nobudget"), ts("2026-11-05", 9));
  EXPECT_THROW(desk.approve(id, "lena", ts("2026-11-05", 10)), amends::budget_exceeded);
  EXPECT_EQ(state(id), State::pending_approval);
}

TEST_F(DeskTest, ApplyingConsumesTheReservationAndCancellingReleasesIt) {
  const std::string a = submit(goodwill("40.00", "growth"), ts("2026-11-05", 9));
  const std::string b = submit(goodwill("30.00", "growth"), ts("2026-11-05", 9));
  auto u = desk.utilisation("support", Kind::goodwill, period("2026-11"));
  EXPECT_EQ(u.reserved, D("70.00"));
  EXPECT_EQ(u.available, D("99930.00"));
  desk.apply(a, "billing", ts("2026-11-05", 10));
  // b is approved (automatically): its requester no longer cancels it; the exception role does.
  EXPECT_THROW(desk.cancel(b, "maria", ts("2026-11-05", 11), "customer churned anyway"), approval_error);
  EXPECT_THROW(desk.cancel(b, "fatima", ts("2026-11-05", 11), " "), amends::invalid_argument);
  desk.cancel(b, "fatima", ts("2026-11-05", 11), "customer churned anyway");
  u = desk.utilisation("support", Kind::goodwill, period("2026-11"));
  EXPECT_EQ(u.consumed, D("40.00"));
  EXPECT_EQ(u.reserved, D("0"));
  EXPECT_EQ(u.available, D("99960.00"));
  EXPECT_EQ(book.status_of(desk.get(a).reservation), EntryStatus::pending_posted);
  EXPECT_EQ(book.status_of(desk.get(b).reservation), EntryStatus::pending_voided);
  EXPECT_EQ(state(b), State::cancelled);
  desk.reconcile(a, "billing", ts("2026-11-06", 9), "CN-2026-0042");
  EXPECT_EQ(state(a), State::reconciled);
  // An approved request that is never applied expires, and its 25.00 goes back.
  const std::string c = submit(goodwill("25.00", "growth"), ts("2026-11-06", 10));
  EXPECT_EQ(desk.utilisation("support", Kind::goodwill, period("2026-11")).available, D("99935.00"));
  desk.expire(c, ts("2026-12-06", 10), "not applied within 30 days");
  EXPECT_EQ(state(c), State::expired);
  EXPECT_EQ(book.status_of(desk.get(c).reservation), EntryStatus::pending_voided);
  EXPECT_EQ(desk.utilisation("support", Kind::goodwill, period("2026-11")).available, D("99960.00"));
}

TEST_F(DeskTest, OverASoftBudgetTheBudgetRoleApprovesToo) {
  desk.allocate("soft", Kind::goodwill, period("2026-11"), D("100.00"), false, day("2026-11-01"));
  const std::string id = submit(goodwill("150.00", "growth", "soft"), ts("2026-11-05", 9));
  desk.approve(id, "lena", ts("2026-11-05", 10));
  const RequestRecord& r = desk.get(id);
  EXPECT_EQ(r.state(), State::pending_approval);
  EXPECT_TRUE(r.budget_escalated);
  ASSERT_EQ(r.chain->steps().size(), 2U);
  EXPECT_EQ(r.chain->steps()[1].step.roles, std::vector<std::string>{"cfo"});
  EXPECT_EQ(r.reservation, EntryId{});
  EXPECT_TRUE(has_event(desk, id, "budget_escalated"));
  EXPECT_EQ(desk.pending_for("chen", day("2026-11-05")), std::vector<std::string>{id});
  desk.approve(id, "chen", ts("2026-11-05", 11));
  EXPECT_EQ(state(id), State::approved);
  EXPECT_TRUE(has_event(desk, id, "over_budget"));
  const auto u = desk.utilisation("soft", Kind::goodwill, period("2026-11"));
  EXPECT_EQ(u.reserved, D("150.00"));
  EXPECT_EQ(u.available, D("-50.00"));
  desk.apply(id, "billing", ts("2026-11-05", 12));
  EXPECT_EQ(postings_of(book, desk.get(id).entries),
            lines({{"ContraRevenue:Goodwill", "150.00", "USD", "2026-11-05"},
                   {"Liabilities:CustomerCredits:C-100", "-150.00", "USD", "2026-11-05"}}));
}

TEST_F(DeskTest, AnAutoApprovalOverASoftBudgetIsRecorded) {
  desk.allocate("soft", Kind::goodwill, period("2026-11"), D("30.00"), false, day("2026-11-01"));
  const std::string id = submit(goodwill("40.00", "growth", "soft"), ts("2026-11-05", 9));
  EXPECT_EQ(state(id), State::approved);
  EXPECT_TRUE(has_event(desk, id, "over_budget"));
  EXPECT_EQ(desk.utilisation("soft", Kind::goodwill, period("2026-11")).available, D("-10.00"));
}

// ================================================================ blocked requests

TEST_F(DeskTest, ABlockedRequestWaitsValidatedWithItsReason) {
  const std::string id = submit(goodwill("800.00", "growth"), ts("2026-11-05", 9));
  const RequestRecord& r = desk.get(id);
  EXPECT_EQ(r.state(), State::validated);
  EXPECT_EQ(r.route.outcome, amends::policy::Outcome::blocked);
  for (const char* part : {"no rule of policy 2026-11-01", "goodwill", "800.00 USD", "tier growth"})
    EXPECT_NE(r.blocked.find(part), std::string::npos) << part << " in: " << r.blocked;
  EXPECT_FALSE(r.chain.has_value());
  EXPECT_TRUE(has_event(desk, id, "blocked"));
  for (const char* person : {"lena", "fatima", "chen"}) {
    EXPECT_THROW(desk.approve(id, person, ts("2026-11-05", 10)), approval_error) << person;
    EXPECT_TRUE(desk.pending_for(person, day("2026-11-05")).empty()) << person;
  }
  EXPECT_THROW(desk.apply(id, "billing", ts("2026-11-05", 10)), amends::request_state_error);
  EXPECT_EQ(desk.utilisation("support", Kind::goodwill, period("2026-11")).reserved, D("0"));
  // Someone other than the requester can decline it.
  desk.decline(id, "fatima", ts("2026-11-05", 11), "over the growth cap");
  EXPECT_EQ(state(id), State::declined);
}

// ================================================================ periods

TEST_F(DeskTest, AClosedServicePeriodPostsInTheFirstOpenPeriodAsAnAdjustment) {
  book.set_period_state(period("2026-10"), PeriodState::closed);
  const std::string id = submit(service_credit("1000.00", "0.9995"), ts("2026-11-05", 9));
  desk.apply(id, "billing", ts("2026-11-05", 10));
  const RequestRecord& r = desk.get(id);
  EXPECT_TRUE(r.out_of_period);
  EXPECT_EQ(r.posting_period, period("2026-11"));
  EXPECT_EQ(postings_of(book, r.entries),
            lines({{"ContraRevenue:ServiceCredits", "100.00", "USD", "2026-11-05"},
                   {"Liabilities:CustomerCredits:C-200", "-100.00", "USD", "2026-11-05"}}));
  const amends::EntryView e = book.entry(r.entries.at(0));
  const amends::Metadata& m = e.metadata;
  EXPECT_NE(std::find(m.begin(), m.end(), std::pair<std::string, std::string>{"out_of_period", "2026-10"}), m.end());
  EXPECT_NE(std::find(m.begin(), m.end(), std::pair<std::string, std::string>{"service_period", "2026-10"}), m.end());
  EXPECT_NE(std::find(m.begin(), m.end(), std::pair<std::string, std::string>{"policy", kVersion}), m.end());
  EXPECT_NE(e.description.find("out-of-period adjustment for 2026-10"), std::string::npos) << e.description;
}

TEST_F(DeskTest, TwoClosedPeriodsPostOnTheFirstDayOfTheNextOpenOne) {
  // A refund (no budget to reserve) for October service, October and
  // November closed: posted in December, on its first day.
  book.set_period_state(period("2026-10"), PeriodState::closed);
  book.set_period_state(period("2026-11"), PeriodState::closed);
  RequestContent c = content_of(kRefunds[0]);  // 80.00 of CH-1
  c.service_period = period("2026-10");
  const std::string id = submit(c, ts("2026-11-05", 9));
  ASSERT_EQ(state(id), State::approved);
  desk.apply(id, "billing", ts("2026-11-05", 10));
  EXPECT_EQ(desk.get(id).posting_period, period("2026-12"));
  EXPECT_TRUE(desk.get(id).out_of_period);
  EXPECT_EQ(postings_of(book, desk.get(id).entries),
            lines({{"ContraRevenue:Refunds", "80.00", "USD", "2026-12-01"},
                   {"Liabilities:RefundsPayable", "-80.00", "USD", "2026-12-01"}}));
}

TEST_F(DeskTest, ClosingRefusesWhileAnApprovedRequestIsUnapplied) {
  const std::string id = submit(service_credit("1000.00", "0.9995"), ts("2026-11-05", 9));
  ASSERT_EQ(state(id), State::approved);
  const Snapshot before = snap();
  try {
    desk.close_period(period("2026-10"), "controller", ts("2026-11-06", 9));
    FAIL() << "closed with " << id << " unapplied";
  } catch (const amends::close_refused& e) {
    EXPECT_NE(std::string(e.what()).find(id), std::string::npos) << e.what();
  }
  EXPECT_EQ(snap(), before);
  EXPECT_EQ(book.period_state(period("2026-10")), PeriodState::open);
}

TEST_F(DeskTest, ClosingWithAccrualPostsIntoThePeriod) {
  const std::string id = submit(service_credit("1000.00", "0.9995"), ts("2026-11-05", 9));
  const std::size_t entries_before = book.entry_count();
  const amends::desk::CloseReport report = desk.close_period(period("2026-10"), "controller", ts("2026-11-06", 9), true);
  EXPECT_EQ(report.accrued, std::vector<std::string>{id});
  EXPECT_EQ(book.period_state(period("2026-10")), PeriodState::closed);
  const RequestRecord& r = desk.get(id);
  EXPECT_TRUE(r.accrued);
  EXPECT_FALSE(r.out_of_period);
  EXPECT_EQ(r.posting_period, period("2026-10"));
  EXPECT_EQ(postings_of(book, r.entries),
            lines({{"ContraRevenue:ServiceCredits", "100.00", "USD", "2026-10-31"},
                   {"Liabilities:CustomerCredits:C-200", "-100.00", "USD", "2026-10-31"}}));
  EXPECT_EQ(book.status_of(r.reservation), EntryStatus::pending_posted);
  EXPECT_EQ(book.entry_count(), entries_before + 2);  // the accrual and the reservation's completion
  ASSERT_EQ(report.posted.size(), 1U);
  EXPECT_EQ(report.posted[0].kind, "service_credit");
  EXPECT_EQ(report.posted[0].count, 1U);
  EXPECT_EQ(report.posted[0].amount, D("100.00"));
  // An accrued request can't be cancelled; applying it later posts nothing more.
  EXPECT_THROW(desk.cancel(id, "maria", ts("2026-11-06", 10), "oops"), amends::request_state_error);
  desk.apply(id, "billing", ts("2026-11-07", 9));
  EXPECT_EQ(state(id), State::applied);
  EXPECT_EQ(book.entry_count(), entries_before + 2);
  EXPECT_EQ(desk.outbox().back().event, "applied");
  EXPECT_EQ(desk.utilisation("support", Kind::service_credit, period("2026-11")).consumed, D("100.00"));
}

TEST_F(DeskTest, ClosingWithAccrualWorksForALockedPeriod) {
  // The usual close: lock the period, then close it with accrual. Accruing
  // into the period being closed is the override a locked period asks for.
  const std::string id = submit(service_credit("1000.00", "0.9995"), ts("2026-11-05", 9));
  book.set_period_state(period("2026-10"), PeriodState::locked);
  const auto report = desk.close_period(period("2026-10"), "controller", ts("2026-11-06", 9), true);
  EXPECT_EQ(report.accrued, std::vector<std::string>{id});
  EXPECT_EQ(book.period_state(period("2026-10")), PeriodState::closed);
  EXPECT_EQ(postings_of(book, desk.get(id).entries),
            lines({{"ContraRevenue:ServiceCredits", "100.00", "USD", "2026-10-31"},
                   {"Liabilities:CustomerCredits:C-200", "-100.00", "USD", "2026-10-31"}}));
}

TEST_F(DeskTest, RequestsAwaitingApprovalDoNotHoldUpAClose) {
  const std::string pending = submit(service_credit("3000.00", "0.94"), ts("2026-11-05", 9));
  const std::string november = submit(goodwill("40.00", "growth"), ts("2026-11-05", 10));
  ASSERT_EQ(state(pending), State::pending_approval);
  ASSERT_EQ(state(november), State::approved);
  const auto report = desk.close_period(period("2026-10"), "controller", ts("2026-11-06", 9));
  EXPECT_EQ(report.in_flight, std::vector<std::string>{pending});
  EXPECT_TRUE(report.accrued.empty());
  EXPECT_TRUE(report.posted.empty());
  // Approved and applied afterwards, it is an adjustment in November.
  desk.approve(pending, "lena", ts("2026-11-06", 10));
  desk.apply(pending, "billing", ts("2026-11-06", 11));
  EXPECT_TRUE(desk.get(pending).out_of_period);
  EXPECT_EQ(postings_of(book, desk.get(pending).entries),
            lines({{"ContraRevenue:ServiceCredits", "3000.00", "USD", "2026-11-06"},
                   {"Liabilities:CustomerCredits:C-200", "-3000.00", "USD", "2026-11-06"}}));
}

// ================================================================ currencies

TEST_F(DeskTest, AEuroRequestRoutesAndReservesInTheBaseCurrencyAndPostsInEuro) {
  // 123.45 EUR x 1.0850 = 133.94325 -> 133.94 USD: over 50.00, a team lead's.
  const std::string id = submit(goodwill("123.45", "growth", "support", "maria", "C-500", "EUR"), ts("2026-11-05", 9));
  const RequestRecord& r = desk.get(id);
  EXPECT_EQ(r.base_amount, D("133.94"));
  EXPECT_EQ(r.route.rule, "goodwill");
  EXPECT_NE(r.conversion.find("1 EUR = 1.085 USD"), std::string::npos) << r.conversion;
  EXPECT_NE(r.conversion.find("2026-11-02"), std::string::npos) << r.conversion;
  desk.approve(id, "omar", ts("2026-11-05", 10));
  EXPECT_EQ(postings_of(book, {desk.get(id).reservation}),
            lines({{"Budget:support:goodwill:2026-11:Consumed", "133.94", "USD", "2026-11-05"},
                   {"Budget:support:goodwill:2026-11:Available", "-133.94", "USD", "2026-11-05"}}));
  desk.apply(id, "billing", ts("2026-11-05", 11));
  EXPECT_EQ(postings_of(book, desk.get(id).entries),
            lines({{"ContraRevenue:Goodwill", "123.45", "EUR", "2026-11-05"},
                   {"Liabilities:CustomerCredits:C-500", "-123.45", "EUR", "2026-11-05"}}));
  EXPECT_EQ(desk.utilisation("support", Kind::goodwill, period("2026-11")).consumed, D("133.94"));
}

TEST_F(DeskTest, TheConvertedAmountDecidesTheBand) {
  // 46.08 EUR = 49.9968 -> 50.00 USD (auto, ceiling inclusive); 46.09 EUR = 50.00765 -> 50.01 USD (team lead).
  const std::string a = submit(goodwill("46.08", "growth", "support", "maria", "C-500", "EUR"), ts("2026-11-05", 9));
  const std::string b = submit(goodwill("46.09", "growth", "support", "maria", "C-500", "EUR"), ts("2026-11-05", 9));
  EXPECT_EQ(desk.get(a).base_amount, D("50.00"));
  EXPECT_EQ(desk.get(a).route.rule, "small goodwill");
  EXPECT_EQ(state(a), State::approved);
  EXPECT_EQ(desk.get(b).base_amount, D("50.01"));
  EXPECT_EQ(desk.get(b).route.rule, "goodwill");
  EXPECT_EQ(state(b), State::pending_approval);
}

TEST_F(DeskTest, TheLatestRateOnOrBeforeTheDayApplies) {
  desk.set_rate(Currency::of("EUR"), day("2026-11-10"), D("1.1000"));
  const std::string a = submit(goodwill("100.00", "growth", "support", "maria", "C-500", "EUR"), ts("2026-11-09", 23));
  const std::string b = submit(goodwill("100.00", "growth", "support", "maria", "C-500", "EUR"), ts("2026-11-10", 0));
  EXPECT_EQ(desk.get(a).base_amount, D("108.50"));
  EXPECT_EQ(desk.get(b).base_amount, D("110.00"));
}

TEST_F(DeskTest, AConvertedAmountCountsAgainstAHardBudget) {
  // 123.45 EUR is 133.94 USD: more than a 130.00 USD budget holds.
  desk.allocate("eu", Kind::goodwill, period("2026-11"), D("130.00"), true, day("2026-11-01"));
  const std::string id = submit(goodwill("123.45", "growth", "eu", "maria", "C-500", "EUR"), ts("2026-11-05", 9));
  const Snapshot before = snap();
  EXPECT_THROW(desk.approve(id, "omar", ts("2026-11-05", 10)), amends::budget_exceeded);
  EXPECT_EQ(snap(), before);
}

TEST_F(DeskTest, AServiceCreditInEuroIsComputedInEuro) {
  // 30% of 2,000.00 EUR = 600.00 EUR = 651.00 USD: within the 1,000.00 auto band.
  const std::string id = submit(service_credit("2000.00", "0.985", "2026-10", "EUR"), ts("2026-11-05", 9));
  EXPECT_EQ(*desk.get(id).amount, eur("600.00"));
  EXPECT_EQ(desk.get(id).base_amount, D("651.00"));
  EXPECT_EQ(desk.get(id).route.rule, "service credit in policy");
  desk.apply(id, "billing", ts("2026-11-05", 10));
  EXPECT_EQ(postings_of(book, desk.get(id).entries),
            lines({{"ContraRevenue:ServiceCredits", "600.00", "EUR", "2026-10-31"},
                   {"Liabilities:CustomerCredits:C-200", "-600.00", "EUR", "2026-10-31"}}));
  EXPECT_EQ(desk.utilisation("support", Kind::service_credit, period("2026-11")).consumed, D("651.00"));
}

TEST_F(DeskTest, AMissingRateIsAnErrorAndNothingChanges) {
  const Snapshot before = snap();
  // No GBP rate at all; no EUR rate on or before 2026-11-01.
  EXPECT_THROW(desk.submit(goodwill("20.00", "growth", "support", "maria", "C-500", "GBP"), ts("2026-11-05", 9)),
               amends::invalid_argument);
  EXPECT_THROW(desk.submit(goodwill("20.00", "growth", "support", "maria", "C-500", "EUR"), ts("2026-11-01", 9)),
               amends::invalid_argument);
  EXPECT_THROW(desk.submit(service_credit("1000.00", "0.985", "2026-10", "GBP"), ts("2026-11-05", 9)),
               amends::invalid_argument);
  EXPECT_EQ(snap(), before);
  EXPECT_THROW(desk.to_base(Money::parse("1.00", Currency::of("GBP")), day("2026-11-05")), amends::invalid_argument);
}

TEST_F(DeskTest, ARetentionOfferInEuroIsWeighedAgainstTheCustomersValue) {
  // A euro customer: value 12,000.00 EUR, a 20% discount of 250.00 EUR for 3
  // months = 150.00 EUR (1.25% of the value) = 162.75 USD.
  RequestContent c = retention("0.20", "250.00", 3);
  c.currency = Currency::of("EUR");
  c.customer.value = eur("12000.00");
  c.claim.monthly_fee = eur("250.00");
  const std::string id = submit(c, ts("2026-11-05", 9));
  const RequestRecord& r = desk.get(id);
  std::string findings;
  for (const auto& f : r.assessment.findings) findings += f.code + ": " + f.message + "\n";
  EXPECT_TRUE(codes(r, Severity::refusal).empty()) << findings;
  EXPECT_EQ(r.state(), State::pending_approval);
  ASSERT_TRUE(r.amount.has_value());
  EXPECT_EQ(*r.amount, eur("150.00"));
  EXPECT_EQ(r.base_amount, D("162.75"));
}

// ================================================================ retention over months

TEST_F(DeskTest, ARetentionDiscountPostsOncePerMonthWithoutLosingACent) {
  // 15% of 333.33 = 49.9995 -> 50.00 a month, for 7 months: 350.00.
  const std::string id = submit(retention("0.15", "333.33", 7), ts("2026-11-05", 9));
  desk.approve(id, "fatima", ts("2026-11-05", 10));
  desk.approve(id, "sol", ts("2026-11-05", 11));
  EXPECT_EQ(*desk.get(id).amount, usd("350.00"));
  desk.apply(id, "billing", ts("2026-11-05", 12));
  const RequestRecord& r = desk.get(id);
  ASSERT_EQ(r.entries.size(), 7U);
  const std::vector<const char*> dates = {"2026-11-05", "2026-12-01", "2027-01-01", "2027-02-01",
                                          "2027-03-01", "2027-04-01", "2027-05-01"};
  Decimal total;
  for (std::size_t i = 0; i < r.entries.size(); ++i) {
    const amends::EntryView e = book.entry(r.entries[i]);
    EXPECT_EQ(e.date, day(dates[i])) << i;
    EXPECT_EQ(e.postings.at(0).amount, D("50.00")) << i;
    EXPECT_EQ(e.idempotency_key, "request:" + id + ":" + std::to_string(i + 1));
    total += e.postings.at(0).amount;
  }
  EXPECT_EQ(total, D("350.00"));
  EXPECT_EQ(book.balance(book.account_id("Assets:Receivables:C-400", Currency::of("USD"))).posted, D("-350.00"));
  EXPECT_EQ(desk.utilisation("support", Kind::retention_offer, period("2026-11")).consumed, D("350.00"));
  EXPECT_NE(desk.outbox().back().body.find("15% discount on your next 7 monthly invoices"), std::string::npos)
      << desk.outbox().back().body;
}

// ================================================================ atomicity

TEST_F(DeskTest, OperationsThatThrowChangeNothing) {
  const std::string pending = submit(goodwill("200.00", "growth"), ts("2026-11-05", 9));
  const std::string blocked = submit(goodwill("800.00", "growth"), ts("2026-11-05", 9));
  const std::string approved = submit(service_credit("1000.00", "0.9995"), ts("2026-11-05", 9));
  const std::string two_step = submit(goodwill("800.00", "enterprise"), ts("2026-11-05", 9));
  desk.approve(two_step, "lena", ts("2026-11-05", 10));
  desk.allocate("tiny", Kind::goodwill, period("2026-11"), D("10.00"), true, day("2026-11-05"));
  const std::string over = submit(goodwill("70.00", "growth", "tiny"), ts("2026-11-05", 11));
  const std::string returned = submit(goodwill("300.00", "growth"), ts("2026-11-05", 11));
  desk.return_for_information(returned, "omar", ts("2026-11-05", 12), "which order?");
  const Timestamp late = ts("2026-11-07", 9);  // the last event so far is on 2026-11-05
  desk.cancel(submit(goodwill("10.00", "growth"), late), "fatima", late, "duplicate");  // approved: an approver cancels

  const Snapshot before = snap();
  auto unchanged = [&](const char* what) { EXPECT_EQ(snap(), before) << what; };
  const Timestamp now = ts("2026-11-08", 9);

  EXPECT_THROW(desk.approve(pending, "maria", now), approval_error);
  unchanged("the requester approves");
  EXPECT_THROW(desk.approve(pending, "chen", now), approval_error);
  unchanged("someone without the role approves");
  EXPECT_THROW(desk.approve(blocked, "lena", now), approval_error);
  unchanged("approving a blocked request");
  EXPECT_THROW(desk.approve(approved, "lena", now), amends::request_state_error);
  unchanged("approving an approved request");
  EXPECT_THROW(desk.apply(pending, "billing", now), amends::request_state_error);
  unchanged("applying a pending request");
  EXPECT_THROW(desk.approve(over, "lena", now), amends::budget_exceeded);
  unchanged("approving over a hard budget");
  EXPECT_THROW(desk.decline(pending, "lena", now, ""), amends::invalid_argument);
  unchanged("declining without a reason");
  EXPECT_THROW(desk.close_period(period("2026-10"), "controller", now), amends::close_refused);
  unchanged("closing with an approved request unapplied");
  EXPECT_THROW(desk.submit(goodwill("20.00", "growth", "support", "maria", "C-1", "GBP"), now), amends::invalid_argument);
  unchanged("submitting without a rate");
  EXPECT_THROW(desk.submit(goodwill("20.00", "growth"), now, true, pending), amends::invalid_argument);
  unchanged("submitting under an existing id");
  EXPECT_THROW(desk.submit(goodwill("20.00", "growth", ""), now), amends::invalid_argument);
  unchanged("submitting without a team");
  EXPECT_THROW(desk.set_rate(Currency::of("EUR"), day("2026-11-02"), D("1.2")), amends::invalid_argument);
  unchanged("changing a rate");
  EXPECT_THROW(desk.publish_policy(std::string(kPolicy) + "\n# changed\n", "controller", now),
               amends::policy::policy_error);
  unchanged("republishing a version with other text");
  EXPECT_THROW(desk.amend(returned, goodwill("250.00", "growth"), "omar", now), approval_error);
  unchanged("amending someone else's request");
  EXPECT_THROW(desk.amend(pending, goodwill("150.00", "growth"), "maria", now), amends::request_state_error);
  unchanged("amending a pending request");
  EXPECT_THROW(desk.reconcile(approved, "billing", now, "CN-1"), amends::request_state_error);
  unchanged("reconciling before applying");
  EXPECT_THROW(desk.get("R-999999"), amends::not_found);
  EXPECT_THROW(desk.approve("R-999999", "lena", now), amends::not_found);
  unchanged("an unknown request");
  // Time never goes backwards: the last event was on 2026-11-07.
  EXPECT_THROW(desk.approve(pending, "lena", ts("2026-11-06", 9)), amends::invalid_argument);
  unchanged("approving before the last event");
  EXPECT_THROW(desk.escalate_due(ts("2026-11-06", 11)), amends::invalid_argument);  // two_step is due since 11-06 10:00
  unchanged("escalating before the last event");
  EXPECT_THROW(desk.submit(goodwill("20.00", "growth"), ts("2026-11-06", 9)), amends::invalid_argument);
  unchanged("submitting before the last event");
}

TEST_F(DeskTest, CancellingBeforeTheLastEventKeepsTheReservation) {
  // The cancellation is refused (its time is before the desk's last event);
  // the approved request keeps its budget reservation.
  const std::string a = submit(goodwill("40.00", "growth"), ts("2026-11-05", 9));
  submit(goodwill("30.00", "growth"), ts("2026-11-05", 12));
  const Snapshot before = snap();
  EXPECT_THROW(desk.cancel(a, "maria", ts("2026-11-05", 10), "duplicate"), amends::invalid_argument);
  EXPECT_EQ(snap(), before);
  EXPECT_EQ(book.status_of(desk.get(a).reservation), EntryStatus::pending);
  EXPECT_EQ(desk.utilisation("support", Kind::goodwill, period("2026-11")).reserved, D("70.00"));
}

// Applying (or accruing) before the desk's last event must throw and change
// nothing. Run in a child process: a broken rollback aborts.
bool apply_before_last_event_changes_nothing(bool close) {
  Ledger book;
  Desk desk(book);
  set_up(desk);
  const std::string a = desk.submit(service_credit("1000.00", "0.9995"), ts("2026-11-05", 9)).id();
  desk.submit(goodwill("30.00", "growth"), ts("2026-11-05", 12));
  const Snapshot before = snapshot(desk, book);
  try {
    if (close)
      desk.close_period(period("2026-10"), "controller", ts("2026-11-05", 10), true);
    else
      desk.apply(a, "billing", ts("2026-11-05", 10));
    return false;
  } catch (const amends::invalid_argument&) {
  }
  return snapshot(desk, book) == before && book.status_of(desk.get(a).reservation) == EntryStatus::pending;
}

TEST(DeskDeathTest, ApplyingBeforeTheLastEventThrowsAndChangesNothing) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(apply_before_last_event_changes_nothing(false) ? 0 : 1), ::testing::ExitedWithCode(0), "");
}

TEST(DeskDeathTest, AccruingBeforeTheLastEventThrowsAndChangesNothing) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(apply_before_last_event_changes_nothing(true) ? 0 : 1), ::testing::ExitedWithCode(0), "");
}

// ================================================================ the audit trail

TEST_F(DeskTest, EveryStepIsInTheAuditTrailAndItVerifies) {
  const std::string a = submit(goodwill("40.00", "growth"), ts("2026-11-05", 9));
  desk.apply(a, "billing", ts("2026-11-05", 10));
  const std::string b = submit(goodwill("120.00", "starter"), ts("2026-11-05", 11));
  desk.approve(b, "lena", ts("2026-11-05", 12));
  desk.approve(b, "ines", ts("2026-11-05", 13));
  EXPECT_EQ(events_of(desk, a), (std::vector<std::string>{"created", "submitted", "validated", "routed", "approved",
                                                          "reserved", "applied", "notified"}));
  EXPECT_EQ(events_of(desk, b), (std::vector<std::string>{"created", "submitted", "validated", "flagged", "routed",
                                                          "approved", "approved", "reserved"}));
  const auto& events = desk.audit().events();
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence, i + 1);
  EXPECT_EQ(events.front().event, "policy_published");
  const auto v = AuditTrail::verify(events);
  EXPECT_TRUE(v.ok) << v.problem;
  // Who approved is on record.
  std::vector<std::string> approvers;
  for (const auto& e : events)
    if (e.request == b && e.event == "approved") approvers.push_back(e.actor);
  EXPECT_EQ(approvers, (std::vector<std::string>{"lena", "ines"}));
}

TEST_F(DeskTest, TamperingWithACopiedEventBreaksVerificationThere) {
  const std::string a = submit(goodwill("200.00", "growth"), ts("2026-11-05", 9));
  desk.approve(a, "omar", ts("2026-11-05", 10));
  desk.apply(a, "billing", ts("2026-11-05", 11));
  std::vector<amends::requests::AuditEvent> copy = desk.audit().events();
  std::size_t k = 0;
  for (std::size_t i = 0; i < copy.size(); ++i)
    if (copy[i].request == a && copy[i].event == "approved") k = i;
  ASSERT_GT(k, 0U);
  copy[k].details = R"({"role":"team_lead","comment":"fine"})";
  const auto v = AuditTrail::verify(copy);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad, copy[k].sequence);
  EXPECT_EQ(v.first_bad, k + 1);
  // The desk's own trail is untouched.
  EXPECT_TRUE(AuditTrail::verify(desk.audit().events()).ok);
  // Dropping an event breaks it too, at the event after the gap.
  std::vector<amends::requests::AuditEvent> dropped = desk.audit().events();
  dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(k));
  EXPECT_EQ(AuditTrail::verify(dropped).first_bad, k + 2);
}

// ================================================================ reading

TEST_F(DeskTest, PendingForListsExactlyWhatAPersonMayApproveNow) {
  const std::string g1 = submit(goodwill("200.00", "growth"), ts("2026-11-05", 9));            // team lead
  const std::string g2 = submit(goodwill("800.00", "enterprise"), ts("2026-11-05", 10));       // lead, then finance
  const std::string auto_ok = submit(goodwill("20.00", "growth"), ts("2026-11-05", 11));       // approved
  const std::string blocked = submit(goodwill("800.00", "growth"), ts("2026-11-05", 11));      // blocked
  const std::string own = submit(goodwill("300.00", "growth", "support", "omar"), ts("2026-11-05", 12));
  const std::string ret = submit(retention("0.20", "250.00", 3), ts("2026-11-05", 13));        // finance and strategy
  const Date on = day("2026-11-05");
  EXPECT_EQ(desk.pending_for("lena", on), (std::vector<std::string>{g1, g2, own}));
  EXPECT_EQ(desk.pending_for("omar", on), (std::vector<std::string>{g1, g2}));
  EXPECT_EQ(desk.pending_for("fatima", on), (std::vector<std::string>{g1, g2, own, ret}));
  EXPECT_EQ(desk.pending_for("ines", on), std::vector<std::string>{ret});
  EXPECT_EQ(desk.pending_for("sol", on), std::vector<std::string>{ret});
  EXPECT_TRUE(desk.pending_for("chen", on).empty());
  EXPECT_TRUE(desk.pending_for("maria", on).empty());
  desk.approve(g2, "lena", ts("2026-11-05", 14));
  EXPECT_EQ(desk.pending_for("lena", on), (std::vector<std::string>{g1, own}));
  EXPECT_EQ(desk.pending_for("ines", on), (std::vector<std::string>{g2, ret}));
  EXPECT_EQ(desk.pending_for("fatima", on), (std::vector<std::string>{g1, g2, own, ret}));
  (void)auto_ok;
  (void)blocked;
}

TEST_F(DeskTest, ExplainNamesTheRuleAndThePolicyVersion) {
  const std::string id = submit(goodwill("120.00", "starter"), ts("2026-11-05", 9));
  const std::string text = desk.explain(id);
  EXPECT_NE(text.find("policy 2026-11-01"), std::string::npos) << text;
  EXPECT_NE(text.find("rule \"goodwill\""), std::string::npos) << text;
  EXPECT_NE(text.find("above_tier_cap"), std::string::npos) << text;
  EXPECT_NE(text.find("finance approves it too"), std::string::npos) << text;
  const std::string blocked = submit(goodwill("800.00", "growth"), ts("2026-11-05", 10));
  EXPECT_NE(desk.explain(blocked).find("blocked"), std::string::npos) << desk.explain(blocked);
  EXPECT_THROW(desk.explain("R-999999"), amends::not_found);
}

// ================================================================ policy versions

TEST_F(DeskTest, RequestsInFlightKeepThePolicyThatRoutedThem) {
  const std::string old_one = submit(goodwill("200.00", "growth"), ts("2026-11-05", 9));
  // Version 2: a new team-lead roster, goodwill as an expense.
  std::string v2 = kPolicy;
  auto swap = [&](const std::string& from, const std::string& to) {
    ASSERT_NE(v2.find(from), std::string::npos) << from;
    v2.replace(v2.find(from), from.size(), to);
  };
  swap("version = \"2026-11-01\"", "version = \"2026-12-01\"");
  swap("team_lead = [\"lena\", \"omar\", \"fatima\"]", "team_lead = [\"zoe\"]");
  v2 += "\n[accounting]\ngoodwill_as_expense = true\n";
  desk.publish_policy(v2, "controller", ts("2026-11-05", 10));
  EXPECT_EQ(desk.policy().version, "2026-12-01");
  EXPECT_EQ(desk.policy_order(), (std::vector<std::string>{"2026-11-01", "2026-12-01"}));
  // Publishing the same text again is a no-op.
  desk.publish_policy(v2, "controller", ts("2026-11-05", 10));
  EXPECT_EQ(desk.policy_order().size(), 2U);

  const std::string new_one = submit(goodwill("200.00", "growth"), ts("2026-11-05", 11));
  EXPECT_EQ(desk.get(old_one).policy_version, "2026-11-01");
  EXPECT_EQ(desk.get(new_one).policy_version, "2026-12-01");
  const Date on = day("2026-11-05");
  EXPECT_EQ(desk.pending_for("lena", on), std::vector<std::string>{old_one});
  EXPECT_EQ(desk.pending_for("zoe", on), std::vector<std::string>{new_one});
  EXPECT_THROW(desk.approve(old_one, "zoe", ts("2026-11-05", 12)), approval_error);
  desk.approve(old_one, "lena", ts("2026-11-05", 12));
  desk.approve(new_one, "zoe", ts("2026-11-05", 12));
  desk.apply(old_one, "billing", ts("2026-11-05", 13));
  desk.apply(new_one, "billing", ts("2026-11-05", 13));
  EXPECT_EQ(postings_of(book, desk.get(old_one).entries),
            lines({{"ContraRevenue:Goodwill", "200.00", "USD", "2026-11-05"},
                   {"Liabilities:CustomerCredits:C-100", "-200.00", "USD", "2026-11-05"}}));
  EXPECT_EQ(postings_of(book, desk.get(new_one).entries),
            lines({{"Expense:Goodwill", "200.00", "USD", "2026-11-05"},
                   {"Liabilities:CustomerCredits:C-100", "-200.00", "USD", "2026-11-05"}}));
  EXPECT_NE(desk.explain(old_one).find("policy 2026-11-01"), std::string::npos);
  EXPECT_NE(desk.explain(new_one).find("policy 2026-12-01"), std::string::npos);
}

// ================================================================ returned and amended

TEST_F(DeskTest, AmendingAReturnedRequestKeepsEveryVersion) {
  const std::string id = submit(goodwill("300.00", "growth"), ts("2026-11-05", 9));
  EXPECT_THROW(desk.return_for_information(id, "maria", ts("2026-11-05", 10), "?"), approval_error);
  desk.return_for_information(id, "omar", ts("2026-11-05", 10), "which order was late?");
  EXPECT_EQ(state(id), State::returned);
  EXPECT_FALSE(desk.get(id).chain.has_value());
  EXPECT_TRUE(desk.pending_for("omar", day("2026-11-05")).empty());

  RequestContent second = goodwill("250.00", "growth");
  second.justification = "Order 7781 shipped three weeks late";
  second.evidence = {"ZD-1", "ORDER-7781"};
  desk.amend(id, second, "maria", ts("2026-11-05", 11));
  EXPECT_EQ(state(id), State::returned);
  desk.resubmit(id, "maria", ts("2026-11-05", 12));
  EXPECT_EQ(state(id), State::pending_approval);
  desk.approve(id, "omar", ts("2026-11-05", 13));
  desk.apply(id, "billing", ts("2026-11-05", 14));

  const RequestRecord& r = desk.get(id);
  ASSERT_EQ(r.request.versions().size(), 2U);
  EXPECT_EQ(*r.request.versions()[0].amount, usd("300.00"));
  EXPECT_EQ(*r.request.versions()[1].amount, usd("250.00"));
  EXPECT_EQ(r.request.versions()[0].evidence, std::vector<std::string>{"ZD-1"});
  EXPECT_EQ(r.request.versions()[1].evidence, (std::vector<std::string>{"ZD-1", "ORDER-7781"}));
  EXPECT_EQ(r.request.version(), 2);
  EXPECT_EQ(*r.amount, usd("250.00"));
  EXPECT_EQ(postings_of(book, r.entries),
            lines({{"ContraRevenue:Goodwill", "250.00", "USD", "2026-11-05"},
                   {"Liabilities:CustomerCredits:C-100", "-250.00", "USD", "2026-11-05"}}));
  EXPECT_EQ(events_of(desk, id),
            (std::vector<std::string>{"created", "submitted", "validated", "routed", "returned", "amended", "submitted",
                                      "validated", "routed", "approved", "reserved", "applied", "notified"}));
  EXPECT_TRUE(AuditTrail::verify(desk.audit().events()).ok);
}

TEST_F(DeskTest, ADraftIsValidatedOnlyWhenSubmitted) {
  const std::string id = desk.submit(goodwill("200.00", "growth"), ts("2026-11-05", 9), false).id();
  EXPECT_EQ(state(id), State::draft);
  EXPECT_TRUE(desk.get(id).policy_version.empty());
  EXPECT_TRUE(desk.pending_for("lena", day("2026-11-05")).empty());
  desk.amend(id, goodwill("40.00", "growth"), "maria", ts("2026-11-05", 10));
  desk.resubmit(id, "maria", ts("2026-11-05", 11));
  EXPECT_EQ(state(id), State::approved);  // 40.00: auto-approved
  EXPECT_EQ(desk.get(id).route.rule, "small goodwill");
  EXPECT_EQ(desk.get(id).request.versions().size(), 2U);
}

TEST_F(DeskTest, GoodwillOverTheTrailingCapIsAnException) {
  // starter: 100.00 a request, 300.00 over twelve months. 3 x 90.00 applied,
  // then 40.00 more makes 310.00.
  for (int i = 0; i < 3; ++i) {
    const std::string id = submit(goodwill("90.00", "starter"), ts("2026-11-05", 9 + i));
    desk.approve(id, "lena", ts("2026-11-05", 9 + i, 30));
    ASSERT_EQ(state(id), State::approved);
  }
  const std::string id = submit(goodwill("40.00", "starter"), ts("2026-11-05", 13));
  EXPECT_EQ(codes(desk.get(id), Severity::exception), std::vector<std::string>{"above_trailing_cap"});
  // Not auto-approved despite the small amount: no people rule covers 40.00 ("goodwill" starts at 50.01),
  // so "small goodwill" routes it to the exception role alone (finance), not to a dead end.
  EXPECT_EQ(desk.get(id).route.outcome, amends::policy::Outcome::needs_approval);
  EXPECT_EQ(desk.get(id).route.rule, "small goodwill");
  ASSERT_EQ(desk.get(id).chain->steps().size(), 1u);
  EXPECT_EQ(desk.get(id).chain->steps()[0].step.roles, std::vector<std::string>{"finance"});
  EXPECT_THROW(desk.approve(id, "lena", ts("2026-11-05", 13, 30)), approval_error);
  desk.approve(id, "fatima", ts("2026-11-05", 13, 30));
  EXPECT_EQ(state(id), State::approved);
  // For another customer, 40.00 is auto-approved.
  RequestContent other = goodwill("40.00", "starter");
  other.customer.id = "C-101";
  EXPECT_EQ(state(submit(other, ts("2026-11-05", 14))), State::approved);
}

}  // namespace

namespace {

// The limits that weigh a request against the others, again when a chain
// completes and at apply.
TEST_F(DeskTest, ALimitIsCheckedAgainWhenAChainCompletes) {
  // starter: 300.00 over twelve months. A and B (90.00 each) wait for a team
  // lead; C (90.00) is submitted after them: 90 + 90 pending + 90 = 270.00,
  // in. D (90.00) makes 360.00 with them pending: an exception, which finance
  // approves. Then A and B are approved: 90 (D) + 90 = 180, 270: in. Then C:
  // 90 (D) + 90 (A) + 90 (B) + 90 = 360.00 granted: its chain gets finance.
  RequestContent c = goodwill("90.00", "starter");
  const std::string a = submit(c, ts("2026-11-05", 9));
  const std::string b = submit(c, ts("2026-11-05", 9, 10));
  const std::string cc = submit(c, ts("2026-11-05", 9, 20));
  const std::string d = submit(c, ts("2026-11-05", 9, 30));
  EXPECT_TRUE(codes(desk.get(cc), Severity::exception).empty());
  EXPECT_EQ(codes(desk.get(d), Severity::exception), std::vector<std::string>{"above_trailing_cap"});
  desk.approve(d, "lena", ts("2026-11-05", 10));
  desk.approve(d, "fatima", ts("2026-11-05", 10, 5));
  EXPECT_EQ(state(d), State::approved);
  desk.approve(a, "lena", ts("2026-11-05", 11));
  desk.approve(b, "lena", ts("2026-11-05", 11, 5));
  EXPECT_EQ(state(a), State::approved);
  EXPECT_EQ(state(b), State::approved);
  desk.approve(cc, "lena", ts("2026-11-05", 12));
  EXPECT_EQ(state(cc), State::pending_approval);
  EXPECT_EQ(codes(desk.get(cc), Severity::exception), std::vector<std::string>{"above_trailing_cap"});
  EXPECT_EQ(desk.get(cc).request.history().back().to, State::pending_approval);
  const auto who = desk.get(cc).chain->waiting_for(day("2026-11-05"));
  EXPECT_EQ(who, (std::vector<std::string>{"fatima", "ines"}));
  const auto& events = desk.audit().events();
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [&](const auto& e) {
    return e.request == cc && e.event == "flagged" && e.details.find("\"at\":\"approval\"") != std::string::npos;
  }));
  desk.approve(cc, "fatima", ts("2026-11-05", 12, 5));
  EXPECT_EQ(state(cc), State::approved);
  for (const std::string& id : {a, b, cc, d}) desk.apply(id, "billing", ts("2026-11-05", 13));
}

TEST_F(DeskTest, ALimitIsCheckedAgainAtApply) {
  // Two approvals that did not see each other (what sessions writing
  // without the book's lock would leave): the one approved later is not
  // applied, for together they pass the 300.00 cap with no exception approved.
  RequestContent c = goodwill("90.00", "starter");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(submit(c, ts("2026-11-05", 9 + i)));
    desk.approve(ids.back(), "lena", ts("2026-11-05", 9 + i, 30));
  }
  RequestRecord twin = desk.get(ids[2]);  // approved at 11:30 without seeing ids[2]
  twin.request = amends::requests::Request::restore("R-000099", twin.state(), twin.request.versions(),
                                                    twin.request.history(), twin.request.created_at());
  std::vector<amends::requests::Transition> history = twin.request.history();
  for (auto& t : history) t.at += 60'000'000;  // a minute later
  twin.request = amends::requests::Request::restore("R-000099", twin.state(), twin.request.versions(), history,
                                                    twin.request.created_at());
  twin.reservation = {};
  desk.load_record(twin);
  for (const std::string& id : ids) desk.apply(id, "billing", ts("2026-11-05", 13));
  try {
    desk.apply("R-000099", "billing", ts("2026-11-05", 14));
    FAIL() << "applied past the trailing cap";
  } catch (const approval_error& e) {
    EXPECT_NE(std::string(e.what()).find("trailing cap of 300.00 USD"), std::string::npos) << e.what();
  }
  EXPECT_EQ(state("R-000099"), State::approved);
}

}  // namespace
