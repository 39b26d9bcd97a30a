#!/usr/bin/env python3
"""The amends benchmark workload: a deterministic customer-concessions ledger.

Standard library only. One year (2026) of a subscription business that gives
money back to its customers, in USD and EUR:

  invoices (a quarter of them with a discount line), payments, service
  credits and goodwill credits (each also consuming concession budget, memo
  accounts), outage concessions mixing both, credits applied to invoices,
  refunds requested (a customer's whole unapplied credit) and refunds paid
  out (everything pending in one currency), plus a budget allocation on the
  1st of every month in each currency.

The same --entries, --customers and --seed always give the same bytes, and
every format holds the same entries in the same order:

  csv        entry_id,date,account,amount,currency,description (one row per
             posting, the rows of an entry consecutive, amounts with two places)
  ledger     journal syntax read by ledger-cli and hledger
  beancount  Beancount v2 (its five root names are mapped with options:
             Income -> Revenue, Expenses -> Expense, Equity -> Budget)
  --sums     the exact balance of every (account, currency), zeros included,
             as TSV: account, currency, amount

Every entry balances exactly in its currency: amounts are integer cents
throughout, and the random amounts are drawn with integers only (no libm),
so the files are the same on every machine and Python 3 version. Entries are
made in date order against a running state, so a customer never pays more
than it owes and never uses or is refunded more credit than it holds; a kind
that cannot happen for the drawn customer becomes an invoice (or a payment).

    python3 bench/workload.py -n 1000000 --seed 42 --format csv -o w.csv
    python3 bench/workload.py -n 1000000 --seed 42 --all-formats --prefix w
    python3 bench/workload.py -n 1000000 --seed 42 --sums > w.sums.tsv
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime
import io
import random
import signal
import sys
from typing import Callable, Iterable, TextIO

YEAR = 2026
CURRENCIES = ("USD", "EUR")
ALLOCATIONS = 12 * len(CURRENCIES)  # one budget allocation per month and currency
BEANCOUNT_OPEN_DATE = "2025-12-31"  # every account is opened the day before the first entry

# The name written at the top of ledger and beancount files with the options
# used. It is part of the workload's bytes: changing it would make new files
# differ from those every published figure was measured on.
HEADER_NAME = "gen_workload.py"

CASH = "Assets:Cash"
REFUNDS_PAYABLE = "Liabilities:RefundsPayable"
SUBSCRIPTIONS = "Revenue:Subscriptions"
SERVICE_CREDITS = "Revenue:ContraRevenue:ServiceCredits"
GOODWILL = "Expense:Goodwill"
BUDGET_ALLOCATED = "Budget:Concessions:Allocated"
BUDGET_AVAILABLE = "Budget:Concessions:Available"
BUDGET_CONSUMED = "Budget:Concessions:Consumed"

# Kinds of entry and their weights out of 100, in the order the cumulative table is built.
MIX = (
    ("invoice", 40),
    ("payment", 30),
    ("service_credit", 8),
    ("goodwill", 6),
    ("mixed_concession", 3),
    ("credit_applied", 7),
    ("refund_requested", 3),
    ("refund_paid", 3),
)

# Amounts follow a log-normal(0, 0.9) shape around a median: pick one of 32
# bands between these per-mille multiples of the median (its quantiles at
# 0.002, 1/32 ... 31/32, 0.998), then a uniform point inside the band.
BAND_EDGES = (75, 187, 251, 305, 355, 403, 450, 497, 545, 594, 644, 696, 751, 808,
              868, 932, 1000, 1073, 1152, 1238, 1332, 1436, 1553, 1684, 1835, 2011,
              2222, 2482, 2816, 3275, 3978, 5347, 13334)

Posting = tuple[str, int, str]  # account, cents, currency
Entry = tuple[str, str, list[Posting]]  # ISO date, description, postings


def customers_for(entries: int) -> int:
    """The default number of customers: one per 50 entries, at least 1,000 and at most 5,000."""
    return min(5000, max(1000, entries // 50))


def cents_text(cents: int) -> str:
    """Integer cents as a decimal string with two places: -1234 -> '-12.34'."""
    whole, part = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{part:02d}"


class _Generator:
    """Makes the entries. Only self.rng draws randomness, always in the same order:

    1. the home currency of each customer; 2. the shuffle of activity ranks;
    3. the day of every non-allocation entry; 4. per entry, its kind, its
    customer, then the draws of that kind (amounts, the discount coin and
    rate, the pay-in-full coin).
    """

    def __init__(self, entries: int, customers: int, seed: int) -> None:
        if entries < 2 * ALLOCATIONS:
            raise SystemExit(f"--entries must be at least {2 * ALLOCATIONS}")
        self.entries = entries
        self.customers = customers
        self.rng = random.Random(seed)

    # ------------------------------------------------------------ draws

    def amount(self, floor: int, median: int, ceiling: int) -> int:
        band = self.rng.randrange(len(BAND_EDGES) - 1)
        low, high = BAND_EDGES[band], BAND_EDGES[band + 1]
        cents = (median * low + self.rng.randrange(median * (high - low))) // 1000
        return min(ceiling, max(floor, cents))

    def _customers(self) -> Callable[[], int]:
        """Names and currencies of the customers, and a function drawing one by activity.

        Activity is Zipf-Mandelbrot, weight 10**12 // (rank + n/20 + 1), kept as
        integers; which customer holds which rank is a shuffle.
        """
        n = self.customers
        digits = max(5, len(str(n)))
        self.names = [f"C{i + 1:0{digits}d}" for i in range(n)]
        self.currency = ["EUR" if self.rng.random() < 0.15 else "USD" for _ in range(n)]
        shift = n // 20 + 1
        running, total = [], 0
        for rank in range(n):
            total += 10**12 // (rank + shift)
            running.append(total)
        holder = list(range(n))
        self.rng.shuffle(holder)
        draw = self.rng.randrange
        return lambda: holder[bisect.bisect_right(running, draw(total))]

    def _calendar(self) -> list[tuple[int, str | None]]:
        """(day ordinal, allocation currency or None) for every entry, in date order.

        The allocations of a month come before that month's other entries.
        """
        first_day = datetime.date(YEAR, 1, 1).toordinal()
        days_in_year = datetime.date(YEAR, 12, 31).toordinal() - first_day + 1
        others = sorted(first_day + self.rng.randrange(days_in_year) for _ in range(self.entries - ALLOCATIONS))
        slots: list[tuple[int, str | None]] = []
        next_other = 0
        for month in range(1, 13):
            first_of_month = datetime.date(YEAR, month, 1).toordinal()
            while next_other < len(others) and others[next_other] < first_of_month:
                slots.append((others[next_other], None))
                next_other += 1
            slots.extend((first_of_month, code) for code in CURRENCIES)
        slots.extend((day, None) for day in others[next_other:])
        return slots

    # ------------------------------------------------------------ entries

    def build(self) -> list[Entry]:
        pick = self._customers()
        thresholds = []
        for _, weight in MIX:
            thresholds.append(weight + (thresholds[-1] if thresholds else 0))
        usd_allocation = max(100_000, self.entries * 50)
        self.owed = [0] * self.customers  # receivable per customer, never below zero
        self.credit = [0] * self.customers  # unapplied credit per customer, never below zero
        self.payable = dict.fromkeys(CURRENCIES, 0)  # refunds requested, not yet paid
        made: list[tuple[int, str, list[Posting]]] = []
        for day, allocation in self._calendar():
            if allocation is not None:
                cents = usd_allocation if allocation == "USD" else usd_allocation // 5
                month = datetime.date.fromordinal(day).month
                made.append((day, f"Concession budget allocation {YEAR}-{month:02d} {allocation}",
                             [(BUDGET_AVAILABLE, cents, allocation), (BUDGET_ALLOCATED, -cents, allocation)]))
                continue
            kind = MIX[bisect.bisect_right(thresholds, self.rng.randrange(thresholds[-1]))][0]
            who = pick()
            description, postings = self._entry(self._possible(kind, who), who)
            made.append((day, description, postings))
        iso: dict[int, str] = {}
        return [(iso.setdefault(day, datetime.date.fromordinal(day).isoformat()), text, postings)
                for day, text, postings in made]

    def _possible(self, kind: str, who: int) -> str:
        """The kind itself if the customer's state allows it, else what takes its place."""
        if kind == "payment" and not self.owed[who]:
            return "invoice"
        if kind == "credit_applied" and not (self.credit[who] and self.owed[who]):
            return "invoice"
        if kind == "refund_requested" and not self.credit[who]:
            return "invoice"
        if kind == "refund_paid" and not self.payable[self.currency[who]]:
            return "payment" if self.owed[who] else "invoice"
        return kind

    def _entry(self, kind: str, who: int) -> tuple[str, list[Posting]]:
        name, cur = self.names[who], self.currency[who]
        receivable = "Assets:Receivables:" + name
        credits = "Liabilities:CustomerCredits:" + name
        if kind == "invoice":
            gross = self.amount(500, 12_000, 5_000_000)
            if self.rng.random() < 0.25:
                discount = max(1, gross * self.rng.randrange(5, 31) // 100)
                self.owed[who] += gross - discount
                return (f"Subscription invoice {name} with discount",
                        [(receivable, gross - discount, cur), (SERVICE_CREDITS, discount, cur),
                         (SUBSCRIPTIONS, -gross, cur)])
            self.owed[who] += gross
            return f"Subscription invoice {name}", [(receivable, gross, cur), (SUBSCRIPTIONS, -gross, cur)]
        if kind == "payment":
            paid = self.amount(500, 11_000, 5_000_000)
            in_full = self.rng.random() < 0.7
            if in_full or paid > self.owed[who]:
                paid = self.owed[who]
            self.owed[who] -= paid
            return f"Payment received {name}", [(CASH, paid, cur), (receivable, -paid, cur)]
        if kind in ("service_credit", "goodwill"):
            if kind == "service_credit":
                given, account, text = self.amount(100, 2_500, 200_000), SERVICE_CREDITS, "Service credit issued"
            else:
                given, account, text = self.amount(100, 1_500, 100_000), GOODWILL, "Goodwill credit issued"
            self.credit[who] += given
            return (f"{text} {name}", [(account, given, cur), (credits, -given, cur),
                                       (BUDGET_CONSUMED, given, cur), (BUDGET_AVAILABLE, -given, cur)])
        if kind == "mixed_concession":
            service = self.amount(100, 2_000, 200_000)
            goodwill = self.amount(100, 1_000, 100_000)
            self.credit[who] += service + goodwill
            return (f"Outage concession {name}", [(SERVICE_CREDITS, service, cur), (GOODWILL, goodwill, cur),
                                                  (credits, -(service + goodwill), cur)])
        if kind == "credit_applied":
            used = min(self.credit[who], self.owed[who], self.amount(100, 2_000, 200_000))
            self.credit[who] -= used
            self.owed[who] -= used
            return f"Credit applied to invoice {name}", [(credits, used, cur), (receivable, -used, cur)]
        if kind == "refund_requested":
            refunded, self.credit[who] = self.credit[who], 0
            self.payable[cur] += refunded
            return f"Credit refund requested {name}", [(credits, refunded, cur), (REFUNDS_PAYABLE, -refunded, cur)]
        paid_out, self.payable[cur] = self.payable[cur], 0  # refund_paid
        return f"Refunds paid out {cur}", [(REFUNDS_PAYABLE, paid_out, cur), (CASH, -paid_out, cur)]


def generate(entries: int, seed: int, customers: int | None = None) -> list[Entry]:
    """The workload's entries: (ISO date, description, [(account, cents, currency), ...]), in entry_id order."""
    return _Generator(entries, customers_for(entries) if customers is None else customers, seed).build()


def accounts_of(entries: Iterable[Entry]) -> list[str]:
    """Every account the entries use, sorted."""
    return sorted({account for _, _, postings in entries for account, _, _ in postings})


def balances(entries: Iterable[Entry]) -> dict[tuple[str, str], int]:
    """The exact balance in cents of every (account, currency) the entries use."""
    totals: dict[tuple[str, str], int] = {}
    for _, _, postings in entries:
        for account, cents, cur in postings:
            totals[(account, cur)] = totals.get((account, cur), 0) + cents
    return totals


# ---------------------------------------------------------------- writers

def write_csv(entries: list[Entry], out: TextIO) -> None:
    rows = csv.writer(out, lineterminator="\n")
    rows.writerow(("entry_id", "date", "account", "amount", "currency", "description"))
    for entry_id, (date, description, postings) in enumerate(entries, 1):
        rows.writerows((entry_id, date, account, cents_text(cents), cur, description)
                       for account, cents, cur in postings)


def _write_journal(entries: list[Entry], out: TextIO, indent: str, quote: Callable[[str], str]) -> None:
    for date, description, postings in entries:
        block = [f"{date} * {quote(description)}\n"]
        block += [f"{indent}{account:<44} {cents_text(cents):>14} {cur}\n" for account, cents, cur in postings]
        block.append("\n")
        out.write("".join(block))


def write_ledger(entries: list[Entry], out: TextIO, options: str) -> None:
    out.write(f"; {options}\n; ledger-cli / hledger journal\n\n")
    _write_journal(entries, out, "    ", lambda text: text)


def write_beancount(entries: list[Entry], out: TextIO, options: str) -> None:
    out.write(f";; {options}\n;; Beancount v2\n"
              'option "title" "Customer concessions benchmark workload"\n'
              'option "name_income" "Revenue"\n'
              'option "name_expenses" "Expense"\n'
              'option "name_equity" "Budget"\n'
              'option "operating_currency" "USD"\n'
              'option "operating_currency" "EUR"\n\n')
    out.write("".join(f"{BEANCOUNT_OPEN_DATE} open {account}\n" for account in accounts_of(entries)) + "\n")
    _write_journal(entries, out, "  ", lambda text: '"' + text.replace('"', "'") + '"')


def write_sums(entries: list[Entry], out: TextIO) -> None:
    for (account, cur), cents in sorted(balances(entries).items()):
        out.write(f"{account}\t{cur}\t{cents_text(cents)}\n")


# ---------------------------------------------------------------- command line

def _open(path: str) -> TextIO:
    if path == "-":
        return io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=False)
    return open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", "-n", type=int, default=100_000, help="journal entries (default 100000)")
    p.add_argument("--customers", type=int, help="customers (default: entries/50, at least 1000, at most 5000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--format", choices=("csv", "ledger", "beancount"), default="csv")
    p.add_argument("-o", "--output", default="-", help="output file (default: standard output)")
    p.add_argument("--all-formats", action="store_true",
                   help="write PREFIX.csv, PREFIX.journal and PREFIX.beancount from one generation")
    p.add_argument("--prefix", default="workload", help="file prefix for --all-formats")
    p.add_argument("--sums", action="store_true",
                   help="write the exact balance of every (account, currency) as TSV instead of a journal")
    args = p.parse_args(argv)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # end quietly when piped into head

    customers = customers_for(args.entries) if args.customers is None else args.customers
    entries = generate(args.entries, args.seed, customers)
    options = f"{HEADER_NAME} --entries {args.entries} --customers {customers} --seed {args.seed}"
    writers: dict[str, Callable[[TextIO], None]] = {
        "csv": lambda out: write_csv(entries, out),
        "ledger": lambda out: write_ledger(entries, out, options),
        "beancount": lambda out: write_beancount(entries, out, options),
        "sums": lambda out: write_sums(entries, out),
    }
    if args.sums:
        targets = [("sums", args.output)]
    elif args.all_formats:
        targets = [(kind, f"{args.prefix}.{suffix}")
                   for kind, suffix in (("csv", "csv"), ("ledger", "journal"), ("beancount", "beancount"))]
    else:
        targets = [(args.format, args.output)]
    for kind, path in targets:
        out = _open(path)
        writers[kind](out)
        out.flush()
        if path != "-":
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
