// The approval policy of a book: who may approve what, read from a versioned
// TOML file, and the route it gives a request -- auto-approved, the ordered
// approval steps, or blocked with the reason. Nothing is approved by
// default: a request no rule matches is blocked, and its reason says which
// change to the policy would route it (a rule for the band between the
// rules of its kind and tier, a wider band, the tier added to a rule).
//
// Routing: the first rule whose kinds, band and tiers fit the request routes
// it. An auto-approve rule approves only a request without exception
// findings; for one with findings it steps aside and a later rule may route
// it. When no later rule does, the first auto-approve rule that fitted routes
// it to the roles that decide its findings alone (each finding to
// exception_roles[code], else exception_role); if some finding has no such
// role, the request is blocked.
//
// The file is read strictly: every key and table the shape below does not
// name is a problem (with its line and the closest known name: "unknown
// table [role]; did you mean [roles]?"), and Policy::check lists every
// problem of a file at once. [exception_roles] keys are the findings a role
// can decide: above_computed_amount, outside_claim_window,
// outside_return_window, above_tier_cap, above_trailing_cap,
// above_value_share, needs_legal_review, accumulation_threshold,
// duplicate_claim. Beside the tables below and under Terms: [evidence_types],
// [[requirements]] and [[accumulation]] (see Requirement and Accumulation).
//
//   version = "2026-11-01"
//   base_currency = "USD"
//   exception_role = "finance"          # a request with exception findings also needs this role
//   [exception_roles]                   # ... or, for these findings, this one
//   needs_legal_review = "legal"
//
//   [roles]
//   team_lead = ["lena", "omar"]
//   finance = ["fatima"]
//
//   [[delegations]]                     # fatima's authority goes to raj for these days
//   from = "fatima"
//   to = "raj"
//   start = "2026-12-20"
//   end = "2027-01-05"
//
//   [[rules]]                           # the first rule that matches routes the request
//   name = "small goodwill"
//   kinds = ["goodwill"]
//   up_to = "50.00"                     # amount in base currency, inclusive; "over" is exclusive
//   tiers = ["starter", "growth"]       # optional: any tier when absent
//   auto_approve = true                 # only for requests without exception findings
//
//   [[rules]]
//   name = "goodwill"
//   kinds = ["goodwill"]
//   over = "50.00"
//   steps = [ { any_of = ["team_lead"] },
//             { all_of = ["finance"], escalate_after_hours = 24, escalate_to = "cfo" } ]
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "amends/calendar.hpp"
#include "amends/concessions.hpp"
#include "amends/money.hpp"

namespace amends::policy {

// A policy file that does not parse or does not hold together (an unknown
// role in a step, an unknown kind, a band whose floor is above its ceiling).
class policy_error : public error { using error::error; };

struct Step {
  bool all_of = false;  // all of the roles (one person each), or any one of them
  std::vector<std::string> roles;
  std::optional<int> escalate_after_hours;
  std::string escalate_to;  // a role
};

struct Rule {
  std::string name;
  std::vector<concessions::Kind> kinds;  // non-empty
  std::optional<Decimal> over;           // amount > over
  std::optional<Decimal> up_to;          // amount <= up_to
  std::vector<std::string> tiers;        // empty: any
  bool auto_approve = false;
  std::vector<Step> steps;  // empty only when auto_approve
};

struct Delegation {
  std::string from, to;
  Date start, end;  // inclusive
};

struct Role {
  std::string name;
  std::vector<std::string> people;
};

// The terms validation checks requests against, and the book's accounting
// and budget behaviour: the policy file's [terms.*], [budget] and
// [accounting] tables (all optional; the defaults are below).
//
//   [terms.service_credit]              # AWS-style tiers when absent
//   tiers = [ { below = "0.9999", credit = "0.10" }, { below = "0.99", credit = "0.30" } ]
//   cap_fraction = "1.00"
//   minimum_credit = "1.00"
//   claim_window_days = 60             # judged at the first submission, not at a resubmission
//   duplicate_claims = "hold"           # or "refuse" (the default): see DuplicateClaims
//   [terms.refund]
//   return_window_days = 30
//   [terms.goodwill]
//   per_request_cap = { starter = "100.00", enterprise = "2000.00" }
//   trailing_cap = { starter = "300.00", enterprise = "10000.00" }
//   [terms.retention]
//   max_share_of_value = "0.25"
//   [budget]
//   kinds = ["goodwill", "service_credit", "retention_offer"]   # what draws on a budget
//   escalate_to = "cfo"                 # approves what a soft budget has no room for
//   [accounting]
//   goodwill_as_expense = false
//   cash_account = "Assets:Cash"
struct Terms {
  concessions::SlaTerms service_credit = concessions::SlaTerms::aws_style();
  concessions::RefundTerms refund;
  concessions::GoodwillTerms goodwill;
  concessions::RetentionTerms retention{Decimal::parse("0.25")};
  std::vector<concessions::Kind> budget_kinds{concessions::Kind::goodwill, concessions::Kind::service_credit,
                                              concessions::Kind::retention_offer};
  std::string budget_escalate_to;  // a role; empty: a soft budget's overrun is only recorded
  concessions::AccountingPolicy accounting;
  bool draws_on_budget(concessions::Kind kind) const;
};

// What a request must carry before anyone may approve it ([[requirements]]):
// for the kinds, amount band (base currency, as rules) and tiers it names, a
// reason from `reasons` (when non-empty), a non-empty justification (when
// `justification`), and at least one evidence id of each type in `evidence`.
//
//   [[requirements]]
//   kinds = ["goodwill"]
//   over = "500.00"                      # optional, as in rules; so are up_to and tiers
//   reasons = ["outage", "billing-error"] # optional: the reason must be one of these
//   justification = true                  # optional: a free-text justification is needed
//   evidence = ["incident", "ticket"]     # optional: one evidence id of each type (all of them)
//
// Evidence ids are typed by prefix ([evidence_types]): an id is of a type when
// it starts with one of the type's prefixes.
//
//   [evidence_types]
//   incident = ["INC-"]
//   ticket = ["TCK-", "ZD-"]
struct Requirement {
  std::vector<concessions::Kind> kinds;  // non-empty
  std::optional<Decimal> over;
  std::optional<Decimal> up_to;
  std::vector<std::string> tiers;    // empty: any
  std::vector<std::string> reasons;  // empty: any reason (or none)
  bool justification = false;
  std::vector<std::string> evidence;  // evidence types, each defined in evidence_types
  std::size_t line = 0;               // where the table starts in the policy file (for messages)
};

// Small credits that add up ([[accumulation]]): when what `per` (the same
// customer, or the same requester) has been granted or has pending in
// `kinds` over the last `window_days` days, with this request, exceeds
// `threshold` (base currency), the request gets the exception finding
// "accumulation_threshold", which the exception role (or
// exception_roles.accumulation_threshold) approves.
//
//   [[accumulation]]
//   name = "goodwill per customer"    # unique
//   kinds = ["goodwill"]
//   per = "customer"                  # or "requester"
//   window_days = 30                  # 1 to 3660
//   threshold = "250.00"              # a positive amount
//
// Every key of an [[accumulation]] is needed. A [[requirements]] table needs
// kinds and at least one of reasons, justification and evidence; each of its
// evidence types is defined in [evidence_types], whose prefixes are non-empty
// and never start with another type's prefix (an id is of one type only).
struct Accumulation {
  std::string name;
  std::vector<concessions::Kind> kinds;  // non-empty
  enum class Per : std::uint8_t { customer, requester } per = Per::customer;
  int window_days = 30;
  Decimal threshold;
};

// A second service credit claim for the same customer, service period and
// incident or evidence id: refused, or held for review by the exception role
// ([terms.service_credit] duplicate_claims = "refuse" | "hold"; default "refuse").
enum class DuplicateClaims : std::uint8_t { refuse, hold };

// One thing wrong with a policy file: where (the 1-based line and column
// of the key or table, or of the table a missing key belongs in), what
// ("rules[2] (refund).tiers", "[terms.goodwill]"; empty for the file
// itself) and what to fix.
struct Problem {
  std::size_t line = 0;
  std::size_t column = 0;
  std::string where;
  std::string message;
};
// "line 12: rules[1] (goodwill): unknown key \"tier\"; did you mean \"tiers\"?"
std::string to_string(const Problem& problem);

struct Policy {
  std::string version;
  Currency base_currency = Currency::of("USD");
  std::string exception_role;  // empty: exceptions need no extra step
  // Exceptions a particular role decides instead ([exception_roles]
  // needs_legal_review = "legal"); the others go to exception_role.
  std::map<std::string, std::string, std::less<>> exception_roles;
  std::vector<Role> roles;
  std::vector<Delegation> delegations;
  std::vector<Rule> rules;
  Terms terms;
  std::vector<Requirement> requirements;
  std::map<std::string, std::vector<std::string>, std::less<>> evidence_types;  // type -> id prefixes
  std::vector<Accumulation> accumulation;
  DuplicateClaims duplicate_claims = DuplicateClaims::refuse;

  // The evidence type of an id (the first type with a matching prefix), or empty.
  std::string evidence_type(std::string_view id) const;

  // Every problem of a policy file, in the order of their lines; empty: the
  // file is a valid policy (parse accepts it).
  static std::vector<Problem> check(std::string_view toml_text);
  // A valid policy; policy_error lists every problem check() finds, one a
  // line ("line N: <table or key>: <what to fix>").
  static Policy parse(std::string_view toml_text);
  static Policy load(const std::string& path);

  const Role* role(std::string_view name) const;
  // Who can act for a role on a day: its members, with a member away on
  // delegation replaced by (and joined by) the delegate.
  std::vector<std::string> people_for(std::string_view role, Date on) const;
};

// What routing needs to know of a request.
struct RouteInput {
  concessions::Kind kind;
  Decimal amount;  // in the policy's base currency (converted by the caller, rounding explicit)
  std::string tier;
  bool has_exception = false;  // validation found an exception
  std::vector<std::string> exception_codes;
};

enum class Outcome : std::uint8_t { auto_approved, needs_approval, blocked };
std::string_view to_string(Outcome outcome);

struct Route {
  std::string policy_version;
  Outcome outcome = Outcome::blocked;
  std::string rule;          // the rule that matched (empty when blocked)
  std::vector<Step> steps;   // in order; an exception step is added last
  std::string reason;        // when blocked
  std::vector<std::string> explanation;  // for auditors: why each rule did or did not match
};

Route route(const Policy& policy, const RouteInput& request);

// The hot path of routing, for bulk work: the index of the rule that
// matches (the same rule route() names), or -1 when the request is blocked.
// No allocation, no explanation.
int match(const Policy& policy, const RouteInput& request);

}  // namespace amends::policy
