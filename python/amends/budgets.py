"""Concession budgets kept as a book of their own.

A budget (owner, kind, period) is a pair of memo accounts in a budget book:
`Budget:<owner>:<kind>:<period>:Available` and `...:Consumed`, funded from
`...:Allocated`. Approving a request reserves against Available (a two-phase
entry), applying it posts the reservation into Consumed, and a decline,
cancel or expiry voids it. A hard budget's Available account has a minimum
normal balance of zero, counting open reservations, so it can't be
overspent -- and in PostgreSQL (`amends.open(dsn, "budgets")`) the database
holds that limit across processes approving at the same moment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import amends

__all__ = ["Budgets", "BudgetExceeded", "Utilisation"]


BudgetExceeded = amends.BudgetExceeded  # a reservation a hard budget has no room for


@dataclass(frozen=True)
class Utilisation:
    owner: str
    kind: str
    period: str
    currency: str
    hard: bool
    allocated: Decimal
    reserved: Decimal
    consumed: Decimal
    available: Decimal  # allocated - reserved - consumed


def _segment(value: str, what: str) -> str:
    if not value or ":" in value or value != value.strip():
        raise amends.InvalidArgument(f"a budget {what} is a non-empty name without ':' or outer spaces, not {value!r}")
    return value


class Budgets:
    """Budgets per owner (team or region), kind and period, in one currency (the budget book's base currency)."""

    def __init__(self, book: amends.Ledger) -> None:
        self.book = book
        self.currency = book.base_currency

    def _root(self, owner: str, kind: str, period: str) -> str:
        return f"Budget:{_segment(owner, 'owner')}:{_segment(kind, 'kind')}:{_segment(period, 'period')}"

    def allocate(self, owner: str, kind: str, period: str, amount: Any, *, hard: bool = True,
                 on: dt.date | str | None = None, key: str | None = None) -> int:
        """Adds `amount` to a budget, opening it (hard: never overspent; soft: over-budget reservations are flagged)."""
        root = self._root(owner, kind, period)
        if not self.book.has_account(f"{root}:Available"):
            self.book.create_account(f"{root}:Available", "memo", self.currency, owner=owner, kind=kind,
                                     period=period, min_normal_balance=0 if hard else None)
            self.book.create_account(f"{root}:Allocated", "memo", self.currency, owner=owner, kind=kind, period=period)
            self.book.create_account(f"{root}:Consumed", "memo", self.currency, owner=owner, kind=kind, period=period)
        day = on or dt.date.today()
        return self.book.post(day, [(f"{root}:Available", amount), (f"{root}:Allocated", _neg(amount))],
                              description=f"Budget allocation {owner} {kind} {period}", idempotency_key=key)

    def reserve(self, owner: str, kind: str, period: str, amount: Any, request: str, *,
                on: dt.date | str | None = None, expires_on: dt.date | str | None = None) -> int:
        """Reserves `amount` for an approved request; BudgetExceeded when a hard budget has no room.

        The request id is the reservation's idempotency key, so approving twice reserves once.
        """
        root = self._root(owner, kind, period)
        if not self.book.has_account(f"{root}:Available"):
            raise amends.UnknownAccount(f"there is no budget for {owner} {kind} {period}; allocate one first")
        day = on or dt.date.today()
        try:
            return self.book.reserve(day, [(f"{root}:Consumed", amount), (f"{root}:Available", _neg(amount))],
                                     description=f"Reserved for {request}", idempotency_key=f"budget:{request}",
                                     expires_on=expires_on)
        except amends.BalanceLimitExceeded as error:
            left = self.utilisation(owner, kind, period).available
            raise BudgetExceeded(
                f"the {owner} {kind} budget for {period} has {left} {self.currency} left; {request} needs "
                f"{Decimal(str(amount))} {self.currency} ({error})"
            ) from None

    def consume(self, reservation: int, on: dt.date | str | None = None) -> int:
        """The request was applied: its reservation is consumed."""
        return self.book.post_pending(reservation, on or dt.date.today())

    def release(self, reservation: int, reason: str, on: dt.date | str | None = None) -> None:
        """The request was declined, cancelled or expired: its reservation is released."""
        self.book.void_pending(reservation, on or dt.date.today(), reason)

    def utilisation(self, owner: str, kind: str, period: str) -> Utilisation:
        root = self._root(owner, kind, period)
        available = self.book.balance_detail(f"{root}:Available")
        allocated = -self.book.balance(f"{root}:Allocated")
        consumed = self.book.balance(f"{root}:Consumed")
        reserved = available.pending_credits
        hard = self.book.account(f"{root}:Available").min_normal_balance is not None
        return Utilisation(owner, kind, period, self.currency, hard, allocated, reserved, consumed,
                           allocated - reserved - consumed)

    def all(self) -> list[Utilisation]:
        """Every budget in the book."""
        out = []
        for account in self.book.accounts():
            parts = account.name.split(":")
            if len(parts) == 5 and parts[0] == "Budget" and parts[4] == "Available":
                out.append(self.utilisation(parts[1], parts[2], parts[3]))
        return out


def _neg(amount: Any) -> Any:
    if isinstance(amount, bool) or isinstance(amount, float):
        raise TypeError(f"amounts are Decimal, int or str, not {type(amount).__name__}")
    return -Decimal(str(amount)) if isinstance(amount, (int, str)) else -amount
