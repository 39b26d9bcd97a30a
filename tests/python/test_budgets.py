"""Budgets as a book: allocate, reserve on approval, consume on apply, release on decline; hard budgets hold."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

import amends
from amends.budgets import BudgetExceeded, Budgets

DAY = "2026-11-10"


@pytest.fixture
def budgets(empty_book: amends.Ledger) -> Budgets:
    b = Budgets(empty_book)
    b.allocate("cs-emea", "goodwill", "2026-11", "1000.00", on="2026-11-01", key="alloc-1")
    return b


def test_reserve_consume_and_release_move_the_utilisation(budgets: Budgets):
    first = budgets.reserve("cs-emea", "goodwill", "2026-11", "120.00", "R-1", on=DAY)
    second = budgets.reserve("cs-emea", "goodwill", "2026-11", "80.00", "R-2", on=DAY)
    budgets.consume(first, on="2026-11-11")
    budgets.release(second, "declined", on="2026-11-12")

    u = budgets.utilisation("cs-emea", "goodwill", "2026-11")
    assert (u.allocated, u.reserved, u.consumed, u.available) == (
        Decimal("1000.00"), Decimal("0.00"), Decimal("120.00"), Decimal("880.00"))
    assert u.hard and u.currency == "USD"


def test_approving_twice_reserves_once(budgets: Budgets):
    first = budgets.reserve("cs-emea", "goodwill", "2026-11", "50.00", "R-7", on=DAY)
    again = budgets.reserve("cs-emea", "goodwill", "2026-11", "50.00", "R-7", on=DAY)

    assert first == again
    assert budgets.utilisation("cs-emea", "goodwill", "2026-11").reserved == Decimal("50.00")


def test_a_hard_budget_is_never_overspent_and_says_what_is_left(budgets: Budgets):
    budgets.reserve("cs-emea", "goodwill", "2026-11", "900.00", "R-1", on=DAY)

    with pytest.raises(BudgetExceeded, match="has 100.00 USD left; R-2 needs 100.01 USD"):
        budgets.reserve("cs-emea", "goodwill", "2026-11", "100.01", "R-2", on=DAY)
    assert isinstance(BudgetExceeded("x"), amends.BalanceLimitExceeded)
    budgets.reserve("cs-emea", "goodwill", "2026-11", "100.00", "R-3", on=DAY)
    assert budgets.utilisation("cs-emea", "goodwill", "2026-11").available == Decimal("0.00")


def test_a_soft_budget_takes_more_and_shows_it(empty_book: amends.Ledger):
    b = Budgets(empty_book)
    b.allocate("retention", "retention_offer", "2026-Q4", "500.00", hard=False, on="2026-10-01")
    b.reserve("retention", "retention_offer", "2026-Q4", "600.00", "R-9", on=DAY)

    u = b.utilisation("retention", "retention_offer", "2026-Q4")
    assert not u.hard and u.available == Decimal("-100.00")
    assert [x.owner for x in b.all()] == ["retention"]


def test_bad_names_and_missing_budgets_are_clear_errors(budgets: Budgets):
    with pytest.raises(amends.InvalidArgument, match="without ':'"):
        budgets.allocate("cs:emea", "goodwill", "2026-11", "1.00")
    with pytest.raises(amends.UnknownAccount, match="allocate one first"):
        budgets.reserve("cs-apac", "goodwill", "2026-11", "1.00", "R-1")
    with pytest.raises(TypeError):
        budgets.reserve("cs-emea", "goodwill", "2026-11", 1.5, "R-1")


def _approver(dsn: str, book: str, worker: int, out: str) -> None:
    try:
        budgets = Budgets(amends.open(dsn, book, simulation=True))
        won = 0
        for n in range(10):
            try:
                budgets.reserve("cs-emea", "goodwill", "2026-11", "25.00", f"R-{worker}-{n}", on=DAY)
                won += 1
            except BudgetExceeded:
                pass
        Path(out).write_text(str(won))
    except Exception as error:  # noqa: BLE001 - reported by the test
        Path(out).write_text(f"{type(error).__name__}: {error}")
        raise


def test_a_hard_budget_holds_when_approvers_act_at_once_from_several_processes(pg_books_dsn: str, tmp_path: Path):
    name = f"budgets_{uuid.uuid4().hex[:8]}"
    Budgets(amends.open(pg_books_dsn, name, simulation=True)).allocate("cs-emea", "goodwill", "2026-11", "1000.00", on="2026-11-01")
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"w{i}" for i in range(6)]
    workers = [context.Process(target=_approver, args=(pg_books_dsn, name, i, str(out))) for i, out in enumerate(outs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(300)
    results = [out.read_text() if out.exists() else "no result" for out in outs]
    assert all(w.exitcode == 0 for w in workers), results

    won = sum(int(result) for result in results)
    u = Budgets(amends.open(pg_books_dsn, name, simulation=True)).utilisation("cs-emea", "goodwill", "2026-11")
    assert won == 40  # 60 attempts of 25.00 against 1,000.00: exactly 40 fit
    assert (u.reserved, u.available) == (Decimal("1000.00"), Decimal("0.00"))
