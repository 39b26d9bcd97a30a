"""Approval policies from Python: route, explain, approve with separation of duties, escalate on the caller's clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import amends

POLICY = """
version = "2026-11-01"
base_currency = "USD"
exception_role = "finance"

[roles]
team_lead = ["lena", "omar"]
finance = ["fatima"]
cfo = ["chen"]

[[rules]]
name = "small goodwill"
kinds = ["goodwill"]
up_to = "50.00"
auto_approve = true

[[rules]]
name = "goodwill"
kinds = ["goodwill"]
over = "50.00"
steps = [ { any_of = ["team_lead"] }, { all_of = ["finance", "cfo"], escalate_after_hours = 24, escalate_to = "cfo" } ]
"""

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def policy(tmp_path) -> amends.Policy:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return amends.Policy.load(path)


def test_a_small_request_auto_approves_and_a_larger_one_goes_to_people(policy: amends.Policy):
    small = policy.route("goodwill", "50.00", tier="growth")
    large = policy.route("goodwill", "50.01", tier="growth")

    assert (small.outcome, small.rule, small.steps) == ("auto_approved", "small goodwill", ())
    assert (large.outcome, large.rule) == ("needs_approval", "goodwill")
    assert [step.roles for step in large.steps] == [("team_lead",), ("finance", "cfo")]
    assert large.steps[1].escalate_to == "cfo" and large.policy_version == "2026-11-01"


def test_an_exception_goes_to_people_and_finance_and_the_route_says_why(policy: amends.Policy):
    route = policy.route("goodwill", "400.00", tier="growth", exceptions=["above_tier_cap"])

    assert route.steps[-1].roles == ("finance",)
    assert route.explain().splitlines() == [
        'rule "small goodwill" does not apply: 400.00 USD is over its ceiling of 50.00 USD',
        'rule "goodwill" matches: a goodwill request of 400.00 USD (tier growth) needs team_lead, then finance and cfo',
        "the request has exceptions (above_tier_cap), so finance approves it too",
    ]


def test_what_no_rule_covers_is_blocked_never_approved(policy: amends.Policy):
    route = policy.route("refund", "10.00", tier="growth")

    assert route.outcome == "blocked" and route.rule is None
    assert "it is blocked, not approved" in (route.reason or "")
    with pytest.raises(amends.ApprovalError, match="only a request routed to people"):
        policy.chain("refund", "10.00", tier="growth", requester="maria", started_at=NOW)


def test_the_chain_enforces_separation_of_duties_and_escalates_on_the_given_clock(policy: amends.Policy):
    chain = policy.chain("goodwill", "400.00", tier="growth", requester="lena", started_at=NOW)

    assert chain.waiting_for(NOW.date()) == ["omar"]  # lena requested it
    with pytest.raises(amends.ApprovalError, match="nobody approves their own request"):
        chain.approve("lena", NOW)
    assert chain.approve("omar", NOW + dt.timedelta(hours=1)) is False
    assert chain.escalate_due(NOW + dt.timedelta(hours=24)) == []
    assert chain.escalate_due(NOW + dt.timedelta(hours=26)) == [(1, "cfo")]
    assert chain.approve("chen", NOW + dt.timedelta(hours=27), "decided on escalation") is True
    assert chain.complete


def test_bad_policies_and_naive_times_are_refused(policy: amends.Policy):
    with pytest.raises(amends.PolicyError, match="does not parse at line 1"):
        amends.Policy.parse("version = ")
    with pytest.raises(amends.PolicyError, match="must be a string"):
        amends.Policy.parse(POLICY.replace('up_to = "50.00"', "up_to = 50.0"))
    with pytest.raises(TypeError, match="timezone-aware"):
        policy.chain("goodwill", "400.00", tier="growth", requester="maria", started_at=dt.datetime(2026, 11, 23))
    with pytest.raises(TypeError):
        policy.route("goodwill", 400.0, tier="growth")  # a float amount


SAMPLE = Path(amends.__file__).parent / "data" / "sample_policy.toml"


@pytest.mark.parametrize(("kind", "amount", "tier", "exceptions", "rule"), [
    ("refund", "250.00", "growth", ["outside_return_window"], "small refund"),
    ("goodwill", "100.00", "starter", ["above_trailing_cap"], "small goodwill"),
    ("service_credit", "500.00", "enterprise", ["outside_claim_window"], "contractual service credit"),
])
def test_a_small_exception_in_the_sample_policy_goes_to_finance(kind, amount, tier, exceptions, rule):
    policy = amends.Policy.load(SAMPLE)

    route = policy.route(kind, amount, tier=tier, exceptions=exceptions)

    assert (route.outcome, route.rule) == ("needs_approval", rule)
    assert [(s.all_of, s.roles) for s in route.steps] == [(False, ("finance",))]
    assert route.explain().splitlines()[-1] == f"the request has exceptions ({exceptions[0]}), so finance approves it"
    chain = policy.chain(kind, amount, tier=tier, requester="ana", started_at=NOW, exceptions=exceptions)
    assert chain.waiting_for(NOW.date()) == ["fatima", "raj"]
    assert chain.approve("raj", NOW) is True


def test_a_request_no_rule_covers_says_which_change_would_route_it(policy: amends.Policy):
    route = policy.route("refund", "10.00", tier="growth")

    assert route.reason == ("no rule of policy 2026-11-01 covers a refund request of 10.00 USD (tier growth); "
                            "it is blocked, not approved. To route it: add a rule for refund requests (tier growth)")
    assert "by hand" not in route.explain()
