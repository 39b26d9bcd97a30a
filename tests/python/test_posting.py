"""Posting, balances, idempotency, reversal, two-phase entries, periods, limits and refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import amends
from helpers import C1, C2, CASH, GOODWILL, JAN, grant

D = Decimal


# ---------------------------------------------------------------- posting and balances


def test_a_balanced_entry_moves_each_account_by_its_posting(book):
    entry_id = book.post("2026-01-15", [(GOODWILL, D("25.00")), (C1, D("-25.00"))], description="Goodwill for outage")

    assert entry_id == 1
    assert book.entry_count == 1
    assert book.posting_count == 2
    assert book.balance(GOODWILL) == D("25.00")
    assert book.balance(C1) == D("-25.00")
    assert book.balance(CASH) == 0


def test_balances_accumulate_over_entries_debit_positive(book):
    grant(book, C1, "10.00")
    grant(book, C1, "2.50")
    book.post(JAN, [(C1, "4.25"), (CASH, "-4.25")])

    assert book.balance(C1) == D("-10.00") - D("2.50") + D("4.25")
    assert book.balance(GOODWILL) == D("12.50")
    assert book.balance(CASH) == D("-4.25")


def test_an_entry_reads_back_with_its_postings_description_key_and_metadata(book):
    entry_id = book.post(
        dt.date(2026, 2, 3),
        [(GOODWILL, "7.10"), (C2, "-7.10", "USD")],
        description="SLA miss",
        idempotency_key="ticket-42",
        metadata={"ticket": "42", "agent": "ana"},
    )
    entry = book.entry(entry_id)

    assert entry.id == entry_id
    assert entry.date == dt.date(2026, 2, 3)
    assert entry.status == "posted"
    assert entry.description == "SLA miss"
    assert entry.idempotency_key == "ticket-42"
    assert entry.metadata == {"ticket": "42", "agent": "ana"}
    assert list(entry.metadata) == ["ticket", "agent"]
    assert entry.postings == [(GOODWILL, D("7.10"), "USD"), (C2, D("-7.10"), "USD")]
    assert entry.reverses is None and entry.reversed_by is None
    assert book.find_by_key("ticket-42") == entry_id
    assert book.find_by_key("ticket-43") is None


def test_an_entry_may_balance_in_several_currencies_at_once(book):
    book.post(JAN, [(GOODWILL, "5"), (CASH, "-5"), ("Expenses:EuroGoodwill", "3"), ("Assets:EuroBank", "-3")])

    assert book.balance(GOODWILL) == D("5.00")
    assert book.balance("Assets:EuroBank") == D("-3.00")


# ---------------------------------------------------------------- idempotency


def test_reposting_the_same_key_and_content_returns_the_same_id_and_posts_nothing(book):
    first = grant(book, C1, "30.00", idempotency_key="k-1", description="goodwill", metadata={"a": "1"})
    again = grant(book, C1, "30.00", idempotency_key="k-1", description="goodwill", metadata={"a": "1"})

    assert again == first
    assert book.entry_count == 1
    assert book.balance(C1) == D("-30.00")


def test_the_same_amount_written_differently_is_the_same_content(book):
    first = book.post(JAN, [(GOODWILL, "30"), (C1, D("-30.00"))], idempotency_key="k-1")

    assert book.post(JAN, [(GOODWILL, 30), (C1, "-30.0")], idempotency_key="k-1") == first
    assert book.entry_count == 1


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "31.00"},
        {"day": dt.date(2026, 1, 16)},
        {"description": "other"},
        {"metadata": {"a": "2"}},
        {"customer": C2},
    ],
    ids=["amount", "date", "description", "metadata", "account"],
)
def test_reusing_a_key_for_different_content_is_an_idempotency_conflict(book, unchanged, change):
    grant(book, C1, "30.00", idempotency_key="k-1", description="goodwill", metadata={"a": "1"})
    args = {"customer": C1, "amount": "30.00", "description": "goodwill", "metadata": {"a": "1"}} | change

    with unchanged(book), pytest.raises(amends.IdempotencyConflict, match="k-1"):
        grant(book, args.pop("customer"), args.pop("amount"), idempotency_key="k-1", **args)


def test_a_key_used_by_a_posted_entry_cannot_reserve(book, unchanged):
    grant(book, C1, "30.00", idempotency_key="k-1")

    with unchanged(book), pytest.raises(amends.IdempotencyConflict):
        book.reserve(JAN, [(GOODWILL, "30.00"), (C1, "-30.00")], idempotency_key="k-1")


# ---------------------------------------------------------------- reversal


def test_a_reversal_nets_the_entry_to_zero_and_links_both_ways(book):
    original = book.post(JAN, [(GOODWILL, "12.34"), (C1, "-12.34")], description="goodwill")
    reversal = book.reverse(original, "2026-01-20", "granted twice")

    assert book.balance(GOODWILL) == 0
    assert book.balance(C1) == 0
    assert book.entry(original).reversed_by == reversal
    mirror = book.entry(reversal)
    assert mirror.reverses == original
    assert mirror.reason == "granted twice"
    assert mirror.date == dt.date(2026, 1, 20)
    assert mirror.postings == [(GOODWILL, D("-12.34"), "USD"), (C1, D("12.34"), "USD")]
    assert "granted twice" in mirror.description
    # As of the day before the reversal the original still stands.
    assert book.balance(GOODWILL, as_of="2026-01-19") == D("12.34")


def test_reversing_an_entry_twice_raises_already_reversed(book, unchanged):
    original = grant(book, C1, "5.00")
    first = book.reverse(original, JAN, "mistake")

    with unchanged(book), pytest.raises(amends.AlreadyReversed, match=f"entry #{first}"):
        book.reverse(original, JAN, "mistake again")


def test_a_reversal_can_not_itself_be_reversed(book, unchanged):
    reversal = book.reverse(grant(book, C1, "5.00"), JAN, "mistake")

    with unchanged(book), pytest.raises(amends.InvalidEntry):
        book.reverse(reversal, JAN, "undo the undo")


def test_a_reversal_needs_a_reason_and_a_date_not_before_the_entry(book, unchanged):
    original = grant(book, C1, "5.00")

    with unchanged(book), pytest.raises(amends.InvalidArgument, match="reason"):
        book.reverse(original, JAN, "")
    with unchanged(book), pytest.raises(amends.InvalidEntry, match="before the entry"):
        book.reverse(original, JAN - dt.timedelta(days=1), "too early")


def test_a_reservation_is_voided_not_reversed(book, unchanged):
    pending = book.reserve(JAN, [(GOODWILL, "5.00"), (C1, "-5.00")])

    with unchanged(book), pytest.raises(amends.PendingStateError, match="void"):
        book.reverse(pending, JAN, "no")


def test_reversing_an_unknown_entry_is_entry_not_found(book, unchanged):
    with unchanged(book), pytest.raises(amends.EntryNotFound):
        book.reverse(99, JAN, "no such entry")
    with pytest.raises(LookupError):
        book.entry(0)


# ---------------------------------------------------------------- two-phase entries


@pytest.fixture
def reserved(book):
    """C1 holds a 100.00 credit; a 40.00 refund of it is reserved (C1 debit, refunds payable credit)."""
    grant(book, C1, "100.00")
    pending = book.reserve(
        "2026-01-16",
        [(C1, "40.00"), ("Liabilities:RefundsPayable", "-40.00")],
        expires_on="2026-02-15",
        description="refund request",
    )
    return book, pending


def test_a_reservation_counts_as_pending_not_posted(reserved):
    book, pending = reserved
    detail = book.balance_detail(C1)

    assert book.entry(pending).status == "pending"
    assert book.entry(pending).expires_on == dt.date(2026, 2, 15)
    assert detail.posted == D("-100.00")
    assert detail.pending_debits == D("40.00")
    assert detail.pending_credits == 0
    assert detail.with_pending == D("-60.00")
    assert book.balance("Liabilities:RefundsPayable") == 0
    assert book.balance_detail("Liabilities:RefundsPayable").pending_credits == D("40.00")
    # Reservations are not in the books: no trial-balance line, no journal entry.
    assert "RefundsPayable" not in book.to_journal()
    assert [row[0] for row in book.trial_balance().rows] == [GOODWILL, C1]


def test_posting_a_reservation_in_full_moves_the_reserved_amounts(reserved):
    book, pending = reserved
    completion = book.post_pending(pending, "2026-01-20")

    assert book.balance(C1) == D("-60.00")
    assert book.balance("Liabilities:RefundsPayable") == D("-40.00")
    assert book.balance_detail(C1).pending_debits == 0
    assert book.entry(pending).status == "pending_posted"
    assert book.entry(pending).completed_by == completion
    assert book.entry(pending).resolved_on == dt.date(2026, 1, 20)
    assert book.entry(completion).completes == pending
    assert book.entry(completion).description == "refund request"
    assert book.entry(completion).postings == [(C1, D("40.00"), "USD"), ("Liabilities:RefundsPayable", D("-40.00"), "USD")]


def test_posting_a_reservation_in_part_by_list_releases_the_rest(reserved):
    book, pending = reserved
    completion = book.post_pending(pending, "2026-01-20", ["15.50", D("-15.50")], description="partial refund")

    assert book.balance(C1) == D("-100.00") + D("15.50")
    assert book.balance("Liabilities:RefundsPayable") == D("-15.50")
    assert book.balance_detail(C1).pending_debits == 0
    assert book.balance_detail("Liabilities:RefundsPayable").pending_credits == 0
    assert book.entry(completion).description == "partial refund"


def test_posting_a_reservation_in_part_by_account_dict(reserved):
    book, pending = reserved
    book.post_pending(pending, "2026-01-20", {"Liabilities:RefundsPayable": "-7", C1: 7})

    assert book.balance(C1) == D("-93.00")
    assert book.balance("Liabilities:RefundsPayable") == D("-7.00")
    assert book.entry(pending).status == "pending_posted"


@pytest.mark.parametrize(
    "amounts, error",
    [
        (["41.00", "-41.00"], amends.InvalidEntry),  # more than reserved
        (["-5.00", "5.00"], amends.InvalidEntry),  # the wrong sign
        (["10.00", "-9.00"], amends.UnbalancedEntry),
        (["10.00"], amends.InvalidEntry),  # one amount for two postings
        (["10.00", "0"], amends.InvalidEntry),  # leaves one posting
        (["0.001", "-0.001"], amends.AmountTooPrecise),
        ({"Assets:Cash": "1"}, amends.InvalidArgument),  # not in the reservation
    ],
)
def test_a_wrong_partial_posting_is_refused_and_keeps_the_reservation(reserved, unchanged, amounts, error):
    book, pending = reserved

    with unchanged(book), pytest.raises(error):
        book.post_pending(pending, "2026-01-20", amounts)
    assert book.entry(pending).status == "pending"


def test_voiding_a_reservation_releases_it_and_posts_nothing(reserved):
    book, pending = reserved
    entries = book.entry_count
    book.void_pending(pending, "2026-01-18", "customer kept the credit")

    assert book.entry_count == entries
    assert book.entry(pending).status == "pending_voided"
    assert book.entry(pending).reason == "customer kept the credit"
    assert book.balance_detail(C1).pending_debits == 0
    assert book.balance(C1) == D("-100.00")
    # As of a day it was still open, the reservation shows.
    assert book.balance_detail(C1, as_of="2026-01-17").pending_debits == D("40.00")


def test_expiry_releases_only_the_reservations_due_by_the_date(reserved):
    book, pending = reserved
    later = book.reserve("2026-01-16", [(C1, "10"), (CASH, "-10")], expires_on="2026-03-01")
    no_expiry = book.reserve("2026-01-16", [(C1, "5"), (CASH, "-5")])

    assert book.expire_pending("2026-02-14") == []
    assert book.expire_pending(dt.date(2026, 2, 15)) == [pending]
    assert book.entry(pending).status == "pending_expired"
    assert book.entry(pending).resolved_on == dt.date(2026, 2, 15)
    assert book.entry(later).status == "pending"
    assert book.entry(no_expiry).status == "pending"
    assert book.balance_detail(C1).pending_debits == D("15.00")
    assert book.expire_pending("2026-12-31") == [later]


@pytest.mark.parametrize("resolve", ["post", "void", "expire"])
def test_a_resolved_reservation_can_not_be_resolved_again(reserved, unchanged, resolve):
    book, pending = reserved
    if resolve == "post":
        book.post_pending(pending, "2026-01-20")
    elif resolve == "void":
        book.void_pending(pending, "2026-01-20", "no")
    else:
        book.expire_pending("2026-02-15")

    with unchanged(book), pytest.raises(amends.PendingStateError, match="no longer pending"):
        book.post_pending(pending, "2026-01-21")
    with unchanged(book), pytest.raises(amends.PendingStateError):
        book.void_pending(pending, "2026-01-21", "again")


def test_a_reservation_can_not_be_posted_on_or_after_its_expiry(reserved, unchanged):
    book, pending = reserved

    with unchanged(book), pytest.raises(amends.PendingStateError, match="expired"):
        book.post_pending(pending, "2026-02-15")


def test_an_ordinary_entry_is_not_a_reservation(book, unchanged):
    entry = grant(book, C1, "1.00")

    with unchanged(book), pytest.raises(amends.PendingStateError, match="not a reservation"):
        book.post_pending(entry, JAN)
    with unchanged(book), pytest.raises(amends.PendingStateError):
        book.void_pending(entry, JAN, "no")


def test_a_reservation_must_expire_after_its_date(book, unchanged):
    with unchanged(book), pytest.raises(amends.InvalidEntry, match="after the entry date"):
        book.reserve(JAN, [(GOODWILL, "1"), (C1, "-1")], expires_on=JAN)


# ---------------------------------------------------------------- periods


def test_a_locked_period_refuses_postings_without_the_override(book, unchanged):
    book.lock_period("2026-01")

    assert book.period_state(amends.Period("2026-01")) == "locked"
    with unchanged(book), pytest.raises(amends.PeriodLocked, match="2026-01"):
        grant(book, C1, "1.00")
    entry = grant(book, C1, "1.00", allow_locked_period=True)
    assert book.entry(entry).date == JAN
    # Other periods stay open.
    grant(book, C1, "2.00", day="2026-02-01")
    assert book.balance(C1) == D("-3.00")


def test_a_locked_period_needs_the_override_for_reversal_and_completion_too(book, unchanged):
    original = grant(book, C1, "5.00")
    pending = book.reserve(JAN, [(GOODWILL, "1.00"), (CASH, "-1.00")])
    book.lock_period("2026-01")

    with unchanged(book), pytest.raises(amends.PeriodLocked):
        book.reverse(original, JAN, "late fix")
    with unchanged(book), pytest.raises(amends.PeriodLocked):
        book.post_pending(pending, JAN)
    book.reverse(original, JAN, "late fix", allow_locked_period=True)
    book.post_pending(pending, JAN, allow_locked_period=True)
    assert book.balance(C1) == 0
    assert book.balance(GOODWILL) == D("1.00")


def test_an_unlocked_period_takes_postings_again(book):
    book.lock_period("2026-01")
    book.unlock_period("2026-01")

    assert book.period_state("2026-01") == "open"
    grant(book, C1, "1.00")
    assert book.balance(C1) == D("-1.00")


def test_a_closed_period_refuses_postings_even_with_the_override(book, unchanged):
    grant(book, C1, "5.00")
    book.close_period("2026-01")

    assert book.period_state(JAN) == "closed"
    with unchanged(book), pytest.raises(amends.PeriodClosed, match="out-of-period adjustment"):
        grant(book, C1, "1.00", allow_locked_period=True)
    with unchanged(book), pytest.raises(amends.PeriodClosed):
        book.reverse(1, JAN, "too late", allow_locked_period=True)


@pytest.mark.parametrize("state", ["open", "locked"])
def test_a_closed_period_never_changes_state_again(book, state):
    book.close_period("2026-01")

    with pytest.raises(amends.InvalidPeriodTransition):
        book.set_period_state("2026-01", state)
    assert book.period_state("2026-01") == "closed"


def test_an_unknown_period_state_is_an_invalid_argument(book):
    with pytest.raises(amends.InvalidArgument, match="open, locked, closed"):
        book.set_period_state("2026-01", "frozen")


# ---------------------------------------------------------------- balance limits


def test_a_balance_limit_refuses_a_posting_that_breaches_it(book, unchanged):
    grant(book, C1, "20.00")

    with unchanged(book), pytest.raises(amends.BalanceLimitExceeded, match="-0.01 USD"):
        book.post(JAN, [(C1, "20.01"), (CASH, "-20.01")])
    book.post(JAN, [(C1, "20.00"), (CASH, "-20.00")])
    assert book.balance(C1) == 0


def test_a_balance_limit_counts_open_reservations(book, unchanged):
    grant(book, C1, "20.00")
    pending = book.reserve(JAN, [(C1, "15.00"), (CASH, "-15.00")])

    # 20.00 - 15.00 reserved leaves room for 5.00, not 5.01.
    with unchanged(book), pytest.raises(amends.BalanceLimitExceeded):
        book.post(JAN, [(C1, "5.01"), (CASH, "-5.01")])
    with unchanged(book), pytest.raises(amends.BalanceLimitExceeded):
        book.reserve(JAN, [(C1, "5.01"), (CASH, "-5.01")])
    # Voiding the reservation frees the room.
    book.void_pending(pending, JAN, "cancelled")
    book.post(JAN, [(C1, "20.00"), (CASH, "-20.00")])
    assert book.balance(C1) == 0


def test_a_maximum_balance_limit_is_enforced_on_the_normal_side(book, unchanged):
    book.create_account("Liabilities:Capped", "liability", max_normal_balance="100")
    book.post(JAN, [(GOODWILL, "100"), ("Liabilities:Capped", "-100")])

    with unchanged(book), pytest.raises(amends.BalanceLimitExceeded, match="above its limit of 100.00 USD"):
        book.post(JAN, [(GOODWILL, "0.01"), ("Liabilities:Capped", "-0.01")])


def test_a_limit_set_later_applies_to_later_postings(book, unchanged):
    grant(book, C2, "10.00")
    book.set_balance_limit(C2, min_normal_balance="4.00")

    assert book.account(C2).min_normal_balance == D("4.00")
    with unchanged(book), pytest.raises(amends.BalanceLimitExceeded):
        book.post(JAN, [(C2, "6.01"), (CASH, "-6.01")])
    book.set_balance_limit(C2)
    book.post(JAN, [(C2, "6.01"), (CASH, "-6.01")])
    assert book.balance(C2) == D("-3.99")


# ---------------------------------------------------------------- accounts


def test_a_created_account_reads_back_with_its_type_currency_dimensions_and_limits(book):
    account = book.create_account(
        "Liabilities:CustomerCredits:C9", "liability", "EUR", customer="C9", min_normal_balance="0", max_normal_balance=500
    )

    assert account == book.account("Liabilities:CustomerCredits:C9")
    assert account.type == "liability"
    assert account.currency == "EUR"
    assert account.dimensions == {"customer": "C9"}
    assert account.min_normal_balance == D("0.00") and str(account.min_normal_balance) == "0.00"
    assert account.max_normal_balance == D("500.00")
    assert not account.closed
    assert book.has_account("Liabilities:CustomerCredits:C9")
    assert not book.has_account("Liabilities:CustomerCredits:C10")
    assert book.account_count == 13


def test_an_account_takes_the_books_base_currency_by_default():
    book = amends.Ledger(base_currency="EUR")

    assert book.create_account("Assets:Bank", "asset").currency == "EUR"
    assert book.base_currency == "EUR"


def test_a_closed_account_takes_no_postings(book, unchanged):
    book.create_account("Expenses:Old", "expense")
    book.close_account("Expenses:Old")

    assert book.account("Expenses:Old").closed
    with unchanged(book), pytest.raises(amends.AccountClosed, match="Expenses:Old"):
        book.post(JAN, [("Expenses:Old", "1"), (CASH, "-1")])


def test_an_account_with_a_balance_or_a_reservation_can_not_be_closed(book, unchanged):
    grant(book, C1, "3.00")
    book.reserve(JAN, [(C2, "-1.00"), (CASH, "1.00")])

    with unchanged(book), pytest.raises(amends.InvalidArgument, match="3.00 USD"):
        book.close_account(C1)
    with unchanged(book), pytest.raises(amends.InvalidArgument, match="reservations"):
        book.close_account(C2)


@pytest.mark.parametrize(
    "name, type_, error",
    [
        ("Assets:Cash", "asset", amends.AccountExists),
        ("Assets:New", "cash", amends.InvalidArgument),
        ("", "asset", amends.InvalidArgument),
        ("Assets::New", "asset", amends.InvalidArgument),
        ("Assets:Two  Spaces", "asset", amends.InvalidArgument),
        ("Assets:Semi;colon", "asset", amends.InvalidArgument),
    ],
)
def test_a_bad_account_is_refused(book, unchanged, name, type_, error):
    with unchanged(book), pytest.raises(error):
        book.create_account(name, type_)


def test_an_unknown_account_is_refused(book, unchanged):
    with unchanged(book), pytest.raises(amends.UnknownAccount, match="Assets:Nowhere"):
        book.post(JAN, [("Assets:Nowhere", "1"), (CASH, "-1")])
    with pytest.raises(amends.UnknownAccount):
        book.balance("Assets:Nowhere")
    with pytest.raises(amends.UnknownAccount):
        book.account("Assets:Nowhere")


def test_a_posting_in_another_currency_than_its_account_is_refused(book, unchanged):
    with unchanged(book), pytest.raises(amends.CurrencyMismatch, match="EUR"):
        book.post(JAN, [(GOODWILL, "1", "EUR"), (CASH, "-1")])
    with unchanged(book), pytest.raises(amends.UnknownCurrency):
        book.post(JAN, [(GOODWILL, "1", "XXQ"), (CASH, "-1")])


# ---------------------------------------------------------------- entries the ledger refuses


@pytest.mark.parametrize(
    "postings",
    [
        [(GOODWILL, "0.001"), (C1, "-0.001")],
        [("Expenses:YenGoodwill", "1.5"), ("Assets:YenBank", "-1.5")],
    ],
    ids=["0.001 USD", "1.5 JPY"],
)
def test_an_amount_finer_than_the_currency_is_too_precise(book, unchanged, postings):
    with unchanged(book), pytest.raises(amends.AmountTooPrecise, match="round it first"):
        book.post(JAN, postings)


@pytest.mark.parametrize(
    "postings",
    [
        [(GOODWILL, "10.00"), (C1, "-9.99")],
        # Equal numbers in different currencies do not balance.
        [(GOODWILL, "10.00"), ("Assets:EuroBank", "-10.00")],
    ],
    ids=["short by a cent", "across currencies"],
)
def test_an_unbalanced_entry_is_refused(book, unchanged, postings):
    with unchanged(book), pytest.raises(amends.UnbalancedEntry, match="sum to zero per currency"):
        book.post(JAN, postings)


@pytest.mark.parametrize(
    "postings, message",
    [
        ([(GOODWILL, "1")], "at least two postings"),
        ([], "at least two postings"),
        ([(GOODWILL, "0"), (C1, "0")], "zero amount"),
    ],
)
def test_a_malformed_entry_is_an_invalid_entry(book, unchanged, postings, message):
    with unchanged(book), pytest.raises(amends.InvalidEntry, match=message):
        book.post(JAN, postings)


def test_an_amount_beyond_the_exact_range_is_an_overflow(book, unchanged):
    with unchanged(book), pytest.raises(amends.AmountOverflow):
        book.post(JAN, [(GOODWILL, 10**30), (CASH, -(10**30))])


def test_a_posting_that_would_overflow_an_account_balance_changes_nothing(book, unchanged):
    # One posting holds at most 2**63 - 1 minor units; balances end near 3.4e20,
    # so 3689 of the largest postings bring Assets:Cash to the edge.
    step = 92_233_720_368_547_758
    book.post_batch([{"date": JAN, "postings": [(CASH, step), ("Revenue:Subscriptions", -step)]}] * 3689)

    with unchanged(book), pytest.raises(amends.AmountOverflow):
        book.post(JAN, [(GOODWILL, -step), (CASH, step)])


def test_resending_a_reservation_key_with_another_expiry_is_a_conflict(book):
    book.reserve(JAN, [(GOODWILL, "5"), (C1, "-5")], expires_on="2026-01-31", idempotency_key="r-1")

    with pytest.raises(amends.IdempotencyConflict):
        book.reserve(JAN, [(GOODWILL, "5"), (C1, "-5")], expires_on="2026-03-31", idempotency_key="r-1")


def test_every_refusal_changes_nothing(reserved, unchanged):
    """One book with posted entries and an open reservation; each refused call leaves it exactly as it was."""
    book, pending = reserved
    reversed_entry = grant(book, C2, "8.00")
    book.reverse(reversed_entry, "2026-01-17", "duplicate")
    book.create_account("Expenses:Closed", "expense")
    book.close_account("Expenses:Closed")
    book.close_period("2025-12")
    book.lock_period("2026-03")
    ok = [(GOODWILL, "1.00"), (C2, "-1.00")]
    refusals = [
        (lambda: book.post("2025-12-31", ok), amends.PeriodClosed),
        (lambda: book.post("2026-03-02", ok), amends.PeriodLocked),
        (lambda: book.reserve("2026-03-02", ok), amends.PeriodLocked),
        (lambda: book.post(JAN, [(C2, "1.00"), (CASH, "-1.00")]), amends.BalanceLimitExceeded),
        (lambda: book.post(JAN, [(C1, "60.01"), (CASH, "-60.01")]), amends.BalanceLimitExceeded),
        (lambda: book.post(JAN, [("Expenses:Closed", "1"), (CASH, "-1")]), amends.AccountClosed),
        (lambda: book.post(JAN, [("Expenses:Nope", "1"), (CASH, "-1")]), amends.UnknownAccount),
        (lambda: book.post(JAN, [(GOODWILL, "1", "EUR"), (CASH, "-1")]), amends.CurrencyMismatch),
        (lambda: book.post(JAN, [(GOODWILL, "0.001"), (CASH, "-0.001")]), amends.AmountTooPrecise),
        (lambda: book.post(JAN, [(GOODWILL, "1"), (CASH, "-2")]), amends.UnbalancedEntry),
        (lambda: book.post(JAN, [(GOODWILL, 1.0), (CASH, "-1")]), TypeError),
        (lambda: book.post(dt.datetime(2026, 1, 15, 9), ok), TypeError),
        (lambda: book.post("2026-13-01", ok), amends.ParseError),
        (lambda: book.post(JAN, ok, idempotency_key=None, metadata={"": "x"}), amends.InvalidArgument),
        (lambda: book.reverse(reversed_entry, JAN, "again"), amends.AlreadyReversed),
        (lambda: book.reverse(pending, JAN, "reservation"), amends.PendingStateError),
        (lambda: book.reverse(1000, JAN, "missing"), amends.EntryNotFound),
        (lambda: book.post_pending(pending, "2026-01-20", ["50.00", "-50.00"]), amends.InvalidEntry),
        (lambda: book.post_pending(pending, "2026-01-10"), amends.InvalidEntry),  # before the reservation
        (lambda: book.post_pending(pending, "2026-03-02"), amends.PendingStateError),  # expired by then
        (lambda: book.void_pending(pending, "2026-01-20", ""), amends.InvalidArgument),
        (lambda: book.void_pending(reversed_entry, "2026-01-20", "x"), amends.PendingStateError),
        (lambda: book.create_account(CASH, "asset"), amends.AccountExists),
        (lambda: book.close_account(C1), amends.InvalidArgument),
        (lambda: book.set_period_state("2025-12", "open"), amends.InvalidPeriodTransition),
        (lambda: book.post_batch([{"date": JAN, "postings": ok}, {"date": JAN, "postings": [(GOODWILL, "1")]}]),
         amends.InvalidEntry),
    ]
    for call, error in refusals:
        with unchanged(book), pytest.raises(error):
            call()
    assert book.period_state("2025-12") == "closed"
    assert book.period_state("2026-03") == "locked"
