"""`amends reconcile`: the ledger against a billing system's export, for a person or for cron and Airflow.

    amends reconcile --source stripe --input credit_notes.json refunds.json --period 2026-10
                     [--book B] [--dsn DSN] [--mapping FILE] [--skip-bad-rows]
                     [--tolerance MINOR_UNITS] [--days N] [--threads N] [--allow-empty]
                     [--out-dir DIR] [--json] [--actor NAME]

Reads the export with amends.importers, reconciles the book's applied
concessions of the period against it (amends.reconcile.run: the run is
recorded in the book with its inputs' checksum; the same inputs again give
the same run and record nothing new) and writes, into --out-dir (default:
the current directory), files named after the book, the period and the run:

    reconcile-main-2026-10-run4.csv              the exceptions, most urgent first
    reconcile-main-2026-10-run4-corrections.csv  the proposed corrections (for a person; nothing is posted)
    reconcile-main-2026-10-run4.json             summary, exceptions and corrections
    reconcile-main-2026-10-run4.html             a self-contained report (amends.reports)

stdout: a summary (counts per outcome on each side, the exceptions, the run
id, the inputs checksum, the files), or with --json one JSON document.

stderr: on a terminal, short progress lines for a person; otherwise (cron,
Airflow, CI) one JSON object per line -- {"ts", "level", "event", ...fields}
-- and nothing else, an error included: its event is "error", with the
error's class, its message ("amends: Class: message", as the other commands
print it) and, for an export with bad rows, each row as "file:line: reason".

Exit status: 0 when everything reconciles within tolerance, 1 when there
are exceptions (or billing rows were skipped with --skip-bad-rows: a skipped
row may be an unauthorised credit). A billing id that comes more than once
is an exception either way: with different content (amount, currency,
customer, day, status or reference) every row of it is a
conflicting_duplicate and none is matched; the same in every field, the
first counts and the repeat is an identical_duplicate (billing may have
issued it twice). 2 on an error -- an unreadable export (nothing is
recorded), an export with no credits in the period (a zero-byte or
header-only file: nothing is recorded; --allow-empty says the period
really had none, and the run goes ahead), an unknown source, a bad period,
a book or database that can't be reached, a report file that can't be
written.

The DSN is never logged (it may carry a password).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

import amends
from amends import reports
from amends.billing import BadRow, BillingBatch, BillingImportError
from amends.cluster import ClusterError
from amends.reconcile import EXCEPTIONS, OUTCOMES, ReconcileResult

# The top-level commands this module runs.
COMMANDS = ("reconcile",)

EXIT_OK = 0
EXIT_EXCEPTIONS = 1
EXIT_ERROR = 2

# The sources amends.importers reads (amends.importers.SOURCES; here for the help, without importing it).
KNOWN_SOURCES = ("stripe", "zuora", "netsuite", "lago", "csv")
# How many bad rows an error or a warning lists.
_ROWS_SHOWN = 20


# ------------------------------------------------------------------ progress and logs


class Log:
    """Progress for a person on a terminal; one JSON object per line otherwise."""

    def __init__(self, stream: TextIO, structured: bool | None = None) -> None:
        self.stream = stream
        if structured is None:
            isatty = getattr(stream, "isatty", None)
            structured = not (callable(isatty) and isatty())
        self.structured = structured
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        self.ellipsis = "…" if encoding.startswith("utf") else "..."
        self.line_open = False

    def _write(self, text: str, end: str = "\n") -> None:
        try:
            self.stream.write(text + end)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not turn a result into a crash
            pass

    def event(self, event: str, text: str | None, level: str = "info", *, open_line: bool = False,
              **fields: Any) -> None:
        """Logs `event` with `fields`; on a terminal prints `text` instead (nothing when it is None).

        open_line: the text is the start of a line ("reading 3 files..."), which the next text ends.
        """
        if self.structured:
            record = {"ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                      "level": level, "event": event, **fields}
            self._write(json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")))
        elif text is not None:
            text = text.replace("...", self.ellipsis)
            if self.line_open:
                text = " " + text
            self._write(text, "" if open_line else "\n")
            self.line_open = open_line

    def error(self, error: BaseException) -> None:
        name = type(error).__name__
        message = f"amends: {name}: {error}"
        if self.structured:
            fields: dict[str, Any] = {"error": name, "message": message}
            if isinstance(error, BillingImportError):
                fields["rows"] = [str(r) for r in error.rows]
            self.event("error", None, level="error", **fields)
        else:
            if self.line_open:
                self._write("")
                self.line_open = False
            self._write(message)


# ------------------------------------------------------------------ the run


def _sources() -> tuple[str, ...]:
    from amends import importers

    return tuple(importers.SOURCES)


def _check(args: argparse.Namespace) -> amends.Period:
    """The arguments argparse can't check; amends.InvalidArgument (or ParseError) when one is wrong."""
    period = amends.Period(args.period)
    sources = _sources()
    if args.source not in sources:
        raise amends.InvalidArgument(f"unknown billing source {args.source!r}; the sources are {', '.join(sources)}")
    if args.tolerance < 0:
        raise amends.InvalidArgument(f"--tolerance is a number of minor units, 0 or more, not {args.tolerance}")
    if args.days < 0:
        raise amends.InvalidArgument(f"--days is 0 or more, not {args.days}")
    if args.threads < 0:
        raise amends.InvalidArgument(f"--threads is 0 (the machine's cores, at most 8) or more, not {args.threads}")
    if not args.actor.strip():
        raise amends.InvalidArgument("--actor can't be empty")
    _check_out_dir(Path(args.out_dir))
    return period


def _check_out_dir(path: Path) -> None:
    """AmendsIOError unless the reports can be written under `path` (made once there is a run): before any work."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise amends.AmendsIOError(f"can't write the reports to {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise amends.AmendsIOError(f"can't write the reports to {path}: {existing} is not writable")


def _read(args: argparse.Namespace) -> BillingBatch:
    from amends import importers

    batch: BillingBatch = importers.read(args.source, list(args.input), mapping=args.mapping,
                                         skip_bad_rows=args.skip_bad_rows)
    return batch


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "book"


def _files(out_dir: Path, book: str, period: str, run_id: int | None) -> dict[str, Path]:
    stem = f"reconcile-{_safe_name(book)}-{_safe_name(period)}-run{run_id if run_id is not None else 0}"
    return {"exceptions_csv": out_dir / f"{stem}.csv", "corrections_csv": out_dir / f"{stem}-corrections.csv",
            "json": out_dir / f"{stem}.json", "html": out_dir / f"{stem}.html"}


def _document(result: ReconcileResult, meta: Mapping[str, Any], new_run: bool, skipped: Sequence[BadRow],
              files: Mapping[str, Path], code: int) -> dict[str, Any]:
    summary = result.summary()
    return {**meta, "run_id": result.run_id, "new_run": new_run, "ok": result.ok, "exit_code": code,
            "exceptions": int(summary["exceptions"]), "corrections": len(result.corrections),
            "skipped": len(skipped), "ledger_items": len(result.ledger), "billing_items": len(result.billing),
            "outcomes": reports.outcome_counts(result), "inputs_sha256": result.inputs_sha256,
            "parameters": result.parameters,
            "files": {k: str(v) for k, v in files.items()}}


def _print_summary(document: Mapping[str, Any], skipped: Sequence[BadRow]) -> None:
    first, last = document["parameters"]["period"]
    count = document["exceptions"]
    if count:
        state = f"{count:,} exception{'s' * (count != 1)}"
    elif skipped:
        state = f"no exceptions, but {len(skipped):,} billing row{'s' * (len(skipped) != 1)} could not be read"
    else:
        state = "everything reconciles within tolerance"
    print(f"book {document['book']}, period {document['period']} ({first} to {last}), source {document['source']}: "
          f"{state}")
    rerun = "" if document["new_run"] else " (already recorded: the same inputs as before, nothing new recorded)"
    print(f"run {document['run_id']}{rerun}")
    print(f"inputs sha256 {document['inputs_sha256']}")
    print()
    outcomes = document["outcomes"]
    width = max(len(o) for o in (*OUTCOMES, "outcome"))
    print(f"{'outcome':<{width}}  {'ledger':>9}  {'billing':>9}")
    for outcome in OUTCOMES:
        mark = "  *" if outcome in EXCEPTIONS and (outcomes["ledger"][outcome] or outcomes["billing"][outcome]) else ""
        print(f"{outcome:<{width}}  {outcomes['ledger'][outcome]:>9,}  {outcomes['billing'][outcome]:>9,}{mark}")
    print(f"{'total':<{width}}  {document['ledger_items']:>9,}  {document['billing_items']:>9,}")
    print()
    print(f"exceptions   {count:,}")
    print(f"corrections  {document['corrections']:,} proposed (for a person to decide; nothing is posted)")
    if skipped:
        print(f"skipped      {len(skipped):,} billing row{'s' * (len(skipped) != 1)} that can't be read:")
        for row in skipped[:_ROWS_SHOWN]:
            print(f"  {row}")
        if len(skipped) > _ROWS_SHOWN:
            print(f"  ... and {len(skipped) - _ROWS_SHOWN:,} more (in the JSON and HTML files)")
    print("files")
    for path in document["files"].values():
        print(f"  {path}")


def _reconcile(args: argparse.Namespace, log: Log) -> int:
    period = _check(args)
    started = time.perf_counter()
    n = len(args.input)
    log.event("start", None, source=args.source, period=str(period), book=args.book, files=n,
              tolerance_minor=args.tolerance, days=args.days, skip_bad_rows=args.skip_bad_rows)

    # The export first: a bad one is refused before the database is touched.
    log.event("reading", f"reading {n:,} file{'s' * (n != 1)}...", open_line=True,
              files=[str(p) for p in args.input])
    batch = _read(args)
    skipped = list(batch.skipped)
    log.event("imported", f"{len(batch):,} billing items" + (f", {len(skipped):,} bad rows skipped" if skipped else ""),
              items=len(batch), skipped=len(skipped))
    if skipped:
        log.event("skipped", "\n".join(f"  skipped {r}" for r in skipped[:_ROWS_SHOWN]), level="warning",
                  rows=[str(r) for r in skipped[:_ROWS_SHOWN]], not_listed=max(0, len(skipped) - _ROWS_SHOWN))

    log.event("opening", f"opening book {args.book}...", open_line=True, book=args.book)
    with amends.open(args.dsn, args.book, create=False) as book:
        desk = amends.Desk(book)
        before = {int(r["id"]) for r in desk.reconciliation_runs()}
        log.event("matching", f"matching {period}...", open_line=True, period=str(period))
        result: ReconcileResult = desk.reconcile(batch, str(period), source=args.source,
                                                 amount_tolerance_minor=args.tolerance, days=args.days,
                                                 actor=args.actor, threads=args.threads,
                                                 allow_empty=args.allow_empty)
        new_run = result.run_id not in before
        recorded = next((r for r in desk.reconciliation_runs() if r["id"] == result.run_id), None)
    summary = result.summary()
    exceptions = int(summary["exceptions"])
    text = (f"recorded run {result.run_id}" if new_run
            else f"the same inputs as run {result.run_id}: nothing new recorded")
    log.event("run", f"{text}; {exceptions:,} exception{'s' * (exceptions != 1)}", run_id=result.run_id,
              new_run=new_run, exceptions=exceptions, ok=result.ok, ledger_items=len(result.ledger),
              billing_items=len(result.billing), inputs_sha256=result.inputs_sha256,
              matching_seconds=round(result.seconds, 3))

    code = EXIT_OK if result.ok and not skipped else EXIT_EXCEPTIONS
    first, last = result.parameters["period"]
    meta: dict[str, Any] = {"book": args.book, "period": str(period), "source": args.source}
    if recorded is not None:
        meta["recorded_at"] = recorded["at"].isoformat() if hasattr(recorded["at"], "isoformat") else recorded["at"]
        meta["recorded_by"] = recorded["actor"]
    files = _files(Path(args.out_dir), args.book, str(period), result.run_id)
    log.event("writing", f"writing the reports to {args.out_dir}...", open_line=True, out_dir=str(args.out_dir))
    reports.write_csv(reports.exception_table(result), files["exceptions_csv"])
    reports.write_csv(reports.correction_table(result), files["corrections_csv"])
    reports.write_json(result, files["json"], meta=meta, skipped=skipped)
    title = f"Reconciliation of book {args.book}, {period} ({first} to {last}), {args.source}: run {result.run_id}"
    reports.write_html(result, files["html"], title, meta=meta, skipped=skipped)
    log.event("wrote", f"{len(files)} files", files={k: str(v) for k, v in files.items()})

    document = _document(result, meta, new_run, skipped, files, code)
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    else:
        _print_summary(document, skipped)
    sys.stdout.flush()
    log.event("done", None, exit_code=code, run_id=result.run_id, exceptions=exceptions,
              seconds=round(time.perf_counter() - started, 3))
    return code


def run(args: argparse.Namespace) -> int:
    """Runs `amends reconcile`; every error is logged (see the module docstring) and returns EXIT_ERROR."""
    log = Log(sys.stderr)
    try:
        return _reconcile(args, log)
    except (amends.AmendsError, ClusterError, OSError, ImportError) as error:
        log.error(error)
        return EXIT_ERROR


# ------------------------------------------------------------------ the parser


def add_parsers(commands: Any) -> None:
    """Adds `reconcile` to the subparsers of `amends`."""
    text = "reconcile the book's applied concessions of a period against a billing system's export"
    parser = commands.add_parser("reconcile", help=text, description=text + " (exit 0: all reconciled, 1: exceptions, "
                                                                            "2: an error)")
    parser.add_argument("--source", required=True, metavar="SOURCE",
                        help=f"the billing system: {', '.join(KNOWN_SOURCES)} (csv: any CSV, with --mapping)")
    parser.add_argument("--input", required=True, nargs="+", action="extend", metavar="PATH",
                        help="the export files (JSON or CSV), one or more")
    parser.add_argument("--period", required=True, metavar="YYYY-MM", help="the period to reconcile")
    parser.add_argument("--book", default="main", help="the book (default: main)")
    parser.add_argument("--dsn", default=None, help="PostgreSQL DSN (default: $AMENDS_DSN, else the embedded default)")
    parser.add_argument("--mapping", default=None, metavar="FILE", help="the mapping file (TOML) of a generic CSV")
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="import the rows that can be read and list the others (exit 1 if any was skipped)")
    parser.add_argument("--tolerance", type=int, default=0, metavar="MINOR_UNITS",
                        help="the amount difference that still matches, in minor units (default: 0)")
    parser.add_argument("--days", type=int, default=3, metavar="N",
                        help="how many days apart a ledger item and a billing item may be dated (default: 3)")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="threads for the matching, e.g. 1 on a busy server (default: 0, the machine's cores, "
                             "at most 8); the result is the same on any number")
    parser.add_argument("--allow-empty", action="store_true",
                        help="the period really had no credits: reconcile against an export without any (otherwise "
                             "exit 2, as for an export that came out empty)")
    parser.add_argument("--out-dir", default=".", metavar="DIR",
                        help="where the CSV, JSON and HTML reports go (default: the current directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout instead of the summary")
    parser.add_argument("--actor", default="amends", metavar="NAME",
                        help="who runs it, recorded with the run (default: amends)")
