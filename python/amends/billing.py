"""What the billing system did, in one shape for every source: the input of reconciliation.

An importer (amends.importers) reads a billing system's export -- Stripe's
API JSON or CSV reports, Zuora, NetSuite, Lago, or any CSV through a mapping
file -- into a BillingBatch: one row per credit given to a customer (a credit
note, a refund, a customer balance credit, a credit memo), with

    source      "stripe", "zuora", "netsuite", "lago" or the mapping's name
    file, line  where the row came from (line: 1-based line of a CSV, or the
                position of the object in a JSON file)
    id          the billing system's id of the object (cn_..., re_..., CM-00042)
    object      credit_note, refund, balance_credit, credit_memo
    customer    the billing system's customer id
    currency    ISO 4217, upper case
    amount_minor  integer, in the currency's minor unit, positive: given to the
                customer (a Stripe balance transaction of -500 is a credit of 500)
    date        datetime.date the credit was issued or the refund created (UTC)
    status      ok, void, failed or pending (normalized)
    raw_status  the source's own status word ("issued", "requires_action", "Fully Applied")
    reference   the amends request id the object carries (metadata amends_request,
                request_id or idempotency key), "" when none
    parent      the charge, invoice or payment it belongs to, "" when none

Rows the importer could not read are BadRow(file, line, reason). A file with
bad rows imports nothing (BillingImportError lists them all) unless the
caller asks to skip them, and then they are kept in `skipped`. `files` lists
the files read (also those that held no credits), so that a batch with no
rows can say which export came out empty.

A billing id may come more than once (an object on two pages, two exports
that overlap, the same credit note number with two amounts): every row is
kept, and reconciliation decides what they are (amends/reconcile.hpp).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Iterable

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

import amends

__all__ = ["BadRow", "BillingBatch", "BillingImportError", "COLUMNS", "STATUSES", "OBJECTS"]

COLUMNS = ("source", "file", "line", "id", "object", "customer", "currency", "amount_minor", "date", "status",
           "raw_status", "reference", "parent")
# The normalized statuses, named by the core (amends/reconcile_report.hpp), in its order.
STATUSES: tuple[str, ...] = tuple(amends._core.BILLING_STATUSES)
OBJECTS = ("credit_note", "refund", "balance_credit", "credit_memo")


@dataclasses.dataclass(frozen=True)
class BadRow:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class BillingImportError(amends.InvalidArgument):
    """A billing export with rows that can't be read; nothing was imported. `.rows` lists them."""

    __module__ = "amends"

    def __init__(self, rows: list[BadRow]) -> None:
        self.rows = rows
        shown = "\n".join(f"  {r}" for r in rows[:20])
        more = f"\n  ... and {len(rows) - 20} more" if len(rows) > 20 else ""
        super().__init__(f"{len(rows)} row(s) can't be imported; nothing was imported (pass skip_bad_rows=True "
                         f"to import the others):\n{shown}{more}")


@dataclasses.dataclass
class BillingBatch:
    """Billing-side items for reconciliation: a DataFrame with COLUMNS, and the rows skipped."""

    frame: pd.DataFrame
    skipped: list[BadRow] = dataclasses.field(default_factory=list)
    files: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        missing = [c for c in COLUMNS if c not in self.frame.columns]
        if missing:
            raise amends.InvalidArgument(f"a billing batch needs the columns {', '.join(missing)}")
        if len(self.frame) and not pd.api.types.is_integer_dtype(self.frame["amount_minor"].dtype):
            raise TypeError("a billing batch's amount_minor column holds integers of the currency's minor unit, not "
                            f"{self.frame['amount_minor'].dtype}")
        bad = set(self.frame["status"].unique()) - set(STATUSES)
        if bad:
            raise amends.InvalidArgument(f"billing statuses are one of {', '.join(STATUSES)}, not {sorted(bad)}")

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], skipped: list[BadRow] | None = None,
                  files: Iterable[str] = ()) -> BillingBatch:
        records = list(rows)
        frame = pd.DataFrame.from_records(records, columns=list(COLUMNS)) if records else pd.DataFrame(
            {c: pd.Series(dtype="int64" if c in ("line", "amount_minor") else "object") for c in COLUMNS})
        for value in frame["amount_minor"]:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"a billing amount_minor is an integer of the currency's minor unit, not {value!r}")
        frame["amount_minor"] = frame["amount_minor"].astype("int64")
        frame["line"] = frame["line"].astype("int64")
        return cls(frame, list(skipped or []), list(files))

    @classmethod
    def concat(cls, batches: Iterable[BillingBatch]) -> BillingBatch:
        parts = list(batches)
        if not parts:
            return cls.from_rows([])
        return cls(pd.concat([b.frame for b in parts], ignore_index=True), [r for b in parts for r in b.skipped],
                   [f for b in parts for f in b.files])

    def between(self, first: dt.date, last: dt.date) -> BillingBatch:
        """The rows dated first..last (inclusive)."""
        dates = pd.to_datetime(self.frame["date"])
        keep = (dates >= pd.Timestamp(first)) & (dates <= pd.Timestamp(last))
        return BillingBatch(self.frame[keep.to_numpy()].reset_index(drop=True), self.skipped, self.files)
