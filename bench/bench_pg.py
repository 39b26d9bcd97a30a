#!/usr/bin/env python3
"""Benchmarks amends on PostgreSQL: durable bulk posting and loading back, against what else one could do.

    python3 bench/bench_pg.py [--entries 1000000] [--runs 3] [--naive-entries 5000] [--data-dir DIR]

Starts its own PostgreSQL cluster (amends.cluster.Cluster, default settings:
fsync and synchronous_commit on) in a temporary directory or --data-dir, and
stops it at the end. Each run uses fresh databases for:

  a. amends: amends.open(dsn, "bench").load_csv(csv, open_missing_accounts=True),
     the durable bulk posting with every invariant checked (in memory and by
     the database); returns when committed;
  b. keyed-COPY ceiling: the same rows (exported from (a), untimed) COPYed
     into tables with the same columns, primary keys, indexes and foreign
     keys as amends.accounts/entries/postings, but no CHECK constraints and no
     triggers; the three COPYs in one transaction. The ceiling's DDL is
     written here (CEILING_TABLES) and compared at run time with the real
     schema in the migrated database of (a): a difference stops the run;
  c. naive client: psycopg, one entry per transaction (amends.begin_write,
     INSERT the entry, INSERT its postings in one statement, COMMIT) into an
     amends-migrated database, for the first --naive-entries entries;
  d. loading back into a DataFrame, each in a fresh Python process:
     amends.open(dsn, "bench").to_pandas() versus pandas.read_sql of the
     postings joined with entries and accounts (both: connect, read, frame);
     both frames must have the same rows and amount sums.

A CHECKPOINT runs before every timed step (untimed), so no step pays for the
previous one's dirty pages. Prints a table, writes medians and all runs
between the pg-results markers of bench/README.md, and all raw results to
bench/data/pg-results-*.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import _amends_path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
GENERATOR = BENCH / "workload.py"
README = BENCH / "README.md"
START, END = "<!-- pg-results:begin -->", "<!-- pg-results:end -->"
SECTION = "## PostgreSQL: durable posting and loading"
BOOK = "bench"

TARGET_VS_CEILING = 0.60
TARGET_POSTINGS = 100_000
TARGET_VS_NAIVE = 20.0
TARGET_FRAME_SPEEDUP = 5.0
PGLEDGER_TRANSFERS_PER_S = 10_600  # published by pgledger; not measured here

READ_SQL = ("SELECT e.entry_id, e.date, a.name AS account, p.amount, a.currency FROM amends.postings p "
            "JOIN amends.entries e USING (book_id, entry_id) JOIN amends.accounts a USING (book_id, account_id) "
            "WHERE p.book_id = %s ORDER BY p.entry_id, p.line")

COPY_CHUNK = 1 << 20  # bytes per copy.write()


def log(message: str) -> None:
    print(f"[bench-pg {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def die(message: str) -> None:
    print(f"bench/bench_pg.py: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def import_amends():
    """amends as the path gives it: the parent's snapshot (see snapshot_amends), which its children get too."""
    import amends

    return amends


def snapshot_amends(dest: Path) -> Path:
    """Copies the amends package (the compiled extension too, symlinks followed) into dest and imports it from there.

    Others rebuild the extension in build/py while the benchmark runs; a copy
    keeps every run and every child process on one build, and a rebuild from
    crashing a process that has it mapped. A copy taken mid-build does not
    import; then it waits and copies again.
    """
    import importlib.util

    spec = importlib.util.find_spec("amends")  # as _amends_path.select() put it on sys.path
    if spec is None or spec.origin is None:
        die("amends is not importable")
    src = Path(spec.origin).parent
    for attempt in range(1, 11):
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest / "amends", symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
        probe = subprocess.run([sys.executable, "-c", "import amends, amends.book, amends.cluster"],
                               env={**os.environ, "PYTHONPATH": str(dest)}, capture_output=True, text=True)
        if probe.returncode == 0:
            sys.path.insert(0, str(dest))
            log(f"amends from {src} (copied to {dest})")
            return src
        log(f"the copy of {src} does not import (a build in progress?): {probe.stderr.strip().splitlines()[-1:]}; "
            f"retrying in 20 s ({attempt}/10)")
        time.sleep(20)
    die(f"amends from {src} does not import")
    raise AssertionError


# ---------------------------------------------------------------- the ceiling's tables
#
# Columns (name, type as format_type prints it, NOT NULL), primary key,
# indexes (name, unique, columns, predicate) and foreign keys (columns,
# referenced table, referenced columns) of amends.accounts, entries and
# postings, without CHECK constraints, defaults or triggers. check_ceiling()
# compares them with the real schema; keep them in step with sql/ (001, and 007's budget index).

CEILING_TABLES: dict[str, dict] = {
    "accounts": {
        "columns": [
            ("book_id", "integer", True), ("account_id", "integer", True), ("name", "text", True),
            ("currency", "character(3)", True), ("type", "text", True), ("dimensions", "jsonb", True),
            ("min_normal", "numeric", False), ("max_normal", "numeric", False), ("closed", "boolean", True),
            ("posted", "numeric", True), ("pending_debits", "numeric", True), ("pending_credits", "numeric", True),
            ("version", "bigint", True),
        ],
        "primary_key": ["book_id", "account_id"],
        "unique": [["book_id", "name", "currency"]],
        "indexes": [("accounts_version", False, ["book_id", "version"], None),
                    ("accounts_budget", False, ["book_id", "account_id"], "name LIKE 'Budget:%'")],  # 007
        "foreign_keys": [(["book_id"], "books", ["book_id"]), (["currency"], "currencies", ["code"])],
        "order": "account_id",
    },
    "entries": {
        "columns": [
            ("book_id", "integer", True), ("entry_id", "bigint", True), ("date", "date", True),
            ("kind", "text", True), ("description", "text", True), ("idempotency_key", "text", False),
            ("metadata", "jsonb", True), ("posting_count", "smallint", True), ("reverses", "bigint", False),
            ("completes", "bigint", False), ("expires_on", "date", False), ("reason", "text", False),
            ("period_override", "boolean", True), ("created_at", "timestamp with time zone", True),
        ],
        "primary_key": ["book_id", "entry_id"],
        "unique": [],
        "indexes": [
            ("entries_idempotency_key", True, ["book_id", "idempotency_key"], "idempotency_key IS NOT NULL"),
            ("entries_reverses", True, ["book_id", "reverses"], "reverses IS NOT NULL"),
            ("entries_completes", True, ["book_id", "completes"], "completes IS NOT NULL"),
        ],
        "foreign_keys": [(["book_id", "reverses"], "entries", ["book_id", "entry_id"]),
                         (["book_id", "completes"], "entries", ["book_id", "entry_id"])],
        "order": "entry_id",
    },
    "postings": {
        "columns": [
            ("book_id", "integer", True), ("entry_id", "bigint", True), ("line", "smallint", True),
            ("account_id", "integer", True), ("amount", "numeric", True),
        ],
        "primary_key": ["book_id", "entry_id", "line"],
        "unique": [],
        "indexes": [],
        # None since 6798387: amends checks a posting's entry and account set-wise in its insert trigger.
        "foreign_keys": [],
        "order": "entry_id, line",
    },
}
# What the foreign keys of the three tables point at: only the keys, filled before the timed COPY.
CEILING_TARGETS = {"books": [("book_id", "integer")], "currencies": [("code", "character(3)")]}


def ceiling_ddl(schema: str) -> str:
    out = [f"CREATE SCHEMA {schema};"]
    for table, cols in CEILING_TARGETS.items():
        out.append(f"CREATE TABLE {schema}.{table} ({', '.join(f'{n} {t} NOT NULL' for n, t in cols)}, "
                   f"PRIMARY KEY ({cols[0][0]}));")
    for table, spec in CEILING_TABLES.items():
        parts = [f"{n} {t}{' NOT NULL' if nn else ''}" for n, t, nn in spec["columns"]]
        parts.append(f"PRIMARY KEY ({', '.join(spec['primary_key'])})")
        parts += [f"UNIQUE ({', '.join(u)})" for u in spec["unique"]]
        parts += [f"FOREIGN KEY ({', '.join(c)}) REFERENCES {schema}.{t} ({', '.join(rc)})"
                  for c, t, rc in spec["foreign_keys"]]
        out.append(f"CREATE TABLE {schema}.{table} (\n  " + ",\n  ".join(parts) + "\n);")
        for name, unique, cols, where in spec["indexes"]:
            out.append(f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON {schema}.{table} ({', '.join(cols)})"
                       + (f" WHERE {where}" if where else "") + ";")
    return "\n".join(out)


def schema_shape(conn, schema: str) -> dict[str, list]:
    """Columns, indexes, foreign keys, CHECK constraints and triggers of the three tables, schema names removed."""
    tables = list(CEILING_TABLES)
    strip = re.compile(rf"\b{re.escape(schema)}\.")
    shape: dict[str, list] = {}
    rows = conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull"
        "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace s ON s.oid = c.relnamespace"
        " WHERE s.nspname = %s AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY c.relname, a.attnum", (schema, tables)).fetchall()
    shape["columns"] = [tuple(r) for r in rows]
    rows = conn.execute("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = ANY(%s)",
                        (schema, tables)).fetchall()
    # Index names are left out: what counts is what is indexed, uniquely or not, and under which predicate.
    shape["indexes"] = sorted((t, re.sub(r"INDEX \S+ ON ", "INDEX ON ", strip.sub("", d))) for t, d in rows)
    rows = conn.execute(
        "SELECT c.relname, con.contype, pg_get_constraintdef(con.oid)"
        "  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace s ON s.oid = c.relnamespace"
        " WHERE s.nspname = %s AND c.relname = ANY(%s) AND con.contype IN ('f', 'c')", (schema, tables)).fetchall()
    shape["foreign_keys"] = sorted((t, strip.sub("", d)) for t, k, d in rows if k == "f")
    shape["checks"] = sorted((t, d) for t, k, d in rows if k == "c")
    rows = conn.execute(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        "  JOIN pg_namespace s ON s.oid = c.relnamespace"
        " WHERE s.nspname = %s AND c.relname = ANY(%s) AND NOT t.tgisinternal", (schema, tables)).fetchall()
    shape["triggers"] = sorted(tuple(r) for r in rows)
    return shape


def check_ceiling(real: dict[str, list], ceiling: dict[str, list]) -> None:
    """The ceiling's tables must match amends' in columns, keys, indexes and foreign keys, and have no checks or triggers."""
    problems = []
    for what in ("columns", "indexes", "foreign_keys"):
        a, b = set(real[what]), set(ceiling[what])
        if a != b:
            problems.append(f"{what} differ:\n    only in amends:  {sorted(a - b)}\n    only in ceiling: {sorted(b - a)}")
    if real["columns"] != ceiling["columns"]:
        if not any(p.startswith("columns") for p in problems):
            problems.append("columns are in a different order")
    if ceiling["checks"] or ceiling["triggers"]:
        problems.append(f"the ceiling has CHECKs {ceiling['checks']} or triggers {ceiling['triggers']}")
    if not real["checks"] or not real["triggers"]:
        problems.append("the amends schema shows no CHECKs or no triggers: is this the migrated database?")
    if problems:
        die("the keyed-COPY ceiling's tables (CEILING_TABLES in bench/bench_pg.py) no longer match "
            "sql/001_books.sql:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------- helpers

def generate(entries: int, seed: int, data: Path) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    path = data / (f"w{entries}" + ("" if seed == 42 else f"s{seed}") + ".csv")
    if path.exists() and path.stat().st_size > 0:
        return path
    tmp = path.with_name(path.name + ".tmp")
    log(f"generating {path.name}")
    cmd = [sys.executable, str(GENERATOR), "--entries", str(entries), "--seed", str(seed), "-o", str(tmp),
           "--format", "csv"]
    if subprocess.run(cmd).returncode != 0:
        die("bench/workload.py failed")
    tmp.rename(path)
    return path


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def checkpoint(psycopg, dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CHECKPOINT")


def run_child(args: list[str], env: dict[str, str]) -> dict:
    r = subprocess.run([sys.executable, str(Path(__file__).resolve())] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env)
    if r.returncode != 0:
        print(r.stderr[-5000:], file=sys.stderr)
        die(f"bench_pg.py {' '.join(args[:2])} exited with {r.returncode}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- d. the frame, in a child process

def frame_child(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench_pg.py _frame")
    p.add_argument("method", choices=["amends", "read_postings", "read_sql"])
    p.add_argument("--dsn", required=True)
    p.add_argument("--book-id", type=int, required=True)
    a = p.parse_args(argv)
    import resource
    import warnings

    import pandas as pd
    import psycopg

    amends = import_amends()
    warnings.filterwarnings("ignore", message=".*pandas only supports SQLAlchemy.*")
    t0 = time.perf_counter()
    if a.method == "amends":
        book = amends.open(a.dsn, BOOK)
        frame = book.to_pandas()
    elif a.method == "read_postings":
        frame = amends.read_postings(a.dsn, BOOK)
    else:
        conn = psycopg.connect(a.dsn)
        frame = pd.read_sql(READ_SQL, conn, params=(a.book_id,))
    seconds = time.perf_counter() - t0
    amounts = [x if isinstance(x, Decimal) else Decimal(str(x)) for x in frame["amount"]]
    print(json.dumps({
        "method": a.method, "seconds": round(seconds, 4), "rows": len(frame),
        "columns": list(map(str, frame.columns)), "amount_type": type(frame["amount"].iloc[0]).__name__,
        "amount_sum": str(sum(amounts, Decimal(0))), "amount_abs_sum": str(sum(map(abs, amounts), Decimal(0))),
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))
    return 0


# ---------------------------------------------------------------- one run

def export_rows(conn, book_id: int, folder: Path) -> dict[str, Path]:
    """COPY (SELECT ...) TO STDOUT of the book's accounts, entries and postings, and the FK targets, into files."""
    folder.mkdir(parents=True, exist_ok=True)
    queries = {
        "books": f"SELECT book_id FROM amends.books WHERE book_id = {book_id}",
        "currencies": "SELECT code FROM amends.currencies ORDER BY code",
    }
    for table, spec in CEILING_TABLES.items():
        cols = ", ".join(n for n, _, _ in spec["columns"])
        queries[table] = f"SELECT {cols} FROM amends.{table} WHERE book_id = {book_id} ORDER BY {spec['order']}"
    files = {}
    with conn.cursor() as cur:
        for table, query in queries.items():
            path = folder / f"{table}.copy"
            with open(path, "wb") as f, cur.copy(f"COPY ({query}) TO STDOUT") as copy:
                for data in copy:
                    f.write(data)
            files[table] = path
    conn.commit()
    return files


def copy_file(cur, table: str, columns: str, path: Path) -> None:
    with open(path, "rb") as f, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        while chunk := f.read(COPY_CHUNK):
            copy.write(chunk)


def one_run(run: int, args, ctx: dict) -> dict[str, dict]:
    amends, psycopg, cluster = ctx["amends"], ctx["psycopg"], ctx["cluster"]
    admin = cluster.dsn_for("postgres")
    out: dict[str, dict] = {}
    names = {k: f"bench_{k}_{run}" for k in ("amends", "ceiling", "naive")}
    for name in names.values():
        cluster.drop_database(name)
    try:
        # a. amends: durable bulk posting.
        dsn_a = cluster.create_database(names["amends"])
        amends.migrate(dsn_a)  # as its owner: opening a book never migrates
        book = amends.open(dsn_a, BOOK)
        checkpoint(psycopg, admin)
        log(f"run {run}: amends load_csv of {ctx['csv'].name}")
        t0 = time.perf_counter()
        try:
            result = book.load_csv(ctx["csv"], open_missing_accounts=True)
        except Exception as error:  # the error text is part of the report
            die(f"amends load_csv raised {type(error).__module__}.{type(error).__name__}: {error}")
        seconds = time.perf_counter() - t0
        if len(result.failures):
            die(f"amends load_csv reported failures:\n{result.failures.head(20)}")
        postings, entries = book.posting_count, book.entry_count
        if entries != result.entries_posted or postings != result.postings:
            die(f"load_csv says {result.entries_posted} entries / {result.postings} postings, the book "
                f"{entries} / {postings}")
        with psycopg.connect(dsn_a) as c:
            db_rows = c.execute("SELECT (SELECT count(*) FROM amends.entries WHERE book_id = %s),"
                                " (SELECT count(*) FROM amends.postings WHERE book_id = %s),"
                                " pg_database_size(current_database())", (book.book_id, book.book_id)).fetchone()
        if (db_rows[0], db_rows[1]) != (entries, postings):
            die(f"the database holds {db_rows[0]} entries / {db_rows[1]} postings, the book {entries} / {postings}")
        out["amends"] = {"seconds": round(seconds, 3), "entries": entries, "postings": postings,
                         "accounts": book.account_count, "entries_per_s": round(entries / seconds),
                         "postings_per_s": round(postings / seconds), "db_size_mb": round(db_rows[2] / 1e6)}
        log(f"  {seconds:.2f} s: {postings / seconds:,.0f} postings/s, {entries / seconds:,.0f} entries/s")
        book_id = book.book_id
        accounts = book.accounts()
        book.close()

        # Rows for b and c, untimed.
        t0 = time.perf_counter()
        folder = ctx["work"] / f"export-{run}"
        with psycopg.connect(dsn_a) as c:
            files = export_rows(c, book_id, folder)
            real_shape = schema_shape(c, "amends")
            n = min(args.naive_entries, entries)
            sample_entries = c.execute(
                "SELECT entry_id, date, description, idempotency_key, posting_count FROM amends.entries"
                " WHERE book_id = %s AND entry_id <= %s ORDER BY entry_id", (book_id, n)).fetchall()
            sample_postings = c.execute(
                "SELECT entry_id, line, account_id, amount FROM amends.postings"
                " WHERE book_id = %s AND entry_id <= %s ORDER BY entry_id, line", (book_id, n)).fetchall()
        log(f"  exported the rows in {time.perf_counter() - t0:.1f} s (untimed)")

        # b. keyed-COPY ceiling.
        dsn_c = cluster.create_database(names["ceiling"])
        with psycopg.connect(dsn_c) as c:
            c.execute(ceiling_ddl("ceiling"))
            c.commit()
            check_ceiling(real_shape, schema_shape(c, "ceiling"))
            with c.cursor() as cur:
                for table, cols in CEILING_TARGETS.items():
                    copy_file(cur, f"ceiling.{table}", ", ".join(n for n, _ in cols), files[table])
            c.commit()
        checkpoint(psycopg, admin)
        log(f"run {run}: keyed COPY into the ceiling tables")
        with psycopg.connect(dsn_c) as c:
            split = {}
            t0 = time.perf_counter()
            with c.cursor() as cur:
                for table, spec in CEILING_TABLES.items():
                    t1 = time.perf_counter()
                    copy_file(cur, f"ceiling.{table}", ", ".join(n for n, _, _ in spec["columns"]), files[table])
                    split[f"{table}_s"] = round(time.perf_counter() - t1, 3)
            t1 = time.perf_counter()
            c.commit()
            split["commit_s"] = round(time.perf_counter() - t1, 3)
            seconds = time.perf_counter() - t0
            got = c.execute("SELECT (SELECT count(*) FROM ceiling.entries), (SELECT count(*) FROM ceiling.postings),"
                            " (SELECT count(*) FROM ceiling.accounts)").fetchone()
        if tuple(got) != (entries, postings, out["amends"]["accounts"]):
            die(f"the ceiling holds {got} entries/postings/accounts, amends {entries}/{postings}")
        out["ceiling"] = {"seconds": round(seconds, 3), "entries": entries, "postings": postings,
                          "entries_per_s": round(entries / seconds), "postings_per_s": round(postings / seconds), **split}
        log(f"  {seconds:.2f} s: {postings / seconds:,.0f} postings/s ({split})")
        cluster.drop_database(names["ceiling"])

        # c. naive client: one entry per transaction.
        dsn_n = cluster.create_database(names["naive"])
        amends.migrate(dsn_n)
        t0 = time.perf_counter()
        nbook = amends.open(dsn_n, BOOK)
        if nbook.book_id != book_id:
            die(f"the naive database's book has id {nbook.book_id}, the loaded one {book_id}")
        top = max(p[2] for p in sample_postings)
        for acc in accounts:  # the loaded book's account ids, in order: the accounts the sample uses and those before
            if acc.id > top:
                break
            made = nbook.create_account(acc.name, acc.type, acc.currency, dimensions=acc.dimensions,
                                        min_normal_balance=acc.min_normal_balance,
                                        max_normal_balance=acc.max_normal_balance)
            if made.id != acc.id:
                die(f"account {acc.name} {acc.currency} got id {made.id} in the naive book, {acc.id} in the loaded one")
        accounts_s = time.perf_counter() - t0
        nbook.close()
        by_entry: dict[int, list] = {}
        for entry_id, line, account_id, amount in sample_postings:
            by_entry.setdefault(entry_id, []).append((book_id, entry_id, line, account_id, amount))
        work = []
        for entry_id, date, description, key, count in sample_entries:
            rows = by_entry[entry_id]
            sql = ("INSERT INTO amends.postings (book_id, entry_id, line, account_id, amount) VALUES "
                   + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows)))
            work.append(((book_id, entry_id, date, description, key, count), sql, [v for r in rows for v in r]))
        checkpoint(psycopg, admin)
        log(f"run {run}: naive client, {len(work)} entries one per transaction "
            f"({top + 1} accounts opened first in {accounts_s:.1f} s)")
        with psycopg.connect(dsn_n, autocommit=False) as c:
            cur = c.cursor()
            t0 = time.perf_counter()
            for entry_row, postings_sql, postings_params in work:
                cur.execute("SELECT amends.begin_write(%s, 'post')", (book_id,))
                cur.execute("INSERT INTO amends.entries (book_id, entry_id, date, description, idempotency_key,"
                            " posting_count) VALUES (%s, %s, %s, %s, %s, %s)", entry_row)
                cur.execute(postings_sql, postings_params)
                c.commit()
            seconds = time.perf_counter() - t0
        check = amends.open(dsn_n, BOOK)  # amends reads back what the naive client wrote
        if (check.entry_count, check.posting_count) != (len(work), len(sample_postings)):
            die(f"the naive book holds {check.entry_count} entries / {check.posting_count} postings, "
                f"expected {len(work)} / {len(sample_postings)}")
        check.close()
        out["naive"] = {"seconds": round(seconds, 3), "entries": len(work), "postings": len(sample_postings),
                        "entries_per_s": round(len(work) / seconds), "postings_per_s": round(len(sample_postings) / seconds),
                        "accounts_opened": top + 1, "accounts_seconds": round(accounts_s, 2)}
        log(f"  {seconds:.2f} s: {len(work) / seconds:,.0f} entries/s, {len(sample_postings) / seconds:,.0f} postings/s")
        cluster.drop_database(names["naive"])

        # d. load back into a DataFrame, each in a fresh process; alternate which goes first. The first
        # reader of freshly loaded rows would set their hint bits (writing every page); a VACUUM (what
        # autovacuum does to a book soon after it is loaded) does that first, for both, untimed.
        with psycopg.connect(dsn_a, autocommit=True) as c:
            t0 = time.perf_counter()
            c.execute("VACUUM (ANALYZE) amends.accounts, amends.entries, amends.postings")
            log(f"  VACUUM (ANALYZE) of the loaded book: {time.perf_counter() - t0:.1f} s (untimed)")
        methods = ["amends", "read_sql"] + (["read_postings"] if hasattr(amends, "read_postings") else [])
        order = methods[run % len(methods):] + methods[:run % len(methods)]
        frames = {}
        for method in order:
            checkpoint(psycopg, admin)
            log(f"run {run}: DataFrame via {method} (fresh process)")
            frames[method] = run_child(["_frame", method, "--dsn", dsn_a, "--book-id", str(book_id)], ctx["env"])
            log(f"  {frames[method]['seconds']:.2f} s, {frames[method]['rows']:,} rows")
        s = frames["read_sql"]
        for method, f in frames.items():
            if f["rows"] != postings:
                die(f"{method} gave {f['rows']} rows, the book has {postings} postings")
            if (Decimal(f["amount_sum"]), Decimal(f["amount_abs_sum"])) != (Decimal(s["amount_sum"]),
                                                                             Decimal(s["amount_abs_sum"])):
                die(f"amount sums differ: {method} {f['amount_sum']} / |{f['amount_abs_sum']}|, "
                    f"read_sql {s['amount_sum']} / |{s['amount_abs_sum']}|")
            out[f"frame_{method}"] = f
    finally:
        for name in names.values():
            with contextlib.suppress(Exception):
                cluster.drop_database(name)
        shutil.rmtree(ctx["work"] / f"export-{run}", ignore_errors=True)
    return out


# ---------------------------------------------------------------- report

def machine_info(psycopg, dsn: str, data_dir: Path) -> dict[str, str]:
    cpu, mem = "unknown", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    git = lambda *a: subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    dirty = git("status", "--porcelain", "--", "cpp", "python", "sql")
    with psycopg.connect(dsn) as c:
        settings = {name: c.execute(f"SHOW {name}").fetchone()[0] for name in (
            "server_version", "fsync", "synchronous_commit", "wal_level", "full_page_writes", "wal_sync_method",
            "shared_buffers", "max_wal_size")}
    fs = subprocess.run(["df", "--output=source,fstype", str(data_dir)], capture_output=True, text=True).stdout.split()
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": str(os.cpu_count()), "cpu": cpu, "memory": mem, "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", "HEAD") + (" (cpp, python or sql modified in the work tree)" if dirty else ""),
        "postgres": settings, "data_fs": " ".join(fs[-2:]) if len(fs) >= 2 else "unknown",
    }


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x >= 1 else f"{x * 1000:.0f} ms"


def render(results: dict) -> str:
    m, wl, raw, med, ratios = (results[k] for k in ("machine", "workload", "raw", "medians", "ratios"))
    pg = m["postgres"]
    L = [
        f"Measured {m['date']} on {m['nproc']} × {m['cpu']}, {m['memory']} RAM, Linux {m['kernel']}; "
        f"PostgreSQL {pg['server_version']} (a private cluster, default amends settings: fsync {pg['fsync']}, "
        f"synchronous_commit {pg['synchronous_commit']}, wal_level {pg['wal_level']}, full_page_writes "
        f"{pg['full_page_writes']}, shared_buffers {pg['shared_buffers']}, max_wal_size {pg['max_wal_size']}; "
        f"data on {m['data_fs']}); Python {m['python']}; amends at {m['commit']}, "
        f"extension built {results['amends']['extension_built']} (a copy of it is used throughout the run); "
        f"Python amends: {results['amends']['choice']}.",
        "",
        f"Workload: `bench/workload.py --entries {wl['entries']} --seed {wl['seed']}`: {wl['entries_posted']:,} entries, "
        f"{wl['postings']:,} postings, {wl['accounts']:,} accounts, CSV {wl['csv_mb']:.0f} MB. Medians of "
        f"{results['runs']} run(s). Load average (1/5/15 min) {'/'.join(map(str, results['loadavg']['start']))} at "
        f"the start, {'/'.join(map(str, results['loadavg']['end']))} at the end. "
        f"Command: `{results['command']}`.",
        "",
        "| measurement | median | runs | target | |",
        "| --- | ---: | --- | --- | --- |",
    ]

    def row(label, key, field, fmt, target="", ok=None):
        if key not in med:
            return
        runs = ", ".join(fmt(r[field]) for r in raw[key])
        mark = "" if ok is None else ("met" if ok else "**missed**")
        L.append(f"| {label} | {fmt(med[key][field])} | {runs} | {target} | {mark} |")

    row("a. amends `Book.load_csv` (durable, all invariants): postings/s", "amends", "postings_per_s", fmt_rate,
        "≥ 100,000", med["amends"]["postings_per_s"] >= TARGET_POSTINGS)
    row("… entries/s", "amends", "entries_per_s", fmt_rate)
    row("… time", "amends", "seconds", fmt_s)
    row("b. keyed-COPY ceiling (same keys, indexes, FKs; no checks, no triggers; one transaction): postings/s",
        "ceiling", "postings_per_s", fmt_rate)
    row("… time", "ceiling", "seconds", fmt_s)
    row(f"c. naive psycopg client, one entry per transaction ({med['naive']['entries']:,.0f} entries): postings/s",
        "naive", "postings_per_s", fmt_rate)
    row("… entries/s", "naive", "entries_per_s", fmt_rate)
    row("d. `amends.open(dsn).to_pandas()`, fresh process", "frame_amends", "seconds", fmt_s)
    row("… `pandas.read_sql` of postings ⋈ entries ⋈ accounts, psycopg, fresh process", "frame_read_sql", "seconds",
        fmt_s)
    row("… `amends.read_postings(dsn, \"bench\")` (COPY in C++, no book loaded), fresh process",
        "frame_read_postings", "seconds", fmt_s)
    L.append(f"| pgledger, published (not measured here): transfers/s | ≈ {PGLEDGER_TRANSFERS_PER_S:,} | | | |")
    L += ["", "| ratio (medians of this run) | value | runs | target | |", "| --- | ---: | --- | --- | --- |"]
    labels = [
        ("amends_vs_ceiling", "amends postings/s / keyed-COPY ceiling postings/s", "{:.2f}", "≥ 0.60",
         lambda v: v >= TARGET_VS_CEILING),
        ("amends_vs_naive", "amends postings/s / naive client postings/s", "{:.1f}x", "≥ 20x",
         lambda v: v >= TARGET_VS_NAIVE),
        ("frame_speedup_read_postings", "DataFrame: read_sql time / `amends.read_postings` time (the amends "
         "DataFrame loader: COPY in C++)", "{:.1f}x", "≥ 5x", lambda v: v >= TARGET_FRAME_SPEEDUP),
        ("frame_speedup", "DataFrame: read_sql time / `amends.open().to_pandas()` time (loads the whole book into "
         "the engine first)", "{:.1f}x", "", None),
        ("amends_entries_vs_pgledger", "amends entries/s / pgledger's published 10,600 transfers/s (different "
         "machine and workload: an anchor only)", "{:.1f}x", "", None),
    ]
    for key, label, fmt, target, check in labels:
        if key not in ratios:
            continue
        runs = ", ".join(fmt.format(r[key]) for r in results["ratios_per_run"] if key in r)
        mark = "" if check is None else ("met" if check(ratios[key]) else "**missed**")
        L.append(f"| {label} | {fmt.format(ratios[key])} | {runs} | {target} | {mark} |")
    c = med["ceiling"]
    L += ["", f"Ceiling time split (medians): accounts {fmt_s(c['accounts_s'])}, entries {fmt_s(c['entries_s'])}, "
              f"postings {fmt_s(c['postings_s'])}, commit {fmt_s(c['commit_s'])}. The naive book first opened "
              f"{med['naive']['accounts_opened']:,.0f} accounts with `Book.create_account` (untimed, "
              f"{med['naive']['accounts_seconds']:.1f} s). Database size after (a): "
              f"{med['amends']['db_size_mb']:,.0f} MB. Raw runs: `{results['json']}`."]
    return "\n".join(L)


def write_readme(block: str) -> None:
    text = README.read_text(encoding="utf-8")
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + START + "\n" + block + "\n" + END + tail
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{START}\n{block}\n{END}\n"
    README.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- main

def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_frame":
        return frame_child(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--naive-entries", type=int, default=5000, help="entries the naive client posts (default 5000)")
    p.add_argument("--data-dir", help="the cluster's data directory (default: a new temporary directory, removed after)")
    p.add_argument("--workload-dir", default=str(BENCH / "data"))
    p.add_argument("--no-readme", action="store_true", help="print the table but leave bench/README.md alone")
    args = p.parse_args()
    command = "python3 bench/bench_pg.py " + " ".join(sys.argv[1:])

    choice = _amends_path.select()
    _amends_path.announce(choice, "bench-pg")
    csv = generate(args.entries, args.seed, Path(args.workload_dir))
    tmp = Path(tempfile.mkdtemp(prefix="amends-bench-pg-"))
    amends_src = snapshot_amends(tmp / "py")
    amends = import_amends()
    import psycopg
    from amends.cluster import Cluster

    data_dir = Path(args.data_dir) if args.data_dir else tmp / "pg"
    cluster = Cluster(data_dir)
    was_running = cluster.initialized() and cluster.status().running
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tmp / "py")  # the children use the same copy of amends
    extension = next((tmp / "py" / "amends").glob("_core*.so"), None)
    extension_built = (dt.datetime.fromtimestamp(extension.stat().st_mtime)  # copy2 kept the build's mtime
                       .astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if extension else "unknown")
    load_start = os.getloadavg()
    raw: dict[str, list[dict]] = {}
    try:
        log(f"starting the cluster in {data_dir}")
        dsn = cluster.ensure_running()
        machine = machine_info(psycopg, dsn, data_dir)
        pg = machine["postgres"]
        if pg["fsync"] != "on" or pg["synchronous_commit"] != "on":
            die(f"the cluster is not durable: fsync {pg['fsync']}, synchronous_commit {pg['synchronous_commit']}")
        log(f"PostgreSQL {pg['server_version']}")
        ctx = {"amends": amends, "psycopg": psycopg, "cluster": cluster, "csv": csv, "work": tmp, "env": env}
        for run in range(1, args.runs + 1):
            for key, value in one_run(run, args, ctx).items():
                raw.setdefault(key, []).append(value)
    finally:
        if not was_running:
            with contextlib.suppress(Exception):
                log("stopping the cluster")
                cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    medians = {}
    for key, runs in raw.items():
        fields = {k for r in runs for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        medians[key] = {k: median([r[k] for r in runs]) for k in fields}

    def ratios_of(m: dict) -> dict:
        extra = {}
        if "frame_read_postings" in m:
            extra["frame_speedup_read_postings"] = m["frame_read_sql"]["seconds"] / m["frame_read_postings"]["seconds"]
        return extra | {
            "amends_vs_ceiling": m["amends"]["postings_per_s"] / m["ceiling"]["postings_per_s"],
            "amends_vs_naive": m["amends"]["postings_per_s"] / m["naive"]["postings_per_s"],
            "frame_speedup": m["frame_read_sql"]["seconds"] / m["frame_amends"]["seconds"],
            "amends_entries_vs_pgledger": m["amends"]["entries_per_s"] / PGLEDGER_TRANSFERS_PER_S,
        }

    first = raw["amends"][0]
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_json = Path(args.workload_dir) / f"pg-results-{stamp}.json"
    results = {
        "command": command,
        "machine": machine,
        "amends": {"package": str(amends_src), "choice": choice.description, "extension_built": extension_built},
        "workload": {"entries": args.entries, "seed": args.seed, "csv": os.path.relpath(csv, REPO),
                     "csv_mb": csv.stat().st_size / 1e6, "entries_posted": first["entries"],
                     "postings": first["postings"], "accounts": first["accounts"]},
        "naive_entries": args.naive_entries,
        "runs": args.runs,
        "loadavg": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
        "raw": raw,
        "medians": medians,
        "ratios": ratios_of(medians),
        "ratios_per_run": [ratios_of({k: raw[k][i] for k in raw}) for i in range(args.runs)],
        "targets": {"amends_vs_ceiling": TARGET_VS_CEILING, "amends_postings_per_s": TARGET_POSTINGS,
                    "amends_vs_naive": TARGET_VS_NAIVE, "frame_speedup": TARGET_FRAME_SPEEDUP},
        "json": os.path.relpath(out_json, REPO),
    }
    out_json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    block = render(results)
    print(block)
    if not args.no_readme:
        write_readme(block)
        log(f"wrote the results into {README.relative_to(REPO)} (raw runs: {out_json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
