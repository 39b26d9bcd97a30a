"""The PostgreSQL store itself: migrations, the app role, sessions seeing each other, in-doubt commits."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import psycopg

import pytest

import amends
from amends import _core
from helpers import C1, CASH, GOODWILL, JAN, grant, open_chart
from rawsql import MIGRATIONS


def sql(dsn: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def test_migrations_are_applied_once_in_order_and_recorded(pg_dsn: str):
    versions = [int(path.name[:3]) for path in MIGRATIONS]  # sql/NNN_name.sql
    assert versions[-1] == amends.SCHEMA_VERSION
    assert amends.migrate(pg_dsn) == versions
    assert amends.migrate(pg_dsn) == []
    recorded = sql(pg_dsn, "SELECT version, name FROM amends.schema_migrations ORDER BY version")
    assert recorded == [(int(path.name[:3]), path.name) for path in MIGRATIONS]
    assert recorded[0][1] == "001_books.sql"


def test_a_database_newer_than_the_code_is_refused(pg_migrated_dsn: str):
    amends.open(pg_migrated_dsn, simulation=True).close()
    sql(pg_migrated_dsn, "INSERT INTO amends.schema_migrations (version, name) VALUES (%s, 'from_the_future.sql')",
        amends.SCHEMA_VERSION + 1)

    with pytest.raises(amends.SchemaError, match=f"version {amends.SCHEMA_VERSION + 1}, newer than"):
        amends.open(pg_migrated_dsn, simulation=True)


def test_no_server_is_a_clear_store_error(tmp_path):
    with pytest.raises(amends.StoreError, match="can't connect to PostgreSQL"):
        amends.open(f"host={tmp_path} port=1 dbname=nothing connect_timeout=2", simulation=True)


def test_amends_writes_as_the_app_role_which_cannot_change_history(pg_migrated_dsn: str):
    book = open_chart(amends.open(pg_migrated_dsn, simulation=True))
    grant(book, C1, "10.00")

    writers = sql(pg_migrated_dsn, "SELECT DISTINCT db_user, db_role FROM amends.changes")
    assert writers == [("amends", "amends_app")]
    with psycopg.connect(pg_migrated_dsn) as conn:
        conn.execute("SET ROLE amends_app")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE amends.postings SET amount = amount * 2")


def test_books_in_one_database_are_separate(pg_migrated_dsn: str):
    usd = open_chart(amends.open(pg_migrated_dsn, "usd", simulation=True))
    eur = amends.open(pg_migrated_dsn, "eur", base_currency="EUR", simulation=True)
    grant(usd, C1, "10.00")

    assert eur.base_currency == "EUR" and eur.entry_count == 0 and eur.account_count == 0
    assert amends.open(pg_migrated_dsn, "usd", base_currency="JPY", simulation=True).base_currency == "USD"  # an existing book keeps its own
    with pytest.raises(amends.StoreError, match="no book named nothing"):
        amends.open(pg_migrated_dsn, "nothing", create=False)


def test_two_sessions_see_each_others_writes(pg_migrated_dsn: str):
    first = open_chart(amends.open(pg_migrated_dsn, simulation=True))
    second = amends.open(pg_migrated_dsn, simulation=True)
    grant(first, C1, "30.00")
    held = second.reserve(JAN, [(GOODWILL, "5.00"), (C1, "-5.00")])
    first.void_pending(held, JAN, "not needed")
    second.close_period("2025-12")
    first.set_balance_limit(C1, min_normal_balance=10)

    for book in (first, second):
        assert book.balance(C1) == Decimal("-30.00")
        assert book.entry(held).status == "pending_voided"
        assert book.period_state("2025-12") == "closed"
        assert book.account(C1).min_normal_balance == Decimal("10.00")
        assert book.version == first.version
    with pytest.raises(amends.BalanceLimitExceeded):
        grant(second, C1, "-25.00")  # would take C1 to 5.00, below the limit set by the other session
    with pytest.raises(amends.PeriodClosed):
        grant(first, C1, "1.00", day="2025-12-31")


def test_a_refused_write_leaves_no_trace_in_the_database(pg_migrated_dsn: str):
    book = open_chart(amends.open(pg_migrated_dsn, simulation=True))
    grant(book, C1, "10.00", idempotency_key="g-1")
    version = book.version

    with pytest.raises(amends.IdempotencyConflict):
        grant(book, C1, "11.00", idempotency_key="g-1")
    with pytest.raises(amends.UnbalancedEntry):
        book.post(JAN, [(CASH, "1.00"), (GOODWILL, "-0.99")])

    assert book.version == version
    assert sql(pg_migrated_dsn, "SELECT count(*) FROM amends.entries") == [(1,)]
    assert amends.open(pg_migrated_dsn, simulation=True).entry_count == 1


@pytest.mark.parametrize("after_commit_sent", [True, False], ids=["committed", "not-committed"])
def test_a_commit_whose_connection_drops_is_resolved_by_its_token(pg_migrated_dsn: str, after_commit_sent: bool):
    book = open_chart(amends.open(pg_migrated_dsn, simulation=True))
    store: _core.Store = book._store

    store._simulate_connection_loss_at_commit(after_commit_sent)
    if after_commit_sent:
        entry = grant(book, C1, "10.00", idempotency_key="in-doubt")  # it committed: the call returns
        assert book.entry(entry).idempotency_key == "in-doubt"
    else:
        with pytest.raises(amends.StoreError, match="did not commit"):
            grant(book, C1, "10.00", idempotency_key="in-doubt")
        assert book.entry_count == 0 and book.find_by_key("in-doubt") is None

    # Resubmitting with the same key posts exactly once either way.
    again = grant(book, C1, "10.00", idempotency_key="in-doubt")
    assert book.entry_count == 1 and book.find_by_key("in-doubt") == again
    assert sql(pg_migrated_dsn, "SELECT count(*) FROM amends.entries WHERE idempotency_key = 'in-doubt'") == [(1,)]
    assert amends.open(pg_migrated_dsn, simulation=True).balance(C1) == Decimal("-10.00")


def test_the_embedded_default_is_used_without_a_dsn(monkeypatch: pytest.MonkeyPatch, pg_cluster, pg_migrated_dsn: str):
    monkeypatch.delenv("AMENDS_DSN", raising=False)
    monkeypatch.setenv("AMENDS_DATA_DIR", str(pg_cluster.data_dir))
    book = amends.open(book="embedded", simulation=True)
    grant(open_chart(book), C1, "1.00")

    assert amends.open(book="embedded", simulation=True).balance(C1) == Decimal("-1.00")
    monkeypatch.setenv("AMENDS_DSN", pg_migrated_dsn)
    assert amends.open(book="embedded", simulation=True).entry_count == 0  # $AMENDS_DSN wins: another database


def test_the_db_command_reports_the_embedded_default(pg_cluster):
    done = subprocess.run(["amends", "db", "status", "--data-dir", str(pg_cluster.data_dir)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("running")


def test_a_deadlock_is_retried_and_the_entry_posts_once(pg_migrated_dsn: str):
    """amends waits for an account row another session holds; that session then waits for the book amends
    holds. PostgreSQL breaks the cycle by failing amends' transaction (40P01), which amends retries."""
    import threading
    import time

    book = open_chart(amends.open(pg_migrated_dsn, simulation=True))
    grant(book, C1, "10.00")
    deadlocks_before = sql(pg_migrated_dsn, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")[0][0]
    other = psycopg.connect(pg_migrated_dsn)
    other.execute("SELECT 1 FROM amends.accounts WHERE account_id = (SELECT account_id FROM amends.accounts "
                  "WHERE name = %s) FOR UPDATE", (C1,))
    outcome: dict[str, object] = {}

    def post() -> None:
        try:
            outcome["id"] = grant(book, C1, "5.00", idempotency_key="after-deadlock")
        except Exception as error:  # noqa: BLE001 - reported below
            outcome["error"] = error

    writer = threading.Thread(target=post)
    writer.start()
    # Wait until amends holds the book and waits for C1's row (a fixed sleep is too short on a busy machine:
    # the session that starts waiting first is the one PostgreSQL's deadlock check fails).
    deadline = time.monotonic() + 60
    while sql(pg_migrated_dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'") != [(1,)]:
        assert time.monotonic() < deadline, "amends never waited for the row lock"
        time.sleep(0.02)
    other.execute("SELECT amends.begin_write(%s, 'competing')", (book.book_id,))  # waits for amends: a cycle
    other.commit()
    writer.join(timeout=60)
    other.close()

    assert "error" not in outcome, outcome
    deadlocks = sql(pg_migrated_dsn, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")[0][0]
    assert deadlocks == deadlocks_before + 1
    assert book.find_by_key("after-deadlock") == outcome["id"]
    assert sql(pg_migrated_dsn, "SELECT count(*) FROM amends.entries WHERE idempotency_key = 'after-deadlock'") == [(1,)]
    assert amends.open(pg_migrated_dsn, simulation=True).balance(C1) == Decimal("-15.00")
