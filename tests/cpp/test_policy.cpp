// The approval policy: parsing the TOML, refusing one that does not hold
// together, routing, explaining, delegation.
#include <gtest/gtest.h>

#include <string>

#include "amends/policy.hpp"

namespace {

using amends::Date;
using amends::Decimal;
namespace p = amends::policy;
using amends::concessions::Kind;

const char* kPolicy = R"(
version = "2026-11-01"
base_currency = "USD"
exception_role = "finance"

[roles]
team_lead = ["lena", "omar"]
finance = ["fatima"]
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
up_to = "1000.00"
steps = [ { any_of = ["team_lead"] } ]

[[rules]]
name = "large goodwill, enterprise"
kinds = ["goodwill"]
over = "1000.00"
tiers = ["enterprise"]
steps = [ { any_of = ["team_lead"] }, { all_of = ["finance", "cfo"], escalate_after_hours = 24, escalate_to = "cfo" } ]

[[rules]]
name = "service credits"
kinds = ["service_credit"]
steps = [ { any_of = ["finance"] } ]
)";

p::RouteInput request(Kind kind, const char* amount, const char* tier = "growth") {
  return p::RouteInput{kind, Decimal::parse(amount), tier, false, {}};
}

TEST(Policy, ParsesRolesDelegationsAndRules) {
  const p::Policy policy = p::Policy::parse(kPolicy);
  EXPECT_EQ(policy.version, "2026-11-01");
  ASSERT_EQ(policy.rules.size(), 4U);
  EXPECT_TRUE(policy.rules[0].auto_approve);
  EXPECT_EQ(*policy.rules[1].over, Decimal::parse("50.00"));
  ASSERT_EQ(policy.rules[2].steps.size(), 2U);
  EXPECT_TRUE(policy.rules[2].steps[1].all_of);
  EXPECT_EQ(policy.rules[2].steps[1].escalate_after_hours, 24);
  EXPECT_EQ(policy.people_for("finance", Date::parse("2026-12-19")), std::vector<std::string>{"fatima"});
  EXPECT_EQ(policy.people_for("finance", Date::parse("2026-12-20")), std::vector<std::string>{"raj"});
  EXPECT_EQ(policy.people_for("finance", Date::parse("2027-01-06")), std::vector<std::string>{"fatima"});
}

TEST(Policy, RoutesByKindBandAndTierTheFirstMatchingRuleWins) {
  const p::Policy policy = p::Policy::parse(kPolicy);
  struct Case {
    Kind kind;
    const char* amount;
    const char* tier;
    p::Outcome outcome;
    const char* rule;
    std::size_t steps;
  };
  for (const Case& c : std::vector<Case>{
           {Kind::goodwill, "0.01", "growth", p::Outcome::auto_approved, "small goodwill", 0},
           {Kind::goodwill, "50.00", "growth", p::Outcome::auto_approved, "small goodwill", 0},  // up_to is inclusive
           {Kind::goodwill, "50.01", "growth", p::Outcome::needs_approval, "goodwill", 1},       // over is exclusive
           {Kind::goodwill, "1000.00", "starter", p::Outcome::needs_approval, "goodwill", 1},
           {Kind::goodwill, "1000.01", "enterprise", p::Outcome::needs_approval, "large goodwill, enterprise", 2},
           {Kind::goodwill, "1000.01", "growth", p::Outcome::blocked, "", 0},  // no rule: blocked, never approved
           {Kind::service_credit, "99999.00", "growth", p::Outcome::needs_approval, "service credits", 1},
           {Kind::refund, "10.00", "growth", p::Outcome::blocked, "", 0}}) {
    const p::Route r = p::route(policy, request(c.kind, c.amount, c.tier));
    EXPECT_EQ(r.outcome, c.outcome) << c.amount << " " << c.tier;
    EXPECT_EQ(r.rule, c.rule) << c.amount << " " << c.tier;
    EXPECT_EQ(r.steps.size(), c.steps) << c.amount << " " << c.tier;
    EXPECT_EQ(r.policy_version, "2026-11-01");
  }
}

TEST(Policy, ExceptionsSkipAutoApprovalAndAddTheExceptionRole) {
  const p::Policy policy = p::Policy::parse(kPolicy);
  p::RouteInput in = request(Kind::goodwill, "40.00");
  in.has_exception = true;
  in.exception_codes = {"above_trailing_cap"};
  const p::Route r = p::route(policy, in);
  // The auto-approve rule steps aside; "goodwill" starts over 50.00, so nothing else matches.
  EXPECT_EQ(r.outcome, p::Outcome::blocked);

  in.amount = Decimal::parse("400.00");
  const p::Route big = p::route(policy, in);
  ASSERT_EQ(big.outcome, p::Outcome::needs_approval);
  ASSERT_EQ(big.steps.size(), 2U);
  EXPECT_EQ(big.steps.back().roles, std::vector<std::string>{"finance"});
}

TEST(Policy, ExplainsInWordsWhyTheRouteIsWhatItIs) {
  const p::Policy policy = p::Policy::parse(kPolicy);
  const p::Route r = p::route(policy, request(Kind::goodwill, "1500.00", "enterprise"));
  ASSERT_EQ(r.explanation.size(), 3U);
  EXPECT_EQ(r.explanation[0], "rule \"small goodwill\" does not apply: 1500.00 USD is over its ceiling of 50.00 USD");
  EXPECT_EQ(r.explanation[1], "rule \"goodwill\" does not apply: 1500.00 USD is over its ceiling of 1000.00 USD");
  EXPECT_EQ(r.explanation[2],
            "rule \"large goodwill, enterprise\" matches: a goodwill request of 1500.00 USD (tier enterprise) needs "
            "team_lead, then finance and cfo");
  const p::Route blocked = p::route(policy, request(Kind::refund, "10.00"));
  EXPECT_NE(blocked.reason.find("it is blocked, not approved"), std::string::npos);
}

TEST(Policy, AFileThatDoesNotHoldTogetherIsRefusedWithWhereAndWhat) {
  auto refused = [](const std::string& text, const std::string& expected) {
    try {
      p::Policy::parse(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const p::policy_error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  const std::string head = "version = \"1\"\n[roles]\nlead = [\"a\"]\n";
  refused("version = ", "does not parse at line 1");
  refused(head, "rules: are missing");
  refused(head + "[[rules]]\nname = \"x\"\nkinds = [\"discount\"]\nauto_approve = true\n", "unknown concession kind");
  refused(head + "[[rules]]\nname = \"x\"\nkinds = [\"goodwill\"]\nsteps = [ { any_of = [\"cfo\"] } ]\n",
          "names the role \"cfo\", which [roles] does not define");
  refused(head + "[[rules]]\nname = \"x\"\nkinds = [\"goodwill\"]\nup_to = 50.0\nauto_approve = true\n",
          "up_to: must be a string");  // amounts are strings, never binary floats
  refused(head + "[[rules]]\nname = \"x\"\nkinds = [\"goodwill\"]\nover = \"9\"\nup_to = \"5\"\nauto_approve = true\n",
          "floor is not below its ceiling");
  refused(head + "[[rules]]\nname = \"x\"\nkinds = [\"goodwill\"]\n", "has no steps and does not auto-approve");
}

}  // namespace

namespace {

TEST(Policy, TheHotPathMatchesTheRuleRouteNames) {
  const p::Policy policy = p::Policy::parse(kPolicy);
  for (const char* amount : {"0.01", "50.00", "50.01", "999.99", "1000.00", "1000.01", "99999.00"})
    for (const char* tier : {"starter", "growth", "enterprise"})
      for (Kind kind : {Kind::goodwill, Kind::service_credit, Kind::refund, Kind::retention_offer})
        for (bool exception : {false, true}) {
          p::RouteInput in = request(kind, amount, tier);
          in.has_exception = exception;
          const int index = p::match(policy, in);
          const p::Route r = p::route(policy, in);
          EXPECT_EQ(index < 0 ? std::string() : policy.rules[static_cast<std::size_t>(index)].name, r.rule)
              << amount << " " << tier << " " << amends::concessions::to_string(kind);
        }
}

}  // namespace

TEST(PolicyExceptionRoles, AFindingCanGoToItsOwnRoleAndAnUnknownRoleIsRefused) {
  const std::string base = R"(
version = "x"
exception_role = "finance"
[exception_roles]
needs_legal_review = "legal"
[roles]
finance = ["fatima"]
legal = ["leo"]
lead = ["lena"]
[[rules]]
name = "offers"
kinds = ["retention_offer"]
steps = [ { any_of = ["lead"] } ]
)";
  const amends::policy::Policy p = amends::policy::Policy::parse(base);
  amends::policy::RouteInput in{amends::concessions::Kind::retention_offer, amends::Decimal::parse("100"), "growth", true,
                                {"needs_legal_review", "above_value_share"}};
  const amends::policy::Route r = amends::policy::route(p, in);
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[1].roles, std::vector<std::string>{"legal"});
  EXPECT_EQ(r.steps[2].roles, std::vector<std::string>{"finance"});
  std::string bad = base;
  bad.replace(bad.find("\"legal\"\n[roles]"), 7, "\"counsel\"");
  EXPECT_THROW(amends::policy::Policy::parse(bad), amends::policy::policy_error);
}
