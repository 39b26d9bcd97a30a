"""Stripe: credit notes, refunds and customer balance credits, from the API's JSON or the itemized balance report.

JSON: a list page ({"object": "list", "data": [...], "has_more": ..., "url": ...}),
a search result, a JSON array of pages or of objects, a single object, an
event (its data.object) or a map of objects by name (Stripe's API fixtures).
The kind of each object comes from its "object" field; charges, invoices,
customers and the like are not credits and are passed over (a charge in the
same import tells a refund its customer). A list whose last page in the
import still says has_more is an incomplete export: a bad row (line 0).

CSV: the "Balance change from activity, itemized" report
(balance_change_from_activity.itemized.*). Rows with reporting_category
"refund" are refunds given (gross negative); "refund_failure" rows (gross
positive) are the same refund failing later: both carry the refund's id in
source_id, so a refund and its failure become one row with status failed,
dated when the refund was made. Every other category (charges, fees,
payouts, disputes) is not a credit and is passed over.

Amounts in the API are integers in Stripe's minor unit, which is ISO 4217's
except for a few currencies: Stripe keeps ISK two-decimal for backwards
compatibility (100 = 1 krona, ISO: no minor unit) and MGA zero-decimal (ISO:
two); HUF and TWD are two-decimal in the API (zero-decimal only for payouts)
and UGX zero-decimal, as in ISO. They are rescaled to amends' (ISO) minor
unit; an ISK amount that isn't a whole krona is a bad row. The report's
amounts are decimals in major units (JPY "1000", USD "10.00").
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from amends.billing import BillingBatch
from amends.importers import _csv
from amends.importers._common import (Collector, Item, Paths, RowError, currency_code, date_from_iso,
                                      date_from_timestamp, integer_amount, is_json, load_json, object_id,
                                      parse_decimal, path_list, read_bytes, reference_from_metadata,
                                      rescale_minor, to_minor)

__all__ = ["SOURCE", "read", "stripe_decimal_places"]

SOURCE = "stripe"

# Stripe's zero-decimal and three-decimal currencies (docs.stripe.com/currencies); every other is two-decimal.
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
                          "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

REFUND_STATUSES = {"succeeded": "ok", "pending": "pending", "requires_action": "pending", "failed": "failed",
                   "canceled": "failed"}
CREDIT_NOTE_STATUSES = {"issued": "ok", "void": "void"}

# Customer balance transactions with a negative amount credit the balance. Only these grant a credit:
# an adjustment is a credit someone gave (the API's and the Dashboard's way), an initial balance one given
# when the customer was created.
GRANT_TYPES = frozenset({"adjustment", "initial"})
# Credits that are not grants: credit_note is where a credit note's amount went (the credit note is the
# grant, imported on its own); unapplied_from_invoice returns a credit an invoice had used; invoice_overpaid,
# unspent_receiver_credit and checkout_session_subscription_payment(_canceled) hold the customer's own money;
# invoice_too_small/large carry an invoice's amount over; migration moves a legacy balance; applied_to_invoice
# uses a credit (positive amounts are debits and are passed over whatever their type).
NOT_GRANT_TYPES = frozenset({"credit_note", "unapplied_from_invoice", "invoice_overpaid", "unspent_receiver_credit",
                             "checkout_session_subscription_payment", "checkout_session_subscription_payment_canceled",
                             "invoice_too_small", "invoice_too_large", "migration", "applied_to_invoice"})

_LISTS = ("list", "search_result")
_MAX_DEPTH = 4


def stripe_decimal_places(code: str) -> int:
    """The number of decimals in Stripe's integer amounts for a currency (not always ISO 4217's)."""
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def read(paths: Paths, skip_bad_rows: bool = False) -> BillingBatch:
    """Stripe exports (API JSON or the itemized balance report CSV) as a BillingBatch."""
    files = path_list(paths)
    collector = Collector(SOURCE, files)
    walker = _Walker(collector)
    for path in files:
        data = read_bytes(path)
        if is_json(path, data):
            walker.read(path, data)
        else:
            _read_report(path, collector)
    walker.check_pages()
    charges = {f.obj["id"]: f.obj for f in walker.found
               if f.obj.get("object") == "charge" and isinstance(f.obj.get("id"), str)}
    for found in walker.found:
        _convert(found, charges, collector)
    _fold_credit_note_refunds(walker.found, collector)
    return collector.finish(skip_bad_rows)


def _fold_credit_note_refunds(found: list[_Found], collector: Collector) -> None:
    """A credit note that refunds (refunds[].refund, or the older refund) is one concession, not two.

    Stripe creates the refund itself, without the credit note's metadata: read as a row of its own it
    would look like a second credit, or one nobody authorised. When both are in the import, the refund
    folds into its credit note -- which takes the refund's trouble: failed (or pending) when the refund
    is. A refund whose credit note is not in the import keeps its row (with the credit note as its
    parent when the credit note was there but could not be read).
    """
    note_of: dict[str, str] = {}
    for f in found:
        obj = f.obj
        if obj.get("object") != "credit_note" or not isinstance(obj.get("id"), str):
            continue
        links = [r.get("refund") for r in obj.get("refunds") or [] if isinstance(r, Mapping)]
        links.append(obj.get("refund"))
        for link in links:
            refund = object_id(link)
            if refund:
                note_of[refund] = obj["id"]
    if not note_of:
        return
    items = collector.items
    notes = {i.id: k for k, i in enumerate(items) if i.object == "credit_note"}
    folded = []
    for item in items:
        note = note_of.get(item.id) if item.object == "refund" else None
        if note is None or note not in notes:
            continue
        folded.append(item.id)
        k = notes[note]
        if item.status in ("failed", "pending") and items[k].status == "ok":
            items[k] = dataclasses.replace(items[k], status=item.status,
                                           raw_status=f"{items[k].raw_status}; refund {item.id} {item.raw_status}")
    gone = set(folded)
    items[:] = [dataclasses.replace(i, parent=note_of[i.id]) if i.object == "refund" and i.id in note_of else i
                for i in items if not (i.object == "refund" and i.id in gone)]


# ---------------------------------------------------------------- JSON documents

@dataclasses.dataclass(frozen=True)
class _Found:
    file: str
    position: int
    obj: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class _Page:
    file: str
    url: str
    has_more: bool


class _Walker:
    """Finds the objects of JSON documents, numbering them 1, 2, ... in each file, and remembers the list pages."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.found: list[_Found] = []
        self.pages: list[_Page] = []
        self.file = ""
        self.position = 0

    def read(self, path: Path, data: bytes) -> None:
        self.file, self.position = str(path), 0
        try:
            document = load_json(data)
        except RowError as e:
            self.collector.bad_row(self.file, 0, str(e))
            return
        self.walk(document, 0)

    def walk(self, value: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            self.collector.bad_row(self.file, self.position, "JSON nested deeper than a Stripe export")
        elif isinstance(value, list):
            for element in value:
                self.walk(element, depth + 1)
        elif not isinstance(value, dict):
            self.position += 1
            self.collector.bad_row(self.file, self.position, f"not a Stripe object: {value!r:.60}")
        elif value.get("object") in _LISTS:
            self.page(value, depth)
        elif value.get("object") == "event":
            data = value.get("data")
            self.walk(data.get("object") if isinstance(data, dict) else None, depth + 1)
        elif isinstance(value.get("object"), str):
            self.position += 1
            self.found.append(_Found(self.file, self.position, value))
        elif value and all(isinstance(v, (dict, list)) for v in value.values()):
            for element in value.values():  # a map of objects by name, as in Stripe's API fixtures
                self.walk(element, depth + 1)
        else:
            self.position += 1
            self.collector.bad_row(self.file, self.position, "not a Stripe object: it has no \"object\" field")

    def page(self, value: dict[str, Any], depth: int) -> None:
        data = value.get("data")
        if not isinstance(data, list):
            self.collector.bad_row(self.file, self.position, "a list page without a \"data\" array")
            return
        self.pages.append(_Page(self.file, str(value.get("url") or ""), value.get("has_more") is True))
        for element in data:
            self.walk(element, depth + 1)

    def check_pages(self) -> None:
        """The last page of each list (by its url) must not say has_more: otherwise objects are missing."""
        last: dict[str, _Page] = {}
        for page in self.pages:
            last[page.url] = page
        for url, page in last.items():
            if page.has_more:
                name = url or "a list"
                self.collector.bad_row(page.file, 0, f"{name} has more objects than the export holds (has_more is "
                                                     "true on its last page): export every page")


# ---------------------------------------------------------------- API objects

def _convert(found: _Found, charges: Mapping[str, dict[str, Any]], collector: Collector) -> None:
    obj = found.obj
    kind = str(obj.get("object"))
    handler = _HANDLERS.get(kind)
    if handler is None:
        return  # charges, invoices, customers, line items...: not credits given
    try:
        item = handler(obj, found, charges)
    except RowError as e:
        name = obj.get("id") if isinstance(obj.get("id"), str) and obj.get("id") else "(no id)"
        collector.bad_row(found.file, found.position, f"{kind} {name}: {e}")
        return
    if item is not None:
        collector.add(item)


def _minor(obj: Mapping[str, Any], key: str, code: str) -> int:
    """A Stripe integer amount (non-negative) in amends' minor unit of code."""
    amount = integer_amount(obj.get(key), key)
    if amount < 0:
        raise RowError(f"{key} {amount} is negative")
    places = stripe_decimal_places(code)
    shown = f"{Decimal(amount).scaleb(-places)} (Stripe amount {amount})"
    return rescale_minor(amount, places, code, shown)


def _id(obj: Mapping[str, Any]) -> str:
    value = obj.get("id")
    if not isinstance(value, str) or not value.strip():
        raise RowError("missing id")
    return value.strip()


def _status(obj: Mapping[str, Any], table: Mapping[str, str]) -> tuple[str, str]:
    raw = obj.get("status")
    if not isinstance(raw, str) or raw not in table:
        raise RowError(f"status {raw!r} is not one of {', '.join(table)}")
    return table[raw], raw


def _item(obj: Mapping[str, Any], found: _Found, kind: str, code: str, amount_minor: int, date_key: str,
          status: tuple[str, str], customer: str, parent: str) -> Item:
    return Item(SOURCE, found.file, found.position, _id(obj), kind, customer, code, amount_minor,
                date_from_timestamp(obj.get(date_key), date_key), status[0], status[1],
                reference_from_metadata(obj.get("metadata")), parent)


def _credit_note(obj: dict[str, Any], found: _Found, charges: Mapping[str, dict[str, Any]]) -> Item:
    """The credit note's amount (its total, tax included: pre_payment_amount + post_payment_amount, whether the
    post-payment part was refunded, credited to the balance or given out of band) on its effective date."""
    _id(obj)
    code = currency_code(obj.get("currency"))
    amount = _minor(obj, "amount" if obj.get("amount") is not None else "total", code)
    date_key = "effective_at" if obj.get("effective_at") is not None else "created"
    return _item(obj, found, "credit_note", code, amount, date_key, _status(obj, CREDIT_NOTE_STATUSES),
                 object_id(obj.get("customer")), object_id(obj.get("invoice")))


def _refund(obj: dict[str, Any], found: _Found, charges: Mapping[str, dict[str, Any]]) -> Item:
    _id(obj)
    code = currency_code(obj.get("currency"))
    amount = _minor(obj, "amount", code)
    parent = object_id(obj.get("charge")) or object_id(obj.get("payment_intent"))
    return _item(obj, found, "refund", code, amount, "created", _status(obj, REFUND_STATUSES),
                 _refund_customer(obj, charges), parent)


def _refund_customer(obj: Mapping[str, Any], charges: Mapping[str, dict[str, Any]]) -> str:
    """A refund's own customer, else its charge's (expanded, or a charge in the same import), else metadata.customer."""
    own = object_id(obj.get("customer"))
    if own:
        return own
    charge = obj.get("charge")
    if isinstance(charge, str):
        charge = charges.get(charge)
    if isinstance(charge, dict) and object_id(charge.get("customer")):
        return object_id(charge.get("customer"))
    metadata = obj.get("metadata")
    customer = metadata.get("customer") if isinstance(metadata, dict) else None
    return customer.strip() if isinstance(customer, str) else ""


def _balance_credit(obj: dict[str, Any], found: _Found, charges: Mapping[str, dict[str, Any]]) -> Optional[Item]:
    """A grant to the customer's balance: a negative amount (a credit) of a granting type; None otherwise."""
    _id(obj)
    amount = integer_amount(obj.get("amount"), "amount")
    kind = obj.get("type")
    if amount >= 0 or kind in NOT_GRANT_TYPES:
        return None
    if kind not in GRANT_TYPES:
        raise RowError(f"a credit of type {kind!r}, which amends does not know as a grant or not: "
                       "tell amends' maintainers, or skip it with skip_bad_rows")
    code = currency_code(obj.get("currency"))
    places = stripe_decimal_places(code)
    minor = rescale_minor(-amount, places, code, f"{Decimal(-amount).scaleb(-places)} (Stripe amount {amount})")
    return _item(obj, found, "balance_credit", code, minor, "created", ("ok", str(kind)),
                 object_id(obj.get("customer")), object_id(obj.get("invoice")))


_Handler = Callable[[dict[str, Any], _Found, Mapping[str, dict[str, Any]]], Optional[Item]]
_HANDLERS: dict[str, _Handler] = {"credit_note": _credit_note, "refund": _refund,
                                  "customer_balance_transaction": _balance_credit}


# ---------------------------------------------------------------- the itemized balance report

REPORT_REFERENCE_COLUMNS = ("refund_metadata[amends_request]", "refund_metadata[request_id]",
                            "refund_metadata[amends_idempotency_key]")


@dataclasses.dataclass(frozen=True)
class _ReportColumns:
    created: int
    currency: int
    gross: int
    category: int
    source: int
    facing_amount: int | None
    facing_currency: int | None
    customer: int | None
    charge: int | None
    payment_intent: int | None
    references: tuple[int, ...]


def _report_columns(table: _csv.Table) -> _ReportColumns:
    references = tuple(i for name in REPORT_REFERENCE_COLUMNS if (i := table.column(name)) is not None)
    return _ReportColumns(table.require("created_utc"), table.require("currency"), table.require("gross"),
                          table.require("reporting_category"), table.require("source_id"),
                          table.column("customer_facing_amount"), table.column("customer_facing_currency"),
                          table.column("customer_id"), table.column("charge_id"), table.column("payment_intent_id"),
                          references)


def _cell(record: _csv.Record, index: int | None) -> str:
    return record.values[index] if index is not None else ""


def _report_row(table: _csv.Table, record: _csv.Record, c: _ReportColumns) -> Optional[Item]:
    category = record.values[c.category]
    if category not in ("refund", "refund_failure"):
        return None
    refund_id = record.values[c.source] or _missing("source_id")
    gross_text = record.values[c.gross]
    gross = parse_decimal(gross_text)
    if (gross >= 0) if category == "refund" else (gross <= 0):
        raise RowError(f"a {category} with gross {gross_text}: Stripe reports refunds negative and their failures "
                       "positive")
    # The customer-facing amount is in the refund's own currency (what the API's refund says); gross is in the
    # settlement currency, which differs when Stripe converted the charge.
    facing_currency, facing_amount = _cell(record, c.facing_currency), _cell(record, c.facing_amount)
    if facing_currency and facing_amount:
        code, text = currency_code(facing_currency), facing_amount
    else:
        code, text = currency_code(record.values[c.currency]), gross_text
    amount_minor = abs(to_minor(parse_decimal(text), code, text))
    reference = next((v for i in c.references if (v := record.values[i])), "")
    parent = _cell(record, c.charge) or _cell(record, c.payment_intent)
    status = "ok" if category == "refund" else "failed"
    return Item(SOURCE, table.file, record.line, refund_id, "refund", _cell(record, c.customer), code, amount_minor,
                date_from_iso(record.values[c.created], "created_utc"), status, category, reference, parent)


def _missing(what: str) -> str:
    raise RowError(f"missing {what}")


def _read_report(path: Path, collector: Collector) -> None:
    table = _csv.read(path, collector)
    if table is not None:
        _csv.convert(table, collector, _report_columns, _report_row)
