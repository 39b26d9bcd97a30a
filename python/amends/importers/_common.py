"""What every importer shares: items, bad rows, amounts, currencies, dates and the merge of repeated objects.

An importer turns each object or CSV row into an Item or a RowError (the
reason it can't be read); a Collector keeps both and, at the end, either
raises BillingImportError with every bad row or builds the BillingBatch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

import amends
from amends.billing import OBJECTS, STATUSES, BadRow, BillingBatch, BillingImportError

PathArg = Union[str, "os.PathLike[str]"]
Paths = Union[PathArg, Iterable[PathArg]]

# Bounds: a batch has a maximum size, and so does a file read into memory.
MAX_ITEMS = 2_000_000
MAX_FILE_BYTES = 1 << 30
INT64_MAX = (1 << 63) - 1

# The metadata keys (or custom fields) that carry the amends request id, in order of preference.
REFERENCE_KEYS = ("amends_request", "request_id", "amends_idempotency_key")
# The same names with case, separators and a custom-field suffix taken away ("AmendsRequest__c").
_REFERENCE_NAMES = tuple(re.sub(r"[^a-z0-9]", "", k) for k in REFERENCE_KEYS)

# When the same object is read twice (two snapshots, a page and a webhook), the later state of its life wins:
# a refund goes pending -> succeeded -> failed, a credit note issued -> void, never back.
_STATUS_RANK = {"pending": 0, "ok": 1, "void": 2, "failed": 2}


class RowError(Exception):
    """An object or row that can't be imported; the message says why, for the person who fixes the export."""


@dataclasses.dataclass(frozen=True)
class Item:
    """One row of a BillingBatch (see amends.billing for the meaning of each column)."""

    source: str
    file: str
    line: int
    id: str
    object: str
    customer: str
    currency: str
    amount_minor: int
    date: dt.date
    status: str
    raw_status: str
    reference: str
    parent: str

    def check(self) -> None:
        """The batch's invariants; a failure here is a bug in an importer, not bad data."""
        if self.object not in OBJECTS or self.status not in STATUSES:
            raise AssertionError(f"importer produced object {self.object!r} / status {self.status!r}")
        if not (0 <= self.amount_minor <= INT64_MAX) or not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise AssertionError(f"importer produced {self.amount_minor!r} {self.currency!r}")
        if not self.id or not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            raise AssertionError(f"importer produced id {self.id!r}, date {self.date!r}")


def path_list(paths: Paths) -> list[Path]:
    """One path or several, as Paths; a missing file is the caller's mistake, not a bad row."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out = [Path(p) for p in items]
    for p in out:
        if not p.is_file():
            raise amends.AmendsIOError(f"can't read billing export {p}: no such file")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise amends.BatchTooLarge(f"{p} is larger than {MAX_FILE_BYTES} bytes; split the export")
    return out


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise amends.AmendsIOError(f"can't read billing export {path}: {e}") from e


class Collector:
    """The items and bad rows of one import; finish() decides between a batch and BillingImportError."""

    def __init__(self, source: str, files: list[Path]) -> None:
        self.source = source
        self.order = {str(p): k for k, p in enumerate(files)}
        self.items: list[Item] = []
        self.bad: list[BadRow] = []
        self._seen_in_file: dict[tuple[str, str, str], int] = {}

    def bad_row(self, file: str, line: int, reason: str) -> None:
        self.bad.append(BadRow(file, line, reason))

    def add(self, item: Item, *, once_per_file: str = "") -> None:
        """Keeps an item. once_per_file: the hint to give when a file lists the same id twice (a line-level export)."""
        if once_per_file:
            key = (item.file, item.object, item.id)
            first = self._seen_in_file.setdefault(key, item.line)
            if first != item.line:
                self.bad_row(item.file, item.line, f"{item.id} appears again (first on line {first}): {once_per_file}")
                return
        if len(self.items) >= MAX_ITEMS:
            raise amends.BatchTooLarge(f"more than {MAX_ITEMS} billing items in one import; import fewer files at once")
        item.check()
        self.items.append(item)

    def finish(self, skip_bad_rows: bool) -> BillingBatch:
        bad = sorted(self.bad, key=lambda r: (self.order.get(r.file, len(self.order)), r.line))
        if bad and not skip_bad_rows:
            raise BillingImportError(bad)
        merged = merge(self.items)
        merged.sort(key=lambda i: (self.order.get(i.file, len(self.order)), i.line))
        return BillingBatch.from_rows((dataclasses.asdict(i) for i in merged), skipped=bad, files=list(self.order))


def merge(items: list[Item]) -> list[Item]:
    """One item per (object, id) read at several points of its life; every other repeat of an id kept as read.

    Reads are one credit's life when they agree on customer, currency, amount
    and reference and are not all in one state (a refund pending, then
    succeeded, then failed): the furthest state wins (ties: the last read),
    dated the earliest date -- the credit's own (a refund's creation), not the
    date a later snapshot or a refund_failure row was written. Reads that
    differ otherwise, or are all the same, stay rows of their own:
    reconciliation reports them (a conflicting or an identical duplicate),
    so that no amount disappears unseen.
    """
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        groups.setdefault((item.object, item.id), []).append(item)
    out = []
    for group in groups.values():
        if not _one_life(group):
            out.extend(group)
            continue
        winner = group[0]
        for item in group[1:]:
            if _STATUS_RANK[item.status] >= _STATUS_RANK[winner.status]:
                winner = item
        out.append(dataclasses.replace(winner, date=min(i.date for i in group)))
    return out


def _one_life(group: list[Item]) -> bool:
    """Reads of one credit in different states of its life: the same customer, currency, amount and reference."""
    if len({i.status for i in group}) < 2:
        return False
    first = group[0]
    return all((i.customer, i.currency, i.amount_minor, i.reference) ==
               (first.customer, first.currency, first.amount_minor, first.reference) for i in group)


# ---------------------------------------------------------------- currencies and amounts

_MINOR_UNITS: dict[str, int] = {}


def currency_code(text: Any) -> str:
    """An ISO 4217 code amends knows (any case in the export), or RowError."""
    if not isinstance(text, str) or not text.strip():
        raise RowError("missing currency")
    code = text.strip().upper()
    if code not in _MINOR_UNITS:
        try:
            _MINOR_UNITS[code] = amends.currency(code).minor_units
        except amends.UnknownCurrency:
            raise RowError(f"unknown currency {text.strip()!r}") from None
    return code


def minor_units(code: str) -> int:
    return _MINOR_UNITS[currency_code(code)]


def to_minor(value: Decimal, code: str, shown: str) -> int:
    """A major-unit amount as an integer of the currency's minor unit; finer than that unit is a RowError."""
    places = minor_units(code)
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        unit = "no minor unit" if places == 0 else f"{places} decimal places"
        raise RowError(f"amount {shown} is finer than the {code} minor unit ({unit})")
    minor = int(scaled)
    if abs(minor) > INT64_MAX:
        raise RowError(f"amount {shown} {code} is too large")
    return minor


def rescale_minor(amount: int, from_places: int, code: str, shown: str) -> int:
    """An integer in a unit of 10**-from_places (a billing system's own idea of the minor unit) in ISO minor units."""
    return to_minor(Decimal(amount).scaleb(-from_places), code, shown)


def parse_decimal(text: str, *, thousands: str = "", decimal: str = ".") -> Decimal:
    """Exact decimal from text such as "1,234.56", "-12.50", "(12.50)" or "1.234,56"; never through float.

    A thousands separator must group digits by three; anything else (a currency
    sign, an exponent, a stray character) is a RowError.
    """
    raw = text.strip()
    body, negative = raw, False
    if body.startswith("(") and body.endswith(")"):
        body, negative = body[1:-1].strip(), True
    if body and body[0] in "+-":
        negative = negative != (body[0] == "-")
        body = body[1:]
    integer = rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+" if thousands else r"\d+"
    if not re.fullmatch(rf"(?:{integer})(?:{re.escape(decimal)}\d+)?", body):
        hint = f" (decimal separator {decimal!r}" + (f", thousands separator {thousands!r})" if thousands else ")")
        raise RowError(f"amount {raw!r} is not a number{hint}" if raw else "missing amount")
    digits = body.replace(thousands, "") if thousands else body
    digits = digits.replace(decimal, ".")
    try:
        value = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the pattern above admits only plain decimals
        raise RowError(f"amount {raw!r} is not a number") from None
    return -value if negative else value


def integer_amount(value: Any, what: str = "amount") -> int:
    """An integer from JSON (never a bool, never a decimal with a fraction)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise RowError(f"missing {what}" if value is None else f"{what} {value!r} is not an integer")
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise RowError(f"{what} {value} is not a whole number of minor units")
        value = int(value)
    if abs(value) > INT64_MAX:
        raise RowError(f"{what} {value} is too large")
    return int(value)


# ---------------------------------------------------------------- dates

def date_from_timestamp(value: Any, what: str = "created") -> dt.date:
    """The UTC date of a Unix timestamp (seconds)."""
    seconds = integer_amount(value, what)
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).date()
    except (OverflowError, OSError, ValueError):
        raise RowError(f"{what} {seconds} is not a time") from None


def date_from_iso(value: Any, what: str = "date") -> dt.date:
    """The date of "2026-03-01", "2026-03-01 12:00:00" or "2026-03-01T12:00:00Z" (an offset is turned to UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"missing {what}")
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.date()


def date_from_format(value: str, fmt: str, what: str = "date") -> dt.date:
    """A date by a strftime format; a format with %z is turned to UTC, one without is taken as it stands."""
    text = value.strip()
    if not text:
        raise RowError(f"missing {what}")
    try:
        moment = dt.datetime.strptime(text, fmt)
    except ValueError:
        raise RowError(f"{what} {text!r} does not match the date format {fmt!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.date()


# ---------------------------------------------------------------- references and ids

def reference_from_metadata(metadata: Any) -> str:
    """The amends request id from a metadata object: amends_request, then request_id, then the idempotency key."""
    if isinstance(metadata, list):  # Lago-style [{"key": ..., "value": ...}]
        metadata = {m.get("key"): m.get("value") for m in metadata if isinstance(m, dict)}
    if not isinstance(metadata, Mapping):
        return ""
    for key in REFERENCE_KEYS:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def reference_rank(name: str) -> int | None:
    """Which reference a column or custom field holds, by name: "AmendsRequest__c", "custbody_amends_request"..."""
    bare = name.rsplit(".", 1)[-1].lower()
    bare = re.sub(r"__c$", "", bare)
    bare = re.sub(r"^custbody_?", "", bare)
    bare = re.sub(r"[^a-z0-9]", "", bare)
    return _REFERENCE_NAMES.index(bare) if bare in _REFERENCE_NAMES else None


def reference_from_fields(fields: Mapping[str, Any]) -> str:
    """The amends request id among named fields (custom fields, extra CSV columns), best name first."""
    found: dict[int, str] = {}
    for name, value in fields.items():
        rank = reference_rank(str(name))
        if rank is not None and isinstance(value, str) and value.strip():
            found.setdefault(rank, value.strip())
    return found[min(found)] if found else ""


def object_id(value: Any) -> str:
    """An id that may come expanded into its object ({"id": ..., ...}) or as a string; "" when absent."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value.strip() if isinstance(value, str) else ""


def text_field(obj: Mapping[str, Any], *keys: str) -> str:
    """The first non-empty string among keys."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return ""


# ---------------------------------------------------------------- JSON

def is_json(path: Path, data: bytes) -> bool:
    """JSON by extension (.json / .csv), otherwise by the first character that isn't space or a byte order mark."""
    suffix = path.suffix.lower()
    if suffix in (".json", ".csv"):
        return suffix == ".json"
    head = data[:4096].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return head[:1] in ("{", "[")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a billing export may hold")


def load_json(data: bytes) -> Any:
    """The document, with every non-integer number as Decimal (never float); RowError when it isn't JSON."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RowError(f"not valid UTF-8 JSON: byte 0x{data[e.start]:02x} at offset {e.start}") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError as e:
        raise RowError(f"not valid JSON: {e}") from None
