"""Hypothesis properties: balances are exact sums, the books always balance, allocation never loses a unit."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import amends

D = Decimal
PLACES = {"USD": 2, "EUR": 2, "JPY": 0}
ACCOUNTS = {
    currency: [
        (f"Assets:Bank:{currency}", "asset"),
        (f"Expenses:Goodwill:{currency}", "expense"),
        (f"Liabilities:Credits:{currency}", "liability"),
        (f"Revenue:Subscriptions:{currency}", "revenue"),
        (f"Revenue:ContraRevenue:Credits:{currency}", "contra_revenue"),
    ]
    for currency in PLACES
}
NAMES = {currency: [name for name, _ in accounts] for currency, accounts in ACCOUNTS.items()}
CURRENCY_OF = {name: currency for currency, names in NAMES.items() for name in names}

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def new_book() -> amends.Ledger:
    book = amends.Ledger()
    for currency, accounts in ACCOUNTS.items():
        for name, type_ in accounts:
            book.create_account(name, type_, currency)
    return book


def money(units: int, currency: str) -> Decimal:
    return D(units).scaleb(-PLACES[currency])


@st.composite
def legs(draw, currency):
    """Two to four postings in one currency that sum to zero, none of them zero."""
    count = draw(st.integers(2, 4))
    units = draw(st.lists(st.integers(-10**9, 10**9).filter(bool), min_size=count - 1, max_size=count - 1))
    last = -sum(units)
    if last == 0:
        units[0] += 1
        last = -sum(units)
    units.append(last)
    accounts = draw(st.lists(st.sampled_from(NAMES[currency]), min_size=count, max_size=count))
    return [(account, money(u, currency)) for account, u in zip(accounts, units)]


def as_input(draw, amount: Decimal):
    """The same amount as a Decimal, a str, or an int when it is whole."""
    kinds = ["decimal", "str"] + (["int"] if amount == amount.to_integral_value() else [])
    kind = draw(st.sampled_from(kinds))
    return amount if kind == "decimal" else str(amount) if kind == "str" else int(amount)


@st.composite
def entries(draw):
    """A date and balanced postings in one or two currencies."""
    currencies = draw(st.lists(st.sampled_from(sorted(PLACES)), min_size=1, max_size=2, unique=True))
    postings = [p for currency in currencies for p in draw(legs(currency))]
    day = draw(st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)))
    return day, [(account, as_input(draw, amount)) for account, amount in postings]


def python_sums(ledger_entries, as_of=None):
    sums: dict[str, Decimal] = defaultdict(D)
    for day, postings in ledger_entries:
        if as_of is None or day <= as_of:
            for account, amount in postings:
                sums[account] += D(amount)
    return sums


@PROPERTY
@given(st.lists(entries(), min_size=1, max_size=25))
def test_any_balanced_entries_keep_the_trial_balance_at_zero_and_balances_at_their_sums(ledger_entries):
    book = new_book()
    for day, postings in ledger_entries:
        book.post(day, postings)
    sums = python_sums(ledger_entries)

    trial = book.trial_balance()
    assert trial.balanced
    for currency, (debits, credits) in trial.totals.items():
        assert debits == credits
        assert debits == sum((v for a, v in sums.items() if CURRENCY_OF[a] == currency and v > 0), D(0))
    for name in CURRENCY_OF:
        assert book.balance(name) == sums.get(name, D(0))
    assert book.rollup("") == {currency: 0 for currency in PLACES}
    assert book.entry_count == len(ledger_entries)


@PROPERTY
@given(st.lists(entries(), min_size=1, max_size=20), st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)))
def test_a_balance_as_of_a_date_is_the_sum_of_the_postings_up_to_it(ledger_entries, as_of):
    book = new_book()
    for day, postings in ledger_entries:
        book.post(day, postings)
    sums = python_sums(ledger_entries, as_of)

    for name in CURRENCY_OF:
        assert book.balance(name, as_of=as_of) == sums.get(name, D(0))
    assert book.trial_balance(as_of=as_of).balanced


@PROPERTY
@given(st.lists(entries(), min_size=1, max_size=20))
def test_reversing_every_entry_nets_every_account_to_zero(ledger_entries):
    book = new_book()
    ids = [book.post(day, postings) for day, postings in ledger_entries]
    for entry_id, (day, _) in zip(ids, ledger_entries):
        book.reverse(entry_id, day + dt.timedelta(days=1), "undo")

    for name in CURRENCY_OF:
        assert book.balance(name) == 0
    assert book.trial_balance().rows == []
    assert book.entry_count == 2 * len(ledger_entries)


@PROPERTY
@given(st.lists(entries(), min_size=1, max_size=15))
def test_reposting_every_entry_with_its_key_posts_nothing_new(ledger_entries):
    book = new_book()
    first = [book.post(day, postings, idempotency_key=f"k{i}") for i, (day, postings) in enumerate(ledger_entries)]
    again = [book.post(day, postings, idempotency_key=f"k{i}") for i, (day, postings) in enumerate(ledger_entries)]

    assert again == first
    assert book.entry_count == len(ledger_entries)


@PROPERTY
@given(
    currency=st.sampled_from(sorted(PLACES)),
    units=st.integers(-(10**17), 10**17).filter(bool),
    kind=st.sampled_from(["decimal", "str", "exponent"]),
)
def test_an_amount_reads_back_exactly_as_posted(currency, units, kind):
    amount = money(units, currency)
    given_amount = {"decimal": amount, "str": str(amount), "exponent": amount.normalize()}[kind]
    book = new_book()
    debit, credit = NAMES[currency][0], NAMES[currency][1]
    entry = book.post("2026-06-30", [(debit, given_amount), (credit, -amount)])

    assert book.balance(debit) == amount
    assert book.balance(credit) == -amount
    assert book.entry(entry).postings[0][1] == amount
    assert book.balance(debit).as_tuple().exponent == -PLACES[currency]
    assert D(str(book.balance(debit))) == amount


@PROPERTY
@given(
    total_units=st.integers(-(10**12), 10**12),
    places=st.integers(0, 4),
    weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(any),
    as_text=st.booleans(),
)
def test_allocate_sums_exactly_to_the_total_and_each_part_is_within_one_unit_of_its_share(
    total_units, places, weights, as_text
):
    total = D(total_units).scaleb(-places)
    parts = amends.allocate(str(total) if as_text else total, [D(w) for w in weights], places=places)
    unit = Fraction(1, 10**places)

    assert len(parts) == len(weights)
    assert sum(parts, D(0)) == total
    for part, weight in zip(parts, weights):
        share = Fraction(total) * weight / sum(weights)
        assert abs(Fraction(part) - share) < unit
        assert -part.as_tuple().exponent <= max(places, 0) or part == 0


@PROPERTY
@given(
    currency=st.sampled_from(sorted(PLACES)),
    total_units=st.integers(0, 10**12),
    weights=st.lists(st.integers(0, 1000), min_size=1, max_size=8).filter(any),
)
def test_allocate_in_a_currency_splits_into_its_minor_units(currency, total_units, weights):
    total = money(total_units, currency)
    parts = amends.allocate(total, weights, currency=currency)
    evenly = amends.allocate_evenly(total, len(weights), currency)

    assert sum(parts, D(0)) == total
    assert sum(evenly, D(0)) == total
    minor = D(1).scaleb(-PLACES[currency])
    assert max(evenly) - min(evenly) <= minor
    for part in parts + evenly:
        assert part == part.quantize(minor)


@PROPERTY
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_refused(value):
    book = new_book()

    with pytest.raises(TypeError, match="float"):
        book.post("2026-01-01", [("Assets:Bank:USD", value), ("Expenses:Goodwill:USD", "-1")])
    with pytest.raises(TypeError, match="float"):
        amends.round_amount(value, 2)
    with pytest.raises(TypeError, match="float"):
        amends.allocate(value, [1, 1])
    assert book.entry_count == 0
