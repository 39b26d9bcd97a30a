"""Helpers shared by the tests: a small chart of accounts and a snapshot of a book's state."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import amends

REPO = Path(__file__).resolve().parents[2]

# name, type, currency, dimensions, limits
CHART: list[tuple[str, str, str, dict[str, str], dict[str, Any]]] = [
    ("Assets:Cash", "asset", "USD", {}, {}),
    ("Assets:EuroBank", "asset", "EUR", {}, {}),
    ("Assets:YenBank", "asset", "JPY", {}, {}),
    ("Expenses:Goodwill", "expense", "USD", {"team": "amer"}, {}),
    ("Expenses:EuroGoodwill", "expense", "EUR", {"team": "emea"}, {}),
    ("Expenses:YenGoodwill", "expense", "JPY", {"team": "apac"}, {}),
    ("Revenue:Subscriptions", "revenue", "USD", {}, {}),
    ("Revenue:ContraRevenue:ServiceCredits", "contra_revenue", "USD", {}, {}),
    ("Liabilities:CustomerCredits:C1", "liability", "USD", {"customer": "C1", "team": "amer"}, {"min_normal_balance": 0}),
    ("Liabilities:CustomerCredits:C2", "liability", "USD", {"customer": "C2", "team": "amer"}, {"min_normal_balance": 0}),
    ("Liabilities:CustomerCredits:C3", "liability", "EUR", {"customer": "C3", "team": "emea"}, {"min_normal_balance": 0}),
    ("Liabilities:RefundsPayable", "liability", "USD", {}, {}),
]

CASH = "Assets:Cash"
GOODWILL = "Expenses:Goodwill"
C1 = "Liabilities:CustomerCredits:C1"
C2 = "Liabilities:CustomerCredits:C2"
C3 = "Liabilities:CustomerCredits:C3"
JAN = dt.date(2026, 1, 15)


def open_chart(book: amends.Ledger) -> amends.Ledger:
    for name, type_, currency, dims, limits in CHART:
        book.create_account(name, type_, currency, dimensions=dims, **limits)
    return book


def state_of(book: amends.Ledger) -> tuple[Any, ...]:
    """Everything a refusal must leave as it was: counts, every balance and reservation, every entry."""
    return (
        book.entry_count,
        book.posting_count,
        book.account_count,
        tuple(book.accounts()),
        tuple((a.name, book.balance_detail(a.name)) for a in book.accounts()),
        tuple(book.entry(i) for i in range(1, book.entry_count + 1)),
        book.to_journal(),
    )


def grant(book: amends.Ledger, customer: str, amount: str, day: Any = JAN, **kwargs: Any) -> int:
    """A goodwill credit: expense debited, the customer's credit (a liability) credited."""
    return book.post(day, [(GOODWILL, Decimal(amount)), (customer, -Decimal(amount))], **kwargs)


class Clock:
    """A clock the test moves; every reading is a little later (the audit trail is in time order)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)
