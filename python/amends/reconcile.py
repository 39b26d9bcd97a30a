"""Reconciliation: what the ledger says was granted against what the billing system did.

    batch = amends.importers.read("stripe", ["credit_notes.json", "refunds.json"])
    result = desk.reconcile(batch, period="2026-10")
    result.missing_in_ledger          # credits issued in billing that nobody authorised
    result.exceptions                 # every item that did not match, exceptions first, with a reason
    result.corrections                # proposed corrections, for a person to approve

The matching runs in C++ (amends/reconcile.hpp) over integer-coded columns,
and so does every judgement around it (amends/reconcile_report.hpp): the
reasons in words, the corrections, the summary, which requests a run moves to
`reconciled`, the ledger side of a period and the run's inputs checksum. This
module codes the strings, hands the columns over and keeps the results as
DataFrames. Amounts are integers in the currency's minor unit on both sides.

A run's inputs checksum is scheme 2 (`"checksum": 2` among the parameters
recorded with it): SHA-256 of the byte encoding that amends/reconcile_report.hpp
documents -- the parameters as canonical JSON, then each side's row count and
its columns in a fixed order, every value length-prefixed. Runs recorded
before it (scheme 1, over pandas' row hashes) keep their checksum; rerunning
the same inputs on such a book records one new run under scheme 2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

import amends
from amends import _core
from amends.billing import STATUSES, BillingBatch

__all__ = ["LEDGER_COLUMNS", "OUTCOMES", "PASSES", "ACTIONS", "EXCEPTIONS", "CHECKSUM_SCHEME", "ReconcileResult", "match",
           "checksum", "parameters_json"]

LEDGER_COLUMNS: tuple[str, ...] = tuple(_core.RECONCILE_LEDGER_COLUMNS)
BILLING_CHECKSUM_COLUMNS: tuple[str, ...] = tuple(_core.RECONCILE_BILLING_COLUMNS)
OUTCOMES: tuple[str, ...] = tuple(_core.RECONCILE_OUTCOMES)
PASSES: tuple[str, ...] = tuple(_core.RECONCILE_PASSES)
ACTIONS: tuple[str, ...] = tuple(_core.RECONCILE_ACTIONS)
# The outcomes a person has to look at, most urgent first (amends/reconcile_report.hpp says why).
EXCEPTIONS: tuple[str, ...] = tuple(_core.RECONCILE_EXCEPTIONS)
CHECKSUM_SCHEME: int = int(_core.RECONCILE_CHECKSUM_SCHEME)
_EPOCH = np.datetime64("1970-01-01", "D")
_CORRECTION_COLUMNS = ["action", "request", "billing_id", "amount_minor", "currency", "reason"]


def _days(dates: pd.Series) -> np.ndarray:
    values = pd.to_datetime(dates).to_numpy(dtype="datetime64[D]")
    return (values - _EPOCH).astype("int32")


def _text(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=object)


def _integer_amounts(column: pd.Series, side: str) -> None:
    """Amounts are integers of the minor unit; a float column would be truncated, so it is refused."""
    if len(column) and not pd.api.types.is_integer_dtype(column.dtype):
        raise TypeError(f"the {side} amount_minor column holds {column.dtype}, not integers of the currency's minor "
                        "unit: convert exact amounts (Decimal or str) with the currency's minor units first")


def checksum(ledger: pd.DataFrame, billing: BillingBatch, parameters: str) -> str:
    """SHA-256 of a run's inputs: `parameters` (the canonical JSON of `parameters_json`) and both sides.

    The byte encoding is amends/reconcile_report.hpp's (scheme CHECKSUM_SCHEME): the same inputs, the
    same checksum; another amount, id, status, parameter or row order, another one.
    """
    def columns(frame: pd.DataFrame, names: tuple[str, ...]) -> dict[str, Any]:
        return {c: (frame[c].to_numpy(dtype="int64") if c == "amount_minor" else _days(frame[c]) if c == "date"
                    else _text(frame[c])) for c in names}

    return str(_core.reconcile_checksum(parameters, columns(ledger, LEDGER_COLUMNS),
                                        columns(billing.frame, BILLING_CHECKSUM_COLUMNS)))


def parameters_json(amount_tolerance_minor: int, days: int, splits: bool, first: dt.date, last: dt.date, source: str,
                    allow_empty: bool = False) -> str:
    """A run's parameters as canonical JSON (keys sorted, the checksum scheme among them)."""
    return str(_core.reconcile_parameters(amount_tolerance_minor, days, splits, first, last, source, allow_empty))


@dataclasses.dataclass
class ReconcileResult:
    """Per-item outcomes on both sides (DataFrames), with reasons in words and proposed corrections."""

    ledger: pd.DataFrame   # LEDGER_COLUMNS + outcome, matched_by, counterpart, difference_minor, reason
    billing: pd.DataFrame  # billing COLUMNS + outcome, matched_by, counterpart, difference_minor, reason
    parameters: dict[str, Any]
    inputs_sha256: str = ""
    run_id: int | None = None
    seconds: float = 0.0
    report: Any = dataclasses.field(default=None, repr=False)  # the core's report (amends._core._ReconcileReport)

    def _of(self, outcome: str) -> pd.DataFrame:
        parts = [self.ledger[self.ledger["outcome"] == outcome].assign(side="ledger"),
                 self.billing[self.billing["outcome"] == outcome].assign(side="billing")]
        if outcome == "conflicting_duplicate":  # the billing rows are the trouble; the ledger items follow from them
            parts.reverse()
        return pd.concat(parts, ignore_index=True)

    @property
    def matched(self) -> pd.DataFrame:
        return self._of("matched")

    @property
    def amount_mismatch(self) -> pd.DataFrame:
        return self._of("amount_mismatch")

    @property
    def missing_in_billing(self) -> pd.DataFrame:
        return self.ledger[self.ledger["outcome"] == "missing_in_billing"]

    @property
    def missing_in_ledger(self) -> pd.DataFrame:
        return self.billing[self.billing["outcome"] == "missing_in_ledger"]

    @property
    def duplicates(self) -> pd.DataFrame:
        return self.billing[self.billing["outcome"] == "duplicate"]

    @property
    def identical_duplicates(self) -> pd.DataFrame:
        """Billing rows repeating an earlier row of their id in every field: counted once, listed here."""
        return self.billing[self.billing["outcome"] == "identical_duplicate"]

    @property
    def conflicting_duplicates(self) -> pd.DataFrame:
        """Every billing row of an id seen with different contents, and the ledger items they leave in doubt."""
        return self._of("conflicting_duplicate")

    @property
    def status_problems(self) -> pd.DataFrame:
        return self._of("status_problem")

    @property
    def exceptions(self) -> pd.DataFrame:
        """Every item that needs a person, the most urgent kinds first."""
        parts = [self._of(o) for o in EXCEPTIONS]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return frame

    @property
    def ok(self) -> bool:
        """True when everything reconciles within tolerance."""
        return bool(self.report.ok)

    def summary(self) -> dict[str, Any]:
        """Item counts per side, the exceptions, and per side every outcome some item has."""
        return dict(json.loads(self.report.summary_json))

    @property
    def corrections(self) -> pd.DataFrame:
        """Proposed corrections, never posted: for a person to approve."""
        columns = self.report.corrections()
        frame = pd.DataFrame(columns, columns=_CORRECTION_COLUMNS)
        if len(frame):
            frame["amount_minor"] = frame["amount_minor"].astype("int64")
        else:  # no rows: every column of no type, as a frame of no records
            frame = pd.DataFrame([], columns=_CORRECTION_COLUMNS)
        return frame


def match(ledger: pd.DataFrame, billing: BillingBatch, *, amount_tolerance_minor: int = 0, days: int = 3,
          splits: bool = True, reference_needs_customer: bool = False, threads: int = 0, allow_empty: bool = False,
          billing_name: str = "") -> ReconcileResult:
    """Matches ledger items (LEDGER_COLUMNS) against a billing batch; see amends/reconcile.hpp for the passes.

    threads: how many threads the matching may use; 0 (the default) is what the machine has, at most 8.
    The result is the same for any number. An empty billing batch is refused (amends.InvalidArgument, naming
    `billing_name`, by default the batch's files) unless allow_empty says the period really had no credits.
    """
    import time

    missing = [c for c in LEDGER_COLUMNS if c not in ledger.columns]
    if missing:
        raise amends.InvalidArgument(f"the ledger items need the columns {', '.join(missing)}")
    _integer_amounts(ledger["amount_minor"], "ledger")
    bf = billing.frame
    _integer_amounts(bf["amount_minor"], "billing")
    t0 = time.perf_counter()
    # One dictionary per kind of string, shared by both sides.
    n = len(ledger)

    def codes(left: pd.Series, right: pd.Series) -> np.ndarray:
        found, _ = pd.factorize(pd.concat([left, right], ignore_index=True))
        return found

    request_codes = codes(ledger["id"], bf["reference"])
    ref = request_codes[n:].astype("int64")
    ref[(bf["reference"] == "").to_numpy()] = -1
    customer_codes = codes(ledger["customer"], bf["customer"])
    currency_codes = codes(ledger["currency"], bf["currency"])
    billing_ids, _ = pd.factorize(bf["id"])
    status = pd.Categorical(bf["status"], categories=STATUSES).codes.astype("uint8")
    raw = _core.reconcile_match_report(
        {"id": request_codes[:n].astype("int64"), "customer": customer_codes[:n].astype("int64"),
         "currency": currency_codes[:n].astype("int32"), "amount_minor": ledger["amount_minor"].to_numpy(dtype="int64"),
         "day": _days(ledger["date"])},
        {"id": billing_ids.astype("int64"), "reference": ref, "customer": customer_codes[n:].astype("int64"),
         "currency": currency_codes[n:].astype("int32"), "amount_minor": bf["amount_minor"].to_numpy(dtype="int64"),
         "day": _days(bf["date"]), "status": status},
        {c: _text(ledger[c]) for c in ("id", "customer", "currency")},
        {c: _text(bf[c]) for c in ("id", "customer", "currency", "object", "raw_status", "reference")},
        amount_tolerance_minor, days, splits, reference_needs_customer, threads, allow_empty,
        billing_name or _name_of(billing))
    seconds = time.perf_counter() - t0
    report = raw["report"]
    ids = np.concatenate([ledger["id"].to_numpy(dtype=object), bf["id"].to_numpy(dtype=object)])
    texts = np.asarray(report.texts, dtype=object)

    def side(frame: pd.DataFrame, r: dict[str, np.ndarray], billing_side: bool) -> pd.DataFrame:
        # No copy of the input's columns (copy-on-write): only the new columns take memory.
        out = frame.reset_index(drop=True)
        out = out.assign(outcome=pd.Categorical.from_codes(r["outcome"].astype("int8"), categories=list(OUTCOMES)),
                         matched_by=pd.Categorical.from_codes(r["pass"].astype("int8"), categories=list(PASSES)))
        cp = report.counterpart(billing_side)
        names = np.full(len(cp), "", dtype=object)
        some = cp >= 0
        names[some] = ids[cp[some]]
        return out.assign(counterpart=names, difference_minor=r["difference"],
                          reason=texts[report.reason_index(billing_side)])

    lres = side(ledger, raw["ledger"], False)
    bres = side(bf, raw["billing"], True)
    params = {"amount_tolerance_minor": amount_tolerance_minor, "days": days, "splits": splits,
              "reference_needs_customer": reference_needs_customer}
    return ReconcileResult(lres, bres, params, seconds=seconds, report=report)


def _name_of(billing: BillingBatch, within: tuple[dt.date, dt.date] | None = None, outside: int = 0) -> str:
    """The billing side in words, for the refusal of an empty one: its files, and the period it was cut to."""
    files = list(billing.files) or sorted({str(f) for f in billing.frame["file"]})
    name = f"the billing export {', '.join(files)}" if files else "the billing side"
    if within is not None and outside:
        name += (f" within {within[0]} to {within[1]} (its {outside:,} item{'s' * (outside != 1)} "
                 f"{'is' if outside == 1 else 'are'} dated outside)")
    return name


def ledger_items(desk: "amends.Desk", first: dt.date, last: dt.date) -> pd.DataFrame:
    """The applied concessions of a desk whose application falls in first..last: the ledger side."""
    items = _core.reconcile_ledger_items(desk.core, first, last)
    dates = (np.asarray(items.pop("day"), dtype="int64").astype("datetime64[D]")).astype(object)
    frame = pd.DataFrame({**items, "date": dates}, columns=[*LEDGER_COLUMNS, "state"])
    frame["amount_minor"] = frame["amount_minor"].astype("int64")
    return frame


def _period_range(period: str | tuple[Any, Any]) -> tuple[dt.date, dt.date]:
    if isinstance(period, tuple):
        first, last = (p if isinstance(p, dt.date) else dt.date.fromisoformat(str(p)) for p in period)
        return first, last
    p = amends.Period(period)
    return p.first_day, p.last_day


def run(desk: "amends.Desk", billing: BillingBatch, period: str | tuple[Any, Any], *, source: str | None = None,
        amount_tolerance_minor: int = 0, days: int = 3, splits: bool = True, actor: str = "amends",
        at: dt.datetime | None = None, threads: int = 0, allow_empty: bool = False) -> ReconcileResult:
    """Reconciles a desk's applied concessions in `period` against a billing batch, and records the run.

    Both sides are taken within the period (a "YYYY-MM" or a (first, last) pair of dates). The run is
    recorded with its inputs' checksum in the same transaction that moves the matched requests to
    `reconciled`; the same inputs again give the same result and record nothing new. `threads` is for the
    matching (0: the machine's cores, at most 8); it is not a parameter of the run, whose result is the same
    on any number.

    A billing batch with no items in the period is refused (amends.InvalidArgument, naming its files; nothing
    is recorded): against it every concession would look never applied. allow_empty=True says the period
    really had no credits; the run then records `"allow_empty": true` among its parameters.
    """
    first, last = _period_range(period)
    batch = billing.between(first, last)
    ledger = ledger_items(desk, first, last).drop(columns=["state"])
    if source is None:
        sources = sorted(set(batch.frame["source"])) if len(batch) else ["none"]
        source = "+".join(sources) if sources else "none"
    text = parameters_json(amount_tolerance_minor, days, splits, first, last, source, allow_empty and len(batch) == 0)
    # Requests reconciled by an earlier run count as applied: the inputs are the same either way.
    sha = checksum(ledger, batch, text)
    result = match(ledger, batch, amount_tolerance_minor=amount_tolerance_minor, days=days, splits=splits,
                   threads=threads, allow_empty=allow_empty,
                   billing_name=_name_of(billing, (first, last), len(billing) - len(batch)))
    result.parameters = json.loads(text)
    result.inputs_sha256 = sha
    existing = desk.core.find_run(sha)
    if existing is not None:
        result.run_id = int(existing)
        return result
    report = result.report
    # Under the write lock, caught up: the core records nothing when another job recorded these inputs meanwhile.
    result.run_id = int(desk.transaction("reconcile", lambda: report.record(
        desk.core, source, first, last, text, sha, actor, desk._at(at))))
    return result
