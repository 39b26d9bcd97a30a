"""A run's inputs checksum (scheme 2), computed independently from the byte encoding amends/reconcile_report.hpp
documents: field(x) = len(x) as u64 little-endian + x; field(parameters), then per side the row count (u64) and,
per column in the fixed order, field(name) and field(value) of each row."""

from __future__ import annotations

import datetime as dt
import hashlib
import struct

import pandas as pd  # type: ignore[import-untyped]
import pytest

from amends import reconcile
from amends.billing import BillingBatch

LEDGER = ("id", "customer", "currency", "amount_minor", "date", "kind")
BILLING = ("source", "id", "object", "customer", "currency", "amount_minor", "date", "status", "reference", "parent")


def field(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def expected(ledger: pd.DataFrame, billing: pd.DataFrame, parameters: str) -> str:
    out = field(parameters)
    for frame, columns in ((ledger, LEDGER), (billing, BILLING)):
        out += struct.pack("<Q", len(frame))
        for c in columns:
            out += field(c)
            for v in frame[c]:
                out += field(v.isoformat() if isinstance(v, dt.date) else str(v))
    return hashlib.sha256(out).hexdigest()


def inputs() -> tuple[pd.DataFrame, BillingBatch]:
    ledger = pd.DataFrame({"id": ["R-000001", "R-000002"], "customer": ["C-1", "C-2"], "currency": ["USD", "JPY"],
                           "amount_minor": [5000, 700], "date": [dt.date(2026, 10, 3), dt.date(2026, 10, 9)],
                           "kind": ["goodwill", "refund"]})
    rows = [{"source": "stripe", "file": "x.json", "line": k + 1, "id": i, "object": o, "customer": c,
             "currency": cur, "amount_minor": a, "date": d, "status": s, "raw_status": s, "reference": r, "parent": ""}
            for k, (i, o, c, cur, a, d, s, r) in enumerate([
                ("cn_1", "credit_note", "cus_1", "USD", 5000, dt.date(2026, 10, 4), "ok", "R-000001"),
                ("re_é", "refund", "cus_2", "JPY", 700, dt.date(2026, 10, 9), "void", "")])]
    return ledger, BillingBatch.from_rows(rows)


PARAMS = reconcile.parameters_json(0, 3, True, dt.date(2026, 10, 1), dt.date(2026, 10, 31), "stripe")


def test_the_parameters_are_canonical_json_with_the_scheme() -> None:
    assert PARAMS == ('{"amount_tolerance_minor":0,"checksum":2,"days":3,"period":["2026-10-01","2026-10-31"],'
                      '"source":"stripe","splits":true}')
    assert reconcile.CHECKSUM_SCHEME == 2


def test_the_checksum_is_the_documented_encoding() -> None:
    ledger, batch = inputs()
    assert reconcile.checksum(ledger, batch, PARAMS) == expected(ledger, batch.frame, PARAMS)


def test_the_same_inputs_give_the_same_checksum() -> None:
    ledger, batch = inputs()
    again_ledger, again_batch = inputs()
    assert reconcile.checksum(ledger, batch, PARAMS) == reconcile.checksum(again_ledger, again_batch, PARAMS)


@pytest.mark.parametrize("change", ["ledger amount", "billing amount", "ledger id", "billing id", "status",
                                    "parameter", "billing order"])
def test_any_change_gives_another_checksum(change: str) -> None:
    ledger, batch = inputs()
    before = reconcile.checksum(ledger, batch, PARAMS)
    frame = batch.frame.copy()
    params = PARAMS
    if change == "ledger amount":
        ledger.loc[0, "amount_minor"] = 5001
    elif change == "billing amount":
        frame.loc[1, "amount_minor"] = 701
    elif change == "ledger id":
        ledger.loc[1, "id"] = "R-000003"
    elif change == "billing id":
        frame.loc[0, "id"] = "cn_2"
    elif change == "status":
        frame.loc[1, "status"] = "failed"
    elif change == "parameter":
        params = reconcile.parameters_json(0, 4, True, dt.date(2026, 10, 1), dt.date(2026, 10, 31), "stripe")
    else:  # the billing export's row order counts, as it did before
        frame = frame.iloc[::-1].reset_index(drop=True)
    after = reconcile.checksum(ledger, BillingBatch(frame), params)
    assert after != before
    assert after == expected(ledger, frame, params)
