"""Reconciliation runs on a desk, in memory and in PostgreSQL: recorded once, requests reconciled, corrections proposed.

The database's own checks on the run tables (written under the book's
write lock, never changed, one run per inputs checksum, corrections decided
once) are tested with raw SQL at the end.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import amends
from amends.billing import BillingBatch

if TYPE_CHECKING:
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg")

POLICY = Path(amends.__file__).parent / "data" / "sample_policy.toml"
UTC = dt.timezone.utc


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 10, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


def credit(k: int, customer: str, minor: int, reference: str = "", status: str = "ok", day: int = 2,
           object: str = "credit_note", id: str | None = None) -> dict[str, object]:
    return {"source": "stripe", "file": "export.json", "line": k, "id": id or f"cn_{k}", "object": object,
            "customer": customer, "currency": "USD", "amount_minor": minor, "date": dt.date(2026, 10, day),
            "status": status, "raw_status": {"ok": "issued", "void": "void", "failed": "failed"}[status],
            "reference": reference, "parent": ""}


@pytest.fixture
def applied(empty_book: amends.Ledger) -> tuple[amends.Desk, list[str]]:
    """A desk with five goodwill credits applied in October 2026: 50.00, 51.00, 52.00, 53.00, 54.00 USD to C0..C4."""
    desk = amends.Desk(empty_book, policy=POLICY, clock=Clock())
    desk.allocate("support", "goodwill", "2026-10", "5000.00", on="2026-10-01")
    ids = []
    for i in range(5):
        r = desk.submit(kind="goodwill", customer=f"C{i}", tier="growth", amount=f"{50 + i}.00", requester="ana",
                        team="support")
        ids.append(desk.apply(r.id, "billing-bot").id)
    return desk, ids


def reread(desk: amends.Desk) -> amends.Desk:
    if isinstance(desk.book, amends.Book):
        return amends.Desk(amends.open(desk.book.dsn, desk.book.name, simulation=True))
    return desk


def test_a_run_finds_the_discrepancies_and_reconciles_what_matched(applied: tuple[amends.Desk, list[str]]) -> None:
    desk, ids = applied
    batch = BillingBatch.from_rows([
        credit(1, "C0", 5000, ids[0]),                       # by reference
        credit(2, "C1", 5100),                               # by customer, amount and date
        credit(3, "C2", 5300, ids[2]),                       # 53.00 against 52.00: mismatch
        credit(4, "C3", 5300, ids[3], status="void"),        # voided in billing
        credit(5, "C9", 1234),                               # nobody authorised it
        credit(6, "C0", 5000, ids[0], id="cn_1"),            # the same credit note exported twice, whole
    ])                                                       # and C4's 54.00 is missing in billing
    result = desk.reconcile(batch, "2026-10", actor="nightly")

    outcomes = dict(zip(result.ledger["id"], result.ledger["outcome"]))
    assert outcomes == {ids[0]: "matched", ids[1]: "matched", ids[2]: "amount_mismatch", ids[3]: "status_problem",
                        ids[4]: "missing_in_billing"}
    billing = dict(zip(result.billing["line"], result.billing["outcome"]))
    assert billing == {1: "matched", 2: "matched", 3: "amount_mismatch", 4: "status_problem", 5: "missing_in_ledger",
                       6: "identical_duplicate"}
    assert int(result.ledger.loc[result.ledger["id"] == ids[2], "difference_minor"].iloc[0]) == 100
    assert not result.ok and result.summary()["exceptions"] == 7
    assert sorted(result.corrections["action"]) == sorted(
        ["apply_in_billing", "investigate_unauthorised", "reissue_or_reverse", "check_repeated_id", "adjust"])
    again = reread(desk)
    states = {r.id: r.state for r in again.requests()}
    assert states == {ids[0]: "reconciled", ids[1]: "reconciled", ids[2]: "applied", ids[3]: "applied", ids[4]: "applied"}
    [run] = again.reconciliation_runs()
    assert run["id"] == result.run_id == 1 and run["exceptions"] == 7 and run["source"] == "stripe"
    assert again.verify_audit()["ok"]


def test_the_same_inputs_again_give_the_same_run(applied: tuple[amends.Desk, list[str]]) -> None:
    desk, ids = applied
    batch = BillingBatch.from_rows([credit(k + 1, f"C{k}", 5000 + 100 * k, ids[k]) for k in range(5)])
    first = desk.reconcile(batch, "2026-10")
    assert first.ok and first.run_id == 1
    events = len(desk.audit_events())
    second = reread(desk).reconcile(batch, "2026-10")
    assert second.run_id == 1 and second.inputs_sha256 == first.inputs_sha256
    assert second.ledger["outcome"].tolist() == first.ledger["outcome"].tolist()
    assert len(reread(desk).reconciliation_runs()) == 1 and len(reread(desk).audit_events()) == events
    # Other parameters are other inputs: a new run.
    assert desk.reconcile(batch, "2026-10", days=5).run_id == 2


def test_billing_outside_the_period_is_left_out(applied: tuple[amends.Desk, list[str]]) -> None:
    desk, ids = applied
    batch = BillingBatch.from_rows([credit(1, "C0", 5000, ids[0]),
                                    {**credit(2, "C8", 999), "date": dt.date(2026, 11, 1)}])
    result = desk.reconcile(batch, "2026-10")
    assert len(result.billing) == 1 and "C8" not in set(result.billing["customer"])


def test_a_conflicting_billing_id_is_recorded_with_both_rows(applied: tuple[amends.Desk, list[str]]) -> None:
    desk, ids = applied
    batch = BillingBatch.from_rows([credit(1, "C0", 999999, ids[0], id="cn_1"), credit(2, "C0", 5000, ids[0], id="cn_1")]
                                   + [credit(k + 1, f"C{k}", 5000 + 100 * k, ids[k]) for k in range(2, 5)])
    result = desk.reconcile(batch, "2026-10")
    assert dict(zip(result.ledger["id"], result.ledger["outcome"])) == {
        ids[0]: "conflicting_duplicate", ids[1]: "missing_in_billing", ids[2]: "matched", ids[3]: "matched",
        ids[4]: "matched"}
    assert result.summary()["exceptions"] == 4
    [run] = reread(desk).reconciliation_runs()
    assert run["exceptions"] == 4
    if isinstance(desk.book, amends.Book):
        with psycopg.connect(desk.book.dsn) as conn:
            items = conn.execute("SELECT side, item_id, amount_minor FROM amends.reconciliation_items i JOIN amends.books b"
                                 " USING (book_id) WHERE b.name = %s AND outcome = 'conflicting_duplicate'"
                                 " ORDER BY side, position", (desk.book.name,)).fetchall()
        assert items == [("billing", "cn_1", 999999), ("billing", "cn_1", 5000), ("ledger", ids[0], 5000)]
        with psycopg.connect(desk.book.dsn) as conn:
            actions = conn.execute("SELECT action, amount_minor FROM amends.reconciliation_corrections c"
                                   " JOIN amends.books b USING (book_id) WHERE b.name = %s AND billing_id = 'cn_1'"
                                   " ORDER BY correction_id", (desk.book.name,)).fetchall()
        assert sorted(actions) == [("resolve_conflicting_id", 5000), ("resolve_conflicting_id", 999999)]


def test_an_empty_billing_batch_is_refused_unless_allowed(applied: tuple[amends.Desk, list[str]]) -> None:
    desk, ids = applied
    with pytest.raises(amends.InvalidArgument, match="the billing side has no items"):
        desk.reconcile(BillingBatch.from_rows([]), "2026-10")
    # Rows, but none in the period: as empty, and the message says so.
    november = BillingBatch.from_rows([{**credit(1, "C0", 5000, ids[0]), "date": dt.date(2026, 11, 1)}])
    with pytest.raises(amends.InvalidArgument, match=r"the billing export export\.json within 2026-10-01 to 2026-10-31 \(its 1 item is "
                                                      r"dated outside\) has no items"):
        desk.reconcile(november, "2026-10")
    assert reread(desk).reconciliation_runs() == []
    result = desk.reconcile(BillingBatch.from_rows([]), "2026-10", allow_empty=True)
    assert set(result.ledger["outcome"]) == {"missing_in_billing"} and result.run_id == 1


# ------------------------------------------------------------------ the database's checks


def test_runs_are_written_under_the_write_lock_and_never_change(pg_migrated_dsn: str) -> None:
    desk = amends.Desk(amends.open(pg_migrated_dsn, f"runs_{uuid.uuid4().hex[:8]}", simulation=True), policy=POLICY, clock=Clock())
    desk.allocate("support", "goodwill", "2026-10", "100.00", on="2026-10-01")
    r = desk.apply(desk.submit(kind="goodwill", customer="C0", tier="growth", amount="20.00", requester="ana",
                               team="support").id, "bot")
    desk.reconcile(BillingBatch.from_rows([credit(1, "C9", 700)]), "2026-10")
    book = desk.book.book_id
    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        def refused(statement: str, params: tuple[object, ...], sqlstate: str) -> None:
            with pytest.raises(psycopg.Error) as error:
                conn.execute(statement, params)
            assert error.value.sqlstate == sqlstate, str(error.value)

        refused("UPDATE amends.reconciliation_runs SET exceptions = 0 WHERE book_id = %s", (book,), "AM015")
        refused("DELETE FROM amends.reconciliation_items WHERE book_id = %s", (book,), "AM015")
        refused("INSERT INTO amends.reconciliation_runs (book_id, run_id, source, period_first, period_last, parameters,"
                " inputs_sha256, summary, exceptions, created_at, created_by) VALUES (%s, 2, 'x', '2026-10-01',"
                " '2026-10-31', '{}', repeat('a', 64), '{}', 0, now(), 'me')", (book,), "AM016")
        with conn.transaction():
            conn.execute("SELECT amends.begin_write(%s, 'test', NULL)", (book,))
            with pytest.raises(psycopg.Error) as error:
                conn.execute("INSERT INTO amends.reconciliation_runs (book_id, run_id, source, period_first, period_last,"
                             " parameters, inputs_sha256, summary, exceptions, created_at, created_by) SELECT book_id, 2,"
                             " source, period_first, period_last, parameters, inputs_sha256, summary, 0, now(), 'me'"
                             " FROM amends.reconciliation_runs WHERE book_id = %s", (book,))
            assert error.value.sqlstate == "23505"  # one run per inputs checksum
        actions = conn.execute("SELECT correction_id, action FROM amends.reconciliation_corrections WHERE book_id = %s"
                               " ORDER BY correction_id", (book,)).fetchall()
        assert actions == [(1, "apply_in_billing"), (2, "investigate_unauthorised")]
        conn.execute("UPDATE amends.reconciliation_corrections SET status = 'rejected', decided_by = 'controller',"
                     " decided_at = now() WHERE book_id = %s AND correction_id = 2", (book,))
        refused("UPDATE amends.reconciliation_corrections SET status = 'approved', decided_by = 'cfo', decided_at = now()"
                " WHERE book_id = %s AND correction_id = 2", (book,), "AM015")
        refused("UPDATE amends.reconciliation_corrections SET reason = 'x' WHERE book_id = %s AND correction_id = 1",
                (book,), "AM015")
    assert amends.Desk(amends.open(pg_migrated_dsn, desk.book.name, simulation=True)).get(r.id).state == "applied"
