"""Billing exports read into a BillingBatch, the billing side of reconciliation.

    batch = amends.importers.read("stripe", ["credit_notes.json", "refunds.json", "balance.csv"])
    batch = amends.importers.read("csv", ["export.csv"], mapping="chargebee.toml")

One module per billing system -- stripe, zuora, netsuite, lago -- and
generic, any CSV through a mapping file. Each has read(paths,
skip_bad_rows=False). Rules they share:

- amounts are integers of the currency's ISO 4217 minor unit, read from the
  export's text with decimal.Decimal (never a float); an amount finer than
  that unit, an unknown currency or a missing required field is a bad row;
- a bad row is BadRow(file, line, reason): line is the CSV line the record
  starts on, or the position (1, 2, ...) of the object in a JSON file, or 0
  for the file as a whole (invalid JSON, a list whose other pages are
  missing). A file with bad rows imports nothing: BillingImportError lists
  every bad row of every file, unless skip_bad_rows=True, which imports the
  rest and keeps the bad rows in the batch's `skipped`;
- an object read at several points of its life (a refund and its later
  failure, a pending snapshot and a webhook) -- the same customer, currency,
  amount and reference, in different states -- is one row: the furthest
  state wins (pending < ok < void/failed; ties: the last read), dated with
  the earliest date seen. Any other repeat of an id (the same object on two
  pages or in overlapping exports, one id with two amounts) keeps every row:
  reconciliation reports it as an identical or a conflicting duplicate, so
  no amount disappears unseen. A CSV that lists the same id twice in one
  file is a line-level export: its repeats are bad rows;
- what isn't a credit given to a customer (charges, invoices, payouts, the
  use of a credit) is passed over silently.
"""

from __future__ import annotations

from typing import Callable

import amends
from amends.billing import BillingBatch
from amends.importers import generic, lago, netsuite, stripe, zuora
from amends.importers._common import Paths
from amends.importers.generic import CsvMapping, MappingArg, load_mapping

__all__ = ["SOURCES", "CsvMapping", "generic", "lago", "load_mapping", "netsuite", "read", "stripe", "zuora"]

SOURCES = ("stripe", "zuora", "netsuite", "lago", "csv")

_READERS: dict[str, Callable[..., BillingBatch]] = {"stripe": stripe.read, "zuora": zuora.read,
                                                    "netsuite": netsuite.read, "lago": lago.read}


def read(source: str, paths: Paths, mapping: MappingArg | CsvMapping | None = None,
         skip_bad_rows: bool = False) -> BillingBatch:
    """Reads billing exports of one source ("stripe", "zuora", "netsuite", "lago", or "csv" with a mapping)."""
    if source == "csv":
        if mapping is None:
            raise amends.InvalidArgument("source 'csv' needs a mapping (a TOML file that names the columns)")
        return generic.read(paths, mapping, skip_bad_rows=skip_bad_rows)
    if source not in _READERS:
        raise amends.InvalidArgument(f"unknown billing source {source!r}; the sources are {', '.join(SOURCES)}")
    if mapping is not None:
        raise amends.InvalidArgument(f"a mapping is for source 'csv'; {source} exports are read by their own shape")
    return _READERS[source](paths, skip_bad_rows=skip_bad_rows)
