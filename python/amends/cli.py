"""The amends command line.

    amends tour                 the main job: the four concession processes in the embedded default PostgreSQL
                                (--dsn DSN for another server, which the tour migrates if it lacks the schema:
                                give the owner's login; --memory for an in-memory book)
    amends load FILE.csv        post a postings CSV into a book in PostgreSQL, durably and exactly once
    amends balance FILE.csv     load postings from CSV and print the balance report
    amends journal FILE.csv     load postings from CSV and write them as a ledger/hledger journal
    amends db start             create the embedded default PostgreSQL cluster if needed, start it (migrated), print its DSN
    amends db stop              stop it
    amends db status            running or stopped, pid, data directory, DSN (exit 0 running, 3 stopped)
    amends db migrate --dsn DSN apply the schema migrations a server's database lacks, as the database owner
                                (without --dsn: $AMENDS_DSN, else the embedded default)
    amends version

The concession desk (amends.cli_desk; each takes --dsn, --book and, where it prints, --json):

    amends policy publish FILE          publish an approval policy; prints its version
    amends request submit|show|list|approve|decline|return|apply|cancel|resubmit
    amends approvals pending [--approver X]
    amends budgets [allocate ...]       list the budgets, or add to one
    amends rates set ...                amends charges record ...
    amends period close YYYY-MM [--as X] [--accrue]
    amends audit verify                 exit 0 if the hash chain is intact, 1 if it is broken
    amends outbox
    amends people [add NAME ... | bind LOGIN PERSON]   who may act in the book (amends_admin)
    amends whoami                       the person your login acts as

In a real book every action is the logged-in person's: --as and --requester
default to them, and naming anyone else is refused. A book created as a
simulation (amends.open(..., simulation=True), the tour) takes the names given.

Reconciliation (amends.cli_reconcile):

    amends reconcile --source S --input PATH... --period YYYY-MM   the ledger against a billing export, with reports

`amends db` takes --data-dir DIR; the default is $AMENDS_DATA_DIR, else
$XDG_DATA_HOME/amends/pg, else ~/.local/share/amends/pg. Opening a book never
migrates: a server's database is migrated once per release by its owner
(`amends db migrate`), and everyday logins need only the role amends_app.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import amends
from amends import cli_desk, cli_reconcile
from amends.cluster import Cluster, ClusterError

# What `amends db status` returns for a stopped server, as `pg_ctl status` does.
EXIT_STOPPED = 3


def _load(path: str, base_currency: str) -> amends.Ledger:
    book = amends.Ledger(base_currency=base_currency)
    book.load_csv(path, open_missing_accounts=True)
    return book


def _migrate(dsn: str | None, data_dir: str | None) -> int:
    """Migrates --dsn; else --data-dir's cluster; else $AMENDS_DSN; else the embedded default (which start migrates)."""
    target = dsn or (None if data_dir is not None else os.environ.get("AMENDS_DSN")) or Cluster(data_dir).ensure_running()
    applied = amends.migrate(target)
    if applied:
        print("applied migrations " + ", ".join(f"{version:03d}" for version in applied))
    else:
        print("nothing to apply")
    print(f"the amends schema is at version {amends.SCHEMA_VERSION}")
    return 0


def _database(action: str, cluster: Cluster) -> int:
    if action == "start":
        print(cluster.ensure_running())
        return 0
    if action == "stop":
        print("stopped" if cluster.stop() else "not running")
        return 0
    status = cluster.status()
    print("running" if status.running else "stopped")
    print(f"pid: {status.pid if status.pid is not None else '-'}")
    print(f"data dir: {status.data_dir}")
    print(f"socket dir: {status.socket_dir}")
    print(f"dsn: {status.dsn}")
    if status.server_version:
        print(f"server version: {status.server_version}")
    return 0 if status.running else EXIT_STOPPED


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amends", description="A ledger for the money a company gives back to its customers.")
    commands = parser.add_subparsers(dest="command", required=True)

    tour = commands.add_parser("tour", help="run the four concession processes on the sample policy and print what happened")
    tour.add_argument("--customers", type=int, default=6)
    tour.add_argument("--seed", type=int, default=2026)
    tour.add_argument("--memory", action="store_true", help="use an in-memory book instead of PostgreSQL")
    tour.add_argument("--dsn", default=None, help="PostgreSQL DSN (default: $AMENDS_DSN, else the embedded default)")

    load = commands.add_parser("load", help="post a postings CSV into a book in PostgreSQL (entry_id = idempotency key)")
    load.add_argument("csv")
    load.add_argument("--book", default="main")
    load.add_argument("--dsn", default=None, help="PostgreSQL DSN (default: $AMENDS_DSN, else the embedded default)")
    load.add_argument("--key-prefix", default="", help="prefix for the idempotency keys made from entry_id")

    balance = commands.add_parser("balance", help="load a postings CSV and print balances (like `ledger balance`)")
    balance.add_argument("csv")
    balance.add_argument("--as-of", default=None, help="YYYY-MM-DD or YYYY-MM (period end)")
    balance.add_argument("--base-currency", default="USD")
    balance.add_argument("--monthly", action="store_true", help="debits, credits and net per account and month")

    journal = commands.add_parser("journal", help="load a postings CSV and write it in ledger/hledger journal syntax")
    journal.add_argument("csv")
    journal.add_argument("-o", "--output", default=None, help="file to write (default: stdout)")
    journal.add_argument("--base-currency", default="USD")

    database = commands.add_parser(
        "db", help="start, stop or inspect the embedded default PostgreSQL cluster, or migrate a database"
    )
    database.add_argument("action", choices=["start", "stop", "status", "migrate"])
    default_dir = "$AMENDS_DATA_DIR, else ~/.local/share/amends/pg"
    database.add_argument("--data-dir", metavar="DIR", help=f"the cluster's data directory (default: {default_dir})")
    database.add_argument(
        "--dsn", default=None,
        help="migrate only: the database to migrate, connecting as its owner (default: $AMENDS_DSN, else the embedded default)",
    )

    commands.add_parser("version", help="print the version")

    cli_desk.add_parsers(commands)
    cli_reconcile.add_parsers(commands)

    args = parser.parse_args(argv)
    try:
        if args.command == "tour":
            from amends import tour as tour_module

            return tour_module.run(sys.stdout, args.customers, args.seed, memory=args.memory, dsn=args.dsn)
        if args.command == "load":
            target = amends.open(args.dsn, args.book)
            result = target.load_csv(args.csv, open_missing_accounts=True, key_prefix=args.key_prefix)
            print(f"book {args.book}: {result.entries_posted} entries posted, {result.entries_existing} already there, "
                  f"{result.accounts_opened} accounts opened; {target.entry_count} entries in all")
            return 0
        if args.command == "balance":
            book = _load(args.csv, args.base_currency)
            frame = book.activity() if args.monthly else book.balance_report(args.as_of).drop(columns=["depth"])
            width = max([len("account")] + [len(name) for name in frame["account"]])
            print(frame.to_string(index=False, formatters={"account": lambda name: f"{name:<{width}}"}))
            return 0
        if args.command == "journal":
            book = _load(args.csv, args.base_currency)
            if args.output:
                book.to_journal(args.output)
            else:
                sys.stdout.write(book.to_journal() or "")
            return 0
        if args.command == "db":
            if args.dsn is not None and not args.dsn.strip():
                parser.error("--dsn is empty: give the connection string of the database to migrate")
            if args.dsn is not None and args.action != "migrate":
                parser.error(f"--dsn is for `amends db migrate`; `amends db {args.action}` manages the embedded default")
            if args.dsn is not None and args.data_dir is not None:
                parser.error("give --dsn (a server's database) or --data-dir (the embedded default), not both")
            if args.action == "migrate":
                return _migrate(args.dsn, args.data_dir)
            return _database(args.action, Cluster(args.data_dir))
        if args.command == "version":
            print(amends.__version__)
            return 0
        if args.command in cli_desk.COMMANDS:
            return cli_desk.run(args)
        if args.command in cli_reconcile.COMMANDS:
            return cli_reconcile.run(args)
    except (amends.AmendsError, ClusterError) as error:
        print(f"amends: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
