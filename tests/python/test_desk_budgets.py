"""The desk's budgets (the core's): soft budgets, budget names, amounts; and what a Request and a Utilisation are."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

import amends

POLICY = Path(amends.__file__).parent / "data" / "sample_policy.toml"
CLOCK = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def desk(empty_book: amends.Ledger) -> amends.Desk:
    return amends.Desk(empty_book, policy=POLICY, clock=lambda: CLOCK)


def test_a_soft_budget_takes_more_and_shows_it(desk: amends.Desk) -> None:
    desk.allocate("support", "goodwill", "2026-11", "50.00", hard=False, on="2026-11-01")
    r = desk.submit(kind="goodwill", customer="C-1", tier="growth", amount="80.00", requester="ana", team="support",
                    reason="outage-apology")
    assert r.state in ("approved", "pending_approval")

    [u] = desk.budgets()
    assert (u.owner, u.kind, u.period, u.currency, u.hard) == ("support", "goodwill", "2026-11", "USD", False)
    if r.state == "approved":
        assert (u.allocated, u.reserved, u.available) == (D("50.00"), D("80.00"), D("-30.00"))
    assert u == desk.utilisation("support", "goodwill", "2026-11")


def test_budget_names_and_amounts_are_checked(desk: amends.Desk) -> None:
    with pytest.raises(TypeError):
        desk.allocate("support", "goodwill", "2026-11", 1.5, on="2026-11-01")  # type: ignore[arg-type]
    with pytest.raises(amends.InvalidArgument):
        desk.allocate("support", "no_such_kind", "2026-11", "1.00", on="2026-11-01")
    assert desk.budgets() == []


def test_a_request_is_the_cores_value_class_with_python_values(desk: amends.Desk) -> None:
    desk.allocate("support", "goodwill", "2026-11", "1000.00", on="2026-11-01")
    r = desk.submit(kind="goodwill", customer="C-2", tier="growth", amount="80.00", requester="ana", team="support",
                    reason="outage-apology", evidence=["INC-7"])
    assert type(r) is amends.Request is amends._core.Request
    assert isinstance(r.amount, D) and str(r.amount) == "80.00" and r.evidence == ["INC-7"]
    assert r.created_at == CLOCK and r.created_at.tzinfo is not None
    assert all(h["at"] == CLOCK for h in r.history)
    assert r == desk.get(r.id) and r != desk.get(r.id).__class__  # equal field by field
    assert repr(r).startswith(f"Request(id={r.id!r}, kind='goodwill', ") and "history=" not in repr(r)
    with pytest.raises(AttributeError):
        r.amount = D("1")  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(r)
    assert amends.KINDS == ("goodwill", "service_credit", "refund", "retention_offer")
