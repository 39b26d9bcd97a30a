"""Durability: what a book in PostgreSQL holds after a client or its server is killed, and under contention.

No mocks: the clients are separate Python processes (tests/python/workers/
durability_worker.py) writing through amends.open, the server is a real
PostgreSQL, and crashes are SIGKILLs, timed by watching the server
(pg_stat_activity, pg_stat_progress_copy) until the write is in the phase the
test wants to interrupt. Afterwards the book is checked twice: with SQL on the
rows themselves, and through a fresh amends.open.

  * a client killed mid-batch leaves nothing of the batch, and resubmitting the
    batch with the same idempotency keys posts each entry exactly once;
  * a server killed mid-batch (and started again) likewise, and the client
    hears of it as an amends.StoreError; a client posting single entries in a
    loop finds every acknowledged entry after the restart;
  * eight processes racing on one book lose no update and never take a
    balance-limited account below its limit, at any point in commit order.

The server-kill tests run their own cluster (in a temporary directory), so the
session's server (conftest.pg_cluster) keeps running for the other tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import pytest

import amends
from amends.cluster import Cluster, ClusterError

psycopg = pytest.importorskip("psycopg", reason="the durability tests need psycopg 3 (pip install 'psycopg[binary]>=3.1')")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# The workers import the amends this test imported: the source tree in
# development, the installed package in CI.
PYTHON_DIR = Path(amends.__file__).resolve().parent.parent
WORKER_PATH = HERE / "workers" / "durability_worker.py"

_spec = importlib.util.spec_from_file_location("durability_worker", WORKER_PATH)
assert _spec is not None and _spec.loader is not None
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)

# 200,000 entries take 10-25 s per full write on a busy 2-core machine; 100,000 keep the module near a minute.
BATCH_SIZE = 100_000
BOOK = "durable"
CONCURRENT_WORKERS = 8
CONCURRENT_SECONDS = 8.0
FUNDING = Decimal("1000.00")
# An in-doubt commit that amends could not resolve says so; any other StoreError means nothing was written.
IN_DOUBT = "may or may not have committed"


# ------------------------------------------------------------------ processes


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts durability_worker.py in a child process; any child still running at teardown is killed."""
    started: list[subprocess.Popen[str]] = []
    environment = {key: value for key, value in os.environ.items() if key != "AMENDS_DSN"}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), os.environ.get("PYTHONPATH")]))

    def start(*arguments: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(WORKER_PATH), *arguments],
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def with_application_name(dsn: str, name: str) -> str:
    """The DSN, tagged so that the client's session can be found in pg_stat_activity."""
    return f"{dsn} application_name={name}"


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_records(path: Path) -> list[dict[str, Any]]:
    """A worker's JSON-lines log (complete lines only: the worker may be writing the next one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def wait_for(condition: Callable[[], Any], timeout: float, what: str, process: subprocess.Popen[str] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the client exited (status {process.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.005)


# What the server shows while a post_batch of n entries is in a phase:
#   streaming: the client is still sending the entries (COPY amends.entries, rows arriving);
#   postings: the postings COPY runs (rows arriving, or the statement's checks running);
#   checking: every posting has arrived and the server runs the statement's checks.
PHASES: dict[str, tuple[str, Callable[[int], str]]] = {
    "streaming": ("COPY amends.entries%", lambda n: "c.tuples_processed > 0"),
    "postings": ("COPY amends.postings%", lambda n: "true"),
    "checking": ("COPY amends.postings%", lambda n: f"c.tuples_processed >= {2 * n}"),
}


def wait_for_copy(dsn: str, application: str, phase: str, n: int, process: subprocess.Popen[str]) -> int:
    """Waits until the client's session is in the phase of its batch; returns the server process id of the session."""
    pattern, progress = PHASES[phase]
    query = (
        "SELECT a.pid FROM pg_stat_activity a JOIN pg_stat_progress_copy c ON c.pid = a.pid "
        f"WHERE a.application_name = %s AND a.state = 'active' AND a.query LIKE %s AND {progress(n)}"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        def seen() -> int | None:
            row = conn.execute(query, (application, pattern)).fetchone()
            return int(row[0]) if row else None

        return int(wait_for(seen, 180, f"the batch's {phase} phase", process))


def wait_until_gone(dsn: str, backend_pid: int, timeout: float = 120) -> None:
    """Waits until a server process has ended (its transaction rolled back, its locks released)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        wait_for(
            lambda: conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend_pid,)).fetchone()[0] == 0,
            timeout, f"server process {backend_pid} to end",
        )


# ------------------------------------------------------------------ what the database holds


def check_book(dsn: str, book_name: str = BOOK) -> dict[str, Any]:
    """Checks a book's rows with SQL and through a fresh amends.open; returns its entries and account totals.

    Every entry has all of its postings and they balance per currency; entry
    ids are dense; the running totals on amends.accounts equal the postings;
    every currency nets to zero; and a freshly opened Book agrees on the
    entry count, each balance and a balanced trial balance.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        book_id, last_entry, open_entries = conn.execute(
            "SELECT book_id, last_entry_id, open_entries FROM amends.books WHERE name = %s", (book_name,)
        ).fetchone()
        count, lowest, highest = conn.execute(
            "SELECT count(*), min(entry_id), max(entry_id) FROM amends.entries WHERE book_id = %s", (book_id,)
        ).fetchone()
        assert open_entries == 0
        assert count == last_entry, "books.last_entry_id disagrees with the entries"
        assert count == 0 or (lowest, highest) == (1, count), f"entry ids are not dense: {count} from {lowest} to {highest}"
        incomplete = conn.execute(
            """SELECT e.entry_id, e.posting_count, p.n, p.first_line, p.last_line
                 FROM amends.entries e
                 LEFT JOIN (SELECT entry_id, count(*) AS n, min(line) AS first_line, max(line) AS last_line
                              FROM amends.postings WHERE book_id = %(b)s GROUP BY entry_id) p ON p.entry_id = e.entry_id
                WHERE e.book_id = %(b)s
                  AND (p.n IS NULL OR p.n <> e.posting_count OR p.first_line <> 1 OR p.last_line <> e.posting_count)
                LIMIT 5""",
            {"b": book_id},
        ).fetchall()
        assert incomplete == [], f"entries without all of their postings: {incomplete}"
        orphans = conn.execute(
            "SELECT count(*) FROM amends.postings p WHERE p.book_id = %(b)s AND NOT EXISTS "
            "(SELECT 1 FROM amends.entries e WHERE e.book_id = p.book_id AND e.entry_id = p.entry_id)",
            {"b": book_id},
        ).fetchone()[0]
        assert orphans == 0
        unbalanced = conn.execute(
            """SELECT p.entry_id, a.currency, sum(p.amount)
                 FROM amends.postings p JOIN amends.accounts a ON a.book_id = p.book_id AND a.account_id = p.account_id
                WHERE p.book_id = %s GROUP BY p.entry_id, a.currency HAVING sum(p.amount) <> 0 LIMIT 5""",
            (book_id,),
        ).fetchall()
        assert unbalanced == [], f"entries that do not balance: {unbalanced}"
        accounts = conn.execute(
            """SELECT a.name, a.currency, a.posted, coalesce(s.total, 0)
                 FROM amends.accounts a
                 LEFT JOIN (SELECT account_id, sum(amount) AS total FROM amends.postings
                             WHERE book_id = %(b)s GROUP BY account_id) s ON s.account_id = a.account_id
                WHERE a.book_id = %(b)s ORDER BY a.account_id""",
            {"b": book_id},
        ).fetchall()
        for name, _, posted, total in accounts:
            assert posted == total, f"{name}: amends.accounts.posted is {posted} but its postings sum to {total}"
        per_currency: dict[str, Decimal] = defaultdict(Decimal)
        for _, currency, posted, _ in accounts:
            per_currency[currency] += posted
        assert all(total == 0 for total in per_currency.values()), f"the currencies do not net to zero: {dict(per_currency)}"

    fresh = amends.open(dsn, book_name, create=False)
    try:
        assert fresh.entry_count == count
        trial = fresh.trial_balance()
        assert trial.balanced, str(trial)
        for name, _, posted, _ in accounts:
            assert fresh.balance(name) == posted, name
    finally:
        fresh.close()
    return {"book_id": book_id, "entries": count, "posted": {name: posted for name, _, posted, _ in accounts}}


def keys_in(dsn: str, book_id: int) -> Counter[str | None]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT idempotency_key FROM amends.entries WHERE book_id = %s", (book_id,)).fetchall()
    return Counter(key for (key,) in rows)


def open_batch_book(dsn: str) -> None:
    book = amends.open(dsn, BOOK, simulation=True)
    for name, type_ in worker.BATCH_ACCOUNTS:
        book.create_account(name, type_, "USD")
    book.close()


def batch_totals(frame: pd.DataFrame) -> dict[str, Decimal]:
    """What each account holds once the whole batch is posted."""
    cents = frame.groupby("account")["amount_minor"].sum()
    totals = {name: Decimal(0) for name, _ in worker.BATCH_ACCOUNTS}
    totals.update({name: Decimal(int(value)) / 100 for name, value in cents.items()})
    return totals


def assert_whole_batch_once(dsn: str, frame: pd.DataFrame, n: int) -> None:
    """The book holds each of the batch's n entries exactly once, with the batch's amounts."""
    state = check_book(dsn)
    assert state["entries"] == n
    keys = keys_in(dsn, state["book_id"])
    assert max(keys.values()) == 1
    assert set(keys) == {f"k{i}" for i in range(n)}
    assert state["posted"] == batch_totals(frame)


def resubmit_fresh(dsn: str, frame: pd.DataFrame) -> amends.BatchResult:
    book = amends.open(dsn, BOOK, create=False)
    try:
        return book.post_batch(frame)
    finally:
        book.close()


# ------------------------------------------------------------------ 1. the client killed mid-batch


def test_a_client_killed_mid_batch_leaves_nothing_and_the_resubmitted_batch_posts_once(pg_migrated_dsn, spawn):
    open_batch_book(pg_migrated_dsn)
    application = f"durability-{uuid.uuid4().hex[:12]}"
    client = spawn("batch", with_application_name(pg_migrated_dsn, application), BOOK, str(BATCH_SIZE))

    # Killed once every entry row is in (uncommitted) and its postings are arriving or being checked.
    backend = wait_for_copy(pg_migrated_dsn, application, "postings", BATCH_SIZE, client)
    os.kill(client.pid, signal.SIGKILL)
    client.communicate(timeout=60)
    assert client.returncode == -signal.SIGKILL
    wait_until_gone(pg_migrated_dsn, backend)

    before = check_book(pg_migrated_dsn)["entries"]
    assert before in (0, BATCH_SIZE), f"{before} of the batch's {BATCH_SIZE} entries were committed"

    frame = worker.build_batch(BATCH_SIZE)
    again = resubmit_fresh(pg_migrated_dsn, frame)
    assert (again.created, again.existing) == (BATCH_SIZE - before, before)
    assert sorted(again.ids.tolist()) == list(range(1, BATCH_SIZE + 1))
    assert_whole_batch_once(pg_migrated_dsn, frame, BATCH_SIZE)

    third = resubmit_fresh(pg_migrated_dsn, frame)
    assert (third.created, third.existing) == (0, BATCH_SIZE)
    assert check_book(pg_migrated_dsn)["entries"] == BATCH_SIZE


# ------------------------------------------------------------------ 2. the server killed


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A PostgreSQL server of this module's own, which its tests kill; conftest's session server is left alone."""
    cluster = Cluster(tmp_path_factory.mktemp("durability-pg") / "data")
    cluster.ensure_running()
    try:
        yield cluster
    finally:
        try:
            cluster.stop("fast")
        except ClusterError:
            cluster.stop("immediate")


@pytest.fixture
def own_dsn(own_cluster: Cluster) -> Iterator[str]:
    name = f"durability_{uuid.uuid4().hex[:12]}"
    own_cluster.start(timeout=120)  # a no-op unless a failed test left its server down
    dsn = own_cluster.create_database(name)
    amends.migrate(dsn)
    yield dsn
    if own_cluster.status().running:
        own_cluster.drop_database(name)


def kill_server(cluster: Cluster) -> None:
    """SIGKILLs the postmaster and waits until it is dead (a zombie at most), as after a real crash.

    Its children notice on their own; Cluster.start() waits for them. Starting
    while the kernel is still tearing the postmaster down would find it "running".
    """
    pid = cluster.status().pid
    assert pid is not None, "the server is not running"
    os.kill(pid, signal.SIGKILL)

    def dead() -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rpartition(")")[2].split()[0] in ("Z", "X", "x")

    wait_for(dead, 60, f"the killed postmaster (pid {pid}) to exit")


@pytest.mark.parametrize("phase", ["streaming", "checking"])
def test_a_server_killed_mid_batch_keeps_nothing_and_the_resubmitted_batch_posts_once(
    own_cluster, own_dsn, spawn, tmp_path, phase
):
    """streaming: killed while the client sends the entries; checking: while the server checks every posting.

    The client retries once through the same Book after the restart (what a
    caller does on a StoreError), then a fresh Book resubmits the batch.
    """
    open_batch_book(own_dsn)
    application = f"durability-{uuid.uuid4().hex[:12]}"
    retry_flag = tmp_path / "retry"
    client = spawn("batch", with_application_name(own_dsn, application), BOOK, str(BATCH_SIZE), str(retry_flag))
    problems: list[str] = []
    wait_for_copy(own_dsn, application, phase, BATCH_SIZE, client)
    kill_server(own_cluster)
    own_cluster.start(timeout=120)

    # After crash recovery, and before the client retries: none of the batch, or all of it.
    before = check_book(own_dsn)["entries"]
    assert before in (0, BATCH_SIZE), f"{before} of the batch's {BATCH_SIZE} entries survived the crash"
    retry_flag.touch()
    out, err = client.communicate(timeout=240)
    assert client.returncode == 0, err
    attempts = json_lines(out)
    print(f"{phase}: {before} entries after the restart; the client's attempts: {attempts}")
    first = attempts[0]

    if first["outcome"] == "ok":
        # The session committed (its own WAL flush) before it noticed the postmaster was gone: all of it is there.
        assert before == BATCH_SIZE and len(attempts) == 1
    else:
        if first["type"] != "StoreError":
            problems.append(
                f"the client's post_batch failed with {first['module']}.{first['type']} instead of amends.StoreError: "
                f"{first['message']!r}"
            )
        if IN_DOUBT not in first["message"] and before != 0:
            problems.append(f"post_batch raised {first['message']!r} yet {before} entries were committed")
        second = attempts[1]
        committed = check_book(own_dsn)["entries"]
        if second["outcome"] != "ok":
            problems.append(f"resubmitting through the same Book after the restart failed: {second}")
        elif (second["created"], second["existing"]) != (BATCH_SIZE - before, before) or committed != BATCH_SIZE:
            problems.append(
                f"resubmitting through the same Book after the restart reported created={second['created']}, "
                f"existing={second['existing']} (that Book now counts {second.get('entry_count')} entries) but "
                f"the database holds {committed} of the batch's {BATCH_SIZE} entries (held {before} before the retry)"
            )

    frame = worker.build_batch(BATCH_SIZE)
    committed = check_book(own_dsn)["entries"]
    again = resubmit_fresh(own_dsn, frame)
    assert (again.created, again.existing) == (BATCH_SIZE - committed, committed)
    assert_whole_batch_once(own_dsn, frame, BATCH_SIZE)
    third = resubmit_fresh(own_dsn, frame)
    assert (third.created, third.existing) == (0, BATCH_SIZE)
    assert not problems, "\n".join(problems)


def test_a_server_killed_during_single_posts_keeps_every_acknowledged_entry(own_cluster, own_dsn, spawn, tmp_path):
    open_batch_book(own_dsn)
    log, stop = tmp_path / "loop.jsonl", tmp_path / "loop.stop"
    client = spawn("loop", own_dsn, BOOK, str(log), str(stop), "120")

    def acknowledged() -> int:
        return sum(1 for record in read_records(log) if record["kind"] == "ok")

    wait_for(lambda: acknowledged() >= 40, 60, "40 acknowledged posts", client)
    kill_server(own_cluster)
    time.sleep(0.5)  # down for a moment: the client's posts fail to connect
    own_cluster.start(timeout=120)
    restarted_at = len(read_records(log))

    def posting_again_or_broken() -> bool:
        # The client reconnects by itself and keeps posting; an error other than StoreError ends the wait early.
        after = read_records(log)[restarted_at:]
        broken = any(r["kind"] != "ok" and r["type"] != "StoreError" for r in after)
        return broken or sum(1 for r in after if r["kind"] == "ok") >= 20

    wait_for(posting_again_or_broken, 60, "20 more posts after the restart", client)
    stop.touch()
    out, err = client.communicate(timeout=120)
    assert client.returncode == 0, err

    records = read_records(log)
    assert records[-1]["kind"] == "done"
    attempted = records[-1]["attempted"]
    acks = {r["key"]: r["id"] for r in records if r["kind"] == "ok"}
    failures = [r for r in records if r["kind"] in ("error", "foreign")]
    slowest = max(r["seconds"] for r in records if r["kind"] == "ok")
    print(f"{len(acks)} acknowledged of {attempted} tried (slowest {slowest:.1f} s); "
          f"failures: {Counter(r['message'][:70] for r in failures)}")
    assert len(set(acks.values())) == len(acks), "two keys were acknowledged with the same entry id"
    # The client either hears of the crash (StoreError) or sits it out resolving an in-doubt commit.

    state = check_book(own_dsn)
    with psycopg.connect(own_dsn, autocommit=True) as conn:
        stored = dict(conn.execute(
            "SELECT idempotency_key, entry_id FROM amends.entries WHERE book_id = %s", (state["book_id"],)
        ).fetchall())
    missing = {key: entry_id for key, entry_id in acks.items() if stored.get(key) != entry_id}
    assert missing == {}, f"acknowledged entries missing (or under another id) after the restart: {missing}"
    refused_yet_stored = [r for r in failures if r["key"] in stored and IN_DOUBT not in r["message"]]
    assert refused_yet_stored == [], "a post raised (so nothing was written) but its entry is in the book"
    assert set(stored) <= {f"k{i}" for i in range(attempted)}
    assert state["entries"] == len(stored)

    # Re-posting every key the client tried posts each exactly once.
    frame = pd.DataFrame(
        {
            "entry_id": [f"k{i}" for i in range(attempted) for _ in (0, 1)],
            "date": "2026-02-03",
            "account": [worker.LOOP_DEBIT, worker.LOOP_CREDIT] * attempted,
            "amount": [str(sign * worker.loop_amount(i)) for i in range(attempted) for sign in (1, -1)],
            "currency": "USD",
        }
    )
    again = resubmit_fresh(own_dsn, frame)
    assert (again.created, again.existing) == (attempted - len(stored), len(stored))
    state = check_book(own_dsn)
    assert state["entries"] == attempted
    keys = keys_in(own_dsn, state["book_id"])
    assert set(keys) == {f"k{i}" for i in range(attempted)} and max(keys.values()) == 1
    assert resubmit_fresh(own_dsn, frame).created == 0

    foreign = [r for r in failures if r["type"] != "StoreError"]
    assert foreign == [], f"the client got errors other than amends.StoreError around the crash: {foreign[:3]}"
    acked_after_restart = sum(1 for r in records[restarted_at:] if r["kind"] == "ok")
    assert acked_after_restart >= 20, "the client did not get back to posting after the restart"


# ------------------------------------------------------------------ 3. many writers at once


def test_concurrent_writers_lose_no_update_and_never_breach_a_balance_limit(pg_migrated_dsn, spawn, tmp_path):
    book = amends.open(pg_migrated_dsn, BOOK, simulation=True)
    for name, type_ in worker.MIX_ACCOUNTS:
        book.create_account(name, type_, "USD")
    book.create_account(worker.LIMITED, "liability", "USD", min_normal_balance=0)
    funding = [(worker.CASH, FUNDING), (worker.LIMITED, -FUNDING)]
    funding_id = book.post("2026-03-01", funding, idempotency_key="funding")
    assert funding_id == 1
    book.close()

    go = tmp_path / "go"
    logs = [tmp_path / f"worker{w}.jsonl" for w in range(CONCURRENT_WORKERS)]
    clients = [
        spawn("mix", pg_migrated_dsn, BOOK, str(log), str(go), str(CONCURRENT_SECONDS), str(1000 + w), str(w))
        for w, log in enumerate(logs)
    ]
    for log, client in zip(logs, clients):
        wait_for(lambda: Path(str(log) + ".ready").exists(), 120, f"{log.name} to open the book", client)
    go.touch()
    for client in clients:
        out, err = client.communicate(timeout=CONCURRENT_SECONDS + 120)
        assert client.returncode == 0, err

    acks: dict[int, dict[str, Any]] = {}
    refusals = errors = 0
    per_worker: list[int] = []
    expected = defaultdict(Decimal)
    for account, amount in funding:
        expected[account] += amount
    for log in logs:
        records = read_records(log)
        assert records and records[-1]["kind"] == "done", f"{log.name} did not finish"
        oks = [r for r in records if r["kind"] == "ok"]
        per_worker.append(len(oks))
        refusals += sum(1 for r in records if r["kind"] == "refused")
        errors_here = [r for r in records if r["kind"] == "error"]
        assert errors_here == [], f"{log.name} got errors other than BalanceLimitExceeded: {errors_here[:3]}"
        for r in oks:
            assert r["id"] not in acks, f"entry id {r['id']} was acknowledged twice"
            acks[r["id"]] = r
            for account, amount in worker.mix_postings(r["op"], r["cents"]):
                expected[account] += amount

    print(f"acknowledged per worker: {per_worker}; refused: {refusals}")
    assert refusals > 0, "no draw was refused: the balance limit was never exercised"
    assert min(per_worker) > 0, f"a worker got nothing committed: {per_worker}"

    state = check_book(pg_migrated_dsn)
    assert state["entries"] == len(acks) + 1, f"{state['entries']} entries for {len(acks)} acknowledgements and the funding"
    assert set(acks) == set(range(2, len(acks) + 2))
    # No lost update: the totals equal the postings (check_book), a fresh Book, and the sum of what was acknowledged.
    assert state["posted"] == {name: expected[name] for name in state["posted"]}

    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        entries = conn.execute(
            """SELECT e.entry_id, e.idempotency_key, array_agg(a.name ORDER BY p.line), array_agg(p.amount ORDER BY p.line)
                 FROM amends.entries e
                 JOIN amends.postings p ON p.book_id = e.book_id AND p.entry_id = e.entry_id
                 JOIN amends.accounts a ON a.book_id = p.book_id AND a.account_id = p.account_id
                WHERE e.book_id = %s GROUP BY e.entry_id, e.idempotency_key ORDER BY e.entry_id""",
            (state["book_id"],),
        ).fetchall()
    # Every acknowledged entry is there, under its id, with its key and its postings.
    assert entries[0][:2] == (funding_id, "funding")
    for entry_id, key, accounts, amounts in entries[1:]:
        ack = acks[entry_id]
        assert key == ack["key"]
        assert list(zip(accounts, amounts)) == worker.mix_postings(ack["op"], ack["cents"]), entry_id
    refused_keys = {r["key"] for log in logs for r in read_records(log) if r["kind"] == "refused"}
    assert refused_keys.isdisjoint(key for _, key, _, _ in entries), "a refused post was written"

    # Ids are dense and taken under the book's write lock, so id order is commit order: replay it.
    normal_balance = Decimal(0)
    for entry_id, _, accounts, amounts in entries:
        normal_balance -= sum((amount for account, amount in zip(accounts, amounts) if account == worker.LIMITED), Decimal(0))
        assert normal_balance >= 0, f"{worker.LIMITED} fell to {normal_balance} at entry {entry_id}"
    assert normal_balance == -state["posted"][worker.LIMITED]
