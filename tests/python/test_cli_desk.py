"""The concession desk on the command line (amends.cli_desk), run in-process against a fresh PostgreSQL database.

Each test gets a database of its own (the pg_migrated_dsn fixture: migrated) and drives the
desk only through `amends.cli.main([...])`, reading what it prints (capsys)
and its exit code, as a script calling `amends` would.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import amends
from amends import cli

if TYPE_CHECKING:
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg", reason="the tamper test needs psycopg 3 (pip install 'psycopg[binary]>=3.1')")

POLICY = Path(__file__).resolve().parents[2] / "python" / "amends" / "data" / "sample_policy.toml"
# The desk runs on the real clock: budgets and closes are for the month it is now.
MONTH = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")


@dataclass
class Done:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def amends_cli(pg_migrated_dsn: str, capsys: pytest.CaptureFixture[str]):
    """amends_cli(*args): runs `amends *args --dsn <the test's database>` in-process.

    Its book main is a simulation (the commands name whoever acts with --as); tests/python/test_identity.py
    drives real books, where --as is the logged-in person.
    """
    amends.open(pg_migrated_dsn, "main", simulation=True).close()

    def run(*args: str, dsn: bool = True) -> Done:
        capsys.readouterr()
        code = cli.main([*args, "--dsn", pg_migrated_dsn] if dsn else list(args))
        captured = capsys.readouterr()
        return Done(code, captured.out, captured.err)

    return run


def ok(done: Done) -> Done:
    assert done.code == 0, done.err or done.out
    assert done.err == ""
    return done


@pytest.fixture
def desk(amends_cli):
    """The sample policy published and the support team's goodwill budget for this month allocated."""
    published = ok(amends_cli("policy", "publish", str(POLICY), "--actor", "policy-team"))
    assert published.out.strip() == "policy 2026-11-01 published to book main"
    ok(amends_cli("budgets", "allocate", "--owner", "support", "--kind", "goodwill", "--period", MONTH, "--amount", "5000.00"))
    return amends_cli


def submit_goodwill(run, amount: str = "250.00", customer: str = "C-1042") -> dict[str, Any]:
    """A growth customer's goodwill request over 100 USD: the sample policy wants a team lead's approval."""
    done = ok(run("request", "submit", "--kind", "goodwill", "--customer", customer, "--tier", "growth",
                  "--amount", amount, "--requester", "ana", "--team", "support", "--reason", "outage-apology",
                  "--evidence", "TICKET-7", "TICKET-8", "--service-period", MONTH, "--json"))
    return done.json()


def show(run, request_id: str) -> dict[str, Any]:
    return ok(run("request", "show", request_id, "--json")).json()


def audit_events(run) -> int:
    return ok(run("audit", "verify", "--json")).json()["events"]


def test_a_goodwill_request_goes_from_submission_through_approval_to_the_ledger(desk):
    request = submit_goodwill(desk)
    assert request["state"] == "pending_approval"
    assert request["amount"] == "250.00" and request["currency"] == "USD"
    assert request["rule"] == "goodwill" and request["outcome"] == "needs_approval"
    assert request["evidence"] == ["TICKET-7", "TICKET-8"]
    assert request["waiting_for"] == ["lena", "omar"]
    dt.datetime.fromisoformat(request["created_at"])  # times in ISO 8601
    rid = request["id"]

    # The readable form says where the request is and whom it waits for.
    text = ok(desk("request", "show", rid)).out
    assert f"request         {rid}" in text
    assert 'needs_approval by rule "goodwill" (policy 2026-11-01)' in text
    assert "waiting for     lena, omar" in text

    # lena's queue lists it, as a table and as JSON (the amount a string, never a float).
    queue = ok(desk("approvals", "pending", "--approver", "lena")).out.splitlines()
    assert queue[0].split() == ["id", "kind", "customer", "amount", "currency", "waiting", "since", "rule"]
    assert queue[2].split()[:5] == [rid, "goodwill", "C-1042", "250.00", "USD"]
    pending = ok(desk("approvals", "pending", "--approver", "lena", "--json")).json()
    assert [(p["id"], p["amount"], p["rule"]) for p in pending["pending"]] == [(rid, "250.00", "goodwill")]
    assert "nothing waiting for grace" in ok(desk("approvals", "pending", "--approver", "grace")).out

    approved = ok(desk("request", "approve", rid, "--as", "lena", "--comment", "fine", "--json")).json()
    assert approved["state"] == "approved"
    assert approved["steps"][0]["approvals"][0]["person"] == "lena"
    assert ok(desk("approvals", "pending", "--approver", "lena", "--json")).json()["pending"] == []

    applied = ok(desk("request", "apply", rid, "--as", "billing-bot")).out
    assert "state           applied" in applied

    shown = show(desk, rid)
    assert shown["state"] == "applied"
    assert shown["entries"] and all(isinstance(e, int) for e in shown["entries"])
    assert shown["posting_period"] == MONTH

    # The budget consumed it; the customer is told; the trail is intact.
    budgets = ok(desk("budgets", "--json")).json()
    assert budgets == [{"owner": "support", "kind": "goodwill", "period": MONTH, "currency": "USD", "hard": True,
                        "allocated": "5000.00", "reserved": "0.00", "consumed": "250.00", "available": "4750.00"}]
    table = ok(desk("budgets")).out.splitlines()
    assert table[0].split() == ["owner", "kind", "period", "currency", "hard", "allocated", "reserved", "consumed",
                                "available"]
    assert table[2].split() == ["support", "goodwill", MONTH, "USD", "yes", "5000.00", "0.00", "250.00", "4750.00"]
    outbox = ok(desk("outbox", "--json")).json()
    assert [(m["request"], m["event"], m["customer"]) for m in outbox] == [(rid, "applied", "C-1042")]
    assert "Your goodwill credit of 250.00 USD" in ok(desk("outbox")).out

    explained = ok(desk("request", "show", rid, "--explain")).out
    assert 'rule "small goodwill" does not apply' in explained

    verified = ok(desk("audit", "verify"))
    assert verified.out.startswith("audit trail of book main: ") and verified.out.rstrip().endswith("events, hash chain intact")


def test_the_requester_approving_their_own_request_is_refused_and_changes_nothing(desk):
    rid = submit_goodwill(desk)["id"]
    before = (show(desk, rid), ok(desk("budgets", "--json")).json(), audit_events(desk))

    refused = desk("request", "approve", rid, "--as", "ana")

    assert refused.code == 2
    assert refused.out == ""
    assert refused.err.startswith("amends: ApprovalError: ") and "own request" in refused.err
    assert (show(desk, rid), ok(desk("budgets", "--json")).json(), audit_events(desk)) == before
    assert before[0]["state"] == "pending_approval"


def test_amends_errors_exit_2_with_their_class_and_amounts_are_never_floats(desk):
    missing = desk("request", "show", "R-404404")
    assert missing.code == 2 and missing.err.startswith("amends: NotFound: ")

    unparsable = desk("request", "submit", "--kind", "goodwill", "--customer", "C-1", "--amount", "1e3",
                      "--requester", "ana", "--team", "support")
    assert unparsable.code == 2 and unparsable.err.startswith("amends: ParseError: ")

    no_file = desk("policy", "publish", "/nonexistent/policy.toml")
    assert no_file.code == 2 and no_file.err.startswith("amends: AmendsIOError: ")

    # The exact amount survives the trip: no float in between.
    request = submit_goodwill(desk, amount="123.45")
    assert request["amount"] == "123.45" and Decimal(request["amount"]) == Decimal("123.45")


def test_closing_a_period_is_refused_while_an_approved_request_is_unapplied_then_accrues_it(desk):
    rid = submit_goodwill(desk)["id"]
    ok(desk("request", "approve", rid, "--as", "omar"))
    waiting = submit_goodwill(desk, amount="300.00", customer="C-7")["id"]

    refused = desk("period", "close", MONTH, "--as", "fatima")
    assert refused.code == 2
    assert refused.err.startswith("amends: CloseRefused: ") and rid in refused.err
    assert show(desk, rid)["state"] == "approved"

    report = ok(desk("period", "close", MONTH, "--as", "fatima", "--accrue", "--json")).json()
    assert report["period"] == MONTH
    assert report["accrued"] == [rid]
    assert report["in_flight"] == [waiting]
    assert report["posted"] == [{"kind": "goodwill", "count": 1, "amount": "250.00"}]
    assert report["budgets"][0]["consumed"] == "250.00"
    assert f"accrued at close: {rid}" in report["text"]
    # Accrued: its entries are in the closed period; it stays approved until billing applies it, which posts nothing more.
    accrued = show(desk, rid)
    assert (accrued["state"], accrued["accrued"], accrued["posting_period"]) == ("approved", True, MONTH)
    assert accrued["entries"]
    applied = ok(desk("request", "apply", rid, "--as", "billing-bot", "--json")).json()
    assert (applied["state"], applied["entries"]) == ("applied", accrued["entries"])


def test_decline_return_resubmit_cancel_and_a_refund_in_another_currency(desk):
    # Reference data: a EUR rate and the charge a refund ties to.
    assert ok(desk("rates", "set", "--currency", "EUR", "--day", "2020-01-01", "--rate", "1.08")).out.strip() \
        == "1 EUR = 1.08 USD from 2020-01-01"
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    ok(desk("charges", "record", "--id", "CH-1", "--customer", "C-3", "--amount", "400.00", "--currency", "EUR",
            "--day", today))
    refund = ok(desk("request", "submit", "--kind", "refund", "--customer", "C-3", "--amount", "100.00",
                     "--currency", "EUR", "--charge", "CH-1", "--requester", "ana", "--team", "support",
                     "--reason", "duplicate-charge", "--json")).json()
    assert (refund["state"], refund["rule"], refund["base_amount"]) == ("approved", "small refund", "108.00")
    ok(desk("request", "apply", refund["id"], "--as", "billing-bot"))

    returned = submit_goodwill(desk, amount="300.00")["id"]
    back = ok(desk("request", "return", returned, "--as", "lena", "--comment", "which outage?", "--json")).json()
    assert back["state"] == "returned"
    assert ok(desk("request", "resubmit", returned, "--as", "ana", "--json")).json()["state"] == "pending_approval"
    declined = ok(desk("request", "decline", returned, "--as", "lena", "--comment", "too much",
                       "--alternative", "a 100.00 USD credit", "--json")).json()
    assert declined["state"] == "declined" and declined["alternatives"] == ["a 100.00 USD credit"]

    cancelled = submit_goodwill(desk, amount="200.00")["id"]
    assert ok(desk("request", "cancel", cancelled, "--as", "ana", "--reason", "duplicate", "--json")).json()["state"] \
        == "cancelled"

    listing = ok(desk("request", "list", "--json")).json()
    assert {r["id"]: r["state"] for r in listing} == {refund["id"]: "applied", returned: "declined", cancelled: "cancelled"}
    assert [r["id"] for r in ok(desk("request", "list", "--state", "declined", "--json")).json()] == [returned]
    rows = ok(desk("request", "list")).out.splitlines()[2:]
    assert sorted(row.split()[0] for row in rows) == sorted([refund["id"], returned, cancelled])

    events = [(m["request"], m["event"]) for m in ok(desk("outbox", "--json")).json()]
    assert events == [(refund["id"], "applied"), (returned, "declined")]
    ok(desk("audit", "verify"))


def test_audit_verify_names_the_event_whose_hash_no_longer_matches(desk, pg_migrated_dsn: str,
                                                                    monkeypatch: pytest.MonkeyPatch):
    rid = submit_goodwill(desk)["id"]
    ok(desk("request", "approve", rid, "--as", "lena"))

    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        book_id = conn.execute("SELECT book_id FROM amends.books WHERE name = 'main'").fetchone()[0]
        seq = conn.execute("SELECT max(seq) FROM amends.audit_events WHERE book_id = %s AND request_id = %s",
                           (book_id, rid)).fetchone()[0]
        # Even the owner can't rewrite the trail: the table refuses updates.
        with pytest.raises(psycopg.Error) as info:
            conn.execute("UPDATE amends.audit_events SET details = 'nothing happened' WHERE book_id = %s AND seq = %s",
                         (book_id, seq))
        assert info.value.sqlstate == "AM015"
        # A superuser can switch the triggers off, though; the hash chain still tells.
        with conn.transaction():
            conn.execute("ALTER TABLE amends.audit_events DISABLE TRIGGER USER")
            conn.execute("UPDATE amends.audit_events SET details = 'nothing happened' WHERE book_id = %s AND seq = %s",
                         (book_id, seq))
            conn.execute("ALTER TABLE amends.audit_events ENABLE TRIGGER USER")

    # $AMENDS_DSN chooses the database when --dsn is left out.
    monkeypatch.setenv("AMENDS_DSN", pg_migrated_dsn)
    broken = desk("audit", "verify", dsn=False)
    assert broken.code == 1
    assert f"hash chain broken at event {seq}" in broken.out
    report = json.loads(desk("audit", "verify", "--json", dsn=False).out)
    assert (report["ok"], report["first_bad"], report["book"]) == (False, seq, "main")
