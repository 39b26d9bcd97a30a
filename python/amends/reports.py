"""Report files of a reconciliation run: CSV, JSON and a self-contained HTML page.

    reports.write_csv(reports.exception_table(result), "exceptions.csv")
    reports.write_csv(reports.correction_table(result), "corrections.csv")
    reports.write_json(result, "run.json", meta={"book": "main"})
    reports.write_html(result, "run.html", "Reconciliation of book main, 2026-10")

Every writer replaces its file atomically (a temporary file in the same
directory, then a rename), so a job that picks the files up never reads half
of one.

CSV and spreadsheets. A cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return is prefixed with a single quote (`'`), as OWASP recommends
against CSV (formula) injection: a customer id or reason copied from a
billing export can't run as a formula when the file is opened in Excel,
LibreOffice or Google Sheets. The exception is a real number -- a Python
int, Decimal or float (numpy's included) written from a numeric column --
which is written as a number, so `-150` stays the number -150 and can be
summed; a number's text is digits with an optional leading minus, which no
spreadsheet reads as a formula. Text that merely looks like a number
("-150" read from an export as a string) is escaped like any other text.
Files are UTF-8 without a byte order mark, with a header row, quoted as
RFC 4180 says (by Python's csv module).

Amounts keep their integer minor units (`amount_minor`, `difference_minor`)
and get an exact decimal `amount` column for people (45.50 for 4550 USD
cents); in JSON, decimal amounts are strings.

HTML. One file with inline CSS and nothing else: no script, no image, no
link to anything outside it (a Content-Security-Policy meta tag forbids
loading any). Every value is escaped with html.escape. Exceptions come
first, grouped by outcome (most urgent first) with counts, then the
proposed corrections, then the run's parameters and inputs checksum.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import json
import math
import numbers
import os
import re
import secrets
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Sequence

import pandas as pd  # type: ignore[import-untyped]

import amends
from amends.billing import BadRow
from amends.reconcile import EXCEPTIONS, OUTCOMES, ReconcileResult

__all__ = ["EXCEPTION_COLUMNS", "CORRECTION_COLUMNS", "escape_cell", "exception_table", "correction_table",
           "outcome_counts", "write_csv", "write_json", "write_html", "json_document", "html_document"]

# The columns of the exceptions table, in order (a column neither side has is left out).
EXCEPTION_COLUMNS = ("side", "outcome", "id", "customer", "currency", "amount", "amount_minor", "date", "counterpart",
                     "difference_minor", "matched_by", "reason", "kind", "object", "status", "raw_status", "reference",
                     "parent", "source", "file", "line")
CORRECTION_COLUMNS = ("correction_id", "action", "request", "billing_id", "currency", "amount", "amount_minor",
                      "reason")

# What a spreadsheet may read as the start of a formula (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Integer columns that a concat of both sides turns into floats (NaN where the other side has no such column).
_INTEGER_COLUMNS = ("amount_minor", "difference_minor", "line", "correction_id")
# How many rows of one group the HTML page shows; the CSV and JSON files have them all.
HTML_MAX_ROWS = 2000


# ------------------------------------------------------------------ cells


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (numbers.Number, Decimal)) and not isinstance(value, bool)


def _number_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return str(int(number)) if number.is_integer() else repr(number)


def _text(value: Any) -> str:
    """A value as plain text: "" for missing, ISO 8601 for times, true/false, Decimals without exponents."""
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return _number_text(value)
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    return str(value)


def escape_cell(value: Any) -> str:
    """The text of a CSV cell that a spreadsheet can't run as a formula.

    Text starting with =, +, -, @, tab or carriage return gets a leading single
    quote; a real number (int, Decimal, float, not bool) is written as a number.
    """
    if _is_number(value) and not _missing(value):
        number = _number_text(value)
        if _PLAIN_NUMBER.fullmatch(number):
            return number
    text = _text(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def _plain(value: Any) -> Any:
    """A value for json.dumps: numpy scalars as Python ones, NaN as null, Decimals as strings, times in ISO 8601."""
    if _missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # other numpy scalars (numpy.bool_)
        return _plain(value.item())
    return value if isinstance(value, str) else str(value)


# ------------------------------------------------------------------ tables


_PLACES: dict[str, int | None] = {}


def _amounts(minor: pd.Series, currency: pd.Series) -> list[Decimal | None]:
    """Exact decimal amounts of integer minor units, by currency."""
    out: list[Decimal | None] = []
    for value, code in zip(minor, currency):
        if _missing(value) or _missing(code):
            out.append(None)
            continue
        code = str(code)
        if code not in _PLACES:
            try:
                _PLACES[code] = amends.currency(code).minor_units
            except amends.AmendsError:
                _PLACES[code] = None  # not a currency amends knows: no decimal amount rather than a wrong one
        places = _PLACES[code]
        out.append(None if places is None else Decimal(int(value)).scaleb(-places))
    return out


def _tidy(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The frame with `columns` first (those it has), integer columns as integers, and an `amount` column."""
    out = frame.reset_index(drop=True).copy()
    if "amount_minor" in out.columns and "currency" in out.columns and "amount" in columns:
        out["amount"] = pd.Series(_amounts(out["amount_minor"], out["currency"]), index=out.index, dtype=object)
    for column in _INTEGER_COLUMNS:
        if column in out.columns:
            out[column] = pd.Series([None if _missing(v) else int(v) for v in out[column]], index=out.index,
                                    dtype=object)
    if "date" in out.columns:
        out["date"] = pd.Series([None if _missing(v) else pd.Timestamp(v).date() for v in out["date"]],
                                index=out.index, dtype=object)
    first = [c for c in columns if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]]


def exception_table(result: ReconcileResult) -> pd.DataFrame:
    """Every item of either side that needs a person, the most urgent outcome first, in EXCEPTION_COLUMNS order."""
    frame = result.exceptions
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in EXCEPTION_COLUMNS})
    return _tidy(frame, EXCEPTION_COLUMNS)


def correction_table(result: ReconcileResult) -> pd.DataFrame:
    """The proposed corrections, numbered from 1 as the run records them (correction_id)."""
    frame = result.corrections.reset_index(drop=True)
    frame.insert(0, "correction_id", range(1, len(frame) + 1))
    return _tidy(frame, CORRECTION_COLUMNS)


# ------------------------------------------------------------------ writing


@contextlib.contextmanager
def _replacing(path: str | os.PathLike[str], newline: str | None = None) -> Iterator[IO[str]]:
    """A text file written beside `path` and renamed over it once complete (permissions as the umask says)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Writes a DataFrame as CSV with a header row, every cell through escape_cell; returns the path."""
    with _replacing(path, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([escape_cell(str(c)) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            writer.writerow([escape_cell(v) for v in row])
    return Path(path)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = [str(c) for c in frame.columns]
    return [dict(zip(columns, (_plain(v) for v in row))) for row in frame.itertuples(index=False, name=None)]


def outcome_counts(result: ReconcileResult) -> dict[str, dict[str, int]]:
    """{"ledger": {outcome: count}, "billing": {...}} over every outcome, zeros included."""
    return {side: {o: int((frame["outcome"] == o).sum()) for o in OUTCOMES}
            for side, frame in (("ledger", result.ledger), ("billing", result.billing))}


def json_document(result: ReconcileResult, *, meta: Mapping[str, Any] | None = None,
                  skipped: Sequence[BadRow] = ()) -> dict[str, Any]:
    """What write_json writes: meta, the run, its summary, the exceptions and the proposed corrections."""
    summary = result.summary()
    document: dict[str, Any] = {str(k): _plain(v) for k, v in (meta or {}).items()}
    document |= {
        "run_id": result.run_id,
        "ok": result.ok,
        "inputs_sha256": result.inputs_sha256,
        "parameters": _plain(result.parameters),
        "summary": _plain(summary),
        "outcomes": outcome_counts(result),
        "exceptions": _records(exception_table(result)),
        "corrections": _records(correction_table(result)),
        "skipped": [{"file": r.file, "line": r.line, "reason": r.reason} for r in skipped],
    }
    return document


def write_json(result: ReconcileResult, path: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None,
               skipped: Sequence[BadRow] = ()) -> Path:
    """Writes json_document(result) (minor units as integers, decimal amounts as strings); returns the path."""
    document = json_document(result, meta=meta, skipped=skipped)
    with _replacing(path) as stream:
        json.dump(document, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    return Path(path)


# ------------------------------------------------------------------ HTML

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto; max-width: 1400px;
       padding: 0 1.5em; color: #1d2330; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #d5d9e0; padding-bottom: .2em; }
h3 { font-size: 1em; margin-top: 1.5em; }
.status { display: inline-block; padding: .3em .8em; border-radius: 4px; font-weight: 600; }
.ok { background: #e3f4e8; color: #17612e; }
.bad { background: #fbe6e4; color: #8c1d12; }
.muted { color: #5b6473; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #d5d9e0; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f5f8; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.reason { min-width: 24em; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .95em; word-break: break-all; }
nav a { margin-right: 1em; }
"""

_HTML_EXCEPTION_COLUMNS = ("side", "id", "customer", "amount", "currency", "date", "counterpart", "difference_minor",
                           "matched_by", "reason", "object", "raw_status", "reference", "file", "line")


def _e(value: Any) -> str:
    return html.escape(_text(value), quote=True)


def _table(frame: pd.DataFrame, columns: Sequence[str], limit: int) -> str:
    shown = [c for c in columns if c in frame.columns]
    head = "".join(f"<th>{_e(c)}</th>" for c in shown)
    rows = []
    for row in frame[shown].head(limit).itertuples(index=False, name=None):
        cells = []
        for column, value in zip(shown, row):
            css = ' class="num"' if _is_number(value) else (' class="reason"' if column == "reason" else "")
            cells.append(f"<td{css}>{_e(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(frame) > limit:
        more = f'<p class="muted">{len(frame) - limit:,} more rows are in the CSV and JSON files.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def _pairs(pairs: Sequence[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)
    return f"<table>{rows}</table>"


def html_document(result: ReconcileResult, title: str, *, meta: Mapping[str, Any] | None = None,
                  skipped: Sequence[BadRow] = (), max_rows: int = HTML_MAX_ROWS) -> str:
    """The HTML page write_html writes."""
    exceptions = exception_table(result)
    corrections = correction_table(result)
    counts = outcome_counts(result)
    total = len(exceptions)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    ]
    if result.ok and not skipped:
        parts.append('<p><span class="status ok">Everything reconciles within tolerance</span></p>')
    else:
        what = [f"{total:,} exception{'s' if total != 1 else ''}"]
        if skipped:
            what.append(f"{len(skipped):,} billing row{'s' if len(skipped) != 1 else ''} skipped")
        parts.append(f'<p><span class="status bad">{_e(", ".join(what))}</span></p>')
    parts.append(f'<p class="muted">Run {_e(result.run_id)} &middot; inputs SHA-256 <code>{_e(result.inputs_sha256)}'
                 "</code></p>")

    # Counts per outcome and side.
    rows = "".join(f"<tr><th>{_e(o)}</th><td class=\"num\">{counts['ledger'][o]:,}</td>"
                   f"<td class=\"num\">{counts['billing'][o]:,}</td></tr>" for o in OUTCOMES)
    rows += (f"<tr><th>total</th><td class=\"num\">{len(result.ledger):,}</td>"
             f"<td class=\"num\">{len(result.billing):,}</td></tr>")
    parts.append(f"<h2>Outcomes</h2><table><thead><tr><th>outcome</th><th>ledger</th><th>billing</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>")

    # Exceptions, grouped by outcome, most urgent first.
    parts.append(f'<h2 id="exceptions">Exceptions ({total:,})</h2>')
    if total == 0:
        parts.append('<p class="muted">None: every item matched within tolerance.</p>')
    else:
        groups = [(o, exceptions[exceptions["outcome"] == o]) for o in EXCEPTIONS]
        groups = [(o, g) for o, g in groups if len(g)]
        parts.append("<nav>" + "".join(f'<a href="#{_e(o)}">{_e(o.replace("_", " "))} ({len(g):,})</a>'
                                       for o, g in groups) + "</nav>")
        for outcome, group in groups:
            parts.append(f'<h3 id="{_e(outcome)}">{_e(outcome.replace("_", " "))} ({len(group):,})</h3>')
            parts.append(_table(group, _HTML_EXCEPTION_COLUMNS, max_rows))

    # Proposed corrections.
    parts.append(f'<h2 id="corrections">Proposed corrections ({len(corrections):,})</h2>')
    if len(corrections):
        parts.append('<p class="muted">Proposals for a person to approve or reject; nothing here has been posted.</p>')
        parts.append(_table(corrections, CORRECTION_COLUMNS, max_rows))
    else:
        parts.append('<p class="muted">None.</p>')

    if skipped:
        parts.append(f'<h2 id="skipped">Billing rows skipped ({len(skipped):,})</h2>')
        skipped_frame = pd.DataFrame([{"file": r.file, "line": r.line, "reason": r.reason} for r in skipped])
        parts.append(_table(skipped_frame, ("file", "line", "reason"), max_rows))

    # The run: what was compared, with which parameters.
    run: list[tuple[str, Any]] = [(str(k), v) for k, v in (meta or {}).items()]
    run.append(("run id", result.run_id))
    for key, value in result.parameters.items():
        run.append((str(key), " to ".join(map(str, value)) if isinstance(value, (list, tuple)) else value))
    run += [("ledger items", len(result.ledger)), ("billing items", len(result.billing)),
            ("inputs sha256", result.inputs_sha256)]
    parts.append('<h2 id="run">Run</h2>' + _pairs(run))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html(result: ReconcileResult, path: str | os.PathLike[str], title: str, *,
               meta: Mapping[str, Any] | None = None, skipped: Sequence[BadRow] = (),
               max_rows: int = HTML_MAX_ROWS) -> Path:
    """Writes a self-contained HTML report of the run (see the module docstring); returns the path."""
    page = html_document(result, title, meta=meta, skipped=skipped, max_rows=max_rows)
    with _replacing(path) as stream:
        stream.write(page)
    return Path(path)
