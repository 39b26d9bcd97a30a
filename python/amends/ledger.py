"""The Python face of the in-memory ledger: DataFrames in and out.

Every rule and calculation lives in the compiled core (amends._core); this
module only converts between pandas/numpy and the core's plain values.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar, Union

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs needed to type-check amends

from amends import _core

AmountLike = Union[Decimal, int, str]
DateLike = Union[_dt.date, str]
AsOf = Union[_dt.date, str, _core.Period, None]

_KEY_COLUMNS = ("entry_id", "entry_key", "key")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    type: str
    currency: str
    dimensions: dict[str, str]
    min_normal_balance: Decimal | None
    max_normal_balance: Decimal | None
    closed: bool


@dataclass(frozen=True)
class Balance:
    """An account's balance: posted (debit positive) and open reservations."""

    posted: Decimal
    pending_debits: Decimal
    pending_credits: Decimal
    with_pending: Decimal
    currency: str


@dataclass(frozen=True)
class Entry:
    id: int
    date: _dt.date
    status: str
    description: str
    idempotency_key: str | None
    metadata: dict[str, str]
    postings: list[tuple[str, Decimal, str]]
    reverses: int | None
    reversed_by: int | None
    completes: int | None
    completed_by: int | None
    expires_on: _dt.date | None
    resolved_on: _dt.date | None
    reason: str | None


@dataclass(frozen=True)
class BatchResult:
    """Outcome of a batch: an entry id per entry (0 where nothing was posted)."""

    ids: np.ndarray
    created: int
    existing: int
    failures: pd.DataFrame

    @property
    def ok(self) -> bool:
        return self.failures.empty

    def to_pandas(self) -> pd.DataFrame:
        frame = pd.DataFrame({"entry_id": self.ids, "code": "ok", "message": ""})
        for row in self.failures.itertuples(index=False):
            frame.loc[row.index, ["code", "message"]] = [row.code, row.message]
        return frame


@dataclass(frozen=True)
class LoadResult:
    entries_posted: int
    entries_existing: int
    postings: int
    accounts_opened: int
    failures: pd.DataFrame = field(repr=False)


def _failures_frame(failures: Sequence[tuple[int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(list(failures), columns=["index", "code", "message"])


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)


@dataclass(frozen=True)
class TrialBalance:
    """Every account with a balance, in a debit or a credit column, and totals per currency."""

    as_of: _dt.date | None
    rows: list[tuple[str, str, str, Decimal, Decimal]]
    totals: dict[str, tuple[Decimal, Decimal]]

    @property
    def balanced(self) -> bool:
        return all(d == c for d, c in self.totals.values())

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["account", "type", "currency", "debit", "credit"])

    def __str__(self) -> str:
        rows = [(a, cur, d if d else "", c if c else "") for a, _, cur, d, c in self.rows]
        rows += [("Total", cur, d, c) for cur, (d, c) in self.totals.items()]
        title = "Trial balance" + (f" as of {self.as_of}" if self.as_of else "")
        return title + "\n" + _table(["account", "currency", "debit", "credit"], rows, [False, False, True, True])


@dataclass(frozen=True)
class Statement:
    """An account's postings in date order with a running balance."""

    account: str
    currency: str
    opening_balance: Decimal
    lines: list[tuple[_dt.date, int, str, Decimal, Decimal]]
    closing_balance: Decimal

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame(self.lines, columns=["date", "entry_id", "description", "amount", "balance"])

    def __str__(self) -> str:
        rows: list[tuple[Any, ...]] = [("", "", "opening balance", "", self.opening_balance)]
        rows += [(d, e, desc, amt, bal) for d, e, desc, amt, bal in self.lines]
        rows.append(("", "", "closing balance", "", self.closing_balance))
        return f"Statement of {self.account} ({self.currency})\n" + _table(
            ["date", "entry", "description", "amount", "balance"], rows, [False, True, False, True, True]
        )


def _int64(values: Any) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.int64)


def _int64_amounts(column: Any) -> np.ndarray:
    """An integer amount column as int64; an unsigned value past int64 would wrap, so it is refused."""
    values = column.to_numpy()
    if values.dtype.kind == "u" and len(values) and values.max() > np.iinfo(np.int64).max:
        row = int(np.flatnonzero(values > np.iinfo(np.int64).max)[0])
        raise _core.AmountOverflow(f"row {row}: the amount {values[row]} is beyond the 64-bit integer range")
    return _int64(values)


def _factorize(column: Any, what: str) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(pd.Series(column, copy=False), sort=False)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise _core.InvalidArgument(f"row {row}: the {what} is missing")
    # Text for each distinct value, converted by numpy/pandas rather than a Python loop.
    values = np.asarray(uniques)
    if values.dtype.kind in "iuU":
        names = values.astype(str).tolist()
    elif pd.api.types.infer_dtype(values, skipna=False) == "string":
        names = values.tolist()
    else:
        names = [str(u) for u in values]
    return _int64(codes), names


def _days(column: Any) -> np.ndarray:
    series = pd.Series(column, copy=False)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if series.isna().any():
            raise _core.InvalidArgument(f"row {int(np.flatnonzero(series.isna())[0])}: the date is missing")
        # A day is a calendar date: a timezone would shift it (numpy converts
        # to UTC) and a time of day would be dropped silently, so both are
        # refused like a datetime.datetime is.
        if getattr(series.dt, "tz", None) is not None:
            raise TypeError(
                "the date column is timezone-aware; pass calendar dates "
                "(e.g. column.dt.tz_localize(None).dt.normalize())"
            )
        stamps = series.to_numpy()
        days = stamps.astype("datetime64[D]")
        if (days != stamps).any():
            row = int(np.flatnonzero(days != stamps)[0])
            raise TypeError(f"row {row}: the date has a time of day; pass dates (e.g. column.dt.normalize())")
        return _int64(days.astype(np.int64))
    # Few distinct dates: convert those, then map the codes.
    codes, uniques = pd.factorize(series, sort=False)
    if (codes < 0).any():
        raise _core.InvalidArgument(f"row {int(np.flatnonzero(codes < 0)[0])}: the date is missing")
    epoch = _dt.date(1970, 1, 1)
    day_numbers = np.empty(len(uniques), dtype=np.int64)
    for i, value in enumerate(uniques):
        if isinstance(value, _dt.datetime):
            raise TypeError("dates must be datetime.date or 'YYYY-MM-DD' strings, not datetime")
        if isinstance(value, str):
            # The core's strict YYYY-MM-DD parse (as post() uses), so a batch
            # refuses what post() refuses ("2026-W02-1", "2026/01/05") with
            # the same ParseError.
            _core.Period.of(value)
            value = _dt.date.fromisoformat(value)
        if not isinstance(value, _dt.date):
            raise TypeError(f"dates must be datetime.date or 'YYYY-MM-DD' strings, not {type(value).__name__}")
        day_numbers[i] = (value - epoch).days
    return _int64(day_numbers[codes])


def _amounts(frame: Any, names: Iterable[str]) -> tuple[np.ndarray, int]:
    """The amount column and whether it holds minor units (the fast path)."""
    names = set(names)
    if "amount_minor" in names:
        column = pd.Series(frame["amount_minor"], copy=False)
        if column.dtype.kind not in "iu":
            raise TypeError("amount_minor must be an integer column of minor units (cents)")
        return _int64_amounts(column), 1
    if "amount" not in names:
        raise _core.InvalidArgument("the batch has no amount column (amount, or amount_minor in minor units)")
    column = pd.Series(frame["amount"], copy=False)
    kind = column.dtype.kind
    if kind == "f":
        raise TypeError(
            "the amount column holds floats, which can't hold money exactly; "
            "pass Decimal or str amounts, or integer minor units in amount_minor"
        )
    if kind in "iu":
        return _int64_amounts(column), 0
    return np.ascontiguousarray(column.to_numpy(dtype=object)), 0


class Ledger(_core.Ledger):
    """An in-memory double-entry ledger (one book).

    >>> book = Ledger(base_currency="USD")
    >>> book.create_account("Assets:Cash", "asset")
    ...
    """

    def __init__(self, base_currency: str = "USD", fiscal_year_start_month: int = 1, name: str = "main") -> None:
        super().__init__(base_currency, fiscal_year_start_month, name)

    # ------------------------------------------------------------------ what a Desk asks of its book

    def transaction(self, name: str, fn: Callable[[], _T]) -> _T:
        """Runs fn() -- any number of book and desk operations -- as one change to the book, and returns its value.

        An amends.Book runs it in one database transaction under the book's write lock (`name` is what its change
        log records). In memory each operation is atomic by itself (a refused one changes nothing) and fn() simply
        runs.
        """
        return fn()

    def sync(self) -> None:
        """Catches up with what other sessions committed (an amends.Book; in memory there are none)."""

    # ------------------------------------------------------------------ accounts

    def create_account(
        self,
        name: str,
        type: str,
        currency: str | None = None,
        *,
        dimensions: Mapping[str, str] | None = None,
        min_normal_balance: AmountLike | None = None,
        max_normal_balance: AmountLike | None = None,
        **dimension_values: str,
    ) -> Account:
        """Opens an account. type: asset, liability, equity, revenue, contra_revenue, expense or memo.

        Extra keywords are dimensions (customer="C1042", team="emea"). A
        balance limit bounds the normal balance, counting open reservations:
        min_normal_balance=0 keeps a customer credit from going negative.
        """
        dims = dict(dimensions or {})
        dims.update(dimension_values)
        for key, value in dims.items():
            if not isinstance(value, str):
                raise TypeError(f"dimension {key} must be a str, not {type_name(value)}")
        return Account(**self._create_account(name, type, currency, dims, min_normal_balance, max_normal_balance))

    def account(self, name: str, currency: str | None = None) -> Account:
        """The account of this name (in `currency`, when the name is open in several)."""
        return Account(**self._account(name, currency))

    def accounts(self) -> list[Account]:
        return [Account(**a) for a in self._accounts()]

    # ------------------------------------------------------------------ posting

    def post_batch(
        self,
        frame: Any,
        *,
        atomic: bool = True,
        open_missing_accounts: bool = False,
    ) -> BatchResult:
        """Posts many entries at once.

        frame is a pandas DataFrame or a dict of arrays with one row per
        posting: an entry key (entry_id), date, account, amount (or
        amount_minor), currency and optionally description; rows of one entry
        are consecutive. Fast path: amounts as str, or as integer minor units
        in an amount_minor column; Decimal objects work but cost a conversion
        each. A list of dicts (date, postings, description, idempotency_key,
        metadata) is accepted too.

        atomic=True posts everything or nothing and raises the first failure;
        atomic=False posts what it can and reports failures per entry.
        """
        if isinstance(frame, list):
            raw = self._post_entries(frame, atomic)
            return BatchResult(raw["ids"], raw["created"], raw["existing"], _failures_frame(raw["failures"]))
        names = list(frame.keys())
        key_name = next((k for k in _KEY_COLUMNS if k in names), None)
        if key_name is None:
            raise _core.InvalidArgument("the batch has no entry key column (entry_id)")
        for required in ("date", "account", "currency"):
            if required not in names:
                raise _core.InvalidArgument(f"the batch has no {required} column")
        key_codes, keys = _factorize(frame[key_name], "entry key")
        days = _days(frame["date"])
        account_codes, account_names = _factorize(frame["account"], "account")
        currency_codes, currency_names = _factorize(frame["currency"], "currency")
        amounts, minor = _amounts(frame, names)
        descriptions = None
        if "description" in names:
            descriptions = np.ascontiguousarray(pd.Series(frame["description"], copy=False).to_numpy(dtype=object))
        raw = self._post_columns(
            key_codes, keys, days, account_codes, account_names, currency_codes, currency_names,
            amounts, minor, descriptions, atomic, open_missing_accounts,
        )
        return BatchResult(raw["ids"], raw["created"], raw["existing"], _failures_frame(raw["failures"]))

    def load_csv(
        self,
        path: str | os.PathLike[str],
        *,
        open_missing_accounts: bool = False,
        key_prefix: str = "",
        atomic: bool = True,
    ) -> LoadResult:
        """Loads postings from a CSV with columns entry_id,date,account,amount,currency[,description].

        entry_id (after key_prefix) is each entry's idempotency key, so
        loading the same file twice posts nothing new. With
        open_missing_accounts an unknown account is opened with its type from
        its root name and its currency from its first posting. A malformed
        file is refused as a whole.
        """
        raw = self._load_csv(os.fspath(path), open_missing_accounts, key_prefix, atomic)
        return LoadResult(
            raw["entries_posted"], raw["entries_existing"], raw["postings"], raw["accounts_opened"],
            _failures_frame(raw["failures"]),
        )

    # ------------------------------------------------------------------ entries

    def entry(self, entry_id: int) -> Entry:
        return Entry(**self._entry(entry_id))

    # ------------------------------------------------------------------ queries

    def balance_detail(self, account: str, as_of: AsOf = None, *, currency: str | None = None) -> Balance:
        """Posted balance and open reservations of one account as of a date or period."""
        return Balance(*self._balance_detail(account, as_of, currency))

    def balances_by(self, dimension: str, as_of: AsOf = None, prefix: str = "") -> pd.DataFrame:
        """Posted balances summed by an account dimension (customer, team, ...) and currency."""
        rows = self._balances_by_dimension(dimension, as_of, prefix)
        return pd.DataFrame(rows, columns=[dimension, "currency", "amount"])

    def trial_balance(self, as_of: AsOf = None) -> TrialBalance:
        rows, totals = self._trial_balance(as_of)
        day = None
        if as_of is not None:
            day = as_of.last_day if isinstance(as_of, _core.Period) else (
                _core.Period(as_of).last_day if isinstance(as_of, str) and len(as_of) == 7 else
                _dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
            )
        return TrialBalance(day, rows, {cur: (d, c) for cur, d, c in totals})

    def statement(
        self, account: str, start: DateLike | None = None, end: DateLike | None = None, *, currency: str | None = None
    ) -> Statement:
        opening, lines, closing, account_currency = self._statement(account, start, end, currency)
        return Statement(account, account_currency, opening, lines, closing)

    def activity(self, first: Any = None, last: Any = None) -> pd.DataFrame:
        """Debits, credits and net per account and period (inclusive period range)."""
        return pd.DataFrame(
            self._activity(first, last), columns=["account", "currency", "period", "debits", "credits", "net"]
        )

    def balance_report(self, as_of: AsOf = None) -> pd.DataFrame:
        """Balances of every account and every parent name, like `ledger balance`."""
        return pd.DataFrame(self._balance_report(as_of), columns=["account", "depth", "currency", "amount"])

    def to_pandas(self) -> pd.DataFrame:
        """Every posting, reservations included (see the status column).

        account, currency and status are categorical; amount holds exact decimal.Decimal values.
        """
        return postings_frame(self._postings())

    def to_journal(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """Posted entries in ledger-cli/hledger journal syntax; written to path if given, else returned."""
        if path is None:
            return str(self._journal())
        self._write_journal(os.fspath(path))
        return None


def postings_frame(c: Any) -> pd.DataFrame:
    """The data frame of posting columns from the core (Ledger._postings, read_postings)."""

    def category(codes: str, names: str) -> pd.Categorical:
        return pd.Categorical.from_codes(c[codes], categories=pd.Index(c[names], dtype=object))

    return pd.DataFrame(
        {
            "entry_id": c["entry_id"],
            "date": c["date"],
            "account": category("account_codes", "account_names"),
            "amount": c["amount"],
            "currency": category("currency_codes", "currency_names"),
            "status": category("status_codes", "status_names"),
        },
        copy=False,
    )


def type_name(value: object) -> str:
    return type(value).__name__
