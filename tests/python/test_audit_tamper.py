"""The audit trail against someone who can write SQL as the superuser: every way of rewriting it is reported.

A real book is built through amends.Desk in a database of its own (pg_migrated_dsn);
the tampering is done with psycopg as the superuser, switching the
immutability triggers off where they would stop the edit. Each case is then
checked twice: amends.verify_audit (ok false, naming the first bad event)
and `amends audit verify` (exit 1). The hashes recomputed here are written
independently of amends, from the canonical form of requests::canonical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pytest

import amends
from amends import cli

if TYPE_CHECKING:
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg", reason="the tamper tests need psycopg 3 (pip install 'psycopg[binary]>=3.1')")

POLICY = Path(__file__).resolve().parents[2] / "python" / "amends" / "data" / "sample_policy.toml"
UTC = dt.timezone.utc
KEY = "correct horse battery staple"
ZERO = bytes(32)


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def canonical(seq: int, at: int, actor: str, request: str, event: str, details: str, previous: bytes) -> bytes:
    """requests::canonical: a tag, then each field as <length in UTF-8 bytes>:<value>;"""
    out = b"amends-audit-v1;"
    for field in (str(seq), str(at), actor, request, event, details, previous.hex()):
        data = field.encode()
        out += str(len(data)).encode() + b":" + data + b";"
    return out


def event_hash(seq: int, at: int, actor: str, request: str, event: str, details: str, previous: bytes) -> bytes:
    return hashlib.sha256(canonical(seq, at, actor, request, event, details, previous)).digest()


class Trail:
    """A book with requests approved, applied, declined and one waiting for approval; tampering helpers."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.name = f"tamper_{uuid.uuid4().hex[:8]}"
        desk = amends.Desk(amends.open(dsn, self.name, simulation=True), clock=Clock(dt.datetime(2026, 11, 2, 9, tzinfo=UTC)))
        desk.publish_policy(str(POLICY), "policy-team")
        desk.allocate("support", "goodwill", "2026-11", "5000.00", on="2026-11-01")

        def goodwill(customer: str, amount: str) -> str:
            return desk.submit(kind="goodwill", customer=customer, tier="growth", amount=amount, requester="ana",
                               team="support", reason="outage", justification="long outage", evidence=["TCK-1"]).id

        self.applied = goodwill("C-1", "250.00")
        desk.approve(self.applied, "lena")
        desk.apply(self.applied, "billing-bot")
        self.approved = goodwill("C-2", "300.00")
        desk.approve(self.approved, "lena")
        self.declined = goodwill("C-3", "400.00")
        desk.decline(self.declined, "lena", "not this time")
        self.pending = goodwill("C-4", "350.00")
        assert desk.get(self.pending).state == "pending_approval"
        self.desk = desk
        with self.connect() as conn:
            self.book_id = conn.execute("SELECT book_id FROM amends.books WHERE name = %s", (self.name,)).fetchone()[0]

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True)

    def events(self, conn: psycopg.Connection) -> list[tuple[Any, ...]]:
        return conn.execute("SELECT seq, at_micros, actor, request_id, event, details, previous, hash"
                            " FROM amends.audit_events WHERE book_id = %s ORDER BY seq", (self.book_id,)).fetchall()

    def last_seq(self) -> int:
        with self.connect() as conn:
            return int(self.events(conn)[-1][0])

    def seq_of(self, request: str, event: str) -> int:
        with self.connect() as conn:
            return int(conn.execute("SELECT seq FROM amends.audit_events WHERE book_id = %s AND request_id = %s"
                                    " AND event = %s", (self.book_id, request, event)).fetchone()[0])

    def tamper(self, edit: Callable[[psycopg.Connection], None], tables: tuple[str, ...] = ("audit_events",)) -> None:
        """Runs edit(conn) as the superuser with the user triggers of `tables` switched off."""
        with self.connect() as conn, conn.transaction():
            for t in tables:
                conn.execute(f"ALTER TABLE amends.{t} DISABLE TRIGGER USER")
            edit(conn)
            for t in tables:
                conn.execute(f"ALTER TABLE amends.{t} ENABLE TRIGGER USER")

    def rehash_from(self, conn: psycopg.Connection, first: int) -> None:
        """Recomputes previous and hash of every event from seq `first` on, as a forger would."""
        previous = ZERO
        for seq, at, actor, request, event, details, _prev, old in self.events(conn):
            if seq >= first:
                new = event_hash(seq, at, actor, request, event, details, previous)
                conn.execute("UPDATE amends.audit_events SET previous = %s, hash = %s WHERE book_id = %s AND seq = %s",
                             (previous, new, self.book_id, seq))
                previous = new
            else:
                previous = bytes(old)

    def verify(self) -> dict[str, Any]:
        return amends.verify_audit(self.dsn, self.name)

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(["audit", *args, "--dsn", self.dsn, "--book", self.name])
        out = capsys.readouterr()
        return code, out.out, out.err


@pytest.fixture
def trail(pg_migrated_dsn: str) -> Trail:
    return Trail(pg_migrated_dsn)


def broken(trail: Trail, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What verify says, having checked that it and `amends audit verify` both report tampering."""
    result = trail.verify()
    assert result["ok"] is False, result
    assert result["first_bad"] is not None and result["problem"]
    code, out, _ = trail.cli(capsys, "verify")
    assert code == 1, out
    assert f"broken at event {result['first_bad']}" in out
    code, out, _ = trail.cli(capsys, "verify", "--json")
    report = json.loads(out)
    assert code == 1 and (report["ok"], report["first_bad"], report["problem"]) == (False, result["first_bad"], result["problem"])
    return result


def test_an_untouched_trail_verifies(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    result = trail.verify()
    n = trail.last_seq()
    assert (result["ok"], result["events"], result["first_bad"], result["problem"]) == (True, n, None, "")
    assert result["head"] == n
    # Every request is anchored at its last event.
    assert result["anchored"] == 4
    code, out, _ = trail.cli(capsys, "verify")
    assert code == 0 and out.endswith("hash chain intact\n"), out


def test_each_request_is_anchored_at_its_last_event(trail: Trail) -> None:
    with trail.connect() as conn:
        rows = conn.execute(
            "SELECT r.request_id, r.audit_seq, r.audit_hash = e.hash,"
            " (SELECT max(seq) FROM amends.audit_events x WHERE x.book_id = r.book_id AND x.request_id = r.request_id)"
            " FROM amends.requests r JOIN amends.audit_events e ON e.book_id = r.book_id AND e.seq = r.audit_seq"
            " WHERE r.book_id = %s ORDER BY 1", (trail.book_id,)).fetchall()
        head = conn.execute("SELECT seq, hash FROM amends.audit_heads WHERE book_id = %s", (trail.book_id,)).fetchone()
        last = trail.events(conn)[-1]
    assert len(rows) == 4
    assert all(seq == last_of_request and same for _, seq, same, last_of_request in rows)
    assert (head[0], bytes(head[1])) == (last[0], bytes(last[7]))


def test_edited_details(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    seq = trail.seq_of(trail.approved, "approved")
    trail.tamper(lambda c: c.execute("UPDATE amends.audit_events SET details = '{}' WHERE book_id = %s AND seq = %s",
                                     (trail.book_id, seq)))
    result = broken(trail, capsys)
    assert result["first_bad"] == seq and "hash does not match" in result["problem"]


def test_deleted_middle_event(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    seq = trail.seq_of(trail.declined, "declined")
    trail.tamper(lambda c: c.execute("DELETE FROM amends.audit_events WHERE book_id = %s AND seq = %s",
                                     (trail.book_id, seq)))
    result = broken(trail, capsys)
    # The event now in the deleted one's place carries the next sequence.
    assert result["first_bad"] == seq + 1 and "missing" in result["problem"]


def test_deleted_tail(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    n = trail.last_seq()
    trail.tamper(lambda c: c.execute("DELETE FROM amends.audit_events WHERE book_id = %s AND seq > %s",
                                     (trail.book_id, n - 3)))
    result = broken(trail, capsys)
    assert result["first_bad"] == n - 2
    assert f"event {n - 2}" in result["problem"] and "missing" in result["problem"]


def test_truncated(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    trail.tamper(lambda c: c.execute("TRUNCATE amends.audit_events"))
    result = broken(trail, capsys)
    assert (result["events"], result["first_bad"]) == (0, 1)
    assert "missing" in result["problem"]


def test_wiped(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    trail.tamper(lambda c: c.execute("DELETE FROM amends.audit_events WHERE book_id = %s", (trail.book_id,)))
    result = broken(trail, capsys)
    assert (result["events"], result["first_bad"]) == (0, 1)


def test_head_removed_too(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    n = trail.last_seq()

    def cut(conn: psycopg.Connection) -> None:
        conn.execute("DELETE FROM amends.audit_events WHERE book_id = %s AND seq > %s", (trail.book_id, n - 2))
        conn.execute("DELETE FROM amends.audit_heads WHERE book_id = %s", (trail.book_id,))

    trail.tamper(cut, ("audit_events", "audit_heads"))
    result = broken(trail, capsys)
    # The anchors still tell: the pending request's last events were cut.
    assert result["first_bad"] <= n - 1


def test_recomputed_hashes_after_an_edit(trail: Trail, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key, checkpoint = signed_checkpoint(trail, capsys, tmp_path)
    seq = trail.seq_of(trail.approved, "approved")

    def rewrite(conn: psycopg.Connection) -> None:
        conn.execute("UPDATE amends.audit_events SET details = '{}' WHERE book_id = %s AND seq = %s", (trail.book_id, seq))
        trail.rehash_from(conn, seq)

    trail.tamper(rewrite)
    # The chain alone verifies again; the anchors and the head do not.
    result = broken(trail, capsys)
    assert result["first_bad"] >= seq
    code, out, _ = trail.cli(capsys, "verify", "--checkpoint", str(checkpoint), "--key-file", str(key))
    assert code == 1, out


def test_recomputed_hashes_anchors_and_head_are_caught_by_a_checkpoint(trail: Trail, capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    key, checkpoint = signed_checkpoint(trail, capsys, tmp_path)
    n = trail.last_seq()
    seq = trail.seq_of(trail.approved, "approved")

    def rewrite_everything(conn: psycopg.Connection) -> None:
        conn.execute("UPDATE amends.audit_events SET details = '{}' WHERE book_id = %s AND seq = %s", (trail.book_id, seq))
        trail.rehash_from(conn, seq)
        conn.execute("UPDATE amends.requests r SET audit_hash = e.hash FROM amends.audit_events e"
                     " WHERE e.book_id = r.book_id AND e.seq = r.audit_seq AND r.book_id = %s", (trail.book_id,))
        conn.execute("UPDATE amends.audit_heads h SET hash = e.hash FROM amends.audit_events e"
                     " WHERE e.book_id = h.book_id AND e.seq = h.seq AND h.book_id = %s", (trail.book_id,))

    trail.tamper(rewrite_everything, ("audit_events", "requests", "audit_heads"))
    # Without a copy of a hash kept elsewhere, a full rewrite is consistent again.
    assert trail.verify()["ok"] is True
    code, out, _ = trail.cli(capsys, "verify", "--checkpoint", str(checkpoint), "--key-file", str(key))
    assert code == 1, out
    assert f"broken at event {n}" in out and "checkpoint" in out
    code, out, _ = trail.cli(capsys, "verify", "--checkpoint", str(checkpoint), "--key-file", str(key), "--json")
    report = json.loads(out)
    assert (code, report["ok"], report["first_bad"], report["checkpoint"]) == (1, False, n, n)


def test_forged_approval_appended(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    n = trail.last_seq()
    trail.tamper(lambda c: forge_approval(trail, c))
    result = broken(trail, capsys)
    assert result["first_bad"] == n + 1


def test_forged_approval_appended_with_the_head_moved(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    n = trail.last_seq()

    def forge(conn: psycopg.Connection) -> None:
        forged = forge_approval(trail, conn)
        conn.execute("UPDATE amends.audit_heads SET seq = %s, hash = %s WHERE book_id = %s", (n + 1, forged, trail.book_id))

    trail.tamper(forge, ("audit_events", "audit_heads"))
    result = broken(trail, capsys)
    # The pending request's anchor is not its last event any more.
    assert result["first_bad"] == n + 1 and trail.pending in result["problem"]


def test_removed_approval(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    seq = trail.seq_of(trail.approved, "approved")
    trail.tamper(lambda c: c.execute("DELETE FROM amends.audit_events WHERE book_id = %s AND seq = %s",
                                     (trail.book_id, seq)))
    result = broken(trail, capsys)
    assert result["first_bad"] == seq + 1


def test_removed_approval_and_renumbered(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    """The approval deleted, the later events moved up one and rehashed: the chain holds, the anchors do not."""
    seq = trail.seq_of(trail.approved, "approved")

    def remove(conn: psycopg.Connection) -> None:
        conn.execute("DELETE FROM amends.audit_events WHERE book_id = %s AND seq = %s", (trail.book_id, seq))
        conn.execute("UPDATE amends.audit_events SET seq = seq + 1000000 WHERE book_id = %s AND seq > %s",
                     (trail.book_id, seq))
        conn.execute("UPDATE amends.audit_events SET seq = seq - 1000001 WHERE book_id = %s AND seq > 1000000",
                     (trail.book_id,))
        trail.rehash_from(conn, seq)

    trail.tamper(remove)
    assert amends.Desk(amends.open(trail.dsn, trail.name, create=False)).verify_audit()["ok"] is False
    result = broken(trail, capsys)
    assert result["first_bad"] >= seq


def forge_approval(trail: Trail, conn: psycopg.Connection) -> bytes:
    """Appends a correctly hashed "approved" event of the pending request; returns its hash."""
    seq, at, *_rest, last = trail.events(conn)[-1]
    fields = (seq + 1, at + 1, "lena", trail.pending, "approved", '{"comment":"ok"}', bytes(last))
    forged = event_hash(*fields)
    # The trail's book is a simulation (its events carry the names and times given), and its events say so.
    conn.execute("INSERT INTO amends.audit_events (book_id, seq, at_micros, actor, request_id, event, details, previous, hash,"
                 " simulated) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, true)", (trail.book_id, *fields, forged))
    return forged


# ------------------------------------------------------------------ checkpoints


def signed_checkpoint(trail: Trail, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "audit.key"
    key.write_text(KEY + "\n")
    out = tmp_path / "checkpoint.json"
    code, printed, err = trail.cli(capsys, "checkpoint", "--key-file", str(key), "--out", str(out))
    assert code == 0, err
    document = json.loads(out.read_text())
    n = trail.last_seq()
    assert (document["book"], document["seq"]) == (trail.name, n)
    with trail.connect() as conn:
        assert document["hash"] == bytes(trail.events(conn)[-1][7]).hex()
    return key, out


def test_a_checkpoint_verifies_while_the_trail_grows(trail: Trail, capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, checkpoint = signed_checkpoint(trail, capsys, tmp_path)
    n = trail.last_seq()
    trail.desk.approve(trail.pending, "lena")
    assert trail.last_seq() > n
    code, out, _ = trail.cli(capsys, "verify", "--checkpoint", str(checkpoint), "--key-file", str(key))
    assert code == 0, out
    assert f"checkpoint at event {n} holds" in out
    # The key may come from $AMENDS_AUDIT_KEY instead of a file.
    monkeypatch.setenv("AMENDS_AUDIT_KEY", KEY)
    code, out, _ = trail.cli(capsys, "verify", "--checkpoint", str(checkpoint), "--json")
    assert code == 0 and json.loads(out)["checkpoint"] == n


def test_a_checkpoint_with_a_wrong_signature_is_refused(trail: Trail, capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    key, checkpoint = signed_checkpoint(trail, capsys, tmp_path)
    other = tmp_path / "other.key"
    other.write_text("another key")
    code, _, err = trail.cli(capsys, "verify", "--checkpoint", str(checkpoint), "--key-file", str(other))
    assert code == 2 and "the checkpoint's signature does not verify" in err
    # A checkpoint moved to another event, signed with the right key, is refused too.
    document = json.loads(checkpoint.read_text())
    document["seq"] -= 1
    checkpoint.write_text(json.dumps(document))
    code, _, err = trail.cli(capsys, "verify", "--checkpoint", str(checkpoint), "--key-file", str(key))
    assert code == 2 and "the checkpoint's signature does not verify" in err


def test_checkpoint_inputs_are_checked(trail: Trail, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMENDS_AUDIT_KEY", raising=False)
    code, _, err = trail.cli(capsys, "checkpoint")
    assert code == 2 and "--key-file" in err and "AMENDS_AUDIT_KEY" in err
    empty = tmp_path / "empty.key"
    empty.write_text("\n")
    code, _, err = trail.cli(capsys, "checkpoint", "--key-file", str(empty))
    assert code == 2 and "empty" in err
    key, checkpoint = signed_checkpoint(trail, capsys, tmp_path)
    code, _, err = trail.cli(capsys, "verify", "--checkpoint", str(checkpoint))
    assert code == 2 and "key" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"book": "x"}')
    code, _, err = trail.cli(capsys, "verify", "--checkpoint", str(bad), "--key-file", str(key))
    assert code == 2 and "seq" in err


# ------------------------------------------------------------------ what the database refuses


def test_the_database_keeps_heads_and_anchors_to_the_trail(trail: Trail) -> None:
    """With the triggers on, not even the superuser sets a head or an anchor that the trail does not bear out."""
    n = trail.last_seq()
    declined_last = trail.seq_of(trail.declined, "declined")
    statements = [
        ("AM018", "UPDATE amends.audit_heads SET seq = seq - 1 WHERE book_id = %s", (trail.book_id,)),
        ("AM018", "UPDATE amends.audit_heads SET hash = %s WHERE book_id = %s", (ZERO, trail.book_id)),
        ("AM015", "DELETE FROM amends.audit_heads WHERE book_id = %s", (trail.book_id,)),
        # An event of another request, and the pending request's anchor moved back or cleared.
        ("AM018", "UPDATE amends.requests r SET audit_seq = e.seq, audit_hash = e.hash FROM amends.audit_events e"
                  " WHERE r.book_id = %s AND r.request_id = %s AND e.book_id = r.book_id AND e.seq = %s",
         (trail.book_id, trail.pending, declined_last)),
        ("AM018", "UPDATE amends.requests SET audit_seq = NULL, audit_hash = NULL WHERE book_id = %s AND request_id = %s",
         (trail.book_id, trail.pending)),
    ]
    with trail.connect() as conn:
        before = (conn.execute("SELECT seq, hash FROM amends.audit_heads WHERE book_id = %s", (trail.book_id,)).fetchone(),
                  conn.execute("SELECT request_id, audit_seq, audit_hash FROM amends.requests WHERE book_id = %s"
                               " ORDER BY 1", (trail.book_id,)).fetchall())
        for code, statement, params in statements:
            with pytest.raises(psycopg.Error) as info, conn.transaction():
                conn.execute("SELECT amends.begin_write(%s, 'tamper')", (trail.book_id,))
                conn.execute(statement, params)
            assert info.value.sqlstate == code, statement
        with pytest.raises(psycopg.Error) as info:
            conn.execute("TRUNCATE amends.audit_heads")
        assert info.value.sqlstate == "AM015"
        after = (conn.execute("SELECT seq, hash FROM amends.audit_heads WHERE book_id = %s", (trail.book_id,)).fetchone(),
                 conn.execute("SELECT request_id, audit_seq, audit_hash FROM amends.requests WHERE book_id = %s"
                              " ORDER BY 1", (trail.book_id,)).fetchall())
    assert after == before and before[0][0] == n
    assert trail.verify()["ok"] is True


def test_an_event_appended_through_the_write_lock_moves_the_head_and_is_caught_by_the_anchor(
        trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    """The owner's way in, triggers on: the chain checks pass and the head follows, but the request did not move."""
    n = trail.last_seq()
    with trail.connect() as conn, conn.transaction():
        conn.execute("SELECT amends.begin_write(%s, 'forge')", (trail.book_id,))
        forge_approval(trail, conn)
        assert conn.execute("SELECT seq FROM amends.audit_heads WHERE book_id = %s", (trail.book_id,)).fetchone()[0] == n + 1
    result = broken(trail, capsys)
    assert (result["first_bad"], result["kind"], result["head"]) == (n + 1, "anchor", n + 1)
    assert trail.pending in result["problem"] and "added outside amends" in result["problem"]
