"""Least privilege: the owner migrates, a login granted amends_app does every everyday operation and no DDL,
an auditor reads and writes nothing, and amends.open never migrates.

Each test has a fresh database (pg_dsn) on the session's cluster, which
trusts every connection on its Unix socket: connecting as another login is
`user=<login>` in the DSN. Logins are server-wide, so each test makes its
own, with a name of its own, and drops them at the end.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

import psycopg
import pytest

import amends
from amends import cli
from amends.cluster import Cluster
from rawsql import MIGRATIONS

POLICY = Path(amends.__file__).parent / "data" / "sample_policy.toml"
INSUFFICIENT_PRIVILEGE = "42501"
MIGRATE_HINT = re.escape("run `amends db migrate` (as the database owner)")


def as_user(dsn: str, user: str) -> str:
    """The same database, logging in as another user (the cluster trusts its socket)."""
    assert re.search(r"\buser=\S+", dsn), dsn
    return re.sub(r"\buser=\S+", f"user={user}", dsn)


def execute(dsn: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def refused(dsn: str, statement: str) -> str:
    """The SQLSTATE with which the server refuses a statement (fails the test if it runs)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as error:
            return str(error.sqlstate)
    pytest.fail(f"the server ran {statement!r}")


@pytest.fixture
def login(pg_dsn: str) -> Iterator[Callable[[str, str], str]]:
    """login(name, role): makes a LOGIN role, member of role only, and returns the DSN that logs in as it."""
    made: list[str] = []

    def make(name: str, role: str) -> str:
        user = f"{name}_{uuid.uuid4().hex[:8]}"
        execute(pg_dsn, f"CREATE ROLE {user} LOGIN IN ROLE {role}")
        made.append(user)
        return as_user(pg_dsn, user)

    yield make
    for user in made:
        execute(pg_dsn, f"DROP OWNED BY {user}")
        execute(pg_dsn, f"DROP ROLE {user}")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


def run_the_desk(book: amends.Book) -> amends.Desk:
    """An invoice, a budget, then goodwill of 450.00 submitted by omar, approved by lena and applied."""
    book.create_account("Revenue:Subscriptions", "revenue")
    book.create_account("Assets:Receivables:C1040", "asset")
    book.post("2026-11-01", [("Assets:Receivables:C1040", Decimal("2400.00")), ("Revenue:Subscriptions", Decimal("-2400.00"))],
              idempotency_key="inv-2026-11-C1040")
    desk = amends.Desk(book, policy=POLICY, clock=Clock(), actor="controller")
    desk.allocate("support", "goodwill", "2026-11", "5000.00", on="2026-11-01")
    submitted = desk.submit(id="P-01", kind="goodwill", customer="C1040", tier="growth", amount="450.00",
                            requester="omar", team="support", reason="outage-apology", evidence=["INC-7102"])
    assert submitted.state == "pending_approval"
    desk.approve("P-01", "lena", comment="fair for a 6-hour outage")
    desk.apply("P-01", "billing-bot")
    return desk


# ------------------------------------------------------------------ the everyday login


def test_a_login_granted_only_amends_app_opens_posts_and_runs_the_desk(pg_dsn: str, login) -> None:
    amends.migrate(pg_dsn)
    clerk = login("clerk", "amends_app")
    user = re.search(r"user=(\S+)", clerk).group(1)  # type: ignore[union-attr]
    # It may create nothing anywhere: no schema, nothing in amends or public.
    assert execute(pg_dsn, "SELECT has_database_privilege(%s, current_database(), 'CREATE'), "
                           "has_schema_privilege(%s, 'amends', 'CREATE'), has_schema_privilege(%s, 'public', 'CREATE')",
                   (user, user, user)) == [(False, False, False)]

    book = amends.open(clerk, "privilege", simulation=True)
    desk = run_the_desk(book)

    request = desk.get("P-01")
    assert (request.state, request.amount, request.currency) == ("applied", Decimal("450.00"), "USD")
    used = desk.utilisation("support", "goodwill", "2026-11")
    assert (used.allocated, used.consumed, used.available) == (Decimal("5000.00"), Decimal("450.00"), Decimal("4550.00"))
    assert book.balance("Revenue:Subscriptions") == Decimal("-2400.00")

    # Read back afresh, as the clerk: the same book, and an intact audit trail.
    again = amends.Desk(amends.open(clerk, "privilege", create=False), clock=Clock())
    assert again.get("P-01").state == "applied"
    verified = again.verify_audit()
    assert verified["ok"] and verified["findings"] == []
    events = [e["event"] for e in again.audit_events() if e["request"] == "P-01"]
    assert events[0] == "created" and "approved" in events and "applied" in events
    # Every write was the clerk's, as amends_app.
    assert execute(pg_dsn, "SELECT DISTINCT db_user, db_role FROM amends.changes") == [(user, "amends_app")]


def test_the_everyday_login_can_not_change_the_schema_nor_migrate(pg_dsn: str, login) -> None:
    amends.migrate(pg_dsn)
    clerk = login("clerk", "amends_app")
    amends.open(clerk, "privilege", simulation=True).close()

    for statement in (
        "CREATE TABLE amends.mine (x int)",
        "CREATE TABLE public.mine (x int)",
        "CREATE SCHEMA mine",
        "CREATE FUNCTION amends.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "DROP TABLE amends.entries",
        "ALTER TABLE amends.entries ADD COLUMN mine int",
        "ALTER TABLE amends.postings DISABLE TRIGGER USER",
        "DROP TRIGGER checks ON amends.postings",
        "TRUNCATE amends.entries",
        "DELETE FROM amends.entries",
        "UPDATE amends.books SET version = version + 1",
        "SET ROLE amends_app; CREATE TABLE amends.mine (x int)",
    ):
        assert refused(clerk, statement) == INSUFFICIENT_PRIVILEGE, statement

    with pytest.raises(amends.SchemaError, match=r"may not migrate database .*amends db migrate"):
        amends.migrate(clerk)
    # The owner's view of it: nothing was added.
    assert execute(pg_dsn, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE c.relname = 'mine'") == [(0,)]


def test_the_service_and_admin_roles_do_everyday_work_as_amends_app(pg_dsn: str, login) -> None:
    amends.migrate(pg_dsn)
    assert execute(pg_dsn, "SELECT rolname, rolcanlogin, pg_has_role(rolname, 'amends_app', 'MEMBER') FROM pg_roles "
                           "WHERE rolname IN ('amends_admin', 'amends_service', 'amends_auditor') ORDER BY rolname") == [
        ("amends_admin", False, True), ("amends_auditor", False, False), ("amends_service", False, True)]
    for role in ("amends_service", "amends_admin"):
        dsn = login(role.removeprefix("amends_"), role)
        book = amends.open(dsn, f"{role}_book", simulation=True)
        book.create_account("Assets:Cash", "asset")
        book.create_account("Income", "revenue")
        book.post("2026-11-02", [("Assets:Cash", Decimal("5.00")), ("Income", Decimal("-5.00"))])
        assert amends.open(dsn, f"{role}_book", simulation=True).balance("Assets:Cash") == Decimal("5.00")
        assert refused(dsn, "CREATE TABLE amends.mine (x int)") == INSUFFICIENT_PRIVILEGE


# ------------------------------------------------------------------ the auditor


def test_an_auditor_reads_every_table_and_every_write_is_refused(pg_dsn: str, login) -> None:
    amends.migrate(pg_dsn)
    run_the_desk(amends.open(pg_dsn, "audited", simulation=True))
    auditor = login("auditor", "amends_auditor")

    tables = [name for (name,) in execute(pg_dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'amends' ORDER BY 1")]
    views = [name for (name,) in execute(pg_dsn, "SELECT viewname FROM pg_views WHERE schemaname = 'amends' ORDER BY 1")]
    assert {"books", "entries", "postings", "requests", "audit_events", "schema_migrations"} <= set(tables)
    assert "audit_log" in views
    owner_counts = {t: execute(pg_dsn, f"SELECT count(*) FROM amends.{t}")[0][0] for t in tables + views}
    assert owner_counts["entries"] >= 2 and owner_counts["audit_events"] >= 5
    for table in tables + views:
        assert execute(auditor, f"SELECT count(*) FROM amends.{table}") == [(owner_counts[table],)], table

    for table in tables:
        column = execute(pg_dsn, "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
                         (f"amends.{table}",))[0][0]
        for statement in (f"INSERT INTO amends.{table} DEFAULT VALUES",
                          f"UPDATE amends.{table} SET {column} = {column}",
                          f"DELETE FROM amends.{table}",
                          f"TRUNCATE amends.{table}"):
            assert refused(auditor, statement) == INSUFFICIENT_PRIVILEGE, statement
    for statement in ("CREATE TABLE amends.mine (x int)", "CREATE TABLE public.mine (x int)",
                      "SELECT amends.begin_write(1, 'post', NULL)", "SET ROLE amends_app"):
        assert refused(auditor, statement) == INSUFFICIENT_PRIVILEGE, statement

    # Through amends: the auditor reads the book and verifies its audit trail, and may not write.
    book = amends.open(auditor, "audited", create=False)
    assert book.balance("Revenue:Subscriptions") == Decimal("-2400.00")
    assert amends.verify_audit(auditor, "audited")["ok"]
    with pytest.raises(amends.StoreError, match="permission denied for function begin_write"):
        book.post("2026-11-03", [("Assets:Receivables:C1040", Decimal("1.00")), ("Revenue:Subscriptions", Decimal("-1.00"))])
    with pytest.raises(amends.StoreError):
        amends.open(auditor, "a new book", simulation=True)
    assert execute(pg_dsn, "SELECT count(*) FROM amends.books") == [(1,)]


# ------------------------------------------------------------------ opening never migrates


def test_opening_a_database_without_the_schema_is_refused_and_creates_nothing(pg_dsn: str) -> None:
    with pytest.raises(amends.SchemaError, match=f"has no amends schema: {MIGRATE_HINT}"):
        amends.open(pg_dsn, simulation=True)
    assert execute(pg_dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'amends'") == [(0,)]


def test_opening_a_database_with_an_older_schema_is_refused_with_what_it_lacks(pg_dsn: str) -> None:
    amends.migrate(pg_dsn)
    amends.open(pg_dsn, simulation=True).close()
    last = MIGRATIONS[-1].name
    execute(pg_dsn, "DELETE FROM amends.schema_migrations WHERE name = %s", (last,))
    previous = int(MIGRATIONS[-2].name[:3])

    with pytest.raises(amends.SchemaError, match=f"version {previous}, older than this amends .*lacks {re.escape(last)}: {MIGRATE_HINT}"):
        amends.open(pg_dsn, simulation=True)


def test_amends_db_migrate_applies_once_and_then_has_nothing_to_apply(pg_dsn: str, login, capsys) -> None:
    assert cli.main(["db", "migrate", "--dsn", pg_dsn]) == 0
    first = capsys.readouterr().out
    assert f"applied migrations {', '.join(p.name[:3] for p in MIGRATIONS)}\n" in first
    assert f"the amends schema is at version {amends.SCHEMA_VERSION}" in first
    amends.open(pg_dsn, simulation=True).close()

    assert cli.main(["db", "migrate", "--dsn", pg_dsn]) == 0
    assert capsys.readouterr().out.startswith("nothing to apply\n")

    clerk = login("clerk", "amends_app")
    assert cli.main(["db", "migrate", "--dsn", clerk]) == 2
    assert "SchemaError" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["db", "start", "--dsn", pg_dsn])
    assert "--dsn is for `amends db migrate`" in capsys.readouterr().err


def test_the_embedded_default_opens_with_no_set_up(tmp_path_factory, monkeypatch) -> None:
    """A new private cluster: amends.open(simulation=True) with no DSN creates, starts and migrates it."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="amends-pg-"))
    monkeypatch.delenv("AMENDS_DSN", raising=False)
    monkeypatch.setenv("AMENDS_DATA_DIR", str(root / "data"))
    try:
        book = amends.open(book="first use", simulation=True)
        book.create_account("Assets:Cash", "asset")
        assert amends.open(book="first use", simulation=True).account_count == 1
        assert execute(Cluster(root / "data").dsn, "SELECT max(version) FROM amends.schema_migrations") == [
            (amends.SCHEMA_VERSION,)]
    finally:
        Cluster(root / "data").stop()
        shutil.rmtree(root, ignore_errors=True)
