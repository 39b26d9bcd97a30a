// The approval policy: parsing the TOML, refusing one that does not hold
// together, routing, explaining, delegation.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
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
  // The auto-approve rule can't approve it and "goodwill" starts over 50.00:
  // the auto-approve rule routes it to the exception role alone.
  EXPECT_EQ(r.outcome, p::Outcome::needs_approval);
  EXPECT_EQ(r.rule, "small goodwill");
  ASSERT_EQ(r.steps.size(), 1U);
  EXPECT_EQ(r.steps[0].roles, std::vector<std::string>{"finance"});

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

// ---------------------------------------------------------------- strictness

namespace {

const std::string kHead = "version = \"1\"\nexception_role = \"lead\"\n[roles]\nlead = [\"a\"]\n";
const std::string kRule = "[[rules]]\nname = \"x\"\nkinds = [\"goodwill\"]\nsteps = [ { any_of = [\"lead\"] } ]\n";

// The policy_error of `text`, or "" when it is accepted.
std::string refusal(const std::string& text) {
  try {
    p::Policy::parse(text);
  } catch (const p::policy_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(PolicyStrictness, EveryUnknownKeyOrTableIsRefusedNamingItItsTableAndItsLine) {
  struct Case {
    std::string text;
    std::vector<std::string> expected;  // all in the message
  };
  const std::vector<Case> cases = {
      // line 9: a misspelt tiers in a rule
      {kHead + kRule + "tier = [\"enterprise\"]\n",
       {"line 9: rules[0] (x): unknown key \"tier\"; did you mean \"tiers\"?"}},
      // line 9: a misspelt [terms.goodwill]
      {kHead + kRule + "[term.goodwill]\nper_request_cap = { starter = \"10.00\" }\n",
       {"line 9: unknown table [term]; did you mean [terms]?"}},
      // line 8: a misspelt escalation key in a step
      {kHead + "[[rules]]\nname = \"x\"\nkinds = [\"goodwill\"]\n"
               "steps = [ { any_of = [\"lead\"], escalate_afterhours = 24, escalate_to = \"lead\" } ]\n",
       {"line 8: rules[0] (x).steps[0]: unknown key \"escalate_afterhours\"; did you mean \"escalate_after_hours\"?"}},
      // line 6: an unknown delegation key
      {kHead + "[[delegations]]\nfrom = \"a\"\nto = \"b\"\nstart = 2026-12-01\nend = 2026-12-02\nuntil = 2026-12-03\n" +
           kRule,
       {"line 10: delegations[0]: unknown key \"until\""}},
      // line 2: an unknown top-level key
      {"version = \"1\"\nbase_curency = \"EUR\"\n[roles]\nlead = [\"a\"]\n" + kRule,
       {"line 2: unknown key \"base_curency\" at the top level; did you mean \"base_currency\"?"}},
      {kHead + kRule + "[budgets]\nescalate_to = \"lead\"\n", {"line 9: unknown table [budgets]; did you mean [budget]?"}},
      {"version = \"1\"\n[role]\nlead = [\"a\"]\n" + kRule, {"line 2: unknown table [role]; did you mean [roles]?"}},
      {kHead + kRule + "[terms.foo]\nx = 1\n", {"line 9: [terms]: unknown table [terms.foo]"}},
      {kHead + kRule + "[terms.goodwill]\nper_request_caps = { starter = \"10.00\" }\n",
       {"line 10: [terms.goodwill]: unknown key \"per_request_caps\"; did you mean \"per_request_cap\"?"}},
      {kHead + kRule + "[terms.service_credit]\ntiers = [ { below = \"0.99\", credit = \"0.10\", cap = \"1\" } ]\n",
       {"line 10: [terms.service_credit].tiers[0]: unknown key \"cap\""}},
      {kHead + kRule + "[accounting]\ngoodwill_as_expenses = true\n", {"line 10: [accounting]: unknown key \"goodwill_as_expenses\""}},
      {kHead + kRule + "[exception_roles]\nneeds_legal_reveiw = \"lead\"\n",
       {"line 10: [exception_roles]: unknown finding \"needs_legal_reveiw\"; did you mean \"needs_legal_review\"?"}},
      {kHead + kRule + "[exception_roles]\nneeds_legal_review = { role = \"lead\" }\n",
       {"line 10: exception_roles.needs_legal_review: must be a string"}},
      {kHead + "[[rule]]\nname = \"x\"\nkinds = [\"goodwill\"]\nauto_approve = true\n",
       {"line 5: unknown table [[rule]]; did you mean [[rules]]?"}},
      {kHead + "[[rules]]\nname = \"x\"\nkinds = [\"goodwill\"]\nsteps = [ { any_of = [\"lead\"], escalate_to = \"lead\" } ]\n",
       {"line 8: rules[0] (x).steps[0].escalate_to: needs escalate_after_hours"}},
  };
  for (const Case& c : cases) {
    const std::string message = refusal(c.text);
    EXPECT_FALSE(message.empty()) << "accepted:\n" << c.text;
    for (const std::string& part : c.expected) EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

TEST(PolicyStrictness, TheRefusalListsEveryProblemOneALine) {
  const std::string text = "version = \"1\"\n"                                  // 1
                           "[role]\n"                                           // 2
                           "lead = [\"a\"]\n"                                   // 3
                           "[[rules]]\n"                                        // 4
                           "name = \"x\"\n"                                     // 5
                           "kinds = [\"goodwill\"]\n"                           // 6
                           "tier = [\"growth\"]\n"                              // 7
                           "up_to = \"ten\"\n"                                  // 8
                           "steps = [ { any_of = [\"lead\"] } ]\n";             // 9
  const std::string message = refusal(text);
  EXPECT_NE(message.find("\nline 2: unknown table [role]; did you mean [roles]?\n"), std::string::npos) << message;
  EXPECT_NE(message.find("\nline 7: rules[0] (x): unknown key \"tier\""), std::string::npos) << message;
  EXPECT_NE(message.find("\nline 8: rules[0] (x).up_to: "), std::string::npos) << message;
  EXPECT_NE(message.find("\nline 9: rules[0] (x).steps[0]: names the role \"lead\", which [roles] does not define"),
            std::string::npos)
      << message;
}

// ---------------------------------------------------------------- the sample policy's small exceptions

namespace {

std::string sample_path() {
  std::string here = __FILE__;
  here = here.substr(0, here.rfind('/'));  // tests/cpp
  return here + "/../../python/amends/data/sample_policy.toml";
}

p::Policy sample_policy() { return p::Policy::load(sample_path()); }

std::string sample_text() {
  std::ifstream in(sample_path());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

p::RouteInput with_exceptions(Kind kind, const char* amount, const char* tier, std::vector<std::string> codes) {
  return p::RouteInput{kind, Decimal::parse(amount), tier, true, std::move(codes)};
}

}  // namespace

TEST(PolicySample, ASmallExceptionGoesToItsExceptionRoleNotToADeadEnd) {
  const p::Policy policy = sample_policy();
  struct Case {
    p::RouteInput in;
    const char* rule;
    std::vector<std::string> roles;  // one step each
  };
  const std::vector<Case> cases = {
      {with_exceptions(Kind::refund, "250.00", "growth", {"outside_return_window"}), "small refund", {"finance"}},
      {with_exceptions(Kind::goodwill, "100.00", "starter", {"above_trailing_cap"}), "small goodwill", {"finance"}},
      {with_exceptions(Kind::service_credit, "500.00", "enterprise", {"outside_claim_window"}),
       "contractual service credit", {"finance"}},
      // two findings for one role: one step
      {with_exceptions(Kind::goodwill, "90.00", "starter", {"above_tier_cap", "above_trailing_cap"}), "small goodwill",
       {"finance"}},
  };
  for (const Case& c : cases) {
    const p::Route r = p::route(policy, c.in);
    EXPECT_EQ(r.outcome, p::Outcome::needs_approval) << c.rule << ": " << r.reason;
    EXPECT_EQ(r.rule, c.rule);
    ASSERT_EQ(r.steps.size(), c.roles.size()) << c.rule;
    for (std::size_t i = 0; i < c.roles.size(); ++i) {
      EXPECT_FALSE(r.steps[i].all_of);
      EXPECT_EQ(r.steps[i].roles, std::vector<std::string>{c.roles[i]});
    }
    const int index = p::match(policy, c.in);
    ASSERT_GE(index, 0) << c.rule;
    EXPECT_EQ(policy.rules[static_cast<std::size_t>(index)].name, c.rule);
  }
  // Without findings the same requests are still approved automatically.
  const p::Route plain = p::route(policy, p::RouteInput{Kind::refund, Decimal::parse("250.00"), "growth", false, {}});
  EXPECT_EQ(plain.outcome, p::Outcome::auto_approved);
  EXPECT_TRUE(plain.steps.empty());
}

TEST(PolicyRouting, AnExceptionNoRoleCanDecideStaysBlockedAndTheReasonSaysWhatToChange) {
  const std::string text = R"(
version = "v"
[roles]
lead = ["a"]
[[rules]]
name = "small refund"
kinds = ["refund"]
up_to = "250.00"
auto_approve = true
[[rules]]
name = "refund"
kinds = ["refund"]
over = "250.00"
up_to = "1000.00"
steps = [ { any_of = ["lead"] } ]
[[rules]]
name = "enterprise refund"
kinds = ["refund"]
over = "1000.00"
tiers = ["enterprise"]
steps = [ { any_of = ["lead"] } ]
)";
  const p::Policy policy = p::Policy::parse(text);
  // No exception role: the auto-approve rule can't send the exception anywhere.
  const p::RouteInput small = with_exceptions(Kind::refund, "100.00", "growth", {"outside_return_window"});
  const p::Route r = p::route(policy, small);
  EXPECT_EQ(r.outcome, p::Outcome::blocked);
  EXPECT_EQ(p::match(policy, small), -1);
  EXPECT_NE(r.reason.find("outside_return_window"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("[exception_roles]"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find("by hand"), std::string::npos) << r.reason;

  // Over every band for its tier.
  const p::Route big = p::route(policy, p::RouteInput{Kind::refund, Decimal::parse("1500.00"), "growth", false, {}});
  EXPECT_EQ(big.outcome, p::Outcome::blocked);
  EXPECT_EQ(big.reason,
            "no rule of policy v covers a refund request of 1500.00 USD (tier growth); it is blocked, not approved. "
            "To route it: add a rule for refund requests over 1000.00 USD (tier growth), or widen rule \"refund\" "
            "(over 250.00 USD up to 1000.00 USD), or add tier growth to rule \"enterprise refund\"");
  EXPECT_EQ(big.explanation.back(), big.reason);
  const p::Route none = p::route(policy, p::RouteInput{Kind::goodwill, Decimal::parse("5.00"), "growth", false, {}});
  EXPECT_NE(none.reason.find("To route it: add a rule for goodwill requests"), std::string::npos) << none.reason;
}

// ---------------------------------------------------------------- requirements, evidence, accumulation

TEST(PolicyTables, TheSamplePolicyReadsItsRequirementsEvidenceTypesAndAccumulation) {
  const p::Policy policy = sample_policy();
  EXPECT_EQ(policy.duplicate_claims, p::DuplicateClaims::hold);
  ASSERT_EQ(policy.evidence_types.size(), 6U);
  EXPECT_EQ(policy.evidence_type("ZD-4411"), "ticket");
  EXPECT_EQ(policy.evidence_type("in_1Q2w"), "invoice");
  EXPECT_EQ(policy.evidence_type("CH-3"), "charge");
  EXPECT_EQ(policy.evidence_type("CASE-311"), "");
  ASSERT_EQ(policy.requirements.size(), 2U);
  const p::Requirement& goodwill = policy.requirements[0];
  EXPECT_EQ(goodwill.kinds, std::vector<Kind>{Kind::goodwill});
  EXPECT_EQ(*goodwill.over, Decimal::parse("1000.00"));
  EXPECT_FALSE(goodwill.up_to.has_value());
  EXPECT_TRUE(goodwill.justification);
  EXPECT_EQ(goodwill.evidence, std::vector<std::string>{"ticket"});
  EXPECT_GT(goodwill.line, 0U);
  EXPECT_EQ(policy.requirements[1].evidence, std::vector<std::string>{"incident"});
  EXPECT_GT(policy.requirements[1].line, goodwill.line);
  ASSERT_EQ(policy.accumulation.size(), 2U);
  EXPECT_EQ(policy.accumulation[0].name, "goodwill per customer");
  EXPECT_EQ(policy.accumulation[0].per, p::Accumulation::Per::customer);
  EXPECT_EQ(policy.accumulation[0].window_days, 30);
  EXPECT_EQ(policy.accumulation[0].threshold, Decimal::parse("1000.00"));
  EXPECT_EQ(policy.accumulation[1].per, p::Accumulation::Per::requester);
  EXPECT_EQ(policy.accumulation[1].threshold, Decimal::parse("5000.00"));
  EXPECT_TRUE(p::Policy::check(sample_text()).empty());
}

TEST(PolicyTables, ADuplicateClaimsDefaultAndARequirementsLine) {
  const p::Policy policy = p::Policy::parse(kHead + kRule +        // lines 1-8
                                            "[evidence_types]\n"   // 9
                                            "incident = [\"INC-\"]\n"
                                            "[[requirements]]\n"  // 11
                                            "kinds = [\"goodwill\"]\n"
                                            "reasons = [\"outage\"]\n");
  EXPECT_EQ(policy.duplicate_claims, p::DuplicateClaims::refuse);
  ASSERT_EQ(policy.requirements.size(), 1U);
  EXPECT_EQ(policy.requirements[0].line, 11U);
  EXPECT_EQ(policy.requirements[0].reasons, std::vector<std::string>{"outage"});
  EXPECT_FALSE(policy.requirements[0].justification);
}

TEST(PolicyTables, TheNewTablesAreAsStrictAsTheRest) {
  const std::string base = kHead + kRule + "[evidence_types]\nincident = [\"INC-\"]\n";  // lines 1-10
  struct Case {
    std::string tail;  // from line 11
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"[[requirements]]\nkinds = [\"goodwill\"]\nevidence = [\"tiket\"]\n",
            "line 13: requirements[0].evidence[0]: names the evidence type \"tiket\", which [evidence_types] does not "
            "define"},
           {"[[requirements]]\nkinds = [\"goodwill\"]\njustification = true\nevidense = [\"incident\"]\n",
            "line 14: requirements[0]: unknown key \"evidense\"; did you mean \"evidence\"?"},
           {"[[requirements]]\nkinds = [\"goodwill\"]\njustification = \"yes\"\n",
            "line 13: requirements[0].justification: must be true or false"},
           {"[[requirements]]\nkinds = [\"goodwill\"]\n", "line 11: requirements[0]: requires nothing"},
           {"[[requirements]]\njustification = true\n", "line 11: requirements[0].kinds: is missing"},
           {"[[requirements]]\nkinds = [\"goodwill\"]\nover = \"500\"\nup_to = \"100\"\njustification = true\n",
            "line 11: requirements[0]: has a band whose floor is not below its ceiling"},
           {"ticket = []\n", "line 11: evidence_types.ticket: names no prefix"},
           {"ticket = [\"\"]\n", "line 11: evidence_types.ticket[0]: must not be empty"},
           {"ticket = \"TCK-\"\n", "line 11: evidence_types.ticket: must be an array of strings"},
           {"incidents = [\"INC-7\"]\n", "an id would be of both types"},
           {"[[accumulation]]\nname = \"a\"\nkinds = [\"goodwill\"]\nper = \"team\"\nwindow_days = 30\nthreshold = \"1\"\n",
            "line 14: accumulation[0] (a).per: must be \"customer\" or \"requester\", not \"team\""},
           {"[[accumulation]]\nname = \"a\"\nkinds = [\"goodwill\"]\nper = \"customer\"\nwindow_days = 0\nthreshold = \"1\"\n",
            "line 15: accumulation[0] (a).window_days: must be a whole number from 1 to 3660"},
           {"[[accumulation]]\nname = \"a\"\nkinds = [\"goodwill\"]\nper = \"customer\"\nwindow_days = 3661\nthreshold = \"1\"\n",
            "line 15: accumulation[0] (a).window_days: must be a whole number from 1 to 3660"},
           {"[[accumulation]]\nname = \"a\"\nkinds = [\"goodwill\"]\nper = \"customer\"\nwindow_days = 30\nthreshold = \"0\"\n",
            "line 16: accumulation[0] (a).threshold: must be a positive amount"},
           {"[[accumulation]]\nname = \"a\"\nkinds = [\"goodwill\"]\nper = \"customer\"\nwindow_days = 30\nthreshold = 250\n",
            "line 16: accumulation[0] (a).threshold: must be a string"},
           {"[[accumulation]]\nname = \"a\"\nkinds = [\"goodwill\"]\nper = \"customer\"\nwindow_days = 30\n",
            "line 11: accumulation[0] (a).threshold: is missing"},
           {"[[accumulation]]\nname = \"a\"\nkinds = [\"goodwill\"]\nper = \"customer\"\nwindow_days = 30\nthreshold = \"1\"\n"
            "[[accumulation]]\nname = \"a\"\nkinds = [\"goodwill\"]\nper = \"customer\"\nwindow_days = 30\nthreshold = \"2\"\n",
            "line 18: accumulation[1] (a): has the name of an earlier [[accumulation]]"},
           {"[[accumulation]]\nname = \"a\"\nkind = [\"goodwill\"]\nper = \"customer\"\nwindow_days = 30\nthreshold = \"1\"\n",
            "line 13: accumulation[0] (a): unknown key \"kind\"; did you mean \"kinds\"?"},
           {"[terms.service_credit]\nduplicate_claims = \"ignore\"\n",
            "line 12: terms.service_credit.duplicate_claims: must be \"refuse\" or \"hold\", not \"ignore\""},
       }) {
    const std::string text = base + c.tail;
    const std::string message = refusal(text);
    EXPECT_NE(message.find(c.expected), std::string::npos) << "expected: " << c.expected << "\ngot: " << message;
  }
}

TEST(PolicyCheck, ListsEveryProblemWithItsLineColumnAndPlace) {
  const std::string text = "version = \"1\"\n"                 // 1
                           "[role]\n"                          // 2
                           "lead = [\"a\"]\n"                  // 3
                           "[[rules]]\n"                       // 4
                           "name = \"x\"\n"                    // 5
                           "kinds = [\"goodwill\"]\n"          // 6
                           "  tier = [\"growth\"]\n"           // 7
                           "auto_approve = true\n";            // 8
  const std::vector<p::Problem> problems = p::Policy::check(text);
  ASSERT_EQ(problems.size(), 2U);
  EXPECT_EQ(problems[0].line, 2U);
  EXPECT_EQ(problems[0].where, "");
  EXPECT_EQ(problems[0].message, "unknown table [role]; did you mean [roles]?");
  EXPECT_EQ(problems[1].line, 7U);
  EXPECT_EQ(problems[1].column, 3U);
  EXPECT_EQ(problems[1].where, "rules[0] (x)");
  EXPECT_EQ(problems[1].message, "unknown key \"tier\"; did you mean \"tiers\"?");
  EXPECT_EQ(p::to_string(problems[1]), "line 7: rules[0] (x): unknown key \"tier\"; did you mean \"tiers\"?");
  try {
    p::Policy::parse(text);
    ADD_FAILURE() << "accepted";
  } catch (const p::policy_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "policy file has 2 problems:\n"
              "line 2: unknown table [role]; did you mean [roles]?\n"
              "line 7: rules[0] (x): unknown key \"tier\"; did you mean \"tiers\"?");
  }
  const std::vector<p::Problem> syntax = p::Policy::check("version = \n");
  ASSERT_EQ(syntax.size(), 1U);
  EXPECT_EQ(syntax[0].line, 1U);
  EXPECT_NE(syntax[0].message.find("does not parse at line 1"), std::string::npos);
  EXPECT_TRUE(p::Policy::check(kPolicy).empty());
}
