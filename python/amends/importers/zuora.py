"""Zuora credit memos, from the REST API's JSON or a Data Source export CSV.

JSON: the list response of GET /v1/creditmemos ({"creditmemos": [...],
"nextPage": ..., "success": true}), a single credit memo, or a JSON array of
either. Fields as documented for the credit memo object: id, number,
accountId (accountNumber when the response has it), amount (the memo's total,
in major units), currency, creditMemoDate, status, referredInvoiceId and
custom fields (name__c). The list response doesn't say which page it is, so
unlike Stripe and Lago an incomplete export can't be detected.

CSV: a Data Source export of the Credit Memo data source, whose columns are
"<Object>.<Field>" (CreditMemo.MemoNumber, CreditMemo.TotalAmount,
CreditMemo.MemoDate, CreditMemo.Status, Account.AccountNumber, ...); the
plain names of a list export from the UI ("Memo Number", "Total Amount",
"Memo Date", ...) are accepted too. Zuora's public documentation lists the
data source's fields but shows no sample file, so the header names follow the
field names of the data source and of the credit memo merge fields.

The id is the memo number (CM00000042), the customer the account number
(else the account id), the parent the referred invoice. Statuses: Posted ->
ok; Draft, Generating, PendingForTax and CancelInProgress -> pending (nothing
is final yet); Canceled -> void; Error -> failed. The amends request id comes
from a custom field named like amends_request (AmendsRequest__c,
RequestId__c...).
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from amends.billing import BillingBatch
from amends.importers import _csv
from amends.importers._common import (Collector, Item, Paths, RowError, currency_code, date_from_format,
                                      date_from_iso, is_json, load_json, parse_decimal, path_list, read_bytes,
                                      reference_from_fields, reference_rank, text_field, to_minor)

__all__ = ["SOURCE", "STATUSES", "read"]

SOURCE = "zuora"
STATUSES = {"posted": "ok", "draft": "pending", "generating": "pending", "pendingfortax": "pending",
            "cancelinprogress": "pending", "canceled": "void", "cancelled": "void", "error": "failed"}
_ONCE = "a credit memo export has one row per memo (export the Credit Memo data source, not its items)"


def read(paths: Paths, skip_bad_rows: bool = False, *, date_format: str | None = None) -> BillingBatch:
    """Zuora credit memos (REST JSON or Data Source CSV); date_format (strftime) for CSV dates that aren't ISO."""
    files = path_list(paths)
    collector = Collector(SOURCE, files)
    for path in files:
        data = read_bytes(path)
        if is_json(path, data):
            _read_json(path, data, collector)
        else:
            table = _csv.read(path, collector)
            if table is not None:
                _csv.convert(table, collector, _columns,
                             lambda t, r, c: _csv_row(t, r, c, date_format), once_per_file=_ONCE)
    return collector.finish(skip_bad_rows)


def _status(raw: str) -> str:
    status = STATUSES.get(re.sub(r"[\s_]", "", raw).lower())
    if status is None:
        raise RowError(f"status {raw!r} is not a Zuora credit memo status (Draft, Posted, Canceled, ...)" if raw
                       else "missing status")
    return status


def _amount(value: Any, code: str) -> int:
    if isinstance(value, str):
        value = parse_decimal(value, thousands=",")
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise RowError("missing amount" if value in (None, "") else f"amount {value!r} is not a number")
    amount = to_minor(Decimal(value), code, str(value))
    if amount < 0:
        raise RowError(f"amount {value} is negative: a credit memo's total is positive")
    return amount


# ---------------------------------------------------------------- REST JSON

def _read_json(path: Path, data: bytes, collector: Collector) -> None:
    file = str(path)
    try:
        document = load_json(data)
    except RowError as e:
        collector.bad_row(file, 0, str(e))
        return
    memos: list[Any] = []
    for part in document if isinstance(document, list) else [document]:
        if isinstance(part, dict) and part.get("success") is False:
            collector.bad_row(file, 0, f"an error response, not credit memos: {part.get('reasons')!r:.200}")
        elif isinstance(part, dict) and isinstance(part.get("creditmemos"), list):
            memos.extend(part["creditmemos"])
        else:
            memos.append(part)
    for position, memo in enumerate(memos, start=1):
        try:
            collector.add(_json_memo(memo, file, position))
        except RowError as e:
            name = text_field(memo, "number", "id") if isinstance(memo, dict) else ""
            collector.bad_row(file, position, f"credit memo {name or '(no number)'}: {e}")


def _json_memo(memo: Any, file: str, position: int) -> Item:
    if not isinstance(memo, dict):
        raise RowError(f"not a credit memo: {memo!r:.60}")
    memo_id = text_field(memo, "number", "memoNumber", "id")
    if not memo_id:
        raise RowError("missing number and id")
    code = currency_code(memo.get("currency"))
    raw_status = text_field(memo, "status")
    return Item(SOURCE, file, position, memo_id, "credit_memo", text_field(memo, "accountNumber", "accountId"), code,
                _amount(memo.get("amount", memo.get("totalAmount")), code),
                date_from_iso(memo.get("creditMemoDate", memo.get("memoDate")), "creditMemoDate"),
                _status(raw_status), raw_status, reference_from_fields(memo),
                text_field(memo, "referredInvoiceNumber", "referredInvoiceId", "invoiceNumber", "invoiceId"))


# ---------------------------------------------------------------- Data Source CSV

@dataclasses.dataclass(frozen=True)
class _Columns:
    id: int
    customer: int | None
    amount: int
    currency: int
    date: int
    status: int
    parent: int | None
    references: dict[str, int]


def _columns(table: _csv.Table) -> _Columns:
    references = {name: k for k, name in enumerate(table.header) if reference_rank(name) is not None}
    return _Columns(
        id=table.require("CreditMemo.MemoNumber", "CreditMemo.Number", "Memo Number", "MemoNumber", "Number",
                         "CreditMemo.Id", "Id"),
        customer=table.column("Account.AccountNumber", "Account Number", "AccountNumber", "Account.Id",
                              "CreditMemo.AccountId", "Account Id", "AccountId"),
        amount=table.require("CreditMemo.TotalAmount", "CreditMemo.Amount", "Total Amount", "TotalAmount", "Amount"),
        currency=table.require("CreditMemo.Currency", "Account.Currency", "Currency"),
        date=table.require("CreditMemo.MemoDate", "CreditMemo.CreditMemoDate", "Memo Date", "MemoDate",
                           "Credit Memo Date", "CreditMemoDate"),
        status=table.require("CreditMemo.Status", "Status"),
        parent=table.column("Invoice.InvoiceNumber", "CreditMemo.ReferredInvoiceId", "Invoice Number",
                            "ReferredInvoiceId", "Invoice"),
        references=references)


def _csv_row(table: _csv.Table, record: _csv.Record, c: _Columns, date_format: str | None) -> Item:
    v = record.values
    memo_id = v[c.id]
    if not memo_id:
        raise RowError("missing memo number")
    code = currency_code(v[c.currency])
    date = date_from_format(v[c.date], date_format) if date_format else date_from_iso(v[c.date], "memo date")
    fields: Mapping[str, str] = {name: v[k] for name, k in c.references.items()}
    customer = v[c.customer] if c.customer is not None else ""
    parent = v[c.parent] if c.parent is not None else ""
    return Item(SOURCE, table.file, record.line, memo_id, "credit_memo", customer, code, _amount(v[c.amount], code),
                date, _status(v[c.status]), v[c.status], reference_from_fields(fields), parent)
