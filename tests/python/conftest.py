"""Shared fixtures: a small chart of accounts, a check that a refusal changed nothing, and a PostgreSQL server."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

import amends
from amends.cluster import Cluster
from helpers import open_chart, state_of


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that takes a book runs against both back ends: in memory and in PostgreSQL."""
    return str(request.param)


@pytest.fixture
def empty_book(backend: str, request: pytest.FixtureRequest) -> amends.Ledger:
    """An empty USD book: an amends.Ledger, or a new amends.Book in the session's PostgreSQL database."""
    if backend == "memory":
        return amends.Ledger(base_currency="USD")
    dsn = request.getfixturevalue("pg_books_dsn")
    return amends.open(dsn, f"book_{uuid.uuid4().hex[:12]}", base_currency="USD", simulation=True)


@pytest.fixture
def book(empty_book: amends.Ledger) -> amends.Ledger:
    """An empty USD book with the chart in helpers.CHART (customer credits may not go negative)."""
    return open_chart(empty_book)


@pytest.fixture
def unchanged() -> Callable[[amends.Ledger], contextlib.AbstractContextManager[None]]:
    """with unchanged(book), pytest.raises(...): the block raises and leaves the book as it was."""

    @contextlib.contextmanager
    def check(book: amends.Ledger) -> Iterator[None]:
        before = state_of(book)
        yield
        assert state_of(book) == before
        if isinstance(book, amends.Book):
            # What the database holds, read afresh, is unchanged too.
            assert state_of(amends.open(book.dsn, book.name, create=False)) == before

    return check


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A real PostgreSQL server (the embedded default) in a temporary data directory, for the whole session."""
    # Outside pytest's own temporary root: a second pytest session resets
    # that root's permissions, which would cut the server off from its files.
    root = Path(tempfile.mkdtemp(prefix="amends-pg-"))
    cluster = Cluster(root / "data")
    try:
        cluster.ensure_running()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_cluster: Cluster) -> Iterator[str]:
    """The DSN of a fresh, empty database of its own on pg_cluster (no amends schema); dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    dsn = pg_cluster.create_database(name)
    yield dsn
    pg_cluster.drop_database(name)


@pytest.fixture
def pg_migrated_dsn(pg_dsn: str) -> str:
    """A fresh database of its own, migrated by its owner (amends.migrate), as a server's is before books open in it.

    amends.open never migrates: a test that opens books in a database of its own takes this one.
    """
    amends.migrate(pg_dsn)
    return pg_dsn


@pytest.fixture(scope="session")
def pg_books_dsn(pg_cluster: Cluster) -> str:
    """One database for the session's books (each test opens a book of its own in it)."""
    dsn = pg_cluster.create_database("books")
    amends.migrate(dsn)
    return dsn
