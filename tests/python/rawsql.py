"""Scaffolding of the raw-SQL database tests: the schema applied by psql, two books, and connections.

The tests that use it prove what the database enforces by itself, so they
apply sql/*.sql with psql rather than through amends.
"""

from __future__ import annotations

import json
import re
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pytest

if TYPE_CHECKING:
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg", reason="the database tests need psycopg 3 (pip install 'psycopg[binary]>=3.1')")

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("AMENDS_PG_BIN", "/usr/lib/postgresql/15/bin"))
MIGRATIONS = sorted((REPO / "sql").glob("[0-9]*.sql"))


class Db:
    """A fresh database with the schema, the book the tests write (book, USD) and a second one (other_book, EUR)."""

    def __init__(self, dsn: str, book: int, other_book: int, statement_timeout_ms: int = 20000) -> None:
        self.dsn = dsn
        self.book = book
        self.other_book = other_book
        self.statement_timeout_ms = statement_timeout_ms

    def connect(self, role: str | None = None) -> psycopg.Connection:
        conn = psycopg.connect(self.dsn, autocommit=True, options=f"-c statement_timeout={self.statement_timeout_ms}")
        if role is not None:
            conn.execute(f"SET ROLE {role}")
        return conn


def one(conn: psycopg.Connection, query: str, params: Any = ()) -> tuple[Any, ...]:
    """The single row a query returns."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row


def migrated(dsn: str, book_name: str, statement_timeout_ms: int = 20000) -> Db:
    """Applies every migration to the database at dsn with psql and opens the two books."""
    for migration in MIGRATIONS:
        run = subprocess.run([str(PG_BIN / "psql"), "-v", "ON_ERROR_STOP=1", "-1", "-q", "-f", str(migration), dsn],
                             capture_output=True, text=True)
        if run.returncode != 0:
            pytest.fail(f"applying {migration.name} failed:\n{run.stderr}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Simulations: the tests write events in any name and at any time, to attack the chain and the
        # lifecycle; who may act in a real book is tests/python/test_identity.py's.
        book = one(conn, "INSERT INTO amends.books (name, base_currency, simulation) VALUES (%s, 'USD', true) "
                         "RETURNING book_id", (book_name,))[0]
        other = one(conn, "INSERT INTO amends.books (name, base_currency, simulation) VALUES ('Other book', 'EUR', true) "
                          "RETURNING book_id")[0]
    return Db(dsn, book, other, statement_timeout_ms)


def as_user(dsn: str, user: str) -> str:
    """The DSN with its user replaced: to connect as another login of the same server."""
    return re.sub(r"\buser=\S+", f"user={user}", dsn)


def authority(version: str) -> str:
    """A policy version's authority (policies.authority) that routes nothing: for raw inserts into simulation books."""
    return json.dumps({"version": version, "rules": [], "roles": {}, "delegations": [], "exception_roles": [], "accounts": {}})


def request_record(request_id: str, amount: Any = "50.00", currency: str = "USD", **fields: Any) -> str:
    """A request record (the requests.record column) with what the database checks (sql/007_money_checks.sql).

    Its amount is the one granted (the amount column must equal it); it is
    auto-approved by its route and (once the row names a policy) draws on no
    budget, so it may be approved without a chain or a reservation; fields
    override or add keys.
    """
    record: dict[str, Any] = {
        "id": request_id,
        "amount": None if amount is None else {"amount": str(amount), "currency": currency},
        "base_amount": "0" if amount is None else str(amount),
        "versions": [],
        "route": {"outcome": "auto_approved"},
        "chain": None,
        "draws_on_budget": False,
        "reservation": 0,
        "entries": [],
        "accrued": False,
    }
    record.update(fields)
    return json.dumps(record)


def post_for_request(conn: psycopg.Connection, book: int, request_id: str, amounts: Sequence[Any],
                     currency: str = "USD", customer: str = "cust-42") -> list[int]:
    """Posts a request's entries as the desk does (Desk::post_concession), in the current write transaction.

    One entry per amount, keyed request:<id>:<n> with metadata request=<id>:
    a debit to Expense:Goodwill, a credit to the customer's credit account
    (both opened if the book lacks them). Returns the entry ids.
    """
    accounts = []
    for name, type_ in (("Expense:Goodwill", "expense"), (f"Liabilities:CustomerCredits:{customer}", "liability")):
        row = conn.execute("SELECT account_id FROM amends.accounts WHERE book_id = %s AND name = %s AND currency = %s",
                           (book, name, currency)).fetchone()
        if row is None:
            next_id = one(conn, "SELECT count(*) FROM amends.accounts WHERE book_id = %s", (book,))[0]
            conn.execute("INSERT INTO amends.accounts (book_id, account_id, name, currency, type) VALUES (%s, %s, %s, %s, %s)",
                         (book, next_id, name, currency, type_))
            row = (next_id,)
        accounts.append(row[0])
    ids = []
    for n, amount in enumerate(amounts, start=1):
        entry_id = one(conn, "SELECT last_entry_id + 1 FROM amends.books WHERE book_id = %s", (book,))[0]
        metadata = json.dumps([["request", request_id], ["kind", "goodwill"]])
        conn.execute("INSERT INTO amends.entries (book_id, entry_id, date, description, idempotency_key, metadata, posting_count)"
                     " VALUES (%s, %s, '2026-11-23', %s, %s, %s, 2)",
                     (book, entry_id, f"goodwill_credited for {customer}: {request_id}", f"request:{request_id}:{n}", metadata))
        conn.execute("INSERT INTO amends.postings (book_id, entry_id, line, account_id, amount) VALUES"
                     " (%s, %s, 1, %s, %s), (%s, %s, 2, %s, %s)",
                     (book, entry_id, accounts[0], Decimal(str(amount)), book, entry_id, accounts[1], -Decimal(str(amount))))
        ids.append(entry_id)
    return ids
