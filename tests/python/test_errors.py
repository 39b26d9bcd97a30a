"""One exception tree under amends.AmendsError, with messages that say what to fix."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest

import amends
from helpers import C1, CASH, GOODWILL, JAN, grant

EXCEPTIONS = [
    getattr(amends, name) for name in amends.__all__ if inspect.isclass(getattr(amends, name))
    and issubclass(getattr(amends, name), BaseException)
]


def test_amends_exports_its_whole_exception_tree():
    names = {cls.__name__ for cls in EXCEPTIONS}

    assert len(EXCEPTIONS) == 35
    assert {"AmendsError", "UnbalancedEntry", "PeriodClosed", "IdempotencyConflict", "AmendsIOError", "StoreError",
            "SchemaError", "BudgetExceeded", "NotFound", "RequestStateError", "CloseRefused", "BillingImportError",
            "InvalidName", "NotAuthorised", "Impersonation"} <= names
    assert issubclass(amends.SchemaError, amends.StoreError)
    assert issubclass(amends.InvalidText, amends.InvalidArgument)
    assert issubclass(amends.BudgetExceeded, amends.BalanceLimitExceeded)
    assert issubclass(amends.NotFound, LookupError)


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda cls: cls.__name__)
def test_every_exception_class_is_an_amends_error(cls):
    assert issubclass(cls, amends.AmendsError)
    assert issubclass(cls, Exception)
    assert cls.__module__ == "amends"
    assert cls.__doc__


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (amends.ParseError, ValueError),
        (amends.InvalidArgument, ValueError),
        (amends.InvalidText, amends.InvalidArgument),
        (amends.UnknownCurrency, ValueError),
        (amends.CurrencyMismatch, ValueError),
        (amends.AmountTooPrecise, ValueError),
        (amends.AmountOverflow, ArithmeticError),
        (amends.EntryNotFound, LookupError),
        (amends.AmendsIOError, OSError),
        (amends.UnbalancedEntry, amends.InvalidEntry),
    ],
    ids=lambda value: value.__name__,
)
def test_exceptions_keep_the_builtin_base_callers_expect(cls, builtin):
    assert issubclass(cls, builtin)


def test_ledger_rule_exceptions_are_not_value_errors():
    for cls in (amends.PeriodClosed, amends.BalanceLimitExceeded, amends.IdempotencyConflict, amends.InvalidEntry):
        assert not issubclass(cls, ValueError), cls


def test_a_typed_error_can_be_caught_as_amends_error(book):
    with pytest.raises(amends.AmendsError) as caught:
        book.post(JAN, [(GOODWILL, "1"), (CASH, "-2")])

    assert type(caught.value) is amends.UnbalancedEntry


def _refusals(book):
    grant(book, C1, "5.00")
    book.reverse(1, JAN, "mistake")
    book.create_account("Expenses:Old", "expense")
    book.close_account("Expenses:Old")
    book.close_period("2025-12")
    book.lock_period("2026-03")
    ok = [(GOODWILL, "1.00"), (C1, "-1.00")]
    return {
        "unbalanced": (lambda: book.post(JAN, [(GOODWILL, "1"), (CASH, "-2")]), amends.UnbalancedEntry,
                       ["USD credits exceed debits by 1", "sum to zero per currency"]),
        "too precise": (lambda: book.post(JAN, [(GOODWILL, "0.001"), (CASH, "-0.001")]), amends.AmountTooPrecise,
                        ["0.001", "2 minor digits", "round it first"]),
        "unknown account": (lambda: book.post(JAN, [("Assets:Gone", "1"), (CASH, "-1")]), amends.UnknownAccount,
                            ["Assets:Gone", "create it first"]),
        "closed account": (lambda: book.post(JAN, [("Expenses:Old", "1"), (CASH, "-1")]), amends.AccountClosed,
                           ["Expenses:Old", "closed"]),
        "currency": (lambda: book.post(JAN, [(GOODWILL, "1", "EUR"), (CASH, "-1")]), amends.CurrencyMismatch,
                     ["EUR", "holds USD"]),
        "closed period": (lambda: book.post("2025-12-31", ok), amends.PeriodClosed,
                          ["2025-12", "post the correction in an open period"]),
        "locked period": (lambda: book.post("2026-03-31", ok), amends.PeriodLocked, ["2026-03", "override"]),
        "limit": (lambda: book.post(JAN, [(C1, "0.01"), (CASH, "-0.01")]), amends.BalanceLimitExceeded,
                  [C1, "-0.01 USD", "below its limit of 0.00 USD"]),
        "conflict": (lambda: grant(book, C1, "1.00", idempotency_key="k") and grant(book, C1, "2.00", idempotency_key="k"),
                     amends.IdempotencyConflict, ['"k"', "use a new key"]),
        "reversed": (lambda: book.reverse(1, JAN, "again"), amends.AlreadyReversed, ["entry #1", "entry #2"]),
        "no entry": (lambda: book.entry(41), amends.EntryNotFound, ["#41"]),
        "float": (lambda: book.post(JAN, [(GOODWILL, 0.1), (CASH, "-0.1")]), TypeError,
                  ["float", "0.1", "decimal.Decimal, int or str"]),
        "datetime": (lambda: book.post(dt.datetime(2026, 1, 15, 8), ok), TypeError, ["datetime", ".date()"]),
        "date text": (lambda: book.post("2026-1-15", ok), amends.ParseError, ["2026-1-15", "YYYY-MM-DD"]),
        "amount text": (lambda: book.post(JAN, [(GOODWILL, "1,000"), (CASH, "-1000")]), amends.ParseError,
                        ["1,000", "grouping"]),
        "currency code": (lambda: amends.currency("usd"), amends.UnknownCurrency, ["usd", "ISO 4217"]),
        "period state": (lambda: book.set_period_state("2026-03", "open") or book.close_period("2026-03")
                         or book.lock_period("2026-03"), amends.InvalidPeriodTransition, ["2026-03", "closed"]),
        "rounding": (lambda: amends.round_amount("1", 2, "nearest"), amends.InvalidArgument,
                     ["nearest", "half_even"]),
        "missing file": (lambda: book.load_csv("/nonexistent/postings.csv"), amends.AmendsIOError,
                         ["/nonexistent/postings.csv"]),
        "nul byte": (lambda: book.post(JAN, ok, description="credit\x00"), amends.InvalidText,
                     ["description", "NUL byte at position 6", "remove it"]),
    }


@pytest.mark.parametrize(
    "case",
    ["unbalanced", "too precise", "unknown account", "closed account", "currency", "closed period", "locked period",
     "limit", "conflict", "reversed", "no entry", "float", "datetime", "date text", "amount text", "currency code",
     "period state", "rounding", "missing file", "nul byte"],
)
def test_a_refusal_message_names_the_problem_and_what_to_fix(book, case):
    call, error, phrases = _refusals(book)[case]

    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    for phrase in phrases:
        assert phrase in message
