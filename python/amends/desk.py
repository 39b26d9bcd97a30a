"""The concession desk: the four processes (goodwill, service credits, refunds, retention offers) end to end.

>>> desk = amends.Desk(amends.open(), policy="policy.toml")     # a real book: you act as yourself
>>> r = desk.submit(kind="goodwill", customer="C-1042", tier="growth", amount="80.00",
...                 team="support", reason="outage-apology")     # requester: the logged-in person
>>> desk.approve(r.id, comment="ok")                             # by lena, in her own session

Every rule -- validation, routing, separation of duties, budgets, the
accounting -- runs in the C++ core (amends._core). On an amends.Book each
call is one PostgreSQL transaction: the request, its audit events, the
customer notification and the ledger entries commit together or not at all.

Who acts and when. In a real book (amends.open() without simulation=True)
the actor of every action is the person the PostgreSQL login is bound to:
leave the actor out and it is that person; name anyone else and the core
and the database refuse it (amends.Impersonation). Times are the database's
clock, read when the write takes the book's lock; a Desk on a real book
takes no clock and no at=. In memory (amends.Ledger) and in a book created
with simulation=True, the desk is a single-user simulation: every action is
taken in the name it is given, at the time given (timezone-aware datetimes;
left out, the clock's now), and a simulation's audit events say so.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from amends import _core
from amends._core import InvalidArgument, NotAuthorised
from amends.book import Book
from amends.budgets import Utilisation
from amends.ledger import Ledger
from amends.policy import Policy, _micros

__all__ = ["Desk", "Request", "CloseReport", "verify_audit"]

_T = TypeVar("_T")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _utc(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


@dataclass(frozen=True)
class Request:
    """A concession request as the desk holds it now."""

    id: str
    kind: str
    state: str
    version: int
    customer: str
    tier: str
    requester: str
    team: str
    reason: str
    justification: str
    evidence: list[str]
    requested: Decimal | None  # what was asked for (None: computed)
    amount: Decimal | None  # what is granted, once validated
    currency: str
    base_amount: Decimal
    conversion: str
    service_period: str | None
    policy_version: str | None
    outcome: str | None  # auto_approved, needs_approval, blocked
    rule: str | None
    blocked: str | None
    incomplete: str | None  # what the policy's requirements found missing (the request was returned)
    findings: list[dict[str, str]]
    steps: list[dict[str, Any]]
    reservation: int | None
    entries: list[int]
    posting_period: str | None
    out_of_period: bool
    accrued: bool
    alternatives: list[str]
    history: list[dict[str, Any]] = field(repr=False)
    created_at: dt.datetime = field(repr=False)

    @classmethod
    def _of(cls, record: dict[str, Any]) -> Request:
        record = dict(record)
        record["created_at"] = _utc(record["created_at"])
        for h in record["history"]:
            h["at"] = _utc(h["at"])
        for s in record["steps"]:
            for a in s["approvals"]:
                a["at"] = _utc(a["at"])
        return cls(**record)


@dataclass(frozen=True)
class CloseReport:
    period: str
    posted: list[dict[str, Any]]
    accrued: list[str]
    out_of_period: list[str]
    in_flight: list[str]
    budgets: list[Utilisation]
    text: str

    def __str__(self) -> str:
        return self.text


def _policy_text(policy: str | os.PathLike[str] | Policy) -> str:
    if isinstance(policy, Policy):
        raise TypeError("publish the policy file's text or path; an amends.Policy does not keep its text")
    if isinstance(policy, os.PathLike) or (isinstance(policy, str) and "\n" not in policy and policy.endswith(".toml")):
        return Path(policy).read_text(encoding="utf-8")
    return str(policy)


def _day(value: dt.date | str | None, clock: Callable[[], dt.datetime]) -> dt.date | str:
    if value is None:
        return clock().date()
    return value


class Desk:
    """The concession desk of a book (amends.Ledger in memory, or amends.Book in PostgreSQL)."""

    def __init__(
        self,
        book: Ledger,
        *,
        policy: str | os.PathLike[str] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        actor: str | None = None,
    ) -> None:
        self.book = book
        self._real = isinstance(book, Book) and not book.simulation
        if self._real and clock is not None:
            raise NotAuthorised(f"book {book.name} is not a simulation: its decisions are dated by the database's clock, "
                                "so a Desk on it takes no clock (open a book created with simulation=True for what-ifs)")
        self._core = _core._Desk(book)
        self._stored = isinstance(book, Book)
        self._link = _core._DeskStore(book._store, self._core) if isinstance(book, Book) else None
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        if policy is not None:
            self.publish_policy(policy, actor)

    # ------------------------------------------------------------------ plumbing

    def _at(self, at: dt.datetime | None) -> int:
        if self._real:
            if at is not None:
                raise NotAuthorised(f"book {self.book.name} is not a simulation: its decisions are dated by the database's "
                                    "clock; give no time (at=/now=)")
            return int(self._store_of_book().write_time())
        return _micros(at if at is not None else self._clock())

    def _store_of_book(self) -> _core.Store:
        assert isinstance(self.book, Book)
        return self.book._store

    @property
    def me(self) -> str | None:
        """Who acts by default: the logged-in person of a real book (None in memory or in a simulation)."""
        return self.book.person if isinstance(self.book, Book) and self._real else None

    def _actor(self, actor: str | None, default: str | None = None) -> str:
        """The actor given; by default the logged-in person of a real book (in memory and in a simulation, `default`)."""
        if actor is not None:
            return actor
        if isinstance(self.book, Book) and self._real:
            me = self.book.person
            if me is None:
                raise NotAuthorised(f"login {self.book.login} is bound to no person of book {self.book.name}: "
                                    "an admin binds it (amends people bind LOGIN PERSON)")
            return str(me)
        if default is not None:
            return default
        raise InvalidArgument("this desk is a single-user simulation (in memory, or a book created with simulation=True): "
                              "name who acts")

    def _write(self, name: str, fn: Callable[[], _T]) -> _T:
        if isinstance(self.book, Book):
            return self.book._store.write(name, fn)  # type: ignore[no-any-return]
        return fn()

    def _sync(self) -> None:
        if isinstance(self.book, Book):
            self.book._store.sync()

    def transaction(self, name: str | Callable[[], _T], fn: Callable[[], _T] | None = None) -> _T:
        """Runs fn() -- any number of desk and book operations -- as one PostgreSQL transaction.

        transaction(fn), or transaction(name, fn) naming the work for the book's write lock. On an
        amends.Book fn() runs under the write lock, caught up, and everything it did commits together
        or not at all; its value is returned. In memory (amends.Ledger) each operation is atomic by
        itself, and fn() simply runs.
        """
        if fn is None:
            assert callable(name)
            return self._write("desk", name)
        assert isinstance(name, str)
        return self._write(name, fn)

    def sync(self) -> None:
        """Catches the desk up with what others recorded in the book (a no-op in memory)."""
        self._sync()

    @property
    def core(self) -> _core._Desk:
        """The C++ desk (amends._core._Desk), for the modules that call the core on it; read-only."""
        return self._core

    # ------------------------------------------------------------------ reference data

    def publish_policy(self, policy: str | os.PathLike[str], actor: str | None = None, at: dt.datetime | None = None) -> str:
        """Publishes a policy (TOML text or a .toml path); new requests are routed by it. Returns its version."""
        text = _policy_text(policy)
        who = self._actor(actor, "amends")
        return self._write("publish_policy", lambda: self._core.publish_policy(text, who, self._at(at)))

    @property
    def policy_version(self) -> str:
        self._sync()
        return str(self._core.policy_version)

    def set_rate(self, currency: str, day: dt.date | str, rate: Decimal | int | str) -> None:
        """1 unit of `currency` = `rate` of the base currency, from `day` on (until a later rate)."""
        self._write("set_rate", lambda: self._core.set_rate(currency, day, rate))

    def record_charge(self, id: str, customer: str, amount: Decimal | int | str, currency: str, day: dt.date | str,
                      refunded: Decimal | int | str | None = None) -> None:
        """Records an original transaction from billing (what a refund ties to)."""
        self._write("record_charge", lambda: self._core.record_charge(id, customer, amount, currency, day, refunded))

    # ------------------------------------------------------------------ budgets

    def allocate(self, owner: str, kind: str, period: str, amount: Decimal | int | str, *, hard: bool = True,
                 on: dt.date | str | None = None, actor: str | None = None, at: dt.datetime | None = None) -> int:
        """Adds to the budget of an owner (team or region), kind and period, in the base currency.

        An audit event (budget_allocated) records who allocated (in a real book, the logged-in person).
        """
        who = self._actor(actor, "amends")
        when = at
        return int(self._write("allocate", lambda: self._core.allocate(
            owner, kind, period, amount, hard, _day(on, self._clock), who,
            self._at(when) if (self._real or when is not None) else None)))

    def utilisation(self, owner: str, kind: str, period: str) -> Utilisation:
        self._sync()
        return Utilisation(**self._core.utilisation(owner, kind, period))

    def budgets(self) -> list[Utilisation]:
        self._sync()
        return [Utilisation(**u) for u in self._core.budgets()]

    # ------------------------------------------------------------------ the lifecycle

    def submit(self, *, kind: str, customer: str, requester: str | None = None, team: str, at: dt.datetime | None = None,
               draft: bool = False, id: str = "", **fields: Any) -> Request:
        """Submits a request: it is validated and routed at once (a draft waits for resubmit()).

        Fields: tier, customer_value, amount, currency (default USD), reason, justification, evidence,
        service_period; service credits: period_fee, availability (a fraction); refunds: charge;
        retention offers: discount (a fraction), monthly_fee, months, changes_contract; override_reason.
        """
        content = dict(fields, kind=kind, customer=customer, requester=self._actor(requester), team=team)
        return Request._of(self._write("submit", lambda: self._core.submit(content, self._at(at), not draft, id)))

    def amend(self, id: str, actor: str | None = None, at: dt.datetime | None = None, **fields: Any) -> Request:
        """A new version of a draft or returned request: the fields named change (as submit()'s), every other keeps
        its value; None clears an optional field (amount=None: computed). explain() and the audit event say what
        changed."""
        return Request._of(self._write("amend", lambda: self._core.amend(id, fields, self._actor(actor), self._at(at))))

    def resubmit(self, id: str, actor: str | None = None, at: dt.datetime | None = None) -> Request:
        return Request._of(self._write("resubmit", lambda: self._core.resubmit(id, self._actor(actor), self._at(at))))

    def approve(self, id: str, person: str | None = None, comment: str = "", at: dt.datetime | None = None) -> Request:
        return Request._of(self._write("approve", lambda: self._core.approve(id, self._actor(person), self._at(at), comment)))

    def decline(self, id: str, person: str | None = None, comment: str = "", alternatives: Iterable[str] = (),
                at: dt.datetime | None = None) -> Request:
        alts = list(alternatives)
        return Request._of(self._write("decline", lambda: self._core.decline(id, self._actor(person), self._at(at), comment, alts)))

    def return_for_information(self, id: str, person: str | None = None, comment: str = "", at: dt.datetime | None = None) -> Request:
        return Request._of(self._write("return", lambda: self._core.return_for_information(id, self._actor(person), self._at(at), comment)))

    def cancel(self, id: str, actor: str | None = None, reason: str = "", at: dt.datetime | None = None) -> Request:
        return Request._of(self._write("cancel", lambda: self._core.cancel(id, self._actor(actor), self._at(at), reason)))

    def expire(self, id: str, reason: str, at: dt.datetime | None = None) -> Request:
        return Request._of(self._write("expire", lambda: self._core.expire(id, self._at(at), reason)))

    def apply(self, id: str, actor: str | None = None, at: dt.datetime | None = None) -> Request:
        """Posts the approved request's entries, consumes its budget reservation and notifies the customer."""
        return Request._of(self._write("apply", lambda: self._core.apply(id, self._actor(actor), self._at(at))))

    def mark_reconciled(self, id: str, actor: str | None = None, reference: str = "", at: dt.datetime | None = None) -> Request:
        """Moves one applied request to reconciled by hand (reconcile() does it for what a run matched)."""
        return Request._of(self._write("reconcile", lambda: self._core.reconcile(id, self._actor(actor), self._at(at), reference)))

    def approve_and_apply(self, approvals: Iterable[tuple[str, str]], actor: str | None = None, at: dt.datetime | None = None) -> None:
        """Bulk: approves each (request id, person) and applies what that completes, in one transaction."""
        pairs = list(approvals)
        who = self._actor(actor)
        self._write("approve_and_apply", lambda: self._core.approve_and_apply(pairs, who, self._at(at)))

    def escalate_due(self, now: dt.datetime | None = None) -> list[str]:
        """Escalates every approval step waiting past its policy's timeout; returns the requests escalated."""
        return list(self._write("escalate_due", lambda: self._core.escalate_due(self._at(now))))

    def close_period(self, period: str, actor: str | None = None, *, accrue: bool = False, at: dt.datetime | None = None) -> CloseReport:
        """Closes a period of the book; refuses (CloseRefused) while approved concessions would be stranded."""
        raw = self._write("close_period", lambda: self._core.close_period(period, self._actor(actor), self._at(at), accrue))
        raw["budgets"] = [Utilisation(**u) for u in raw["budgets"]]
        return CloseReport(**raw)

    # ------------------------------------------------------------------ reconciliation

    def reconcile(self, billing: Any, period: Any, **options: Any) -> Any:
        """Reconciles the applied concessions of `period` against a BillingBatch; see amends.reconcile.run."""
        from amends import reconcile

        self._sync()
        return reconcile.run(self, billing, period, **options)

    def reconciliation_runs(self) -> list[dict[str, Any]]:
        self._sync()
        runs = self._core.runs()
        for r in runs:
            r["at"] = _utc(r["at"])
        return list(runs)

    # ------------------------------------------------------------------ reading

    def get(self, id: str) -> Request:
        self._sync()
        return Request._of(self._core.get(id))

    def requests(self, state: str | None = None) -> list[Request]:
        self._sync()
        return [Request._of(self._core.get(i)) for i in self._core.ids(state or "")]

    def pending_for(self, person: str, on: dt.date | str | None = None) -> list[Request]:
        """What `person` may approve now, oldest first (delegation and separation of duties applied)."""
        self._sync()
        return [Request._of(self._core.get(i)) for i in self._core.pending_for(person, _day(on, self._clock))]

    def waiting_for(self, id: str, on: dt.date | str | None = None) -> list[str]:
        self._sync()
        return list(self._core.waiting_for(id, _day(on, self._clock)))

    def explain(self, id: str) -> str:
        """Why the request is where it is: findings, the rules that did and did not match, the chain."""
        self._sync()
        return str(self._core.explain(id))

    def audit_events(self) -> list[dict[str, Any]]:
        self._sync()
        keys = ("seq", "at", "actor", "request", "event", "details", "hash")
        return [dict(zip(keys, (e[0], _utc(e[1]), *e[2:]))) for e in self._core.audit_events()]

    def outbox(self) -> list[dict[str, Any]]:
        self._sync()
        out = self._core.outbox()
        for n in out:
            n["created_at"] = _utc(n["created_at"])
        return list(out)

    def verify_audit(self, *, checkpoint: dict[str, Any] | None = None, key: bytes | str | None = None) -> dict[str, Any]:
        """Recomputes the hash chain of the audit trail (for a Book: as read afresh from the database, and checked
        against the book's audit head, every request's anchor and a checkpoint if given, as amends.verify_audit),
        and checks every request against the core: {ok, events, first_bad, problem, findings}, and for a Book
        also kind, last_hash, head, anchored and checkpoint. A finding names a request whose stored record does
        not read back or whose route its policy would no longer give; the book still opens."""
        if isinstance(self.book, Book):
            result = verify_audit(self.book.dsn, self.book.name, checkpoint=checkpoint, key=key)
        else:
            if checkpoint is not None:
                raise _core.InvalidArgument("a checkpoint is of a book in PostgreSQL; this desk is in memory")
            result = dict(self._core.verify_audit())
        self._sync()
        result["findings"] = list(self._core.check_records())
        return result


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
    from amends.book import _default_dsn

    if isinstance(key, str):
        key = key.encode()
    return dict(_core.verify_audit(dsn or _default_dsn(), book, checkpoint, key, records))
