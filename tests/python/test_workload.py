"""bench/workload.py: deterministic, balanced, and its --sums equal to sums made here from its CSV."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from helpers import REPO

GENERATOR = REPO / "bench" / "workload.py"
FORMATS = ("csv", "ledger", "beancount")


def run(*args: str, generator: Path = GENERATOR) -> bytes:
    return subprocess.run([sys.executable, str(generator), *args], check=True, capture_output=True).stdout


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others():
    for fmt in FORMATS:
        first = run("-n", "500", "--seed", "3", "--format", fmt)
        assert first == run("-n", "500", "--seed", "3", "--format", fmt), fmt
        assert first != run("-n", "500", "--seed", "4", "--format", fmt), fmt
    assert run("-n", "500", "--seed", "3", "--sums") == run("-n", "500", "--seed", "3", "--sums")


def test_every_entry_balances_exactly_in_each_currency():
    rows = rows_of(run("-n", "3000", "--seed", "11"))
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    postings: dict[str, int] = defaultdict(int)
    for row in rows:
        assert row["amount"] == f"{Decimal(row['amount']):.2f}", row  # two places, written exactly
        totals[(row["entry_id"], row["currency"])] += Decimal(row["amount"])
        postings[row["entry_id"]] += 1

    assert list(postings) == [str(i) for i in range(1, 3001)]  # numbered 1..N, rows of an entry consecutive
    assert min(postings.values()) >= 2
    assert {currency for _, currency in totals} == {"USD", "EUR"}
    assert {key: value for key, value in totals.items() if value != 0} == {}
    dates = [row["date"] for row in rows]
    assert dates == sorted(dates) and dates[0] >= "2026-01-01" and dates[-1] <= "2026-12-31"


def test_the_sums_equal_sums_computed_from_the_csv():
    rows = rows_of(run("-n", "3000", "--seed", "11"))
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        expected[(row["account"], row["currency"])] += Decimal(row["amount"])

    lines = run("-n", "3000", "--seed", "11", "--sums").decode("utf-8").splitlines()
    got = {}
    for line in lines:
        account, currency, amount = line.split("\t")
        got[(account, currency)] = Decimal(amount)

    assert got == dict(expected)
    assert [line.split("\t")[:2] for line in lines] == sorted([list(key) for key in expected])


def test_all_formats_writes_the_three_files_as_single_runs_do(tmp_path):
    prefix = tmp_path / "w"
    run("-n", "200", "--seed", "5", "--all-formats", "--prefix", str(prefix))

    for fmt, suffix in (("csv", "csv"), ("ledger", "journal"), ("beancount", "beancount")):
        assert (tmp_path / f"w.{suffix}").read_bytes() == run("-n", "200", "--seed", "5", "--format", fmt)


# ---------------------------------------------------------------- the same bytes as the generator it replaces

def _reference() -> Path:
    for candidate in (REPO.parent / "shared" / "bench" / "gen_workload.py", Path("/work/shared/bench/gen_workload.py")):
        if candidate.exists():
            return candidate
    pytest.skip("the reference generator is not beside the repository")


@pytest.mark.parametrize("entries, seed", [(2000, 42), (2000, 7), (4999, 1)])
def test_byte_identical_to_the_reference_generator(entries, seed):
    reference = _reference()
    common = ("-n", str(entries), "--seed", str(seed))
    for fmt in FORMATS:
        assert run(*common, "--format", fmt) == run(*common, "--format", fmt, generator=reference), fmt
    assert run(*common, "--sums") == run(*common, "--sums", generator=reference)
    assert run(*common, "--customers", "17") == run(*common, "--customers", "17", generator=reference)
