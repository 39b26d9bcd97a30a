"""A short tour: one month of concessions, in PostgreSQL (the embedded default) or in memory.

It opens a chart of accounts, invoices a handful of customers, then posts a
month of the four kinds of concession the way a finance team would: SLA
service credits computed from the contract fee, goodwill credits, refunds
approved and paid out (a two-phase entry), and retention discounts. A
mistaken goodwill credit is reversed. It ends with the trial balance and the
statement of one customer's credit balance.

Every write carries an idempotency key or checks the book first, so running
the tour again against the same book posts nothing twice.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import TextIO

import amends

MONTH = amends.Period("2026-11")


def build_book(
    customers: int = 6, seed: int = 2026, book: amends.Ledger | None = None
) -> tuple[amends.Ledger, list[str]]:
    rng = random.Random(seed)
    if book is None:
        book = amends.Ledger(base_currency="USD", name="tour")

    def open_account(name: str, kind: str, **options: object) -> None:
        if not book.has_account(name):
            book.create_account(name, kind, **options)  # type: ignore[arg-type]

    for name, kind in [
        ("Assets:Cash", "asset"),
        ("Liabilities:RefundsPayable", "liability"),
        ("Revenue:Subscriptions", "revenue"),
        ("ContraRevenue:ServiceCredits", "contra_revenue"),
        ("ContraRevenue:Goodwill", "contra_revenue"),
        ("ContraRevenue:Refunds", "contra_revenue"),
        ("ContraRevenue:RetentionDiscounts", "contra_revenue"),
    ]:
        open_account(name, kind)
    ids = [f"C{1040 + i}" for i in range(customers)]
    tiers = ["enterprise", "growth", "starter"]
    for customer in ids:
        tier = rng.choice(tiers)
        open_account(f"Assets:Receivables:{customer}", "asset", customer=customer, tier=tier)
        # A customer's credit balance can never go below zero.
        open_account(
            f"Liabilities:CustomerCredits:{customer}", "liability", customer=customer, tier=tier, min_normal_balance=0
        )

    day = MONTH.first_day
    fees: dict[str, Decimal] = {}
    for customer in ids:
        fee = Decimal(rng.randrange(50_000, 500_000)) / 100
        fees[customer] = fee
        book.post(day, [(f"Assets:Receivables:{customer}", fee), ("Revenue:Subscriptions", -fee)],
                  description=f"Subscription invoice {MONTH} {customer}", idempotency_key=f"inv-{MONTH}-{customer}")

    # SLA credits: measured availability below 99.9% earns 10% of the month's fee.
    for n, customer in enumerate(ids[:3]):
        credit = amends.multiply(fees[customer], "0.10", "USD")
        book.post(day + dt.timedelta(days=3 + n), [("ContraRevenue:ServiceCredits", credit),
                                                   (f"Liabilities:CustomerCredits:{customer}", -credit)],
                  description=f"SLA credit {customer}: availability 99.82% in {MONTH}",
                  idempotency_key=f"sla-{MONTH}-{customer}", metadata={"incident": f"INC-{7100 + n}"})

    # Goodwill, one of them posted twice by mistake and reversed.
    goodwill = Decimal("50.00")
    first = book.post(day + dt.timedelta(days=8), [("ContraRevenue:Goodwill", goodwill),
                                                   (f"Liabilities:CustomerCredits:{ids[0]}", -goodwill)],
                      description=f"Goodwill {ids[0]}: delayed onboarding", idempotency_key="gw-1")
    twice = book.post(day + dt.timedelta(days=8), [("ContraRevenue:Goodwill", goodwill),
                                                   (f"Liabilities:CustomerCredits:{ids[0]}", -goodwill)],
                      description=f"Goodwill {ids[0]}: delayed onboarding (entered twice)", idempotency_key="gw-2")
    assert first != twice
    if book.entry(twice).reversed_by is None:
        book.reverse(twice, day + dt.timedelta(days=9), "duplicate of gw-1")

    # Credits applied to the customer's next invoice, split over two invoices:
    # the SLA credit and the goodwill credit.
    balance = amends.multiply(fees[ids[0]], "0.10", "USD") + goodwill
    parts = amends.allocate(balance, [2, 1], currency="USD")
    for n, part in enumerate(parts):
        book.post(day + dt.timedelta(days=14 + n), [(f"Liabilities:CustomerCredits:{ids[0]}", part),
                                                    (f"Assets:Receivables:{ids[0]}", -part)],
                  description=f"Credit applied to invoice {n + 1} of {ids[0]}", idempotency_key=f"apply-{n + 1}")

    # A refund: approved (reserved), then paid out in part; the rest is released.
    refund = Decimal("120.00")
    pending = book.reserve(day + dt.timedelta(days=10), [("ContraRevenue:Refunds", refund),
                                                         ("Liabilities:RefundsPayable", -refund)],
                           description=f"Refund approved {ids[3]}", idempotency_key="rf-1",
                           expires_on=day + dt.timedelta(days=40))
    if book.entry(pending).status == "pending":
        book.post_pending(pending, day + dt.timedelta(days=12), {"ContraRevenue:Refunds": "100.00",
                                                                 "Liabilities:RefundsPayable": "-100.00"})
    book.post(day + dt.timedelta(days=13), [("Liabilities:RefundsPayable", Decimal("100.00")),
                                            ("Assets:Cash", Decimal("-100.00"))],
              description=f"Refund paid out {ids[3]}", idempotency_key="rf-1-paid")

    # Retention: 15% off this month's invoice for an at-risk account.
    discount = amends.multiply(fees[ids[4]], "0.15", "USD")
    book.post(day + dt.timedelta(days=20), [("ContraRevenue:RetentionDiscounts", discount),
                                            (f"Assets:Receivables:{ids[4]}", -discount)],
              description=f"Retention discount {ids[4]}", idempotency_key=f"ret-{MONTH}-{ids[4]}")
    return book, ids


def run(out: TextIO, customers: int = 6, seed: int = 2026, memory: bool = False, dsn: str | None = None) -> int:
    """The tour; in PostgreSQL (dsn, $AMENDS_DSN or the embedded default) unless memory is set."""
    target: amends.Ledger = amends.Ledger(base_currency="USD", name="tour") if memory else amends.open(dsn, "tour")
    before = target.entry_count
    book, ids = build_book(customers, seed, target)
    trial = book.trial_balance(MONTH)
    where = "in memory" if memory else f"in PostgreSQL, book 'tour': {book.entry_count - before} new"
    print(f"amends {amends.__version__} tour: {book.entry_count} entries, {book.posting_count} postings "
          f"in {MONTH} ({where})\n", file=out)
    print(trial, file=out)
    print(file=out)
    print(book.statement(f"Liabilities:CustomerCredits:{ids[0]}", MONTH.first_day, MONTH.last_day), file=out)
    print(file=out)
    concessions = book.rollup("ContraRevenue", MONTH)
    print("Concessions this month: " + ", ".join(f"{v} {k}" for k, v in concessions.items()), file=out)
    return 0 if trial.balanced else 1
