#!/usr/bin/env python3
"""Benchmarks `amends audit verify` on a book whose audit trail holds 1,000,000 events.

    python3 bench/bench_audit.py [--events 1000000] [--runs 3] [--no-readme]

Starts its own PostgreSQL cluster (amends.cluster.Cluster) in a temporary
directory and stops it at the end. Builds the trail fast (untimed): a book
opened through amends, then the events hashed here with hashlib in the
canonical form of requests::canonical and written by COPY, 200,000 per
statement, under the book's write lock (amends.begin_write), so the
database checks the chain as it does for any append and moves the book's
audit head. The events name 8 each of events/8 requests (submitted, routed,
approved, ...), as a real trail does. Then, timed, the target: the command
`amends audit verify` run as a subprocess (the median of --runs runs), and
amends.verify_audit in-process (streams the trail, recomputes every hash,
checks the head and every anchor). Prints a table and writes it between the
audit-results markers of bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _amends_path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "bench" / "README.md"
START, END = "<!-- audit-results:begin -->", "<!-- audit-results:end -->"
TARGET_S = 3.0
CHUNK = 200_000
EVENTS = ("submitted", "validated", "routed", "reserved", "approved", "applied", "notified", "reconciled")


def log(message: str) -> None:
    print(f"[bench_audit] {message}", file=sys.stderr, flush=True)


def field(value: str) -> bytes:
    data = value.encode()
    return str(len(data)).encode() + b":" + data + b";"


def build(psycopg, dsn: str, book_id: int, events: int) -> None:
    """Appends `events` hash-chained events by COPY, in one transaction holding the book's write lock."""
    start = 1_795_435_200_000_000  # 2026-11-23 UTC
    previous = bytes(32)
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT amends.begin_write(%s, 'bench-audit')", (book_id,))
        for lo in range(0, events, CHUNK):
            rows = []
            for i in range(lo, min(lo + CHUNK, events)):
                seq, at = i + 1, start + i * 1000
                request, event = f"R-{i // 8:07d}", EVENTS[i % 8]
                actor = "lena" if event == "approved" else "system"
                details = '{"step":' + str(i % 8) + '}'
                canonical = (b"amends-audit-v1;" + field(str(seq)) + field(str(at)) + field(actor) + field(request)
                             + field(event) + field(details) + field(previous.hex()))
                digest = hashlib.sha256(canonical).digest()
                rows.append((book_id, seq, at, actor, request, event, details, previous, digest))
                previous = digest
            with conn.cursor().copy("COPY amends.audit_events (book_id, seq, at_micros, actor, request_id, event, "
                                    "details, previous, hash) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            log(f"  {min(lo + CHUNK, events):,} events written")
        conn.commit()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--no-readme", action="store_true")
    args = p.parse_args()
    choice = _amends_path.select()
    _amends_path.announce(choice, "bench_audit")
    import amends
    import psycopg
    from amends.cluster import Cluster

    tmp = Path(tempfile.mkdtemp(prefix="amends-bench-audit-"))
    cluster = Cluster(tmp / "pg")
    cli_s: list[float] = []
    core_s: list[float] = []
    try:
        cluster_dsn = cluster.ensure_running()
        dsn = cluster.create_database("bench_audit")
        with psycopg.connect(dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        amends.open(dsn, "audit").close()
        with psycopg.connect(dsn) as conn:
            book_id = conn.execute("SELECT book_id FROM amends.books WHERE name = 'audit'").fetchone()[0]
        t0 = time.perf_counter()
        build(psycopg, dsn, book_id, args.events)
        log(f"built {args.events:,} events in {time.perf_counter() - t0:.1f} s")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE amends.audit_events")
        amends_cmd = [str(Path(sys.executable).with_name("amends"))]  # the installed command
        if choice.kind == "dev" or not Path(amends_cmd[0]).exists():
            amends_cmd = [sys.executable, "-m", "amends"]  # the chosen package, through choice.env()
        for run in range(1, args.runs + 1):
            t0 = time.perf_counter()
            done = subprocess.run([*amends_cmd, "audit", "verify", "--dsn", dsn, "--book", "audit"],
                                  capture_output=True, text=True, env=choice.env())
            cli_s.append(time.perf_counter() - t0)
            if done.returncode != 0 or f"{args.events} events, hash chain intact" not in done.stdout:
                raise SystemExit(f"amends audit verify: exit {done.returncode}: {done.stdout}{done.stderr}")
            t0 = time.perf_counter()
            result = amends.verify_audit(dsn, "audit")
            core_s.append(time.perf_counter() - t0)
            if not result["ok"] or result["events"] != args.events or result["head"] != args.events:
                raise SystemExit(f"amends.verify_audit: {result}")
            log(f"run {run}: amends audit verify {cli_s[-1]:.2f} s, amends.verify_audit {core_s[-1]:.2f} s")
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    machine = f"{os.cpu_count()} × {cpu}, PostgreSQL {version}, Python {platform.python_version()}"
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    command = "python3 bench/bench_audit.py " + " ".join(sys.argv[1:])
    cli_med, core_med = statistics.median(cli_s), statistics.median(core_s)
    table = "\n".join([
        f"`{command}` on {stamp}: {machine}; medians of {len(cli_s)} runs. Python amends: {choice.description}.",
        "",
        "| step | seconds | events/s | target |",
        "| --- | --- | --- | --- |",
        f"| `amends audit verify`, {args.events:,} events (the whole command) | **{cli_med:.2f}** | "
        f"{args.events / cli_med:,.0f} | < {TARGET_S:.0f} s: {'met' if cli_med < TARGET_S else 'MISSED'} |",
        f"| `amends.verify_audit` (chain, head, anchors) | {core_med:.2f} | {args.events / core_med:,.0f} | |",
        "",
        "Each run: " + ", ".join(f"{c:.2f} s" for c in cli_s) + " (command); "
        + ", ".join(f"{c:.2f} s" for c in core_s) + " (in-process).",
    ])
    print(table)
    if not args.no_readme:
        text = README.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            README.write_text(head + START + "\n" + table + "\n" + END + rest.split(END, 1)[1])
    return 0 if cli_med < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
