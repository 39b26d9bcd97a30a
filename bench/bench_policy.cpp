// Routing and validating generated requests in C++ (issue 4's target:
// >= 1,000,000 requests/s routed). Prints JSON lines: the routing hot path
// (policy::match), and routing plus the kind's validation (concessions::assess_*).
//
//   amends_bench_policy [requests] [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "amends/concessions.hpp"
#include "amends/policy.hpp"

namespace {

using amends::Currency;
using amends::Date;
using amends::Decimal;
using amends::Money;
using amends::Period;
namespace c = amends::concessions;
namespace p = amends::policy;

const char* kPolicy = R"(
version = "bench"
exception_role = "finance"
[roles]
agent_lead = ["a1", "a2"]
team_lead = ["t1", "t2", "t3"]
finance = ["f1", "f2"]
billing = ["b1"]
cfo = ["c1"]
legal = ["l1"]
[[rules]]
name = "small goodwill"
kinds = ["goodwill"]
up_to = "50.00"
auto_approve = true
[[rules]]
name = "goodwill, standard tiers"
kinds = ["goodwill"]
over = "50.00"
up_to = "500.00"
tiers = ["starter", "growth"]
steps = [ { any_of = ["agent_lead"] } ]
[[rules]]
name = "goodwill"
kinds = ["goodwill"]
over = "50.00"
up_to = "2000.00"
steps = [ { any_of = ["team_lead"] } ]
[[rules]]
name = "large goodwill"
kinds = ["goodwill"]
over = "2000.00"
steps = [ { any_of = ["team_lead"] }, { all_of = ["finance", "cfo"], escalate_after_hours = 24, escalate_to = "cfo" } ]
[[rules]]
name = "small service credits"
kinds = ["service_credit"]
up_to = "1000.00"
auto_approve = true
[[rules]]
name = "service credits"
kinds = ["service_credit"]
over = "1000.00"
steps = [ { any_of = ["billing"] }, { any_of = ["finance"] } ]
[[rules]]
name = "small refunds"
kinds = ["refund"]
up_to = "100.00"
auto_approve = true
[[rules]]
name = "refunds"
kinds = ["refund"]
over = "100.00"
up_to = "5000.00"
steps = [ { any_of = ["billing"] } ]
[[rules]]
name = "large refunds"
kinds = ["refund"]
over = "5000.00"
steps = [ { any_of = ["billing"] }, { any_of = ["finance"] } ]
[[rules]]
name = "retention, enterprise"
kinds = ["retention_offer"]
tiers = ["enterprise"]
steps = [ { any_of = ["team_lead"] }, { any_of = ["legal"] } ]
[[rules]]
name = "retention"
kinds = ["retention_offer"]
steps = [ { any_of = ["team_lead"] } ]
)";

struct Generated {
  p::RouteInput route;
  std::int64_t minor;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const p::Policy policy = p::Policy::parse(kPolicy);
  const Currency usd = Currency::of("USD");
  std::mt19937_64 rng(42);
  const std::string tiers[] = {"starter", "growth", "enterprise"};
  std::vector<Generated> requests;
  requests.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto kind = static_cast<c::Kind>(rng() % 4);
    const std::int64_t minor = static_cast<std::int64_t>(rng() % 1'000'000) + 1;  // 0.01 .. 10,000.00
    requests.push_back(Generated{p::RouteInput{kind, Decimal::from_scaled(minor, 2), tiers[rng() % 3], rng() % 10 == 0, {}},
                                 minor});
  }
  const c::SlaTerms sla = c::SlaTerms::aws_style();
  c::GoodwillTerms goodwill;
  goodwill.per_request_cap = {{"starter", Decimal::parse("100.00")}, {"growth", Decimal::parse("500.00")},
                              {"enterprise", Decimal::parse("2000.00")}};
  const c::RefundTerms refunds{30};
  const c::RetentionTerms retention{Decimal::parse("0.10")};

  std::vector<double> route_rates, validate_rates;
  std::size_t blocked = 0;
  for (int run = 0; run < runs; ++run) {
    auto t = std::chrono::steady_clock::now();
    std::size_t matched = 0;
    for (const Generated& g : requests) matched += p::match(policy, g.route) >= 0;
    route_rates.push_back(static_cast<double>(n) / seconds_since(t));
    blocked = n - matched;

    t = std::chrono::steady_clock::now();
    std::size_t refused = 0;
    for (const Generated& g : requests) {
      const Money amount = Money::from_minor(g.minor, usd);
      c::Assessment a{amount, {}};
      switch (g.route.kind) {
        case c::Kind::service_credit:
          a = c::assess_service_credit(sla, c::ServiceCreditClaim{Money::from_minor(g.minor * 10, usd), Decimal::parse("0.995"),
                                                                   Period::parse("2026-10"), Date::parse("2026-11-10"), amount});
          break;
        case c::Kind::refund:
          a = c::assess_refund(refunds, c::OriginalTransaction{"ch", Money::from_minor(g.minor * 2, usd), Date::parse("2026-11-01"),
                                                               Money::zero(usd)},
                               amount, Date::parse("2026-11-10"));
          break;
        case c::Kind::goodwill:
          a = c::assess_goodwill(goodwill, c::CustomerContext{"C1", g.route.tier, Money::from_minor(10'000'000, usd), Money::zero(usd)},
                                 amount);
          break;
        case c::Kind::retention_offer: {
          c::RetentionOffer offer;
          offer.credit = amount;
          a = c::assess_retention(retention, c::CustomerContext{"C1", g.route.tier, Money::from_minor(10'000'000, usd), Money::zero(usd)},
                                  offer);
          break;
        }
      }
      p::RouteInput in = g.route;
      in.has_exception = a.has_exception();
      refused += a.refused() || p::match(policy, in) < 0;
    }
    validate_rates.push_back(static_cast<double>(n) / seconds_since(t));
    (void)refused;
  }
  std::sort(route_rates.begin(), route_rates.end());
  std::sort(validate_rates.begin(), validate_rates.end());
  std::printf("{\"requests\": %zu, \"runs\": %d, \"blocked\": %zu, \"route_per_s_median\": %.0f, "
              "\"validate_and_route_per_s_median\": %.0f}\n",
              n, runs, blocked, route_rates[route_rates.size() / 2], validate_rates[validate_rates.size() / 2]);
  return 0;
}
