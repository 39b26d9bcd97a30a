"""What crosses into amends as an amount or a date, and what comes back out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import amends
from helpers import C1, CASH, GOODWILL, JAN, grant

D = Decimal


def test_unchanged_notices_a_change(book, unchanged):
    """The refusal checks in this suite rely on it."""
    with pytest.raises(AssertionError), unchanged(book):
        grant(book, C1, "1.00")


# ---------------------------------------------------------------- accepted amounts


@pytest.mark.parametrize("amount", [D("12"), D("12.00"), D("12.0"), 12, "12", "12.00", "+12", D("1.2E+1")])
def test_decimal_int_and_str_amounts_post_the_same_value(book, amount):
    book.post(JAN, [(GOODWILL, amount), (CASH, "-12")])

    assert book.balance(GOODWILL) == D("12")
    assert str(book.balance(GOODWILL)) == "12.00"


@pytest.mark.parametrize(
    "amount, expected",
    [(D("1E+2"), "100.00"), (D("1E-2"), "0.01"), (D("-2.5E+3"), "-2500.00"), (D("12345E-2"), "123.45"), (D("0.10"), "0.10")],
)
def test_exponent_decimals_are_read_exactly(book, amount, expected):
    book.post(JAN, [(GOODWILL, amount), (CASH, -amount)])

    assert str(book.balance(GOODWILL)) == expected
    assert str(book.balance(CASH)) == str(-D(expected))
    assert book.entry(1).postings[0][1] == amount


def test_exponent_decimals_are_exact_in_the_money_helpers():
    assert amends.round_amount(D("1E+2"), 2) == 100
    assert amends.round_amount(D("1E-2"), 2) == D("0.01")
    assert amends.round_amount(D("5E-3"), 2) == 0  # half to even
    assert amends.allocate(D("1E+2"), [1, 1, 2], currency="USD") == [D("25"), D("25"), D("50")]


def test_a_large_int_amount_is_exact(book):
    amount = 92_233_720_368_547_758  # one posting holds up to 2**63 - 1 minor units
    book.post(JAN, [(GOODWILL, amount), (CASH, -amount)])

    assert book.balance(GOODWILL) == amount
    assert str(book.balance(GOODWILL)) == "92233720368547758.00"


def test_a_posting_beyond_what_one_posting_holds_is_refused_and_changes_nothing(book, unchanged):
    amount = 123_456_789_012_345_678
    with unchanged(book), pytest.raises(amends.AmountOverflow, match="beyond what one posting holds"):
        book.post(JAN, [(GOODWILL, amount), (CASH, -amount)])


# ---------------------------------------------------------------- refused amounts


def _float_calls(book):
    """Every place an amount is accepted, each given a float."""
    pending = book.reserve(JAN, [(GOODWILL, "10"), (CASH, "-10")])
    frame = pd.DataFrame(
        {"entry_id": ["e", "e"], "date": ["2026-01-15"] * 2, "account": [GOODWILL, CASH], "amount": [1.5, -1.5],
         "currency": ["USD", "USD"]}
    )
    mixed = frame.assign(amount=pd.Series([D("1.5"), -1.5], dtype=object))
    return {
        "post": lambda: book.post(JAN, [(GOODWILL, 1.5), (CASH, "-1.5")]),
        "post second posting": lambda: book.post(JAN, [(GOODWILL, "1.5"), (CASH, -1.5)]),
        "reserve": lambda: book.reserve(JAN, [(GOODWILL, 1.5), (CASH, "-1.5")]),
        "post_pending list": lambda: book.post_pending(pending, JAN, [5.0, "-5"]),
        "post_pending dict": lambda: book.post_pending(pending, JAN, {GOODWILL: 5.0, CASH: "-5"}),
        "create_account min": lambda: book.create_account("Assets:F1", "asset", min_normal_balance=0.0),
        "create_account max": lambda: book.create_account("Assets:F2", "asset", max_normal_balance=100.0),
        "set_balance_limit": lambda: book.set_balance_limit(C1, 0.0),
        "post_batch float column": lambda: book.post_batch(frame),
        "post_batch float in object column": lambda: book.post_batch(mixed),
        "post_batch dict of float arrays": lambda: book.post_batch(dict(frame) | {"amount": np.array([1.5, -1.5])}),
        "post_batch list of dicts": lambda: book.post_batch([{"date": JAN, "postings": [(GOODWILL, 1.5), (CASH, "-1.5")]}]),
        "round_amount": lambda: amends.round_amount(1.005, 2),
        "multiply amount": lambda: amends.multiply(10.0, "0.15", "USD"),
        "multiply rate": lambda: amends.multiply("10", 0.15, "USD"),
        "convert amount": lambda: amends.convert(10.0, "USD", "EUR", "0.9"),
        "convert rate": lambda: amends.convert("10", "USD", "EUR", 0.9),
        "allocate total": lambda: amends.allocate(100.0, [1, 2]),
        "allocate weight": lambda: amends.allocate("100", [1, 2.0]),
        "allocate_evenly": lambda: amends.allocate_evenly(100.0, 3, "USD"),
        "numpy float64": lambda: book.post(JAN, [(GOODWILL, np.float64(1.5)), (CASH, "-1.5")]),
    }


@pytest.mark.parametrize(
    "where",
    [
        "post", "post second posting", "reserve", "post_pending list", "post_pending dict", "create_account min",
        "create_account max", "set_balance_limit", "post_batch float column", "post_batch float in object column",
        "post_batch dict of float arrays", "post_batch list of dicts", "round_amount", "multiply amount",
        "multiply rate", "convert amount", "convert rate", "allocate total", "allocate weight", "allocate_evenly",
        "numpy float64",
    ],
)
def test_a_float_amount_is_a_type_error(book, unchanged, where):
    call = _float_calls(book)[where]

    with unchanged(book), pytest.raises(TypeError, match="float"):
        call()


@pytest.mark.parametrize("value", [True, False])
def test_a_bool_amount_is_a_type_error(book, unchanged, value):
    with unchanged(book), pytest.raises(TypeError, match="bool"):
        book.post(JAN, [(GOODWILL, value), (CASH, "-1")])
    with pytest.raises(TypeError, match="bool"):
        amends.round_amount(value, 2)
    with unchanged(book), pytest.raises(TypeError, match="bool"):
        book.create_account("Assets:B", "asset", min_normal_balance=value)


@pytest.mark.parametrize("value", [None, [1], b"12", object(), np.int64(12)])
def test_other_amount_types_are_type_errors(book, unchanged, value):
    with unchanged(book), pytest.raises(TypeError, match="decimal.Decimal, int or str"):
        book.post(JAN, [(GOODWILL, value), (CASH, "-12")])


@pytest.mark.parametrize("value", [D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity")])
def test_nan_and_infinity_are_refused(book, unchanged, value):
    with unchanged(book), pytest.raises(amends.InvalidArgument, match="finite"):
        book.post(JAN, [(GOODWILL, value), (CASH, "-1")])
    with pytest.raises(amends.InvalidArgument):
        amends.round_amount(value, 2)


@pytest.mark.parametrize("text", ["1,000.00", "1e3", " 12", "12 ", "1.2.3", "--1", "12.", "", "abc", "١٢"])
def test_malformed_amount_text_is_a_parse_error(book, unchanged, text):
    with unchanged(book), pytest.raises(amends.ParseError):
        book.post(JAN, [(GOODWILL, text), (CASH, "-12")])


def test_a_decimal_with_many_trailing_zeros_is_its_exact_value(book):
    book.post(JAN, [(GOODWILL, D("1.0000000000000000000")), (CASH, "-1")])

    assert book.balance(GOODWILL) == 1


# ---------------------------------------------------------------- returned amounts


def test_returned_amounts_are_decimals_with_the_currency_minor_digits(book):
    grant(book, C1, "25")
    book.post(JAN, [("Expenses:YenGoodwill", 1234), ("Assets:YenBank", "-1234")])
    book.post(JAN, [("Expenses:EuroGoodwill", D("0.5")), ("Assets:EuroBank", "-0.5")])

    values = [
        book.balance(GOODWILL),
        book.balance(C1),
        *(getattr(book.balance_detail(C1), f) for f in ("posted", "pending_debits", "pending_credits", "with_pending")),
        *(amount for _, amount, _ in book.entry(1).postings),
        *(row[3] for row in book.trial_balance().rows),
        *(row[4] for row in book.trial_balance().rows),
        *(line[3] for line in book.statement(GOODWILL).lines),
        *book.rollup("Expenses").values(),
    ]
    for value in values:
        assert type(value) is D
    assert repr(book.balance(GOODWILL)) == "Decimal('25.00')"
    assert repr(book.balance(C1)) == "Decimal('-25.00')"
    assert repr(book.balance("Assets:EuroBank")) == "Decimal('-0.50')"
    assert repr(book.balance("Expenses:YenGoodwill")) == "Decimal('1234')"
    assert repr(book.balance(CASH)) == "Decimal('0.00')"
    assert {str(v) for v in book.rollup("Expenses").values()} == {"25.00", "0.50", "1234"}
    for value in book.to_pandas()["amount"]:
        assert type(value) is D and value.as_tuple().exponent in (0, -2)


def test_money_helpers_return_the_currency_minor_digits():
    assert str(amends.multiply("10.00", "0.15", "USD")) == "1.50"
    assert str(amends.convert("10", "USD", "EUR", "0.9")) == "9.00"
    assert [str(p) for p in amends.allocate("100", [1, 1], currency="USD")] == ["50.00", "50.00"]
    assert [str(p) for p in amends.allocate_evenly("10", 2, "USD")] == ["5.00", "5.00"]


def test_money_helpers_round_to_the_currency(book):
    assert amends.multiply("10.00", "0.155", "USD") == D("1.55")
    assert amends.multiply("10.05", "0.5", "USD") == D("5.02")  # 5.025, half to even
    assert amends.multiply("10.05", "0.5", "USD", "half_up") == D("5.03")
    assert amends.convert("10", "USD", "JPY", "151.234") == 1512
    assert amends.round_amount("2.345", 2) == D("2.34")
    assert amends.round_amount("-2.345", 2, "half-up") == D("-2.35")
    assert amends.round_amount("2.341", 2, "ceiling") == D("2.35")
    assert amends.round_amount("-2.349", 2, "down") == D("-2.34")


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize("day", [dt.date(2026, 1, 15), "2026-01-15"])
def test_a_date_or_an_iso_string_posts_on_that_day(book, day):
    entry = grant(book, C1, "1.00", day=day)

    assert book.entry(entry).date == dt.date(2026, 1, 15)


def _datetime_calls(book):
    moment = dt.datetime(2026, 1, 15, 9, 30)
    original = grant(book, C1, "10.00")
    pending = book.reserve(JAN, [(C1, "1.00"), (CASH, "-1.00")])
    return {
        "post": lambda: grant(book, C1, "1.00", day=moment),
        "reserve": lambda: book.reserve(moment, [(C1, "1.00"), (CASH, "-1.00")]),
        "expires_on": lambda: book.reserve(JAN, [(C1, "1.00"), (CASH, "-1.00")], expires_on=moment),
        "reverse": lambda: book.reverse(original, moment, "x"),
        "post_pending": lambda: book.post_pending(pending, moment),
        "void_pending": lambda: book.void_pending(pending, moment, "x"),
        "expire_pending": lambda: book.expire_pending(moment),
        "balance as_of": lambda: book.balance(C1, as_of=moment),
        "trial_balance as_of": lambda: book.trial_balance(as_of=moment),
        "statement start": lambda: book.statement(C1, start=moment),
        "post_batch list": lambda: book.post_batch([{"date": moment, "postings": [(C1, "1.00"), (CASH, "-1.00")]}]),
        "post_batch object column": lambda: book.post_batch(
            {"entry_id": ["a", "a"], "date": pd.Series([moment, moment], dtype=object), "account": [C1, CASH],
             "amount": ["1", "-1"], "currency": ["USD", "USD"]}
        ),
        "Period.of": lambda: amends.Period.of(moment),
        "Period": lambda: amends.Period(moment),
    }


DATETIME_CALLS = [
    "post", "reserve", "expires_on", "reverse", "post_pending", "void_pending", "expire_pending", "balance as_of",
    "trial_balance as_of", "statement start", "post_batch list", "post_batch object column", "Period.of", "Period",
]


@pytest.mark.parametrize("where", DATETIME_CALLS)
def test_a_datetime_is_refused_where_a_date_is_expected(book, unchanged, where):
    call = _datetime_calls(book)[where]

    with unchanged(book), pytest.raises(TypeError):
        call()


@pytest.mark.parametrize(
    "text", ["2026-1-15", "2026-01-32", "2026-02-29", "2026/01/15", "20260115", "2026-W03-4", "15.01.2026", ""]
)
def test_a_malformed_date_is_a_parse_error(book, unchanged, text):
    with unchanged(book), pytest.raises(amends.ParseError):
        grant(book, C1, "1.00", day=text)


def test_as_of_accepts_a_date_an_iso_day_a_month_or_a_period(book):
    grant(book, C1, "1.00", day="2026-01-01")
    grant(book, C1, "2.00", day="2026-01-31")
    grant(book, C1, "4.00", day="2026-02-01")

    end_of_january = [dt.date(2026, 1, 31), "2026-01-31", "2026-01", amends.Period("2026-01"), amends.Period(2026, 1)]
    for as_of in end_of_january:
        assert book.balance(C1, as_of=as_of) == D("-3.00"), as_of
        assert book.rollup("Liabilities", as_of=as_of) == {"USD": D("-3.00"), "EUR": 0}
        assert book.trial_balance(as_of=as_of).as_of == dt.date(2026, 1, 31)
    assert book.balance(C1, as_of="2026-01-30") == D("-1.00")
    assert book.balance(C1, as_of="2025-12") == 0
    assert book.balance(C1, as_of=None) == book.balance(C1) == D("-7.00")


@pytest.mark.parametrize("as_of", ["2026-13", "2026-1", "01-2026", 202601, 2026.01])
def test_a_malformed_as_of_is_refused(book, as_of):
    with pytest.raises((amends.ParseError, TypeError)):
        book.balance(C1, as_of=as_of)
