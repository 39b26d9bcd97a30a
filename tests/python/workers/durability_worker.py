"""Client processes for tests/python/test_durability.py (run with PYTHONPATH pointing where the tests import amends from).

Each mode opens an existing book with amends.open and writes to it, reporting
what amends told it (acknowledged ids, refusals, errors) as JSON lines, so
that the test can compare the client's view with what the database holds
after a client or server crash:

  batch DSN BOOK N [RETRY]          post_batch of build_batch(N) (atomic), JSON on stdout; on failure,
                                    once RETRY exists, the same batch again through the same Book
  loop  DSN BOOK OUT STOP SECONDS   single-entry posts with keys k0, k1, ... until STOP exists
  mix   DSN BOOK OUT GO SECONDS SEED WORKER
                                    random draws / top-ups / shared posts against a limited account
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from decimal import Decimal
from typing import Any, TextIO

import numpy as np
import pandas as pd

import amends

# ------------------------------------------------------------------ the big batch (batch mode)

# (name, type) of the accounts build_batch posts to; the test opens them first.
BATCH_ACCOUNTS = [
    ("Assets:Cash", "asset"),
    ("Assets:Receivable", "asset"),
    ("Expenses:Goodwill", "expense"),
    ("Expenses:ServiceCredits", "expense"),
    ("Liabilities:Payable", "liability"),
]
_DEBITS = np.array(["Expenses:Goodwill", "Expenses:ServiceCredits", "Assets:Receivable"], dtype=object)
_CREDITS = np.array(["Assets:Cash", "Liabilities:Payable"], dtype=object)


def build_batch(n: int) -> pd.DataFrame:
    """n entries of two USD postings each, keyed k0 .. k{n-1}, amounts in minor units (deterministic)."""
    i = np.arange(n)
    keys = np.array([f"k{j}" for j in range(n)], dtype=object)
    cents = 100 + (i * 7919) % 99_901
    accounts = np.empty(2 * n, dtype=object)
    accounts[0::2] = _DEBITS[i % 3]
    accounts[1::2] = _CREDITS[(i // 3) % 2]
    amounts = np.empty(2 * n, dtype=np.int64)
    amounts[0::2] = cents
    amounts[1::2] = -cents
    days = np.array([f"2026-01-{d:02d}" for d in range(1, 29)], dtype=object)
    return pd.DataFrame(
        {
            "entry_id": np.repeat(keys, 2),
            "date": np.repeat(days[i % 28], 2),
            "account": accounts,
            "amount_minor": amounts,
            "currency": "USD",
        }
    )


def _outcome(book: amends.Book, frame: pd.DataFrame) -> dict[str, Any]:
    try:
        result = book.post_batch(frame)
        return {"outcome": "ok", "created": result.created, "existing": result.existing}
    except Exception as error:  # reported to the test, which decides what is acceptable
        return {"outcome": "error", "type": type(error).__name__, "module": type(error).__module__,
                "message": str(error)}


def run_batch(dsn: str, book_name: str, n: int, retry_flag: str | None) -> int:
    """post_batch once; if that fails and retry_flag is given, wait for that file and resubmit with the same Book.

    Prints one JSON line per attempt; after a retry also what the same Book then reports as its entry count.
    """
    frame = build_batch(n)
    book = amends.open(dsn, book_name, create=False)
    first = _outcome(book, frame)
    print(json.dumps(first), flush=True)
    if first["outcome"] == "ok" or retry_flag is None:
        return 0
    give_up = time.monotonic() + 180
    while not os.path.exists(retry_flag):
        if time.monotonic() > give_up:
            raise SystemExit("the retry signal never came")
        time.sleep(0.02)
    second = _outcome(book, frame)
    try:
        second["entry_count"] = book.entry_count
    except Exception as error:
        second["entry_count_error"] = f"{type(error).__name__}: {error}"
    print(json.dumps(second), flush=True)
    return 0


# ------------------------------------------------------------------ single posts in a loop (loop mode)

LOOP_DEBIT = "Expenses:Goodwill"
LOOP_CREDIT = "Liabilities:Payable"


def loop_amount(i: int) -> Decimal:
    return Decimal(100 + (i * 31) % 997) / 100


def _record(out: TextIO, **fields: Any) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


def run_loop(dsn: str, book_name: str, out_path: str, stop_path: str, seconds: float) -> int:
    """Posts k0, k1, ... one entry each; records every returned id and every error; never retries a key."""
    book = amends.open(dsn, book_name, create=False)
    deadline = time.monotonic() + seconds
    with open(out_path, "a", encoding="utf-8") as out:
        i = 0
        while not os.path.exists(stop_path) and time.monotonic() < deadline:
            key = f"k{i}"
            amount = loop_amount(i)
            started = time.monotonic()
            try:
                entry_id = book.post("2026-02-03", [(LOOP_DEBIT, amount), (LOOP_CREDIT, -amount)], idempotency_key=key)
                _record(out, kind="ok", i=i, key=key, id=int(entry_id), seconds=time.monotonic() - started)
            except amends.AmendsError as error:
                _record(out, kind="error", i=i, key=key, type=type(error).__name__, message=str(error))
                time.sleep(0.05)
            except Exception as error:  # not an amends error: the test fails on it
                _record(out, kind="foreign", i=i, key=key, type=type(error).__name__, message=str(error))
                time.sleep(0.05)
            i += 1
        _record(out, kind="done", attempted=i)
    return 0


# ------------------------------------------------------------------ concurrent random operations (mix mode)

LIMITED = "Liabilities:Credits"  # liability, min_normal_balance=0
CASH = "Assets:Cash"
GOODWILL = "Expenses:Goodwill"
REVENUE = "Revenue:Subscriptions"
MIX_ACCOUNTS = [(CASH, "asset"), (GOODWILL, "expense"), (REVENUE, "revenue")]


def mix_postings(op: str, cents: int) -> list[tuple[str, Decimal]]:
    """The postings of one operation (debit positive); the test recomputes sums with the same function."""
    amount = Decimal(cents) / 100
    if op == "draw":  # the customer uses credit: the liability's (credit-normal) balance falls
        return [(LIMITED, amount), (REVENUE, -amount)]
    if op == "top_up":  # a goodwill credit: the liability's balance rises
        return [(GOODWILL, amount), (LIMITED, -amount)]
    if op == "sale":  # between unlimited shared accounts
        return [(CASH, amount), (REVENUE, -amount)]
    if op == "spend":
        return [(GOODWILL, amount), (CASH, -amount)]
    raise ValueError(op)


def run_mix(dsn: str, book_name: str, out_path: str, go_path: str, seconds: float, seed: int, worker: int) -> int:
    rng = random.Random(seed)
    book = amends.open(dsn, book_name, create=False)
    book.sync()
    with open(out_path + ".ready", "w", encoding="utf-8"):
        pass
    wait_until = time.monotonic() + 60
    while not os.path.exists(go_path):
        if time.monotonic() > wait_until:
            raise SystemExit("the go signal never came")
        time.sleep(0.005)
    deadline = time.monotonic() + seconds
    n = 0
    with open(out_path, "w", encoding="utf-8") as out:
        while time.monotonic() < deadline:
            op = rng.choices(("draw", "top_up", "sale", "spend"), weights=(50, 25, 15, 10))[0]
            cents = rng.randint(100, 8_000) if op == "draw" else rng.randint(100, 4_000)
            key = f"w{worker}-{n}"
            n += 1
            try:
                entry_id = book.post("2026-03-10", mix_postings(op, cents), idempotency_key=key)
                _record(out, kind="ok", id=int(entry_id), key=key, op=op, cents=cents)
            except amends.BalanceLimitExceeded as error:
                _record(out, kind="refused", key=key, op=op, cents=cents, message=str(error))
            except Exception as error:  # anything else is a finding; the test fails on it
                _record(out, kind="error", key=key, op=op, cents=cents, type=type(error).__name__, message=str(error))
        _record(out, kind="done", attempted=n)
    return 0


def main(argv: list[str]) -> int:
    mode, dsn, book_name, *rest = argv
    if mode == "batch":
        return run_batch(dsn, book_name, int(rest[0]), rest[1] if len(rest) > 1 else None)
    if mode == "loop":
        return run_loop(dsn, book_name, rest[0], rest[1], float(rest[2]))
    if mode == "mix":
        return run_mix(dsn, book_name, rest[0], rest[1], float(rest[2]), int(rest[3]), int(rest[4]))
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
