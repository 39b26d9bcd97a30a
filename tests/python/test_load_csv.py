"""load_csv on the benchmark workload (bench/workload.py), checked against the generator's exact sums."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

import amends
from helpers import REPO

ENTRIES = 2000
SEED = 7
GENERATOR = REPO / "bench" / "workload.py"


class Workload:
    def __init__(self, directory: Path) -> None:
        self.original = directory / "workload.csv"
        common = [sys.executable, str(GENERATOR), "-n", str(ENTRIES), "--seed", str(SEED)]
        subprocess.run([*common, "--format", "csv", "-o", str(self.original)], check=True)
        sums = subprocess.run([*common, "--sums"], check=True, capture_output=True, text=True).stdout

        with self.original.open(newline="") as f:
            self.rows = list(csv.DictReader(f))
        currencies = defaultdict(set)
        for row in self.rows:
            currencies[row["account"]].add(row["currency"])
        self.multi = {account for account, codes in currencies.items() if len(codes) > 1}
        self.entry_ids = list(dict.fromkeys(row["entry_id"] for row in self.rows))

        # The oracle: the generator's own exact sums, one line per (account, currency).
        self.sums: dict[tuple[str, str], Decimal] = {}
        for line in sums.splitlines():
            account, currency, amount = line.split("\t")
            self.sums[(account, currency)] = Decimal(amount)


@pytest.fixture(scope="module")
def workload(tmp_path_factory) -> Workload:
    return Workload(tmp_path_factory.mktemp("workload"))


@pytest.fixture
def loaded(workload, empty_book):
    """The workload loaded into an empty book, in memory and in PostgreSQL (see conftest.backend)."""
    result = empty_book.load_csv(workload.original, open_missing_accounts=True)
    return empty_book, result


def balances(book: amends.Ledger) -> dict[tuple[str, str], Decimal]:
    return {(a.name, a.currency): book.balance(a.name, currency=a.currency) for a in book.accounts()}


def test_the_workload_has_accounts_in_two_currencies(workload):
    """Some names carry two currencies; if the generator changes, this says so first."""
    assert "Assets:Cash" in workload.multi
    assert {currency for (_, currency) in workload.sums} == {"USD", "EUR"}
    assert len(workload.entry_ids) == ENTRIES


def test_a_name_in_two_currencies_is_opened_once_per_currency(workload, loaded):
    book, _ = loaded

    for name in workload.multi:
        currencies = {a.currency for a in book.accounts() if a.name == name}
        assert currencies == {"USD", "EUR"}, name
        with pytest.raises(amends.InvalidArgument, match="several currencies"):
            book.balance(name)
    cash = book.rollup("Assets:Cash")
    assert cash == {c: v for (a, c), v in workload.sums.items() if a == "Assets:Cash"}


def test_an_independent_load_of_the_workload_posts_every_entry(workload):
    book = amends.Ledger()
    result = book.load_csv(workload.original, open_missing_accounts=True, atomic=False)

    assert result.entries_posted == ENTRIES
    assert result.failures.empty
    assert balances(book) == workload.sums


def test_without_opening_accounts_a_name_in_a_new_currency_is_a_currency_mismatch():
    book = amends.Ledger()
    book.create_account("Assets:Cash", "asset", "USD")

    with pytest.raises(amends.CurrencyMismatch, match="Assets:Cash"):
        book.post("2026-01-05", [("Assets:Cash", "1.00", "EUR"), ("Assets:Cash", "-1.00", "USD")])
    book.create_account("Assets:Cash", "asset", "EUR")
    book.create_account("Equity:Opening", "equity", "EUR")
    book.post("2026-01-05", [("Assets:Cash", "1.00", "EUR"), ("Equity:Opening", "-1.00", "EUR")])
    assert book.balance("Assets:Cash", currency="EUR") == Decimal("1.00")
    assert book.balance("Assets:Cash", currency="USD") == Decimal("0.00")


def test_loaded_balances_equal_the_generators_exact_sums(workload, loaded):
    book, result = loaded

    assert result.entries_posted == ENTRIES
    assert result.entries_existing == 0
    assert result.postings == len(workload.rows) == book.posting_count
    assert result.failures.empty
    assert result.accounts_opened == len(workload.sums) == book.account_count
    loaded_balances = balances(book)
    assert loaded_balances == workload.sums
    for (name, currency), amount in loaded_balances.items():
        assert amount.as_tuple().exponent == -2, (name, amount)


def test_the_database_holds_what_was_loaded(workload, loaded):
    book, _ = loaded
    if not isinstance(book, amends.Book):
        pytest.skip("a book in PostgreSQL")

    fresh = amends.open(book.dsn, book.name, create=False)  # read back from the database by COPY
    assert fresh.entry_count == ENTRIES and fresh.posting_count == len(workload.rows)
    assert balances(fresh) == workload.sums
    frame = amends.read_postings(book.dsn, book.name)
    assert len(frame) == len(workload.rows)
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for account, currency, amount in zip(frame["account"], frame["currency"], frame["amount"]):
        sums[(account, currency)] += amount
    assert {key: value for key, value in sums.items()} == {k: v for k, v in workload.sums.items() if k in sums}
    assert all(v == 0 for k, v in workload.sums.items() if k not in sums)


def test_opened_accounts_take_their_type_from_the_root_name(loaded):
    book, _ = loaded
    types = {a.name: a.type for a in book.accounts()}

    assert types["Assets:Cash"] == "asset"
    assert types["Revenue:ContraRevenue:ServiceCredits"] == "contra_revenue"
    assert types["Revenue:Subscriptions"] == "revenue"
    assert types["Budget:Concessions:Available"] == "memo"
    assert {types[name] for name in types if name.startswith("Liabilities:CustomerCredits:")} == {"liability"}


def test_reloading_the_file_posts_nothing_new(workload, loaded):
    book, _ = loaded
    before = balances(book)

    again = book.load_csv(workload.original, open_missing_accounts=True)

    assert again.entries_posted == 0
    assert again.entries_existing == ENTRIES
    assert again.postings == 0 and again.accounts_opened == 0
    assert book.entry_count == ENTRIES
    assert balances(book) == before


def test_a_key_prefix_makes_a_second_load_new_entries(workload, loaded):
    book, _ = loaded

    again = book.load_csv(workload.original, key_prefix="copy-")

    assert again.entries_posted == ENTRIES
    assert book.find_by_key("copy-1") == ENTRIES + 1
    assert balances(book) == {key: 2 * amount for key, amount in workload.sums.items()}


def test_the_trial_balance_totals_equal_per_currency_and_match_the_oracle(workload, loaded):
    book, _ = loaded
    trial = book.trial_balance()

    assert trial.balanced
    assert set(trial.totals) == {"USD", "EUR"}
    for currency, (debits, credits) in trial.totals.items():
        assert debits == credits
        assert debits == sum(v for (_, c), v in workload.sums.items() if c == currency and v > 0)
        assert credits == -sum(v for (_, c), v in workload.sums.items() if c == currency and v < 0)
    frame = trial.to_pandas()
    assert len(frame) == sum(1 for v in workload.sums.values() if v != 0)


def test_load_csv_and_post_batch_agree(workload, loaded):
    book, _ = loaded
    data = pd.read_csv(workload.original, dtype=str, keep_default_na=False)

    other = amends.Ledger()
    result = other.post_batch(data, open_missing_accounts=True)

    assert result.created == ENTRIES
    assert balances(other) == balances(book)
    assert other.entry(17) == book.entry(17)


@pytest.mark.parametrize(
    "bad_line, error",
    [
        ("9999,2026-12-31,Assets:Cash:USD,1.0.0,USD,x", amends.ParseError),
        ("9999,2026-13-31,Assets:Cash:USD,1.00,USD,x", amends.ParseError),
        ("9999,2026-12-31,Assets:Cash:USD,1.00,USD", amends.ParseError),
        ("9999,2026-12-31,Assets:Cash:USD,1.00,XXQ,x", amends.UnknownCurrency),
        ('9999,2026-12-31,"Assets:Cash:USD,1.00,USD,x', amends.ParseError),
    ],
    ids=["amount", "date", "field count", "currency", "open quote"],
)
@pytest.mark.parametrize("atomic", [True, False])
def test_a_malformed_file_is_refused_as_a_whole(workload, tmp_path, bad_line, error, atomic):
    path = tmp_path / "bad.csv"
    text = workload.original.read_text()
    path.write_text(text + bad_line + "\n")
    book = amends.Ledger()

    with pytest.raises(error, match="line"):
        book.load_csv(path, open_missing_accounts=True, atomic=atomic)
    assert book.entry_count == 0
    assert book.account_count == 0


def test_a_file_without_the_needed_columns_is_a_parse_error(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("entry_id,date,account,amount\n1,2026-01-01,Assets:Cash,1.00\n")

    with pytest.raises(amends.ParseError, match="currency"):
        amends.Ledger().load_csv(path)


def test_an_atomic_load_with_an_unbalanced_entry_posts_nothing(workload, tmp_path):
    path = tmp_path / "unbalanced.csv"
    path.write_text(
        workload.original.read_text()
        + "9999,2026-12-31,Assets:Cash:USD,1.00,USD,x\n9999,2026-12-31,Revenue:Subscriptions:USD,-2.00,USD,x\n"
    )
    book = amends.Ledger()

    with pytest.raises(amends.UnbalancedEntry, match="entry_id 9999"):
        book.load_csv(path, open_missing_accounts=True)
    assert book.entry_count == 0 and book.account_count == 0

    result = book.load_csv(path, open_missing_accounts=True, atomic=False)
    assert result.entries_posted == ENTRIES
    assert result.failures.values.tolist() == [[ENTRIES, "unbalanced", result.failures["message"][0]]]


def test_a_missing_file_is_an_amends_io_error(tmp_path):
    with pytest.raises(amends.AmendsIOError) as caught:
        amends.Ledger().load_csv(tmp_path / "absent.csv")

    assert isinstance(caught.value, OSError)


def test_quoted_fields_with_doubled_quotes_and_commas_are_read_exactly(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(
        "entry_id,date,account,amount,currency,description\r\n"
        '"q""1",2026-01-05,"Expenses:Goodwill ""VIP""",1.00,USD,"Credit, ""sorry"" for the outage"\r\n'
        '"q""1",2026-01-05,Assets:Cash,-1.00,USD,"Credit, ""sorry"" for the outage"\r\n'
    )
    book = amends.Ledger()

    result = book.load_csv(path, open_missing_accounts=True)

    assert result.entries_posted == 1
    entry = book.entry(1)
    assert entry.idempotency_key == 'q"1'
    assert entry.description == 'Credit, "sorry" for the outage'
    assert entry.postings[0][0] == 'Expenses:Goodwill "VIP"'
    assert book.balance('Expenses:Goodwill "VIP"') == Decimal("1.00")
