"""Authority in the database: what a person may approve, judged again by PostgreSQL (sql/010_authority.sql).

Every test has a database of its own with a real book (not a simulation) and
a login per person: an admin, ana (support), lena (team lead), fatima
(finance, away today: her authority is delegated to raj), raj, chen (cfo)
and an intern (no role). The policy below asks a team lead, then finance
(escalating to the cfo after a day), for goodwill over 100.00.

The C++ desk refuses all of this first (test_identity.py, test_approvals);
here each attack goes around it, as raw SQL with the attacker's own login,
the rights a script holding the app's login has. Each must be refused and
leave the request as it was.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

import amends
from rawsql import as_user

psycopg = pytest.importorskip("psycopg", reason="the authority tests need psycopg 3 (pip install 'psycopg[binary]>=3.1')")
from psycopg.types.json import Jsonb  # noqa: E402

TODAY = dt.datetime.now(dt.timezone.utc).date()
MONTH = TODAY.strftime("%Y-%m")
BOOK = "authority"
PEOPLE = ("ana", "lena", "fatima", "raj", "chen", "intern")


def policy(version: str, delegation_start: dt.date, delegation_end: dt.date) -> str:
    return f"""
version = "{version}"
base_currency = "USD"
exception_role = "finance"

[roles]
team_lead = ["lena"]
finance = ["fatima"]
cfo = ["chen"]

[[delegations]]
from = "fatima"
to = "raj"
start = "{delegation_start}"
end = "{delegation_end}"

[[rules]]
name = "small goodwill"
kinds = ["goodwill"]
up_to = "100.00"
auto_approve = true

[[rules]]
name = "goodwill"
kinds = ["goodwill"]
over = "100.00"
steps = [ {{ any_of = ["team_lead"] }}, {{ any_of = ["finance"], escalate_after_hours = 24, escalate_to = "cfo" }} ]
"""


POLICY = policy("auth-1", TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1))



@dataclass
class Office:
    dsn: str
    logins: dict[str, str]
    users: dict[str, str]
    book_id: int

    def desk(self, who: str) -> amends.Desk:
        return amends.Desk(amends.open(self.logins[who], BOOK))

    def record(self, request_id: str) -> tuple[str, dict[str, Any]]:
        with psycopg.connect(self.dsn) as conn:
            state, record = conn.execute("SELECT state, record FROM amends.requests WHERE book_id = %s AND request_id = %s",
                                         (self.book_id, request_id)).fetchone()
        return state, record

    def forge(self, who: str, request_id: str, change: Callable[[dict[str, Any], int], dict[str, Any]],
              state: str | None = None) -> tuple[str, str]:
        """As `who`, in a write of its own: rewrites the request's record (and state); returns the refusal."""
        before = self.record(request_id)
        with psycopg.connect(self.logins[who]) as conn:
            try:
                version, micros = conn.execute("SELECT version, tx_micros FROM amends.begin_write(%s, 'forge')",
                                               (self.book_id,)).fetchone()
                current_state, record = conn.execute(
                    "SELECT state, record FROM amends.requests WHERE book_id = %s AND request_id = %s",
                    (self.book_id, request_id)).fetchone()
                record = change(copy.deepcopy(record), micros)
                conn.execute("UPDATE amends.requests SET state = %s, record = %s, changed_version = %s "
                             "WHERE book_id = %s AND request_id = %s",
                             (state or current_state, Jsonb(record), version, self.book_id, request_id))
                conn.commit()
            except psycopg.Error as error:
                conn.rollback()
                assert self.record(request_id) == before
                return str(error.sqlstate), str(error)
        pytest.fail(f"{who} forged {request_id}")

    def refused(self, who: str, statements: list[tuple[str, tuple[Any, ...]]]) -> tuple[str, str]:
        with psycopg.connect(self.logins[who]) as conn:
            try:
                for statement, params in statements:
                    conn.execute(statement, params)
                conn.commit()
            except psycopg.Error as error:
                return str(error.sqlstate), str(error)
        pytest.fail(f"{who} ran {statements!r}")

    def events(self, event: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute("SELECT actor, details, login::text FROM amends.audit_events WHERE book_id = %s AND event = %s "
                                "ORDER BY seq", (self.book_id, event)).fetchall()


@pytest.fixture
def office(pg_migrated_dsn: str) -> Iterator[Office]:
    suffix = uuid.uuid4().hex[:8]
    users = {who: f"{who}_{suffix}" for who in ("admin", *PEOPLE)}
    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        for who, user in users.items():
            conn.execute(f"CREATE ROLE {user} LOGIN IN ROLE {'amends_admin' if who == 'admin' else 'amends_app'}")
    logins = {who: as_user(pg_migrated_dsn, user) for who, user in users.items()}
    admin = amends.open(logins["admin"], BOOK, first_person="Bea Admin")
    for who in PEOPLE:
        admin.add_person(who, who.title(), teams=["support"], login=users[who])
    desk = amends.Desk(admin, policy=POLICY)
    desk.allocate("support", "goodwill", MONTH, "100000.00")
    yield Office(pg_migrated_dsn, logins, users, admin.book_id)
    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        for user in users.values():
            conn.execute(f"DROP OWNED BY {user}")
            conn.execute(f"DROP ROLE {user}")


def submit(desk: amends.Desk, amount: str = "500.00") -> amends.Request:
    return desk.submit(kind="goodwill", customer="C-1", tier="growth", amount=amount, team="support",
                       reason="outage-apology", evidence=["TICKET-1"], service_period=MONTH)


def approval(person: str, role: str, at: int) -> dict[str, Any]:
    return {"person": person, "role": role, "at": at, "comment": "", "as_delegate": False}


def approve_step(step: int, person: str, role: str, at_offset: int = 0, escalate: bool = False
                 ) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    """A forger's edit: adds `person`'s approval as `role` to chain step `step` (and marks it done)."""
    def change(record: dict[str, Any], micros: int) -> dict[str, Any]:
        s = record["chain"]["steps"][step]
        if escalate:
            s["escalated"] = True
        s["approvals"].append(approval(person, role, micros + at_offset))
        s["done"] = True
        record["chain"]["current"] = step + 1
        if step + 1 < len(record["chain"]["steps"]):
            record["chain"]["steps"][step + 1]["started_at"] = micros
        return record
    return change


# ------------------------------------------------------------------ the approvals the database accepts


def test_the_desk_and_the_database_agree_on_a_legitimate_chain_with_a_delegate(office: Office) -> None:
    r = submit(office.desk("ana"))
    assert r.state == "pending_approval"
    office.desk("lena").approve(r.id, comment="ok")
    # fatima is away today: raj holds finance; fatima herself holds nothing today.
    with pytest.raises(amends.ApprovalError):
        office.desk("fatima").approve(r.id)
    done = office.desk("raj").approve(r.id, comment="as fatima's delegate")
    assert done.state == "approved"
    assert [e[0] for e in office.events("approved")] == ["lena", "raj"]


def test_a_forger_who_holds_the_role_is_still_judged_like_anyone(office: Office) -> None:
    """Raw SQL is just another client: lena, a team lead, approving her step by hand at the write's time is accepted."""
    r = submit(office.desk("ana"))
    with psycopg.connect(office.logins["lena"]) as conn:
        version, micros = conn.execute("SELECT version, tx_micros FROM amends.begin_write(%s, 'by hand')",
                                       (office.book_id,)).fetchone()
        record = conn.execute("SELECT record FROM amends.requests WHERE book_id = %s AND request_id = %s",
                              (office.book_id, r.id)).fetchone()[0]
        record = approve_step(0, "lena", "team_lead")(record, micros)
        conn.execute("UPDATE amends.requests SET record = %s, changed_version = %s WHERE book_id = %s AND request_id = %s",
                     (Jsonb(record), version, office.book_id, r.id))
        conn.commit()
    assert office.record(r.id)[1]["chain"]["steps"][0]["approvals"][0]["person"] == "lena"


# ------------------------------------------------------------------ approvals refused


def test_an_approval_by_someone_without_the_role_is_refused(office: Office) -> None:
    r = submit(office.desk("ana"))
    state, message = office.forge("intern", r.id, approve_step(0, "intern", "team_lead"))
    assert state == "AM027" and "does not hold the role team_lead" in message and "lena" in message
    # Nor by claiming a role the step does not ask for.
    state, message = office.forge("chen", r.id, approve_step(0, "chen", "cfo"))
    assert state == "AM027" and "asks for" in message


def test_an_approval_in_someone_elses_name_or_at_another_time_is_refused(office: Office) -> None:
    r = submit(office.desk("ana"))
    state, message = office.forge("intern", r.id, approve_step(0, "lena", "team_lead"))
    assert state == "AM026" and "acts as intern" in message
    state, message = office.forge("lena", r.id, approve_step(0, "lena", "team_lead", at_offset=-86_400_000_000))
    assert state == "AM026" and "when they do" in message


def test_nobody_approves_their_own_request_or_twice_in_one_chain(office: Office) -> None:
    own = submit(office.desk("lena"))
    state, message = office.forge("lena", own.id, approve_step(0, "lena", "team_lead"))
    assert state == "AM027" and "nobody approves their own request" in message
    r = submit(office.desk("ana"))
    office.desk("lena").approve(r.id)
    state, message = office.forge("lena", r.id, approve_step(1, "lena", "finance"))
    assert state == "AM027" and "approved in this chain already" in message


def test_a_delegated_authority_is_judged_on_the_databases_clock(office: Office) -> None:
    r = submit(office.desk("ana"))
    office.desk("lena").approve(r.id)
    # fatima's authority is raj's today: her own approval, by hand, is refused.
    state, message = office.forge("fatima", r.id, approve_step(1, "fatima", "finance"))
    assert state == "AM027" and "does not hold the role finance" in message and "raj" in message
    # Under a policy whose delegation ended yesterday, raj holds nothing today.
    admin = office.desk("admin")
    admin.publish_policy(policy("auth-2", TODAY - dt.timedelta(days=10), TODAY - dt.timedelta(days=1)))
    later = submit(office.desk("ana"))
    assert office.record(later.id)[1]["policy_version"] == "auth-2"
    office.desk("lena").approve(later.id)
    state, message = office.forge("raj", later.id, approve_step(1, "raj", "finance"))
    assert state == "AM027" and "holders that day: fatima" in message
    assert office.desk("fatima").approve(later.id).state == "approved"


def test_the_escalation_role_decides_only_once_the_step_is_due(office: Office) -> None:
    r = submit(office.desk("ana"))
    office.desk("lena").approve(r.id)
    # chen (cfo) marks the finance step escalated and approves it: it started moments ago, not 24 hours.
    state, message = office.forge("chen", r.id, approve_step(1, "chen", "cfo", escalate=True))
    assert state == "AM027" and "once escalated after 24 hours" in message


def test_an_approval_given_is_never_taken_back_or_rewritten(office: Office) -> None:
    r = submit(office.desk("ana"))
    office.desk("lena").approve(r.id)

    def drop_lena(record: dict[str, Any], micros: int) -> dict[str, Any]:
        record["chain"]["steps"][0]["approvals"] = []
        return record

    def reword(record: dict[str, Any], micros: int) -> dict[str, Any]:
        record["chain"]["steps"][0]["approvals"][0]["role"] = "cfo"
        return record

    def fewer_steps(record: dict[str, Any], micros: int) -> dict[str, Any]:
        record["chain"]["steps"] = record["chain"]["steps"][:1]
        record["route"]["steps"] = record["route"]["steps"][:1]
        return record

    for change in (drop_lena, reword, fewer_steps):
        state, message = office.forge("raj", r.id, change)
        assert state == "AM022" and "stay as they are" in message
    # Nor approved with the second step left out.
    state, _ = office.forge("raj", r.id, fewer_steps, state="approved")
    assert state == "AM022"


# ------------------------------------------------------------------ routes refused


def test_a_request_enters_approval_only_on_the_route_its_policy_gives(office: Office) -> None:
    """ana files by hand a 5,000.00 credit, claiming the auto-approving rule, or a chain without the finance step."""
    def file(record: dict[str, Any], state: str) -> tuple[str, str]:
        return office.refused("ana", [(
            "WITH w AS (SELECT * FROM amends.begin_write(%s, 'forge')) INSERT INTO amends.requests (book_id, request_id, kind, "
            "state, customer, requester, team, amount, currency, policy_version, changed_version, record, created_at) "
            "SELECT %s, %s, 'goodwill', 'draft', 'C-1', 'ana', 'support', 5000.00, 'USD', 'auth-1', w.version, %s, now() FROM w",
            (office.book_id, office.book_id, record["id"], Jsonb(record))),
            ("UPDATE amends.requests SET state = %s WHERE book_id = %s AND request_id = %s",
             (state, office.book_id, record["id"]))])

    # The shape of a real record: ana's own request, routed by the desk, as a template.
    template = office.record(submit(office.desk("ana"), "5000.00").id)[1]
    auto = copy.deepcopy(template)
    auto.update(id="R-FORGED-1", chain=None)
    auto["route"].update(rule="small goodwill", outcome="auto_approved", steps=[])
    state, message = file(auto, "approved")
    assert state == "AM022" and 'routed by rule "small goodwill", but policy auth-1 routes it by rule "goodwill"' in message

    claims_auto = copy.deepcopy(auto)
    claims_auto["route"]["rule"] = "goodwill"
    state, message = file(claims_auto, "approved")
    assert state == "AM022" and "can't be approved automatically" in message

    short = copy.deepcopy(template)
    short["id"] = "R-FORGED-2"
    short["chain"]["steps"] = short["chain"]["steps"][:1]
    short["route"]["steps"] = short["route"]["steps"][:1]
    short["chain"]["steps"] = [dict(short["chain"]["steps"][0], step={**short["chain"]["steps"][0]["step"], "roles": ["cfo"]})]
    short["route"]["steps"] = [short["chain"]["steps"][0]["step"]]
    state, message = file(short, "pending_approval")
    assert state == "AM022" and "is not the one policy auth-1 gives it" in message

    # An extra step is only ever a single step for a role that decides exceptions (finance here).
    extra = copy.deepcopy(template)
    extra["id"] = "R-FORGED-3"
    extra["chain"]["steps"].append(dict(extra["chain"]["steps"][0], step={"all_of": False, "roles": ["team_lead"],
                                                                          "escalate_after_hours": None, "escalate_to": ""}))
    extra["route"]["steps"].append(extra["chain"]["steps"][-1]["step"])
    state, message = file(extra, "pending_approval")
    assert state == "AM022" and "step 3" in message
    with psycopg.connect(office.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM amends.requests WHERE request_id LIKE 'R-FORGED%'").fetchone()[0] == 0


def test_requests_are_created_only_as_drafts(office: Office) -> None:
    template = office.record(submit(office.desk("ana")).id)[1]
    template["id"] = "R-MID-FLIGHT"
    state, message = office.refused("ana", [(
        "WITH w AS (SELECT * FROM amends.begin_write(%s, 'forge')) INSERT INTO amends.requests (book_id, request_id, kind, "
        "state, customer, requester, team, amount, currency, policy_version, changed_version, record, created_at) "
        "SELECT %s, 'R-MID-FLIGHT', 'goodwill', 'pending_approval', 'C-1', 'ana', 'support', 500.00, 'USD', 'auth-1', w.version, %s, "
        "now() FROM w", (office.book_id, office.book_id, Jsonb(template)))])
    assert state == "AM019" and "created as a draft" in message


# ------------------------------------------------------------------ policies


def test_only_an_admin_publishes_a_policy_and_its_authority_is_what_its_text_says(office: Office) -> None:
    with pytest.raises(amends.NotAuthorised, match="publish policy"):
        office.desk("lena").publish_policy(policy("auth-lena", TODAY, TODAY))
    assert office.desk("admin").policy_version == "auth-1"
    # Raw SQL as the app: refused too, whatever authority it brings.
    forged = {"version": "auth-x", "rules": [], "roles": {"team_lead": ["intern"]}, "delegations": [], "exception_roles": [],
              "accounts": {}}
    state, message = office.refused("intern", [(
        "WITH w AS (SELECT * FROM amends.begin_write(%s, 'forge')) INSERT INTO amends.policies "
        "(book_id, version, body, published_at, published_by, authority) SELECT %s, 'auth-x', 'x', b.tx_at, 'intern', %s "
        "FROM w, amends.books b WHERE b.book_id = %s", (office.book_id, office.book_id, Jsonb(forged), office.book_id))])
    assert state == "AM027" and "amends_admin" in message
    # A superuser who edits the stored authority behind amends' back: the book refuses to open.
    with psycopg.connect(office.dsn) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE amends.policies SET authority = jsonb_set(authority, '{roles,team_lead}', '[\"intern\"]') "
                     "WHERE book_id = %s", (office.book_id,))
        conn.commit()
    with pytest.raises(amends.StoreError, match="not what its text says"):
        office.desk("lena").requests()


# ------------------------------------------------------------------ balance limits and closures


def test_limits_and_closures_change_only_by_an_admin_each_change_audited(office: Office) -> None:
    admin = amends.open(office.logins["admin"], BOOK)
    admin.create_account("Liabilities:Capped", "liability", max_normal_balance="100.00")
    ana = amends.open(office.logins["ana"], BOOK)
    with pytest.raises(amends.NotAuthorised, match="admin"):
        ana.set_balance_limit("Liabilities:Capped", max_normal_balance="1000000.00")
    with pytest.raises(amends.NotAuthorised, match="admin"):
        ana.close_account("Liabilities:Capped")
    assert ana.account("Liabilities:Capped").max_normal_balance == 100
    account_id = ana.account("Liabilities:Capped").id
    state, message = office.refused("ana", [(
        "SELECT * FROM amends.begin_write(%s, 'forge')", (office.book_id,)), (
        "UPDATE amends.accounts SET max_normal = NULL WHERE book_id = %s AND account_id = %s", (office.book_id, account_id))])
    assert state == "AM027" and "balance limits and closures are changed by an admin" in message

    admin.set_balance_limit("Liabilities:Capped", max_normal_balance="250.00")
    (actor, details, login), = office.events("account_changed")
    assert (actor, login) == ("bea admin", office.users["admin"])
    assert json.loads(details) == {"account": "Liabilities:Capped", "currency": "USD", "closed": False, "min_normal": None,
                                   "max_normal": "250.00", "was": {"closed": False, "min_normal": None, "max_normal": "100.00"}}
    # The trail the desk reads back holds the database's event, and verifies.
    desk = office.desk("admin")
    assert desk.verify_audit()["ok"] is True
    assert "account_changed" in {e["event"] for e in desk.audit_events()}


def test_a_limit_lifted_and_restored_around_an_overdraft_is_refused(office: Office) -> None:
    admin = amends.open(office.logins["admin"], BOOK)
    admin.create_account("Liabilities:Capped", "liability", max_normal_balance="100.00")
    admin.create_account("Assets:Cash", "asset")
    account_id = admin.account("Liabilities:Capped").id
    cash_id = admin.account("Assets:Cash").id
    # By hand, in one write: lift, post 5,000.00 past the limit, restore.
    with psycopg.connect(office.logins["admin"]) as conn:
        with pytest.raises(psycopg.Error) as refused:
            version, last, *_ = conn.execute("SELECT version, last_entry_id FROM amends.begin_write(%s, 'forge')",
                                             (office.book_id,)).fetchone()
            conn.execute("UPDATE amends.accounts SET max_normal = NULL WHERE book_id = %s AND account_id = %s",
                         (office.book_id, account_id))
            conn.execute("INSERT INTO amends.entries (book_id, entry_id, date, kind, description, posting_count) "
                         "VALUES (%s, %s, %s, 'posted', 'overdraft', 2)", (office.book_id, last + 1, TODAY))
            conn.execute("INSERT INTO amends.postings (book_id, entry_id, line, account_id, amount) VALUES "
                         "(%s, %s, 1, %s, 5000.00), (%s, %s, 2, %s, -5000.00)",
                         (office.book_id, last + 1, cash_id, office.book_id, last + 1, account_id))
            conn.execute("UPDATE amends.accounts SET max_normal = 100.00 WHERE book_id = %s AND account_id = %s",
                         (office.book_id, account_id))
        assert refused.value.sqlstate == "AM010" and "once per write" in str(refused.value)
    # Through amends, in one transaction: the entries reach the database before the limits, and are refused.
    desk = office.desk("admin")
    book = desk.book

    def around() -> None:
        book.set_balance_limit("Liabilities:Capped")
        book.post(TODAY, [("Assets:Cash", "5000.00"), ("Liabilities:Capped", "-5000.00")])
        book.set_balance_limit("Liabilities:Capped", max_normal_balance="100.00")

    with pytest.raises(amends.BalanceLimitExceeded):
        desk.transaction(around)
    fresh = amends.open(office.logins["admin"], BOOK)
    assert fresh.balance("Liabilities:Capped") == 0 and fresh.account("Liabilities:Capped").max_normal_balance == 100
    assert office.events("account_changed") == []
