"""Any billing system's CSV, read through a mapping file (TOML).

    name = "chargebee"              # the batch's source; default "csv"
    encoding = "cp1252"             # default "utf-8" (a byte order mark is dropped)
    delimiter = ";"                 # default ","
    date_format = "%d.%m.%Y"        # strftime; default "%Y-%m-%d"; with %z the date is taken in UTC
    amount_unit = "major"           # "major" (12.50) or "minor" (1250); default "major"
    credit_sign = "negative"        # how the file writes a credit given: "positive" (default) or "negative"
    thousands_separator = "."       # default none; "." "," " " or "'" as the locale writes them
    decimal_separator = ","         # default "."
    default_currency = "EUR"        # for a file without a currency column, or an empty cell
    object = "credit_note"          # credit_note, refund, balance_credit or credit_memo (default)

    [columns]                       # the file's column -> the field it holds
    "Credit Note Number" = "id"     # required
    "Customer Id" = "customer"
    "Total" = "amount"              # required
    "Currency" = "currency"         # required unless default_currency
    "Date" = "date"                 # required
    "Status" = "status"             # without one, every row is ok
    "Reference" = "reference"       # the amends request id
    "Invoice" = "parent"
    "Type" = "object"

    [status]                        # the file's status values -> ok, void, failed, pending
    "Refunded" = "ok"
    "Voided" = "void"

    [objects]                       # the file's values of the object column -> amends' objects
    "Refund" = "refund"

A value of the status or object column that the mapping doesn't list is a
bad row (matched exactly, then ignoring case). An amount with the other
sign than credit_sign says is a debit, not a credit: a bad row, as are an
amount finer than the currency's minor unit, a date not in date_format, an
unknown currency and a missing id, amount or date. A file lists each credit
once: an id that appears again is a bad row.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import tomllib
from typing import Any, Mapping, Union

import amends
from amends.billing import OBJECTS, STATUSES, BillingBatch
from amends.importers import _csv
from amends.importers._common import (INT64_MAX, Collector, Item, Paths, RowError, currency_code, date_from_format,
                                      parse_decimal, path_list, to_minor)

__all__ = ["FIELDS", "CsvMapping", "load_mapping", "read"]

FIELDS = ("id", "customer", "currency", "amount", "date", "status", "reference", "parent", "object")
REQUIRED_FIELDS = ("id", "amount", "date")
MappingArg = Union[str, "os.PathLike[str]", Mapping[str, Any]]
_ONCE = "a file lists each credit once"


@dataclasses.dataclass(frozen=True)
class CsvMapping:
    """A checked mapping file; columns maps each field to the column that holds it."""

    columns: dict[str, str]
    name: str = "csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    date_format: str = "%Y-%m-%d"
    amount_unit: str = "major"
    credit_sign: str = "positive"
    thousands_separator: str = ""
    decimal_separator: str = "."
    default_currency: str = ""
    object: str = "credit_memo"
    status: dict[str, str] = dataclasses.field(default_factory=dict)
    objects: dict[str, str] = dataclasses.field(default_factory=dict)


_SETTINGS = {f.name for f in dataclasses.fields(CsvMapping)} - {"columns", "status", "objects"}


def load_mapping(mapping: MappingArg) -> CsvMapping:
    """Reads and checks a mapping (a TOML file, or the same as a dict); InvalidArgument says what to fix."""
    where = "mapping"
    if isinstance(mapping, (str, os.PathLike)):
        where = f"mapping {mapping}"
        try:
            with open(mapping, "rb") as f:
                mapping = tomllib.load(f)
        except OSError as e:
            raise amends.AmendsIOError(f"can't read {where}: {e}") from e
        except tomllib.TOMLDecodeError as e:
            raise amends.InvalidArgument(f"{where} is not valid TOML: {e}") from None
    try:
        return _check(dict(mapping))
    except ValueError as e:
        raise amends.InvalidArgument(f"{where}: {e}") from None


def _table(raw: dict[str, Any], key: str, allowed: tuple[str, ...]) -> dict[str, str]:
    table = raw.pop(key, {})
    if not isinstance(table, dict):
        raise ValueError(f"[{key}] must be a table")
    for name, value in table.items():
        if value not in allowed:
            raise ValueError(f"[{key}] {name!r} = {value!r}: the value must be one of {', '.join(allowed)}")
    return {str(k): str(v) for k, v in table.items()}


def _check(raw: dict[str, Any]) -> CsvMapping:
    columns_by_name = _table(raw, "columns", FIELDS)
    status, objects = _table(raw, "status", STATUSES), _table(raw, "objects", OBJECTS)
    unknown = sorted(set(raw) - _SETTINGS)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; the settings are {', '.join(sorted(_SETTINGS))}")
    if any(not isinstance(v, str) for v in raw.values()):
        raise ValueError("every setting is a string")
    columns: dict[str, str] = {}
    for column, field in columns_by_name.items():
        if field in columns:
            raise ValueError(f"[columns] maps both {columns[field]!r} and {column!r} to {field}")
        columns[field] = column
    m = CsvMapping(columns=columns, status=status, objects=objects, **raw)
    _check_settings(m)
    return m


def _check_settings(m: CsvMapping) -> None:
    missing = [f for f in REQUIRED_FIELDS if f not in m.columns]
    if "currency" not in m.columns and not m.default_currency:
        missing.append("currency (or a default_currency)")
    if missing:
        raise ValueError(f"[columns] maps no column to {', '.join(missing)}")
    if "status" in m.columns and not m.status:
        raise ValueError("a status column needs a [status] table mapping its values to ok, void, failed or pending")
    choices = {"amount_unit": ("major", "minor"), "credit_sign": ("positive", "negative"), "object": OBJECTS}
    for key, allowed in choices.items():
        if getattr(m, key) not in allowed:
            raise ValueError(f"{key} is one of {', '.join(allowed)}, not {getattr(m, key)!r}")
    if len(m.delimiter) != 1 or len(m.decimal_separator) != 1 or len(m.thousands_separator) > 1:
        raise ValueError("delimiter and decimal_separator are one character, thousands_separator one or none")
    if m.thousands_separator == m.decimal_separator or m.decimal_separator.isdigit() or m.thousands_separator.isdigit():
        raise ValueError("the thousands and decimal separators differ, and neither is a digit")
    if not m.name.strip():
        raise ValueError("name (the batch's source) is empty")
    if "%" not in m.date_format:
        raise ValueError(f"date_format {m.date_format!r} has no strftime directive (%Y, %d, ...)")
    try:
        codecs.lookup(m.encoding)
    except LookupError:
        raise ValueError(f"unknown encoding {m.encoding!r}") from None
    if m.default_currency:
        try:
            currency_code(m.default_currency)
        except RowError as e:
            raise ValueError(f"default_currency: {e}") from None


def read(paths: Paths, mapping: MappingArg | CsvMapping, skip_bad_rows: bool = False) -> BillingBatch:
    """CSV files read through a mapping (a TOML file's path, a dict, or a CsvMapping) as a BillingBatch."""
    m = mapping if isinstance(mapping, CsvMapping) else load_mapping(mapping)
    files = path_list(paths)
    collector = Collector(m.name, files)
    for path in files:
        table = _csv.read(path, collector, encoding=m.encoding, delimiter=m.delimiter)
        if table is not None:
            _csv.convert(table, collector, lambda t: _columns(t, m), lambda t, r, c: _row(t, r, c, m),
                         once_per_file=_ONCE)
    return collector.finish(skip_bad_rows)


def _columns(table: _csv.Table, m: CsvMapping) -> dict[str, int]:
    return {field: table.require(column) for field, column in m.columns.items()}


def _lookup(value: str, table: Mapping[str, str], what: str) -> str:
    if value in table:
        return table[value]
    folded = {k.casefold(): v for k, v in table.items()}
    if value.casefold() in folded:
        return folded[value.casefold()]
    raise RowError(f"{what} {value!r} is not in the mapping's [{'status' if what == 'status' else 'objects'}] table")


def _amount(text: str, code: str, m: CsvMapping) -> int:
    value = parse_decimal(text, thousands=m.thousands_separator, decimal=m.decimal_separator)
    if (value < 0) if m.credit_sign == "positive" else (value > 0):
        raise RowError(f"amount {text} is a debit, not a credit: this mapping writes credits {m.credit_sign}")
    value = abs(value)
    if m.amount_unit == "major":
        return to_minor(value, code, text)
    if value != value.to_integral_value() or value > INT64_MAX:
        raise RowError(f"amount {text} is not a whole number of minor units")
    return int(value)


def _row(table: _csv.Table, record: _csv.Record, c: dict[str, int], m: CsvMapping) -> Item:
    def cell(field: str) -> str:
        return record.values[c[field]] if field in c else ""

    if not cell("id"):
        raise RowError("missing id")
    code = currency_code(cell("currency") or m.default_currency)
    raw_status = cell("status")
    status = _lookup(raw_status, m.status, "status") if "status" in c else "ok"
    kind = _lookup(cell("object"), m.objects | {o: o for o in OBJECTS}, "object") if "object" in c else m.object
    return Item(m.name, table.file, record.line, cell("id"), kind, cell("customer"), code,
                _amount(cell("amount"), code, m), date_from_format(cell("date"), m.date_format), status, raw_status,
                cell("reference"), cell("parent"))
