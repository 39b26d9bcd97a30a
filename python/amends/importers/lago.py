"""Lago credit notes, from the API's or webhooks' JSON.

Shapes: the list response of GET /api/v1/credit_notes ({"credit_notes": [...],
"meta": {"current_page", "next_page", ...}}), one credit note as the API
returns it ({"credit_note": {...}}) or as a webhook delivers it
({"webhook_type": "credit_note.created", "object_type": "credit_note",
"credit_note": {...}}), a bare credit note, or a JSON array of any of these.
A page whose meta names a next page the import doesn't hold is an incomplete
export: a bad row (line 0). Lago has no documented CSV export of credit
notes, so there is no CSV reader; export through the API, or use the generic
importer with a mapping.

- id: number (LAG-1234-CN2), else lago_id; parent: invoice_number, else
  lago_invoice_id; customer: customer.external_id or external_customer_id
  (your own id for the customer), else Lago's customer id;
- amount: total_amount_cents -- everything the note gives back: credited to
  the customer (credit_amount_cents), refunded (refund_amount_cents) and
  offset against what the invoice still asks (offset_amount_cents). The
  offset is a concession like the others (Stripe's pre-payment credit notes
  are counted the same way). Lago's amounts are in the currency's ISO minor
  unit (its money library's), so JPY cents are yen;
- date: issuing_date (else created_at, in UTC);
- status, the first that applies: a draft note -> pending; refund_status
  failed -> failed; refund_status pending -> pending; credit_status voided ->
  void; else ok. raw_status is "credit_status/refund_status" (one of them
  when the other is absent). A failed refund outranks a voided credit: money
  that didn't reach the customer is the bigger problem;
- reference: metadata amends_request, request_id or amends_idempotency_key
  (metadata as an object, or as Lago's [{"key", "value"}] list).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from amends.billing import BillingBatch
from amends.importers._common import (Collector, Item, Paths, RowError, currency_code, date_from_iso,
                                      integer_amount, load_json, path_list, read_bytes, reference_from_metadata,
                                      text_field)

__all__ = ["SOURCE", "read"]

SOURCE = "lago"
CREDIT_STATUSES = ("available", "consumed", "voided")
REFUND_STATUSES = ("pending", "succeeded", "failed")


def read(paths: Paths, skip_bad_rows: bool = False) -> BillingBatch:
    """Lago credit notes (API or webhook JSON) as a BillingBatch."""
    files = path_list(paths)
    collector = Collector(SOURCE, files)
    pages: list[tuple[str, Any, Any]] = []  # file, current_page, next_page
    for path in files:
        _read_file(path, collector, pages)
    seen = {current for _, current, _ in pages}
    for file, current, following in pages:
        if following is not None and following not in seen:
            collector.bad_row(file, 0, f"page {current} says page {following} follows, and the import doesn't hold "
                                       "it: export every page")
    return collector.finish(skip_bad_rows)


def _read_file(path: Path, collector: Collector, pages: list[tuple[str, Any, Any]]) -> None:
    file = str(path)
    try:
        document = load_json(read_bytes(path))
    except RowError as e:
        collector.bad_row(file, 0, str(e))
        return
    notes: list[Any] = []
    for part in document if isinstance(document, list) else [document]:
        if isinstance(part, dict) and isinstance(part.get("credit_notes"), list):
            notes.extend(part["credit_notes"])
            meta = part.get("meta")
            if isinstance(meta, dict):
                pages.append((file, meta.get("current_page"), meta.get("next_page")))
        elif isinstance(part, dict) and isinstance(part.get("credit_note"), dict):
            notes.append(part["credit_note"])
        else:
            notes.append(part)
    for position, note in enumerate(notes, start=1):
        try:
            collector.add(_note(note, file, position))
        except RowError as e:
            name = text_field(note, "number", "lago_id") if isinstance(note, dict) else ""
            collector.bad_row(file, position, f"credit note {name or '(no number)'}: {e}")


def _status(note: dict[str, Any]) -> tuple[str, str]:
    credit, refund = note.get("credit_status"), note.get("refund_status")
    if credit is not None and credit not in CREDIT_STATUSES:
        raise RowError(f"credit_status {credit!r} is not one of {', '.join(CREDIT_STATUSES)}")
    if refund is not None and refund not in REFUND_STATUSES:
        raise RowError(f"refund_status {refund!r} is not one of {', '.join(REFUND_STATUSES)}")
    raw = "/".join(s for s in (credit, refund) if s)
    if note.get("status") == "draft":
        return "pending", raw or "draft"
    if refund == "failed":
        return "failed", raw
    if refund == "pending":
        return "pending", raw
    return ("void" if credit == "voided" else "ok"), raw


def _date(note: dict[str, Any]) -> dt.date:
    if note.get("issuing_date") is not None:
        return date_from_iso(note.get("issuing_date"), "issuing_date")
    return date_from_iso(note.get("created_at"), "issuing_date")


def _customer(note: dict[str, Any]) -> str:
    customer = note.get("customer")
    nested = customer if isinstance(customer, dict) else {}
    return (text_field(nested, "external_id") or text_field(note, "external_customer_id")
            or text_field(nested, "lago_id") or text_field(note, "lago_customer_id"))


def _note(note: Any, file: str, position: int) -> Item:
    if not isinstance(note, dict):
        raise RowError(f"not a credit note: {note!r:.60}")
    note_id = text_field(note, "number", "lago_id")
    if not note_id:
        raise RowError("missing number and lago_id")
    code = currency_code(note.get("currency") or note.get("total_amount_currency"))
    cents = integer_amount(note.get("total_amount_cents"), "total_amount_cents")
    if cents < 0:
        raise RowError(f"total_amount_cents {cents} is negative")
    status, raw = _status(note)
    return Item(SOURCE, file, position, note_id, "credit_note", _customer(note), code, cents, _date(note), status,
                raw, reference_from_metadata(note.get("metadata")),
                text_field(note, "invoice_number", "lago_invoice_id"))
