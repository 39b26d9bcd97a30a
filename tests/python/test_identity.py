"""Who acts is the authenticated login: people, logins, impersonation and the database's clock.

Every test has a database of its own (pg_migrated_dsn) with five logins made
for it: an admin (amends_admin), ana, lena and an intern (amends_app), and a
service (amends_service). The admin creates a real book -- not a simulation
-- and becomes its first person; the others are added and bound by the admin.
The attacks come three ways: through the Python API, through the CLI, and as
raw SQL with the login's own rights, as a script holding the app's login
would.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import amends
from rawsql import as_user
from amends import cli

psycopg = pytest.importorskip("psycopg", reason="the identity tests need psycopg 3 (pip install 'psycopg[binary]>=3.1')")

POLICY = Path(amends.__file__).parent / "data" / "sample_policy.toml"
MONTH = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")
BOOK = "real"



@dataclass
class Office:
    """The database, its logins (name -> DSN) and the real book's id."""

    dsn: str
    logins: dict[str, str]
    users: dict[str, str]
    book_id: int

    def open(self, who: str, **options: Any) -> amends.Book:
        return amends.open(self.logins[who], BOOK, **options)

    def desk(self, who: str, **options: Any) -> amends.Desk:
        return amends.Desk(self.open(who, **options))

    def sql(self, who: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Runs statements as `who` in one transaction (committed), returning the last result."""
        with psycopg.connect(self.logins[who]) as conn:
            cursor = conn.execute(statement, params)
            rows = cursor.fetchall() if cursor.description else []
            conn.commit()
            return rows

    def refused(self, who: str, statements: list[tuple[str, tuple[Any, ...]]]) -> tuple[str, str]:
        """Runs statements as `who` in one transaction; returns the SQLSTATE and message it fails with."""
        with psycopg.connect(self.logins[who]) as conn:
            try:
                for statement, params in statements:
                    conn.execute(statement, params)
                conn.commit()
            except psycopg.Error as error:
                return str(error.sqlstate), str(error)
        pytest.fail(f"{who} ran {statements!r}")

    def trail(self) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute("SELECT seq, actor, event, login::text, simulated, at_micros FROM amends.audit_events "
                                "WHERE book_id = %s ORDER BY seq", (self.book_id,)).fetchall()


@pytest.fixture
def office(pg_migrated_dsn: str) -> Iterator[Office]:
    suffix = uuid.uuid4().hex[:8]
    roles = {"admin": "amends_admin", "ana": "amends_app", "lena": "amends_app", "intern": "amends_app",
             "svc": "amends_service"}
    users = {who: f"{who}_{suffix}" for who in roles}
    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        for who, role in roles.items():
            conn.execute(f"CREATE ROLE {users[who]} LOGIN IN ROLE {role}")
    logins = {who: as_user(pg_migrated_dsn, user) for who, user in users.items()}
    admin = amends.open(logins["admin"], BOOK, first_person="Bea Admin")
    for who in ("ana", "lena", "intern"):
        admin.add_person(who, who.title(), teams=["support"], login=users[who])
    desk = amends.Desk(admin, policy=POLICY)
    desk.allocate("support", "goodwill", MONTH, "5000.00")
    yield Office(pg_migrated_dsn, logins, users, admin.book_id)
    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        for user in users.values():
            conn.execute(f"DROP OWNED BY {user}")
            conn.execute(f"DROP ROLE {user}")


def submit(desk: amends.Desk, amount: str = "250.00", **fields: Any) -> amends.Request:
    """A growth customer's goodwill over 100.00: the sample policy wants a team lead (lena or omar)."""
    return desk.submit(kind="goodwill", customer="C-1042", tier="growth", amount=amount, team="support",
                       reason="outage-apology", evidence=["TICKET-7"], service_period=MONTH, **fields)


# ------------------------------------------------------------------ the people of a book


def test_the_creator_of_a_real_book_is_its_first_person_and_every_change_of_people_is_audited(office: Office) -> None:
    admin = office.open("admin")
    assert admin.simulation is False
    assert admin.whoami() == {"login": office.users["admin"], "person": "bea admin", "service": False,
                              "simulation": False, "display_name": "Bea Admin", "roles": ["admin"], "teams": []}
    people = {p["person"]: p for p in admin.people()}
    assert sorted(people) == ["ana", "bea admin", "intern", "lena"]
    assert people["lena"]["logins"] == [office.users["lena"]] and people["lena"]["teams"] == ["support"]
    trail = office.trail()
    added = [(actor, event, login) for _seq, actor, event, login, _sim, _at in trail if event == "person_added"]
    # The first person adds themself; the admin (acting as bea admin) adds the rest.
    assert added == [("bea admin", "person_added", office.users["admin"])] * 4
    assert all(sim is False for *_, sim, _at in trail)
    assert amends.Desk(admin).verify_audit()["ok"] is True


def test_only_an_admin_manages_people_and_the_tables_take_no_direct_writes(office: Office) -> None:
    ana = office.open("ana")
    with pytest.raises(amends.NotAuthorised, match="amends_admin"):
        ana.add_person("mallory", "Mallory", roles=["admin"], login=office.users["ana"])
    with pytest.raises(amends.NotAuthorised, match="amends_admin"):
        ana.bind_login(office.users["ana"], "lena")
    assert {p["person"] for p in office.open("admin").people()} == {"ana", "bea admin", "intern", "lena"}
    # Raw SQL as the app: no INSERT, UPDATE or DELETE on people or logins at all.
    for statement in (f"INSERT INTO amends.people VALUES ({office.book_id}, 'mallory', 'M', '{{}}', '{{}}', true, now())",
                      f"UPDATE amends.logins SET person = 'lena' WHERE login = '{office.users['ana']}'",
                      "DELETE FROM amends.logins"):
        state, _ = office.refused("ana", [(statement, ())])
        assert state == "42501"
    # The functions check the caller, not the arguments.
    state, message = office.refused("ana", [("SELECT amends.bind_login(%s, %s, 'lena')", (office.book_id, office.users["ana"]))])
    assert state == "AM027" and "amends_admin" in message


def test_a_login_bound_to_nobody_can_read_but_not_act(office: Office, pg_migrated_dsn: str) -> None:
    stranger = f"stranger_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {stranger} LOGIN IN ROLE amends_app")
    try:
        desk = amends.Desk(amends.open(as_user(pg_migrated_dsn, stranger), BOOK))
        assert desk.book.person is None
        assert desk.policy_version == "2026-11-01"
        with pytest.raises(amends.NotAuthorised, match="bound to no person"):
            submit(desk)
        with pytest.raises(amends.NotAuthorised, match="bound to no person"):
            submit(desk, requester="ana")
        assert desk.requests() == []
    finally:
        with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {stranger}")
            conn.execute(f"DROP ROLE {stranger}")


# ------------------------------------------------------------------ impersonation through Python


def test_the_actor_defaults_to_the_logged_in_person_and_anyone_else_is_refused(office: Office) -> None:
    ana = office.desk("ana")
    r = submit(ana)
    assert r.requester == "ana" and r.state == "pending_approval"
    before = len(office.trail())
    intern = office.desk("intern")
    with pytest.raises(amends.Impersonation, match="intern"):
        intern.approve(r.id, "lena", comment="looks fine")
    with pytest.raises(amends.Impersonation):
        intern.approve(r.id, "LENA ", comment="the same person by another spelling")
    # Nothing changed: not the request, not the trail.
    assert office.desk("admin").get(r.id).state == "pending_approval"
    assert len(office.trail()) == before
    # The intern, as themself, holds no team-lead authority.
    with pytest.raises(amends.ApprovalError):
        intern.approve(r.id, comment="me")
    lena = office.desk("lena")
    assert [p.id for p in lena.pending_for(lena.me)] == [r.id]
    approved = lena.approve(r.id, comment="fair")
    assert approved.state == "approved"
    *_, (seq, actor, event, login, simulated, _at) = [e for e in office.trail() if e[2] == "approved"]
    assert (actor, login, simulated) == ("lena", office.users["lena"], False)


def test_a_request_is_filed_only_by_the_person_logged_in(office: Office) -> None:
    intern = office.desk("intern")
    with pytest.raises(amends.Impersonation):
        submit(intern, requester="ana")
    assert office.desk("admin").requests() == []
    # Spelled differently, the same person: filed under their key.
    r = submit(intern, requester="  INTERN ")
    assert r.requester == "intern"


def test_separation_of_duties_is_judged_on_the_authenticated_person(office: Office) -> None:
    """lena files a request; her own login can't approve it, whatever name it types."""
    lena = office.desk("lena")
    r = submit(lena)
    with pytest.raises(amends.ApprovalError, match="nobody approves their own request"):
        lena.approve(r.id, comment="mine")
    with pytest.raises(amends.Impersonation):
        lena.approve(r.id, "omar", comment="as a colleague")
    assert office.desk("admin").get(r.id).state == "pending_approval"


def test_a_real_book_keeps_the_database_clock(office: Office) -> None:
    ana_book = office.open("ana")
    with pytest.raises(amends.NotAuthorised, match="clock"):
        amends.Desk(ana_book, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    ana = amends.Desk(ana_book)
    with pytest.raises(amends.NotAuthorised, match="clock"):
        submit(ana, at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(amends.NotAuthorised, match="clock"):
        ana.escalate_due(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    start = dt.datetime.now(dt.timezone.utc)
    r = submit(ana)
    end = dt.datetime.now(dt.timezone.utc)
    events = [e for e in ana.audit_events() if e["request"] == r.id]
    # One write, one time: the database's, between the call's start and end.
    assert len({e["at"] for e in events}) == 1
    assert start - dt.timedelta(seconds=5) <= events[0]["at"] <= end + dt.timedelta(seconds=5)


def test_a_simulation_takes_names_and_clocks_and_its_events_say_so(office: Office) -> None:
    book = amends.open(office.logins["intern"], "what-if", simulation=True)
    assert book.simulation is True
    clock_at = dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone.utc)
    desk = amends.Desk(book, policy=POLICY, clock=lambda: clock_at)
    desk.allocate("support", "goodwill", "2026-11", "1000.00", on="2026-11-01")
    r = desk.submit(kind="goodwill", customer="C-1", tier="growth", amount="250.00", requester="ana", team="support",
                    reason="outage-apology", evidence=["T-1"], service_period="2026-11")
    assert desk.approve(r.id, "lena", comment="what if").state == "approved"
    with psycopg.connect(office.dsn) as conn:
        rows = conn.execute("SELECT DISTINCT simulated, login::text FROM amends.audit_events WHERE book_id = %s",
                            (book.book_id,)).fetchall()
    assert rows == [(True, office.users["intern"])]
    # A book is what it was created as.
    with pytest.raises(amends.InvalidArgument, match="is not a simulation"):
        amends.open(office.logins["intern"], BOOK, simulation=True)
    with pytest.raises(amends.InvalidArgument, match="is a simulation"):
        amends.open(office.logins["intern"], "what-if", simulation=False)
    state, _ = office.refused("intern", [(f"UPDATE amends.books SET simulation = true WHERE name = '{BOOK}'", ())])
    assert state == "42501"
    with psycopg.connect(office.dsn) as conn:  # not even the owner turns a real book into a simulation
        with pytest.raises(psycopg.Error, match="stays what it was created as"):
            conn.execute("UPDATE amends.books SET simulation = true WHERE book_id = %s", (office.book_id,))


# ------------------------------------------------------------------ the service role


def test_the_service_acts_for_the_person_it_names_and_the_event_records_both(office: Office) -> None:
    ana = office.desk("ana")
    r = submit(ana)
    service = office.desk("svc", on_behalf_of="Lena")
    assert service.book.person == "lena" and service.me == "lena"
    assert service.approve(r.id, comment="via the web app").state == "approved"
    *_, (seq, actor, event, login, _sim, _at) = [e for e in office.trail() if e[2] == "approved"]
    assert (actor, login) == ("lena", office.users["svc"])
    with pytest.raises(amends.Impersonation):
        office.desk("svc", on_behalf_of="lena").cancel(r.id, "ana", reason="not hers to cancel")
    # Without naming anyone, the service can't act at all.
    with pytest.raises(amends.NotAuthorised):
        submit(office.desk("svc"), requester="ana")


def test_only_the_service_may_act_on_behalf_of_someone(office: Office) -> None:
    with pytest.raises(amends.NotAuthorised, match="only a login of the role amends_service"):
        submit(office.desk("intern", on_behalf_of="lena"))
    assert office.desk("admin").requests() == []


# ------------------------------------------------------------------ raw SQL with the app's rights


def forged_event(office: Office, who: str, actor: str, event: str = "approved", *, at: str = "w.tx_micros",
                 extra: str = "", extra_value: str = "") -> tuple[str, str]:
    """As `who`: takes the write lock and appends one correctly hashed event by `actor`."""
    return office.refused(who, [(
        "WITH w AS (SELECT * FROM amends.begin_write(%(b)s, 'forge')), h AS (SELECT seq, hash FROM amends.audit_heads "
        "WHERE book_id = %(b)s) "
        f"INSERT INTO amends.audit_events (book_id, seq, at_micros, actor, request_id, event, details, previous, hash{extra}) "
        f"SELECT %(b)s, h.seq + 1, {at}, %(actor)s, '', %(event)s, '{{}}', h.hash, "
        f"amends.audit_hash(h.seq + 1, {at}, %(actor)s, '', %(event)s, '{{}}', h.hash){extra_value} FROM w, h",
        {"b": office.book_id, "actor": actor, "event": event})])  # type: ignore[list-item]


def test_raw_sql_as_the_app_cannot_write_an_event_in_someone_elses_name(office: Office) -> None:
    before = office.trail()
    state, message = forged_event(office, "intern", "lena")
    assert state == "AM026" and "acts as intern" in message
    # amends' own name writes only the consequences of an action, never a decision.
    state, _ = forged_event(office, "intern", "amends", "approved")
    assert state == "AM026"
    state, _ = forged_event(office, "intern", "policy:anything", "cancelled")
    assert state == "AM026"
    # Nor at a time of its choosing, nor under another login.
    state, message = forged_event(office, "intern", "intern", "commented", at="w.tx_micros + 86400000000")
    assert state == "AM027" and "database's clock" in message
    state, message = forged_event(office, "intern", "intern", "commented", extra=", login",
                                  extra_value=f", '{office.users['lena']}'")
    assert state == "AM027" and "login" in message
    state, _ = forged_event(office, "intern", "intern", "commented", extra=", simulated", extra_value=", true")
    assert state == "AM027"
    # The on-behalf setting, set by hand, is refused too.
    with psycopg.connect(office.logins["intern"]) as conn:
        conn.execute("SELECT set_config('amends.on_behalf_of', 'lena', true)")
        with pytest.raises(psycopg.Error, match="only a login of the role amends_service"):
            conn.execute("SELECT amends.acting_person(%s)", (office.book_id,))
    assert office.trail() == before


def test_raw_sql_as_the_app_cannot_file_a_request_for_someone_else(office: Office) -> None:
    record = json.dumps({"amount": {"amount": "250.00", "currency": "USD"}})
    state, message = office.refused("intern", [(
        "WITH w AS (SELECT * FROM amends.begin_write(%s, 'forge')) INSERT INTO amends.requests (book_id, request_id, kind, "
        "state, customer, requester, team, amount, currency, changed_version, record, created_at) "
        "SELECT %s, 'R-FORGED', 'goodwill', 'draft', 'C-1', 'lena', 'support', 250.00, 'USD', w.version, %s, now() FROM w",
        (office.book_id, office.book_id, record))])
    assert state == "AM026" and "files requests only as themself" in message


def test_the_clock_of_a_real_book_is_the_databases_and_only_moves_forward(office: Office) -> None:
    # The write time is stamped by begin_write under the lock; the app can't set it.
    state, _ = office.refused("intern", [(f"UPDATE amends.books SET tx_at = now() - interval '1 day' WHERE book_id = {office.book_id}", ())])
    assert state == "42501"
    times = [at for *_rest, at in office.trail()]
    assert times == sorted(times)


# ------------------------------------------------------------------ the CLI


@pytest.fixture
def amends_as(office: Office, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def run(who: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main([*args, "--dsn", office.logins[who], "--book", BOOK])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_the_cli_acts_as_the_logged_in_person_and_refuses_another_name(office: Office, amends_as) -> None:
    code, out, err = amends_as("ana", "request", "submit", "--kind", "goodwill", "--customer", "C-1042", "--tier", "growth",
                               "--amount", "250.00", "--team", "support", "--reason", "outage-apology", "--evidence",
                               "TICKET-7", "--service-period", MONTH, "--json")
    assert code == 0, err
    request = json.loads(out)
    assert request["requester"] == "ana"
    code, out, err = amends_as("intern", "request", "approve", request["id"], "--as", "lena", "--comment", "ok")
    assert code == 2 and "Impersonation" in err and "intern" in err
    code, out, err = amends_as("lena", "whoami")
    assert code == 0 and f"login {office.users['lena']} acts as lena" in out
    code, out, err = amends_as("lena", "approvals", "pending", "--json")
    assert code == 0 and [p["id"] for p in json.loads(out)["pending"]] == [request["id"]]
    code, out, err = amends_as("lena", "request", "approve", request["id"], "--comment", "ok", "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "approved"


def test_the_cli_manages_people_only_for_an_admin(office: Office, amends_as) -> None:
    code, out, err = amends_as("ana", "people", "add", "omar", "--role", "admin", "--login", office.users["ana"])
    assert code == 2 and "NotAuthorised" in err
    code, out, err = amends_as("admin", "people", "add", "Omar", "--display-name", "Omar Haddad", "--team", "support",
                               "--json")
    assert code == 0, err
    assert {"person": "omar", "display_name": "Omar Haddad", "roles": [], "teams": ["support"], "active": True,
            "logins": []} in json.loads(out)
    code, out, err = amends_as("admin", "people", "bind", office.users["intern"], "omar")
    assert code == 0, err
    code, out, err = amends_as("intern", "whoami", "--json")
    assert json.loads(out)["person"] == "omar"
    code, out, err = amends_as("admin", "people", "bind", "no_such_login", "omar")
    assert code == 2 and "no login no_such_login" in err
