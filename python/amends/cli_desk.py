"""The concession desk on the command line (wired into `amends` by amends.cli).

    amends policy publish FILE          publish an approval policy (TOML); prints its version
    amends policy check FILE            every problem of a policy file, one a line (exit 2 when any); no database
    amends request submit ...           submit a request; prints it with its route and who it waits for
    amends request show ID [--explain]  one request (--explain: why it is where it is)
    amends request list [--state S]     the requests of the book
    amends request approve|decline|return|apply|cancel|resubmit ID --as WHO ...
    amends request amend ID --as WHO --FIELD VALUE ...   change the fields named, keep every other
    amends approvals pending --approver X   what X may approve now
    amends budgets                      every budget: allocated, reserved, consumed, available
    amends budgets allocate ...         add to a budget
    amends rates set ...                an exchange rate (reference data)
    amends charges record ...           an original charge from billing (what refunds tie to)
    amends period close YYYY-MM --as X [--accrue]   close a period; prints the close report
    amends audit verify [--checkpoint FILE --key-file KEY]
                                        recompute the audit trail's hash chain, check it against the book's
                                        audit head and every request's anchor, and every request against the
                                        core; with a checkpoint, that no event up to it was rewritten
                                        (exit 0 intact, 1 broken or with findings, 2 bad input)
    amends audit checkpoint --key-file KEY [--out FILE]
                                        the chain head (book, seq, hash, time) signed with HMAC-SHA256 under
                                        a key kept outside the database (KEY, else $AMENDS_AUDIT_KEY)
    amends outbox                       the customer notifications
    amends people [add NAME ... | bind LOGIN PERSON]   the people of the book and their logins (admin)
    amends whoami                       the person your login acts as

Who acts: in a real book, the person your PostgreSQL login is bound to;
--as, --requester, --approver and --actor default to that person, and
naming anyone else is refused (exit 1, amends.Impersonation). In a book
created as a simulation they name whoever acts.

Every command takes --dsn (default: $AMENDS_DSN, else the embedded default
cluster) and --book (default: main), and every command that prints takes
--json: one JSON document on stdout, amounts as strings, times in ISO 8601.
Amounts are read as strings and handed to amends as they are: never a float.
Each command opens the book, runs one desk operation and closes the book.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Sequence

import amends
from amends.policy import _micros

# The top-level commands this module runs.
COMMANDS = ("policy", "request", "approvals", "budgets", "rates", "charges", "period", "audit", "outbox", "people", "whoami")

# What `amends audit verify` returns for a broken hash chain.
EXIT_AUDIT_BROKEN = 1

# Optional fields of `request submit`: (option, keyword of Desk.submit, help).
_SUBMIT_FIELDS = (
    ("--tier", "tier", "customer tier (e.g. starter, growth, enterprise)"),
    ("--customer-value", "customer_value", "the customer's value (an amount)"),
    ("--amount", "amount", "the amount asked for (left out: computed, for service credits and retention offers)"),
    ("--currency", "currency", "ISO 4217 code (default USD)"),
    ("--reason", "reason", "reason code"),
    ("--justification", "justification", "free text"),
    ("--service-period", "service_period", "YYYY-MM the concession is for"),
    ("--period-fee", "period_fee", "service credits: the fee of the service period"),
    ("--availability", "availability", "service credits: measured availability, a fraction such as 0.985"),
    ("--charge", "charge", "refunds: the id of the original charge"),
    ("--discount", "discount", "retention offers: the discount, a fraction such as 0.10"),
    ("--monthly-fee", "monthly_fee", "retention offers: the monthly fee"),
    ("--override-reason", "override_reason", "why a policy limit is overridden"),
)


# ------------------------------------------------------------------ output


def _plain(value: Any) -> Any:
    """Value with dataclasses and the core's value classes (their `_fields`) opened up, Decimals as strings and
    times in ISO 8601, ready for json.dumps."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (amends.Request, amends.Utilisation)):  # the core's value classes list their fields
        return {name: _plain(getattr(value, name)) for name in value._fields}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def _print_json(value: Any) -> None:
    print(json.dumps(_plain(value), indent=2, ensure_ascii=False))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
    """An aligned table: numbers (Decimals, ids) right-aligned, everything else left-aligned."""
    if not rows:
        print(empty)
        return
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[i], (Decimal, int)) and not isinstance(row[i], bool) or row[i] is None for row in rows)
               for i in range(len(headers))]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))


def _print_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max(len(name) for name, _ in pairs)
    for name, value in pairs:
        print(f"{name:<{width}}  {_cell(value)}")


def _money(amount: Decimal | None, currency: str) -> str:
    return "-" if amount is None else f"{amount} {currency}"


def _waiting_since(request: amends.Request) -> dt.datetime:
    """When the request's current approval step started waiting: it entered pending_approval, or the step before was done."""
    since = request.created_at
    for event in request.history:
        if event["to"] == "pending_approval":
            since = max(since, event["at"])
    for step in request.steps:
        if step["done"]:
            for approval in step["approvals"]:
                since = max(since, approval["at"])
    return since


def _request_document(desk: amends.Desk, request: amends.Request) -> dict[str, Any]:
    document: dict[str, Any] = _plain(request)
    document["waiting_for"] = desk.waiting_for(request.id) if request.state == "pending_approval" else []
    return document


def _print_request(desk: amends.Desk, request: amends.Request, as_json: bool) -> None:
    if as_json:
        _print_json(_request_document(desk, request))
        return
    pairs: list[tuple[str, Any]] = [
        ("request", request.id),
        ("kind", request.kind),
        ("state", request.state),
        ("customer", f"{request.customer} ({request.tier})" if request.tier else request.customer),
        ("requester", f"{request.requester} ({request.team})"),
        ("amount", _money(request.amount, request.currency)),
    ]
    if request.requested is not None and request.requested != request.amount:
        pairs.append(("requested", _money(request.requested, request.currency)))
    if request.conversion:
        pairs.append(("base amount", f"{request.base_amount} ({request.conversion})"))
    if request.reason:
        pairs.append(("reason", request.reason))
    if request.service_period:
        pairs.append(("service period", request.service_period))
    if request.outcome is not None:
        route = request.outcome
        if request.rule:
            route += f' by rule "{request.rule}"'
        if request.policy_version:
            route += f" (policy {request.policy_version})"
        pairs.append(("route", route))
    if request.blocked:
        pairs.append(("blocked", request.blocked))
    if request.state == "pending_approval":
        pairs.append(("waiting for", ", ".join(desk.waiting_for(request.id)) or "nobody"))
    for step_no, step in enumerate(request.steps, 1):
        done = ", ".join(a["person"] + (f' ("{a["comment"]}")' if a["comment"] else "") for a in step["approvals"])
        status = "done" if step["done"] else ("waiting" if step["current"] else "to come")
        which = "all of" if step["all_of"] else "any of"
        pairs.append((f"step {step_no}", f"{which} {', '.join(step['roles'])}: {status}" + (f"; approved by {done}" if done else "")))
    if request.entries:
        pairs.append(("entries", ", ".join(str(e) for e in request.entries)))
    if request.posting_period:
        flags = [flag for flag, on in (("accrued", request.accrued), ("out of period", request.out_of_period)) if on]
        pairs.append(("posted in", request.posting_period + (f" ({', '.join(flags)})" if flags else "")))
    if request.alternatives:
        pairs.append(("alternatives", "; ".join(request.alternatives)))
    for finding in request.findings:
        pairs.append(("finding", f"{finding['severity']} [{finding['code']}] {finding['message']}"))
    _print_fields(pairs)


def _print_utilisations(budgets: Sequence[Any]) -> None:
    rows = [(u.owner, u.kind, u.period, u.currency, u.hard, u.allocated, u.reserved, u.consumed, u.available) for u in budgets]
    _print_table(["owner", "kind", "period", "currency", "hard", "allocated", "reserved", "consumed", "available"], rows,
                 "no budgets")


# ------------------------------------------------------------------ the commands


def _publish(desk: amends.Desk, args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as error:
        raise amends.AmendsIOError(f"can't read the policy file {args.file}: {error.strerror or error}") from error
    version = desk.publish_policy(text if "\n" in text else text + "\n", args.actor)
    if args.json:
        _print_json({"book": desk.book.name, "version": version})
    else:
        print(f"policy {version} published to book {desk.book.name}")
    return 0


def _check_policy(_: None, args: argparse.Namespace) -> int:
    # Reads the file only: no book, no database.
    problems = amends.Policy.check_file(args.file)
    policy = None if problems else amends.Policy.load(args.file)
    if args.json:
        _print_json({"file": args.file, "ok": not problems,
                     "version": policy.version if policy else None, "rules": len(policy.rules) if policy else None,
                     "problems": [dataclasses.asdict(p) for p in problems]})
    elif policy:
        print(f"ok: policy {policy.version}, {len(policy.rules)} rules")
    else:
        for p in problems:
            print(f"{args.file}:{p.line}: {p.where + ': ' if p.where else ''}{p.message}")
    return 2 if problems else 0


def _submit(desk: amends.Desk, args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    for _, name, _ in _SUBMIT_FIELDS:
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    if args.evidence:
        fields["evidence"] = list(args.evidence)
    if args.months is not None:
        fields["months"] = args.months
    if args.changes_contract:
        fields["changes_contract"] = True
    request = desk.submit(kind=args.kind, customer=args.customer, requester=args.requester, team=args.team,
                          draft=args.draft, **fields)
    _print_request(desk, request, args.json)
    return 0


def _amend(desk: amends.Desk, args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    for _, name, _ in _SUBMIT_FIELDS:
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    if args.evidence is not None:
        fields["evidence"] = list(args.evidence)
    if args.months is not None:
        fields["months"] = args.months
    if args.changes_contract is not None:
        fields["changes_contract"] = args.changes_contract == "yes"
    _print_request(desk, desk.amend(args.id, args.actor, **fields), args.json)
    return 0


def _show(desk: amends.Desk, args: argparse.Namespace) -> int:
    request = desk.get(args.id)
    if args.json:
        document = _request_document(desk, request)
        if args.explain:
            document["explanation"] = desk.explain(args.id)
        _print_json(document)
    elif args.explain:
        sys.stdout.write(desk.explain(args.id).rstrip("\n") + "\n")
    else:
        _print_request(desk, request, False)
    return 0


def _list(desk: amends.Desk, args: argparse.Namespace) -> int:
    requests = desk.requests(args.state)
    if args.json:
        _print_json([_request_document(desk, r) for r in requests])
        return 0
    rows = [(r.id, r.kind, r.state, r.customer, r.amount, r.currency, r.requester, r.rule, r.created_at) for r in requests]
    what = f"no {args.state} requests" if args.state else "no requests"
    _print_table(["id", "kind", "state", "customer", "amount", "currency", "requester", "rule", "created"], rows,
                 f"{what} in book {desk.book.name}")
    return 0


def _lifecycle(call: Callable[[amends.Desk, argparse.Namespace], amends.Request]) -> Callable[[amends.Desk, argparse.Namespace], int]:
    def run(desk: amends.Desk, args: argparse.Namespace) -> int:
        _print_request(desk, call(desk, args), args.json)
        return 0

    return run


def _pending(desk: amends.Desk, args: argparse.Namespace) -> int:
    if args.approver is None:
        args.approver = desk._actor(None)
    requests = desk.pending_for(args.approver, args.on)
    rows = [(r.id, r.kind, r.customer, r.amount, r.currency, _waiting_since(r), r.rule) for r in requests]
    if args.json:
        keys = ("id", "kind", "customer", "amount", "currency", "waiting_since", "rule")
        document = [dict(zip(keys, row), requester=r.requester, state=r.state) for row, r in zip(rows, requests)]
        _print_json({"approver": args.approver, "pending": document})
        return 0
    _print_table(["id", "kind", "customer", "amount", "currency", "waiting since", "rule"], rows,
                 f"nothing waiting for {args.approver}")
    return 0


def _budgets(desk: amends.Desk, args: argparse.Namespace) -> int:
    budgets = desk.budgets()
    if args.json:
        _print_json(budgets)
    else:
        _print_utilisations(budgets)
    return 0


def _allocate(desk: amends.Desk, args: argparse.Namespace) -> int:
    entry = desk.allocate(args.owner, args.kind, args.period, args.amount, hard=not args.soft, on=args.on,
                          actor=args.actor)
    budget = desk.utilisation(args.owner, args.kind, args.period)
    if args.json:
        _print_json(dict(_plain(budget), entry=entry))
    else:
        print(f"allocated {args.amount} {budget.currency} to {'hard' if budget.hard else 'soft'} budget "
              f"{args.owner} {args.kind} {args.period} (entry {entry})")
        _print_utilisations([budget])
    return 0


def _rate(desk: amends.Desk, args: argparse.Namespace) -> int:
    desk.set_rate(args.currency, args.day, args.rate)
    base = desk.book.base_currency
    if args.json:
        _print_json({"currency": args.currency, "day": args.day, "rate": args.rate, "base_currency": base})
    else:
        print(f"1 {args.currency} = {args.rate} {base} from {args.day}")
    return 0


def _charge(desk: amends.Desk, args: argparse.Namespace) -> int:
    desk.record_charge(args.id, args.customer, args.amount, args.currency, args.day, args.refunded)
    document = {"id": args.id, "customer": args.customer, "amount": args.amount, "currency": args.currency,
                "day": args.day, "refunded": args.refunded or "0"}
    if args.json:
        _print_json(document)
    else:
        refunded = f", {args.refunded} refunded" if args.refunded else ""
        print(f"charge {args.id} recorded: {args.amount} {args.currency} to {args.customer} on {args.day}{refunded}")
    return 0


def _close(desk: amends.Desk, args: argparse.Namespace) -> int:
    report = desk.close_period(args.period, args.actor, accrue=args.accrue)
    if args.json:
        _print_json(report)
    else:
        sys.stdout.write(report.text.rstrip("\n") + "\n")
    return 0


def _audit_key(args: argparse.Namespace) -> bytes:
    """The checkpoint key: the bytes of --key-file (a final newline dropped), else $AMENDS_AUDIT_KEY."""
    if args.key_file:
        try:
            data = Path(args.key_file).read_bytes()
        except OSError as error:
            raise amends.InvalidArgument(f"can't read the key file {args.key_file}: {error.strerror}") from None
        return data.removesuffix(b"\n").removesuffix(b"\r")
    if "AMENDS_AUDIT_KEY" in os.environ:
        return os.environ["AMENDS_AUDIT_KEY"].encode()
    raise amends.InvalidArgument("a checkpoint is signed with a key kept outside the database: "
                                 "give --key-file FILE or set AMENDS_AUDIT_KEY")


# A checkpoint file's keys; `at` is ISO 8601 UTC, signed as microseconds since 1970.
_CHECKPOINT_KEYS = ("book", "seq", "hash", "at", "signature")


def _read_checkpoint(path: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise amends.InvalidArgument(f"can't read the checkpoint {path}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise amends.InvalidArgument(f"the checkpoint {path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise amends.InvalidArgument(f"the checkpoint {path} is a JSON object with {', '.join(_CHECKPOINT_KEYS)}")
    missing = [k for k in _CHECKPOINT_KEYS if k not in document]
    unknown = sorted(set(document) - set(_CHECKPOINT_KEYS))
    if missing or unknown:
        raise amends.InvalidArgument(f"the checkpoint {path} has " + "; ".join(
            ([f"no {', '.join(missing)}"] if missing else []) + ([f"unknown keys {', '.join(unknown)}"] if unknown else []))
            + f": a checkpoint has exactly {', '.join(_CHECKPOINT_KEYS)}")
    at = document["at"]
    try:
        moment = dt.datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise amends.InvalidArgument(f"the checkpoint {path}: at is an ISO 8601 time with its UTC offset, not {at!r}")
    for name in ("seq",):
        if not isinstance(document[name], int) or isinstance(document[name], bool):
            raise amends.InvalidArgument(f"the checkpoint {path}: {name} is an integer, not {document[name]!r}")
    return {"book": document["book"], "seq": document["seq"], "hash": document["hash"],
            "at_micros": _micros(moment), "signature": document["signature"]}


def _print_broken(book: amends.Book, result: dict[str, Any]) -> None:
    problem = f": {result['problem']}" if result.get("problem") else ""
    what = "hash chain" if result.get("kind", "chain") == "chain" else "audit trail"
    print(f"audit trail of book {book.name}: {result['events']} events, "
          f"{what} broken at event {result['first_bad']}{problem}")


def _verify(book: amends.Book, args: argparse.Namespace) -> int:
    checkpoint = key = None
    if args.checkpoint:
        checkpoint = _read_checkpoint(args.checkpoint)
        key = _audit_key(args)
    elif args.key_file:
        raise amends.InvalidArgument("--key-file goes with --checkpoint FILE: the checkpoint to verify against")
    # Read straight from the database: the trail, then (when it verifies) the request records.
    result = amends.verify_audit(book.dsn, book.name, checkpoint=checkpoint, key=key, records=True)
    result.setdefault("findings", [])
    if args.json:
        _print_json(dict(result, book=book.name))
    elif result["ok"]:
        held = f", checkpoint at event {result['checkpoint']} holds" if result["checkpoint"] else ""
        print(f"audit trail of book {book.name}: {result['events']} events, hash chain intact{held}")
    else:
        _print_broken(book, result)
    if not args.json:
        for finding in result["findings"]:
            print(f"finding on request {finding['request']}: {finding['problem']}")
    return 0 if result["ok"] and not result["findings"] else EXIT_AUDIT_BROKEN


def _checkpoint(book: amends.Book, args: argparse.Namespace) -> int:
    key = _audit_key(args)
    result = amends.verify_audit(book.dsn, book.name)
    if not result["ok"]:
        # A broken trail is not signed.
        _print_broken(book, result)
        return EXIT_AUDIT_BROKEN
    if not result["events"]:
        raise amends.InvalidArgument(f"the audit trail of book {book.name} is empty: there is nothing to checkpoint yet")
    at = dt.datetime.now(dt.timezone.utc)
    document = {"book": book.name, "seq": result["events"], "hash": result["last_hash"],
                "at": at.isoformat(timespec="microseconds")}
    document["signature"] = amends._core.sign_checkpoint(dict(document, at_micros=_micros(at)), key)
    text = json.dumps(document, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        if args.json:
            _print_json(document)
        else:
            print(f"checkpoint of book {book.name} at event {document['seq']} written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _outbox(desk: amends.Desk, args: argparse.Namespace) -> int:
    messages = desk.outbox()
    if args.json:
        _print_json(messages)
        return 0
    rows = [(m["id"], m["created_at"], m["request"], m["customer"], m["event"], m["subject"]) for m in messages]
    _print_table(["id", "created", "request", "customer", "event", "subject"], rows, "the outbox is empty")
    return 0


# ------------------------------------------------------------------ people


def _person_rows(people: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(p["person"], p["display_name"], ", ".join(p["roles"]), ", ".join(p["teams"]),
             ", ".join(p["logins"]), "yes" if p["active"] else "no") for p in people]


def _people(book: amends.Book, args: argparse.Namespace) -> int:
    people = book.people()
    if args.json:
        _print_json(people)
        return 0
    _print_table(["person", "display name", "roles", "teams", "logins", "active"], _person_rows(people),
                 f"book {book.name} has no people")
    return 0


def _people_add(book: amends.Book, args: argparse.Namespace) -> int:
    book.add_person(args.name, args.display_name, roles=args.role or [], teams=args.team or [],
                    active=not args.inactive, login=args.login)
    return _people(book, args)


def _people_bind(book: amends.Book, args: argparse.Namespace) -> int:
    book.bind_login(args.login, args.person)
    return _people(book, args)


def _whoami(book: amends.Book, args: argparse.Namespace) -> int:
    me = book.whoami()
    if args.json:
        _print_json(me)
        return 0
    if book.simulation:
        print(f"login {me['login']}: book {book.name} is a simulation (actors are the names given)")
    elif me["person"] is None:
        print(f"login {me['login']} is bound to no person of book {book.name}: an admin binds it "
              f"(amends people bind {me['login']} PERSON)")
        return 1
    else:
        roles = f", roles: {', '.join(me['roles'])}" if me["roles"] else ""
        via = " (the amends service, acting for them)" if me["service"] else ""
        print(f"login {me['login']} acts as {me['person']} ({me['display_name']}{roles}) in book {book.name}{via}")
    return 0


# ------------------------------------------------------------------ the parsers


def _common(parser: argparse.ArgumentParser, prints: bool = True) -> argparse.ArgumentParser:
    # SUPPRESS: an option given before a nested subcommand (`amends budgets --dsn X allocate`)
    # is not overwritten by the nested parser's default.
    parser.add_argument("--dsn", default=argparse.SUPPRESS,
                        help="PostgreSQL DSN (default: $AMENDS_DSN, else the embedded default)")
    parser.add_argument("--book", default=argparse.SUPPRESS, help="the book (default: main)")
    if prints:
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help="print one JSON document (amounts as strings, times in ISO 8601)")
    return parser


def _leaf(commands: Any, name: str, run: Callable[[Any, argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
    parser = _common(commands.add_parser(name, help=help, description=help))
    parser.set_defaults(desk_run=run)
    return parser


def _as(parser: argparse.ArgumentParser, dest: str, what: str) -> None:
    parser.add_argument("--as", dest=dest, default=None, metavar="PERSON",
                        help=f"{what} (default: the person your login is bound to; naming anyone else is refused "
                             "in a real book; a simulation needs it)")


def add_parsers(commands: Any) -> None:
    """Adds the desk's commands to the subparsers of `amends`."""
    # ---- policy
    policy = commands.add_parser("policy", help="approval policies").add_subparsers(dest="policy_action", required=True)
    publish = _leaf(policy, "publish", _publish, "publish an approval policy (a TOML file); prints its version")
    publish.add_argument("file")
    publish.add_argument("--actor", default=None,
                         help="who publishes it (default: the person your login is bound to; in a simulation, amends)")
    check_help = "list every problem of a policy file, FILE:LINE: what to fix (exit 2 when any); needs no database"
    check = policy.add_parser("check", help=check_help, description=check_help)
    check.add_argument("file")
    check.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="print one JSON document: ok, version, rules and the problems")
    check.set_defaults(desk_run=_check_policy, book_needed=False)

    # ---- request
    request = commands.add_parser("request", help="concession requests").add_subparsers(dest="request_action", required=True)
    submit = _leaf(request, "submit", _submit, "submit a concession request: it is validated and routed at once")
    submit.add_argument("--kind", required=True, choices=amends.KINDS)
    submit.add_argument("--customer", required=True)
    submit.add_argument("--requester", default=None,
                        help="who files it (default: the person your login is bound to; a simulation needs it)")
    submit.add_argument("--team", required=True)
    for option, name, text in _SUBMIT_FIELDS:
        submit.add_argument(option, dest=name, default=None, help=text)
    submit.add_argument("--evidence", nargs="+", action="extend", default=[], metavar="ID", help="evidence references")
    submit.add_argument("--months", type=int, default=None, help="retention offers: how many months the discount runs")
    submit.add_argument("--changes-contract", action="store_true", help="retention offers: the offer changes contract terms")
    submit.add_argument("--draft", action="store_true", help="keep it a draft (resubmit sends it)")

    show = _leaf(request, "show", _show, "show a request")
    show.add_argument("id")
    show.add_argument("--explain", action="store_true", help="why it is where it is: findings, rules, the approval chain")

    listing = _leaf(request, "list", _list, "list the requests")
    listing.add_argument("--state", default=None, help="only requests in this state (e.g. pending_approval)")

    approve = _leaf(request, "approve", _lifecycle(lambda d, a: d.approve(a.id, a.person, a.comment)), "approve a request")
    approve.add_argument("id")
    _as(approve, "person", "the approver")
    approve.add_argument("--comment", default="")

    decline = _leaf(request, "decline", _lifecycle(lambda d, a: d.decline(a.id, a.person, a.comment, a.alternative)),
                    "decline a request")
    decline.add_argument("id")
    _as(decline, "person", "the approver")
    decline.add_argument("--comment", required=True, help="why (the customer is told)")
    decline.add_argument("--alternative", nargs="+", action="extend", default=[], metavar="A",
                         help="what can be offered instead")

    back = _leaf(request, "return", _lifecycle(lambda d, a: d.return_for_information(a.id, a.person, a.comment)),
                 "return a request to its requester for more information")
    back.add_argument("id")
    _as(back, "person", "the approver")
    back.add_argument("--comment", required=True, help="what is missing")

    apply = _leaf(request, "apply", _lifecycle(lambda d, a: d.apply(a.id, a.actor)),
                  "apply an approved request: post its entries and notify the customer")
    apply.add_argument("id")
    _as(apply, "actor", "who applies it (e.g. billing-bot)")

    cancel = _leaf(request, "cancel", _lifecycle(lambda d, a: d.cancel(a.id, a.actor, a.reason)), "cancel a request")
    cancel.add_argument("id")
    _as(cancel, "actor", "who cancels it")
    cancel.add_argument("--reason", required=True)

    amend = _leaf(request, "amend", _amend, "amend a draft or returned request: the fields named change, every other "
                  "keeps its value")
    amend.add_argument("id")
    _as(amend, "actor", "the requester")
    for option, name, text in _SUBMIT_FIELDS:
        amend.add_argument(option, dest=name, default=None, help=text)
    amend.add_argument("--evidence", nargs="+", default=None, metavar="ID", help="the evidence references (all of them)")
    amend.add_argument("--months", type=int, default=None, help="retention offers: how many months the discount runs")
    amend.add_argument("--changes-contract", choices=["yes", "no"], default=None,
                       help="retention offers: whether the offer changes contract terms")

    resubmit = _leaf(request, "resubmit", _lifecycle(lambda d, a: d.resubmit(a.id, a.actor)),
                     "resubmit a draft or returned request")
    resubmit.add_argument("id")
    _as(resubmit, "actor", "the requester")

    # ---- approvals
    approvals = commands.add_parser("approvals", help="approval queues").add_subparsers(dest="approvals_action", required=True)
    pending = _leaf(approvals, "pending", _pending, "what an approver may approve now, oldest first")
    pending.add_argument("--approver", default=None, help="whose queue (default: yours)")
    pending.add_argument("--on", default=None, metavar="YYYY-MM-DD", help="the day delegations are judged on (default: today)")

    # ---- budgets
    budgets = _common(commands.add_parser("budgets", help="concession budgets (no action: list them)",
                                          description="list the budgets, or allocate to one"))
    budgets.set_defaults(desk_run=_budgets)
    budget_actions = budgets.add_subparsers(dest="budgets_action")
    allocate = _leaf(budget_actions, "allocate", _allocate, "add to a budget (in the book's base currency)")
    allocate.add_argument("--owner", required=True, help="team or region")
    allocate.add_argument("--kind", required=True)
    allocate.add_argument("--period", required=True, metavar="YYYY-MM")
    allocate.add_argument("--amount", required=True)
    allocate.add_argument("--soft", action="store_true", help="a soft budget: going over is flagged, not refused")
    allocate.add_argument("--on", default=None, metavar="YYYY-MM-DD", help="the allocation's date (default: today)")
    _as(allocate, "actor", "who allocates it")

    # ---- reference data
    rates = commands.add_parser("rates", help="exchange rates").add_subparsers(dest="rates_action", required=True)
    rate = _leaf(rates, "set", _rate, "record an exchange rate: 1 CURRENCY = RATE of the base currency from DAY on")
    rate.add_argument("--currency", required=True)
    rate.add_argument("--day", required=True, metavar="YYYY-MM-DD")
    rate.add_argument("--rate", required=True)

    charges = commands.add_parser("charges", help="original charges from billing").add_subparsers(dest="charges_action",
                                                                                                    required=True)
    charge = _leaf(charges, "record", _charge, "record an original charge (what a refund ties to)")
    charge.add_argument("--id", required=True)
    charge.add_argument("--customer", required=True)
    charge.add_argument("--amount", required=True)
    charge.add_argument("--currency", required=True)
    charge.add_argument("--day", required=True, metavar="YYYY-MM-DD")
    charge.add_argument("--refunded", default=None, help="how much of it was already refunded")

    # ---- period close
    period = commands.add_parser("period", help="accounting periods").add_subparsers(dest="period_action", required=True)
    close = _leaf(period, "close", _close, "close a period and print the close report")
    close.add_argument("period", metavar="YYYY-MM")
    _as(close, "actor", "who closes it")
    close.add_argument("--accrue", action="store_true", help="post approved, unapplied requests into the period")

    # ---- audit and outbox
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_action", required=True)
    verify = _leaf(audit, "verify", _verify, "recompute the audit trail's hash chain from the database, check it against "
                   "the book's audit head and every request's anchor, and every request against the core (exit 0 "
                   "intact, 1 broken or with findings, 2 bad input)")
    verify.add_argument("--checkpoint", metavar="FILE", default=None,
                        help="a checkpoint written by `amends audit checkpoint`: no event up to it may have been rewritten")
    verify.add_argument("--key-file", metavar="FILE", default=None,
                        help="the key the checkpoint was signed with (default: $AMENDS_AUDIT_KEY)")
    verify.set_defaults(desk_needed=False)
    checkpoint = _leaf(audit, "checkpoint", _checkpoint, "sign the audit trail's head (book, seq, hash, time) with "
                       "HMAC-SHA256 under a key kept outside the database; keep the file where the database can't write")
    checkpoint.add_argument("--key-file", metavar="FILE", default=None, help="the key (default: $AMENDS_AUDIT_KEY)")
    checkpoint.add_argument("--out", metavar="FILE", default=None, help="write the checkpoint here (default: stdout)")
    checkpoint.set_defaults(desk_needed=False)

    _leaf(commands, "outbox", _outbox, "the customer notifications")

    # ---- people
    people = _common(commands.add_parser("people", help="the people of the book and the logins bound to them "
                                         "(no action: list them)", description="list the people of the book, "
                                         "add or change one, or bind a login to one (an admin's: role amends_admin)"))
    people.set_defaults(desk_run=_people, desk_needed=False)
    people_actions = people.add_subparsers(dest="people_action")
    add = _leaf(people_actions, "add", _people_add, "add a person to the book, or change one (amends_admin; audited)")
    add.add_argument("name", help="the person's name (compared by its key: case and spacing don't matter)")
    add.add_argument("--display-name", default=None, help="how to show them (default: the name as given)")
    add.add_argument("--role", action="append", metavar="ROLE", help="a role of theirs (repeat for more)")
    add.add_argument("--team", action="append", metavar="TEAM", help="a team of theirs (repeat for more)")
    add.add_argument("--login", default=None, help="a PostgreSQL login to bind to them")
    add.add_argument("--inactive", action="store_true", help="they may no longer act in the book")
    add.set_defaults(desk_needed=False)
    bind = _leaf(people_actions, "bind", _people_bind, "bind a PostgreSQL login to a person of the book "
                 "(amends_admin; audited)")
    bind.add_argument("login")
    bind.add_argument("person")
    bind.set_defaults(desk_needed=False)
    whoami = _leaf(commands, "whoami", _whoami, "the person your login acts as in the book")
    whoami.set_defaults(desk_needed=False)


def run(args: argparse.Namespace) -> int:
    """Runs a desk command on `amends.Desk(amends.open(dsn, book))`; amends errors propagate to amends.cli.main."""
    dsn = getattr(args, "dsn", None)
    args.book = getattr(args, "book", None) or "main"
    args.json = getattr(args, "json", False)
    if not getattr(args, "book_needed", True):
        return int(args.desk_run(None, args))
    with amends.open(dsn, args.book) as book:
        if not getattr(args, "desk_needed", True):
            return int(args.desk_run(book, args))
        desk = amends.Desk(book)
        return int(args.desk_run(desk, args))
