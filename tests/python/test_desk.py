"""amends.Desk end to end, in memory and in PostgreSQL: the four processes, budgets under concurrency, atomic writes.

Expected postings and amounts are written out by hand from the sample
policy (python/amends/data/sample_policy.toml) and docs/architecture.md's accounting
table; nothing is compared with what the code printed before.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import amends
from helpers import Clock

POLICY = Path(amends.__file__).parent / "data" / "sample_policy.toml"
UTC = dt.timezone.utc
D = Decimal


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def desk(empty_book: amends.Ledger, clock: Clock) -> amends.Desk:
    d = amends.Desk(empty_book, policy=POLICY, clock=clock)
    for kind in ("goodwill", "service_credit", "retention_offer"):
        d.allocate("support", kind, "2026-11", "10000.00", on="2026-11-01")
    return d


def postings(book: amends.Ledger, entry: int) -> list[tuple[str, Decimal]]:
    e = book.entry(entry)
    return sorted((account, amount) for account, amount, _currency in e.postings)


def stored(desk: amends.Desk) -> amends.Desk:
    """The same desk read afresh by another session (for a Book), or itself (in memory)."""
    if isinstance(desk.book, amends.Book):
        return amends.Desk(amends.open(desk.book.dsn, desk.book.name, simulation=True))
    return desk


def test_goodwill_auto_approved_and_applied(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-1", tier="growth", amount="80.00", requester="ana", team="support",
                    reason="outage-apology", evidence=["INC-7"])
    assert (r.state, r.outcome, r.rule) == ("approved", "auto_approved", "small goodwill")
    assert desk.utilisation("support", "goodwill", "2026-11").reserved == D("80.00")
    r = desk.apply(r.id, "billing-bot")
    assert r.state == "applied" and r.posting_period == "2026-11" and not r.out_of_period
    assert postings(desk.book, r.entries[0]) == [("ContraRevenue:Goodwill", D("80.00")),
                                                 ("Liabilities:CustomerCredits:C-1", D("-80.00"))]
    u = desk.utilisation("support", "goodwill", "2026-11")
    assert (u.allocated, u.reserved, u.consumed, u.available) == (D("10000.00"), 0, D("80.00"), D("9920.00"))
    again = stored(desk)
    assert again.get(r.id).state == "applied"
    [note] = again.outbox()
    assert note["event"] == "applied" and note["customer"] == "C-1" and "80.00 USD" in note["body"]
    assert again.verify_audit()["ok"]
    events = [e["event"] for e in again.audit_events() if e["request"] == r.id]
    assert events == ["created", "submitted", "validated", "routed", "approved", "reserved", "applied", "notified"]


def test_service_credit_computed_from_sla_and_posted_to_its_open_period(desk: amends.Desk) -> None:
    # 98.5% uptime is below 99% (30%) but not below 95%: 30% of 2,000.00 = 600.00, over the 500.00 auto limit.
    r = desk.submit(kind="service_credit", customer="C-2", tier="enterprise", requester="ana", team="support",
                    period_fee="2000.00", availability="0.985", service_period="2026-10", evidence=["INC-9"])
    assert (r.state, r.amount, r.rule) == ("pending_approval", D("600.00"), "service credit")
    assert desk.waiting_for(r.id) == ["fatima", "raj"]
    r = desk.approve(r.id, "raj", comment="metrics checked")
    r = desk.apply(r.id, "billing-bot")
    # October is open: the credit is accrued in October, its service period, on its last day.
    assert r.posting_period == "2026-10" and not r.out_of_period
    e = desk.book.entry(r.entries[0])
    assert e.date == dt.date(2026, 10, 31)
    assert postings(desk.book, r.entries[0]) == [("ContraRevenue:ServiceCredits", D("600.00")),
                                                 ("Liabilities:CustomerCredits:C-2", D("-600.00"))]


def test_closed_service_period_is_an_out_of_period_adjustment(desk: amends.Desk) -> None:
    desk.book.close_period("2026-10")
    r = desk.submit(kind="service_credit", customer="C-3", tier="enterprise", requester="ana", team="support",
                    period_fee="1000.00", availability="0.9995", service_period="2026-10", evidence=["INC-3"])
    # 99.95% is below 99.99%: 10% of 1,000.00 = 100.00, auto-approved (contractual, up to 500.00).
    assert (r.state, r.amount) == ("approved", D("100.00"))
    r = desk.apply(r.id, "billing-bot")
    assert (r.posting_period, r.out_of_period) == ("2026-11", True)
    e = desk.book.entry(r.entries[0])
    assert e.date == dt.date(2026, 11, 2) and e.metadata["out_of_period"] == "2026-10"


def test_refund_ties_to_its_charge_and_stays_within_the_remainder(desk: amends.Desk) -> None:
    desk.record_charge("ch_1", "C-4", "400.00", "USD", "2026-10-25", refunded="50.00")
    big = desk.submit(kind="refund", customer="C-4", amount="300.00", requester="ana", team="support", charge="ch_1")
    assert (big.state, big.rule) == ("pending_approval", "refund")
    assert [s["roles"] for s in big.steps] == [["team_lead"], ["finance"]]
    # 400 - 50 refunded in billing - 300 pending = 50 left.
    over = desk.submit(kind="refund", customer="C-4", amount="60.00", requester="ana", team="support", charge="ch_1")
    assert over.state == "declined" and [f["code"] for f in over.findings] == ["above_refundable_remainder"]
    assert desk.outbox()[-1]["event"] == "declined"
    desk.approve(big.id, "omar")
    with pytest.raises(amends.ApprovalError, match="approved in this chain already"):
        desk.approve(big.id, "omar")
    r = desk.apply(desk.approve(big.id, "fatima").id, "billing-bot")
    assert postings(desk.book, r.entries[0]) == [("ContraRevenue:Refunds", D("300.00")),
                                                 ("Liabilities:RefundsPayable", D("-300.00"))]
    assert r.reservation is None  # refunds draw on no budget in the sample policy


def test_retention_offer_over_months_posts_each_month_without_losing_a_cent(desk: amends.Desk) -> None:
    # 15% of 333.33 a month for 3 months = 149.9985 -> 150.00 (half-even to cents), 2.4% of a 6,250.00 value.
    r = desk.submit(kind="retention_offer", customer="C-5", tier="enterprise", customer_value="6250.00",
                    requester="ana", team="support", discount="0.15", monthly_fee="333.33", months=3)
    assert r.state == "pending_approval" and r.amount == D("150.00")
    assert [s["roles"] for s in r.steps] == [["finance", "strategy"]]
    desk.approve(r.id, "fatima")
    assert desk.get(r.id).state == "pending_approval"
    r = desk.apply(desk.approve(r.id, "sofia").id, "billing-bot")
    lines = [(desk.book.entry(e).date, postings(desk.book, e)) for e in r.entries]
    assert lines == [
        (dt.date(2026, 11, 2), [("Assets:Receivables:C-5", D("-50.00")), ("ContraRevenue:RetentionDiscounts", D("50.00"))]),
        (dt.date(2026, 12, 1), [("Assets:Receivables:C-5", D("-50.00")), ("ContraRevenue:RetentionDiscounts", D("50.00"))]),
        (dt.date(2027, 1, 1), [("Assets:Receivables:C-5", D("-50.00")), ("ContraRevenue:RetentionDiscounts", D("50.00"))]),
    ]


def test_hard_budget_refuses_an_approval_and_changes_nothing(desk: amends.Desk) -> None:
    desk.allocate("emea", "goodwill", "2026-11", "500.00", on="2026-11-01")
    r = desk.submit(kind="goodwill", customer="C-6", tier="enterprise", amount="600.00", requester="ana", team="emea")
    assert r.rule == "goodwill"
    before = (len(desk.audit_events()), desk.book.entry_count, desk.get(r.id))
    with pytest.raises(amends.BudgetExceeded, match="has 500.00 USD left"):
        desk.approve(r.id, "lena")
    after = stored(desk)
    assert (len(after.audit_events()), after.book.entry_count, after.get(r.id)) == before


def test_goodwill_for_a_tier_without_terms_is_refused_at_validation(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-7", tier="vip", amount="20.00", requester="ana", team="support")
    assert r.state == "declined"
    assert [f["code"] for f in r.findings if f["severity"] == "refusal"] == ["no_terms_for_tier"]


def test_a_request_no_rule_matches_is_blocked_never_approved(desk: amends.Desk) -> None:
    text = POLICY.read_text().replace('version = "2026-11-01"', 'version = "no-retention"')
    start = text.index('[[rules]]\nname = "retention offer"')
    desk.publish_policy(text[:start] + text[text.index("[terms.service_credit]"):])
    r = desk.submit(kind="retention_offer", customer="C-7", tier="growth", customer_value="50000.00", amount="500.00",
                    requester="ana", team="support")
    assert (r.state, r.outcome) == ("validated", "blocked") and "no rule" in r.blocked
    with pytest.raises(amends.ApprovalError, match="blocked"):
        desk.approve(r.id, "fatima")
    assert desk.get(r.id).state == "validated" and desk.get(r.id).reservation is None


def test_float_amount_is_a_type_error(desk: amends.Desk) -> None:
    with pytest.raises(TypeError):
        desk.submit(kind="goodwill", customer="C-8", tier="growth", amount=80.0, requester="ana", team="support")
    assert desk.requests() == []


def test_escalation_on_a_supplied_clock(desk: amends.Desk, clock: Clock) -> None:
    r = desk.submit(kind="goodwill", customer="C-9", tier="growth", amount="300.00", requester="ana", team="support")
    clock.advance(hours=23)
    assert desk.escalate_due() == []
    clock.advance(hours=2)
    assert desk.escalate_due() == [r.id]
    assert "grace" in desk.waiting_for(r.id)
    assert [p.id for p in desk.pending_for("grace")] == [r.id]
    assert desk.approve(r.id, "grace").state == "approved"


def test_decline_offers_alternatives_in_the_notification(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-10", tier="growth", amount="400.00", requester="ana", team="support")
    r = desk.decline(r.id, "lena", "above what this incident warrants", alternatives=["a 100.00 USD credit", "a free month of support"])
    assert r.state == "declined"
    body = desk.outbox()[-1]["body"]
    assert "above what this incident warrants" in body and "a free month of support" in body


def test_returned_request_is_amended_and_keeps_every_version(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-11", tier="growth", amount="300.00", requester="ana", team="support")
    desk.return_for_information(r.id, "lena", "which incident?")
    desk.amend(r.id, "ana", evidence=["INC-42"], amount="250.00")
    r = desk.resubmit(r.id, "ana")
    assert (r.state, r.version, r.amount, r.evidence) == ("pending_approval", 2, D("250.00"), ["INC-42"])
    assert stored(desk).get(r.id).version == 2


def test_in_flight_requests_keep_the_policy_that_routed_them(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-12", tier="growth", amount="300.00", requester="ana", team="support")
    stricter = POLICY.read_text().replace('version = "2026-11-01"', 'version = "2026-12-01"').replace(
        'steps = [ { any_of = ["team_lead"], escalate_after_hours = 24, escalate_to = "cs_director" } ]',
        'steps = [ { any_of = ["cfo"] } ]')
    assert desk.publish_policy(stricter) == "2026-12-01"
    later = desk.submit(kind="goodwill", customer="C-13", tier="growth", amount="300.00", requester="ana", team="support")
    assert desk.waiting_for(later.id) == ["chen"]
    assert desk.get(r.id).policy_version == "2026-11-01"
    assert desk.approve(r.id, "lena").state == "approved"  # still team_lead's to approve
    assert "2026-11-01" in stored(desk).explain(r.id)


def test_period_close_refuses_to_strand_and_accrues_when_asked(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-14", tier="growth", amount="90.00", requester="ana", team="support")
    assert r.state == "approved"
    with pytest.raises(amends.CloseRefused, match=r.id):
        desk.close_period("2026-11", "controller")
    report = desk.close_period("2026-11", "controller", accrue=True)
    assert report.accrued == [r.id]
    assert report.posted == [{"kind": "goodwill", "count": 1, "amount": D("90.00")}]
    assert desk.book.period_state("2026-11") == "closed"
    r = desk.apply(r.id, "billing-bot")  # already posted at the close: applying posts nothing more
    assert r.state == "applied" and r.accrued and len(r.entries) == 1
    assert desk.book.balance("ContraRevenue:Goodwill") == D("90.00")


def test_a_failed_transaction_leaves_no_trace(pg_books_dsn: str, clock: Clock) -> None:
    # In PostgreSQL, desk.transaction() makes several operations one transaction.
    desk = amends.Desk(amends.open(pg_books_dsn, f"desk_{uuid.uuid4().hex[:10]}", simulation=True), policy=POLICY, clock=clock)
    desk.allocate("support", "goodwill", "2026-11", "1000.00", on="2026-11-01")
    r = desk.submit(kind="goodwill", customer="C-15", tier="growth", amount="70.00", requester="ana", team="support")
    entries, events, notes = desk.book.entry_count, len(desk.audit_events()), len(desk.outbox())

    def apply_then_fail() -> None:
        desk._core.apply(r.id, "billing-bot", 1_800_000_000_000_000)
        raise RuntimeError("the billing call failed")

    with pytest.raises(RuntimeError):
        desk.transaction(apply_then_fail)
    for d in (desk, stored(desk)):
        assert d.get(r.id).state == "approved"
        assert (d.book.entry_count, len(d.audit_events()), len(d.outbox())) == (entries, events, notes)


# ------------------------------------------------------------------ PostgreSQL only


def _approver(dsn: str, book: str, ids: list[str], person: str, start: Any, out: Any) -> None:
    d = amends.Desk(amends.open(dsn, book, simulation=True))
    start.wait()
    results = []
    for i in ids:
        try:
            d.approve(i, person)
            results.append((i, "approved"))
        except amends.BudgetExceeded:
            results.append((i, "budget"))
    out.put(results)


def test_hard_budget_holds_under_concurrent_approvers(pg_books_dsn: str) -> None:
    name = f"desk_{uuid.uuid4().hex[:10]}"
    desk = amends.Desk(amends.open(pg_books_dsn, name, simulation=True), policy=POLICY)
    # The approvers in other processes use the real clock, so this test does too; budgets are by the
    # month a request is submitted in.
    month = dt.datetime.now(UTC).strftime("%Y-%m")
    desk.allocate("apac", "goodwill", month, "1000.00")
    ids = [desk.submit(kind="goodwill", customer=f"C-{i}", tier="enterprise", amount="150.00", requester="ana",
                       team="apac").id for i in range(12)]
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(4), ctx.Queue()
    people = ["lena", "omar", "lena", "omar"]
    procs = [ctx.Process(target=_approver, args=(pg_books_dsn, name, ids[k::4], people[k], start, out)) for k in range(4)]
    for p in procs:
        p.start()
    results = [r for _ in procs for r in out.get(timeout=120)]
    for p in procs:
        p.join(60)
    approved = [i for i, what in results if what == "approved"]
    # 1,000.00 holds six requests of 150.00 (900.00); the seventh would overspend.
    assert len(approved) == 6 and len(results) == 12
    fresh = amends.Desk(amends.open(pg_books_dsn, name, simulation=True))
    u = fresh.utilisation("apac", "goodwill", month)
    assert (u.reserved, u.available) == (D("900.00"), D("100.00"))
    assert sorted(r.id for r in fresh.requests("approved")) == sorted(approved)
    assert fresh.verify_audit()["ok"]


def test_submitted_and_applied_in_one_transaction(pg_books_dsn: str, clock: Clock) -> None:
    # The database sees the request go from nothing to applied in one write and checks each move of it.
    desk = amends.Desk(amends.open(pg_books_dsn, f"desk_{uuid.uuid4().hex[:10]}", simulation=True), policy=POLICY, clock=clock)
    desk.allocate("support", "goodwill", "2026-11", "1000.00", on="2026-11-01")

    def both() -> str:
        r = desk._core.submit({"kind": "goodwill", "customer": "C-16", "tier": "growth", "amount": "40.00",
                               "requester": "ana", "team": "support"}, 1_793_700_000_000_000)
        desk._core.apply(r.id, "billing-bot", 1_793_700_000_000_001)
        return str(r.id)

    rid = desk.transaction(both)
    again = stored(desk)
    assert again.get(rid).state == "applied" and again.book.balance("ContraRevenue:Goodwill") == D("40.00")


def test_a_contract_change_adds_a_legal_review_step(desk: amends.Desk) -> None:
    r = desk.submit(kind="retention_offer", customer="C-17", tier="enterprise", customer_value="90000.00",
                    amount="1200.00", changes_contract=True, requester="ana", team="support")
    assert [s["roles"] for s in r.steps] == [["finance", "strategy"], ["legal"]]
    assert [f["code"] for f in r.findings if f["severity"] == "exception"] == ["needs_legal_review"]
    desk.approve(r.id, "raj")
    desk.approve(r.id, "sofia")
    assert desk.get(r.id).state == "pending_approval" and desk.waiting_for(r.id) == ["leo"]
    assert desk.approve(r.id, "leo", comment="new term reviewed").state == "approved"
