"""Books kept in PostgreSQL: amends.open() and the Book it returns.

A Book is an amends.Ledger whose every operation goes through the database:
a query first catches up with what other sessions committed, then answers
from memory; a write runs in one database transaction that holds the book's
write lock, is checked by the in-memory engine (same errors as amends.Ledger)
and again by the database, and is durable when it returns.
"""

from __future__ import annotations

import functools
import gc
import getpass
import os
from typing import Any, Callable, TypeVar

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs needed to type-check amends

from amends import _core
from amends.ledger import Ledger, postings_frame

__all__ = ["Book", "open", "read_postings", "verify_audit", "SCHEMA_VERSION", "migrate"]

SCHEMA_VERSION: int = _core.SCHEMA_VERSION
migrate = _core.migrate

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")

# How a Book runs each operation of amends.Ledger (and of the compiled core's Ledger it derives from), by name:
#   write  -- in one database transaction holding the book's write lock; the change log records the name
#             (without a leading underscore);
#   read   -- after catching up with what other sessions committed;
#   as is  -- as in memory: a helper only the operations above call, a fixed attribute, or one Book defines itself.
# Every attribute of amends.Ledger that is not a dunder must be named here, and nothing else: Book is not defined
# otherwise (a new Ledger operation can't be forgotten).
_OPERATIONS: dict[str, str] = {
    # writes
    "create_account": "write", "_create_account": "write", "close_account": "write", "set_balance_limit": "write",
    "set_period_state": "write", "lock_period": "write", "unlock_period": "write", "close_period": "write",
    "post": "write", "reserve": "write", "post_pending": "write", "void_pending": "write", "expire_pending": "write",
    "reverse": "write", "post_batch": "write", "_post_entries": "write", "_post_columns": "write",
    "load_csv": "write", "_load_csv": "write",
    # reads
    "has_account": "read", "account": "read", "accounts": "read", "period_state": "read", "entry": "read",
    "find_by_key": "read", "balance": "read", "balance_detail": "read", "rollup": "read", "balances_by": "read",
    "trial_balance": "read", "statement": "read", "activity": "read", "balance_report": "read", "to_pandas": "read",
    "to_journal": "read", "_entry": "read", "_postings": "read",
    # as is: called only by the reads above
    "_account": "as is", "_accounts": "as is", "_activity": "as is", "_balance_detail": "as is",
    "_balance_report": "as is", "_balances_by_dimension": "as is", "_statement": "as is", "_trial_balance": "as is",
    "_journal": "as is", "_write_journal": "as is",
    # as is: fixed when the book is opened
    "name": "as is", "base_currency": "as is", "fiscal_calendar": "as is",
    # as is: Book defines its own
    "entry_count": "as is", "posting_count": "as is", "account_count": "as is", "sync": "as is",
    "transaction": "as is",
}
_KINDS = ("write", "read", "as is")


def _classified(ledger: type) -> dict[str, str]:
    """How a Book runs each operation of `ledger` (_OPERATIONS); TypeError naming what it leaves out or names in vain."""
    names = {n for n in dir(ledger) if not n.startswith("__") and not n.startswith("_pybind11")}
    missing = sorted(names - _OPERATIONS.keys())
    stale = sorted(_OPERATIONS.keys() - names)
    odd = sorted(n for n, kind in _OPERATIONS.items() if kind not in _KINDS)
    if missing or stale or odd:
        raise TypeError(f"amends.book._OPERATIONS must say how a Book runs every operation of {ledger.__name__} "
                        f"(write, read or as is): unclassified {missing}, no such operation {stale}, "
                        f"unknown kind for {odd}")
    return {n: _OPERATIONS[n] for n in sorted(names)}


def _writer(name: str, method: _F) -> _F:
    @functools.wraps(method)
    def write(self: Book, *args: Any, **kwargs: Any) -> Any:
        return self._store.write(name.lstrip("_"), lambda: method(self, *args, **kwargs))

    return write  # type: ignore[return-value]


def _reader(method: _F) -> _F:
    @functools.wraps(method)
    def read(self: Book, *args: Any, **kwargs: Any) -> Any:
        self._store.sync()
        return method(self, *args, **kwargs)

    return read  # type: ignore[return-value]


class Book(Ledger):
    """A book in PostgreSQL with the operations of amends.Ledger.

    >>> book = amends.open()                       # the embedded default
    >>> book = amends.open("postgresql://...", "emea")  # a DSN and a book name
    """

    _store: _core.Store

    def __init__(
        self,
        dsn: str,
        name: str = "main",
        *,
        base_currency: str = "USD",
        fiscal_year_start_month: int = 1,
        create: bool = True,
        simulation: bool | None = None,
        first_person: str | None = None,
        on_behalf_of: str | None = None,
    ) -> None:
        store = _core.Store(dsn, name, base_currency, fiscal_year_start_month, create, True, simulation,
                            first_person or "", on_behalf_of or "")
        super().__init__(store.base_currency, store.fiscal_year_start_month, store.name)
        self._store = store
        self._dsn = dsn
        store.attach(self)

    @property
    def dsn(self) -> str:
        return self._dsn

    @property
    def book_id(self) -> int:
        return self._store.book_id

    @property
    def version(self) -> int:
        """One more for every committed write to this book, by anyone."""
        self._store.sync()
        return self._store.version

    @property
    def entry_count(self) -> int:
        self._store.sync()
        return int(_core.Ledger.entry_count.__get__(self))

    @property
    def posting_count(self) -> int:
        self._store.sync()
        return int(_core.Ledger.posting_count.__get__(self))

    @property
    def account_count(self) -> int:
        self._store.sync()
        return int(_core.Ledger.account_count.__get__(self))

    # ------------------------------------------------------------------ who acts

    @property
    def simulation(self) -> bool:
        """Whether the book is a simulation: actors are the names given and times the caller's clock.

        Fixed when the book is created. In a real book every desk action is the logged-in
        person's (amends.Impersonation otherwise) and dated by the database's clock.
        """
        return bool(self._store.simulation)

    @property
    def login(self) -> str:
        """The PostgreSQL login this book is open with."""
        return str(self._store.login)

    @property
    def person(self) -> str | None:
        """The person this login acts as in the book (their name key), or None when it is bound to nobody.

        For a login of the role amends_service: the person named by on_behalf_of.
        """
        return self._store.person

    def whoami(self) -> dict[str, Any]:
        """The login, the person it acts as (with display name, roles and teams) and whether the book is a simulation."""
        me = self.person
        record = next((p for p in self.people() if p["person"] == me), None) if me is not None else None
        return {"login": self.login, "person": me, "service": bool(self._store.service), "simulation": self.simulation,
                "display_name": record["display_name"] if record else None,
                "roles": record["roles"] if record else [], "teams": record["teams"] if record else []}

    def people(self) -> list[dict[str, Any]]:
        """The people of the book: person (name key), display_name, roles, teams, active, logins."""
        return list(self._store.people())

    def add_person(self, name: str, display_name: str | None = None, *, roles: Any = (), teams: Any = (),
                   active: bool = True, login: str | None = None) -> None:
        """Adds a person to the book, or changes one; with login, binds that PostgreSQL login to them.

        Needs the role amends_admin (amends.NotAuthorised otherwise), except for the first
        person of a new book, bound to the login that adds them. Recorded in the audit trail.
        """
        for label, value in (("roles", roles), ("teams", teams)):
            if isinstance(value, str):
                raise TypeError(f"{label} is a list of names, not one string: {label}=[{value!r}]")
        self._store.add_person(name, display_name or "", list(roles), list(teams), active, login or "")

    def bind_login(self, login: str, person: str) -> None:
        """Binds a PostgreSQL login to a person of the book (amends_admin only; audited)."""
        self._store.bind_login(login, person)

    # ------------------------------------------------------------------ what a Desk asks of its book

    def sync(self) -> None:
        """Catches up with what other sessions committed (every query does this first)."""
        self._store.sync()

    def transaction(self, name: str, fn: Callable[[], _T]) -> _T:
        """Runs fn() in one database transaction that holds the book's write lock, and returns its value.

        Everything fn() did to the book (and to a desk on it) commits together or not at all; `name` is what
        the change log records.
        """
        return self._store.write(name, fn)  # type: ignore[no-any-return]

    def write_time(self) -> int:
        """The database's clock in microseconds since the epoch, read when the write took the book's lock."""
        return int(self._store.write_time())

    def link_desk(self, desk: _core._Desk) -> object:
        """Keeps a desk of the compiled core in step with this book (what amends.Desk holds on to)."""
        return _core._DeskStore(self._store, desk)

    def verify_audit(self, *, checkpoint: dict[str, Any] | None = None, key: bytes | str | None = None,
                     records: bool = False) -> dict[str, Any]:
        """amends.verify_audit of this book."""
        return verify_audit(self.dsn, self.name, checkpoint=checkpoint, key=key, records=records)

    def close(self) -> None:
        """Closes the database connection now; the book reconnects if used again."""
        self._store.close()

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reload(self) -> None:
        """Reloads the whole book from the database."""
        self._store.reload()

    def reconcile(self, billing: Any, period: Any, **options: Any) -> Any:
        """Reconciles this book's applied concessions in `period` against a BillingBatch (see amends.Desk.reconcile)."""
        from amends.desk import Desk

        return Desk(self).reconcile(billing, period, **options)

    def __repr__(self) -> str:
        return f"<amends.Book {self.name!r} #{self.book_id} v{self._store.version}>"


for _name, _kind in _classified(Ledger).items():
    if _kind == "write":
        setattr(Book, _name, _writer(_name, getattr(Ledger, _name)))
    elif _kind == "read":
        setattr(Book, _name, _reader(getattr(Ledger, _name)))
del _name, _kind


def _default_dsn() -> str:
    dsn = os.environ.get("AMENDS_DSN") or None
    if dsn is None:
        from amends.cluster import Cluster

        dsn = Cluster().ensure_running()
    return dsn


def read_postings(dsn: str | None = None, book: str = "main") -> pd.DataFrame:
    """Every posting of a book as a DataFrame, read by COPY in C++ without loading the book.

    The columns of Ledger.to_pandas: entry_id, date, account, amount (exact
    decimal.Decimal), currency, status (account, currency, status categorical).
    """
    collecting = gc.isenabled()
    gc.disable()  # millions of new objects, none of them in a cycle
    try:
        return postings_frame(_core.read_postings(dsn or _default_dsn(), book))
    finally:
        if collecting:
            gc.enable()


def open(  # noqa: A001 - amends.open, as the issue names it
    dsn: str | None = None,
    book: str = "main",
    *,
    base_currency: str = "USD",
    fiscal_year_start_month: int = 1,
    create: bool = True,
    simulation: bool | None = None,
    first_person: str | None = None,
    on_behalf_of: str | None = None,
) -> Book:
    """Opens a book in PostgreSQL.

    dsn: a libpq connection string or URI. Without one, $AMENDS_DSN; without
    that, amends' own private cluster (started, created and migrated on first
    use, in $AMENDS_DATA_DIR or ~/.local/share/amends/pg; `amends db stop`
    stops it). base_currency and fiscal_year_start_month apply when the book
    is created; an existing book keeps its own.

    Opening never migrates: a server's database must have been migrated by
    its owner (`amends db migrate --dsn ...`, or amends.migrate); one without
    the schema, or with an older or newer one, raises SchemaError saying what
    to run. The login needs only membership of the role amends_app.

    Who acts: a new book is real unless simulation=True. In a real book the
    login that creates it becomes its first person (first_person, or the
    login's name; in the embedded default, the OS user), bound to that login
    with the role admin; every later login acts only once an admin has bound
    it to a person (Book.add_person / bind_login, `amends people ...`), and
    desk actions are that person's and dated by the database's clock. A
    simulation (the tour, tests, what-if notebooks) takes the names and the
    clock it is given, and each of its audit events says so. Opening an
    existing book with simulation=True or False that it is not is refused.
    on_behalf_of: for a login of the role amends_service only, the person
    every write acts for.
    """
    embedded = dsn is None and not os.environ.get("AMENDS_DSN")
    if embedded and first_person is None:
        # The embedded default's login is its superuser; its first person is the OS user.
        first_person = getpass.getuser()
    return Book(dsn or _default_dsn(), book, base_currency=base_currency, fiscal_year_start_month=fiscal_year_start_month,
                create=create, simulation=simulation, first_person=first_person, on_behalf_of=on_behalf_of)


def verify_audit(dsn: str | None = None, book: str = "main", *, checkpoint: dict[str, Any] | None = None,
                 key: bytes | str | None = None, records: bool = False) -> dict[str, Any]:
    """Reads a book's audit trail from PostgreSQL and verifies it: the hash chain, the book's audit head (a trail cut
    short, wiped or appended to outside amends) and every request's anchor (its last event, with that hash).

    Returns {ok, events, first_bad, problem, kind, last_hash, head, anchored, checkpoint}: first_bad and problem
    name the first inconsistency by sequence, kind what it is ("chain", "head", "anchor" or "checkpoint").
    Given a checkpoint ({book, seq, hash, at_micros, signature}, as `amends audit checkpoint` writes it, with at
    as microseconds) and the key it was signed with, its signature must verify (else InvalidArgument) and the
    event at its seq must still have its hash, which no recomputation of the chain gives back. With records, when
    the trail verifies, every request record is checked as Desk.verify_audit does (findings, without loading
    the desk)."""
    if isinstance(key, str):
        key = key.encode()
    return dict(_core.verify_audit(dsn or _default_dsn(), book, checkpoint, key, records))
