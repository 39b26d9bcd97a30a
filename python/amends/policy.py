"""Approval policies: route a request, explain the route, run its approval chain.

    policy = amends.Policy.load("policy.toml")
    for problem in amends.Policy.check_file("policy.toml"):   # every problem at once; [] when valid
        print(problem)                                         # line 12: rules[1] (goodwill): unknown key ...
    route = policy.route("goodwill", "400.00", tier="growth")
    print(route.explain())
    chain = policy.chain("goodwill", "400.00", tier="growth", requester="maria", started_at=now)
    chain.approve("lena", at=now)

The rules live in the compiled core (amends/policy.hpp, amends/approvals.hpp);
see there for the TOML shape. Times are timezone-aware datetimes (the caller's
clock, so scheduled jobs and tests control it).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any, Iterable

from amends import _core

__all__ = ["ApprovalChain", "Policy", "Problem", "Route", "Step"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _micros(at: dt.datetime) -> int:
    if not isinstance(at, dt.datetime) or at.tzinfo is None:
        raise TypeError(f"times are timezone-aware datetimes (e.g. datetime.now(timezone.utc)), not {at!r}")
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Step:
    all_of: bool
    roles: tuple[str, ...]
    escalate_after_hours: int | None
    escalate_to: str | None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy file: its line and column, the table or key, and what to fix."""

    line: int
    column: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.where + ': ' if self.where else ''}{self.message}"


@dataclass(frozen=True)
class Route:
    """Where a request goes: auto_approved, needs_approval (with steps) or blocked (with the reason)."""

    policy_version: str
    outcome: str
    rule: str | None
    steps: tuple[Step, ...]
    reason: str | None
    explanation: tuple[str, ...]

    def explain(self) -> str:
        """Why the route is what it is, rule by rule, in words an auditor can read."""
        return "\n".join(self.explanation)


class ApprovalChain:
    """The approval steps of one routed request, with separation of duties, delegation and escalation."""

    def __init__(self, core: Any) -> None:
        self._core = core

    def approve(self, person: str, at: dt.datetime, comment: str = "") -> bool:
        """Records `person`'s approval of the current step; True when the chain is then complete."""
        return bool(self._core.approve(person, at.date(), _micros(at), comment))

    def waiting_for(self, on: dt.date) -> list[str]:
        """Who may approve the current step on that day."""
        return list(self._core.waiting_for(on))

    def escalate_due(self, now: dt.datetime) -> list[tuple[int, str]]:
        """Escalates a current step that has waited past its hours; returns (step, role) for each."""
        return [(int(step), str(role)) for step, role in self._core.escalate_due(_micros(now))]

    @property
    def complete(self) -> bool:
        return bool(self._core.complete)

    @property
    def current_step(self) -> int:
        return int(self._core.current_step)


class Policy:
    """A versioned approval policy read from TOML."""

    def __init__(self, core: Any) -> None:
        self._core = core

    @classmethod
    def parse(cls, text: str) -> Policy:
        return cls(_core._Policy.parse(text))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Policy:
        return cls(_core._Policy.load(os.fspath(path)))

    @staticmethod
    def check(text: str) -> list[Problem]:
        """Every problem of a policy's TOML text, in line order; [] when parse() accepts it."""
        if not isinstance(text, str):
            raise TypeError(f"check takes the policy's text (check_file takes a path), not {type(text).__name__}")
        return [Problem(int(p["line"]), int(p["column"]), str(p["where"]), str(p["message"]))
                for p in _core._Policy.check(text)]

    @staticmethod
    def check_file(path: str | os.PathLike[str]) -> list[Problem]:
        """Every problem of a policy file, in line order; [] when load() accepts it."""
        try:
            with open(os.fspath(path), encoding="utf-8") as file:
                text = file.read()
        except OSError as error:
            raise _core.AmendsIOError(f"can't read the policy file {os.fspath(path)}: {error.strerror or error}") from error
        except UnicodeDecodeError as error:
            raise _core.AmendsIOError(f"the policy file {os.fspath(path)} is not UTF-8 text: {error}") from error
        return Policy.check(text)

    @property
    def version(self) -> str:
        return str(self._core.version)

    @property
    def base_currency(self) -> str:
        return str(self._core.base_currency)

    @property
    def rules(self) -> list[str]:
        return list(self._core.rule_names)

    def people_for(self, role: str, on: dt.date) -> list[str]:
        """Who acts for a role on a day (delegations applied)."""
        return list(self._core.people_for(role, on))

    def route(self, kind: str, amount: Any, tier: str, exceptions: Iterable[str] = ()) -> Route:
        """The route of a request: amount in the policy's base currency; exceptions are validation finding codes."""
        r = self._core.route(kind, amount, tier, list(exceptions))
        steps = tuple(Step(s["all_of"], tuple(s["roles"]), s["escalate_after_hours"], s["escalate_to"]) for s in r["steps"])
        return Route(r["policy_version"], r["outcome"], r["rule"], steps, r["reason"], tuple(r["explanation"]))

    def chain(self, kind: str, amount: Any, tier: str, requester: str, started_at: dt.datetime,
              exceptions: Iterable[str] = ()) -> ApprovalChain:
        """The approval chain of a request routed to people (ApprovalError otherwise)."""
        return ApprovalChain(_core._ApprovalChain(self._core, kind, amount, tier, list(exceptions), requester,
                                                  _micros(started_at)))
