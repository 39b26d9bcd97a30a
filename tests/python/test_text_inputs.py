"""Text no back end can keep (a NUL byte) is refused the same way in memory and in PostgreSQL.

Each refusal is an amends.InvalidText (an InvalidArgument) naming the field,
and leaves the book as it was. Other control characters (tabs, newlines, ...)
stay legal and come back from the database unchanged.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pandas as pd  # type: ignore[import-untyped]
import pytest

import amends
from helpers import C1, CASH, GOODWILL, JAN, grant

NUL = "\x00"
GRANT = [(GOODWILL, "5.00"), (C1, "-5.00")]


def test_invalid_text_is_an_invalid_argument():
    assert issubclass(amends.InvalidText, amends.InvalidArgument)
    assert issubclass(amends.InvalidText, ValueError)


# ---------------------------------------------------------------- entries


@pytest.mark.parametrize(
    "field, kwargs",
    [
        ("description", {"description": f"goodwill{NUL}for C1"}),
        ("idempotency key", {"idempotency_key": f"ticket-{NUL}42"}),
        ("metadata key", {"metadata": {f"tic{NUL}ket": "42"}}),
        ("metadata value for ticket", {"metadata": {"ticket": f"4{NUL}2"}}),
    ],
    ids=["description", "idempotency_key", "metadata_key", "metadata_value"],
)
def test_a_nul_in_an_entry_is_refused_by_post(book, unchanged, field, kwargs):
    grant(book, C1, "10.00")
    with unchanged(book), pytest.raises(amends.InvalidText, match=f"^{field} has a NUL byte"):
        book.post(JAN, GRANT, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"description": f"hold{NUL}"}, {"idempotency_key": f"{NUL}hold"}, {"metadata": {"ticket": NUL}}],
    ids=["description", "idempotency_key", "metadata_value"],
)
def test_a_nul_in_a_reservation_is_refused(book, unchanged, kwargs):
    with unchanged(book), pytest.raises(amends.InvalidText, match="NUL byte"):
        book.reserve(JAN, GRANT, **kwargs)


def test_a_nul_in_the_description_of_a_completion_is_refused_and_the_reservation_stays_open(book, unchanged):
    held = book.reserve(JAN, GRANT, description="hold")
    with unchanged(book), pytest.raises(amends.InvalidText, match="^description has a NUL byte at position 4"):
        book.post_pending(held, JAN, description=f"done{NUL}")
    assert book.entry(held).status == "pending"
    assert book.balance_detail(C1).pending_credits == Decimal("5.00")


def test_a_nul_in_a_void_reason_is_refused(book, unchanged):
    held = book.reserve(JAN, GRANT, description="hold")
    with unchanged(book), pytest.raises(amends.InvalidText, match="^void reason has a NUL byte at position 8"):
        book.void_pending(held, JAN, f"customer{NUL} left")
    assert book.entry(held).status == "pending"


def test_a_nul_in_a_reversal_reason_is_refused(book, unchanged):
    posted = grant(book, C1, "10.00")
    with unchanged(book), pytest.raises(amends.InvalidText, match="^reversal reason has a NUL byte at position 0"):
        book.reverse(posted, JAN, f"{NUL}mistake")
    assert book.entry(posted).reversed_by is None


# ---------------------------------------------------------------- accounts


@pytest.mark.parametrize(
    "field, name, dimensions",
    [
        ("account name", f"Expenses:Good{NUL}will2", {}),
        ("dimension key", "Expenses:Goodwill2", {f"te{NUL}am": "amer"}),
        ("value of dimension team", "Expenses:Goodwill2", {"team": f"am{NUL}er"}),
        ("value of dimension customer", "Liabilities:CustomerCredits:C9", {"customer": f"C{NUL}9"}),
    ],
    ids=["name", "dimension_key", "dimension_value", "customer_id"],
)
def test_a_nul_in_an_account_is_refused(book, unchanged, field, name, dimensions):
    with unchanged(book), pytest.raises(amends.InvalidText, match=f"^{field} has a NUL byte"):
        book.create_account(name, "expense", "USD", dimensions=dimensions)


def test_a_nul_in_an_account_name_posted_to_is_invalid_text_not_an_unknown_account(book, unchanged):
    with unchanged(book), pytest.raises(amends.InvalidText, match="^account name has a NUL byte"):
        book.post(JAN, [(f"{CASH}{NUL}", "1.00"), (GOODWILL, "-1.00")])


# ---------------------------------------------------------------- batches and loads


def test_a_nul_in_an_atomic_batch_of_entries_is_refused(book, unchanged):
    entries = [
        {"date": JAN, "postings": GRANT, "description": "first"},
        {"date": JAN, "postings": GRANT, "description": f"second{NUL}"},
    ]
    with unchanged(book), pytest.raises(amends.InvalidText, match="^entry 1 of the batch: description has a NUL byte"):
        book.post_batch(entries)


def test_a_nul_in_an_independent_batch_fails_that_entry_as_invalid_text(book):
    entries = [
        {"date": JAN, "postings": GRANT, "idempotency_key": f"k{NUL}1"},
        {"date": JAN, "postings": GRANT, "idempotency_key": "k2"},
    ]
    result = book.post_batch(entries, atomic=False)
    assert list(result.ids) == [0, 1]
    assert list(result.failures["code"]) == ["invalid_text"]
    assert result.failures["message"][0].startswith("idempotency key has a NUL byte at position 1")
    assert book.entry_count == 1


@pytest.mark.parametrize(
    "column, value, position",
    [("description", f"a{NUL}b", 1), ("entry_id", f"e{NUL}1", 1), ("account", f"Expenses:New{NUL}", 12)],
)
@pytest.mark.parametrize("atomic", [True, False], ids=["atomic", "independent"])
def test_a_nul_in_a_batch_frame_is_a_row_error_naming_the_column(book, unchanged, column, value, position, atomic):
    frame = pd.DataFrame(
        {
            "entry_id": ["e0", "e0", "e1", "e1"],
            "date": ["2026-01-15"] * 4,
            "account": [GOODWILL, C1, "Expenses:New", C1],
            "amount": ["1.00", "-1.00", "2.00", "-2.00"],
            "currency": ["USD"] * 4,
            "description": ["x", "x", "y", "y"],
        }
    )
    frame.loc[2, column] = value
    with unchanged(book), pytest.raises(amends.InvalidText, match=f"^row 2: column {column} has a NUL byte at position {position};"):
        book.post_batch(frame, open_missing_accounts=True, atomic=atomic)


@pytest.mark.parametrize(
    "line, column",
    [
        ("e2,2026-01-15,Expenses:Goodwill,1.00,USD,nul\x00here", "description"),
        ("e\x002,2026-01-15,Expenses:Goodwill,1.00,USD,x", "entry_id"),
        ("e2,2026-01-15,Expenses:Good\x00will,1.00,USD,x", "account"),
    ],
)
@pytest.mark.parametrize("atomic", [True, False], ids=["atomic", "independent"])
def test_a_nul_in_a_csv_cell_is_a_row_error_naming_file_line_and_column(book, unchanged, tmp_path, line, column, atomic):
    path = tmp_path / "postings.csv"
    path.write_bytes(
        (
            "entry_id,date,account,amount,currency,description\n"
            "e1,2026-01-15,Expenses:Goodwill,1.00,USD,first\n"
            "e1,2026-01-15,Liabilities:CustomerCredits:C1,-1.00,USD,first\n"
            f"{line}\n"
            "e2,2026-01-15,Liabilities:CustomerCredits:C1,-1.00,USD,x\n"
        ).encode()
    )
    with unchanged(book), pytest.raises(amends.InvalidText) as caught:
        book.load_csv(path, open_missing_accounts=True, atomic=atomic)
    assert str(caught.value).startswith(f"{path}: line 4: column {column} has a NUL byte")


def test_a_nul_in_a_key_prefix_or_a_path_is_refused_not_cut_short(book, unchanged, tmp_path):
    path = tmp_path / "postings.csv"
    path.write_text(
        "entry_id,date,account,amount,currency\n"
        "e1,2026-01-15,Expenses:Goodwill,1.00,USD\n"
        "e1,2026-01-15,Liabilities:CustomerCredits:C1,-1.00,USD\n"
    )
    with unchanged(book), pytest.raises(amends.InvalidText, match="postings.csv: key prefix has a NUL byte at position 3"):
        book.load_csv(path, key_prefix=f"jan{NUL}")
    with unchanged(book), pytest.raises(amends.InvalidText, match="^CSV path has a NUL byte"):
        book.load_csv(f"{path}{NUL}.old")
    with pytest.raises(amends.InvalidText, match="^journal path has a NUL byte"):
        book.to_journal(f"{tmp_path / 'book.journal'}{NUL}.old")
    assert not (tmp_path / "book.journal").exists()


# ---------------------------------------------------------------- book names


def test_a_nul_in_a_ledger_name_is_refused():
    with pytest.raises(amends.InvalidText, match="^book name has a NUL byte at position 2"):
        amends.Ledger(name=f"eu{NUL}")


def test_a_nul_in_a_book_name_is_refused_before_the_database_sees_it(pg_books_dsn):
    prefix = f"book_{uuid.uuid4().hex[:12]}"
    with pytest.raises(amends.InvalidText, match="^book name has a NUL byte"):
        amends.open(pg_books_dsn, f"{prefix}{NUL}x", simulation=True)
    # Nothing was created under the name before the NUL either.
    with pytest.raises(amends.StoreError, match="no book named"):
        amends.open(pg_books_dsn, prefix, create=False)
    with pytest.raises(amends.InvalidText, match="^book name has a NUL byte"):
        amends.read_postings(pg_books_dsn, f"{prefix}{NUL}x")


# ---------------------------------------------------------------- other control characters


CONTROL = "tab\there\nnew line\r\x01\x08\x0b\x0c\x1f\x7f back\\slash \\N \\t"


def test_control_characters_other_than_nul_round_trip_unchanged(empty_book):
    book = empty_book
    book.create_account("Expenses:Goodwill", "expense", dimensions={"note": CONTROL})
    book.create_account("Liabilities:CustomerCredits:C1", "liability", customer=CONTROL)
    first = book.post(
        JAN, GRANT, description=CONTROL, idempotency_key="k\t1\n", metadata={CONTROL: CONTROL}
    )
    held = book.reserve(JAN, GRANT, description=CONTROL)
    book.void_pending(held, JAN, CONTROL)
    reversal = book.reverse(first, JAN, CONTROL)

    def check(b):
        entry = b.entry(first)
        assert entry.description == CONTROL
        assert entry.idempotency_key == "k\t1\n"
        assert entry.metadata == {CONTROL: CONTROL}
        assert b.entry(held).description == CONTROL
        assert b.entry(held).reason == CONTROL
        assert b.entry(reversal).reason == CONTROL
        assert b.entry(reversal).description == f"Reversal of entry #{first}: {CONTROL}"
        assert b.account("Expenses:Goodwill").dimensions == {"note": CONTROL}
        assert b.account("Liabilities:CustomerCredits:C1").dimensions == {"customer": CONTROL}
        assert b.find_by_key("k\t1\n") == first

    check(book)
    if isinstance(book, amends.Book):
        check(amends.open(book.dsn, book.name, create=False))
