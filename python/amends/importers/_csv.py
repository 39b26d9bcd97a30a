"""The CSV reader every importer shares.

It decodes the whole file first (so a wrong encoding is reported with its
line), strips a UTF-8 byte order mark, reads CRLF, LF or CR line ends,
quoted delimiters and quoted newlines, and skips empty lines (a line of
only delimiters too: spreadsheets write those). A record's line is the
physical line it starts on, 1-based, counting the header.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
from pathlib import Path
from typing import Callable, TypeVar

from amends.importers._common import MAX_ITEMS, Collector, Item, RowError, read_bytes

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Record:
    line: int
    values: list[str]


@dataclasses.dataclass
class Table:
    """A CSV file: its header, and its records of exactly as many fields."""

    file: str
    header: list[str]
    header_line: int
    records: list[Record]

    def column(self, *names: str) -> int | None:
        """The index of the first of names the header has (case and spacing ignored); RowError if it appears twice."""
        wanted = [_normal(n) for n in names]
        normal = [_normal(h) for h in self.header]
        for name, key in zip(names, wanted):
            if key in normal:
                if normal.count(key) > 1:
                    raise RowError(f"the column {name!r} appears more than once in the header")
                return normal.index(key)
        return None

    def require(self, *names: str) -> int:
        index = self.column(*names)
        if index is None:
            raise RowError(f"the header has no {' or '.join(repr(n) for n in names)} column")
        return index


def _normal(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).casefold()


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; utf-8 becomes utf-8-sig so that a byte order mark is dropped."""
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name


def decode(path: Path, encoding: str) -> str:
    """The file's text; RowError naming the line of the first byte that isn't in the encoding."""
    data = read_bytes(path)
    codec = check_encoding(encoding)
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        reason = f"not valid {encoding}: byte 0x{data[e.start]:02x} (declare the file's encoding)"
        raise _FileError(line, reason) from None


class _FileError(RowError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line


def read(path: Path, collector: Collector, *, encoding: str = "utf-8", delimiter: str = ",") -> Table | None:
    """The file as a Table, bad records reported to collector; None (and one bad row) when it can't be read at all."""
    file = str(path)
    try:
        text = decode(path, encoding)
    except _FileError as e:
        collector.bad_row(file, e.line, str(e))
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 1
    records: list[Record] = []
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            collector.bad_row(file, start, f"unreadable CSV: {e}")
            if reader.line_num < start:  # nothing was consumed: the reader can't get past this point
                break
            continue
        if not any(v.strip() for v in values):
            continue
        if header is None:
            header, header_line = [v.replace("\ufeff", "").strip() for v in values], start
            continue
        if len(values) != len(header):
            collector.bad_row(file, start, f"{len(values)} fields where the header has {len(header)}")
            continue
        if len(records) >= MAX_ITEMS:
            collector.bad_row(file, start, f"more than {MAX_ITEMS} records in one file; split the export")
            break
        records.append(Record(start, [v.strip() for v in values]))
    return Table(file, header or [], header_line, records)


def convert(table: Table, collector: Collector, columns: Callable[[Table], T],
            row: Callable[[Table, Record, T], Item | None], *, once_per_file: str = "") -> None:
    """Finds the columns once (a missing one makes the whole file one bad row), then converts every record."""
    if not table.header:
        return
    try:
        found = columns(table)
    except RowError as e:
        collector.bad_row(table.file, table.header_line, str(e))
        return
    for record in table.records:
        try:
            item = row(table, record, found)
        except RowError as e:
            collector.bad_row(table.file, record.line, str(e))
            continue
        if item is not None:
            collector.add(item, once_per_file=once_per_file)
