"""hledger and ledger-cli as independent oracles: they read amends' journal export and must agree exactly.

Random books (seeded) in USD, EUR and JPY with reversals and two-phase
entries that are posted in full, in part, voided, expired or left open are
exported with to_journal; hledger's and ledger's per-account balances must
equal amends' balances to the last minor unit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import shutil
import subprocess
from decimal import Decimal

import pytest

import amends

D = Decimal
PLACES = {"USD": 2, "EUR": 2, "JPY": 0}
# Leaf accounts only (no account is the parent of another), one currency each;
# some names carry single spaces, which journal syntax allows.
ACCOUNTS = [
    (f"{root}:{leaf}:{currency}", type_, currency)
    for currency in PLACES
    for root, leaf, type_ in [
        ("Assets", "Bank", "asset"),
        ("Assets", "Receivables", "asset"),
        ("Expenses", "Goodwill", "expense"),
        ("Expenses", "Service Credits", "expense"),
        ("Liabilities", "Customer Credits", "liability"),
        ("Liabilities", "Refunds Payable", "liability"),
        ("Revenue", "Subscriptions", "revenue"),
        ("Budget", "Available", "memo"),
    ]
]
DESCRIPTIONS = ["Goodwill credit", "SLA credit; ticket 7", "Refund (partial)", "Invoice #12", "Payment | wire", ""]


def hledger() -> str:
    path = shutil.which("hledger")
    if path is None:
        pytest.skip("hledger is not installed (CI installs it: ci/setup.sh)")
    return path


def random_book(seed: int, entries: int = 300) -> amends.Ledger:
    rng = random.Random(seed)
    book = amends.Ledger(name=f"oracle {seed}")
    for name, type_, currency in ACCOUNTS:
        book.create_account(name, type_, currency)
    by_currency = {c: [name for name, _, cur in ACCOUNTS if cur == c] for c in PLACES}

    def amount(currency: str) -> Decimal:
        return D(rng.randint(1, 10**7)).scaleb(-PLACES[currency])

    def postings() -> list[tuple[str, Decimal]]:
        currency = rng.choice(list(PLACES))
        count = rng.randint(2, 4)
        names = rng.sample(by_currency[currency], count)
        amounts = [amount(currency) * rng.choice([1, -1]) for _ in range(count - 1)]
        last = -sum(amounts)
        if last == 0:
            amounts[0] += amount(currency)
            last = -sum(amounts)
        return list(zip(names, amounts + [last]))

    posted: list[tuple[int, dt.date]] = []
    pending: list[tuple[int, dt.date, list[tuple[str, Decimal]]]] = []
    start = dt.date(2026, 1, 1)
    for _ in range(entries):
        day = start + dt.timedelta(days=rng.randint(0, 364))
        roll = rng.random()
        if roll < 0.70:
            posted.append((book.post(day, postings(), description=rng.choice(DESCRIPTIONS)), day))
        elif roll < 0.85:
            lines = postings()
            expires = day + dt.timedelta(days=rng.randint(1, 60)) if rng.random() < 0.5 else None
            pending.append((book.reserve(day, lines, expires_on=expires, description="reservation"), day, lines))
        elif posted:
            entry_id, entry_day = rng.choice(posted)
            if book.entry(entry_id).reversed_by is None:
                book.reverse(entry_id, entry_day + dt.timedelta(days=rng.randint(0, 30)), "reversed at random")
    for entry_id, day, lines in pending:
        if book.entry(entry_id).status != "pending":
            continue
        expires = book.entry(entry_id).expires_on
        when = day if expires is None else min(day + dt.timedelta(days=rng.randint(0, 5)), expires - dt.timedelta(days=1))
        choice = rng.random()
        if choice < 0.35:
            book.post_pending(entry_id, when)
        elif choice < 0.55 and len(lines) == 2:
            part = min(abs(lines[0][1]), D(rng.randint(1, 10**6)).scaleb(-PLACES[book.account(lines[0][0]).currency]))
            sign = 1 if lines[0][1] > 0 else -1
            book.post_pending(entry_id, when, [sign * part, -sign * part])
        elif choice < 0.75:
            book.void_pending(entry_id, when, "voided at random")
    book.expire_pending("2026-06-30")  # some expire, the rest stay open
    return book


def amends_balances(book: amends.Ledger, as_of=None) -> dict[tuple[str, str], Decimal]:
    out = {}
    for account in book.accounts():
        amount = book.balance(account.name, as_of=as_of)
        if amount != 0:
            out[(account.name, account.currency)] = amount
    return out


def hledger_balances(journal, *options: str) -> dict[tuple[str, str], Decimal]:
    command = [hledger(), "-f", str(journal), "balance", "--flat", "--no-total", "-O", "csv", "--layout=bare", *options]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(output)))
    assert rows[0] == ["account", "commodity", "balance"]
    return {(account, commodity): D(amount) for account, commodity, amount in rows[1:] if D(amount) != 0}


def ledger_balances(journal) -> dict[tuple[str, str], Decimal]:
    command = ["ledger", "-f", str(journal), "balance", "--flat", "--no-total", "--format", "%(account)\t%(display_total)\n"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    out = {}
    for line in output.splitlines():
        account, total = line.split("\t")
        quantity, commodity = total.rsplit(" ", 1)
        out[(account, commodity)] = D(quantity)
    return out


@pytest.fixture(scope="module", params=[11, 22, 33])
def exported(request, tmp_path_factory):
    book = random_book(request.param)
    path = tmp_path_factory.mktemp("journal") / f"book-{request.param}.journal"
    assert book.to_journal(path) is None
    return book, path


def test_the_random_books_exercise_reversals_and_every_kind_of_reservation(exported):
    book, _ = exported
    statuses = {book.entry(i).status for i in range(1, book.entry_count + 1)}
    entries = [book.entry(i) for i in range(1, book.entry_count + 1)]
    reversals = sum(entry.reverses is not None for entry in entries)
    partial = sum(e.completes is not None and e.postings != book.entry(e.completes).postings for e in entries)

    assert {"posted", "pending", "pending_posted", "pending_voided", "pending_expired"} <= statuses
    assert reversals > 5
    assert partial > 0
    assert {a.currency for a in book.accounts() if book.balance(a.name) != 0} == set(PLACES)


def test_hledger_reads_the_same_balances_as_amends(exported):
    book, path = exported
    theirs = hledger_balances(path)

    assert len(theirs) > 10
    assert theirs == amends_balances(book)


@pytest.mark.parametrize("end", ["2026-03-31", "2026-06-30", "2026-11-30"])
def test_hledger_agrees_on_balances_as_of_a_date(exported, end):
    book, path = exported
    day = dt.date.fromisoformat(end)
    theirs = hledger_balances(path, "-e", str(day + dt.timedelta(days=1)))  # hledger's end date is exclusive

    assert theirs == amends_balances(book, as_of=day)


def test_ledger_cli_reads_the_same_balances_as_amends(exported):
    if shutil.which("ledger") is None:
        pytest.skip("ledger is not installed")
    book, path = exported

    assert ledger_balances(path) == amends_balances(book)


def test_the_exported_journal_text_is_what_to_journal_returns(exported):
    book, path = exported

    assert path.read_text() == book.to_journal()


def test_writing_a_journal_to_a_missing_directory_is_an_amends_io_error(tmp_path):
    with pytest.raises(amends.AmendsIOError):
        amends.Ledger().to_journal(tmp_path / "missing" / "book.journal")
