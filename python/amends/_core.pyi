"""Type stubs for amends._core, the compiled core of amends (pybind11).

Amounts cross as decimal.Decimal, int or str (a float or a bool is a
TypeError at run time); the ledger gives amounts back as decimal.Decimal written
with the currency's minor digits. Dates cross as datetime.date or "YYYY-MM-DD" (a
datetime.datetime is a TypeError at run time).

Checked against the module by `python -m mypy.stubtest amends._core`.
"""

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, TypeAlias, TypedDict, overload, type_check_only

import numpy as np
import numpy.typing as npt
from typing_extensions import Never

# ---------------------------------------------------------------- value aliases

_Amount: TypeAlias = Decimal | int | str
_DateLike: TypeAlias = datetime.date | str
# A date, "YYYY-MM-DD", "YYYY-MM" (that period's last day) or a Period.
_AsOf: TypeAlias = datetime.date | str | Period | None
# A Period, "YYYY-MM" or a date (the period containing it).
_PeriodLike: TypeAlias = Period | str | datetime.date
# (account, amount) or (account, amount, currency); a list of the same works too.
_Posting: TypeAlias = tuple[str, _Amount] | tuple[str, _Amount, str | None] | list[Any]

__version__: Final[str]
SCALE_DIGITS: Final[int]
ROUNDING_MODES: Final[tuple[str, ...]]

@type_check_only
class _pybind11_type(type):
    """The metaclass of every pybind11 class (pybind11_builtins.pybind11_type)."""

# ---------------------------------------------------------------- exceptions

class AmendsError(Exception):
    """Root of every error amends raises."""

class ParseError(AmendsError, ValueError):
    """Text that does not parse (amount, date, CSV)."""

class AmountOverflow(AmendsError, ArithmeticError):
    """Arithmetic beyond the exact range."""

class InvalidArgument(AmendsError, ValueError):
    """A value the operation does not accept."""

class InvalidText(InvalidArgument):
    """Text no back end can keep (a NUL byte), naming the field; nothing changed."""

class UnknownCurrency(AmendsError, ValueError):
    """Not an ISO 4217 currency code."""

class CurrencyMismatch(AmendsError, ValueError):
    """Amounts in different currencies."""

class AmountTooPrecise(AmendsError, ValueError):
    """An amount finer than its currency's minor unit."""

class InvalidEntry(AmendsError):
    """An entry the ledger refuses."""

class UnbalancedEntry(InvalidEntry):
    """Postings that do not sum to zero per currency."""

class UnknownAccount(AmendsError):
    """No account by that name or id."""

class AccountClosed(AmendsError):
    """A closed account takes no postings."""

class AccountExists(AmendsError):
    """An account by that name exists already."""

class PeriodClosed(AmendsError):
    """A closed period takes no postings."""

class PeriodLocked(AmendsError):
    """A locked period takes postings only with an override."""

class InvalidPeriodTransition(AmendsError):
    """A period state change not allowed."""

class BalanceLimitExceeded(AmendsError):
    """A posting that would breach a balance limit."""

class IdempotencyConflict(AmendsError):
    """An idempotency key reused for different content."""

class EntryNotFound(AmendsError, LookupError):
    """No entry with that id."""

class AlreadyReversed(AmendsError):
    """An entry can be reversed once."""

class PendingStateError(AmendsError):
    """A two-phase operation on an entry in the wrong state."""

class BatchTooLarge(AmendsError):
    """A batch beyond the maximum size."""

class AmendsIOError(AmendsError, OSError):
    """A file amends could not read or write."""

class StoreError(AmendsError):
    """PostgreSQL unreachable, a lost connection, or a write the database refused; nothing half-written."""

class SchemaError(StoreError):
    """A database without the amends schema, or with an older or newer one than this amends; or a migration refused (not the owner) or failed."""

class InvalidName(InvalidArgument):
    """A person's name that is not UTF-8, holds a control character, or is blank."""

class NotAuthorised(AmendsError, PermissionError):
    """An action the logged-in person may not take (no person bound to the login, not an admin, a caller-chosen clock in a book that keeps the database's); nothing changed."""

class Impersonation(NotAuthorised):
    """An action in someone else's name: the actor is not the person the login is bound to; nothing changed."""

class PolicyError(AmendsError):
    """A policy file that does not parse or hold together."""

class ApprovalError(AmendsError):
    """An approval the chain refuses: not the person's to give, or against separation of duties."""

class BudgetExceeded(BalanceLimitExceeded):
    """No budget, or not enough of a hard one, for an approval."""

class NotFound(AmendsError, LookupError):
    """No request, charge, budget or policy version of that name."""

class RequestStateError(AmendsError):
    """A request moved in a way its lifecycle does not allow."""

class CloseRefused(AmendsError):
    """A period close that would strand approved, unapplied concessions."""

# ---------------------------------------------------------------- money

class CurrencyInfo(metaclass=_pybind11_type):
    """An ISO 4217 currency: code, numeric code, minor units, name.

    Made by currency() and currencies(); it has no public constructor.
    """

    # At run time pybind11's default __init__ takes anything and raises
    # TypeError("No constructor defined!"); Never refuses every argument.
    def __init__(self, *args: Never, **kwargs: Never) -> None: ...

    @property
    def code(self) -> str: ...
    @property
    def numeric(self) -> int: ...
    @property
    def minor_units(self) -> int: ...
    @property
    def name(self) -> str: ...

def currency(code: str) -> CurrencyInfo:
    """The ISO 4217 currency with this alphabetic code; UnknownCurrency otherwise."""

def currencies() -> list[CurrencyInfo]:
    """Every ISO 4217 currency amends knows, ordered by code."""

def round_amount(amount: _Amount, places: int, rounding: str = "half_even") -> Decimal:
    """Rounds to `places` fraction digits with a named rounding mode."""

def multiply(amount: _Amount, rate: _Amount, currency: str, rounding: str = "half_even") -> Decimal:
    """amount * rate (a percentage as 0.15, a factor), rounded to the currency's minor units."""

def convert(
    amount: _Amount, from_currency: str, to_currency: str, rate: _Amount, rounding: str = "half_even"
) -> Decimal:
    """Converts at `rate` units of to_currency per unit of from_currency, rounded to the target's minor units."""

def allocate(
    total: _Amount, weights: Iterable[_Amount], currency: str | None = None, places: int | None = None
) -> list[Decimal]:
    """Splits total by weights into parts that sum exactly to it (largest remainder, ties to the earlier part)."""

def allocate_evenly(total: _Amount, parts: int, currency: str) -> list[Decimal]:
    """Splits total into `parts` near-equal parts summing exactly to it."""

# ---------------------------------------------------------------- calendar

class Period(metaclass=_pybind11_type):
    """A calendar month used as a posting period, e.g. Period("2026-11")."""

    @overload
    def __init__(self, period: _PeriodLike) -> None: ...
    @overload
    def __init__(self, year: int, month: int) -> None: ...
    @staticmethod
    def of(date: _DateLike) -> Period:
        """The period containing a date."""

    @staticmethod
    def range(first: _PeriodLike, last: _PeriodLike) -> list[Period]:
        """Every period from first to last, inclusive."""

    @property
    def year(self) -> int: ...
    @property
    def month(self) -> int: ...
    @property
    def first_day(self) -> datetime.date: ...
    @property
    def last_day(self) -> datetime.date: ...
    def contains(self, date: _DateLike) -> bool: ...
    def next(self) -> Period: ...
    def previous(self) -> Period: ...
    def __add__(self, months: int, /) -> Period: ...
    @overload
    def __sub__(self, months: int, /) -> Period: ...
    @overload
    def __sub__(self, other: Period, /) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __lt__(self, other: Period, /) -> bool: ...
    def __le__(self, other: Period, /) -> bool: ...
    def __gt__(self, other: Period, /) -> bool: ...
    def __ge__(self, other: Period, /) -> bool: ...
    def __hash__(self) -> int: ...

class FiscalCalendar(metaclass=_pybind11_type):
    """Fiscal years of twelve periods from start_month, named by the calendar year they end in."""

    def __init__(self, start_month: int = 1) -> None: ...
    @property
    def start_month(self) -> int: ...
    def fiscal_year(self, period: _PeriodLike) -> int: ...
    def fiscal_quarter(self, period: _PeriodLike) -> int: ...
    def fiscal_month(self, period: _PeriodLike) -> int: ...
    def periods(self, fiscal_year: int) -> list[Period]: ...
    def quarter_periods(self, fiscal_year: int, quarter: int) -> list[Period]: ...
    def quarter_label(self, period: _PeriodLike) -> str: ...

# ---------------------------------------------------------------- plain records the ledger returns

@type_check_only
class _AccountRecord(TypedDict):
    id: int
    name: str
    type: str
    currency: str
    dimensions: dict[str, str]
    min_normal_balance: Decimal | None
    max_normal_balance: Decimal | None
    closed: bool

@type_check_only
class _EntryRecord(TypedDict):
    id: int
    date: datetime.date
    status: str
    description: str
    idempotency_key: str | None
    metadata: dict[str, str]
    postings: list[tuple[str, Decimal, str]]
    reverses: int | None
    reversed_by: int | None
    completes: int | None
    completed_by: int | None
    expires_on: datetime.date | None
    resolved_on: datetime.date | None
    reason: str | None

@type_check_only
class _BatchRecord(TypedDict):
    ids: npt.NDArray[np.uint64]
    failures: list[tuple[int, str, str]]
    created: int
    existing: int

@type_check_only
class _LoadRecord(TypedDict):
    entries_posted: int
    entries_existing: int
    postings: int
    accounts_opened: int
    failures: list[tuple[int, str, str]]

@type_check_only
class _PostingColumns(TypedDict):
    entry_id: npt.NDArray[np.int64]
    date: npt.NDArray[np.object_]
    account_codes: npt.NDArray[np.int32]
    account_names: list[str]
    amount: npt.NDArray[np.object_]
    currency_codes: npt.NDArray[np.int32]
    currency_names: list[str]
    status_codes: npt.NDArray[np.int32]
    status_names: list[str]

# ---------------------------------------------------------------- ledger

class Ledger(metaclass=_pybind11_type):
    """An in-memory double-entry ledger (one book)."""

    def __init__(self, base_currency: str = "USD", fiscal_year_start_month: int = 1, name: str = "main") -> None: ...
    @property
    def base_currency(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def fiscal_calendar(self) -> FiscalCalendar: ...
    @property
    def entry_count(self) -> int: ...
    @property
    def posting_count(self) -> int: ...
    @property
    def account_count(self) -> int: ...

    # Accounts.
    def _create_account(
        self,
        name: str,
        type: str,
        currency: str | None,
        dimensions: Mapping[str, str],
        min_normal_balance: _Amount | None,
        max_normal_balance: _Amount | None,
        /,
    ) -> _AccountRecord: ...
    def _account(self, name: str, currency: str | None = None) -> _AccountRecord: ...
    def _accounts(self) -> list[_AccountRecord]: ...
    def has_account(self, name: str) -> bool: ...
    def close_account(self, name: str, currency: str | None = None) -> None:
        """Closes an account; it must hold no balance and no open reservations."""

    def set_balance_limit(
        self,
        name: str,
        min_normal_balance: _Amount | None = None,
        max_normal_balance: _Amount | None = None,
        currency: str | None = None,
    ) -> None: ...

    # Periods.
    def period_state(self, period: _PeriodLike) -> str: ...
    def set_period_state(self, period: _PeriodLike, state: str) -> None: ...
    def lock_period(self, period: _PeriodLike) -> None:
        """Locks a period: postings into it then need allow_locked_period=True."""

    def unlock_period(self, period: _PeriodLike) -> None: ...
    def close_period(self, period: _PeriodLike) -> None:
        """Closes a period for good: it takes no postings again."""

    # Posting.
    def post(
        self,
        date: _DateLike,
        postings: Iterable[_Posting],
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
        metadata: dict[str, str] | None = None,
        allow_locked_period: bool = False,
    ) -> int:
        """Posts a balanced entry and returns its id; with an idempotency key a repeat returns the same id."""

    def reserve(
        self,
        date: _DateLike,
        postings: Iterable[_Posting],
        *,
        expires_on: _DateLike | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
        metadata: dict[str, str] | None = None,
        allow_locked_period: bool = False,
    ) -> int:
        """Reserves a two-phase entry in pending balances; post_pending, void_pending or expiry resolves it."""

    def post_pending(
        self,
        entry_id: int,
        date: _DateLike,
        amounts: dict[str, _Amount] | Iterable[_Amount] | None = None,
        *,
        description: str | None = None,
        allow_locked_period: bool = False,
    ) -> int:
        """Posts a reservation in full, or in part with amounts per posting (list) or per account (dict)."""

    def void_pending(self, entry_id: int, date: _DateLike, reason: str) -> None: ...
    def expire_pending(self, as_of: _DateLike) -> list[int]:
        """Releases every reservation whose expiry date is on or before as_of; returns their ids."""

    def reverse(self, entry_id: int, date: _DateLike, reason: str, *, allow_locked_period: bool = False) -> int:
        """Posts the mirror of an entry and links the two; an entry can be reversed once."""

    # Batches and loads (amends.Ledger.post_batch and load_csv wrap these).
    def _post_entries(self, entries: list[dict[str, Any]], atomic: bool, /) -> _BatchRecord: ...
    def _post_columns(
        self,
        key_codes: npt.ArrayLike,
        keys: Sequence[str],
        days: npt.ArrayLike,
        account_codes: npt.ArrayLike,
        account_names: Sequence[str],
        currency_codes: npt.ArrayLike,
        currency_names: Sequence[str],
        amounts: npt.NDArray[Any],
        amount_minor_units: int,
        descriptions: npt.NDArray[np.object_] | None,
        atomic: bool,
        open_missing_accounts: bool,
        /,
    ) -> _BatchRecord: ...
    def _load_csv(self, path: str, open_missing_accounts: bool, key_prefix: str, atomic: bool, /) -> _LoadRecord: ...

    # Entries.
    def _entry(self, entry_id: int, /) -> _EntryRecord: ...
    def find_by_key(self, idempotency_key: str) -> int | None:
        """The id of the entry with this idempotency key, or None."""

    # Queries.
    def balance(self, account: str, as_of: _AsOf = None, *, currency: str | None = None) -> Decimal:
        """Posted balance (debit positive) as of a date or period end, inclusive; None means everything so far.
        currency picks one when the name is open in several currencies."""

    def _balance_detail(
        self, account: str, as_of: _AsOf, currency: str | None, /
    ) -> tuple[Decimal, Decimal, Decimal, Decimal, str]: ...
    def rollup(self, prefix: str, as_of: _AsOf = None) -> dict[str, Decimal]:
        """Sum of every account at or below a name prefix (whole segments), per currency."""

    def _balances_by_dimension(
        self, dimension: str, as_of: _AsOf, prefix: str, /
    ) -> list[tuple[str, str, Decimal]]: ...
    def _trial_balance(
        self, as_of: _AsOf, /
    ) -> tuple[list[tuple[str, str, str, Decimal, Decimal]], list[tuple[str, Decimal, Decimal]]]: ...
    def _statement(
        self, account: str, start: _DateLike | None, end: _DateLike | None, currency: str | None, /
    ) -> tuple[Decimal, list[tuple[datetime.date, int, str, Decimal, Decimal]], Decimal, str]: ...
    def _activity(
        self, first: _PeriodLike | None, last: _PeriodLike | None, /
    ) -> list[tuple[str, str, str, Decimal, Decimal, Decimal]]: ...
    def _balance_report(self, as_of: _AsOf, /) -> list[tuple[str, int, str, Decimal]]: ...
    def _journal(self) -> str: ...
    def _write_journal(self, path: str, /) -> None: ...
    def _postings(self) -> _PostingColumns: ...

# ---------------------------------------------------------------- the PostgreSQL store

SCHEMA_VERSION: Final[int]

def read_postings(dsn: str, book: str) -> _PostingColumns:
    """Every posting of a book, read by COPY into columns (the shape of Ledger._postings)."""

def migrate(dsn: str) -> list[int]:
    """Applies the schema migrations the database lacks, as its owner; returns the versions applied."""

class Store(metaclass=_pybind11_type):
    """A book in PostgreSQL; amends.open() wraps it."""

    def __init__(
        self,
        dsn: str,
        name: str = "main",
        base_currency: str = "USD",
        fiscal_year_start_month: int = 1,
        create_if_missing: bool = True,
        use_app_role: bool = True,
        simulation: bool | None = None,
        first_person: str = "",
        on_behalf_of: str = "",
    ) -> None: ...
    @property
    def simulation(self) -> bool: ...
    @property
    def login(self) -> str: ...
    @property
    def service(self) -> bool: ...
    @property
    def person(self) -> str | None: ...
    def write_time(self) -> int:
        """Inside a write: its time by the database's clock, in microseconds since 1970."""

    def people(self) -> list[dict[str, Any]]:
        """The people of the book, with the logins bound to each."""

    def add_person(
        self,
        name: str,
        display_name: str = "",
        roles: list[str] = ...,
        teams: list[str] = ...,
        active: bool = True,
        login: str = "",
    ) -> None:
        """Adds a person to the book or changes one (an admin's; audited); with login, binds it to them."""

    def bind_login(self, login: str, person: str) -> None:
        """Binds a login to a person of the book (an admin's; audited)."""

    @property
    def book_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def base_currency(self) -> str: ...
    @property
    def fiscal_year_start_month(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def in_write(self) -> bool: ...
    def attach(self, ledger: Ledger) -> None:
        """Loads the book into an empty ledger, which it then keeps in step; the ledger must outlive the store (amends.Book holds its store)."""

    def close(self) -> None:
        """Closes the connection; the next operation opens a new one."""

    def sync(self) -> None:
        """Catches the ledger up with what other sessions committed."""

    def write(self, operation: str, op: Callable[[], Any]) -> Any:
        """Runs op() on the ledger in one write transaction and writes what it changed."""

    def reload(self) -> None:
        """Reloads the ledger from the database."""

    def _simulate_connection_loss_at_commit(self, after_commit_sent: bool) -> None:
        """Test hook: the next commit loses its connection, before or after COMMIT is sent."""

# ---------------------------------------------------------------- approval policies (amends.Policy wraps these)

class _Policy(metaclass=_pybind11_type):
    """An approval policy (amends.Policy wraps it)."""

    def __init__(self, *args: Never, **kwargs: Never) -> None: ...
    @staticmethod
    def parse(text: str) -> _Policy: ...
    @staticmethod
    def load(path: str) -> _Policy: ...
    @staticmethod
    def check(text: str) -> list[dict[str, Any]]: ...
    @property
    def version(self) -> str: ...
    @property
    def base_currency(self) -> str: ...
    @property
    def rule_names(self) -> list[str]: ...
    def people_for(self, role: str, on: _DateLike) -> list[str]: ...
    def route(self, kind: str, amount: _Amount, tier: str, exceptions: Sequence[str] = []) -> dict[str, Any]: ...

class _ApprovalChain(metaclass=_pybind11_type):
    """The approval chain of one routed request."""

    def __init__(
        self,
        policy: _Policy,
        kind: str,
        amount: _Amount,
        tier: str,
        exceptions: Sequence[str],
        requester: str,
        started_at: int,
    ) -> None: ...
    def approve(self, person: str, on: _DateLike, at: int, comment: str = "") -> bool: ...
    @property
    def complete(self) -> bool: ...
    @property
    def current_step(self) -> int: ...
    def waiting_for(self, on: _DateLike) -> list[str]: ...
    def escalate_due(self, now: int) -> list[tuple[int, str]]: ...
    def approvals(self) -> list[list[tuple[str, str, int, str, bool]]]: ...

# ---------------------------------------------------------------- the concession desk

KINDS: tuple[str, ...]

class Request(metaclass=_pybind11_type):
    """A concession request as the desk holds it now (amends.Request); read-only, made by the core."""
    _fields: tuple[str, ...]
    def __init__(self, *args: Never, **kwargs: Never) -> None: ...  # made by the core only
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def customer(self) -> str: ...
    @property
    def tier(self) -> str: ...
    @property
    def requester(self) -> str: ...
    @property
    def team(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def justification(self) -> str: ...
    @property
    def evidence(self) -> list[str]: ...
    @property
    def requested(self) -> Decimal | None: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def currency(self) -> str: ...
    @property
    def base_amount(self) -> Decimal: ...
    @property
    def conversion(self) -> str: ...
    @property
    def service_period(self) -> str | None: ...
    @property
    def policy_version(self) -> str | None: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def blocked(self) -> str | None: ...
    @property
    def incomplete(self) -> str | None: ...
    @property
    def findings(self) -> list[dict[str, str]]: ...
    @property
    def steps(self) -> list[dict[str, Any]]: ...
    @property
    def reservation(self) -> int | None: ...
    @property
    def entries(self) -> list[int]: ...
    @property
    def posting_period(self) -> str | None: ...
    @property
    def out_of_period(self) -> bool: ...
    @property
    def accrued(self) -> bool: ...
    @property
    def alternatives(self) -> list[str]: ...
    @property
    def history(self) -> list[dict[str, Any]]: ...
    @property
    def created_at(self) -> datetime.datetime: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: None  # type: ignore[assignment]

class Utilisation(metaclass=_pybind11_type):
    """A budget: allocated, reserved, consumed and available (amends.Utilisation); read-only, made by the core."""
    _fields: tuple[str, ...]
    def __init__(self, *args: Never, **kwargs: Never) -> None: ...  # made by the core only
    @property
    def owner(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def period(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def hard(self) -> bool: ...
    @property
    def allocated(self) -> Decimal: ...
    @property
    def reserved(self) -> Decimal: ...
    @property
    def consumed(self) -> Decimal: ...
    @property
    def available(self) -> Decimal: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: None  # type: ignore[assignment]


class _Desk(metaclass=_pybind11_type):
    """The concession desk of a ledger (amends.Desk wraps it)."""

    def __init__(self, ledger: Ledger) -> None: ...
    def publish_policy(self, text: str, actor: str, at: int) -> str: ...
    @property
    def policy_version(self) -> str: ...
    def policy_versions(self) -> list[str]: ...
    def policy_text(self, version: str) -> str: ...
    def set_rate(self, currency: str, day: _DateLike, rate: _Amount) -> None: ...
    def to_base(self, amount: _Amount, currency: str, day: _DateLike) -> Decimal: ...
    def record_charge(
        self, id: str, customer: str, amount: _Amount, currency: str, day: _DateLike, refunded: _Amount | None = None
    ) -> None: ...
    def allocate(self, owner: str, kind: str, period: _PeriodLike, amount: _Amount, hard: bool, on: _DateLike,
                 actor: str = "amends", at: int | None = None) -> int: ...
    def utilisation(self, owner: str, kind: str, period: _PeriodLike) -> Utilisation: ...
    def budgets(self) -> list[Utilisation]: ...
    def submit(self, content: dict[str, Any], at: int, submit: bool = True, id: str = "") -> Request: ...
    def amend(self, id: str, changes: dict[str, Any], actor: str, at: int) -> Request: ...
    def check_records(self) -> list[dict[str, str]]: ...
    def resubmit(self, id: str, actor: str, at: int) -> Request: ...
    def approve(self, id: str, person: str, at: int, comment: str = "") -> Request: ...
    def decline(self, id: str, person: str, at: int, comment: str, alternatives: Sequence[str] = []) -> Request: ...
    def return_for_information(self, id: str, person: str, at: int, comment: str) -> Request: ...
    def cancel(self, id: str, actor: str, at: int, reason: str) -> Request: ...
    def expire(self, id: str, at: int, reason: str) -> Request: ...
    def apply(self, id: str, actor: str, at: int) -> Request: ...
    def approve_and_apply(self, approvals: Sequence[tuple[str, str]], actor: str, at: int) -> None: ...
    def reconcile(self, id: str, actor: str, at: int, reference: str) -> Request: ...
    def escalate_due(self, now: int) -> list[str]: ...
    def find_run(self, inputs_sha256: str) -> int | None: ...
    def runs(self) -> list[dict[str, Any]]: ...
    def close_period(self, period: _PeriodLike, actor: str, at: int, accrue: bool = False) -> dict[str, Any]: ...
    def get(self, id: str) -> Request: ...
    def contains(self, id: str) -> bool: ...
    def ids(self, state: str = "") -> list[str]: ...
    def pending_for(self, person: str, on: _DateLike) -> list[str]: ...
    def waiting_for(self, id: str, on: _DateLike) -> list[str]: ...
    def explain(self, id: str) -> str: ...
    def audit_events(self) -> list[tuple[int, int, str, str, str, str, str]]: ...
    def verify_audit(self) -> dict[str, Any]: ...
    def outbox(self) -> list[dict[str, Any]]: ...

class _DeskStore(metaclass=_pybind11_type):
    """Keeps a desk in step with its book in PostgreSQL."""

    def __init__(self, store: Store, desk: _Desk) -> None: ...

def verify_audit(dsn: str, book: str, checkpoint: dict[str, Any] | None = None,
                 key: bytes | None = None, records: bool = False) -> dict[str, Any]:
    """Reads a book's audit trail afresh from PostgreSQL and verifies its hash chain, its head and its request
    anchors; given a checkpoint (whose signature must verify under key), that the event it names still has its hash;
    with records, when it verifies, also checks every request record (findings)."""

def sign_checkpoint(checkpoint: dict[str, Any], key: bytes) -> str:
    """The HMAC-SHA256 signature (hex) of a checkpoint {book, seq, hash, at_micros} under key."""

def check_checkpoint(checkpoint: dict[str, Any], key: bytes) -> None:
    """Raises InvalidArgument unless the checkpoint's signature verifies under key."""

RECONCILE_OUTCOMES: list[str]
RECONCILE_PASSES: list[str]
RECONCILE_ACTIONS: list[str]
RECONCILE_EXCEPTIONS: list[str]
BILLING_STATUSES: list[str]
RECONCILE_CHECKSUM_SCHEME: int
RECONCILE_LEDGER_COLUMNS: list[str]
RECONCILE_BILLING_COLUMNS: list[str]

class _ReconcileReport(metaclass=_pybind11_type):
    """A match's report: reasons, corrections, summary; and what a run records."""

    def __init__(self, *args: Never, **kwargs: Never) -> None: ...
    @property
    def texts(self) -> list[str]: ...
    def reason_index(self, billing: bool) -> npt.NDArray[np.int32]: ...
    def counterpart(self, billing: bool) -> npt.NDArray[np.int64]:
        """Each item's counterpart as a position among the ledger items followed by the billing items; -1: none."""
    def corrections(self) -> dict[str, list[Any]]: ...
    @property
    def summary_json(self) -> str: ...
    @property
    def exceptions(self) -> int: ...
    @property
    def ok(self) -> bool: ...
    def record(
        self,
        desk: _Desk,
        source: str,
        first: _DateLike,
        last: _DateLike,
        parameters: str,
        inputs_sha256: str,
        actor: str,
        at: int,
    ) -> int:
        """Records the run on the desk unless one of these inputs is recorded already; returns the run's id."""

def reconcile_match_report(
    ledger: dict[str, Any],
    billing: dict[str, Any],
    ledger_text: dict[str, Any],
    billing_text: dict[str, Any],
    amount_tolerance: int = 0,
    days: int = 3,
    splits: bool = True,
    reference_needs_customer: bool = False,
    threads: int = 0,
    allow_empty_billing: bool = False,
    billing_name: str = "",
) -> dict[str, Any]:
    """reconcile_match, and the report of its result: the text columns (object arrays) name the items
    (ledger: id, customer, currency; billing: also object, raw_status, reference)."""

def reconcile_parameters(
    amount_tolerance_minor: int, days: int, splits: bool, first: _DateLike, last: _DateLike, source: str, allow_empty: bool
) -> str:
    """A run's parameters as canonical JSON (amends/reconcile_report.hpp)."""

def reconcile_checksum(parameters: str, ledger: dict[str, Any], billing: dict[str, Any]) -> str:
    """SHA-256 of a run's inputs by the encoding of amends/reconcile_report.hpp: amount_minor int64, date as int32
    days since 1970-01-01, every other column text."""

def reconcile_ledger_items(desk: _Desk, first: _DateLike, last: _DateLike) -> dict[str, Any]:
    """The ledger side of a period: the desk's applied (or reconciled) requests whose application is dated
    first..last (UTC), in id order; day: days since 1970-01-01."""

def reconcile_match(
    ledger: dict[str, Any],
    billing: dict[str, Any],
    amount_tolerance: int = 0,
    days: int = 3,
    splits: bool = True,
    reference_needs_customer: bool = False,
    threads: int = 0,
    allow_empty_billing: bool = False,
    billing_name: str = "",
) -> dict[str, dict[str, npt.NDArray[Any]]]:
    """Matches coded ledger and billing columns; returns per side outcome, pass, counterpart and difference arrays.
    threads: 0 is what the machine has (at most 8); the result is the same for any number.
    An empty billing side is refused (InvalidArgument, naming billing_name) unless allow_empty_billing."""

# ---------------------------------------------------------------- people's names (amends.names wraps these)

def normalise_name(name: str) -> str:
    """The comparison key of a person's name; raises InvalidName for a name that is not one."""

def same_person(a: str, b: str) -> bool:
    """Whether two names are the same person (their keys are equal)."""
