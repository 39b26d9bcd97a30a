"""The tour: the four concession processes end to end, in PostgreSQL (the embedded default) or in memory.

It publishes the sample approval policy (amends/data/sample_policy.toml),
gives the support team budgets for November 2026, invoices a handful of
customers, and then runs the desk the way a finance team would, on a clock
that starts on 2 November 2026:

  1. an SLA service credit computed from the contract (98.5% uptime in
     October: 30% of the 2,400.00 monthly fee), approved by finance and accrued into
     October, the service period, which is still open;
  2. goodwill: a small credit auto-approved; a larger one that its requester
     (a team lead) may not approve himself; one that waits past its 24-hour
     escalation and is approved by the director it escalated to; one declined
     with alternatives the customer is told about;
  3. a refund tied to its charge, approved by a team lead and then finance,
     and a second one the charge has no room left for, refused at validation;
  4. a retention offer (15% off for three months) reviewed by finance and
     strategy in parallel, posted once per invoiced month.

October is then closed, with its close report. The tour prints what happened
to each request, the customer notifications in the outbox, the budgets, the
audit trail's verification and the trial balance. Requests have fixed ids and
every other write is idempotent, so a second run against the same book changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import amends

MONTH = amends.Period("2026-11")
POLICY = Path(__file__).parent / "data" / "sample_policy.toml"
UTC = dt.timezone.utc


class TourClock:
    """The tour's clock: 2 November 2026, 09:00 UTC, a minute later at each reading."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


def _invoice(book: amends.Ledger, customers: list[str], seed: int) -> dict[str, Decimal]:
    rng = random.Random(seed)
    for name, kind in [("Revenue:Subscriptions", "revenue")] + [(f"Assets:Receivables:{c}", "asset") for c in customers]:
        if not book.has_account(name):
            book.create_account(name, kind)  # type: ignore[arg-type]
    fees = {}
    for customer in customers:
        fee = Decimal(rng.randrange(100_000, 500_000)) / 100
        fees[customer] = fee
        book.post(MONTH.first_day, [(f"Assets:Receivables:{customer}", fee), ("Revenue:Subscriptions", -fee)],
                  description=f"Subscription invoice {MONTH} {customer}", idempotency_key=f"inv-{MONTH}-{customer}")
    return fees


def _run_desk(desk: amends.Desk, clock: TourClock, fees: dict[str, Decimal], log: list[str]) -> None:
    c = list(fees)

    def step(what: str) -> None:
        log.append(what)

    def submit(rid: str, **fields: object) -> amends.Request:
        r = desk.submit(id=rid, **fields)  # type: ignore[arg-type]
        step(f"{rid} submitted by {fields['requester']}: {fields['kind']} for {fields['customer']} -> {r.state}"
             + (f" by rule '{r.rule}'" if r.rule else "")
             + (f", waiting for {', '.join(desk.waiting_for(rid))}" if r.state == "pending_approval" else ""))
        return r

    # 1. SLA service credit for October: 98.5% uptime is below 99% -> 30% of the 2,400.00 monthly fee.
    submit("T-01", kind="service_credit", customer=c[0], tier="enterprise", requester="ana", team="support",
           period_fee="2400.00", availability="0.985", service_period="2026-10", evidence=["INC-7101", "SLA-2026-10"],
           reason="sla-breach")
    desk.approve("T-01", "fatima", comment="uptime report checked")
    step("T-01 approved by fatima (finance)")
    desk.apply("T-01", "billing-bot")
    step("T-01 applied: posted into 2026-10, its service period, which is still open")

    # 2. Goodwill.
    submit("T-02", kind="goodwill", customer=c[1], tier="growth", amount="60.00", requester="ana", team="support",
           reason="onboarding-delay")
    desk.apply("T-02", "billing-bot")
    step("T-02 applied")
    submit("T-03", kind="goodwill", customer=c[2], tier="growth", amount="450.00", requester="omar", team="support",
           reason="outage-apology", evidence=["INC-7102"])
    try:
        desk.approve("T-03", "omar")
    except amends.ApprovalError as refused:
        step(f"T-03: omar may not approve: {refused}")
    desk.approve("T-03", "lena", comment="fair for a 6-hour outage")
    step("T-03 approved by lena (team lead)")
    desk.apply("T-03", "billing-bot")
    step("T-03 applied")
    submit("T-04", kind="goodwill", customer=c[3], tier="enterprise", amount="800.00", requester="ana", team="support",
           reason="migration-issues", evidence=["CASE-311"])
    clock.now += dt.timedelta(hours=25)
    escalated = desk.escalate_due()
    step(f"a day later, escalate_due() moved {', '.join(escalated)} up to the customer success director")
    desk.approve("T-04", "grace", comment="escalated; approved")
    step("T-04 approved by grace (cs_director, by escalation)")
    desk.apply("T-04", "billing-bot")
    step("T-04 applied")
    submit("T-05", kind="goodwill", customer=c[4], tier="growth", amount="400.00", requester="ana", team="support",
           reason="feature-request")
    desk.decline("T-05", "omar", "a missing feature is not a service failure",
                 alternatives=["a 20% discount on the add-on that has it", "an early-access invitation"])
    step("T-05 declined by omar, with alternatives")

    # 3. Refunds tied to a charge of 400.00.
    desk.record_charge("ch_3PxT01", c[5], "400.00", "USD", "2026-10-28")
    submit("T-06", kind="refund", customer=c[5], amount="300.00", requester="ana", team="support", charge="ch_3PxT01",
           reason="duplicate-seat")
    desk.approve("T-06", "lena")
    desk.approve("T-06", "raj", comment="seat count confirmed")
    step("T-06 approved by lena, then raj (finance)")
    desk.apply("T-06", "billing-bot")
    step("T-06 applied")
    r = submit("T-07", kind="refund", customer=c[5], amount="150.00", requester="ana", team="support",
               charge="ch_3PxT01", reason="duplicate-seat")
    step(f"T-07: {r.findings[0]['message']}")

    # 4. Retention: 15% off for three months.
    fee = fees[c[1]]
    submit("T-08", kind="retention_offer", customer=c[1], tier="growth", customer_value=str(fee * 36),
           requester="ana", team="support", discount="0.15", monthly_fee=str(fee), months=3, reason="churn-risk")
    desk.approve("T-08", "fatima")
    desk.approve("T-08", "sofia", comment="worth keeping")
    step("T-08 approved by fatima (finance) and sofia (strategy), in parallel")
    desk.apply("T-08", "billing-bot")
    step("T-08 applied: one posting per invoiced month")


def _open_tour_book(dsn: str | None) -> amends.Book:
    """The tour's book; a demo that makes its own book migrates a database that lacks the schema.

    That takes the owner's login (amends.migrate refuses any other); a
    migrated database opens with any login granted amends_app. The embedded
    default is migrated when it starts.
    """
    try:
        return amends.open(dsn, "tour", simulation=True)
    except amends.SchemaError:
        target = dsn or os.environ.get("AMENDS_DSN")
        if not target:
            raise  # the embedded default, already migrated: a newer schema
        amends.migrate(target)
        return amends.open(dsn, "tour", simulation=True)


def run(out: TextIO, customers: int = 6, seed: int = 2026, memory: bool = False, dsn: str | None = None) -> int:
    """The tour; in PostgreSQL (dsn, $AMENDS_DSN or the embedded default) unless memory is set."""
    book: amends.Ledger = amends.Ledger(base_currency="USD", name="tour") if memory else _open_tour_book(dsn)
    customers = max(customers, 6)
    ids = [f"C{1040 + i}" for i in range(customers)]
    before = book.entry_count
    clock = TourClock()
    desk = amends.Desk(book, policy=POLICY, clock=clock, actor="controller")
    fees = _invoice(book, ids, seed)
    log: list[str] = []
    fresh = not desk.requests()
    if fresh:
        for kind in ("goodwill", "service_credit", "retention_offer"):
            desk.allocate("support", kind, str(MONTH), "5000.00", on=MONTH.first_day)
        _run_desk(desk, clock, fees, log)
        report = desk.close_period("2026-10", "controller")
    where = "in memory" if memory else f"in PostgreSQL, book 'tour': {book.entry_count - before} new entries"
    print(f"amends {amends.__version__} tour: the four concession processes under policy {desk.policy_version} "
          f"({where})\n", file=out)
    if log:
        print("What happened:", file=out)
        for line in log:
            print(f"  {line}", file=out)
        print(file=out)
    else:
        print("The tour ran before on this book; nothing was posted twice.\n", file=out)
    print(f"{'request':8} {'kind':16} {'customer':9} {'amount':>14}  {'state':10} {'rule':28} posted in", file=out)
    for r in desk.requests():
        amount = f"{r.amount} {r.currency}" if r.amount is not None else "-"
        print(f"{r.id:8} {r.kind:16} {r.customer:9} {amount:>14}  {r.state:10} {r.rule or '-':28} "
              f"{r.posting_period or '-'}{' (out of period)' if r.out_of_period else ''}", file=out)
    print("\nCustomer notifications in the outbox:", file=out)
    for n in desk.outbox():
        print(f"  #{n['id']} to {n['customer']}: {n['subject']}", file=out)
    print("\nBudgets:", file=out)
    for u in desk.budgets():
        print(f"  {u.owner} {u.kind} {u.period}: allocated {u.allocated}, consumed {u.consumed}, "
              f"reserved {u.reserved}, available {u.available} {u.currency}", file=out)
    if fresh:
        print("\n" + str(report).rstrip(), file=out)
    audit = desk.verify_audit()
    print(f"\nAudit trail: {audit['events']} events, hash chain {'intact' if audit['ok'] else 'BROKEN: ' + audit['problem']}",
          file=out)
    trial = book.trial_balance()
    print("\n" + str(trial), file=out)
    return 0 if trial.balanced and audit["ok"] else 1
