"""Billing importers: Stripe, Zuora, NetSuite, Lago and mapped CSV exports read into exact BillingBatches."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import amends
import amends.importers as importers
from amends.billing import COLUMNS, BadRow, BillingBatch, BillingImportError
from amends.importers import generic, lago, netsuite, stripe, zuora

DATA = Path(__file__).resolve().parent / "data" / "billing"
STRIPE, ZUORA, NETSUITE, LAGO, GENERIC = (DATA / d for d in ("stripe", "zuora", "netsuite", "lago", "generic"))
FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "stripe" / "fixtures3-subset.json"

SHOWN = ("file", "line", "id", "object", "customer", "currency", "amount_minor", "date", "status", "raw_status",
         "reference", "parent")


def rows(batch: BillingBatch) -> list[tuple[Any, ...]]:
    """The batch's rows as tuples of SHOWN, the file as its bare name."""
    out = []
    for record in batch.frame.to_dict("records"):
        out.append(tuple(Path(record[c]).name if c == "file" else record[c] for c in SHOWN))
    return out


def bad_rows(error: BillingImportError | list[BadRow]) -> list[tuple[str, int, str]]:
    found = error.rows if isinstance(error, BillingImportError) else error
    return [(Path(r.file).name, r.line, r.reason) for r in found]


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# ---------------------------------------------------------------- Stripe

STRIPE_CREDIT_NOTES = [
    ("credit_notes_page1.json", 1, "cn_1SgoodwillUSD2500", "credit_note", "cus_Acme01", "USD", 2500, d("2026-01-05"),
     "ok", "issued", "REQ-1001", "in_1Acme0001"),
    ("credit_notes_page1.json", 2, "cn_1SvoidedJPY3000", "credit_note", "cus_Globex02", "JPY", 3000, d("2026-01-06"),
     "void", "void", "REQ-1002", "in_1Globex0007"),
    ("credit_notes_page1.json", 3, "cn_1SoutOfBandEUR", "credit_note", "cus_Initech03", "EUR", 1999, d("2026-01-07"),
     "ok", "issued", "idem-77", "in_1Initech0003"),
    ("credit_notes_page2.json", 1, "cn_1SiskWholeKronur", "credit_note", "cus_Umbrella04", "ISK", 1500,
     d("2026-01-08"), "ok", "issued", "", "in_1Umbrella0004"),
    ("credit_notes_page2.json", 2, "cn_1SexpandedObjects", "credit_note", "cus_Hooli05", "USD", 420, d("2026-01-09"),
     "ok", "issued", "", "in_1Hooli0005"),
]


def test_stripe_credit_notes_from_two_list_pages_come_out_whole_with_statuses_and_zero_decimal_amounts():
    batch = stripe.read([STRIPE / "credit_notes_page1.json", STRIPE / "credit_notes_page2.json"])

    assert list(batch.frame.columns) == list(COLUMNS)
    assert set(batch.frame["source"]) == {"stripe"}
    # JPY is zero-decimal in Stripe and ISO; Stripe's ISK 150000 is 1500 kronur, ISK has no minor unit in ISO.
    assert rows(batch) == STRIPE_CREDIT_NOTES
    assert batch.skipped == []


def test_a_stripe_list_whose_last_page_says_has_more_is_an_incomplete_export():
    with pytest.raises(BillingImportError) as caught:
        stripe.read(STRIPE / "credit_notes_page1.json")

    assert bad_rows(caught.value) == [
        ("credit_notes_page1.json", 0, "/v1/credit_notes has more objects than the export holds (has_more is true on "
                                       "its last page): export every page")]


def test_an_incomplete_stripe_export_can_be_imported_knowingly_with_skip_bad_rows():
    batch = stripe.read(STRIPE / "incomplete_page.json", skip_bad_rows=True)

    assert rows(batch) == [("incomplete_page.json", 1, "re_9FirstPageOnly", "refund", "", "USD", 900, d("2026-01-12"),
                            "ok", "succeeded", "", "ch_9")]
    assert bad_rows(batch.skipped) == [
        ("incomplete_page.json", 0, "/v1/refunds has more objects than the export holds (has_more is true on its last "
                                    "page): export every page")]


def test_stripe_refund_statuses_map_to_ok_pending_and_failed_and_find_their_customer():
    batch = stripe.read(STRIPE / "refunds.json")

    # Position 2 is the charge ch_2Globex, which is no credit but tells re_2Pending its customer.
    assert rows(batch) == [
        ("refunds.json", 1, "re_1Succeeded", "refund", "cus_Acme01", "USD", 1500, d("2026-01-05"), "ok", "succeeded",
         "REQ-2001", "ch_1Acme"),
        ("refunds.json", 3, "re_2Pending", "refund", "cus_Globex02", "USD", 500, d("2026-01-06"), "pending", "pending",
         "", "ch_2Globex"),
        ("refunds.json", 4, "re_3RequiresAction", "refund", "cus_Initech03", "JPY", 5000, d("2026-01-07"), "pending",
         "requires_action", "REQ-2003", "pi_3Initech"),
        ("refunds.json", 5, "re_4Failed", "refund", "", "USD", 2000, d("2026-01-08"), "failed", "failed", "",
         "ch_4Unknown"),
        ("refunds.json", 6, "re_5Canceled", "refund", "cus_Hooli05", "EUR", 1000, d("2026-01-09"), "failed",
         "canceled", "", "ch_5Hooli"),
        ("refunds.json", 7, "re_6FailsLater", "refund", "cus_Acme01", "USD", 700, d("2026-01-10"), "ok", "succeeded",
         "REQ-2006", "ch_6Acme"),
    ]


def test_a_stripe_refund_that_succeeded_and_then_failed_is_one_failed_refund_dated_when_it_was_made():
    # refund_events.json lists the failure event (20 January) before the creation event, newest first.
    batch = stripe.read([STRIPE / "refunds.json", STRIPE / "refund_events.json"])

    later = batch.frame[batch.frame["id"] == "re_6FailsLater"]
    assert rows(BillingBatch(later.reset_index(drop=True))) == [
        ("refund_events.json", 1, "re_6FailsLater", "refund", "cus_Acme01", "USD", 700, d("2026-01-10"), "failed",
         "failed", "REQ-2006", "ch_6Acme")]
    assert len(batch) == 6


def test_a_stripe_object_on_two_pages_whole_is_kept_twice_for_reconciliation_to_report(tmp_path: Path):
    note = {"id": "cn_1", "object": "credit_note", "amount": 8000, "currency": "usd", "customer": "cus_1",
            "created": 1791200000, "status": "issued", "metadata": {"amends_request": "R-1"}}
    pages = [{"object": "list", "url": "/v1/credit_notes", "has_more": more, "data": [note]} for more in (True, False)]
    path = tmp_path / "pages.json"
    path.write_text(json.dumps(pages))

    batch = stripe.read(path)

    assert [(r[1], r[2], r[6], r[8]) for r in rows(batch)] == [(1, "cn_1", 8000, "ok"), (2, "cn_1", 8000, "ok")]


def test_a_stripe_object_read_twice_with_other_amounts_keeps_both_rows(tmp_path: Path):
    note = {"id": "cn_1", "object": "credit_note", "amount": 999999, "currency": "usd", "customer": "cus_1",
            "created": 1791200000, "status": "issued", "metadata": {"amends_request": "R-1"}}
    path = tmp_path / "notes.json"
    path.write_text(json.dumps([note, {**note, "amount": 8000}]))

    batch = stripe.read(path)

    assert [(r[2], r[6]) for r in rows(batch)] == [("cn_1", 999999), ("cn_1", 8000)]


def test_the_order_of_the_files_does_not_undo_a_stripe_refund_failure():
    forward = stripe.read([STRIPE / "refunds.json", STRIPE / "refund_events.json"])
    backward = stripe.read([STRIPE / "refund_events.json", STRIPE / "refunds.json"])

    def state(batch: BillingBatch) -> tuple[Any, ...]:
        row = batch.frame[batch.frame["id"] == "re_6FailsLater"].iloc[0]
        return row["status"], row["date"], row["amount_minor"]

    assert state(forward) == state(backward) == ("failed", d("2026-01-10"), 700)


def test_a_stripe_credit_note_that_refunds_is_one_concession_with_its_refunds_trouble(tmp_path: Path):
    def note(status: str = "issued") -> dict[str, Any]:
        return {"id": "cn_R1", "object": "credit_note", "amount": 4000, "currency": "usd", "customer": "cus_1",
                "created": 1790000000, "status": status, "invoice": "in_1", "metadata": {"amends_request": "R-000001"},
                "refunds": [{"refund": "re_R1", "amount_refunded": 4000}]}

    def refund(status: str) -> dict[str, Any]:
        return {"id": "re_R1", "object": "refund", "amount": 4000, "currency": "usd", "charge": "ch_1",
                "created": 1790000100, "status": status, "metadata": {}}

    def read(*objects: dict[str, Any]) -> list[tuple[Any, ...]]:
        path = tmp_path / "export.json"
        path.write_text(json.dumps({"object": "list", "url": "/v1/x", "has_more": False, "data": list(objects)}))
        frame = stripe.read([path]).frame
        return list(frame[["id", "object", "status", "raw_status", "reference", "parent"]].itertuples(index=False, name=None))

    # Stripe made the refund for the credit note: one row, the credit note's.
    assert read(note(), refund("succeeded")) == [("cn_R1", "credit_note", "ok", "issued", "R-000001", "in_1")]
    # The refund failed: the credit note did not reach the customer.
    assert read(note(), refund("failed")) == [
        ("cn_R1", "credit_note", "failed", "issued; refund re_R1 failed", "R-000001", "in_1")]
    # Without its credit note in the import, the refund is a row of its own.
    assert read(refund("succeeded")) == [("re_R1", "refund", "ok", "succeeded", "", "ch_1")]


def test_only_stripe_balance_credits_that_grant_something_are_imported():
    batch = stripe.read(STRIPE / "customer_balance_transactions.json")

    # Passed over: a debit applying the credit to an invoice, the balance side of a credit note, a debit
    # adjustment, an overpayment (the customer's own money), a credit returned from an invoice, a migration.
    assert rows(batch) == [
        ("customer_balance_transactions.json", 1, "cbtxn_1Goodwill", "balance_credit", "cus_Acme01", "USD", 500,
         d("2026-01-05"), "ok", "adjustment", "REQ-3001", ""),
        ("customer_balance_transactions.json", 4, "cbtxn_4Initial", "balance_credit", "cus_Globex02", "JPY", 1000,
         d("2026-01-08"), "ok", "initial", "", ""),
    ]


def test_the_stripe_balance_report_gives_refunds_in_the_customers_currency_and_folds_in_their_failures():
    batch = stripe.read(STRIPE / "balance_change_from_activity.csv")

    # A BOM, CRLF, a quoted comma, quoted quotes and a quoted newline, an empty line and a line of commas;
    # charges, fees and disputes are passed over. re_12Euro settled as USD 10.85 but the customer got EUR 10.00.
    assert rows(batch) == [
        ("balance_change_from_activity.csv", 3, "re_10Goodwill", "refund", "cus_Acme01", "USD", 1500, d("2026-01-05"),
         "ok", "refund", "REQ-4001", "ch_10Acme"),
        ("balance_change_from_activity.csv", 6, "re_11Yen", "refund", "cus_Globex02", "JPY", 1000, d("2026-01-06"),
         "ok", "refund", "", "ch_11Globex"),
        ("balance_change_from_activity.csv", 8, "re_12Euro", "refund", "cus_Initech03", "EUR", 1000, d("2026-01-08"),
         "ok", "refund", "REQ-4003", "ch_12Initech"),
        ("balance_change_from_activity.csv", 11, "re_13FailsLater", "refund", "cus_Hooli05", "USD", 500,
         d("2026-01-09"), "failed", "refund_failure", "REQ-4004", "ch_13Hooli"),
    ]


def test_stripe_json_and_csv_files_are_read_in_one_import():
    batch = stripe.read([STRIPE / "refunds.json", STRIPE / "balance_change_from_activity.csv"])

    assert len(batch) == 10
    assert list(batch.frame["file"].map(lambda f: Path(f).name).unique()) == ["refunds.json",
                                                                              "balance_change_from_activity.csv"]


def test_stripe_pages_may_come_as_one_json_array_of_pages(tmp_path: Path):
    path = tmp_path / "credit_notes.json"
    pages = [(STRIPE / "credit_notes_page1.json").read_text(), (STRIPE / "credit_notes_page2.json").read_text()]
    path.write_text("[" + ",".join(pages) + "]")

    batch = stripe.read(path)

    # One file: the objects are numbered 1..5 across its pages.
    assert [(r[1], r[2]) for r in rows(batch)] == [(k + 1, r[2]) for k, r in enumerate(STRIPE_CREDIT_NOTES)]
    assert [r[3:] for r in rows(batch)] == [r[3:] for r in STRIPE_CREDIT_NOTES]


def test_stripe_files_without_a_telling_extension_are_sniffed(tmp_path: Path):
    json_copy, csv_copy = tmp_path / "refunds.export", tmp_path / "report.txt"
    json_copy.write_bytes((STRIPE / "refunds.json").read_bytes())
    csv_copy.write_bytes((STRIPE / "balance_change_from_activity.csv").read_bytes())

    batch = stripe.read([json_copy, csv_copy])

    assert len(batch) == 10
    assert batch.frame["file"].tolist()[0] == str(json_copy)


def test_bad_stripe_objects_are_all_reported_and_nothing_is_imported():
    with pytest.raises(BillingImportError) as caught:
        stripe.read(STRIPE / "bad_objects.json")

    assert bad_rows(caught.value) == [
        ("bad_objects.json", 1, "refund re_bUnknownCurrency: unknown currency 'xyz'"),
        ("bad_objects.json", 3, "not a Stripe object: 'not an object'"),
        ("bad_objects.json", 4, "credit_note (no id): missing id"),
        ("bad_objects.json", 5, "refund re_bFloat: amount 10.5 is not a whole number of minor units"),
        ("bad_objects.json", 6, "refund re_bStatus: status 'reversed' is not one of succeeded, pending, "
                                "requires_action, failed, canceled"),
        ("bad_objects.json", 7, "refund re_bIskFraction: amount 123.45 (Stripe amount 12345) is finer than the ISK "
                                "minor unit (no minor unit)"),
        ("bad_objects.json", 8, "customer_balance_transaction cbtxn_bFutureType: a credit of type "
                                "'store_credit_grant', which amends does not know as a grant or not: tell amends' "
                                "maintainers, or skip it with skip_bad_rows"),
        ("bad_objects.json", 9, "not a Stripe object: it has no \"object\" field"),
    ]
    assert "nothing was imported" in str(caught.value)


def test_skipping_bad_stripe_objects_imports_the_good_one_and_keeps_the_rest_in_skipped():
    batch = stripe.read(STRIPE / "bad_objects.json", skip_bad_rows=True)

    assert rows(batch) == [("bad_objects.json", 2, "re_bGood", "refund", "", "USD", 100, d("2026-01-12"), "ok",
                            "succeeded", "", "ch_b2")]
    assert [r.line for r in batch.skipped] == [1, 3, 4, 5, 6, 7, 8, 9]


def test_bad_stripe_report_rows_name_their_line_and_reason():
    with pytest.raises(BillingImportError) as caught:
        stripe.read(STRIPE / "bad_report.csv")

    assert bad_rows(caught.value) == [
        ("bad_report.csv", 2, "amount -12.345 is finer than the USD minor unit (2 decimal places)"),
        ("bad_report.csv", 3, "a refund with gross 12.00: Stripe reports refunds negative and their failures "
                              "positive"),
        ("bad_report.csv", 4, "6 fields where the header has 7"),
        ("bad_report.csv", 5, "missing created_utc"),
        ("bad_report.csv", 6, "missing source_id"),
        ("bad_report.csv", 7, "amount -12.5 is finer than the JPY minor unit (no minor unit)"),
        ("bad_report.csv", 9, "amount '-1,000.00' is not a number (decimal separator '.')"),
    ]


def test_a_stripe_report_without_a_required_column_is_one_bad_row_on_its_header():
    with pytest.raises(BillingImportError) as caught:
        stripe.read(STRIPE / "report_without_gross.csv")

    assert bad_rows(caught.value) == [("report_without_gross.csv", 1, "the header has no 'gross' column")]


def test_stripe_amounts_rescale_where_stripe_and_iso_disagree(tmp_path: Path):
    refunds = [{"object": "refund", "id": f"re_{code}", "amount": amount, "currency": code.lower(),
                "status": "succeeded", "created": 1767607200, "charge": "ch_x", "metadata": {}}
               for code, amount in (("MGA", 500), ("HUF", 12345), ("TWD", 100), ("UGX", 5000), ("KWD", 1230),
                                    ("KRW", 9900), ("ISK", 700))]
    path = tmp_path / "refunds.json"
    path.write_text(json.dumps(refunds))

    batch = stripe.read(path)

    # MGA: zero-decimal in Stripe, two decimals in ISO; ISK the other way round; the rest agree.
    assert dict(zip(batch.frame["currency"], batch.frame["amount_minor"])) == {
        "MGA": 50000, "HUF": 12345, "TWD": 100, "UGX": 5000, "KWD": 1230, "KRW": 9900, "ISK": 7}


@pytest.mark.skipif(not FIXTURE.exists(), reason="optional: Stripe's own API fixture (fixtures3-subset.json) is not beside the repository")
def test_stripes_own_api_fixtures_give_the_credit_note_refund_and_balance_credit():
    batch = stripe.read(FIXTURE)

    # The fixture is a map of one object per kind: charge, invoice, customer and the others aren't credits.
    # Amounts by hand: credit note amount 1690 (lines 1190 + 500), refund 100, balance transaction -500 -> 500;
    # all created 1234567890 = 2009-02-13 23:31:30 UTC. The charge in the file has no customer.
    assert rows(batch) == [
        ("fixtures3-subset.json", 3, "cn_1Pgc75B7WZ01zgkWJMPt5riP", "credit_note", "cus_QXg1o8vcGmoR32", "USD", 1690,
         d("2009-02-13"), "ok", "issued", "", "in_1Pgc75B7WZ01zgkWYv4iMwt7"),
        ("fixtures3-subset.json", 6, "cbtxn_1Pgc75B7WZ01zgkWgM0DfYYl", "balance_credit", "cus_QXg1o8vcGmoR32", "USD",
         500, d("2009-02-13"), "ok", "adjustment", "", ""),
        ("fixtures3-subset.json", 8, "re_1Pgc72B7WZ01zgkWqPvrRrPE", "refund", "", "USD", 100, d("2009-02-13"), "ok",
         "succeeded", "", "ch_1PgafuB7WZ01zgkWXYmPNZs8"),
    ]
    assert batch.skipped == []


# ---------------------------------------------------------------- Zuora

def test_zuora_credit_memos_from_the_rest_list_response():
    batch = zuora.read(ZUORA / "credit_memos.json")

    assert rows(batch) == [
        ("credit_memos.json", 1, "CM00000101", "credit_memo", "A00000001", "USD", 12550, d("2026-01-05"), "ok",
         "Posted", "REQ-5001", "8ad09be48db5aba8018db5d3c2a1inv1"),
        ("credit_memos.json", 2, "CM00000102", "credit_memo", "A00000002", "JPY", 3000, d("2026-01-06"), "pending",
         "Draft", "REQ-5002", ""),
        ("credit_memos.json", 3, "CM00000103", "credit_memo", "A00000003", "EUR", 4000, d("2026-01-07"), "void",
         "Canceled", "", ""),
        ("credit_memos.json", 4, "CM00000104", "credit_memo", "8ad09be48db5aba8018db5d3c2a1055e", "USD", 1000,
         d("2026-01-08"), "ok", "Posted", "", "8ad09be48db5aba8018db5d3c2a1inv4"),
    ]


def test_zuora_credit_memos_from_a_data_source_export_with_bom_crlf_and_quoted_fields():
    batch = importers.read("zuora", ZUORA / "credit_memos.csv")

    assert rows(batch) == [
        ("credit_memos.csv", 2, "CM00000201", "credit_memo", "A00000001", "USD", 25000, d("2026-01-05"), "ok",
         "Posted", "REQ-5101", "INV00000901"),
        ("credit_memos.csv", 3, "CM00000202", "credit_memo", "A00000002", "JPY", 12000, d("2026-01-06"), "pending",
         "Draft", "REQ-5102", ""),
        ("credit_memos.csv", 5, "CM00000203", "credit_memo", "A00000003", "EUR", 1999, d("2026-01-07"), "void",
         "Canceled", "", "INV00000903"),
        ("credit_memos.csv", 7, "CM00000204", "credit_memo", "A00000004", "GBP", 105000, d("2026-01-08"), "ok",
         "Posted", "REQ-5104", "INV00000904"),
    ]


def test_bad_zuora_rows_are_all_reported_and_nothing_is_imported():
    with pytest.raises(BillingImportError) as caught:
        zuora.read(ZUORA / "credit_memos_bad.csv")

    assert bad_rows(caught.value) == [
        ("credit_memos_bad.csv", 2, "amount 100.5 is finer than the JPY minor unit (no minor unit)"),
        ("credit_memos_bad.csv", 3, "missing memo number"),
        ("credit_memos_bad.csv", 4, "status 'Reversed' is not a Zuora credit memo status (Draft, Posted, Canceled, "
                                    "...)"),
        ("credit_memos_bad.csv", 5, "unknown currency 'ABC'"),
        ("credit_memos_bad.csv", 6, "memo date '05/01/2026' is not a date (YYYY-MM-DD)"),
        ("credit_memos_bad.csv", 7, "amount -10.00 is negative: a credit memo's total is positive"),
        ("credit_memos_bad.csv", 9, "CM00000307 appears again (first on line 8): a credit memo export has one row per "
                                    "memo (export the Credit Memo data source, not its items)"),
    ]


def test_a_zuora_export_with_day_first_dates_reads_them_through_date_format():
    batch = zuora.read(ZUORA / "credit_memos_bad.csv", skip_bad_rows=True, date_format="%d/%m/%Y")

    # With the format, line 6's 05/01/2026 is read and every ISO date on the other lines becomes a bad row.
    assert [(r[1], r[2], r[7]) for r in rows(batch)] == [(6, "CM00000305", d("2026-01-05"))]
    assert [r.line for r in batch.skipped] == [2, 3, 4, 5, 7, 8, 9]


def test_a_zuora_error_response_is_a_bad_file_not_an_empty_one(tmp_path: Path):
    path = tmp_path / "memos.json"
    path.write_text(json.dumps({"success": False, "reasons": [{"code": 50000040, "message": "Cannot find entity"}]}))

    with pytest.raises(BillingImportError) as caught:
        zuora.read(path)

    assert bad_rows(caught.value) == [
        ("memos.json", 0, "an error response, not credit memos: [{'code': 50000040, 'message': 'Cannot find entity'}]")]


# ---------------------------------------------------------------- NetSuite

def test_netsuite_credit_memos_from_a_saved_search():
    batch = netsuite.read(NETSUITE / "credit_memos.csv")

    # Foreign-currency amounts (not the base-currency Amount), the sign dropped, thousands separators, a voided
    # memo at 0, "Credit Memo:" before the status, currency record names, an ISO date among M/D/YYYY ones.
    assert rows(batch) == [
        ("credit_memos.csv", 2, "CM1001", "credit_memo", "C-1001 Acme, Inc.", "USD", 125000, d("2026-01-05"), "ok",
         "Credit Memo:Fully Applied", "REQ-6001", "INV1001"),
        ("credit_memos.csv", 4, "CM1002", "credit_memo", "C-1002 Globex KK", "JPY", 5000, d("2026-01-06"), "ok",
         "Open", "", "INV1002"),
        ("credit_memos.csv", 6, "CM1003", "credit_memo", "C-1003 Initech", "USD", 0, d("2026-01-07"), "void",
         "Voided", "", ""),
        ("credit_memos.csv", 9, "CM1004", "credit_memo", "C-1004 Umbrella Ltd", "EUR", 9999, d("2026-01-08"), "ok",
         "Open", "REQ-6004", "RMA12"),
        ("credit_memos.csv", 10, "CM1005", "credit_memo", "C-1005 Hooli", "GBP", 2000, d("2026-01-09"), "ok",
         "Fully Applied", "", "INV1005"),
    ]


def test_bad_netsuite_rows_include_a_line_level_export():
    with pytest.raises(BillingImportError) as caught:
        netsuite.read(NETSUITE / "credit_memos_bad.csv")

    hint = "one row per credit memo is expected: set Main Line to true in the saved search's criteria"
    assert bad_rows(caught.value) == [
        ("credit_memos_bad.csv", 3, f"CM2001 appears again (first on line 2): {hint}"),
        ("credit_memos_bad.csv", 4, f"CM2001 appears again (first on line 2): {hint}"),
        ("credit_memos_bad.csv", 5, "status 'Pending Approval' is not Open, Fully Applied or Voided"),
        ("credit_memos_bad.csv", 6, "unknown currency 'Doubloon' (name it with currency_names)"),
        ("credit_memos_bad.csv", 7, "amount -12.345 is finer than the USD minor unit (2 decimal places)"),
        ("credit_memos_bad.csv", 8, "date '13/1/2026' does not match the date format '%m/%d/%Y'"),
        ("credit_memos_bad.csv", 9, "missing document number"),
    ]


def test_netsuite_options_name_currencies_and_read_day_first_dates_of_a_single_currency_account():
    batch = netsuite.read(NETSUITE / "single_currency.csv", date_format="%d/%m/%Y", default_currency="EUR")

    assert rows(batch) == [
        ("single_currency.csv", 2, "CM3001", "credit_memo", "C-2001", "EUR", 1500, d("2026-01-05"), "ok", "Open", "",
         ""),
        ("single_currency.csv", 3, "CM3002", "credit_memo", "C-2002", "EUR", 123450, d("2026-01-06"), "ok",
         "Fully Applied", "", ""),
    ]
    named = netsuite.read(NETSUITE / "credit_memos_bad.csv", skip_bad_rows=True, currency_names={"Doubloon": "EUR"})
    assert ("CM2003", "EUR") in {(r[2], r[5]) for r in rows(named)}


def test_a_netsuite_export_without_currency_needs_a_default_currency():
    with pytest.raises(BillingImportError) as caught:
        netsuite.read(NETSUITE / "single_currency.csv", date_format="%d/%m/%Y")

    reason = "missing currency (pass default_currency for a single-currency account)"
    assert bad_rows(caught.value) == [("single_currency.csv", 2, reason), ("single_currency.csv", 3, reason)]


# ---------------------------------------------------------------- Lago

LAGO_PAGES = [
    ("credit_notes_page1.json", 1, "ACME-0001-CN1", "credit_note", "cust-acme", "USD", 2500, d("2026-01-05"), "ok",
     "available", "REQ-7001", "ACME-0001"),
    ("credit_notes_page1.json", 2, "ACME-0002-CN1", "credit_note", "cust-globex", "EUR", 1200, d("2026-01-06"), "void",
     "voided", "", "ACME-0002"),
    ("credit_notes_page1.json", 3, "ACME-0003-CN1", "credit_note", "99999999-0000-4000-8000-000000000003", "USD", 3000,
     d("2026-01-07"), "failed", "consumed/failed", "REQ-7003", "ACME-0003"),
    ("credit_notes_page2.json", 1, "ACME-0004-CN1", "credit_note", "cust-initech", "JPY", 5000, d("2026-01-08"),
     "pending", "pending", "", "ACME-0004"),
]


def test_lago_credit_notes_from_two_pages_with_voided_failed_and_pending_ones():
    batch = lago.read([LAGO / "credit_notes_page1.json", LAGO / "credit_notes_page2.json"])

    assert rows(batch) == LAGO_PAGES


def test_a_lago_credit_note_counts_credit_refund_and_offset_and_a_later_refund_failure_wins():
    created = lago.read(LAGO / "webhook_credit_note.json")
    failed = lago.read([LAGO / "webhook_credit_note.json", LAGO / "webhooks_refund_failed.json"])

    # total_amount_cents 1500 = credit 500 + refund 600 + offset 400.
    assert rows(created) == [("webhook_credit_note.json", 1, "ACME-0005-CN1", "credit_note", "cust-umbrella", "GBP",
                              1500, d("2026-01-09"), "ok", "available/succeeded", "idem-7005", "ACME-0005")]
    assert rows(failed) == [("webhooks_refund_failed.json", 2, "ACME-0005-CN1", "credit_note", "cust-umbrella", "GBP",
                             1500, d("2026-01-09"), "failed", "available/failed", "idem-7005", "ACME-0005")]


def test_a_lago_page_whose_next_page_is_missing_is_an_incomplete_export():
    with pytest.raises(BillingImportError) as caught:
        importers.read("lago", LAGO / "credit_notes_page1.json")

    assert bad_rows(caught.value) == [
        ("credit_notes_page1.json", 0, "page 1 says page 2 follows, and the import doesn't hold it: export every page")]


def test_bad_lago_credit_notes_are_all_reported_and_nothing_is_imported():
    with pytest.raises(BillingImportError) as caught:
        lago.read(LAGO / "bad_notes.json")

    assert bad_rows(caught.value) == [
        ("bad_notes.json", 1, "credit note BAD-0001-CN1: credit_status 'refunded' is not one of available, consumed, "
                              "voided"),
        ("bad_notes.json", 2, "credit note BAD-0002-CN1: total_amount_cents 12.5 is not a whole number of minor units"),
        ("bad_notes.json", 3, "credit note BAD-0003-CN1: missing currency"),
        ("bad_notes.json", 4, "credit note BAD-0004-CN1: issuing_date '5 Jan 2026' is not a date (YYYY-MM-DD)"),
    ]


# ---------------------------------------------------------------- CSV through a mapping

def test_a_mapped_csv_in_a_european_locale_and_encoding():
    batch = importers.read("csv", GENERIC / "europe.csv", mapping=GENERIC / "europe.toml")

    # cp1252, semicolons, "1.234,56", credits negative, day-first dates, a status table matched ignoring case
    # ("fehlgeschlagen"), a quoted semicolon and newline, JPY "5.000" (five thousand yen), an empty currency
    # cell taking the default, and twelve million francs.
    assert set(batch.frame["source"]) == {"fakturia"}
    assert rows(batch) == [
        ("europe.csv", 2, "GS-2026-001", "credit_note", "K-100", "EUR", 123456, d("2026-01-05"), "ok", "Erstattet",
         "REQ-8001", "RE-2025-900"),
        ("europe.csv", 3, "GS-2026-002", "credit_note", "K-101", "EUR", 9990, d("2026-01-06"), "void", "Storniert", "",
         "RE-2025-901"),
        ("europe.csv", 5, "GS-2026-003", "credit_note", "K-102", "JPY", 5000, d("2026-01-07"), "failed",
         "fehlgeschlagen", "REQ-8003", ""),
        ("europe.csv", 7, "GS-2026-004", "credit_note", "K-103", "EUR", 50, d("2026-01-08"), "pending", "Offen", "",
         "RE-2025-903"),
        ("europe.csv", 8, "GS-2026-005", "credit_note", "K-104", "CHF", 1200000000, d("2026-01-09"), "ok", "Erstattet",
         "REQ-8005", "RE-2025-904"),
    ]


def test_a_mapped_tab_separated_file_in_minor_units_with_objects_and_utc_dates():
    batch = generic.read(GENERIC / "minor_units.tsv", GENERIC / "minor_units.toml")

    # 23:30 at -05:00 on 5 January is 6 January in UTC; midnight at +09:00 on 7 January is 6 January too.
    assert rows(batch) == [
        ("minor_units.tsv", 2, "cr_1", "balance_credit", "acct_9", "USD", 2500, d("2026-01-06"), "ok", "", "REQ-9001",
         ""),
        ("minor_units.tsv", 3, "cr_2", "refund", "acct_8", "USD", 199, d("2026-01-06"), "ok", "", "", ""),
        ("minor_units.tsv", 4, "cr_3", "credit_note", "acct_7", "USD", 0, d("2026-01-06"), "ok", "", "REQ-9003", ""),
    ]
    assert set(batch.frame["source"]) == {"homegrown"}


def test_bad_mapped_rows_are_all_reported_and_nothing_is_imported():
    with pytest.raises(BillingImportError) as caught:
        generic.read(GENERIC / "bad.csv", GENERIC / "europe.toml")

    assert bad_rows(caught.value) == [
        ("bad.csv", 2, "amount 12,00 is a debit, not a credit: this mapping writes credits negative"),
        ("bad.csv", 3, "amount -12,345 is finer than the EUR minor unit (2 decimal places)"),
        ("bad.csv", 4, "status 'Gutgeschrieben' is not in the mapping's [status] table"),
        ("bad.csv", 5, "missing id"),
        ("bad.csv", 6, "date '2026-01-05' does not match the date format '%d.%m.%Y'"),
        ("bad.csv", 7, "9 fields where the header has 8"),
        ("bad.csv", 8, "unknown currency 'XEU'"),
        ("bad.csv", 9, "amount '-1,234.00' is not a number (decimal separator ',', thousands separator '.')"),
    ]


def test_skipping_bad_mapped_rows_keeps_the_good_one():
    batch = generic.read(GENERIC / "bad.csv", GENERIC / "europe.toml", skip_bad_rows=True)

    assert rows(batch) == [("bad.csv", 10, "GS-B-009", "credit_note", "K-1", "EUR", 1200, d("2026-01-05"), "ok",
                            "Erstattet", "", "")]
    assert len(batch.skipped) == 8


def test_a_file_in_another_encoding_than_declared_is_one_bad_row_at_the_first_wrong_byte():
    as_utf8 = dataclasses.replace(generic.load_mapping(GENERIC / "europe.toml"), encoding="utf-8")

    with pytest.raises(BillingImportError) as caught:
        generic.read(GENERIC / "europe.csv", as_utf8)

    assert bad_rows(caught.value) == [("europe.csv", 1, "not valid utf-8: byte 0xe4 (declare the file's encoding)")]


MAPPING: dict[str, Any] = {"name": "t", "columns": {"ID": "id", "Amount": "amount", "Date": "date", "Cur": "currency"}}


def mapping(**changes: Any) -> dict[str, Any]:
    out = {**MAPPING, **changes}
    return {k: v for k, v in out.items() if v is not None}


@pytest.mark.parametrize("changes, message", [
    ({"columns": {"ID": "id", "Amount": "amount"}},
     "[columns] maps no column to date, currency (or a default_currency)"),
    ({"columns": {"ID": "id", "Amount": "amont", "Date": "date", "Cur": "currency"}},
     "[columns] 'Amount' = 'amont': the value must be one of id, customer, currency, amount, date, status, reference, "
     "parent, object"),
    ({"columns": {"ID": "id", "Total": "amount", "Amount": "amount", "Date": "date", "Cur": "currency"}},
     "[columns] maps both 'Total' and 'Amount' to amount"),
    ({"amount_units": "minor"}, "unknown setting(s) amount_units"),
    ({"credit_sign": "credit"}, "credit_sign is one of positive, negative, not 'credit'"),
    ({"decimal_separator": ",", "thousands_separator": ","}, "the thousands and decimal separators differ"),
    ({"delimiter": ";;"}, "delimiter and decimal_separator are one character"),
    ({"encoding": "klingon-8"}, "unknown encoding 'klingon-8'"),
    ({"default_currency": "XBT"}, "default_currency: unknown currency 'XBT'"),
    ({"date_format": "YYYY-MM-DD"}, "date_format 'YYYY-MM-DD' has no strftime directive"),
    ({"name": " "}, "name (the batch's source) is empty"),
    ({"status": {"Paid": "settled"}},
     "[status] 'Paid' = 'settled': the value must be one of ok, void, failed, pending"),
    ({"columns": {"ID": "id", "Amount": "amount", "Date": "date", "Cur": "currency", "State": "status"}},
     "a status column needs a [status] table"),
])
def test_a_mapping_that_cannot_work_is_refused_with_what_to_fix(changes: dict[str, Any], message: str):
    with pytest.raises(amends.InvalidArgument) as caught:
        generic.load_mapping(mapping(**changes))

    assert message in str(caught.value)


def test_a_mapped_file_without_a_mapped_column_is_one_bad_row(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text("ID,Amount,Date\nA-1,1.00,2026-01-05\n")

    with pytest.raises(BillingImportError) as caught:
        generic.read(path, mapping())

    assert bad_rows(caught.value) == [("x.csv", 1, "the header has no 'Cur' column")]


# ---------------------------------------------------------------- the shared CSV reader and the dispatcher

def test_quoting_is_read_exactly_and_an_unterminated_quote_is_a_bad_row(tmp_path: Path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'\xef\xbb\xbfID,Amount,Date,Cur\r\n"A,1","1,000.50",2026-01-05,USD\r\n\r\n'
                     b'"A\r\n2",2.00,2026-01-06,usd\r\n"A3,3.00,2026-01-07,USD\r\n')

    with pytest.raises(BillingImportError) as caught:
        generic.read(path, mapping(thousands_separator=","))
    batch = generic.read(path, mapping(thousands_separator=","), skip_bad_rows=True)

    assert bad_rows(caught.value) == [("q.csv", 6, "unreadable CSV: unexpected end of data")]
    assert [(r[1], r[2], r[6]) for r in rows(batch)] == [(2, "A,1", 100050), (4, "A\r\n2", 200)]


def test_a_mapped_csv_id_repeated_in_another_file_keeps_both_rows_and_in_one_file_is_a_bad_row(tmp_path: Path):
    header = "id,customer,amount,currency,date\n"
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(header + "CN-1,C-1,9999.99,USD,2026-10-05\n")
    second.write_text(header + "CN-1,C-1,80.00,USD,2026-10-05\n")
    plain = {"columns": {"id": "id", "customer": "customer", "amount": "amount", "currency": "currency",
                         "date": "date"}}

    batch = generic.read([first, second], plain)

    assert [(r[0], r[2], r[6]) for r in rows(batch)] == [("a.csv", "CN-1", 999999), ("b.csv", "CN-1", 8000)]
    both = tmp_path / "both.csv"
    both.write_text(header + "CN-1,C-1,9999.99,USD,2026-10-05\nCN-1,C-1,80.00,USD,2026-10-05\n")
    with pytest.raises(BillingImportError) as caught:
        generic.read(both, plain)
    assert bad_rows(caught.value) == [("both.csv", 3, "CN-1 appears again (first on line 2): a file lists each "
                                                      "credit once")]


def test_an_importer_records_the_files_it_read(tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    batch = generic.read(path, mapping())
    assert len(batch) == 0 and batch.files == [str(path)]
    assert BillingBatch.concat([batch, stripe.read(STRIPE / "refunds.json")]).files == [str(path),
                                                                                         str(STRIPE / "refunds.json")]


def test_an_empty_file_imports_nothing(tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_text("\n\n")

    batch = generic.read(path, mapping())

    assert len(batch) == 0 and batch.skipped == [] and list(batch.frame.columns) == list(COLUMNS)


def test_bad_rows_of_several_files_are_reported_together_in_file_order():
    with pytest.raises(BillingImportError) as caught:
        stripe.read([STRIPE / "bad_report.csv", STRIPE / "incomplete_page.json"])

    assert [(f, line) for f, line, _ in bad_rows(caught.value)] == [
        ("bad_report.csv", 2), ("bad_report.csv", 3), ("bad_report.csv", 4), ("bad_report.csv", 5),
        ("bad_report.csv", 6), ("bad_report.csv", 7), ("bad_report.csv", 9), ("incomplete_page.json", 0)]


def test_invalid_json_is_one_bad_row_for_the_file(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('{"object": "list", "data": [')

    with pytest.raises(BillingImportError) as caught:
        stripe.read(path)

    assert bad_rows(caught.value) == [("broken.json", 0, "not valid JSON: Expecting value: line 1 column 29 (char 28)")]


def test_the_dispatcher_reads_each_source_and_refuses_what_it_cannot():
    assert len(importers.read("netsuite", NETSUITE / "credit_memos.csv")) == 5
    assert len(importers.read("lago", [LAGO / "credit_notes_page1.json", LAGO / "credit_notes_page2.json"])) == 4

    with pytest.raises(amends.InvalidArgument, match="unknown billing source 'chargebee'"):
        importers.read("chargebee", GENERIC / "europe.csv")
    with pytest.raises(amends.InvalidArgument, match="source 'csv' needs a mapping"):
        importers.read("csv", GENERIC / "europe.csv")
    with pytest.raises(amends.InvalidArgument, match="a mapping is for source 'csv'"):
        importers.read("stripe", STRIPE / "refunds.json", mapping=GENERIC / "europe.toml")
    with pytest.raises(amends.AmendsIOError, match="no such file"):
        importers.read("stripe", STRIPE / "missing.json")
    assert importers.SOURCES == ("stripe", "zuora", "netsuite", "lago", "csv")
