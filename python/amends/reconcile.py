"""Reconciliation: what the ledger says was granted against what the billing system did.

    batch = amends.importers.read("stripe", ["credit_notes.json", "refunds.json"])
    result = desk.reconcile(batch, period="2026-10")
    result.missing_in_ledger          # credits issued in billing that nobody authorised
    result.exceptions                 # every item that did not match, exceptions first, with a reason
    result.corrections                # proposed corrections, for a person to approve

The matching runs in C++ (amends/reconcile.hpp) over integer-coded columns;
this module codes the strings, renders the reasons in words and keeps the
results as DataFrames. Amounts are integers in the currency's minor unit on
both sides; `Decimal` columns are added for people.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

import amends
from amends import _core
from amends.billing import STATUSES, BillingBatch

__all__ = ["LEDGER_COLUMNS", "OUTCOMES", "EXCEPTIONS", "ReconcileResult", "match", "checksum"]

LEDGER_COLUMNS = ("id", "customer", "currency", "amount_minor", "date", "kind")
OUTCOMES: tuple[str, ...] = tuple(_core.RECONCILE_OUTCOMES)
PASSES: tuple[str, ...] = tuple(_core.RECONCILE_PASSES)
# The outcomes a person has to look at, most urgent first. A conflicting duplicate (one billing id with two
# contents) may hide any amount; an identical one is counted once, but billing may have issued it twice.
EXCEPTIONS = ("missing_in_ledger", "conflicting_duplicate", "status_problem", "duplicate", "identical_duplicate",
              "amount_mismatch", "missing_in_billing")
# The billing outcomes whose counterpart is on the billing side too.
_SAME_SIDE = ("duplicate", "identical_duplicate", "conflicting_duplicate")
_STATUS_CODES = {"ok": 0, "void": 1, "failed": 2, "pending": 3}
_EPOCH = np.datetime64("1970-01-01", "D")


def _days(dates: pd.Series) -> np.ndarray:
    values = pd.to_datetime(dates).to_numpy(dtype="datetime64[D]")
    return (values - _EPOCH).astype("int32")


def _places(currencies: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(currencies)
    places = np.array([amends.currency(str(c)).minor_units for c in uniques], dtype="int64")
    return places[codes]


def _decimal(minor: np.ndarray, places: np.ndarray) -> list[Decimal]:
    return [Decimal(int(v)).scaleb(-int(p)) for v, p in zip(minor, places)]


def _integer_amounts(column: pd.Series, side: str) -> None:
    """Amounts are integers of the minor unit; a float column would be truncated, so it is refused."""
    if len(column) and not pd.api.types.is_integer_dtype(column.dtype):
        raise TypeError(f"the {side} amount_minor column holds {column.dtype}, not integers of the currency's minor "
                        "unit: convert exact amounts (Decimal or str) with the currency's minor units first")


def checksum(ledger: pd.DataFrame, billing: BillingBatch, parameters: dict[str, Any]) -> str:
    """SHA-256 over both inputs (in a canonical column order) and the parameters: the same inputs, the same run."""
    h = hashlib.sha256()
    h.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    for frame, columns in ((ledger, LEDGER_COLUMNS), (billing.frame, ("source", "id", "object", "customer", "currency",
                                                                       "amount_minor", "date", "status", "reference",
                                                                       "parent"))):
        h.update(str(len(frame)).encode())
        for column in columns:
            h.update(column.encode())
            h.update(pd.util.hash_pandas_object(frame[column].astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()


@dataclasses.dataclass
class ReconcileResult:
    """Per-item outcomes on both sides (DataFrames), with reasons in words and proposed corrections."""

    ledger: pd.DataFrame   # LEDGER_COLUMNS + outcome, matched_by, counterpart, difference_minor, reason
    billing: pd.DataFrame  # billing COLUMNS + outcome, matched_by, counterpart, difference_minor, reason
    parameters: dict[str, Any]
    inputs_sha256: str = ""
    run_id: int | None = None
    seconds: float = 0.0

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
        return not any((side["outcome"].isin(EXCEPTIONS)).any() for side in (self.ledger, self.billing))

    def summary(self) -> dict[str, Any]:
        counts = {f"ledger_{o}": int((self.ledger["outcome"] == o).sum()) for o in OUTCOMES}
        counts |= {f"billing_{o}": int((self.billing["outcome"] == o).sum()) for o in OUTCOMES}
        return {"ledger_items": len(self.ledger), "billing_items": len(self.billing),
                "exceptions": int(self.ledger["outcome"].isin(EXCEPTIONS).sum() + self.billing["outcome"].isin(EXCEPTIONS).sum()),
                **{k: v for k, v in counts.items() if v}}

    @property
    def corrections(self) -> pd.DataFrame:
        """Proposed corrections, never posted: for a person to approve."""
        rows: list[dict[str, Any]] = []
        for r in self.missing_in_billing.itertuples(index=False):
            rows.append({"action": "apply_in_billing", "request": r.id, "billing_id": "", "amount_minor": r.amount_minor,
                         "currency": r.currency,
                         "reason": f"{r.id} was approved and applied in the ledger but billing has no credit for it: apply it in billing"})
        for r in self.missing_in_ledger.itertuples(index=False):
            rows.append({"action": "investigate_unauthorised", "request": "", "billing_id": r.id,
                         "amount_minor": r.amount_minor, "currency": r.currency,
                         "reason": f"{r.object} {r.id} credited customer {r.customer} without an authorised request: "
                                   "void it in billing, or submit a request for it"})
        settled = set(self.ledger.loc[self.ledger["outcome"] == "matched", "id"])
        for r in self.billing[self.billing["outcome"] == "status_problem"].itertuples(index=False):
            if r.counterpart in settled:
                continue  # another billing item settled the request (a failed refund retried): nothing to undo
            if r.status == "failed" and r.object == "refund":
                action, what = "reverse_refund", f"refund {r.id} failed in billing: reverse the refund posted for {r.counterpart}"
            elif r.status == "void":
                action, what = "reissue_or_reverse", f"{r.object} {r.id} was voided in billing: reissue it, or reverse {r.counterpart}"
            else:
                continue
            rows.append({"action": action, "request": r.counterpart, "billing_id": r.id, "amount_minor": r.amount_minor,
                         "currency": r.currency, "reason": what})
        for r in self.duplicates.itertuples(index=False):
            rows.append({"action": "void_duplicate", "request": "", "billing_id": r.id, "amount_minor": r.amount_minor,
                         "currency": r.currency, "reason": f"{r.object} {r.id} repeats {r.counterpart}: void it in billing"})
        for r in self.billing[self.billing["outcome"] == "conflicting_duplicate"].itertuples(index=False):
            rows.append({"action": "resolve_conflicting_id", "request": r.reference, "billing_id": r.id,
                         "amount_minor": r.amount_minor, "currency": r.currency,
                         "reason": f"{r.object} {r.id} is in the billing export more than once with different content, "
                                   "this row for " + f"{r.amount_minor} minor units: find what billing holds, correct "
                                   "the export and run again"})
        for r in self.identical_duplicates.itertuples(index=False):
            rows.append({"action": "check_repeated_id", "request": "", "billing_id": r.id,
                         "amount_minor": r.amount_minor, "currency": r.currency,
                         "reason": f"{r.object} {r.id} is in the billing export twice, the same in every field; it was "
                                   "counted once: if billing issued it twice, void the repeat in billing"})
        for r in self.ledger[self.ledger["outcome"] == "amount_mismatch"].itertuples(index=False):
            rows.append({"action": "adjust", "request": r.id, "billing_id": r.counterpart,
                         "amount_minor": r.difference_minor, "currency": r.currency,
                         "reason": f"billing credited {r.difference_minor:+d} minor units against {r.id}: correct one side"})
        mismatched = set(self.ledger.loc[self.ledger["outcome"] == "amount_mismatch", "id"])
        extra = self.billing[(self.billing["outcome"] == "amount_mismatch") & ~self.billing["counterpart"].isin(mismatched)]
        for r in extra.itertuples(index=False):
            rows.append({"action": "adjust", "request": r.counterpart, "billing_id": r.id, "amount_minor": r.difference_minor,
                         "currency": r.currency,
                         "reason": f"{r.object} {r.id} credited {r.difference_minor:+d} minor units against {r.counterpart}, "
                                   "already settled by another item: void or correct it"})
        return pd.DataFrame(rows, columns=["action", "request", "billing_id", "amount_minor", "currency", "reason"])


def _reasons(frame: pd.DataFrame, side: str, days: int) -> list[str]:
    out = []
    places = _places(frame["currency"]) if len(frame) else np.zeros(0, dtype="int64")
    for k, r in enumerate(frame.itertuples(index=False)):
        p = int(places[k])
        amount = f"{Decimal(int(r.amount_minor)).scaleb(-p)} {r.currency}"
        diff = f"{Decimal(int(r.difference_minor)).scaleb(-p):+} {r.currency}"
        o, via, cp = r.outcome, r.matched_by, r.counterpart
        if o == "matched":
            out.append({"reference": f"matched {cp} by reference", "amount_and_date": f"matched {cp} by customer, amount and date",
                        "tolerance": f"matched {cp} within the amount tolerance ({diff})",
                        "split": f"matched {cp} as part of a split"}.get(via, f"matched {cp}"))
        elif o == "amount_mismatch":
            out.append(f"{amount} here, but {cp} differs by {diff}" + (" (the only candidate of this customer and currency within "
                                                                      f"{days} days)" if via == "only_candidate" else ""))
        elif o == "missing_in_billing":
            out.append(f"approved and applied ({amount}) but not found in billing within {days} days: the credit was never applied")
        elif o == "missing_in_ledger":
            out.append(f"{amount} credited to {r.customer} in billing with no authorised request in the ledger")
        elif o == "duplicate":
            out.append(f"the same {amount} as {cp}")
        elif o == "identical_duplicate":
            out.append(f"{cp} again, the same {amount} and everything else: counted once; billing may have issued it "
                       "twice")
        elif o == "conflicting_duplicate":
            if side == "billing":
                out.append(f"{r.id} is in billing more than once with different content (here {amount} on "
                           f"{pd.Timestamp(r.date).date()}, {r.status}): none of them is matched")
            else:
                out.append(f"billing holds {cp} more than once with different content: whether it settles this "
                           "request can't be told")
        elif o == "status_problem":
            if side == "billing":
                out.append(f"{r.raw_status} in billing ({r.status}) for {cp}")
            else:
                out.append(f"the billing item for it ({cp}) is not final or was undone")
        else:
            out.append(f"{r.raw_status} in billing and not in the ledger: nothing was given")
    return out


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
    raw = _core.reconcile_match(
        {"id": request_codes[:n].astype("int64"), "customer": customer_codes[:n].astype("int64"),
         "currency": currency_codes[:n].astype("int32"), "amount_minor": ledger["amount_minor"].to_numpy(dtype="int64"),
         "day": _days(ledger["date"])},
        {"id": billing_ids.astype("int64"), "reference": ref, "customer": customer_codes[n:].astype("int64"),
         "currency": currency_codes[n:].astype("int32"), "amount_minor": bf["amount_minor"].to_numpy(dtype="int64"),
         "day": _days(bf["date"]), "status": status},
        amount_tolerance_minor, days, splits, reference_needs_customer, threads, allow_empty,
        billing_name or _name_of(billing))
    seconds = time.perf_counter() - t0
    matched_words = {"reference": "matched by reference", "amount_and_date": "matched by customer, amount and date",
                     "tolerance": "matched within the amount tolerance", "split": "matched as part of a split",
                     "duplicate_id": "matched", "same_content": "matched", "only_candidate": "matched", "none": "matched"}
    pass_words = [matched_words[p] for p in PASSES]

    def side(frame: pd.DataFrame, r: dict[str, np.ndarray], counterpart_ids: np.ndarray, own_ids: np.ndarray,
             billing_side: bool) -> pd.DataFrame:
        # No copy of the input's columns (copy-on-write): only the new columns take memory.
        out = frame.reset_index(drop=True)
        out = out.assign(outcome=pd.Categorical.from_codes(r["outcome"].astype("int8"), categories=list(OUTCOMES)),
                         matched_by=pd.Categorical.from_codes(r["pass"].astype("int8"), categories=list(PASSES)))
        cp = r["counterpart"]
        # A billing duplicate's counterpart is on its own side; anything else on the other.
        same = np.isin(r["outcome"], [OUTCOMES.index(o) for o in _SAME_SIDE]) & billing_side
        names = np.full(len(cp), "", dtype=object)
        own = same & (cp >= 0)
        other = ~same & (cp >= 0)
        names[own] = own_ids[cp[own]]
        names[other] = counterpart_ids[cp[other]]
        # Matched items say how (a few shared strings); the others why, in words, below.
        reason = np.asarray(pass_words, dtype=object)[r["pass"]]
        return out.assign(counterpart=names, difference_minor=r["difference"], reason=reason)

    lid = ledger["id"].to_numpy(dtype=object)
    bid = bf["id"].to_numpy(dtype=object)
    lres = side(ledger, raw["ledger"], bid, lid, False)
    bres = side(bf, raw["billing"], lid, bid, True)
    for frame, which in ((lres, "ledger"), (bres, "billing")):
        needs = (frame["outcome"] != "matched").to_numpy()
        if needs.any():
            frame.loc[needs, "reason"] = _reasons(frame[needs], which, days)
    params = {"amount_tolerance_minor": amount_tolerance_minor, "days": days, "splits": splits,
              "reference_needs_customer": reference_needs_customer}
    return ReconcileResult(lres, bres, params, seconds=seconds)


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
    rows = []
    for r in desk.requests():
        if r.state not in ("applied", "reconciled") or r.amount is None:
            continue
        applied = next((h["at"] for h in reversed(r.history) if h["to"] == "applied"), None)
        if applied is None or not (first <= applied.date() <= last):
            continue
        places = amends.currency(r.currency).minor_units
        rows.append({"id": r.id, "customer": r.customer, "currency": r.currency,
                     "amount_minor": int(r.amount.scaleb(places)), "date": applied.date(), "kind": r.kind,
                     "state": r.state})
    return pd.DataFrame(rows, columns=[*LEDGER_COLUMNS, "state"])


def _copy_text(frame: pd.DataFrame, columns: list[str]) -> str:
    """Rows as PostgreSQL COPY text (tab-separated, backslash escapes)."""
    if frame.empty:
        return ""
    out = frame[columns].copy()
    for c in columns:
        if out[c].dtype == object:
            out[c] = (out[c].astype(str).str.replace("\\", "\\\\", regex=False).str.replace("\t", "\\t", regex=False)
                      .str.replace("\n", "\\n", regex=False).str.replace("\r", "\\r", regex=False))
    return str(out.to_csv(sep="\t", header=False, index=False, quoting=3, escapechar=None, lineterminator="\n"))


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
    ledger = ledger_items(desk, first, last)
    if source is None:
        sources = sorted(set(batch.frame["source"])) if len(batch) else ["none"]
        source = "+".join(sources) if sources else "none"
    parameters: dict[str, Any] = {"amount_tolerance_minor": amount_tolerance_minor, "days": days, "splits": splits,
                                  "period": [str(first), str(last)], "source": source}
    if allow_empty and len(batch) == 0:
        parameters["allow_empty"] = True
    # Requests reconciled by an earlier run count as applied: the inputs are the same either way.
    sha = checksum(ledger.drop(columns=["state"]), batch, parameters)
    result = match(ledger.drop(columns=["state"]), batch, amount_tolerance_minor=amount_tolerance_minor, days=days,
                   splits=splits, threads=threads, allow_empty=allow_empty,
                   billing_name=_name_of(billing, (first, last), len(billing) - len(batch)))
    result.parameters = parameters
    result.inputs_sha256 = sha
    existing = desk._core.find_run(sha)
    if existing is not None:
        result.run_id = int(existing)
        return result
    summary = result.summary()
    items = pd.concat([
        result.ledger.assign(side="ledger", position=np.arange(len(result.ledger)), item_id=result.ledger["id"],
                             day=pd.to_datetime(result.ledger["date"]).dt.strftime("%Y-%m-%d")),
        result.billing.assign(side="billing", position=np.arange(len(result.billing)), item_id=result.billing["id"],
                              day=pd.to_datetime(result.billing["date"]).dt.strftime("%Y-%m-%d")),
    ], ignore_index=True)
    item_columns = ["side", "position", "item_id", "customer", "currency", "amount_minor", "day", "outcome", "matched_by",
                    "counterpart", "difference_minor", "reason"]
    corrections = result.corrections.reset_index(drop=True)
    corrections.insert(0, "correction_id", np.arange(1, len(corrections) + 1))
    correction_columns = ["correction_id", "action", "request", "billing_id", "amount_minor", "currency", "reason"]
    reconciled = [str(i) for i in result.ledger.loc[result.ledger["outcome"] == "matched", "id"]]
    items_text = _copy_text(items, item_columns)
    corrections_text = _copy_text(corrections, correction_columns)

    def record() -> int:
        # Under the write lock, caught up: another job may have recorded these inputs meanwhile.
        again = desk._core.find_run(sha)
        if again is not None:
            return int(again)
        micros = desk._at(at)
        return int(desk._core.record_run(source, first, last, json.dumps(parameters), sha, json.dumps(summary),
                                         int(summary["exceptions"]), reconciled, items_text, corrections_text, actor,
                                         micros))

    result.run_id = desk._write("reconcile", record)
    return result
