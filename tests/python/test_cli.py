"""The command line and the tour (the main job on the embedded default)."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import amends


def run(*args: str, dsn: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if dsn is not None:
        env["AMENDS_DSN"] = dsn
    return subprocess.run([sys.executable, "-m", "amends", *args], capture_output=True, text=True, timeout=120, env=env)


CSV = (
    "entry_id,date,account,amount,currency,description\n"
    "1,2026-01-05,Revenue:ContraRevenue:ServiceCredits,26.56,USD,Outage concession C1\n"
    "1,2026-01-05,Liabilities:CustomerCredits:C1,-26.56,USD,Outage concession C1\n"
    "2,2026-02-07,Liabilities:CustomerCredits:C1,10.00,USD,Credit applied C1\n"
    "2,2026-02-07,Assets:Receivables:C1,-10.00,USD,Credit applied C1\n"
    "3,2026-02-09,Assets:Cash,200.00,EUR,Payment\n"
    "3,2026-02-09,Assets:Receivables:C2,-200.00,EUR,Payment\n"
)


def test_the_tour_runs_the_four_processes_once(pg_dsn: str):
    done = run("tour", dsn=pg_dsn)

    assert done.returncode == 0, done.stderr
    # 6 invoices, 3 budget allocations; each budgeted concession applied is a reservation, its
    # posting and the reservation consumed (T-01..T-04: 4 x 3), the refund one entry (no budget),
    # the retention offer a reservation, three monthly postings and the consumption (5).
    assert "(in PostgreSQL, book 'tour': 27 new entries)" in done.stdout
    assert "T-03: omar may not approve: omar requested this" in done.stdout
    assert "escalate_due() moved T-04 up" in done.stdout
    assert "hash chain intact" in done.stdout
    total = next(line for line in done.stdout.splitlines() if line.startswith("Total"))
    debit, credit = total.split()[-2:]
    assert debit == credit
    book = amends.open(pg_dsn, "tour", simulation=True)
    assert book.balance("ContraRevenue:ServiceCredits") == Decimal("720.00")  # 30% of 2,400.00
    assert book.balance("ContraRevenue:Goodwill") == Decimal("1310.00")  # 60 + 450 + 800; T-05 declined
    assert book.balance("ContraRevenue:Refunds") == Decimal("300.00")  # T-07 refused: 100.00 left of 400.00
    invoice = book.entry(book.find_by_key("inv-2026-11-C1041"))
    fee = next(amount for account, amount, _ in invoice.postings if account == "Assets:Receivables:C1041")
    monthly = (fee * Decimal("0.15")).quantize(Decimal("0.01"), rounding="ROUND_HALF_EVEN")
    assert book.balance("ContraRevenue:RetentionDiscounts") == 3 * monthly
    assert book.period_state("2026-10") == "closed"

    # Run again on the same book: nothing is posted twice.
    again = run("tour", dsn=pg_dsn)
    assert again.returncode == 0, again.stderr
    assert "(in PostgreSQL, book 'tour': 0 new entries)" in again.stdout
    assert "nothing was posted twice" in again.stdout
    assert amends.open(pg_dsn, "tour", simulation=True).entry_count == 27


def test_the_tour_runs_in_memory_too():
    done = run("tour", "--memory")

    assert done.returncode == 0, done.stderr
    assert "(in memory)" in done.stdout


def test_load_posts_a_csv_into_postgresql_exactly_once(tmp_path: Path, pg_migrated_dsn: str):
    path = tmp_path / "postings.csv"
    path.write_text(CSV)

    first = run("load", str(path), "--book", "billing", dsn=pg_migrated_dsn)
    second = run("load", str(path), "--book", "billing", dsn=pg_migrated_dsn)

    assert first.returncode == 0, first.stderr
    assert "3 entries posted, 0 already there, 5 accounts opened; 3 entries in all" in first.stdout
    assert "0 entries posted, 3 already there, 0 accounts opened; 3 entries in all" in second.stdout
    book = amends.open(pg_migrated_dsn, "billing")
    assert book.balance("Liabilities:CustomerCredits:C1") == Decimal("-16.56")
    assert book.balance("Assets:Cash", currency="EUR") == Decimal("200.00")


def test_balance_prints_every_account_and_parent_per_currency(tmp_path: Path):
    path = tmp_path / "postings.csv"
    path.write_text(CSV)

    done = run("balance", str(path))

    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()[1:]]
    found = {(cells[0], cells[1]): Decimal(cells[2]) for cells in lines}
    assert found == {
        ("Assets", "EUR"): Decimal("0.00"),
        ("Assets", "USD"): Decimal("-10.00"),
        ("Assets:Cash", "EUR"): Decimal("200.00"),
        ("Assets:Receivables", "EUR"): Decimal("-200.00"),
        ("Assets:Receivables", "USD"): Decimal("-10.00"),
        ("Assets:Receivables:C1", "USD"): Decimal("-10.00"),
        ("Assets:Receivables:C2", "EUR"): Decimal("-200.00"),
        ("Liabilities", "USD"): Decimal("-16.56"),
        ("Liabilities:CustomerCredits", "USD"): Decimal("-16.56"),
        ("Liabilities:CustomerCredits:C1", "USD"): Decimal("-16.56"),
        ("Revenue", "USD"): Decimal("26.56"),
        ("Revenue:ContraRevenue", "USD"): Decimal("26.56"),
        ("Revenue:ContraRevenue:ServiceCredits", "USD"): Decimal("26.56"),
    }


def test_monthly_balance_reports_debits_and_credits_per_month(tmp_path: Path):
    path = tmp_path / "postings.csv"
    path.write_text(CSV)

    done = run("balance", str(path), "--monthly")

    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    credits = {(r[0], r[2]): (Decimal(r[3]), Decimal(r[4])) for r in rows}
    assert credits[("Liabilities:CustomerCredits:C1", "2026-01")] == (Decimal("0.00"), Decimal("26.56"))
    assert credits[("Liabilities:CustomerCredits:C1", "2026-02")] == (Decimal("10.00"), Decimal("0.00"))


def test_journal_writes_the_books_that_load_back_to_the_same_balances(tmp_path: Path):
    path = tmp_path / "postings.csv"
    path.write_text(CSV)
    out = tmp_path / "books.journal"

    done = run("journal", str(path), "-o", str(out))

    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "2026-02-09 * Payment" in text
    assert "    Assets:Cash  200.00 EUR" in text
    book = amends.Ledger()
    book.load_csv(path, open_missing_accounts=True)
    assert text == book.to_journal()


def test_a_missing_file_exits_2_with_a_typed_message(tmp_path: Path):
    done = run("balance", str(tmp_path / "absent.csv"))

    assert done.returncode == 2
    assert "AmendsIOError" in done.stderr and "absent.csv" in done.stderr
