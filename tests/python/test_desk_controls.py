"""The desk's controls under the sequences people really produce: resubmission, amendment, repetition,
concurrency, other people's names. Each test runs against both back ends (in memory and PostgreSQL); for
PostgreSQL every outcome is read back by a fresh session as well.

Amounts are worked out by hand from the sample policy (python/amends/data/sample_policy.toml):
growth goodwill is capped at 500.00 a request and 1,500.00 over 12 months; refunds up to 250.00 and
service credits up to 500.00 auto-approve; goodwill over 100.00 needs a team lead (lena, omar).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

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


def caps_only() -> str:
    """The sample policy without its per-customer accumulation threshold, so the goodwill caps act alone."""
    text = POLICY.read_text().replace('version = "2026-11-01"', 'version = "caps-only"')
    return text.replace('threshold = "1000.00"', 'threshold = "1000000.00"')


def reopened(desk: amends.Desk) -> amends.Desk:
    """The same desk opened afresh by another session (for a Book), or itself (in memory)."""
    if isinstance(desk.book, amends.Book):
        return amends.Desk(amends.open(desk.book.dsn, desk.book.name, create=False))
    return desk


def states(desk: amends.Desk) -> dict[str, str]:
    return {r.id: r.state for r in desk.requests()}


# ------------------------------------------------------------------ the book always reopens


def test_a_refund_declined_on_resubmission_leaves_the_book_openable(desk: amends.Desk) -> None:
    desk.record_charge("ch_9", "C-9", "400.00", "USD", "2026-10-30")
    first = desk.submit(kind="refund", customer="C-9", amount="300.00", requester="ana", team="support",
                        charge="ch_9", evidence=["TCK-1"])
    assert first.state == "pending_approval"
    desk.return_for_information(first.id, "omar", "which order line?")
    second = desk.submit(kind="refund", customer="C-9", amount="300.00", requester="ana", team="support",
                         charge="ch_9", evidence=["TCK-2"])
    desk.approve(second.id, "omar")
    assert desk.approve(second.id, "fatima").state == "approved"
    # 400.00 - 300.00 approved = 100.00 left: the first, resubmitted, is refused.
    again = desk.resubmit(first.id, "ana")
    assert again.state == "declined"
    assert [f["code"] for f in again.findings] == ["above_refundable_remainder"]
    assert again.policy_version == "2026-11-01"
    fresh = reopened(desk)
    assert states(fresh) == {first.id: "declined", second.id: "approved"}
    assert fresh.apply(second.id, "billing-bot").state == "applied"
    assert reopened(desk).verify_audit()["ok"]


def test_an_sla_claim_resubmitted_after_its_window_keeps_the_first_submission_date(
        desk: amends.Desk, clock: Clock) -> None:
    desk.allocate("support", "service_credit", "2026-12", "10000.00", on="2026-12-01")
    # October's claim window (60 days after 2026-10-31) ends on 2026-12-30. Submitted on 2026-12-20,
    # 99.5% uptime: 10% of 3,000.00 = 300.00 ... asked for 800.00, above the computed amount, so people look.
    r = desk.submit(kind="service_credit", customer="C-8", tier="enterprise", requester="ana", team="support",
                    period_fee="3000.00", availability="0.995", service_period="2026-10", amount="800.00",
                    evidence=["INC-8"], at=dt.datetime(2026, 12, 20, 9, tzinfo=UTC))
    assert r.state == "pending_approval" and r.amount == D("800.00")
    clock.now = dt.datetime(2027, 1, 10, 9, tzinfo=UTC)
    desk.return_for_information(r.id, "fatima", "attach the incident report")
    # Resubmitted after the window closed, with the computed amount: still in time, as first claimed.
    again = desk.amend(r.id, "ana", amount=None, evidence=["INC-8", "SLA-8"])
    again = desk.resubmit(r.id, "ana")
    assert again.state == "approved" and again.amount == D("300.00")
    assert "outside_claim_window" not in [f["code"] for f in again.findings]
    fresh = reopened(desk)
    assert fresh.get(r.id).state == "approved"
    assert fresh.verify_audit()["ok"]


# ------------------------------------------------------------------ amend keeps what it does not change


def test_amend_keeps_the_sla_terms_it_is_not_given(desk: amends.Desk) -> None:
    # 98.5% is below 99%: 30% of 2,000.00 = 600.00, over the 500.00 auto-approval limit.
    r = desk.submit(kind="service_credit", customer="C-2", tier="enterprise", requester="ana", team="support",
                    period_fee="2000.00", availability="0.985", service_period="2026-10", evidence=["INC-2"],
                    customer_value="90000.00", override_reason="")
    assert (r.state, r.amount) == ("pending_approval", D("600.00"))
    desk.return_for_information(r.id, "raj", "add the status page link")
    amended = desk.amend(r.id, "ana", evidence=["INC-2", "SLA-2"], justification="status page: 10h 57m down")
    assert amended.version == 2
    again = desk.resubmit(r.id, "ana")
    assert (again.state, again.amount) == ("pending_approval", D("600.00"))
    explained = desk.explain(r.id)
    assert "evidence: INC-2 → INC-2, SLA-2" in explained
    assert "justification: (none) → status page: 10h 57m down" in explained
    [event] = [e for e in desk.audit_events() if e["event"] == "amended"]
    assert '"field":"evidence"' in event["details"] and '"before":"INC-2"' in event["details"]
    fresh = reopened(desk).get(r.id)
    assert (fresh.amount, fresh.version) == (D("600.00"), 2)


def test_amend_keeps_the_refund_charge_and_the_offer_terms(desk: amends.Desk) -> None:
    desk.record_charge("ch_3", "C-3", "900.00", "USD", "2026-10-30")
    refund = desk.submit(kind="refund", customer="C-3", amount="300.00", requester="ana", team="support",
                         charge="ch_3", evidence=["TCK-3"])
    desk.return_for_information(refund.id, "omar", "partial?")
    desk.amend(refund.id, "ana", amount="280.00")
    again = desk.resubmit(refund.id, "ana")
    assert again.state == "pending_approval" and again.amount == D("280.00")
    assert desk.get(refund.id).version == 2
    assert "amount: 300.00 USD → 280.00 USD" in desk.explain(refund.id)
    assert "charge:" not in desk.explain(refund.id)
    # A retention offer: 20% of 500.00 for 6 months = 600.00 against a customer value of 12,000.00 (5%).
    offer = desk.submit(kind="retention_offer", customer="C-5", tier="growth", requester="ana", team="support",
                        customer_value="12000.00", discount="0.20", monthly_fee="500.00", months=6,
                        evidence=["TCK-5"])
    assert offer.amount == D("600.00")
    desk.return_for_information(offer.id, "sofia", "why six months?")
    desk.amend(offer.id, "ana", justification="renewal in six months")
    again = desk.resubmit(offer.id, "ana")
    assert (again.state, again.amount) == ("pending_approval", D("600.00"))


def test_amend_refuses_an_unknown_field_and_a_change_of_kind(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-6", tier="growth", amount="300.00", requester="ana",
                    team="support", evidence=["TCK-6"])
    desk.return_for_information(r.id, "lena", "why?")
    with pytest.raises(amends.InvalidArgument, match="no field \"amont\""):
        desk.amend(r.id, "ana", amont="200.00")
    with pytest.raises(amends.InvalidArgument, match="kind"):
        desk.amend(r.id, "ana", kind="refund")
    assert desk.get(r.id).version == 1


# ------------------------------------------------------------------ limits under repetition


def test_pending_goodwill_counts_towards_the_trailing_cap(desk: amends.Desk) -> None:
    desk.publish_policy(caps_only(), "policy-team")
    ids = [desk.submit(kind="goodwill", customer="C-7", tier="growth", amount="450.00", requester="ana",
                       team="support", evidence=[f"TCK-7{i}"]).id for i in range(4)]
    for i in ids:
        desk.approve(i, "lena")
    got = [desk.get(i) for i in ids]
    # 450 + 450 + 450 = 1,350.00 fits under 1,500.00; the fourth (1,800.00) is an exception for finance.
    assert [r.state for r in got] == ["approved", "approved", "approved", "pending_approval"]
    assert "above_trailing_cap" in [f["code"] for f in got[3].findings]
    assert desk.waiting_for(ids[3]) == ["fatima", "raj"]
    for i in ids[:3]:
        desk.apply(i, "billing-bot")
    assert reopened(desk).get(ids[3]).state == "pending_approval"


def test_a_second_sla_claim_for_one_incident_is_held_for_finance_naming_the_first(desk: amends.Desk) -> None:
    # 99.95% is below 99.99%: 10% of 1,000.00 = 100.00, contractual and auto-approved.
    claim = dict(kind="service_credit", customer="C-30", tier="enterprise", requester="ana", team="support",
                 period_fee="1000.00", availability="0.9995", service_period="2026-10")
    first = desk.submit(**claim, evidence=["INC-30"])
    assert first.state == "approved"
    again = desk.submit(**claim, evidence=["SLA-30", "INC-30"])
    [finding] = [f for f in again.findings if f["code"] == "duplicate_claim"]
    assert first.id in finding["message"] and finding["severity"] == "exception"
    # Held: not auto-approved, finance decides.
    assert again.state == "pending_approval" and desk.waiting_for(again.id) == ["fatima", "raj"]
    # Another incident of the same period is its own claim.
    other = desk.submit(**claim, evidence=["INC-31"])
    assert other.state == "approved" and "duplicate_claim" not in [f["code"] for f in other.findings]
    # A claim declined or cancelled does not make the next one a duplicate.
    desk.decline(again.id, "fatima", "duplicate")
    desk.cancel(first.id, "fatima", "billed twice; issued by hand")
    third = desk.submit(**claim, evidence=["INC-30"])
    assert third.state == "approved"


def test_a_policy_may_refuse_a_duplicate_claim(desk: amends.Desk) -> None:
    text = POLICY.read_text().replace('version = "2026-11-01"', 'version = "refuse-duplicates"')
    desk.publish_policy(text.replace('duplicate_claims = "hold"', 'duplicate_claims = "refuse"'), "policy-team")
    claim = dict(kind="service_credit", customer="C-32", tier="enterprise", requester="ana", team="support",
                 period_fee="1000.00", availability="0.9995", service_period="2026-10", evidence=["INC-32"])
    first = desk.submit(**claim)
    again = desk.submit(**claim)
    assert again.state == "declined"
    assert [f["code"] for f in again.findings if f["severity"] == "refusal"] == ["duplicate_claim"]
    assert first.id in desk.outbox()[-1]["body"] or first.id in again.findings[-1]["message"]
    assert reopened(desk).get(again.id).state == "declined"


def test_small_goodwill_that_adds_up_goes_to_finance(desk: amends.Desk) -> None:
    # Enterprise: 90.00 is auto-approved (up to 100.00) and far below the tier's caps; the sample policy's
    # accumulation threshold is 1,000.00 per customer over 30 days: 11 x 90.00 = 990.00, the 12th makes 1,080.00.
    ids = [desk.submit(kind="goodwill", customer="C-40", tier="enterprise", amount="90.00", requester="ana",
                       team="support").id for _ in range(12)]
    got = [desk.get(i) for i in ids]
    assert [r.state for r in got[:11]] == ["approved"] * 11
    assert got[11].state == "pending_approval" and desk.waiting_for(ids[11]) == ["fatima", "raj"]
    [finding] = [f for f in got[11].findings if f["code"] == "accumulation_threshold"]
    assert "1080.00 USD" in finding["message"] and "1000.00 USD" in finding["message"]
    assert reopened(desk).get(ids[11]).state == "pending_approval"


def test_a_requesters_credits_that_add_up_go_to_finance(desk: amends.Desk) -> None:
    text = POLICY.read_text().replace('version = "2026-11-01"', 'version = "watch-requesters"')
    desk.publish_policy(text.replace('threshold = "5000.00"', 'threshold = "250.00"'), "policy-team")
    # 90.00 to three customers: 180.00, then 270.00 > 250.00 for the requester ana.
    got = [desk.submit(kind="goodwill", customer=f"C-5{i}", tier="growth", amount="90.00", requester="ana",
                       team="support") for i in range(3)]
    assert [r.state for r in got] == ["approved", "approved", "pending_approval"]
    assert "requester ana" in [f for f in got[2].findings if f["code"] == "accumulation_threshold"][0]["message"]
    # Another requester is not affected.
    assert desk.submit(kind="goodwill", customer="C-53", tier="growth", amount="90.00", requester="raj",
                       team="support").state == "approved"


# ------------------------------------------------------------------ evidence and justification


def test_large_goodwill_without_justification_or_evidence_is_incomplete(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-60", tier="enterprise", amount="1500.00", requester="ana",
                    team="support")
    assert r.state == "returned" and r.incomplete is not None
    assert "a justification" in r.incomplete and "evidence of type ticket" in r.incomplete
    with pytest.raises(amends.RequestStateError):
        desk.approve(r.id, "lena")
    assert desk.utilisation("support", "goodwill", "2026-11").reserved == D("0.00")
    desk.amend(r.id, "ana", justification="three outages in a month", evidence=["TCK-60"])
    again = desk.resubmit(r.id, "ana")
    assert again.state == "pending_approval" and again.incomplete is None
    assert reopened(desk).get(r.id).state == "pending_approval"


def test_a_service_credit_names_its_incident(desk: amends.Desk) -> None:
    r = desk.submit(kind="service_credit", customer="C-61", tier="enterprise", requester="ana", team="support",
                    period_fee="1000.00", availability="0.9995", service_period="2026-10", evidence=["TCK-61"])
    assert r.state == "returned" and "evidence of type incident (an id INC-...)" in r.incomplete
    desk.amend(r.id, "ana", evidence=["TCK-61", "INC-61"])
    assert desk.resubmit(r.id, "ana").state == "approved"


# ------------------------------------------------------------------ who may decline, return or cancel


def test_only_the_current_steps_approvers_decline_or_return(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-10", tier="growth", amount="300.00", requester="ana",
                    team="support", evidence=["TCK-10"])
    for who in ("ana", "bob", "fatima"):
        with pytest.raises(amends.ApprovalError):
            desk.decline(r.id, who, "no")
        with pytest.raises(amends.ApprovalError):
            desk.return_for_information(r.id, who, "more")
    assert desk.get(r.id).state == "pending_approval" and desk.outbox() == []
    assert desk.decline(r.id, "omar", "not warranted").state == "declined"


def test_a_blocked_request_is_declined_only_by_the_exception_role(desk: amends.Desk) -> None:
    text = POLICY.read_text()
    blocked_policy = text.replace('version = "2026-11-01"', 'version = "no-refunds"')
    blocked_policy = blocked_policy[:blocked_policy.index("# ---- refunds")] + \
        blocked_policy[blocked_policy.index("# ---- retention offers"):]
    desk.publish_policy(blocked_policy, "policy-team")
    desk.record_charge("ch_11", "C-11", "100.00", "USD", "2026-10-30")
    r = desk.submit(kind="refund", customer="C-11", amount="40.00", requester="ana", team="support",
                    charge="ch_11", evidence=["TCK-11"])
    assert r.outcome == "blocked"
    for who in ("bob", "omar"):
        with pytest.raises(amends.ApprovalError):
            desk.decline(r.id, who, "no")
        with pytest.raises(amends.ApprovalError):
            desk.return_for_information(r.id, who, "more")
    assert desk.decline(r.id, "fatima", "refunds are paused").state == "declined"


def test_cancel_is_the_requesters_before_approval_and_an_approvers_after(desk: amends.Desk) -> None:
    pending = desk.submit(kind="goodwill", customer="C-12", tier="growth", amount="300.00", requester="ana",
                          team="support", evidence=["TCK-12"])
    with pytest.raises(amends.ApprovalError):
        desk.cancel(pending.id, "bob", "not mine")
    assert desk.cancel(pending.id, "ana", "customer withdrew").state == "cancelled"
    approved = desk.submit(kind="goodwill", customer="C-13", tier="growth", amount="300.00", requester="ana",
                           team="support", evidence=["TCK-13"])
    desk.approve(approved.id, "lena")
    assert desk.utilisation("support", "goodwill", "2026-11").reserved == D("300.00")
    for who in ("ana", "bob"):
        with pytest.raises(amends.ApprovalError):
            desk.cancel(approved.id, who, "changed my mind")
    with pytest.raises(amends.InvalidArgument):
        desk.cancel(approved.id, "omar", "")
    assert desk.get(approved.id).state == "approved"
    assert desk.utilisation("support", "goodwill", "2026-11").reserved == D("300.00")
    assert desk.cancel(approved.id, "omar", "duplicate of a billing credit").state == "cancelled"
    assert desk.utilisation("support", "goodwill", "2026-11").reserved == D("0.00")


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("spelling", ["Lena", " lena", "lena\u200b", "LENA\u00a0", "ｌｅｎａ"])
def test_a_requester_is_the_same_person_however_the_name_is_typed(desk: amends.Desk, spelling: str) -> None:
    r = desk.submit(kind="goodwill", customer="C-20", tier="growth", amount="300.00", requester="lena",
                    team="support", evidence=["TCK-20"])
    for act in (lambda: desk.approve(r.id, spelling), lambda: desk.decline(r.id, spelling, "no"),
                lambda: desk.return_for_information(r.id, spelling, "more")):
        with pytest.raises(amends.ApprovalError):
            act()
    assert desk.get(r.id).state == "pending_approval"
    # The requester cancels under any spelling; an approver is recognised under any spelling too.
    other = desk.submit(kind="goodwill", customer="C-21", tier="growth", amount="300.00", requester="ana",
                        team="support", evidence=["TCK-21"])
    assert desk.approve(other.id, spelling.replace("l", "o", 1).replace("L", "O", 1)
                        .replace("ｌ", "ｏ", 1).replace("ena", "mar").replace("ENA", "MAR")
                        .replace("ｅｎａ", "ｍａｒ")).state == "approved"
    assert desk.cancel(r.id, spelling, "asked by mistake").state == "cancelled"


def test_a_name_with_a_control_character_is_refused(desk: amends.Desk) -> None:
    with pytest.raises(amends.InvalidName):
        desk.submit(kind="goodwill", customer="C-22", tier="growth", amount="30.00", requester="ana\u0007",
                    team="support")
    r = desk.submit(kind="goodwill", customer="C-22", tier="growth", amount="300.00", requester="ana",
                    team="support", evidence=["TCK-22"])
    with pytest.raises(amends.InvalidName):
        desk.approve(r.id, "om\nar")
    assert desk.get(r.id).state == "pending_approval" and len(desk.requests()) == 1


# ------------------------------------------------------------------ text no back end keeps


@pytest.mark.parametrize("field", ["customer", "requester", "team", "reason", "justification", "evidence", "tier"])
def test_a_nul_byte_in_a_request_is_refused_naming_the_field(desk: amends.Desk, field: str) -> None:
    fields: dict[str, Any] = dict(kind="goodwill", customer="C-14", tier="growth", amount="30.00", requester="ana",
                                  team="support", reason="outage", justification="sorry", evidence=["TCK-14"])
    fields[field] = ["TCK\x0014"] if field == "evidence" else str(fields[field]) + "\x00x"
    with pytest.raises(amends.InvalidText, match="NUL"):
        desk.submit(**fields)
    assert desk.requests() == [] and reopened(desk).requests() == []


def test_a_nul_byte_in_a_decision_or_reference_data_is_refused(desk: amends.Desk) -> None:
    r = desk.submit(kind="goodwill", customer="C-15", tier="growth", amount="300.00", requester="ana",
                    team="support", evidence=["TCK-15"])
    events = len(desk.audit_events())
    for act in (lambda: desk.approve(r.id, "omar", comment="ok\x00"),
                lambda: desk.decline(r.id, "omar", "no\x00"),
                lambda: desk.return_for_information(r.id, "omar", "more\x00"),
                lambda: desk.cancel(r.id, "ana", "oops\x00"),
                lambda: desk.record_charge("ch_\x001", "C-15", "10.00", "USD", "2026-10-01"),
                lambda: desk.publish_policy(POLICY.read_text() + "\n# \x00\n", "policy-team")):
        with pytest.raises(amends.InvalidText, match="NUL"):
            act()
    fresh = reopened(desk)
    assert fresh.get(r.id).state == "pending_approval" and len(fresh.audit_events()) == events


# ------------------------------------------------------------------ PostgreSQL: concurrency


def _submit_and_approve(dsn: str, book: str, person: str, evidence: str, start: Any, out: Any) -> None:
    d = amends.Desk(amends.open(dsn, book, simulation=True))
    start.wait()
    r = d.submit(kind="goodwill", customer="C-77", tier="growth", amount="450.00", requester="ana", team="apac",
                 evidence=[evidence])
    start.wait()
    out.put((r.id, d.approve(r.id, person).state))


def test_the_trailing_cap_holds_under_concurrent_requests_and_approvers(pg_books_dsn: str) -> None:
    name = f"caps_{uuid.uuid4().hex[:10]}"
    desk = amends.Desk(amends.open(pg_books_dsn, name, simulation=True), policy=caps_only())
    month = dt.datetime.now(UTC).strftime("%Y-%m")
    desk.allocate("apac", "goodwill", month, "100000.00")
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(8), ctx.Queue()
    people = ["lena", "omar"] * 4
    procs = [ctx.Process(target=_submit_and_approve, args=(pg_books_dsn, name, people[k], f"TCK-{k}", start, out))
             for k in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(60)
    # Eight 450.00 requests for one growth customer: three fit under 1,500.00; the other five wait for finance.
    approved = sorted(i for i, state in results if state == "approved")
    assert len(approved) == 3 and len(results) == 8
    fresh = amends.Desk(amends.open(pg_books_dsn, name, simulation=True))
    assert sum(r.amount for r in fresh.requests("approved")) == D("1350.00")
    waiting = fresh.requests("pending_approval")
    assert len(waiting) == 5
    assert all("above_trailing_cap" in [f["code"] for f in r.findings] for r in waiting)
    assert fresh.verify_audit()["ok"]
