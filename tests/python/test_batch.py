"""post_batch: DataFrames, dicts of arrays and lists of entries; atomic and independent modes."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import amends
from helpers import C1, C2, C3, CASH, GOODWILL

D = Decimal


def frame(rows, **columns):
    """A postings frame from (entry_id, date, account, amount, currency) rows."""
    data = pd.DataFrame(rows, columns=["entry_id", "date", "account", "amount", "currency"])
    for name, values in columns.items():
        data[name] = values
    return data


GOOD = [
    ("g1", "2026-01-05", GOODWILL, "25.00", "USD"),
    ("g1", "2026-01-05", C1, "-25.00", "USD"),
    ("g2", "2026-01-06", GOODWILL, "10.50", "USD"),
    ("g2", "2026-01-06", C2, "-7.25", "USD"),
    ("g2", "2026-01-06", CASH, "-3.25", "USD"),
    ("g3", "2026-02-01", "Expenses:EuroGoodwill", "9.99", "EUR"),
    ("g3", "2026-02-01", C3, "-9.99", "EUR"),
]


def expected_balances(rows):
    sums: dict[str, Decimal] = {}
    for _, _, account, amount, _ in rows:
        sums[account] = sums.get(account, D(0)) + D(str(amount))
    return sums


def assert_balances(book, rows):
    for account, amount in expected_balances(rows).items():
        assert book.balance(account) == amount, account


def test_a_dataframe_of_string_amounts_posts_one_entry_per_key(book):
    result = book.post_batch(frame(GOOD, description=["a", "a", "b", "b", "b", "c", "c"]))

    assert result.ok
    assert result.created == 3 and result.existing == 0
    assert list(result.ids) == [1, 2, 3]
    assert result.failures.empty
    assert book.entry_count == 3 and book.posting_count == 7
    assert_balances(book, GOOD)
    second = book.entry(2)
    assert second.idempotency_key == "g2"
    assert second.date == dt.date(2026, 1, 6)
    assert second.description == "b"
    assert second.postings == [(GOODWILL, D("10.50"), "USD"), (C2, D("-7.25"), "USD"), (CASH, D("-3.25"), "USD")]
    assert list(result.to_pandas()["code"]) == ["ok", "ok", "ok"]


def test_decimal_amounts_post_the_same_as_strings(book):
    rows = [(k, d, a, D(amount), c) for k, d, a, amount, c in GOOD]
    data = frame(rows)
    data["amount"] = data["amount"].astype(object)

    assert book.post_batch(data).created == 3
    assert_balances(book, GOOD)


def test_int_amounts_are_whole_units(book):
    data = frame([("i1", "2026-01-05", GOODWILL, 7, "USD"), ("i1", "2026-01-05", C1, -7, "USD")])

    assert data["amount"].dtype.kind == "i"
    book.post_batch(data)
    assert str(book.balance(GOODWILL)) == "7.00"


def test_amount_minor_is_read_in_minor_units_of_each_currency(book):
    data = pd.DataFrame(
        {
            "entry_id": ["u", "u", "j", "j", "e", "e"],
            "date": ["2026-01-05"] * 6,
            "account": [GOODWILL, CASH, "Expenses:YenGoodwill", "Assets:YenBank", "Expenses:EuroGoodwill", C3],
            "amount_minor": np.array([1234, -1234, 1234, -1234, 5, -5], dtype=np.int64),
            "currency": ["USD", "USD", "JPY", "JPY", "EUR", "EUR"],
        }
    )
    book.post_batch(data)

    assert str(book.balance(GOODWILL)) == "12.34"
    assert str(book.balance(CASH)) == "-12.34"
    assert str(book.balance("Expenses:YenGoodwill")) == "1234"
    assert str(book.balance("Assets:YenBank")) == "-1234"
    assert str(book.balance(C3)) == "-0.05"


def test_amount_minor_must_be_integers(book, unchanged):
    data = frame(GOOD).drop(columns="amount").assign(amount_minor=["1"] * 7)

    with unchanged(book), pytest.raises(TypeError, match="amount_minor"):
        book.post_batch(data)


def test_an_unsigned_amount_minor_past_int64_is_refused_not_wrapped(book, unchanged):
    data = pd.DataFrame(
        {"entry_id": ["w", "w"], "date": ["2026-01-05"] * 2, "account": [GOODWILL, CASH],
         "amount_minor": np.array([2**63, 2**63], dtype=np.uint64), "currency": ["USD", "USD"]}
    )

    with unchanged(book), pytest.raises(amends.AmountOverflow):
        book.post_batch(data)


@pytest.mark.parametrize(
    "dates",
    [
        pd.to_datetime(["2026-01-05", "2026-01-05", "2026-01-06", "2026-01-06", "2026-01-06", "2026-02-01", "2026-02-01"]),
        [dt.date(2026, 1, 5)] * 2 + [dt.date(2026, 1, 6)] * 3 + [dt.date(2026, 2, 1)] * 2,
        np.array(["2026-01-05"] * 2 + ["2026-01-06"] * 3 + ["2026-02-01"] * 2, dtype="datetime64[D]"),
    ],
    ids=["datetime64[ns] column", "date objects", "datetime64[D] array"],
)
def test_dates_may_be_datetime64_or_date_objects(book, dates):
    data = frame(GOOD)
    data["date"] = dates
    book.post_batch(data)

    assert [book.entry(i).date for i in (1, 2, 3)] == [dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 2, 1)]
    assert_balances(book, GOOD)


@pytest.mark.parametrize(
    "dates, error",
    [
        (pd.to_datetime(["2026-01-05 13:45"] * 7), TypeError),
        (pd.to_datetime(["2026-01-05"] * 7).tz_localize("Asia/Tokyo"), TypeError),
        (["2026-W02-1"] * 7, amends.ParseError),
        (["2026/01/05"] * 7, amends.ParseError),
        (["2026-1-5"] * 7, amends.ParseError),
        ([None] * 7, amends.InvalidArgument),
        ([20260105] * 7, TypeError),
    ],
    ids=["time of day", "timezone", "ISO week date", "slashes", "short", "missing", "int"],
)
def test_a_date_column_post_would_refuse_is_refused(book, unchanged, dates, error):
    data = frame(GOOD)
    data["date"] = dates

    with unchanged(book), pytest.raises(error):
        book.post_batch(data)


def test_a_dict_of_arrays_works_like_a_dataframe(book):
    data = {
        "entry_id": np.array([101, 101, 102, 102]),
        "date": np.array(["2026-03-01", "2026-03-01", "2026-03-02", "2026-03-02"]),
        "account": [GOODWILL, C1, GOODWILL, C2],
        "amount": np.array(["1.10", "-1.10", "2.20", "-2.20"], dtype=object),
        "currency": ["USD"] * 4,
    }
    result = book.post_batch(data)

    assert result.created == 2
    assert book.entry(1).idempotency_key == "101"
    assert book.balance(GOODWILL) == D("3.30")


def test_reposting_a_batch_posts_nothing_new(book):
    book.post_batch(frame(GOOD))
    again = book.post_batch(frame(GOOD))

    assert again.created == 0 and again.existing == 3
    assert list(again.ids) == [1, 2, 3]
    assert book.entry_count == 3
    assert_balances(book, GOOD)


BAD_ENTRIES = {
    "unbalanced": ([("b", "2026-01-07", GOODWILL, "1.00", "USD"), ("b", "2026-01-07", CASH, "-2.00", "USD")],
                   amends.UnbalancedEntry, "unbalanced"),
    "unknown account": ([("b", "2026-01-07", GOODWILL, "1.00", "USD"), ("b", "2026-01-07", "Assets:Nope", "-1.00", "USD")],
                        amends.UnknownAccount, None),
    "too precise": ([("b", "2026-01-07", GOODWILL, "1.001", "USD"), ("b", "2026-01-07", CASH, "-1.001", "USD")],
                    amends.AmountTooPrecise, "amount_too_precise"),
    "currency": ([("b", "2026-01-07", GOODWILL, "1.00", "EUR"), ("b", "2026-01-07", CASH, "-1.00", "EUR")],
                 amends.CurrencyMismatch, "currency_mismatch"),
    "limit": ([("b", "2026-01-07", C1, "30.00", "USD"), ("b", "2026-01-07", CASH, "-30.00", "USD")],
              amends.BalanceLimitExceeded, "balance_limit_exceeded"),
    "closed period": ([("b", "2025-12-31", GOODWILL, "1.00", "USD"), ("b", "2025-12-31", CASH, "-1.00", "USD")],
                      amends.PeriodClosed, "period_closed"),
    "conflict": ([("g1", "2026-01-05", GOODWILL, "26.00", "USD"), ("g1", "2026-01-05", C1, "-26.00", "USD")],
                 amends.IdempotencyConflict, "idempotency_conflict"),
    "one posting": ([("b", "2026-01-07", GOODWILL, "1.00", "USD")], amends.InvalidEntry, "invalid_entry"),
}


@pytest.mark.parametrize("case", list(BAD_ENTRIES))
def test_an_atomic_batch_with_a_bad_entry_posts_nothing_and_raises_its_typed_error(book, unchanged, case):
    bad, error, _ = BAD_ENTRIES[case]
    book.close_period("2025-12")
    book.post_batch(frame(GOOD[:2]))  # g1, so that a changed g1 conflicts

    with unchanged(book), pytest.raises(error) as caught:
        book.post_batch(frame(GOOD[2:] + bad + [("z", "2026-01-08", GOODWILL, "1", "USD"), ("z", "2026-01-08", CASH, "-1", "USD")]))
    assert type(caught.value) is error
    if case != "unknown account":  # refused before any entry is built
        assert "entry " in str(caught.value)


@pytest.mark.parametrize("case", [case for case, (_, _, code) in BAD_ENTRIES.items() if code])
def test_an_independent_batch_posts_the_good_entries_and_reports_each_failure(book, case):
    bad, _, code = BAD_ENTRIES[case]
    book.close_period("2025-12")
    book.post_batch(frame(GOOD[:2]))
    tail = [("z", "2026-01-08", GOODWILL, "1", "USD"), ("z", "2026-01-08", CASH, "-1", "USD")]
    rows = GOOD[2:] + bad + tail

    result = book.post_batch(frame(rows), atomic=False)

    assert not result.ok
    assert result.created == 3  # g2, g3 and z
    assert list(result.ids) == [2, 3, 0, 4]
    assert list(result.failures.columns) == ["index", "code", "message"]
    assert result.failures.to_dict("list")["index"] == [2]
    assert result.failures["code"].tolist() == [code]
    assert result.failures["message"][0]
    summary = result.to_pandas()
    assert summary["code"].tolist() == ["ok", "ok", code, "ok"]
    assert_balances(book, GOOD + tail)


def test_an_independent_batch_reports_existing_entries_as_existing(book):
    book.post_batch(frame(GOOD[:2]))
    result = book.post_batch(frame(GOOD), atomic=False)

    assert result.created == 2 and result.existing == 1
    assert result.ok


def test_open_missing_accounts_opens_them_typed_by_root_name_in_the_first_postings_currency(book):
    rows = [
        ("n1", "2026-01-05", "Expenses:Refunds", "5.00", "EUR"),
        ("n1", "2026-01-05", "Liabilities:RefundsDue:C7", "-5.00", "EUR"),
        ("n2", "2026-01-05", "Revenue:ContraRevenue:Credits", "1", "JPY"),
        ("n2", "2026-01-05", "Income:Fees", "-1", "JPY"),
        ("n3", "2026-01-05", "Budget:Concessions:Available", "3.00", "USD"),
        ("n3", "2026-01-05", "Equity:Budget", "-3.00", "USD"),
        ("n4", "2026-01-05", "Assets:Receivables:C7", "3.00", "USD"),
        ("n4", "2026-01-05", CASH, "-3.00", "USD"),
    ]
    accounts_before = book.account_count

    with pytest.raises(amends.UnknownAccount, match="open_missing_accounts"):
        book.post_batch(frame(rows))
    assert book.account_count == accounts_before and book.entry_count == 0

    result = book.post_batch(frame(rows), open_missing_accounts=True)

    assert result.created == 4
    assert book.account_count == accounts_before + 7
    opened = {a.name: (a.type, a.currency) for a in book.accounts()}
    assert opened["Expenses:Refunds"] == ("expense", "EUR")
    assert opened["Liabilities:RefundsDue:C7"] == ("liability", "EUR")
    assert opened["Revenue:ContraRevenue:Credits"] == ("contra_revenue", "JPY")
    assert opened["Income:Fees"] == ("revenue", "JPY")
    assert opened["Budget:Concessions:Available"] == ("memo", "USD")
    assert opened["Equity:Budget"] == ("equity", "USD")
    assert opened["Assets:Receivables:C7"] == ("asset", "USD")
    assert_balances(book, rows)


def test_an_account_whose_type_can_not_be_told_is_not_opened(book, unchanged):
    rows = [("x", "2026-01-05", "Expenses:Fine", "1", "USD"), ("x", "2026-01-05", "Misc:Thing", "-1", "USD")]

    with unchanged(book), pytest.raises(amends.UnknownAccount, match="Misc:Thing"):
        book.post_batch(frame(rows), open_missing_accounts=True)


def test_a_failed_atomic_batch_also_undoes_the_accounts_it_opened(book, unchanged):
    rows = [("x", "2026-01-05", "Expenses:New", "1", "USD"), ("x", "2026-01-05", "Assets:New", "-2", "USD")]

    with unchanged(book), pytest.raises(amends.UnbalancedEntry):
        book.post_batch(frame(rows), open_missing_accounts=True)
    assert not book.has_account("Expenses:New")


@pytest.mark.parametrize(
    "mutate, error",
    [
        (lambda d: d.drop(columns="entry_id"), amends.InvalidArgument),
        (lambda d: d.drop(columns="currency"), amends.InvalidArgument),
        (lambda d: d.drop(columns="amount"), amends.InvalidArgument),
        (lambda d: d.assign(date=["2026-01-05", "2026-01-06"] + ["2026-01-06"] * 3 + ["2026-02-01"] * 2), amends.InvalidArgument),
        (lambda d: d.assign(account=[GOODWILL, None, GOODWILL, C2, CASH, GOODWILL, C3]), amends.InvalidArgument),
        (lambda d: d.assign(currency=["USD"] * 6 + ["XXQ"]), amends.UnknownCurrency),
        (lambda d: d.assign(amount=["25.00", "-25.00", "x", "1", "1", "1", "1"]), amends.ParseError),
    ],
    ids=["no key", "no currency", "no amount", "dates differ within an entry", "missing account", "bad currency",
         "bad amount"],
)
def test_a_malformed_batch_is_refused_as_a_whole_even_when_independent(book, unchanged, mutate, error):
    with unchanged(book), pytest.raises(error):
        book.post_batch(mutate(frame(GOOD)), atomic=False)


def test_a_list_of_entries_posts_each_with_its_key_description_and_metadata(book):
    entries = [
        {"date": "2026-01-05", "postings": [(GOODWILL, "5"), (C1, D("-5"))], "idempotency_key": "l1",
         "description": "first", "metadata": {"ticket": "7"}},
        {"date": dt.date(2026, 1, 6), "postings": [("Expenses:EuroGoodwill", 3, "EUR"), (C3, "-3", "EUR")]},
    ]
    result = book.post_batch(entries)

    assert result.created == 2 and list(result.ids) == [1, 2]
    assert book.entry(1).metadata == {"ticket": "7"}
    assert book.entry(1).description == "first"
    assert book.find_by_key("l1") == 1
    assert book.balance(C3) == D("-3.00")
    assert book.post_batch(entries[:1]).existing == 1


def test_a_list_of_entries_is_atomic_unless_asked_otherwise(book, unchanged):
    entries = [
        {"date": "2026-01-05", "postings": [(GOODWILL, "5"), (C1, "-5")]},
        {"date": "2026-01-05", "postings": [(GOODWILL, "5"), (C1, "-6")]},
        {"date": "2026-01-05", "postings": [(GOODWILL, "1"), (C2, "-1")]},
    ]

    with unchanged(book), pytest.raises(amends.UnbalancedEntry, match="entry 1 of the batch"):
        book.post_batch(entries)

    result = book.post_batch(entries, atomic=False)
    assert list(result.ids) == [1, 0, 2]
    assert result.failures.values.tolist()[0][:2] == [1, "unbalanced"]
    assert book.balance(GOODWILL) == D("6.00")


def test_an_atomic_batch_interrupted_by_a_python_error_posts_nothing(book, unchanged):
    class Unprintable(Decimal):
        def __str__(self) -> str:
            raise RuntimeError("no text for this amount")

    amounts = np.empty(4, dtype=object)
    amounts[:] = [D("1"), D("-1"), Unprintable("1"), D("-1")]
    data = {"entry_id": ["a", "a", "b", "b"], "date": ["2026-01-05"] * 4, "account": [GOODWILL, CASH] * 2,
            "amount": amounts, "currency": ["USD"] * 4}

    with unchanged(book), pytest.raises(RuntimeError):
        book.post_batch(data)


def test_an_atomic_batch_with_an_overflowing_entry_raises_instead_of_aborting(tmp_path):
    """Run in a child process: before the fix, the rollback tripped an AMENDS_ASSERT and aborted the process."""
    script = (
        "import amends\n"
        "book = amends.Ledger()\n"
        "book.create_account('Assets:A', 'asset')\n"
        "book.create_account('Expenses:B', 'expense')\n"
        "big = 2 * 10**20\n"
        "entry = {'date': '2026-01-01', 'postings': [('Assets:A', big), ('Expenses:B', -big)]}\n"
        "try:\n"
        "    book.post_batch([entry, entry | {'idempotency_key': 'second'}])\n"
        "except amends.AmountOverflow:\n"
        "    print('refused', book.entry_count, book.posting_count)\n"
    )
    package_root = str(Path(amends.__file__).resolve().parent.parent)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused", "0", "0"]


def test_a_list_batch_entry_with_an_unknown_field_is_refused_and_posts_nothing(book, unchanged):
    entries = [
        {"date": "2026-01-05", "postings": [(GOODWILL, "1.00"), (CASH, "-1.00")], "idempotency_key": "ok-1"},
        {"date": "2026-01-05", "postings": [(GOODWILL, "1.00"), (CASH, "-1.00")], "key": "typo"},
    ]
    with unchanged(book), pytest.raises(amends.InvalidArgument, match="unknown field \"key\""):
        book.post_batch(entries)
