#!/usr/bin/env python3
"""The Python side of the amends benchmark (bench/run.py runs it; see bench/README.md).

  bench_py.py post FILE.csv --sums SUMS.tsv [--variants fast,str]
      Reads the workload CSV into pandas DataFrames first (untimed; accounts
      are created up front), then times Ledger.post_batch of the whole frame
      for each variant: "fast" = integer minor units in an amount_minor
      column (int64), "str" = amounts as decimal strings in an amount column.
  bench_py.py load-balance FILE.csv --sums SUMS.tsv
      Times Ledger.load_csv(open_missing_accounts=True) + balance_report().
  bench_py.py load-monthly FILE.csv --sums SUMS.tsv
      Times Ledger.load_csv(open_missing_accounts=True) + activity().

Prints one JSON object per measurement on stdout. Results are checked
exactly against the generator's --sums after the timed part; a difference
fails the run (exit 1).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from collections import defaultdict
from decimal import Decimal

import numpy as np
import pandas as pd

import amends

ROOT_TYPES = [  # the same convention as the core's account_type_from_name
    ("Assets", "asset"), ("Liabilities", "liability"), ("Equity", "equity"),
    ("Revenue", "revenue"), ("Income", "revenue"), ("Expenses", "expense"),
    ("Expense", "expense"), ("Budget", "memo"),
]


def account_type(name: str) -> str:
    if "ContraRevenue" in name.split(":"):
        return "contra_revenue"
    root = name.split(":", 1)[0]
    for prefix, kind in ROOT_TYPES:
        if root == prefix:
            return kind
    raise SystemExit(f"bench_py: can't tell the type of account {name}")


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def read_sums(path: str) -> tuple[dict, dict]:
    """(per account and currency, expected balance-report lines) from bench/workload.py --sums."""
    accounts: dict[tuple[str, str], Decimal] = {}
    report: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with open(path, encoding="utf-8") as f:
        for row in f:
            if not row.strip():
                continue
            account, currency, amount = row.rstrip("\n").split("\t")
            value = Decimal(amount)
            accounts[(account, currency)] = accounts.get((account, currency), Decimal(0)) + value
            if value == 0:
                continue
            parts = account.split(":")
            for i in range(1, len(parts) + 1):
                report[(":".join(parts[:i]), currency)] += value
    return accounts, dict(report)


def check_report(report: pd.DataFrame, expected: dict) -> int:
    got = {}
    for name, currency, amount in zip(report["account"], report["currency"], report["amount"]):
        if (name, currency) in got:
            print(f"MISMATCH: two report lines for {name} {currency}", file=sys.stderr)
            return 1
        got[(name, currency)] = Decimal(amount)
    errors = 0
    for key in sorted(set(got) | set(expected)):
        if got.get(key) != expected.get(key):
            errors += 1
            if errors <= 10:
                print(f"MISMATCH: {key[0]} {key[1]}: expected {expected.get(key)}, amends says {got.get(key)}",
                      file=sys.stderr)
    return errors


def check_activity(activity: pd.DataFrame, accounts: dict) -> int:
    per_account: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    per_month: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for name, currency, period, net in zip(activity["account"], activity["currency"], activity["period"],
                                           activity["net"]):
        per_account[(name, currency)] += Decimal(net)
        per_month[(str(period), currency)] += Decimal(net)
    errors = 0
    for key in sorted(set(per_account) | set(accounts)):
        if per_account.get(key, Decimal(0)) != accounts.get(key):
            errors += 1
            if errors <= 10:
                print(f"MISMATCH: {key}: expected {accounts.get(key)}, activity adds up to {per_account.get(key)}",
                      file=sys.stderr)
    for key, net in per_month.items():
        if net != 0:
            errors += 1
            if errors <= 10:
                print(f"MISMATCH: month {key} does not balance: {net}", file=sys.stderr)
    return errors


def read_frame(path: str) -> pd.DataFrame:
    frame = pd.read_csv(
        path,
        dtype={"entry_id": np.int64, "account": object, "amount": object, "currency": object, "description": object},
        keep_default_na=False,
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    return frame


def minor_units(amounts: pd.Series) -> np.ndarray:
    """'-12.34' -> -1234; the workload always writes two fraction digits."""
    text = amounts.astype(str)
    if not text.str.fullmatch(r"-?\d+\.\d\d").all():
        raise SystemExit("bench_py: an amount does not have exactly two fraction digits")
    return text.str.replace(".", "", regex=False).astype(np.int64).to_numpy()


def run_post(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    base = read_frame(args.file)
    frames = {
        "fast": pd.DataFrame({
            "entry_id": base["entry_id"], "date": base["date"], "account": base["account"],
            "amount_minor": minor_units(base["amount"]), "currency": base["currency"],
            "description": base["description"],
        }),
        "str": base,
    }
    accounts = list(dict.fromkeys(zip(base["account"], base["currency"])))
    n_entries = int(base["entry_id"].nunique())
    n_postings = len(base)
    prepare_s = time.perf_counter() - t0
    _, expected = read_sums(args.sums) if args.sums else (None, None)
    failed = 0
    for variant in args.variants.split(","):
        frame = frames[variant]
        book = amends.Ledger()
        for name, currency in accounts:
            book.create_account(name, account_type(name), currency)
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        result = book.post_batch(frame, atomic=True)
        seconds = time.perf_counter() - start
        gc.enable()
        errors = 0
        if result.created != n_entries or not result.ok:
            print(f"bench_py: post_batch created {result.created} of {n_entries} entries", file=sys.stderr)
            errors += 1
        if expected is not None:
            errors += check_report(book.balance_report(), expected)
        failed += errors
        print(json.dumps({
            "mode": "py-post", "variant": variant, "entries": n_entries, "postings": n_postings,
            "prepare_s": round(prepare_s, 4), "seconds": round(seconds, 4),
            "entries_per_s": round(n_entries / seconds), "postings_per_s": round(n_postings / seconds),
            "validated": expected is not None, "mismatches": errors,
        }), flush=True)
        del book, result
    return 1 if failed else 0


def run_load(args: argparse.Namespace, monthly: bool) -> int:
    accounts, expected = read_sums(args.sums) if args.sums else (None, None)
    gc.collect()
    rss_before = peak_rss_kb()
    start = time.perf_counter()
    book = amends.Ledger()
    loaded = book.load_csv(args.file, open_missing_accounts=True)
    load_s = time.perf_counter() - start
    table = book.activity() if monthly else book.balance_report()
    seconds = time.perf_counter() - start
    rss = peak_rss_kb()
    errors = 0
    if args.sums:
        errors = check_activity(table, accounts) if monthly else check_report(table, expected)
    print(json.dumps({
        "mode": "py-" + args.mode, "entries": loaded.entries_posted, "postings": loaded.postings,
        "load_s": round(load_s, 4), "report_s": round(seconds - load_s, 4), "seconds": round(seconds, 4),
        "lines": len(table), "peak_rss_kb": rss, "rss_before_kb": rss_before,
        "validated": bool(args.sums), "mismatches": errors,
    }), flush=True)
    return 1 if errors else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["post", "load-balance", "load-monthly"])
    p.add_argument("file")
    p.add_argument("--sums", default="")
    p.add_argument("--variants", default="fast,str", help="post: comma-separated, of fast and str")
    args = p.parse_args()
    if args.mode == "post":
        return run_post(args)
    return run_load(args, args.mode == "load-monthly")


if __name__ == "__main__":
    sys.exit(main())
