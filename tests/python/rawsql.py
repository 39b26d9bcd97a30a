"""Scaffolding of the raw-SQL database tests: the schema applied by psql, two books, and connections.

The tests that use it prove what the database enforces by itself, so they
apply sql/*.sql with psql rather than through amends.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
        book = one(conn, "INSERT INTO amends.books (name, base_currency) VALUES (%s, 'USD') RETURNING book_id",
                   (book_name,))[0]
        other = one(conn, "INSERT INTO amends.books (name, base_currency) VALUES ('Other book', 'EUR') RETURNING book_id")[0]
    return Db(dsn, book, other, statement_timeout_ms)
