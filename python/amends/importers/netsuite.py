"""NetSuite credit memos, from a saved search exported as CSV.

The search is a transaction search on credit memos with Main Line true (one
row per memo: a file that lists a document number twice is a line-level
export, and its repeated rows are bad rows). Columns, by their default
labels: Internal ID, Document Number, Date, Name or Customer, Status,
Currency, Amount, Amount (Foreign Currency), Amount Remaining, Posting
Period, Created From, Memo. NetSuite publishes the record's fields but no
sample export, so the labels follow the field labels of the credit memo
record (Amount Remaining, Amount Used, ...) and of the saved search UI.

- id: Document Number (else Internal ID); customer: a "Customer ID" or
  "Customer Internal ID" column if the search has one, else Customer or Name
  (NetSuite's entity text, e.g. "C-1001 Acme Corp");
- amount: Amount (Foreign Currency) when present -- the memo's own currency;
  in a multi-currency account Amount is in the subsidiary's base currency --
  else Amount. Transaction searches show credit memos negative; the sign is
  dropped (a credit memo is a credit either way). A voided memo (voided
  without a reversing journal) shows 0: it is kept, with amount 0 and status
  void. Amount Remaining (what the customer hasn't used yet) is not the
  credit given and is ignored;
- currency: the Currency column, an ISO code or a currency record's name
  ("US Dollar", "Euro", and "USA", the name NetSuite gives the US dollar in
  many accounts); names you use can be added with currency_names; without a
  Currency column, default_currency;
- date: Date, in the account's date format (date_format, default
  "%m/%d/%Y"; ISO dates are always accepted);
- status: Open and Fully Applied -> ok, Voided -> void ("Credit Memo:Open"
  as NetSuite writes it in some exports is read as Open);
- parent: Created From without its record type ("Invoice #INV1001" ->
  "INV1001"); reference: a column named like amends_request ("Amends
  Request", custbody_amends_request...).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Mapping

import amends
from amends.billing import BillingBatch
from amends.importers import _csv
from amends.importers._common import (Collector, Item, Paths, RowError, currency_code, date_from_format,
                                      date_from_iso, parse_decimal, path_list, reference_from_fields,
                                      reference_rank, to_minor)

__all__ = ["SOURCE", "STATUSES", "read"]

SOURCE = "netsuite"
STATUSES = {"open": "ok", "fully applied": "ok", "voided": "void"}
# Names NetSuite gives currency records by default that aren't ISO 4217's English names.
CURRENCY_NAMES = {"usa": "USD", "british pound": "GBP", "canadian dollar": "CAD", "euro": "EUR", "us dollar": "USD"}
_ONCE = "one row per credit memo is expected: set Main Line to true in the saved search's criteria"


def read(paths: Paths, skip_bad_rows: bool = False, *, date_format: str = "%m/%d/%Y",
         default_currency: str | None = None, currency_names: Mapping[str, str] | None = None,
         encoding: str = "utf-8") -> BillingBatch:
    """NetSuite credit memo saved searches (CSV) as a BillingBatch."""
    files = path_list(paths)
    names = _currency_names(currency_names)
    if default_currency is not None:
        default_currency = amends.currency(default_currency).code
    collector = Collector(SOURCE, files)
    for path in files:
        table = _csv.read(path, collector, encoding=encoding)
        if table is not None:
            _csv.convert(table, collector, _columns,
                         lambda t, r, c: _row(t, r, c, date_format, default_currency, names), once_per_file=_ONCE)
    return collector.finish(skip_bad_rows)


def _currency_names(extra: Mapping[str, str] | None) -> dict[str, str]:
    names = {c.name.casefold(): c.code for c in amends.currencies()}
    names |= CURRENCY_NAMES
    for name, code in (extra or {}).items():
        names[name.strip().casefold()] = amends.currency(code).code
    return names


@dataclasses.dataclass(frozen=True)
class _Columns:
    id: int
    customer: int | None
    amount: int
    currency: int | None
    date: int
    status: int
    parent: int | None
    references: dict[str, int]


def _columns(table: _csv.Table) -> _Columns:
    references = {name: k for k, name in enumerate(table.header) if reference_rank(name) is not None}
    return _Columns(
        id=table.require("Document Number", "Number", "Internal ID"),
        customer=table.column("Customer ID", "Customer Internal ID", "Customer", "Name"),
        amount=table.require("Amount (Foreign Currency)", "Amount (Transaction Currency)", "Amount"),
        currency=table.column("Currency"),
        date=table.require("Date", "Transaction Date"),
        status=table.require("Status"),
        parent=table.column("Created From"),
        references=references)


def _currency(text: str, default: str | None, names: Mapping[str, str]) -> str:
    if not text:
        if default is None:
            raise RowError("missing currency (pass default_currency for a single-currency account)")
        return default
    if re.fullmatch(r"[A-Za-z]{3}", text) and text.casefold() not in names:
        return currency_code(text)
    code = names.get(" ".join(text.split()).casefold())
    if code is None:
        raise RowError(f"unknown currency {text!r} (name it with currency_names)")
    return currency_code(code)


def _status(raw: str) -> str:
    word = re.sub(r"^credit\s*memo\s*:\s*", "", raw.strip(), flags=re.IGNORECASE).casefold()
    if word not in STATUSES:
        raise RowError(f"status {raw!r} is not Open, Fully Applied or Voided" if raw else "missing status")
    return STATUSES[word]


def _row(table: _csv.Table, record: _csv.Record, c: _Columns, date_format: str, default: str | None,
         names: Mapping[str, str]) -> Item:
    v = record.values
    if not v[c.id]:
        raise RowError("missing document number")
    code = _currency(v[c.currency] if c.currency is not None else "", default, names)
    amount = abs(to_minor(parse_decimal(v[c.amount], thousands=","), code, v[c.amount]))
    text = v[c.date]
    date = date_from_iso(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else date_from_format(text, date_format)
    parent = re.sub(r"^[^#]*#\s*", "", v[c.parent]) if c.parent is not None else ""
    fields = {name: v[k] for name, k in c.references.items()}
    customer = v[c.customer] if c.customer is not None else ""
    return Item(SOURCE, table.file, record.line, v[c.id], "credit_memo", customer, code, amount, date,
                _status(v[c.status]), v[c.status], reference_from_fields(fields), parent)
