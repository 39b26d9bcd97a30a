"""Shared fixtures: a small chart of accounts and a check that a refusal changed nothing."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import pytest

import amends
from helpers import open_chart, state_of


@pytest.fixture
def book() -> amends.Ledger:
    """An empty USD book with the chart in helpers.CHART (customer credits may not go negative)."""
    return open_chart(amends.Ledger(base_currency="USD"))


@pytest.fixture
def unchanged() -> Callable[[amends.Ledger], contextlib.AbstractContextManager[None]]:
    """with unchanged(book), pytest.raises(...): the block raises and leaves the book as it was."""

    @contextlib.contextmanager
    def check(book: amends.Ledger) -> Iterator[None]:
        before = state_of(book)
        yield
        assert state_of(book) == before

    return check
