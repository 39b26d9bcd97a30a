"""The invariants of the concession desk (sql/002_desk.sql), tested through raw SQL.

Like test_db_invariants.py: a client that bypasses the C++ store and writes
SQL directly, as the owner or as amends_app, must be unable to break the
hash-chained audit trail, move a request against its lifecycle, rewrite an
outbox message or change a policy, a rate or a charge. Every test gets a
fresh database (the pg_dsn fixture of conftest.py) with sql/*.sql applied and
two books; errors are checked by SQLSTATE and the outcome by reading the rows
back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import pytest

from rawsql import Db, authority, migrated, one, post_for_request, request_record

if TYPE_CHECKING:
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg", reason="the database tests need psycopg 3 (pip install 'psycopg[binary]>=3.1')")


ROLES = pytest.mark.parametrize("role", [None, "amends_app"], ids=["owner", "app"])
# What an UPDATE, DELETE or TRUNCATE of an immutable table gets: the owner is
# stopped by the triggers (AM015), amends_app already by its privileges (42501).
IMMUTABLE = {None: "AM015", "amends_app": "42501"}

NOON = 1_795_435_200_000_000  # 2026-11-23T12:00:00Z in microseconds
ZERO = bytes(32)
STATES = ["draft", "submitted", "validated", "pending_approval", "approved", "declined", "returned", "applied",
          "reconciled", "cancelled", "expired"]
FINAL = {"declined", "reconciled", "cancelled", "expired"}
# The single steps of the lifecycle; an UPDATE may take any number of them.
STEPS = {
    "draft": {"submitted", "cancelled"},
    "submitted": {"validated", "cancelled"},
    "validated": {"pending_approval", "approved", "declined", "cancelled"},
    "pending_approval": {"approved", "declined", "returned", "expired", "cancelled"},
    "returned": {"submitted", "cancelled", "expired"},
    "approved": {"applied", "cancelled", "expired"},
    "applied": {"reconciled"},
}


def reachable(state: str) -> set[str]:
    """The states one UPDATE may move a request to from state (one step or more)."""
    seen: set[str] = set()
    todo = [state]
    while todo:
        for nxt in STEPS.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen - {state}


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture
def db(pg_dsn: str) -> Db:
    db = migrated(str(pg_dsn), "Desk book", statement_timeout_ms=60000)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        # Every request of the tests may name policy v1.
        for b in (db.book, db.other_book):
            conn.execute("INSERT INTO amends.policies (book_id, version, body, published_at, published_by, authority)"
                         " VALUES (%s, 'v1', '[[rule]]', now(), 'policy-team', %s)", (b, authority("v1")))
    return db


@pytest.fixture
def conn(db: Db) -> Iterator[psycopg.Connection]:
    with db.connect() as c:
        yield c


def rows(conn: psycopg.Connection, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


@contextlib.contextmanager
def write(conn: psycopg.Connection, *books: int) -> Iterator[int]:
    """One write transaction holding the write lock of each book (amends.begin_write); yields the first one's version."""
    with conn.transaction():
        versions = [one(conn, "SELECT version FROM amends.begin_write(%s, 'test', %s)",
                        (book, f"token-{os.urandom(6).hex()}"))[0] for book in books]
        yield versions[0] if versions else 0


@contextlib.contextmanager
def refused(sqlstate: str) -> Iterator[None]:
    """The block raises a database error with this SQLSTATE."""
    with pytest.raises(psycopg.Error) as info:
        yield
    assert info.value.sqlstate == sqlstate, f"expected {sqlstate}, got {info.value.sqlstate}: {info.value}"


# ------------------------------------------------------------------ the audit trail


def canonical(seq: int, at: int, actor: str, request: str, event: str, details: str, previous: bytes) -> bytes:
    """The bytes an event's hash covers, as the C++ core's requests::canonical writes them."""
    out = b"amends-audit-v1;"
    for value in (str(seq), str(at), actor, request, event, details, previous.hex()):
        data = value.encode("utf-8")
        out += str(len(data)).encode() + b":" + data + b";"
    return out


# book_id, seq, at_micros, actor, request_id, event, details, previous, hash
Event = tuple[int, int, int, str, str, str, str, bytes, bytes]
COLUMNS = "book_id, seq, at_micros, actor, request_id, event, details, previous, hash"


def event(book: int, seq: int, at: int, previous: bytes, actor: str = "maria", request: str = "R-1",
          what: str = "submitted", details: str = "") -> Event:
    """A well-formed event: its hash is the sha256 of its canonical form."""
    digest = hashlib.sha256(canonical(seq, at, actor, request, what, details, previous)).digest()
    return (book, seq, at, actor, request, what, details, previous, digest)


def chain(book: int, n: int, after: Event | None = None, step: int = 1_000_000) -> list[Event]:
    """n good events continuing the chain that ends with after (or starting one)."""
    events: list[Event] = []
    seq, at, previous = (after[1], after[2], after[8]) if after else (0, NOON, ZERO)
    for i in range(n):
        seq += 1
        at += step
        e = event(book, seq, at, previous, actor=["maria", "engine", "ops"][i % 3], request=f"R-{i % 7}",
                  what=["submitted", "routed", "approved"][i % 3], details=f"step {seq}: 50.00 USD ✓")
        events.append(e)
        previous = e[8]
    return events


def insert_events(conn: psycopg.Connection, events: Sequence[Event]) -> None:
    """All the events in one INSERT statement."""
    conn.execute(f"INSERT INTO amends.audit_events ({COLUMNS}, simulated) VALUES "  # the books are simulations
                 + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, true)"] * len(events)),
                 [v for e in events for v in e])


def copy_events(conn: psycopg.Connection, events: Sequence[Event]) -> None:
    with conn.cursor().copy(f"COPY amends.audit_events ({COLUMNS}, simulated) FROM STDIN") as copy:
        for e in events:
            copy.write_row((*e, True))


def trail(conn: psycopg.Connection, book: int) -> list[tuple[Any, ...]]:
    return rows(conn, f"SELECT {COLUMNS} FROM amends.audit_events WHERE book_id = %s ORDER BY seq", (book,))


def as_rows(events: Sequence[Event]) -> list[tuple[Any, ...]]:
    return [tuple(e) for e in events]


def test_the_canonical_form_and_hash_match_the_core(conn: psycopg.Connection) -> None:
    """amends.audit_canonical and amends.audit_hash agree byte for byte with the C++ definition (written in Python
    here): lengths in UTF-8 bytes, not characters; negative times; empty fields."""
    cases = [
        (1, NOON, "maria", "R-1", "submitted", "50.00 USD goodwill", ZERO),
        (2, NOON + 5, "engine", "", "routed", "", bytes(range(32))),
        (123456789, -1, "Zoë ✓", "R-ü", "approved", 'résumé: {"a": "€12.50"}\n;:', b"\xff" * 32),
    ]
    for case in cases:
        db_canonical, db_hash = one(conn, "SELECT amends.audit_canonical(%s, %s, %s, %s, %s, %s, %s),"
                                          " amends.audit_hash(%s, %s, %s, %s, %s, %s, %s)", case + case)
        assert db_canonical == canonical(*case)
        assert db_hash == hashlib.sha256(canonical(*case)).digest()
    # Hashes the C++ core computes for cases 1 and 3 (requests::sha256(requests::canonical(event))).
    assert one(conn, "SELECT encode(amends.audit_hash(%s, %s, %s, %s, %s, %s, %s), 'hex')", cases[0])[0] == \
        "8b0ece39b1b42ec4c175d5226a86bf59bf26c92f1a20e352246232210ac813e4"
    assert one(conn, "SELECT encode(amends.audit_hash(%s, %s, %s, %s, %s, %s, %s), 'hex')", cases[2])[0] == \
        "257b9195eac7974b4262f91f92a3c37e33c4f8e69fb17d5845f09a1748b3cc86"
    # The first case spelled out.
    assert canonical(*cases[0]) == (b"amends-audit-v1;1:1;16:1795435200000000;5:maria;3:R-1;9:submitted;"
                                    b"18:50.00 USD goodwill;64:" + b"0" * 64 + b";")


@ROLES
def test_a_good_chain_is_accepted(db: Db, role: str | None) -> None:
    with db.connect(role) as conn:
        first = chain(db.book, 3)
        with write(conn, db.book):
            insert_events(conn, first)  # three in one statement
        assert trail(conn, db.book) == as_rows(first)
        # Continued later, one event per statement, two in one transaction.
        more = chain(db.book, 2, after=first[-1])
        with write(conn, db.book):
            for e in more:
                insert_events(conn, [e])
        # Same time as the event before is fine (times don't go backwards).
        same_time = chain(db.book, 1, after=more[-1], step=0)
        with write(conn, db.book):
            insert_events(conn, same_time)
        assert trail(conn, db.book) == as_rows(first + more + same_time)
        # The other book has a chain of its own, starting at 1.
        theirs = chain(db.other_book, 2)
        with write(conn, db.other_book):
            insert_events(conn, theirs)
        assert trail(conn, db.other_book) == as_rows(theirs)
        # The readable view.
        at, hash_hex = one(conn, "SELECT at, hash FROM amends.audit_log WHERE book_id = %s AND seq = 1", (db.book,))
        assert at == datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=first[0][2])
        assert hash_hex == first[0][8].hex()


def test_events_of_two_books_in_one_statement_chain_per_book(db: Db, conn: psycopg.Connection) -> None:
    ours, theirs = chain(db.book, 3), chain(db.other_book, 2)
    with write(conn, db.book, db.other_book):
        insert_events(conn, [ours[0], theirs[0], ours[1], theirs[1], ours[2]])
    assert trail(conn, db.book) == as_rows(ours)
    assert trail(conn, db.other_book) == as_rows(theirs)
    # Both locks are needed.
    more = chain(db.book, 1, after=ours[-1]) + chain(db.other_book, 1, after=theirs[-1])
    with refused("AM016"):
        with write(conn, db.book):
            insert_events(conn, more)


def broken_chains(book: int, good: list[Event]) -> dict[str, list[Event]]:
    """Ways to continue the chain `good` (two events) that must be refused, each as the rows of one insert."""
    last = good[-1]
    seq, at, previous = last[1], last[2], last[8]
    right = chain(book, 2, after=last)
    fields = dict(actor="ops", request="R-9", what="approved", details="fine")
    return {
        "wrong hash": [right[0][:8] + (hashlib.sha256(b"something else").digest(),)],
        "hash of other fields": [right[0][:6] + ("edited",) + right[0][7:]],
        "wrong previous": [event(book, seq + 1, at + 1, good[0][8], **fields)],
        "zero previous": [event(book, seq + 1, at + 1, ZERO, **fields)],
        "gap in seq": [event(book, seq + 2, at + 1, previous, **fields)],
        "time going backwards": [event(book, seq + 1, at - 1, previous, **fields)],
        "the second of two broken": [right[0], right[1][:8] + (ZERO,)],
        "the second of two before the first": [right[0], event(book, seq + 2, at, right[0][8], **fields)],
        "the second of two not linked": [right[0], event(book, seq + 2, at + 5_000_000, previous, **fields)],
        "two with a gap": [right[0], event(book, seq + 3, at + 5_000_000, right[0][8], **fields)],
    }


@ROLES
def test_a_broken_chain_is_refused(db: Db, role: str | None) -> None:
    with db.connect(role) as conn:
        good = chain(db.book, 2)
        with write(conn, db.book):
            insert_events(conn, good)
        for case, events in broken_chains(db.book, good).items():
            with refused("AM018"):
                with write(conn, db.book):
                    insert_events(conn, events)
            assert trail(conn, db.book) == as_rows(good), case
        # The very first event must link to 32 zero bytes.
        with refused("AM018"):
            with write(conn, db.other_book):
                insert_events(conn, [event(db.other_book, 1, NOON, good[0][8])])
        with refused("AM018"):  # and be seq 1
            with write(conn, db.other_book):
                insert_events(conn, [event(db.other_book, 2, NOON, ZERO)])
        # A seq taken already is the primary key's.
        with refused("23505"):
            with write(conn, db.book):
                insert_events(conn, [event(db.book, 2, NOON + 10_000_000, good[0][8])])
        assert trail(conn, db.other_book) == []
        assert trail(conn, db.book) == as_rows(good)


def test_the_refusal_says_what_is_wrong(db: Db, conn: psycopg.Connection) -> None:
    good = chain(db.book, 2)
    with write(conn, db.book):
        insert_events(conn, good)
    expected = {
        "wrong hash": "event 3 of book .*: its hash is not the sha256 of its canonical form",
        "wrong previous": "event 3 of book .* does not link to event 2",
        "gap in seq": "must use seq 3 to 3, not 4 to 4",
        "time going backwards": "event 3 of book .* is at .* before event 2",
    }
    for case, events in broken_chains(db.book, good).items():
        if case in expected:
            with pytest.raises(psycopg.Error, match=expected[case]):
                with write(conn, db.book):
                    insert_events(conn, events)


@ROLES
def test_audit_events_need_the_write_lock(db: Db, role: str | None) -> None:
    with db.connect(role) as conn:
        events = chain(db.book, 1)
        with refused("AM016"):  # no begin_write at all
            insert_events(conn, events)
        with refused("AM016"):  # begin_write of another book
            with write(conn, db.other_book):
                insert_events(conn, events)
        with refused("AM016"):
            with write(conn, db.other_book):
                copy_events(conn, events)
        # A book that does not exist (checked by the trigger, not by a per-row foreign key).
        with refused("AM017"):
            insert_events(conn, [event(db.other_book + 1000, 1, NOON, ZERO)])
        assert trail(conn, db.book) == []


AUDIT_MUTATIONS = [
    "UPDATE amends.audit_events SET details = 'edited'",
    "UPDATE amends.audit_events SET details = 'edited' WHERE seq = 2",
    "UPDATE amends.audit_events SET seq = seq + 100",
    "DELETE FROM amends.audit_events WHERE seq = 3",
    "DELETE FROM amends.audit_events",
    "TRUNCATE amends.audit_events",
]


@ROLES
def test_audit_events_never_change(db: Db, role: str | None) -> None:
    good = chain(db.book, 3)
    with db.connect() as owner:
        with write(owner, db.book):
            insert_events(owner, good)
    with db.connect(role) as conn:
        for statement in AUDIT_MUTATIONS:
            with refused(IMMUTABLE[role]):
                conn.execute(statement)
            with refused(IMMUTABLE[role]):  # the write lock grants nothing
                with write(conn, db.book):
                    conn.execute(statement)
            assert trail(conn, db.book) == as_rows(good), statement
        # Nor through a cascade from the books.
        with refused(IMMUTABLE[role]):
            conn.execute("TRUNCATE amends.books CASCADE")
        assert trail(conn, db.book) == as_rows(good)
    # The owner is refused even when no row matches: the table takes no changes at all.
    with db.connect() as owner, refused("AM015"):
        owner.execute("UPDATE amends.audit_events SET details = 'x' WHERE false")


def test_a_copy_of_10000_events_is_accepted(db: Db) -> None:
    events = chain(db.book, 10_000, step=17)
    with db.connect("amends_app") as conn:
        with write(conn, db.book):
            copy_events(conn, events[:4_000])
        with write(conn, db.book):  # a second COPY continues the chain
            copy_events(conn, events[4_000:])
        assert one(conn, "SELECT count(*), max(seq), max(at_micros) FROM amends.audit_events WHERE book_id = %s",
                   (db.book,)) == (10_000, 10_000, events[-1][2])
        assert trail(conn, db.book)[-1] == events[-1]
        # One bad event in the middle of a COPY refuses the whole COPY.
        more = chain(db.book, 5_000, after=events[-1])
        more[2_500] = more[2_500][:6] + ("tampered",) + more[2_500][7:]
        with refused("AM018"):
            with write(conn, db.book):
                copy_events(conn, more)
        assert one(conn, "SELECT count(*) FROM amends.audit_events")[0] == 10_000


# ------------------------------------------------------------------ requests


def insert_request(conn: psycopg.Connection, book: int, request_id: str, state: str = "draft", *,
                   version: int = 1, amount: Any = "50.00", currency: str = "USD", kind: str = "goodwill") -> None:
    conn.execute(
        "INSERT INTO amends.requests (book_id, request_id, kind, state, customer, requester, team, amount, currency,"
        " policy_version, changed_version, record, created_at)"
        " VALUES (%s, %s, %s, %s, 'cust-42', 'maria', 'support', %s, %s, 'v1', %s, %s, now())",
        (book, request_id, kind, state, Decimal(amount) if amount is not None else None, currency, version,
         request_record(request_id, amount, currency)))


def request_row(conn: psycopg.Connection, book: int, request_id: str) -> tuple[Any, ...]:
    return one(conn, "SELECT * FROM amends.requests WHERE book_id = %s AND request_id = %s", (book, request_id))


def move(conn: psycopg.Connection, book: int, request_id: str, state: str, version: int) -> None:
    """Moves a request; one moving to applied (or past it) first gets its entries posted, as the desk posts them."""
    changes: dict[str, Any] = {"moved": True}
    if state in ("applied", "reconciled"):
        found = conn.execute("SELECT state, amount, currency FROM amends.requests WHERE book_id = %s AND request_id = %s",
                             (book, request_id)).fetchone()
        if found is not None and found[0] not in ("applied", "reconciled") and found[1] is not None:
            changes["entries"] = post_for_request(conn, book, request_id, [found[1]], found[2])
    conn.execute("UPDATE amends.requests SET state = %s, changed_version = %s, record = (record::jsonb || %s::jsonb)::json"
                 " WHERE book_id = %s AND request_id = %s", (state, version, json.dumps(changes), book, request_id))


def new_request_in(conn: psycopg.Connection, book: int, request_id: str, state: str) -> None:
    """A request in state: created a draft (an insert can't start anywhere else), then moved there.

    Applied and reconciled are reached from approved, with their entries posted.
    """
    with write(conn, book) as version:
        insert_request(conn, book, request_id, version=version)
        if state != "draft":
            move(conn, book, request_id, "approved" if state in ("applied", "reconciled") else state, version)
        if state in ("applied", "reconciled"):
            move(conn, book, request_id, state, version)


def test_the_lifecycle_table_is_the_closure_of_the_steps(conn: psycopg.Connection) -> None:
    table = set(rows(conn, "SELECT from_state, to_state FROM amends.request_lifecycle"))
    assert table == {(s, t) for s in STATES for t in reachable(s)}
    single = set(rows(conn, "SELECT from_state, to_state FROM amends.request_lifecycle WHERE steps = 1"))
    assert single == {(s, t) for s, ts in STEPS.items() for t in ts}


@ROLES
def test_a_request_moves_along_the_lifecycle(db: Db, role: str | None) -> None:
    with db.connect(role) as conn:
        with write(conn, db.book) as v:
            insert_request(conn, db.book, "R-1", version=v)
        with write(conn, db.book) as v:
            move(conn, db.book, "R-1", "submitted", v)
        # Amending without moving (before approval starts: afterwards the
        # terms are frozen), and the same version twice in one write.
        with write(conn, db.book) as v:
            conn.execute("UPDATE amends.requests SET amount = 40, changed_version = %s,"
                         " record = (record::jsonb || '{\"v\": 2, \"amount\": {\"amount\": \"40\", \"currency\": \"USD\"}}')::json"
                         " WHERE book_id = %s AND request_id = 'R-1'", (v, db.book))
            conn.execute("UPDATE amends.requests SET amount = 45, changed_version = %s,"
                         " record = (record::jsonb || '{\"amount\": {\"amount\": \"45\", \"currency\": \"USD\"}}')::json"
                         " WHERE book_id = %s AND request_id = 'R-1'", (v, db.book))
        # Several steps in one transaction, one UPDATE each...
        with write(conn, db.book) as v:
            for state in ("validated", "pending_approval", "returned", "submitted"):
                move(conn, db.book, "R-1", state, v)
        # ...or one UPDATE covering them: submitted -> validated -> pending_approval -> approved.
        with write(conn, db.book) as v:
            conn.execute("UPDATE amends.requests SET state = 'approved', policy_version = 'v1', changed_version = %s"
                         " WHERE book_id = %s AND request_id = 'R-1'", (v, db.book))
        with write(conn, db.book) as v:
            move(conn, db.book, "R-1", "applied", v)
        with write(conn, db.book) as v:
            move(conn, db.book, "R-1", "reconciled", v)
        state, amount, policy, changed = one(
            conn, "SELECT state, amount, policy_version, changed_version FROM amends.requests"
                  " WHERE book_id = %s AND request_id = 'R-1'", (db.book,))
        assert (state, amount, policy) == ("reconciled", 45, "v1")
        assert changed == one(conn, "SELECT version FROM amends.books WHERE book_id = %s", (db.book,))[0]


def test_every_move_is_checked_against_the_lifecycle(db: Db, conn: psycopg.Connection) -> None:
    """From every state that is not final, to every other state: allowed exactly when reachable in steps."""
    n = 0
    for start in STATES:
        if start in FINAL:
            continue
        for target in STATES:
            if target == start:
                continue
            n += 1
            request_id = f"R-{start}-{target}"
            new_request_in(conn, db.book, request_id, start)
            if target in reachable(start):
                with write(conn, db.book) as v:
                    move(conn, db.book, request_id, target, v)
                assert request_row(conn, db.book, request_id)[3] == target
            else:
                with pytest.raises(psycopg.Error) as info:
                    with write(conn, db.book) as v:
                        move(conn, db.book, request_id, target, v)
                assert info.value.sqlstate == "AM019", f"{start} -> {target}: {info.value}"
                assert f"can't go from {start} to {target}" in str(info.value)
                assert request_row(conn, db.book, request_id)[3] == start
    assert n == 7 * 10


@ROLES
def test_illegal_transitions_are_refused(db: Db, role: str | None) -> None:
    with db.connect() as owner:
        new_request_in(owner, db.book, "R-approved", "approved")
        new_request_in(owner, db.book, "R-applied", "applied")
    with db.connect(role) as conn:
        for request_id, target in [("R-approved", "pending_approval"), ("R-approved", "declined"),
                                   ("R-approved", "draft"), ("R-applied", "cancelled"), ("R-applied", "approved")]:
            before = request_row(conn, db.book, request_id)
            with refused("AM019"):
                with write(conn, db.book) as v:
                    move(conn, db.book, request_id, target, v)
            assert request_row(conn, db.book, request_id) == before
        # The message says where it can go.
        with pytest.raises(psycopg.Error, match="from applied it can reach reconciled"):
            with write(conn, db.book) as v:
                move(conn, db.book, "R-applied", "cancelled", v)


@ROLES
def test_a_request_is_created_a_draft(db: Db, role: str | None) -> None:
    """Requests are created only in their initial state: every other state is reached by moves the database checks."""
    with db.connect(role) as conn:
        for state in sorted(set(STATES) - {"draft"}):
            with refused("AM019"):
                with write(conn, db.book) as v:
                    insert_request(conn, db.book, f"R-{state}", state, version=v)
        with write(conn, db.book) as v:
            insert_request(conn, db.book, "R-draft", version=v)
        assert one(conn, "SELECT request_id, state FROM amends.requests") == ("R-draft", "draft")


@ROLES
def test_final_requests_never_change(db: Db, role: str | None) -> None:
    with db.connect() as owner:
        for state in sorted(FINAL):
            new_request_in(owner, db.book, f"R-{state}", state)
    with db.connect(role) as conn:
        for state in sorted(FINAL):
            request_id = f"R-{state}"
            before = request_row(conn, db.book, request_id)
            for assignment in ["state = 'cancelled'", "state = 'submitted'", "record = '{}'", "amount = 1",
                               "changed_version = changed_version + 1", f"state = '{state}'"]:
                with refused("AM019"):
                    with write(conn, db.book):
                        conn.execute(f"UPDATE amends.requests SET {assignment} WHERE book_id = %s AND request_id = %s",
                                     (db.book, request_id))
                assert request_row(conn, db.book, request_id) == before, (state, assignment)


IDENTITY = ["request_id = 'R-other'", "kind = 'refund'", "requester = 'mallory'", "customer = 'cust-43'",
            "created_at = created_at - interval '1 day'", "book_id = {other}"]


@ROLES
def test_a_requests_identity_never_changes(db: Db, role: str | None) -> None:
    with db.connect() as owner:
        new_request_in(owner, db.book, "R-1", "submitted")
    with db.connect(role) as conn:
        before = request_row(conn, db.book, "R-1")
        for assignment in IDENTITY + (["team = 'sales'"] if role else []):
            # The owner is stopped by the trigger, amends_app has no UPDATE on these columns.
            with refused(IMMUTABLE[role]):
                with write(conn, db.book, db.other_book):
                    conn.execute(f"UPDATE amends.requests SET {assignment.format(other=db.other_book)}"
                                 " WHERE book_id = %s AND request_id = 'R-1'", (db.book,))
            assert request_row(conn, db.book, "R-1") == before, assignment
        for statement in ["DELETE FROM amends.requests", "TRUNCATE amends.requests CASCADE"]:
            with refused(IMMUTABLE[role]):
                with write(conn, db.book):
                    conn.execute(statement)
        # changed_version only grows.
        with refused("AM017"):
            with write(conn, db.book):
                conn.execute("UPDATE amends.requests SET changed_version = changed_version - 1"
                             " WHERE book_id = %s AND request_id = 'R-1'", (db.book,))
        # The policy named must be published in the book.
        with refused("23503"):
            with write(conn, db.book):
                conn.execute("UPDATE amends.requests SET policy_version = 'v9' WHERE book_id = %s", (db.book,))
        assert request_row(conn, db.book, "R-1") == before


@ROLES
def test_request_writes_need_the_write_lock(db: Db, role: str | None) -> None:
    with db.connect() as owner:
        new_request_in(owner, db.book, "R-1", "submitted")
    with db.connect(role) as conn:
        before = request_row(conn, db.book, "R-1")
        for locks in [(), (db.other_book,)]:
            with refused("AM016"):
                with write(conn, *locks):
                    insert_request(conn, db.book, "R-2")
            with refused("AM016"):
                with write(conn, *locks):
                    move(conn, db.book, "R-1", "validated", 99)
            with refused("AM016"):  # also a change that does not move it
                with write(conn, *locks):
                    conn.execute("UPDATE amends.requests SET record = '{}' WHERE book_id = %s", (db.book,))
        assert rows(conn, "SELECT * FROM amends.requests") == [before]


# ------------------------------------------------------------------ the outbox


def insert_messages(conn: psycopg.Connection, book: int, messages: Sequence[tuple[int, str, str]]) -> None:
    """(message_id, request_id, event) rows, in one INSERT statement."""
    conn.execute("INSERT INTO amends.outbox (book_id, message_id, request_id, event, customer, subject, body, created_at)"
                 " VALUES " + ", ".join(["(%s, %s, %s, %s, 'cust-42', 'Your request', 'Hello', now())"] * len(messages)),
                 [v for m in messages for v in (book, *m)])


def outbox(conn: psycopg.Connection, book: int) -> list[tuple[Any, ...]]:
    return rows(conn, "SELECT * FROM amends.outbox WHERE book_id = %s ORDER BY message_id", (book,))


@ROLES
def test_a_message_announces_the_state_its_request_is_in(db: Db, role: str | None) -> None:
    with db.connect() as owner:
        for state in ("approved", "applied", "declined", "reconciled", "pending_approval"):
            new_request_in(owner, db.book, f"R-{state}", state)
    with db.connect(role) as conn:
        for request_id, what in [("R-approved", "applied"), ("R-approved", "declined"), ("R-pending_approval", "declined"),
                                 ("R-applied", "declined"), ("R-declined", "applied")]:
            with refused("AM020"):
                with write(conn, db.book):
                    insert_messages(conn, db.book, [(1, request_id, what)])
        with write(conn, db.book):
            insert_messages(conn, db.book, [(1, "R-applied", "applied"), (2, "R-declined", "declined")])
        with write(conn, db.book):
            insert_messages(conn, db.book, [(3, "R-reconciled", "applied")])
        # Written with the move, in the same transaction, after it.
        with write(conn, db.book) as v:
            move(conn, db.book, "R-approved", "applied", v)
            insert_messages(conn, db.book, [(4, "R-approved", "applied")])
        with refused("AM020"):  # before the move, the request is not applied yet
            with write(conn, db.book) as v:
                insert_messages(conn, db.book, [(5, "R-pending_approval", "declined")])
                move(conn, db.book, "R-pending_approval", "declined", v)
        with refused("23503"):  # a request of the book
            with write(conn, db.book):
                insert_messages(conn, db.book, [(5, "R-nobody", "applied")])
        assert [m[1:4] for m in outbox(conn, db.book)] == [
            (1, "R-applied", "applied"), (2, "R-declined", "declined"), (3, "R-reconciled", "applied"),
            (4, "R-approved", "applied")]


@ROLES
def test_message_ids_are_dense(db: Db, role: str | None) -> None:
    with db.connect() as owner:
        new_request_in(owner, db.book, "R-1", "declined")
    with db.connect(role) as conn:
        m = [(i, "R-1", "declined") for i in range(1, 6)]
        for bad in ([m[1]], [m[0], m[2]], [m[0], m[1], m[3]]):
            with refused("AM020"):
                with write(conn, db.book):
                    insert_messages(conn, db.book, bad)
        with write(conn, db.book):
            insert_messages(conn, db.book, m[:2])
        with refused("23505"):
            with write(conn, db.book):
                insert_messages(conn, db.book, [m[1]])
        with refused("AM020"):
            with write(conn, db.book):
                insert_messages(conn, db.book, [m[3]])
        with write(conn, db.book):
            insert_messages(conn, db.book, [m[2]])
            insert_messages(conn, db.book, m[3:])
        assert [r[1] for r in outbox(conn, db.book)] == [1, 2, 3, 4, 5]
        # Without the book's write lock, no message.
        with refused("AM016"):
            insert_messages(conn, db.book, [(6, "R-1", "declined")])


@ROLES
def test_a_message_is_marked_sent_once_and_never_changes_otherwise(db: Db, role: str | None) -> None:
    with db.connect() as owner:
        new_request_in(owner, db.book, "R-1", "declined")
        with write(owner, db.book):
            insert_messages(owner, db.book, [(1, "R-1", "declined"), (2, "R-1", "declined")])
    with db.connect(role) as conn:
        # No write lock needed: the integration that sends does not write the book.
        conn.execute("UPDATE amends.outbox SET sent_at = now() WHERE book_id = %s AND message_id = 1", (db.book,))
        sent = outbox(conn, db.book)
        assert sent[0][8] is not None and sent[1][8] is None
        for assignment in ["sent_at = now() + interval '1 hour'", "sent_at = NULL"]:
            with refused("AM020"):
                conn.execute(f"UPDATE amends.outbox SET {assignment} WHERE book_id = %s AND message_id = 1", (db.book,))
        # Unsent and left unsent: nothing changes, nothing to refuse.
        conn.execute("UPDATE amends.outbox SET sent_at = NULL WHERE book_id = %s AND message_id = 2", (db.book,))
        for assignment in ["subject = 'Changed'", "body = 'Changed'", "event = 'applied'", "customer = 'cust-43'",
                           "created_at = now()", "message_id = 7", "request_id = 'R-2'"]:
            with refused(IMMUTABLE[role]):
                conn.execute(f"UPDATE amends.outbox SET {assignment} WHERE book_id = %s", (db.book,))
        for statement in ["DELETE FROM amends.outbox", "DELETE FROM amends.outbox WHERE sent_at IS NOT NULL",
                          "TRUNCATE amends.outbox"]:
            with refused(IMMUTABLE[role]):
                conn.execute(statement)
        assert outbox(conn, db.book) == sent


# ------------------------------------------------------------------ policies, rates, charges

REFERENCE = {
    "policies": ("INSERT INTO amends.policies (book_id, version, body, published_at, published_by, authority)"
                 " VALUES ({book}, 'v2', 'x = 1', now(), 'ana', '" + authority("v2").replace("{", "{{").replace("}", "}}") + "')",
                 ["UPDATE amends.policies SET body = 'x = 2'", "UPDATE amends.policies SET version = 'v3'",
                  "DELETE FROM amends.policies WHERE version = 'v2'", "TRUNCATE amends.policies CASCADE"]),
    "fx_rates": ("INSERT INTO amends.fx_rates (book_id, currency, day, rate) VALUES ({book}, 'EUR', '2026-11-23', 1.05)",
                 ["UPDATE amends.fx_rates SET rate = 2", "DELETE FROM amends.fx_rates", "TRUNCATE amends.fx_rates"]),
    "charges": ("INSERT INTO amends.charges (book_id, charge_id, customer, amount, currency, day, refunded)"
                " VALUES ({book}, 'ch_1', 'cust-42', 99.00, 'USD', '2026-11-01', 10)",
                ["UPDATE amends.charges SET refunded = 20", "UPDATE amends.charges SET amount = 1",
                 "DELETE FROM amends.charges", "TRUNCATE amends.charges"]),
}


@ROLES
def test_policies_rates_and_charges_are_insert_only(db: Db, role: str | None) -> None:
    with db.connect(role) as conn:
        for table, (insert, mutations) in REFERENCE.items():
            conn.execute(insert.format(book=db.book))  # inserts need no write lock
            before = rows(conn, f"SELECT * FROM amends.{table} ORDER BY 1, 2")
            for statement in mutations:
                with refused(IMMUTABLE[role]):
                    conn.execute(statement)
                with refused(IMMUTABLE[role]):
                    with write(conn, db.book):
                        conn.execute(statement)
                assert rows(conn, f"SELECT * FROM amends.{table} ORDER BY 1, 2") == before, statement
        # The triggers hold for the owner also when no row matches.
    with db.connect() as owner:
        for table in REFERENCE:
            with refused("AM015"):
                owner.execute(f"DELETE FROM amends.{table} WHERE false")


@ROLES
def test_rates_and_charges_hold_their_checks(db: Db, role: str | None) -> None:
    with db.connect(role) as conn:
        rate = "INSERT INTO amends.fx_rates (book_id, currency, day, rate) VALUES "
        with refused("AM017"):  # the base currency of the book has no rate
            conn.execute(rate + "(%s, 'USD', '2026-11-23', 1)", (db.book,))
        with refused("AM017"):  # also among others in one insert
            conn.execute(rate + "(%s, 'GBP', '2026-11-23', 1.27), (%s, 'EUR', '2026-11-23', 1)",
                         (db.book, db.other_book))
        conn.execute(rate + "(%s, 'EUR', '2026-11-23', 1.05), (%s, 'USD', '2026-11-23', 0.95)", (db.book, db.other_book))
        for bad in ("0", "-1.05"):
            with refused("23514"):
                conn.execute(rate + "(%s, 'GBP', '2026-11-23', %s)", (db.book, Decimal(bad)))
        with refused("23503"):
            conn.execute(rate + "(%s, 'XXX', '2026-11-23', 1)", (db.book,))
        assert one(conn, "SELECT count(*) FROM amends.fx_rates")[0] == 2

        charge = ("INSERT INTO amends.charges (book_id, charge_id, customer, amount, currency, day, refunded)"
                  " VALUES (%s, %s, 'cust-42', %s, 'USD', '2026-11-01', %s)")
        for amount, refunded in [("0", "0"), ("-5", "0"), ("10", "10.01"), ("10", "-1")]:
            with refused("23514"):
                conn.execute(charge, (db.book, "ch_bad", Decimal(amount), Decimal(refunded)))
        conn.execute(charge, (db.book, "ch_1", Decimal("10"), Decimal("10")))
        with refused("23505"):
            conn.execute(charge, (db.book, "ch_1", Decimal("5"), Decimal("0")))
        assert rows(conn, "SELECT charge_id, amount, refunded FROM amends.charges") == [("ch_1", 10, 10)]


def test_the_lifecycle_is_fixed(db: Db, conn: psycopg.Connection) -> None:
    before = rows(conn, "SELECT * FROM amends.request_lifecycle ORDER BY 1, 2")
    for statement in ["INSERT INTO amends.request_lifecycle VALUES ('applied', 'draft', 1)",
                      "UPDATE amends.request_lifecycle SET to_state = 'draft'",
                      "DELETE FROM amends.request_lifecycle", "TRUNCATE amends.request_lifecycle"]:
        with refused("AM015"):
            conn.execute(statement)
    with db.connect("amends_app") as app:
        for statement in ["INSERT INTO amends.request_lifecycle VALUES ('applied', 'draft', 1)",
                          "DELETE FROM amends.request_lifecycle"]:
            with refused("42501"):
                app.execute(statement)
    assert rows(conn, "SELECT * FROM amends.request_lifecycle ORDER BY 1, 2") == before


# ------------------------------------------------------------------ the app role's privileges

DESK = ["policies", "fx_rates", "charges", "requests", "request_lifecycle", "audit_events", "audit_log", "outbox",
        "audit_heads"]
INSERTABLE = {"policies", "fx_rates", "charges", "requests", "audit_events", "outbox", "audit_heads"}
UPDATABLE = {
    # audit_seq, audit_hash: the request's anchor in the audit trail (005_audit_anchors.sql).
    "requests": {"state", "amount", "currency", "policy_version", "changed_version", "record", "audit_seq", "audit_hash"},
    "outbox": {"sent_at"},
    "audit_heads": {"seq", "hash"},
}


def test_the_app_role_has_exactly_its_privileges(conn: psycopg.Connection) -> None:
    for table in DESK:
        name = f"amends.{table}"
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
            has = one(conn, "SELECT has_table_privilege('amends_app', %s, %s)", (name, privilege))[0]
            expected = privilege == "SELECT" or (privilege == "INSERT" and table in INSERTABLE)
            assert has == expected, f"amends_app {privilege} on {name}"
        columns = {r[0] for r in rows(conn, "SELECT column_name FROM information_schema.columns"
                                            " WHERE table_schema = 'amends' AND table_name = %s", (table,))}
        updatable = {c for c in columns
                     if one(conn, "SELECT has_column_privilege('amends_app', %s, %s, 'UPDATE')", (name, c))[0]}
        assert updatable == UPDATABLE.get(table, set()), name
        # Nothing for PUBLIC.
        assert not one(conn, "SELECT has_table_privilege('public', %s, 'SELECT')", (name,))[0]
    # No function of the desk runs with the owner's rights; the app may call the hash functions only.
    functions = ["audit_canonical", "audit_hash", "refuse_desk_change", "fx_rates_inserted", "request_change",
                 "audit_events_inserted", "outbox_inserted", "outbox_change"]
    found = rows(conn, "SELECT p.proname, p.prosecdef, has_function_privilege('amends_app', p.oid, 'EXECUTE'),"
                       " has_function_privilege('public', p.oid, 'EXECUTE')"
                       " FROM pg_proc p WHERE p.pronamespace = 'amends'::regnamespace AND p.proname = ANY (%s)"
                       " ORDER BY 1", (functions,))
    assert found == sorted((f, False, f in ("audit_canonical", "audit_hash"), False) for f in functions)


def test_app_role_updates_are_refused_where_it_has_no_privilege(db: Db) -> None:
    """The statements amends_app may not run at all, whatever the rows: 42501 before any trigger."""
    statements = [
        "UPDATE amends.policies SET body = ''", "UPDATE amends.fx_rates SET rate = 1", "UPDATE amends.charges SET refunded = 0",
        "UPDATE amends.audit_events SET details = ''", "UPDATE amends.requests SET team = 'x'",
        "UPDATE amends.requests SET created_at = now()", "UPDATE amends.outbox SET body = ''",
        "DELETE FROM amends.requests", "DELETE FROM amends.outbox", "DELETE FROM amends.audit_events",
    ]
    with db.connect("amends_app") as conn:
        for statement in statements:
            with refused("42501"):
                conn.execute(statement + " WHERE false")
