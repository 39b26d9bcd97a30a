"""A PostgreSQL book that went through every lifecycle path opens in a fresh process, from Python and from the CLI.

The book is built through the desk (sample policy plus a delegation): a request returned, amended and
resubmitted; one refused on resubmission; one escalated; one approved by a delegate; one cancelled; one expired;
applied ones, one of them reversed in the ledger; one blocked; one left pending. A new process then opens it,
reads every request, verifies the trail and acts on it; the CLI does the same. A record damaged in the database
is a finding on that request, and every other request still works.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

import amends
from helpers import Clock

POLICY = Path(amends.__file__).parent / "data" / "sample_policy.toml"
UTC = dt.timezone.utc
D = Decimal


def build(dsn: str) -> tuple[str, dict[str, str]]:
    """The book and what each request's state must be."""
    name = f"life_{uuid.uuid4().hex[:10]}"
    clock = Clock(dt.datetime(2026, 11, 2, 9, tzinfo=UTC))
    desk = amends.Desk(amends.open(dsn, name, simulation=True), clock=clock)
    text = POLICY.read_text().replace('version = "2026-11-01"', 'version = "2026-11-life"')
    text += '\n[[delegations]]\nfrom = "lena"\nto = "grace"\nstart = "2026-11-01"\nend = "2026-11-30"\n'
    desk.publish_policy(text, "policy-team")
    for kind in ("goodwill", "service_credit", "retention_offer"):
        desk.allocate("support", kind, "2026-11", "50000.00", on="2026-11-01")
    desk.record_charge("ch_1", "C-1", "400.00", "USD", "2026-10-30")
    want: dict[str, str] = {}

    def goodwill(customer: str, amount: str, **extra: object) -> amends.Request:
        return desk.submit(kind="goodwill", customer=customer, tier="growth", amount=amount, requester="ana",
                           team="support", reason="outage", justification="long outage", evidence=["TCK-1"],
                           **extra)

    # Returned, amended (only the amount), resubmitted, approved, applied.
    r = goodwill("C-2", "300.00")
    desk.return_for_information(r.id, "omar", "which invoice?")
    desk.amend(r.id, "ana", amount="250.00", evidence=["TCK-1", "INV-9"])
    desk.resubmit(r.id, "ana")
    desk.approve(r.id, "omar")
    desk.apply(r.id, "billing-bot")
    want[r.id] = "applied"
    # Refused on resubmission: a second refund of the same charge took the remainder meanwhile.
    first = desk.submit(kind="refund", customer="C-1", amount="300.00", requester="ana", team="support",
                        charge="ch_1", evidence=["TCK-2"])
    desk.return_for_information(first.id, "omar", "partial?")
    second = desk.submit(kind="refund", customer="C-1", amount="300.00", requester="ana", team="support",
                         charge="ch_1", evidence=["TCK-3"])
    desk.approve(second.id, "omar")
    desk.approve(second.id, "fatima")
    assert desk.resubmit(first.id, "ana").state == "declined"
    want[first.id] = "declined"
    want[second.id] = "approved"
    # Approved by a delegate (lena's team-lead authority is grace's in November), applied, then reversed.
    d = goodwill("C-3", "200.00")
    assert desk.approve(d.id, "grace").steps[0]["approvals"][0]["as_delegate"]
    applied = desk.apply(d.id, "billing-bot")
    desk.book.reverse(applied.entries[0], "2026-11-03", "credited twice in billing")
    want[d.id] = "applied"
    # Escalated after 24 hours to the CS director, who approves.
    e = goodwill("C-4", "400.00")
    clock.now += dt.timedelta(hours=25)
    assert desk.escalate_due() == [e.id]
    desk.approve(e.id, "grace")
    want[e.id] = "approved"
    # Cancelled by its requester; expired while pending.
    c = goodwill("C-5", "150.00")
    desk.cancel(c.id, "ana", "customer withdrew")
    want[c.id] = "cancelled"
    x = goodwill("C-6", "150.00")
    desk.expire(x.id, "no decision in 30 days")
    want[x.id] = "expired"
    # An SLA credit owed under contract (98.5%: 30% of 1,000.00 = 300.00), approved automatically.
    s = desk.submit(kind="service_credit", customer="C-7", tier="enterprise", requester="ana", team="support",
                    period_fee="1000.00", availability="0.985", service_period="2026-10", evidence=["INC-7"])
    assert s.state == "approved"
    want[s.id] = "approved"
    # Left pending.
    p = goodwill("C-8", "500.00")
    want[p.id] = "pending_approval"
    return name, want


FRESH = textwrap.dedent("""
    import json, sys
    import amends
    dsn, name = sys.argv[1], sys.argv[2]
    desk = amends.Desk(amends.open(dsn, name, create=False))
    out = {"states": {r.id: r.state for r in desk.requests()}, "verify": desk.verify_audit()}
    pending = desk.requests("pending_approval")
    out["approved"] = [desk.approve(r.id, "lena").state for r in pending]
    out["explain"] = {r.id: desk.explain(r.id) for r in desk.requests()}
    print(json.dumps(out, default=str))
""")


def fresh_process(dsn: str, name: str) -> dict:
    done = subprocess.run([sys.executable, "-c", FRESH, dsn, name], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    # The amends that the tests import, as a script would run it.
    return subprocess.run([sys.executable, "-m", "amends", *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))


def test_a_book_through_every_lifecycle_path_opens_in_a_fresh_process(pg_books_dsn: str) -> None:
    name, want = build(pg_books_dsn)
    out = fresh_process(pg_books_dsn, name)
    assert out["states"] == want
    assert out["verify"]["ok"] and out["verify"]["findings"] == []
    assert out["approved"] == ["approved"]
    amended = [i for i, text in out["explain"].items() if "Amended to version 2" in text]
    assert len(amended) == 1 and "amount: 300.00 USD → 250.00 USD" in out["explain"][amended[0]]
    # The CLI opens it too.
    listed = cli("request", "list", "--json", "--dsn", pg_books_dsn, "--book", name)
    assert listed.returncode == 0, listed.stderr
    assert {r["id"]: r["state"] for r in json.loads(listed.stdout)} == {**want, **{
        i: "approved" for i, s in want.items() if s == "pending_approval"}}
    verified = cli("audit", "verify", "--dsn", pg_books_dsn, "--book", name)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "hash chain intact" in verified.stdout


def test_a_damaged_record_is_a_finding_and_the_book_still_opens(pg_books_dsn: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    name, want = build(pg_books_dsn)
    damaged = sorted(want)[0]
    with psycopg.connect(pg_books_dsn, autocommit=True) as conn:
        # As the owner, with the triggers off: what a careless restore or a manual fix could leave.
        conn.execute("ALTER TABLE amends.requests DISABLE TRIGGER USER")
        try:
            conn.execute("UPDATE amends.requests SET record = '{\"id\": \"broken\"}' WHERE request_id = %s "
                         "AND book_id = (SELECT book_id FROM amends.books WHERE name = %s)", (damaged, name))
        finally:
            conn.execute("ALTER TABLE amends.requests ENABLE TRIGGER USER")
    out = fresh_process(pg_books_dsn, name)
    assert damaged not in out["states"]
    assert out["states"] == {i: s for i, s in want.items() if i != damaged}
    [finding] = out["verify"]["findings"]
    assert finding["request"] == damaged and "does not read back" in finding["problem"]
    verified = cli("audit", "verify", "--dsn", pg_books_dsn, "--book", name)
    assert verified.returncode == 1
    assert f"finding on request {damaged}" in verified.stdout
    # A new request does not take the damaged one's id.
    desk = amends.Desk(amends.open(pg_books_dsn, name, create=False))
    r = desk.submit(kind="goodwill", customer="C-9", tier="growth", amount="20.00", requester="ana", team="support",
                    draft=True)
    assert r.id not in want and r.state == "draft"
