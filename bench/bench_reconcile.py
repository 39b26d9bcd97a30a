#!/usr/bin/env python3
"""Benchmarks reconciliation: 1M ledger items against ~1M billing items, amends against pandas.

    python3 bench/bench_reconcile.py [--ledger 1000000] [--customers 20000] [--runs 3] [--seed 42] [--no-readme]

The workload (generated, seeded, untimed): --ledger applied requests of
--customers customers in USD, EUR and JPY (each customer mostly in one
currency; amounts in minor units, lognormal around 50.00 / 5,000 yen; dates
over a quarter), and what billing did for them: one credit note or refund
per request, of which 70% carry the request id (dated 0..10 days after the
request) and 30% don't (0..3 days after, within the 3-day window). Then 1%
discrepancies (--rate), at known places:

  missing in billing     20%  a request with no billing item
  missing in ledger      20%  a credit nobody requested (half name a request that does not exist)
  amount mismatch        20%  by reference (14%) or without one: the only candidate (6%)
  duplicates             15%  the same object exported twice, a second full credit naming the
                              request, a copy without a reference (5% each)
  void / failed          25%  voided credit notes (10%), failed refunds (10%), failed refunds
                              retried successfully (5%: the retry matches)

and, not discrepancies, 0.5% of the requests split over two credit notes
naming them and 0.03% voided credit notes nobody asked for (not
applicable). The billing side is shuffled. Amounts are distinct per
customer and currency in the ledger, and the discrepancies that stay
unmatched each sit in a customer and currency of their own, so that the
truth is exact: every item's outcome is known in advance.

Measured, each in a fresh process (inputs loaded untimed), interleaved per
run, medians over --runs:

  amends core     amends._core.reconcile_match on integer-coded numpy columns: the C++ matching, on the
                  threads the machine has (Options::threads = 0: at most 8)
  amends core1    the same on one thread
  amends match    amends.reconcile.match(ledger DataFrame, BillingBatch): codes the strings, converts
                  the dates, matches, builds both result frames with counterparts and reasons
  pandas          what an analyst would write, given its best shot, giving what the engine gives
                  (outcome, pass, counterpart, difference per item): the strings to integer codes
                  (pd.factorize over both sides, dates to day numbers) -- "keys" -- then on
                  integer frames: duplicated() billing ids; a merge on the reference (indicator=True
                  to set aside references to unknown requests) with groupby sums for splits,
                  duplicates and mismatches; a merge of the rest on (customer, currency, amount)
                  filtered to the window, nearest day first, each request once; unmatched copies
                  of matched items (merge on the same keys, window); one unmatched item on each side
                  of a customer and currency (groupby size, merge, window) -- "matching"

Every result is checked item by item against the injected truth (amends core,
amends match and pandas all three), and the baseline's pass, counterpart and
difference of every item against the engine's; a difference stops the run: no
speed is reported for a wrong answer. Peak memory is the process's peak RSS during the
timed step (VmHWM, reset just before it through /proc/self/clear_refs), next
to its RSS with the inputs loaded.

Prints the table, writes it between the reconcile-results markers of
bench/README.md (unless --no-readme, or the markers are absent) and the raw
runs to bench/data/reconcile-results-*.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import pickle
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _amends_path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "bench" / "README.md"
START, END = "<!-- reconcile-results:begin -->", "<!-- reconcile-results:end -->"
CORE_TARGET_S = 2.0
RATIO_TARGET = 10.0
MEMORY_TARGET = 1 << 30
DAYS = 3
D0 = (dt.date(2026, 7, 1) - dt.date(1970, 1, 1)).days
SPAN = 92
CURRENCIES = np.array(["USD", "EUR", "JPY"], dtype=object)
OUTCOMES = ("matched", "amount_mismatch", "missing_in_billing", "missing_in_ledger", "duplicate", "identical_duplicate",
            "conflicting_duplicate", "status_problem", "not_applicable")
O = {name: k for k, name in enumerate(OUTCOMES)}
PASSES = ("none", "duplicate_id", "reference", "amount_and_date", "tolerance", "split", "same_content", "only_candidate")
P = {name: k for k, name in enumerate(PASSES)}
OK, VOID, FAILED, PENDING = 0, 1, 2, 3
STATUS_NAMES = np.array(["ok", "void", "failed", "pending"], dtype=object)
KINDS = {  # share of the discrepancies
    "missing_in_billing": 0.20, "missing_in_ledger": 0.20, "mismatch_by_reference": 0.14, "mismatch_only_candidate": 0.06,
    "duplicate_id": 0.05, "duplicate_by_reference": 0.05, "duplicate_same_content": 0.05,
    "void_by_reference": 0.10, "failed_by_reference": 0.10, "failed_then_retried": 0.05,
}
MEASUREMENTS = ("core", "core1", "match", "pandas")


def log(message: str) -> None:
    print(f"[bench_reconcile] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- the workload

def generate(n: int, customers: int, rate: float, seed: int) -> dict:
    """Coded columns of both sides, the string frames' extra columns, and the expected outcome of every item."""
    rng = np.random.default_rng(seed)
    home = rng.choice(3, size=customers, p=[0.6, 0.3, 0.1])
    cust = rng.integers(0, customers, n)
    cur = np.where(rng.random(n) < 0.95, home[cust], rng.integers(0, 3, n)).astype(np.int32)
    # Lognormal around 5,000 minor units: 50.00 USD or EUR, 5,000 yen (about 33 USD).
    amount = np.clip(rng.lognormal(np.log(5_000.0), 1.0, n), 100, 5_000_000).astype(np.int64)
    group = cust.astype(np.int64) * 3 + cur
    # Distinct amounts per customer and currency: nothing is taken for another request.
    while True:
        order = np.lexsort((amount, group))
        same = (group[order][1:] == group[order][:-1]) & (amount[order][1:] == amount[order][:-1])
        if not same.any():
            break
        amount[order[1:][same]] += rng.integers(1, 50, int(same.sum()))
    day = (D0 + rng.integers(0, SPAN, n)).astype(np.int32)
    kind_refund = rng.random(n) < 0.25  # the request's kind: a refund, else a credit (note)

    counts = {k: int(round(n * rate * share)) for k, share in KINDS.items()}
    splits = int(round(n * 0.005))
    stray_voids = int(round(n * 0.0003))

    # The discrepancies left unmatched each get a customer and currency of their own: one ledger item per
    # group for those on the ledger side, groups of no injected ledger item for the billing-only ones.
    perm = rng.permutation(n)
    _, first = np.unique(group[perm], return_index=True)
    distinct = perm[np.sort(first)]  # one ledger item per group, in random order
    rng.shuffle(distinct)
    exclusive_ledger = counts["missing_in_billing"] + counts["mismatch_only_candidate"] + counts["duplicate_same_content"]
    need = exclusive_ledger + counts["missing_in_ledger"]
    if need > len(distinct):
        raise SystemExit(f"{need} discrepancies that need a customer and currency of their own, only {len(distinct)} groups")
    taken = np.zeros(n, dtype=bool)
    picks: dict[str, np.ndarray] = {}
    at = 0
    for k in ("missing_in_billing", "mismatch_only_candidate", "duplicate_same_content"):
        picks[k] = distinct[at:at + counts[k]]
        at += counts[k]
    billing_only_groups = group[distinct[at:at + counts["missing_in_ledger"]]]
    taken[distinct[:at]] = True
    # Everything else anywhere (they are resolved by reference, before any group is looked at).
    rest = rng.permutation(np.flatnonzero(~taken))
    at = 0
    for k in ("mismatch_by_reference", "duplicate_id", "duplicate_by_reference", "void_by_reference", "failed_by_reference",
              "failed_then_retried"):
        picks[k] = rest[at:at + counts[k]]
        at += counts[k]
    picks["split"] = rest[at:at + splits]
    at += splits
    injected = np.zeros(n, dtype=bool)
    for v in picks.values():
        injected[v] = True

    # Billing rows, built per kind; columns: ledger index (-1: none), reference (-1: none), customer,
    # currency, amount, day, status, refund?, pair (the row's partner for the two-row kinds, -1), role.
    parts: list[dict[str, np.ndarray]] = []

    def rows(ledger_idx: np.ndarray, *, ref: np.ndarray | None = None, amount_: np.ndarray | None = None,
             shift: np.ndarray | None = None, status: int = OK, role: str = "matched") -> dict[str, np.ndarray]:
        m = len(ledger_idx)
        r = {"ledger": ledger_idx.astype(np.int64), "reference": ledger_idx.astype(np.int64) if ref is None else ref,
             "customer": cust[ledger_idx].astype(np.int64), "currency": cur[ledger_idx],
             "amount": amount[ledger_idx] if amount_ is None else amount_,
             "day": (day[ledger_idx] + (rng.integers(0, 11, m) if shift is None else shift)).astype(np.int32),
             "status": np.full(m, status, np.uint8), "refund": kind_refund[ledger_idx].copy(),
             "role": np.full(m, role, dtype=object)}
        parts.append(r)
        return r

    def maybe_ref(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """70% name the request (any of 0..10 days later), 30% don't (0..3 days later)."""
        named = rng.random(len(idx)) < 0.7
        return np.where(named, idx, -1).astype(np.int64), np.where(named, rng.integers(0, 11, len(idx)),
                                                                   rng.integers(0, DAYS + 1, len(idx)))

    untouched = np.flatnonzero(~injected)
    ref, shift = maybe_ref(untouched)
    rows(untouched, ref=ref, shift=shift)
    # mismatches by reference: another amount
    idx = picks["mismatch_by_reference"]
    delta = rng.integers(1, np.maximum(amount[idx] // 4, 2)) * np.where(rng.random(len(idx)) < 0.5, -1, 1)
    rows(idx, amount_=amount[idx] + delta, role="amount_mismatch")
    # duplicates: the same object twice (one id), a second full credit by reference, a copy without a reference
    idx = picks["duplicate_id"]
    ref, shift = maybe_ref(idx)
    a = rows(idx, ref=ref, shift=shift, role="dup_id_a")
    parts.append({k: v.copy() for k, v in a.items()} | {"role": np.full(len(idx), "dup_id_b", dtype=object)})
    idx = picks["duplicate_by_reference"]
    rows(idx, role="dup_ref_a")
    rows(idx, role="dup_ref_b")
    idx = picks["duplicate_same_content"]
    ref, shift = maybe_ref(idx)
    a = rows(idx, ref=ref, shift=shift, role="dup_content_original")
    parts.append({k: v.copy() for k, v in a.items()} | {"reference": np.full(len(idx), -1, np.int64),
                                                         "role": np.full(len(idx), "dup_content_copy", dtype=object)})
    # void credit notes, failed refunds, failed refunds retried
    idx = picks["void_by_reference"]
    r = rows(idx, status=VOID, role="status_problem")
    r["refund"][:] = False
    idx = picks["failed_by_reference"]
    r = rows(idx, status=FAILED, role="status_problem")
    r["refund"][:] = True
    idx = picks["failed_then_retried"]
    r = rows(idx, status=FAILED, shift=rng.integers(0, 3, len(idx)), role="status_problem")
    r["refund"][:] = True
    r = rows(idx, shift=rng.integers(3, 8, len(idx)), role="matched")
    r["refund"][:] = True
    # splits over two credit notes naming the request
    idx = picks["split"]
    first_part = (amount[idx] * rng.uniform(0.2, 0.8, len(idx))).astype(np.int64).clip(1, None)
    rows(idx, amount_=first_part)
    rows(idx, amount_=amount[idx] - first_part)

    # Keys already used per customer and currency, so that the free-standing amounts below collide with nothing.
    used = set((group * 10_000_000_000 + amount).tolist())
    for p in parts:
        used.update((p["customer"] * 3 + p["currency"]).astype(np.int64) * 10_000_000_000 + p["amount"])

    def fresh_amounts(groups: np.ndarray, proposal: np.ndarray) -> np.ndarray:
        out = proposal.copy()
        for k in range(len(out)):
            while int(groups[k]) * 10_000_000_000 + int(out[k]) in used or out[k] <= 0:
                out[k] = int(rng.integers(100, 500_000))
            used.add(int(groups[k]) * 10_000_000_000 + int(out[k]))
        return out

    # mismatches without a reference: the only candidate of their customer and currency
    idx = picks["mismatch_only_candidate"]
    delta = rng.integers(1, np.maximum(amount[idx] // 4, 2)) * np.where(rng.random(len(idx)) < 0.5, -1, 1)
    rows(idx, ref=np.full(len(idx), -1, np.int64), amount_=fresh_amounts(group[idx], amount[idx] + delta),
         shift=rng.integers(0, DAYS + 1, len(idx)), role="amount_mismatch")
    # missing in the ledger: a credit of a customer and currency of its own; half name an unknown request
    m = counts["missing_in_ledger"]
    g = billing_only_groups
    unknown = np.where(rng.random(m) < 0.5, n + np.arange(m), -1).astype(np.int64)
    parts.append({"ledger": np.full(m, -1, np.int64), "reference": unknown, "customer": (g // 3).astype(np.int64),
                  "currency": (g % 3).astype(np.int32),
                  "amount": fresh_amounts(g, np.clip(rng.lognormal(np.log(5000.0), 1.0, m), 100, 5_000_000).astype(np.int64)),
                  "day": (D0 + rng.integers(0, SPAN, m)).astype(np.int32), "status": np.full(m, OK, np.uint8),
                  "refund": np.zeros(m, dtype=bool), "role": np.full(m, "missing_in_ledger", dtype=object)})
    # voided credit notes nobody asked for
    m = stray_voids
    parts.append({"ledger": np.full(m, -1, np.int64), "reference": np.full(m, -1, np.int64),
                  "customer": rng.integers(0, customers, m).astype(np.int64), "currency": rng.integers(0, 3, m).astype(np.int32),
                  "amount": rng.integers(100, 100_000, m).astype(np.int64), "day": (D0 + rng.integers(0, SPAN, m)).astype(np.int32),
                  "status": np.full(m, VOID, np.uint8), "refund": np.zeros(m, dtype=bool),
                  "role": np.full(m, "not_applicable", dtype=object)})

    b = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    nb = len(b["amount"])
    # Billing ids: one per row, but the twice-exported object shares its original's.
    bid = np.arange(nb, dtype=np.int64)
    starts = np.cumsum([0] + [len(p["amount"]) for p in parts])
    roles = [p["role"][0] if len(p["role"]) else "" for p in parts]
    a_part, b_part = roles.index("dup_id_a"), roles.index("dup_id_b")
    bid[starts[b_part]:starts[b_part + 1]] = bid[starts[a_part]:starts[a_part + 1]]
    # The partner of each row of a two-row kind (pre-shuffle index), for the truth.
    partner = np.full(nb, -1, np.int64)
    for ra, rb in (("dup_id_a", "dup_id_b"), ("dup_ref_a", "dup_ref_b"), ("dup_content_original", "dup_content_copy")):
        pa, pb = roles.index(ra), roles.index(rb)
        partner[starts[pa]:starts[pa + 1]] = np.arange(starts[pb], starts[pb + 1])
        partner[starts[pb]:starts[pb + 1]] = np.arange(starts[pa], starts[pa + 1])

    # Shuffle the billing side.
    order = rng.permutation(nb)
    where = np.empty(nb, np.int64)
    where[order] = np.arange(nb)
    b = {k: v[order] for k, v in b.items()}
    bid = bid[order]
    # Coded as amends.reconcile.match and the baseline's keys step code them (pd.factorize): in order of first
    # appearance.
    _, first_at, inverse = np.unique(bid, return_index=True, return_inverse=True)
    rank = np.empty(len(first_at), np.int64)
    rank[np.argsort(first_at, kind="stable")] = np.arange(len(first_at))
    bid = rank[inverse]
    partner = np.where(partner[order] >= 0, where[np.clip(partner[order], 0, None)], -1)

    # The truth.
    role = b["role"]
    bt = np.full(nb, -1, np.int8)
    for name in ("matched", "amount_mismatch", "missing_in_ledger", "status_problem", "not_applicable"):
        bt[role == name] = O[name]
    pos = np.arange(nb)
    for ra, rb, again in (("dup_id_a", "dup_id_b", "identical_duplicate"), ("dup_ref_a", "dup_ref_b", "duplicate")):
        pair = (role == ra) | (role == rb)
        bt[pair] = np.where(pos[pair] < partner[pair], O["matched"], O[again])  # the first in billing order stays
    original, copy = role == "dup_content_original", role == "dup_content_copy"
    # With a reference the original matches first; without, the first of the two in billing order takes the request.
    orig_ref = np.zeros(nb, dtype=bool)
    orig_ref[original] = b["reference"][original] >= 0
    orig_ref[copy] = b["reference"][partner[copy]] >= 0
    both = original | copy
    bt[both] = np.where(orig_ref[both], np.where(original[both], O["matched"], O["duplicate"]),
                        np.where(pos[both] < partner[both], O["matched"], O["duplicate"]))
    assert (bt >= 0).all()
    lt = np.full(n, O["matched"], np.int8)
    lt[picks["missing_in_billing"]] = O["missing_in_billing"]
    lt[picks["mismatch_by_reference"]] = O["amount_mismatch"]
    lt[picks["mismatch_only_candidate"]] = O["amount_mismatch"]
    lt[picks["void_by_reference"]] = O["status_problem"]
    lt[picks["failed_by_reference"]] = O["status_problem"]

    return {"ledger": {"id": np.arange(n, dtype=np.int64), "customer": cust.astype(np.int64), "currency": cur,
                       "amount_minor": amount, "day": day, "refund": kind_refund},
            "billing": {"id": bid, "reference": b["reference"], "customer": b["customer"], "currency": b["currency"],
                        "amount_minor": b["amount"], "day": b["day"], "status": b["status"], "refund": b["refund"]},
            "truth": {"ledger": lt, "billing": bt},
            "counts": counts | {"split": splits, "not_applicable": stray_voids}}


def frames(w: dict):
    """The DataFrames a user has: strings for ids, customers and currencies, datetime.date dates."""
    import pandas as pd

    epoch = dt.date(1970, 1, 1)
    dates = {d: epoch + dt.timedelta(days=int(d)) for d in range(D0 - 5, D0 + SPAN + 20)}
    lw, bw = w["ledger"], w["billing"]
    n = len(lw["id"])
    req = np.array([f"REQ-{k:07d}" for k in range(n + len(bw["id"]))], dtype=object)
    cust = np.array([f"cus_{k:06d}" for k in range(int(max(lw["customer"].max(), bw["customer"].max())) + 1)], dtype=object)
    ledger = pd.DataFrame({"id": req[:n], "customer": cust[lw["customer"]], "currency": CURRENCIES[lw["currency"]],
                           "amount_minor": lw["amount_minor"], "date": [dates[int(d)] for d in lw["day"]],
                           "kind": np.where(lw["refund"], "refund", "goodwill")})
    obj = np.where(bw["refund"], "refund", "credit_note")
    bid = np.char.add(np.where(bw["refund"], "re_", "cn_"), np.char.zfill(bw["id"].astype(str), 8)).astype(object)
    status = STATUS_NAMES[bw["status"]]
    billing = pd.DataFrame({
        "source": "stripe", "file": "export.json", "line": np.arange(1, len(bid) + 1), "id": bid, "object": obj,
        "customer": cust[bw["customer"]], "currency": CURRENCIES[bw["currency"]], "amount_minor": bw["amount_minor"],
        "date": [dates[int(d)] for d in bw["day"]], "status": status,
        "raw_status": np.where(status == "ok", np.where(bw["refund"], "succeeded", "issued"), status),
        "reference": np.where(bw["reference"] >= 0, req[np.clip(bw["reference"], 0, None)], ""), "parent": ""})
    return ledger, billing


# ---------------------------------------------------------------------------------------------- pandas

def pandas_keys(ledger, billing):
    """The strings to integer codes (one dictionary per kind, shared by both sides) and dates to day numbers."""
    import pandas as pd

    n = len(ledger)
    req, _ = pd.factorize(pd.concat([ledger["id"], billing["reference"]], ignore_index=True))
    reference = req[n:].astype(np.int64)
    reference[(billing["reference"] == "").to_numpy()] = -1
    cust, _ = pd.factorize(pd.concat([ledger["customer"], billing["customer"]], ignore_index=True))
    cur, _ = pd.factorize(pd.concat([ledger["currency"], billing["currency"]], ignore_index=True))
    bid, _ = pd.factorize(billing["id"])
    epoch = np.datetime64("1970-01-01", "D")

    def days(s):
        return (pd.to_datetime(s).to_numpy(dtype="datetime64[D]") - epoch).astype(np.int32)

    L = pd.DataFrame({"lid": req[:n].astype(np.int64), "customer": cust[:n], "currency": cur[:n].astype(np.int8),
                      "amount": ledger["amount_minor"].to_numpy(np.int64), "day": days(ledger["date"])})
    B = pd.DataFrame({"bid": bid, "reference": reference, "customer": cust[n:], "currency": cur[n:].astype(np.int8),
                      "amount": billing["amount_minor"].to_numpy(np.int64), "day": days(billing["date"]),
                      "status": billing["status"].map({"ok": OK, "void": VOID, "failed": FAILED, "pending": PENDING})
                      .to_numpy(np.int8)})
    return L, B


def pandas_match(L, B, days: int = DAYS) -> dict[str, np.ndarray]:
    """The reconciliation on integer frames (positions are the index): per item outcome, pass, counterpart
    and difference (billing - ledger) on both sides, as the engine gives them.

    Differences in method from the engine, none of which changes a result on this workload: the
    amount-and-date step resolves a request wanted by several billing items in one go (billing order
    wins) where the engine goes item by item (a loser may then take its second-nearest request: with
    amounts distinct per customer and currency in the ledger, there is none); no tolerance pass (the
    tolerance is 0, the engine skips it too); no search for splits without a reference (there are none);
    pending is treated as ok (there is none).
    """
    import pandas as pd

    nl, nb = len(L), len(B)
    side = {"l": (np.full(nl, -1, np.int8), np.zeros(nl, np.int8), np.full(nl, -1, np.int64), np.zeros(nl, np.int64)),
            "b": (np.full(nb, -1, np.int8), np.zeros(nb, np.int8), np.full(nb, -1, np.int64), np.zeros(nb, np.int64))}
    lout, bout = side["l"][0], side["b"][0]

    def put(which: str, at, outcome: str, via: str, counterpart, difference=0) -> None:
        o, p, c, d = side[which]
        at = np.asarray(at)
        o[at], p[at], c[at], d[at] = O[outcome], P[via], np.asarray(counterpart), np.asarray(difference)

    def col(frame, name: str) -> np.ndarray:
        return frame[name].to_numpy()

    status = B["status"].to_numpy()
    usable = (status == OK) | (status == PENDING)
    # 0. a billing id seen again: with the first's content the repeat is an identical duplicate (the first
    # stays); with other content every item of the id is a conflicting duplicate (none stays). The ledger
    # items conflicting ones would settle are not looked for: this workload has no conflicting ids.
    bids = B["bid"].to_numpy()
    dup = B["bid"].duplicated().to_numpy().copy()
    first = pd.Series(np.flatnonzero(~dup), index=bids[~dup])
    repeat = np.flatnonzero(dup)
    first_of = first.loc[bids[dup]].to_numpy()
    content = ["reference", "customer", "currency", "amount", "day", "status"]
    differs = (B[content].to_numpy()[repeat] != B[content].to_numpy()[first_of]).any(axis=1)
    conflicted = np.isin(first_of, first_of[differs])
    put("b", repeat[~conflicted], "identical_duplicate", "duplicate_id", first_of[~conflicted])
    put("b", repeat[conflicted], "conflicting_duplicate", "duplicate_id", first_of[conflicted])
    first_repeat = pd.Series(repeat[conflicted]).groupby(first_of[conflicted]).first()
    firsts = first_repeat.index.to_numpy().astype(np.int64)
    put("b", firsts, "conflicting_duplicate", "duplicate_id", first_repeat.to_numpy().astype(np.int64))
    dup[firsts] = True
    # 1. by reference (indicator=True: references to requests the ledger does not have go on)
    named = B.loc[~dup & (B["reference"].to_numpy() >= 0), ["reference", "amount", "status"]].reset_index(names="bpos")
    j = named.merge(L[["lid", "amount"]].reset_index(names="lpos"), left_on="reference", right_on="lid", how="left",
                    suffixes=("", "_l"), indicator=True)
    j = j[(j["_merge"] == "both").to_numpy()].astype({"lpos": np.int64, "amount_l": np.int64})
    bad = j["status"].isin([VOID, FAILED]).to_numpy()
    jb = j[bad]
    put("b", col(jb, "bpos"), "status_problem", "reference", col(jb, "lpos"), col(jb, "amount") - col(jb, "amount_l"))
    g = j[~bad]
    by_request = g.groupby("lpos", sort=False)
    g = g.assign(total=by_request["amount"].transform("sum"), front=by_request["bpos"].transform("first"))
    full = (g["total"] == g["amount_l"]).to_numpy()
    f = g[full]
    put("b", col(f, "bpos"), "matched", "reference", col(f, "lpos"), col(f, "total") - col(f, "amount_l"))
    put("l", col(f, "lpos"), "matched", "reference", col(f, "front"), col(f, "total") - col(f, "amount_l"))
    r = g[~full]
    whole = r[(r["amount"] == r["amount_l"]).to_numpy()].drop_duplicates("lpos")  # the first in billing order
    put("l", col(whole, "lpos"), "matched", "reference", col(whole, "bpos"))
    put("b", col(whole, "bpos"), "matched", "reference", col(whole, "lpos"))
    others = r[~r["bpos"].isin(whole["bpos"]).to_numpy()]
    kept = others["lpos"].isin(whole["lpos"]).to_numpy()
    same = (others["amount"] == others["amount_l"]).to_numpy()
    keep_of = pd.Series(col(whole, "bpos"), index=col(whole, "lpos"))
    o = others[kept & same]
    put("b", col(o, "bpos"), "duplicate", "reference", keep_of.loc[col(o, "lpos")].to_numpy())
    o = others[kept & ~same]
    put("b", col(o, "bpos"), "amount_mismatch", "reference", col(o, "lpos"), col(o, "amount"))
    o = others[~kept]
    put("b", col(o, "bpos"), "amount_mismatch", "reference", col(o, "lpos"), col(o, "total") - col(o, "amount_l"))
    put("l", col(o, "lpos"), "amount_mismatch", "reference", col(o, "front"), col(o, "total") - col(o, "amount_l"))
    jb = jb.drop_duplicates("lpos")  # the first in billing order
    jb = jb[lout[col(jb, "lpos")] == -1]
    put("l", col(jb, "lpos"), "status_problem", "reference", col(jb, "bpos"), -col(jb, "amount_l"))
    # 2. customer, currency and amount within the window, the nearest day first
    lo = L.iloc[np.flatnonzero(lout == -1)].reset_index(names="lpos")
    bo = B.iloc[np.flatnonzero((bout == -1) & usable)].reset_index(names="bpos")
    c = bo[["bpos", "customer", "currency", "amount", "day"]].merge(
        lo[["lpos", "customer", "currency", "amount", "day"]], on=["customer", "currency", "amount"], suffixes=("", "_l"))
    c["dd"] = (c["day"] - c["day_l"]).abs()
    c = c[(c["dd"] <= days).to_numpy()].sort_values(["bpos", "dd", "day_l", "lpos"])
    c = c.drop_duplicates("bpos").drop_duplicates("lpos")
    put("b", col(c, "bpos"), "matched", "amount_and_date", col(c, "lpos"))
    put("l", col(c, "lpos"), "matched", "amount_and_date", col(c, "bpos"))
    # 4. an unmatched billing item equal to a matched one within the window: a duplicate of the earliest such
    u = B.iloc[np.flatnonzero((bout == -1) & usable)].reset_index(names="bpos")
    m = B.loc[bout == O["matched"], ["customer", "currency", "amount", "day"]].reset_index(names="mpos")
    d = u[["bpos", "customer", "currency", "amount", "day"]].merge(m, on=["customer", "currency", "amount"], suffixes=("", "_m"))
    d = d[((d["day"] - d["day_m"]).abs() <= days).to_numpy()].sort_values(["bpos", "day_m", "mpos"]).drop_duplicates("bpos")
    put("b", col(d, "bpos"), "duplicate", "same_content", col(d, "mpos"))
    # 5. the only unmatched item on each side of a customer and currency, within the window: a mismatch
    lo = L.iloc[np.flatnonzero(lout == -1)].reset_index(names="lpos")
    bo = B.iloc[np.flatnonzero((bout == -1) & usable)].reset_index(names="bpos")
    lo = lo[(lo.groupby(["customer", "currency"])["lpos"].transform("size") == 1).to_numpy()]
    bo = bo[(bo.groupby(["customer", "currency"])["bpos"].transform("size") == 1).to_numpy()]
    p = lo[["lpos", "customer", "currency", "amount", "day"]].merge(
        bo[["bpos", "customer", "currency", "amount", "day"]], on=["customer", "currency"], suffixes=("_l", ""))
    p = p[((p["day"] - p["day_l"]).abs() <= days).to_numpy()]
    put("l", col(p, "lpos"), "amount_mismatch", "only_candidate", col(p, "bpos"), col(p, "amount") - col(p, "amount_l"))
    put("b", col(p, "bpos"), "amount_mismatch", "only_candidate", col(p, "lpos"), col(p, "amount") - col(p, "amount_l"))
    # what is left (pass none, no counterpart)
    lout[lout == -1] = O["missing_in_billing"]
    bout[(bout == -1) & usable] = O["missing_in_ledger"]
    bout[bout == -1] = O["not_applicable"]
    return {f"{name}_{what}": a for name, key in (("ledger", "l"), ("billing", "b"))
            for what, a in zip(("outcome", "pass", "counterpart", "difference"), side[key])}


# ---------------------------------------------------------------------------------------------- a measurement

def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_since_reset(reset: bool) -> int:
    if reset:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(name: str, data: Path, out: Path) -> None:
    _amends_path.select()  # the same rule as the parent, so the same package
    import gc

    import pandas as pd

    import amends
    from amends import _core
    from amends.billing import BillingBatch

    result: dict = {"measurement": name}
    if name in ("core", "core1"):
        z = np.load(data / "coded.npz")
        ledger = {k: z["l_" + k] for k in ("id", "customer", "currency", "amount_minor", "day")}
        billing = {k: z["b_" + k] for k in ("id", "reference", "customer", "currency", "amount_minor", "day", "status")}
        gc.collect()
        before, reset = rss_now(), reset_peak()
        t0 = time.perf_counter()
        raw = _core.reconcile_match(ledger, billing, 0, DAYS, True, False, 1 if name == "core1" else 0)
        result["seconds"] = time.perf_counter() - t0
        arrays = {f"{side}_{what}": raw[side][k] for side in ("ledger", "billing")
                  for what, k in (("outcome", "outcome"), ("pass", "pass"), ("counterpart", "counterpart"),
                                  ("difference", "difference"))}
        assert list(_core.RECONCILE_OUTCOMES) == list(OUTCOMES) and list(_core.RECONCILE_PASSES) == list(PASSES)
    else:
        with open(data / "frames.pkl", "rb") as f:
            ledger_df, billing_df = pickle.load(f)
        batch = BillingBatch(billing_df) if name == "match" else None
        gc.collect()
        before, reset = rss_now(), reset_peak()
        t0 = time.perf_counter()
        if name == "match":
            r = amends.reconcile.match(ledger_df, batch)
            result["seconds"] = time.perf_counter() - t0
            result["inside_seconds"] = r.seconds  # coding the strings and the C++ matching, as match() times itself
            code = {o: k for k, o in enumerate(OUTCOMES)}
            arrays = {"ledger_outcome": r.ledger["outcome"].map(code).to_numpy(np.int8),
                      "billing_outcome": r.billing["outcome"].map(code).to_numpy(np.int8)}
        else:
            L, B = pandas_keys(ledger_df, billing_df)
            t1 = time.perf_counter()
            arrays = pandas_match(L, B)
            t2 = time.perf_counter()
            result |= {"seconds": t2 - t0, "keys_seconds": t1 - t0, "match_seconds": t2 - t1}
    result["peak_rss"] = peak_since_reset(reset)
    result["rss_before"] = before
    result["peak_is_step_only"] = reset
    np.savez(out.with_suffix(".npz"), **{k: np.asarray(v) for k, v in arrays.items()})
    out.write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------------- the run

def machine() -> str:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} × {cpu}, {mem:.1f} GiB RAM, Linux {platform.release()}"


def fmt_s(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def fmt_mb(b: float) -> str:
    return f"{b / 1e6:,.0f} MB"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ledger", type=int, default=1_000_000)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--rate", type=float, default=0.01, help="discrepancies per ledger item")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--child", choices=MEASUREMENTS, help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.data, args.out)
        return 0

    choice = _amends_path.select()
    _amends_path.announce(choice, "bench_reconcile")
    import pandas as pd

    import amends  # noqa: F401  (fails here, before the workload is built, if the choice does not import)

    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="amends-bench-reconcile-"))
    try:
        t0 = time.perf_counter()
        w = generate(args.ledger, args.customers, args.rate, args.seed)
        lw, bw = w["ledger"], w["billing"]
        np.savez(tmp / "coded.npz", **{"l_" + k: v for k, v in lw.items() if k != "refund"},
                 **{"b_" + k: v for k, v in bw.items() if k != "refund"})
        ledger_df, billing_df = frames(w)
        with open(tmp / "frames.pkl", "wb") as f:
            pickle.dump((ledger_df, billing_df), f, protocol=pickle.HIGHEST_PROTOCOL)
        n, nb = len(ledger_df), len(billing_df)
        named = float((bw["reference"] >= 0).mean())
        log(f"workload: {n:,} ledger items, {nb:,} billing items ({named:.0%} name a request), "
            f"generated in {time.perf_counter() - t0:.1f} s")
        del ledger_df, billing_df
        truth = w["truth"]
        runs: list[dict] = []
        for run in range(1, args.runs + 1):
            one: dict = {}
            results: dict[str, dict[str, np.ndarray]] = {}
            for name in MEASUREMENTS:
                out = tmp / f"{name}-{run}.json"
                proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name, "--data", str(tmp),
                                       "--out", str(out)], capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"{name} failed:\n{proc.stdout}\n{proc.stderr}")
                res = json.loads(out.read_text())
                got = dict(np.load(out.with_suffix(".npz")))
                for side in ("ledger", "billing"):
                    o = got[f"{side}_outcome"]
                    wrong = np.flatnonzero(o != truth[side])
                    if len(wrong):
                        sample = ", ".join(f"#{k}: {OUTCOMES[o[k]]} not {OUTCOMES[truth[side][k]]}" for k in wrong[:10])
                        raise SystemExit(f"FAILED: {name} got {len(wrong)} {side} items wrong ({sample})")
                if name in ("core", "core1", "pandas"):
                    results[name] = got
                one[name] = res
                log(f"run {run}: {name} {res['seconds']:.3f} s, peak RSS {fmt_mb(res['peak_rss'])} "
                    f"(inputs {fmt_mb(res['rss_before'])}); every item as injected")
            # The pandas baseline gives what the engine gives: every pass, counterpart and difference, both sides.
            for key, a in results["core"].items():
                wrong = np.flatnonzero(results["core1"][key].astype(np.int64) != a.astype(np.int64))
                if len(wrong):
                    raise SystemExit(f"FAILED: amends on one thread and on all differ in {key} at {len(wrong)} items")
                wrong = np.flatnonzero(results["pandas"][key].astype(np.int64) != a.astype(np.int64))
                if len(wrong):
                    raise SystemExit(f"FAILED: pandas and amends differ in {key} at {len(wrong)} items, "
                                     f"e.g. #{wrong[0]}: {results['pandas'][key][wrong[0]]} and {a[wrong[0]]}")
            log(f"run {run}: pandas and amends agree on every outcome, pass, counterpart and difference")
            runs.append(one)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()

    def values(name: str, key: str) -> list[float]:
        return [r[name][key] for r in runs]

    def med(name: str, key: str) -> float:
        return statistics.median(values(name, key))

    def listed(name: str, key: str) -> str:
        return ", ".join(fmt_s(v) for v in values(name, key))

    core_s, match_s = med("core", "seconds"), med("match", "seconds")
    pd_match_s, pd_total_s = med("pandas", "match_seconds"), med("pandas", "seconds")
    ratio_core = [r["pandas"]["match_seconds"] / r["core"]["seconds"] for r in runs]
    ratio_core1 = [r["pandas"]["match_seconds"] / r["core1"]["seconds"] for r in runs]
    core1_s = med("core1", "seconds")
    ratio_e2e = [r["pandas"]["seconds"] / r["match"]["seconds"] for r in runs]
    core_peak, match_peak = max(values("core", "peak_rss")), max(values("match", "peak_rss"))
    pandas_peak = max(values("pandas", "peak_rss"))

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python3 bench/bench_reconcile.py " + " ".join(sys.argv[1:])
    counts = w["counts"]
    discrepancies = sum(v for k, v in counts.items() if k in KINDS)
    lt, bt = truth["ledger"], truth["billing"]
    found = " · ".join(f"{o} {int((lt == O[o]).sum()):,} / {int((bt == O[o]).sum()):,}" for o in OUTCOMES)
    table = "\n".join([
        f"Measured {stamp} on {machine()}; Python {platform.python_version()}, pandas {pd.__version__}, numpy "
        f"{np.__version__}; amends at {commit}{' (with uncommitted changes)' if dirty else ''}, "
        f"Python amends: {choice.description}. "
        f"Load average (1/5/15 min) {'/'.join(f'{x:.2f}' for x in load_start)} at the start, "
        f"{'/'.join(f'{x:.2f}' for x in load_end)} at the end (2 cores). Medians of {len(runs)} run(s), interleaved, "
        f"each measurement in a fresh process. Command: `{command}`.",
        "",
        f"Workload (seed {args.seed}): {n:,} ledger items, {nb:,} billing items ({named:.0%} name their request), "
        f"{args.customers:,} customers, USD/EUR/JPY. {discrepancies:,} injected discrepancies: "
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items() if k in KINDS)
        + f"; and {counts['split']:,} requests split over two credit notes, {counts['not_applicable']:,} voided credit "
        f"notes nobody asked for. Outcomes (ledger / billing items), found exactly so, item by item, by all three: {found}.",
        "",
        "| measurement | median | runs | peak RSS (step) | RSS, inputs loaded | target | |",
        "| --- | ---: | --- | ---: | ---: | --- | --- |",
        f"| amends C++ matching: `_core.reconcile_match` on integer-coded columns, on the machine's {min(os.cpu_count() or 1, 8)} threads | **{fmt_s(core_s)}** | "
        f"{listed('core', 'seconds')} | {fmt_mb(core_peak)} | {fmt_mb(med('core', 'rss_before'))} | < {CORE_TARGET_S:.0f} s, "
        f"< 1 GiB | {verdict(core_s < CORE_TARGET_S and core_peak < MEMORY_TARGET)} |",
        f"| … the same on one thread (`threads=1`) | {fmt_s(core1_s)} | {listed('core1', 'seconds')} | "
        f"{fmt_mb(max(values('core1', 'peak_rss')))} | {fmt_mb(med('core1', 'rss_before'))} | | |",
        f"| amends end to end: `amends.reconcile.match(DataFrame, BillingBatch)` (strings coded, dates, matching, "
        f"both result frames with counterparts and reasons) | {fmt_s(match_s)} | {listed('match', 'seconds')} | "
        f"{fmt_mb(match_peak)} | {fmt_mb(med('match', 'rss_before'))} | < 1 GiB | {verdict(match_peak < MEMORY_TARGET)} |",
        f"| … of which coding and matching (`ReconcileResult.seconds`) | {fmt_s(med('match', 'inside_seconds'))} | "
        f"{listed('match', 'inside_seconds')} | | | | |",
        f"| pandas: matching on integer frames (merges, groupby, duplicated) | **{fmt_s(pd_match_s)}** | "
        f"{listed('pandas', 'match_seconds')} | | | | |",
        f"| pandas: keys (factorize the strings, dates to days) | {fmt_s(med('pandas', 'keys_seconds'))} | "
        f"{listed('pandas', 'keys_seconds')} | | | | |",
        f"| pandas: keys + matching, from the same DataFrames | {fmt_s(pd_total_s)} | {listed('pandas', 'seconds')} | "
        f"{fmt_mb(pandas_peak)} | {fmt_mb(med('pandas', 'rss_before'))} | | |",
        "",
        "| ratio (per run, same run) | median | runs | target | |",
        "| --- | ---: | --- | --- | --- |",
        f"| pandas matching / amends C++ matching | **{statistics.median(ratio_core):.1f}x** | "
        f"{', '.join(f'{x:.1f}x' for x in ratio_core)} | ≥ {RATIO_TARGET:.0f}x | "
        f"{verdict(statistics.median(ratio_core) >= RATIO_TARGET)} |",
        f"| pandas matching / amends C++ matching on one thread | {statistics.median(ratio_core1):.1f}x | "
        f"{', '.join(f'{x:.1f}x' for x in ratio_core1)} | | |",
        f"| pandas keys + matching / amends end to end | {statistics.median(ratio_e2e):.1f}x | "
        f"{', '.join(f'{x:.1f}x' for x in ratio_e2e)} | | |",
        "",
        "The pandas baseline gives what the engine gives -- every item's outcome, pass, counterpart (a position) "
        "and difference, both sides -- and every run checks that they are equal, item by item. amends end to end "
        "also turns them into two result frames with counterpart ids and reasons in words, which the baseline does "
        "not. Peak RSS is the process's during the timed step (VmHWM reset just before it).",
    ])
    print(table)
    data = REPO / "bench" / "data"
    data.mkdir(exist_ok=True)
    raw_path = data / f"reconcile-results-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    raw_path.write_text(json.dumps({"command": command, "machine": machine(), "counts": counts, "ledger_items": n,
                                    "billing_items": nb, "amends": choice.description, "load_start": load_start, "load_end": load_end, "runs": runs},
                                   indent=2))
    log(f"raw runs: {raw_path}")
    if not args.no_readme and README.exists():
        text = README.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            README.write_text(head + START + "\n" + table + "\n" + END + tail)
    ok = core_s < CORE_TARGET_S and core_peak < MEMORY_TARGET and match_peak < MEMORY_TARGET and \
        statistics.median(ratio_core) >= RATIO_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
