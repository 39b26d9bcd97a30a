"""Reports, each checked against sums computed here from the entries posted."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pandas as pd
import pytest

import amends
from helpers import C1, C2, C3, CASH, CHART, GOODWILL

D = Decimal
CONTRA = "Revenue:ContraRevenue:ServiceCredits"
TYPES = {name: type_ for name, type_, _, _, _ in CHART}
CURRENCY = {name: currency for name, _, currency, _, _ in CHART}
DIMENSIONS = {name: dims for name, _, _, dims, _ in CHART}

# Posted in this order; the second is dated before the first on purpose.
ENTRIES = [
    ("2026-01-20", [(GOODWILL, "30.00"), (C1, "-30.00")], "goodwill C1"),
    ("2026-01-10", [(GOODWILL, "12.50"), (C2, "-12.50")], "goodwill C2"),
    ("2026-01-31", [(CONTRA, "8.00"), (C1, "-8.00")], "SLA credit C1"),
    ("2026-02-03", [(C1, "20.00"), (CASH, "-20.00")], "refund C1"),
    ("2026-02-14", [("Expenses:EuroGoodwill", "40.00"), (C3, "-40.00")], "goodwill C3"),
    ("2026-02-28", [(CASH, "500.00"), ("Revenue:Subscriptions", "-500.00")], "invoice paid"),
    ("2026-03-01", [(C3, "15.00"), ("Assets:EuroBank", "-15.00")], "refund C3"),
    ("2026-03-15", [("Expenses:YenGoodwill", "1500"), ("Assets:YenBank", "-1500")], "yen goodwill"),
    ("2026-03-15", [(C2, "2.50"), (CONTRA, "-2.50")], "credit clawback"),
    ("2026-01-25", [(GOODWILL, "1.25"), (C1, "-0.25"), (C2, "-1.00")], "split goodwill"),
]
REVERSED = 8  # the clawback (entry ids are 1-based)
REVERSAL_DATE = "2026-03-20"


@pytest.fixture
def reported(book):
    for day, postings, description in ENTRIES:
        book.post(day, postings, description=description)
    book.reverse(REVERSED + 1, REVERSAL_DATE, "clawed back in error")
    # An open reservation and a voided one: neither is in any report of posted balances.
    book.reserve("2026-02-01", [(C1, "5.00"), (CASH, "-5.00")])
    voided = book.reserve("2026-02-01", [(GOODWILL, "9.00"), (C2, "-9.00")])
    book.void_pending(voided, "2026-02-02", "duplicate")
    return book


def postings(as_of=None, start=None):
    """(entry id, date, account, amount) of every posted posting, reversal included, from ENTRIES alone."""
    out = []
    for entry_id, (day, lines, _) in enumerate(ENTRIES, start=1):
        out += [(entry_id, dt.date.fromisoformat(day), account, D(amount)) for account, amount in lines]
    reversal_id = len(ENTRIES) + 1
    out += [(reversal_id, dt.date.fromisoformat(REVERSAL_DATE), a, -D(x)) for a, x in ENTRIES[REVERSED][1]]
    return [p for p in out if (as_of is None or p[1] <= as_of) and (start is None or p[1] >= start)]


def balances(as_of=None):
    sums: dict[str, Decimal] = defaultdict(D)
    for _, _, account, amount in postings(as_of):
        sums[account] += amount
    return sums


def test_the_expected_values_here_are_not_trivial():
    sums = balances()
    assert sums[C1] == D("-18.25")
    assert sums[C2] == D("-13.50")
    assert sums[CONTRA] == D("8.00")
    assert sums[GOODWILL] == D("43.75")


# ---------------------------------------------------------------- trial balance


@pytest.mark.parametrize("as_of", [None, dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 15)])
def test_the_trial_balance_lists_every_nonzero_account_on_its_side(reported, as_of):
    trial = reported.trial_balance(as_of=as_of)
    expected_rows = sorted(
        (name, TYPES[name], CURRENCY[name], amount if amount > 0 else D(0), -amount if amount < 0 else D(0))
        for name, amount in balances(as_of).items()
        if amount != 0
    )

    assert trial.rows == expected_rows
    assert trial.as_of == as_of


def test_the_trial_balance_totals_each_currency_and_balances(reported):
    trial = reported.trial_balance()
    expected: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
    for name, amount in balances().items():
        expected[CURRENCY[name]][0 if amount > 0 else 1] += abs(amount)

    assert trial.totals == {currency: tuple(sides) for currency, sides in expected.items()}
    assert list(trial.totals) == ["EUR", "JPY", "USD"]
    assert trial.totals["USD"] == (D("43.75") + D("8.00") + D("480.00"),) * 2
    assert trial.balanced


def test_the_trial_balance_converts_to_a_dataframe_and_text(reported):
    trial = reported.trial_balance("2026-02")
    frame = trial.to_pandas()

    assert list(frame.columns) == ["account", "type", "currency", "debit", "credit"]
    assert frame["account"].tolist() == [row[0] for row in trial.rows]
    usd = frame[frame["currency"] == "USD"]
    assert usd["debit"].sum() == usd["credit"].sum() == trial.totals["USD"][0]
    text = str(trial)
    assert text.startswith("Trial balance as of 2026-02-28")
    assert "Total" in text and C1 in text


def test_an_unbalanced_trial_balance_would_say_so():
    trial = amends.TrialBalance(None, [], {"USD": (D("1.00"), D("0.99"))})

    assert not trial.balanced


# ---------------------------------------------------------------- statement


def test_a_statement_reads_by_date_with_a_hand_computed_running_balance(reported):
    statement = reported.statement(C1)

    assert statement.account == C1 and statement.currency == "USD"
    assert statement.opening_balance == 0
    assert statement.lines == [
        (dt.date(2026, 1, 20), 1, "goodwill C1", D("-30.00"), D("-30.00")),
        (dt.date(2026, 1, 25), 10, "split goodwill", D("-0.25"), D("-30.25")),
        (dt.date(2026, 1, 31), 3, "SLA credit C1", D("-8.00"), D("-38.25")),
        (dt.date(2026, 2, 3), 4, "refund C1", D("20.00"), D("-18.25")),
    ]
    assert statement.closing_balance == D("-18.25")


@pytest.mark.parametrize(
    "account, start, end",
    [(C2, None, None), (C2, "2026-01-15", None), (C2, None, "2026-03-15"), (CONTRA, "2026-02-01", "2026-03-31"),
     (GOODWILL, dt.date(2026, 1, 11), dt.date(2026, 1, 25))],
)
def test_a_statement_has_an_opening_balance_lines_in_range_and_a_running_total(reported, account, start, end):
    first = dt.date.fromisoformat(start) if isinstance(start, str) else start
    last = dt.date.fromisoformat(end) if isinstance(end, str) else end
    mine = [p for p in postings() if p[2] == account]
    opening = sum((p[3] for p in mine if first is not None and p[1] < first), D(0))
    in_range = sorted(
        (p for p in mine if (first is None or p[1] >= first) and (last is None or p[1] <= last)),
        key=lambda p: (p[1], p[0]),
    )
    expected, running = [], opening
    for entry_id, day, _, amount in in_range:
        running += amount
        expected.append((day, entry_id, amount, running))

    statement = reported.statement(account, start, end)

    assert statement.opening_balance == opening
    assert [(d, e, a, b) for d, e, _, a, b in statement.lines] == expected
    assert statement.closing_balance == running
    assert statement.to_pandas()["balance"].tolist() == [line[3] for line in expected]
    if end is not None:
        assert statement.closing_balance == reported.balance(account, as_of=end)


def test_a_statement_range_that_ends_before_it_starts_is_refused(reported):
    with pytest.raises(amends.InvalidArgument, match="before it starts"):
        reported.statement(C1, "2026-02-01", "2026-01-01")


# ---------------------------------------------------------------- activity


def expected_activity(first=None, last=None):
    cells: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
    for _, day, account, amount in postings():
        period = f"{day.year:04d}-{day.month:02d}"
        if (first and period < first) or (last and period > last):
            continue
        cells[(account, period)][0 if amount > 0 else 1] += abs(amount)
    return [
        (account, CURRENCY[account], period, debits, credits, debits - credits)
        for (account, period), (debits, credits) in sorted(cells.items())
    ]


@pytest.mark.parametrize("first, last", [(None, None), ("2026-02", None), (None, "2026-01"), ("2026-02", "2026-03")])
def test_activity_sums_debits_and_credits_per_account_and_period(reported, first, last):
    frame = reported.activity(first, last)

    assert list(frame.columns) == ["account", "currency", "period", "debits", "credits", "net"]
    assert list(frame.itertuples(index=False, name=None)) == expected_activity(first, last)


def test_activity_nets_a_reversed_entry_within_its_period(reported):
    frame = reported.activity(amends.Period("2026-03"), amends.Period("2026-03"))
    contra = frame[frame["account"] == CONTRA].iloc[0]

    assert (contra["debits"], contra["credits"], contra["net"]) == (D("2.50"), D("2.50"), 0)


# ---------------------------------------------------------------- balance report, dimensions, rollup


def test_the_balance_report_adds_every_parent_per_currency(reported):
    expected: dict[tuple[str, str], Decimal] = defaultdict(D)
    depth = {}
    for name, amount in balances().items():
        if amount == 0:
            continue
        segments = name.split(":")
        for i in range(1, len(segments) + 1):
            prefix = ":".join(segments[:i])
            expected[(prefix, CURRENCY[name])] += amount
            depth[prefix] = i

    frame = reported.balance_report()

    assert list(frame.columns) == ["account", "depth", "currency", "amount"]
    rows = list(frame.itertuples(index=False, name=None))
    assert rows == [(name, depth[name], currency, amount) for (name, currency), amount in sorted(expected.items())]
    assert ("Liabilities", 1, "USD", D("-31.75")) in rows
    assert ("Liabilities:CustomerCredits", 2, "EUR", D("-25.00")) in rows


def test_the_balance_report_as_of_a_period_end(reported):
    frame = reported.balance_report("2026-01")
    amounts = {(a, c): x for a, _, c, x in frame.itertuples(index=False, name=None)}

    assert amounts[("Expenses", "USD")] == D("43.75")
    assert amounts[("Liabilities:CustomerCredits", "USD")] == D("-38.25") + D("-13.50")
    assert ("Expenses", "EUR") not in amounts


@pytest.mark.parametrize("dimension", ["customer", "team"])
def test_balances_by_a_dimension_sum_the_accounts_that_carry_it(reported, dimension):
    expected: dict[tuple[str, str], Decimal] = defaultdict(D)
    sums = balances()
    for name, dims in DIMENSIONS.items():
        if dimension in dims:
            expected[(dims[dimension], CURRENCY[name])] += sums.get(name, D(0))

    frame = reported.balances_by(dimension)

    assert list(frame.columns) == [dimension, "currency", "amount"]
    assert list(frame.itertuples(index=False, name=None)) == [(v, c, x) for (v, c), x in sorted(expected.items())]


def test_balances_by_a_dimension_can_be_limited_to_an_account_prefix(reported):
    frame = reported.balances_by("team", prefix="Liabilities")
    rows = set(frame.itertuples(index=False, name=None))

    assert rows == {("amer", "USD", balances()[C1] + balances()[C2]), ("emea", "EUR", balances()[C3])}
    assert reported.balances_by("nonexistent").empty


@pytest.mark.parametrize(
    "prefix",
    ["Liabilities:CustomerCredits", "Liabilities", "Expenses", "Revenue", "Assets", "", "Liabilities:CustomerCredits:C1"],
)
def test_a_rollup_sums_every_account_at_or_below_a_prefix_per_currency(reported, prefix):
    expected: dict[str, Decimal] = defaultdict(D)
    sums = balances()
    for name in CURRENCY:
        if prefix == "" or name == prefix or name.startswith(prefix + ":"):
            expected[CURRENCY[name]] += sums.get(name, D(0))

    assert reported.rollup(prefix) == dict(expected)


def test_a_rollup_matches_whole_name_segments_only(reported):
    assert reported.rollup("Liabilities:Customer") == {}
    assert reported.rollup("Expenses:Good") == {}


def test_the_whole_book_rolls_up_to_zero_per_currency(reported):
    assert reported.rollup("") == {"EUR": 0, "JPY": 0, "USD": 0}


# ---------------------------------------------------------------- raw postings and journal


def test_to_pandas_lists_every_posting_reservations_included(reported):
    frame = reported.to_pandas()

    assert list(frame.columns) == ["entry_id", "date", "account", "amount", "currency", "status"]
    posted = frame[frame["status"] == "posted"]
    assert sorted(posted.itertuples(index=False, name=None), key=lambda r: (r[0], r[2])) == sorted(
        ((e, d, a, x, CURRENCY[a], "posted") for e, d, a, x in postings()), key=lambda r: (r[0], r[2])
    )
    assert sorted(frame["status"].unique()) == ["pending", "pending_voided", "posted"]


def test_the_journal_holds_posted_entries_only(reported):
    journal = reported.to_journal()

    assert journal.count("; amends-entry:") == len(ENTRIES) + 1
    assert "    Expenses:YenGoodwill  1500 JPY" in journal
    assert "    Liabilities:CustomerCredits:C1  -30.00 USD" in journal
    assert "2026-03-20 * Reversal of entry #9: clawed back in error" in journal
    assert "; reverses: 9" in journal
    assert "    Liabilities:CustomerCredits:C2  9.00 USD" not in journal.replace("-9.00", "")
    assert pd.Series([journal]).str.count("\n\n").iloc[0] >= len(ENTRIES)


def test_read_postings_gives_the_frame_of_to_pandas_without_loading_the_book(reported):
    if not isinstance(reported, amends.Book):
        pytest.skip("read_postings reads a book in PostgreSQL")
    frame = amends.read_postings(reported.dsn, reported.name)

    expected = reported.to_pandas()
    assert frame.equals(expected)
    assert sorted(frame["status"].unique()) == ["pending", "pending_voided", "posted"]
    assert [type(x) for x in frame["amount"][:3]] == [Decimal] * 3
