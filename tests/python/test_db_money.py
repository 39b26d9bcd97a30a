"""The money checks of sql/007_money_checks.sql: the database refuses what nobody approved.

A real desk book is built through amends.Desk on PostgreSQL; then a client
writing SQL directly as amends_app attacks it: it raises an approved
request's amount, approves a draft by UPDATE, applies a request without its
entries, tops a budget up with a plain journal entry, and closes a period
over approved, unapplied requests. Each attack is refused by its SQLSTATE
and the rows read back unchanged; the desk's own paths still work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

import amends
from rawsql import one

if TYPE_CHECKING:
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg", reason="the database tests need psycopg 3 (pip install 'psycopg[binary]>=3.1')")

POLICY = Path(amends.__file__).parent / "data" / "sample_policy.toml"
UTC = dt.timezone.utc
D = Decimal
AVAILABLE = "Budget:support:goodwill:2026-11:Available"
ALLOCATED = "Budget:support:goodwill:2026-11:Allocated"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


class Desk:
    """A desk book in PostgreSQL and a raw connection to it as amends_app."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.name = f"money_{uuid.uuid4().hex[:8]}"
        self.clock = Clock()
        self.desk = amends.Desk(amends.open(dsn, self.name, simulation=True), policy=POLICY, clock=self.clock)
        self.desk.allocate("support", "goodwill", "2026-11", "1000.00", on="2026-11-01")
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("SET ROLE amends_app")
        self.book = one(self.conn, "SELECT book_id FROM amends.books WHERE name = %s", (self.name,))[0]

    def goodwill(self, amount: str, **fields: Any) -> amends.Request:
        return self.desk.submit(kind="goodwill", customer="C-1", tier="growth", amount=amount, requester="ana",
                                team="support", reason="outage-apology", evidence=["INC-7"], **fields)

    @contextlib.contextmanager
    def write(self) -> Iterator[psycopg.Connection]:
        """One raw write transaction holding the book's write lock."""
        with self.conn.transaction():
            self.conn.execute("SELECT amends.begin_write(%s, 'raw sql')", (self.book,))
            yield self.conn

    def request(self, request_id: str) -> tuple[Any, ...]:
        return one(self.conn, "SELECT state, amount, currency, record::text, changed_version FROM amends.requests"
                              " WHERE book_id = %s AND request_id = %s", (self.book, request_id))

    def state(self) -> tuple[Any, ...]:
        """Everything the attacks could change."""
        b = self.book
        return (one(self.conn, "SELECT version, last_entry_id FROM amends.books WHERE book_id = %s", (b,)),
                self.conn.execute("SELECT request_id, state, amount, record::text FROM amends.requests WHERE book_id = %s"
                                  " ORDER BY request_id", (b,)).fetchall(),
                self.conn.execute("SELECT account_id, posted, pending_debits, pending_credits FROM amends.accounts"
                                  " WHERE book_id = %s ORDER BY account_id", (b,)).fetchall(),
                self.conn.execute("SELECT period_start, state FROM amends.periods WHERE book_id = %s ORDER BY 1", (b,)).fetchall(),
                one(self.conn, "SELECT count(*) FROM amends.audit_events WHERE book_id = %s", (b,)))

    def account(self, name: str) -> int:
        return one(self.conn, "SELECT account_id FROM amends.accounts WHERE book_id = %s AND name = %s", (self.book, name))[0]

    def reopened(self) -> amends.Desk:
        """The desk read afresh from the database."""
        return amends.Desk(amends.open(self.dsn, self.name, simulation=True))


@pytest.fixture
def book(pg_books_dsn: str) -> Iterator[Desk]:
    d = Desk(pg_books_dsn)
    yield d
    d.conn.close()


@contextlib.contextmanager
def refused(sqlstate: str, match: str = "") -> Iterator[None]:
    with pytest.raises(psycopg.Error) as info:
        yield
    assert info.value.sqlstate == sqlstate, f"expected {sqlstate}, got {info.value.sqlstate}: {info.value}"
    assert match in str(info.value), str(info.value)


def record_with(record: str, path: list[Any], value: Any) -> str:
    """The record text with the value at path replaced."""
    data = json.loads(record)
    at = data
    for key in path[:-1]:
        at = at[key]
    at[path[-1]] = value
    return json.dumps(data)


# ------------------------------------------------------------------ terms frozen once approval started


def test_an_approved_requests_amount_cannot_be_raised(book: Desk) -> None:
    r = book.goodwill("300.00")
    r = book.desk.approve(r.id, "lena")
    assert r.state == "approved"
    before = book.state()
    record = book.request(r.id)[3]
    raised = record_with(record, ["amount", "amount"], "9000.00")
    raised_version = record_with(record, ["versions", -1, "amount", "amount"], "9000.00")
    for assignment, params in [
        ("amount = 9000, record = %s", (raised,)),               # both, consistently
        ("amount = 9000", ()),                                   # the column alone
        ("record = %s", (raised,)),                              # the record's granted amount alone
        ("record = %s", (raised_version,)),                      # the content of its current version
        ("amount = 9000, record = %s", (record_with(raised, ["base_amount"], "9000.00"),)),
    ]:
        with refused("AM021"):
            with book.write() as conn:
                conn.execute(f"UPDATE amends.requests SET {assignment} WHERE book_id = %s AND request_id = %s",
                             (*params, book.book, r.id))
        assert book.state() == before, assignment

    # Applying still credits what was approved, and the budget shows it consumed.
    applied = book.desk.apply(r.id, "billing-bot")
    assert applied.state == "applied"
    again = book.reopened()
    assert again.book.balance("ContraRevenue:Goodwill") == D("300.00")
    assert again.book.balance("Liabilities:CustomerCredits:C-1") == D("-300.00")
    assert again.utilisation("support", "goodwill", "2026-11").consumed == D("300.00")


def test_terms_change_while_a_request_is_amended(book: Desk) -> None:
    """Before approval starts (a draft, or a returned request) the amount moves, the column with the record."""
    r = book.goodwill("300.00", draft=True)
    r = book.desk.amend(r.id, "ana", amount="250.00")
    r = book.desk.resubmit(r.id, "ana")
    assert (r.state, book.request(r.id)[1]) == ("pending_approval", D("250.00"))
    r = book.desk.return_for_information(r.id, "lena", "which incident?")
    r = book.desk.amend(r.id, "ana", amount="200.00")
    r = book.desk.resubmit(r.id, "ana")
    r = book.desk.approve(r.id, "omar")
    assert (r.state, book.request(r.id)[1]) == ("approved", D("200.00"))


# ------------------------------------------------------------------ approval before approved


def test_a_draft_cannot_be_updated_to_approved(book: Desk) -> None:
    r = book.goodwill("300.00", draft=True)
    before = book.state()
    record = book.request(r.id)[3]
    with refused("AM022", "without the evidence"):
        with book.write() as conn:
            conn.execute("UPDATE amends.requests SET state = 'approved' WHERE book_id = %s AND request_id = %s",
                         (book.book, r.id))
    assert book.state() == before
    # Also straight to applied: the moves it passes through are checked too.
    with refused("AM022"):
        with book.write() as conn:
            conn.execute("UPDATE amends.requests SET state = 'applied' WHERE book_id = %s AND request_id = %s",
                         (book.book, r.id))
    # A chain with a step not done, or done without an approval, is no evidence.
    for chain in [{"steps": [{"done": False, "approvals": [{"person": "lena"}]}]},
                  {"steps": [{"done": True, "approvals": []}]},
                  {"steps": []}]:
        with refused("AM022", "without the evidence"):
            with book.write() as conn:
                conn.execute("UPDATE amends.requests SET state = 'approved', record = %s WHERE book_id = %s AND request_id = %s",
                             (record_with(record, ["chain"], chain), book.book, r.id))
    # Evidence of approval, but no reservation: goodwill draws on a budget.
    faked = record_with(record, ["route", "outcome"], "auto_approved")
    with refused("AM022", "draws on a budget"):
        with book.write() as conn:
            conn.execute("UPDATE amends.requests SET state = 'approved', record = %s WHERE book_id = %s AND request_id = %s",
                         (faked, book.book, r.id))
    # Nor a reservation that is someone else's, or holds another amount.
    other = book.goodwill("80.00")  # auto-approved: reserved
    other_reservation = json.loads(book.request(other.id)[3])["reservation"]
    assert other_reservation > 0
    before = book.state()
    with refused("AM022", "is not its open reservation"):
        with book.write() as conn:
            conn.execute("UPDATE amends.requests SET state = 'approved', record = %s WHERE book_id = %s AND request_id = %s",
                         (record_with(faked, ["reservation"], other_reservation), book.book, r.id))
    with refused("AM022"):
        with book.write() as conn:
            conn.execute("INSERT INTO amends.entries (book_id, entry_id, date, kind, description, idempotency_key, posting_count)"
                         " SELECT %s, last_entry_id + 1, '2026-11-02', 'pending', 'Reserved', %s, 2 FROM amends.books WHERE book_id = %s",
                         (book.book, f"budget:{r.id}", book.book))
            entry = one(conn, "SELECT last_entry_id FROM amends.books WHERE book_id = %s", (book.book,))[0]
            conn.execute("INSERT INTO amends.postings (book_id, entry_id, line, account_id, amount) VALUES"
                         " (%s, %s, 1, %s, 1.00), (%s, %s, 2, %s, -1.00)",
                         (book.book, entry, book.account("Budget:support:goodwill:2026-11:Consumed"),
                          book.book, entry, book.account(AVAILABLE)))
            conn.execute("UPDATE amends.requests SET state = 'approved', record = %s WHERE book_id = %s AND request_id = %s",
                         (record_with(faked, ["reservation"], entry), book.book, r.id))
    assert book.request(r.id)[0] == "draft"
    assert book.state() == before


def test_a_request_cannot_be_inserted_approved_without_evidence(book: Desk) -> None:
    record = json.dumps({"id": "R-X", "amount": {"amount": "500.00", "currency": "USD"}, "base_amount": "500.00",
                         "versions": [], "route": {"outcome": "needs_approval"}, "chain": None,
                         "draws_on_budget": False, "reservation": 0, "entries": [], "accrued": False})
    with refused("AM019", "created as a draft"):
        with book.write() as conn:
            version = one(conn, "SELECT version FROM amends.books WHERE book_id = %s", (book.book,))[0]
            conn.execute("INSERT INTO amends.requests (book_id, request_id, kind, state, customer, requester, team, amount,"
                         " currency, changed_version, record, created_at) VALUES (%s, 'R-X', 'refund', 'approved', 'C-1',"
                         " 'ana', 'support', 500, 'USD', %s, %s, now())", (book.book, version, record))
    # Created a draft and moved to approved in the same write: the move wants the evidence.
    with refused("AM022"):
        with book.write() as conn:
            version = one(conn, "SELECT version FROM amends.books WHERE book_id = %s", (book.book,))[0]
            conn.execute("INSERT INTO amends.requests (book_id, request_id, kind, state, customer, requester, team, amount,"
                         " currency, changed_version, record, created_at) VALUES (%s, 'R-X', 'refund', 'draft', 'C-1',"
                         " 'ana', 'support', 500, 'USD', %s, %s, now())", (book.book, version, record))
            conn.execute("UPDATE amends.requests SET state = 'approved' WHERE book_id = %s AND request_id = 'R-X'", (book.book,))
    assert one(book.conn, "SELECT count(*) FROM amends.requests WHERE book_id = %s AND request_id = 'R-X'", (book.book,))[0] == 0


# ------------------------------------------------------------------ apply posts what was approved


def test_applied_needs_its_entries_and_its_reservation_consumed(book: Desk) -> None:
    book.desk.apply(book.goodwill("50.00").id, "billing-bot")  # opens the accounts a goodwill credit posts to
    expense, credits = book.account("ContraRevenue:Goodwill"), book.account("Liabilities:CustomerCredits:C-1")
    book.desk.apply(book.desk.submit(kind="goodwill", customer="C-2", tier="growth", amount="10.00", requester="ana",
                                     team="support", reason="outage-apology", evidence=["INC-8"]).id, "billing-bot")
    other_customer = book.account("Liabilities:CustomerCredits:C-2")
    r = book.goodwill("80.00")
    assert r.state == "approved"
    before = book.state()
    record = book.request(r.id)[3]
    with refused("AM023", "names no entries"):
        with book.write() as conn:
            conn.execute("UPDATE amends.requests SET state = 'applied' WHERE book_id = %s AND request_id = %s",
                         (book.book, r.id))
    # Naming an entry that is not its own (the allocation).
    with refused("AM023", "is not one of its postings"):
        with book.write() as conn:
            conn.execute("UPDATE amends.requests SET state = 'applied', record = %s WHERE book_id = %s AND request_id = %s",
                         (record_with(record, ["entries"], [1]), book.book, r.id))
    assert book.state() == before

    # Its own entry, but for 9,000.00 instead of 80.00; then the right amount without consuming the reservation.
    # And the right amount credited to another customer: not the accounts the policy names for C-1's goodwill.
    for amount, message, debit, credit in [
            ("9000.00", "grants 80.00 USD but its entries post 9000.00 USD", expense, credits),
            ("80.00", "posts to Liabilities:CustomerCredits:C-2, but policy", expense, other_customer),
            ("80.00", "is consumed (posted) when it is applied", expense, credits)]:
        with refused("AM023", message):
            with book.write() as conn:
                entry = one(conn, "SELECT last_entry_id + 1 FROM amends.books WHERE book_id = %s", (book.book,))[0]
                conn.execute("INSERT INTO amends.entries (book_id, entry_id, date, description, idempotency_key, metadata,"
                             " posting_count) VALUES (%s, %s, '2026-11-02', 'goodwill', %s, %s, 2)",
                             (book.book, entry, f"request:{r.id}:1", json.dumps([["request", r.id]])))
                conn.execute("INSERT INTO amends.postings (book_id, entry_id, line, account_id, amount) VALUES"
                             " (%s, %s, 1, %s, %s), (%s, %s, 2, %s, %s)",
                             (book.book, entry, debit, D(amount), book.book, entry, credit, -D(amount)))
                conn.execute("UPDATE amends.requests SET state = 'applied', record = %s WHERE book_id = %s AND request_id = %s",
                             (record_with(record, ["entries"], [entry]), book.book, r.id))
        assert book.state() == before

    applied = book.desk.apply(r.id, "billing-bot")
    assert applied.state == "applied"
    assert book.reopened().book.balance("Liabilities:CustomerCredits:C-1") == D("-130.00")
    assert book.reopened().book.balance("Liabilities:CustomerCredits:C-2") == D("-10.00")


# ------------------------------------------------------------------ budget accounts


def test_a_budget_is_not_topped_up_by_a_journal_entry(book: Desk) -> None:
    available, allocated = book.account(AVAILABLE), book.account(ALLOCATED)
    before = book.state()

    def post(description: str, key: str | None = None, kind: str = "posted") -> None:
        with book.write() as conn:
            entry = one(conn, "SELECT last_entry_id + 1 FROM amends.books WHERE book_id = %s", (book.book,))[0]
            conn.execute("INSERT INTO amends.entries (book_id, entry_id, date, kind, description, idempotency_key, posting_count)"
                         " VALUES (%s, %s, '2026-11-02', %s, %s, %s, 2)", (book.book, entry, kind, description, key))
            conn.execute("INSERT INTO amends.postings (book_id, entry_id, line, account_id, amount) VALUES"
                         " (%s, %s, 1, %s, 5000), (%s, %s, 2, %s, -5000)",
                         (book.book, entry, available, book.book, entry, allocated))

    with refused("AM024", "a budget moves only by an allocation"):
        post("top-up")
    # Described as an allocation, but without its audit event: refused at commit.
    with refused("AM024", "has no budget_allocated audit event"):
        post("Budget allocation support goodwill 2026-11")
    # A reservation for a request the book does not have.
    with refused("AM024", "names no request"):
        post("Reserved for R-999999", key="budget:R-999999", kind="pending")
    assert book.state() == before
    u = book.reopened().utilisation("support", "goodwill", "2026-11")
    assert (u.allocated, u.available) == (D("1000.00"), D("1000.00"))

    # The desk's allocation records its audit event and passes.
    book.desk.allocate("support", "goodwill", "2026-11", "500.00", on="2026-11-02")
    [event] = [e for e in book.reopened().audit_events() if e["event"] == "budget_allocated"][-1:]
    details = json.loads(event["details"])
    assert (event["actor"], details["owner"], details["kind"], details["period"], details["amount"]) == (
        "amends", "support", "goodwill", "2026-11", "500.00 USD")
    assert book.reopened().utilisation("support", "goodwill", "2026-11").allocated == D("1500.00")


def test_a_budget_allocated_event_cannot_be_written_ahead(book: Desk) -> None:
    last = one(book.conn, "SELECT seq, at_micros, hash FROM amends.audit_events WHERE book_id = %s ORDER BY seq DESC LIMIT 1",
               (book.book,))
    future = one(book.conn, "SELECT last_entry_id + 1 FROM amends.books WHERE book_id = %s", (book.book,))[0]
    seq, at, details = last[0] + 1, last[1] + 1, json.dumps({"entry": future})
    with refused("AM024", "not an allocation entry of this write"):
        with book.write() as conn:
            conn.execute("INSERT INTO amends.audit_events (book_id, seq, at_micros, actor, request_id, event, details,"
                         " previous, hash, simulated) VALUES (%s, %s, %s, 'mallory', '', 'budget_allocated', %s, %s,"
                         " amends.audit_hash(%s, %s, 'mallory', '', 'budget_allocated', %s, %s), true)",
                         (book.book, seq, at, details, last[2], seq, at, details, last[2]))


# ------------------------------------------------------------------ period close


def test_a_period_does_not_close_over_approved_unapplied_requests(book: Desk) -> None:
    r = book.goodwill("80.00")
    assert r.state == "approved"
    with book.write() as conn:  # locking takes the period row; closing it is what is checked
        conn.execute("INSERT INTO amends.periods (book_id, period_start, state) VALUES (%s, '2026-11-01', 'locked')", (book.book,))
    before = book.state()
    for statement in ["UPDATE amends.periods SET state = 'closed' WHERE book_id = %(b)s AND period_start = '2026-11-01'",
                      "INSERT INTO amends.periods (book_id, period_start, state) VALUES (%(b)s, '2026-11-01', 'closed')"
                      " ON CONFLICT (book_id, period_start) DO UPDATE SET state = 'closed'",
                      "INSERT INTO amends.periods (book_id, period_start, state) VALUES (%(b)s, '2026-12-01', 'closed')"
                      " ON CONFLICT (book_id, period_start) DO UPDATE SET state = 'closed'"]:
        with refused("AM025", f"{r.id}; apply them, or close with accrual (amends period close --accrue)"):
            with book.write() as conn:
                conn.execute(statement, {"b": book.book})
    assert book.state() == before
    # An earlier period holds none of them.
    with book.write() as conn:
        conn.execute("INSERT INTO amends.periods (book_id, period_start, state) VALUES (%s, '2026-10-01', 'closed')", (book.book,))
    before = book.state()

    # The ledger's own close is refused the same way, as CloseRefused.
    ledger = amends.open(book.dsn, book.name, simulation=True)
    with pytest.raises(amends.CloseRefused, match=r.id):
        ledger.close_period("2026-11")
    assert amends.open(book.dsn, book.name, simulation=True).period_state("2026-11") == "locked"
    assert book.state() == before
    with book.write() as conn:
        conn.execute("UPDATE amends.periods SET state = 'open' WHERE book_id = %s AND period_start = '2026-11-01'", (book.book,))

    # The desk's close with accrual posts them first and closes.
    report = book.desk.close_period("2026-11", "controller", accrue=True)
    assert report.accrued == [r.id]
    again = book.reopened()
    assert again.book.period_state("2026-11") == "closed"
    assert again.book.balance("ContraRevenue:Goodwill") == D("80.00")
    assert again.get(r.id).accrued
    applied = again.apply(r.id, "billing-bot")
    assert applied.state == "applied" and len(applied.entries) == 1
