#!/usr/bin/env python3
"""Benchmarks the concession desk on PostgreSQL: submit, then approve-and-apply, durable.

    python3 bench/bench_desk.py [--requests 100000] [--batch 1000] [--runs 3] [--no-readme]

Starts its own PostgreSQL cluster (amends.cluster.Cluster: fsync and
synchronous_commit on) in a temporary directory and stops it at the end. Each
run uses a fresh database and book, publishes the sample policy
(python/amends/data/sample_policy.toml) without its accumulation thresholds
(one requester gives every credit here) and a hard goodwill budget, then:

  1. submits --requests goodwill requests (amounts 100.01..1000.00 USD, so
     the policy routes each to one team lead; enterprise customers, so no
     exception step), --batch per transaction: each is validated (customer
     context, tier caps, trailing 12 months), routed and written with its
     audit events;
  2. timed, the target: approves each as a team lead and applies it,
     --batch requests per transaction. Per request that is the approval
     (separation of duties checked), the budget reservation (a pending
     entry against the hard budget, whose limit the database checks again),
     the accounting entry (ContraRevenue:Goodwill / Liabilities:CustomerCredits:<customer>),
     consuming the reservation, four audit events (hash-chained, the chain
     re-verified by the database), and the customer notification in the
     outbox -- all committed together, durably.

Afterwards (untimed) every run is checked: every request applied, the
goodwill account equal to the sum of the amounts, the budget's consumed
equal to it too, one notification per request, and the audit trail read back
from the database verifies. Prints a table, writes the medians between the
desk-results markers of bench/README.md and the raw runs to bench/data/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import _amends_path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "bench" / "README.md"
START, END = "<!-- desk-results:begin -->", "<!-- desk-results:end -->"
TARGET = 2_000  # approve-and-apply per second, durable
UTC = dt.timezone.utc


def log(message: str) -> None:
    print(f"[bench_desk] {message}", file=sys.stderr, flush=True)


def bench_policy() -> str:
    """The sample policy without its accumulation thresholds: one requester gives every credit of the workload,
    four to each customer, which those thresholds would (rightly) send to finance."""
    text = (REPO / "python" / "amends" / "data" / "sample_policy.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[\[accumulation\]\]\n(?:[^\[\n#][^\n]*\n)*", "", text)
    if "[[accumulation]]" in text:
        raise SystemExit("the sample policy's [[accumulation]] tables are not where the benchmark expects them")
    return text.replace('version = "2026-11-01"', 'version = "2026-11-01-bench"')


def one_run(run: int, args: argparse.Namespace, amends, psycopg, cluster_dsn: str) -> dict:
    name = f"bench_desk_{run}"
    with psycopg.connect(cluster_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    dsn = cluster_dsn.replace("dbname=amends", f"dbname={name}")
    amends.migrate(dsn)  # as its owner: opening a book never migrates
    # A real book (not a simulation): the controller who creates it (the owner's login) adds ana, who files
    # every request from a login of her own, and lena, who approves and applies them from hers. Every event
    # is checked by the database against the login that writes it and dated by the database's clock.
    with psycopg.connect(dsn, autocommit=True) as conn:
        for login in ("bench_ana", "bench_lena"):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchall():
                conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE amends_app")
    admin = amends.open(dsn, "bench", first_person="controller")
    admin.add_person("ana", "Ana", teams=["support"], login="bench_ana")
    admin.add_person("lena", "Lena", teams=["support"], login="bench_lena")
    month = dt.datetime.now(UTC).strftime("%Y-%m")
    setup = amends.Desk(admin, policy=bench_policy())
    setup.allocate("support", "goodwill", month, "1000000000.00")
    admin.close()
    book = amends.open(re.sub(r"user=\S+", "user=bench_ana", dsn), "bench")
    desk = amends.Desk(book)
    rnd = random.Random(run)
    amounts = [Decimal(rnd.randrange(10_001, 100_001)) / 100 for _ in range(args.requests)]
    core = desk.core
    ids: list[str] = []

    def submit_batch(lo: int, hi: int) -> None:
        at = book.write_time()  # the database's clock
        for i in range(lo, hi):
            r = core.submit({"kind": "goodwill", "customer": f"C-{i % (args.requests // 4 + 1):06d}", "tier": "enterprise",
                             "customer_value": "250000.00", "amount": str(amounts[i]), "requester": "ana",
                             "team": "support", "reason": "incident-credit", "evidence": [f"INC-{i}"]}, at)
            ids.append(r.id)

    t0 = time.perf_counter()
    for lo in range(0, args.requests, args.batch):
        desk.transaction(lambda lo=lo: submit_batch(lo, min(lo + args.batch, args.requests)))
    submit_s = time.perf_counter() - t0
    states = {core.get(i).state for i in ids[:50]}
    if states != {"pending_approval"}:
        raise SystemExit(f"the submitted requests are {states}, not pending_approval: the workload is not what it says")

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    book.close()
    book = amends.open(re.sub(r"user=\S+", "user=bench_lena", dsn), "bench")
    desk = amends.Desk(book)
    t0 = time.perf_counter()
    batches = []
    for lo in range(0, args.requests, args.batch):
        b0 = time.perf_counter()
        desk.approve_and_apply([(i, "lena") for i in ids[lo:lo + args.batch]])
        batches.append(time.perf_counter() - b0)
    apply_s = time.perf_counter() - t0
    log(f"run {run}: approve-and-apply batches: first {statistics.median(batches[:5]):.3f} s, "
        f"last {statistics.median(batches[-5:]):.3f} s (medians of 5)")

    # Checks (untimed), from a fresh session.
    book.close()
    fresh = amends.open(dsn, "bench")
    check = amends.Desk(fresh)
    applied = check.core.ids("applied")
    total = sum(amounts, Decimal(0))
    goodwill = fresh.balance("ContraRevenue:Goodwill")
    used = check.utilisation("support", "goodwill", month)
    audit = check.verify_audit()
    outbox = len(check.core.outbox())
    problems = []
    if len(applied) != args.requests:
        problems.append(f"{len(applied)} applied, not {args.requests}")
    if goodwill != total or used.consumed != total:
        problems.append(f"goodwill {goodwill}, budget consumed {used.consumed}, amounts sum {total}")
    if not audit["ok"]:
        problems.append(f"audit trail: {audit}")
    if outbox != args.requests:
        problems.append(f"{outbox} notifications")
    if problems:
        raise SystemExit("run " + str(run) + " is wrong: " + "; ".join(problems))
    fresh.close()
    with psycopg.connect(cluster_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name}")
    return {
        "requests": args.requests,
        "batch": args.batch,
        "submit_s": submit_s,
        "submit_per_s": args.requests / submit_s,
        "approve_apply_s": apply_s,
        "approve_apply_per_s": args.requests / apply_s,
        "audit_events": audit["events"],
        "first_batches_s": statistics.median(batches[:5]),
        "last_batches_s": statistics.median(batches[-5:]),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--no-readme", action="store_true")
    args = p.parse_args()
    choice = _amends_path.select()
    _amends_path.announce(choice, "bench_desk")
    import amends
    import psycopg
    from amends.cluster import Cluster

    tmp = Path(tempfile.mkdtemp(prefix="amends-bench-desk-"))
    cluster = Cluster(tmp / "pg")
    runs = []
    try:
        dsn = cluster.ensure_running()
        with psycopg.connect(dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            fsync = conn.execute("SHOW fsync").fetchone()[0]
            sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
        if fsync != "on" or sync != "on":
            raise SystemExit("the cluster is not durable")
        for run in range(1, args.runs + 1):
            log(f"run {run}: {args.requests} requests, {args.batch} per transaction")
            result = one_run(run, args, amends, psycopg, dsn)
            log(f"run {run}: submit {result['submit_per_s']:,.0f}/s, approve-and-apply {result['approve_apply_per_s']:,.0f}/s")
            runs.append(result)
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    machine = f"{os.cpu_count()} × {cpu}, PostgreSQL {version} (fsync {fsync}, synchronous_commit {sync}), Python {platform.python_version()}"
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    command = "python3 bench/bench_desk.py " + " ".join(sys.argv[1:])
    per_s = med("approve_apply_per_s")
    table = "\n".join([
        f"`{command}` on {stamp}: {machine}; medians of {len(runs)} runs. Python amends: {choice.description}.",
        "",
        "| step | seconds | requests/s | target |",
        "| --- | --- | --- | --- |",
        f"| submit {args.requests:,} (validate, route, audit), {args.batch} per transaction | {med('submit_s'):.2f} | "
        f"{med('submit_per_s'):,.0f} | |",
        f"| approve and apply {args.requests:,}, {args.batch} per transaction, durable | {med('approve_apply_s'):.2f} | "
        f"**{per_s:,.0f}** | ≥ {TARGET:,}: {'met' if per_s >= TARGET else 'MISSED'} |",
        "",
        "Each run: " + ", ".join(f"{r['approve_apply_per_s']:,.0f}/s" for r in runs) + " approve-and-apply; "
        f"{runs[0]['audit_events']:,} audit events in the chain at the end of a run, verified from the database.",
    ])
    print(table)
    data = REPO / "bench" / "data"
    data.mkdir(exist_ok=True)
    (data / f"desk-results-{dt.datetime.now():%Y%m%d-%H%M%S}.json").write_text(
        json.dumps({"command": command, "machine": machine, "amends": choice.description, "runs": runs}, indent=2))
    if not args.no_readme and README.exists():
        text = README.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            README.write_text(head + START + "\n" + table + "\n" + END + tail)
    return 0 if per_s >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
