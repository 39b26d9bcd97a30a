// Queries over a small hand-computed book: balances as of a date, rollups,
// dimensions, trial balance, statements, activity, the balance report and the
// journal export.
#include <string>
#include <vector>

#include "test_ledger_support.hpp"

namespace {

using namespace amends_test;
using amends::ActivityRow;
using amends::DimensionBalance;
using amends::ReportLine;
using amends::Statement;
using amends::TrialBalance;

// The book every query test reads. Entries (USD unless noted):
//   1 2026-01-05 Opening    Bank +1000.00, Equity:Opening -1000.00
//   2 2026-01-20 Sale       Receivables +250.00, Sales -250.00
//   3 2026-02-03 Credit C1  ServiceCredits +40.00, C1 -40.00
//   4 2026-02-10 Credit C2  ServiceCredits +15.50, C2 -15.50
//   5 2026-02-15 C1 spends  C1 +10.00, Receivables -10.00
//   6 2026-01-25 Collection Bank +100.00, Receivables -100.00   (posted late, dated earlier)
//   7 2026-03-01 EUR        Wallet +80.00 EUR, Equity:OpeningEUR -80.00 EUR
//   8 2026-03-02 Small sale Rec +5.00, Sales -5.00
//   9 2026-03-03 reservation Receivables +999.00, Sales -999.00 (never in posted figures)
struct QueryBook {
  Ledger ledger;
  AccountId bank = open("Assets:Bank", AccountType::asset);
  AccountId receivables = open("Assets:Receivables", AccountType::asset, {{"region", "EU"}});
  AccountId rec = open("Assets:Rec", AccountType::asset);
  AccountId wallet = open("Assets:Wallet", AccountType::asset, {}, "EUR");
  AccountId equity = open("Equity:Opening", AccountType::equity);
  AccountId equity_eur = open("Equity:OpeningEUR", AccountType::equity, {}, "EUR");
  AccountId c1 = open("Liabilities:CustomerCredits:C1", AccountType::liability, {{"region", "EU"}});
  AccountId c2 = open("Liabilities:CustomerCredits:C2", AccountType::liability, {{"region", "US"}});
  AccountId service_credits = open("Revenue:ContraRevenue:ServiceCredits", AccountType::contra_revenue);
  AccountId sales = open("Revenue:Sales", AccountType::revenue);
  AccountId unused = open("Expenses:Unused", AccountType::expense, {{"region", "EU"}});

  QueryBook() {
    ledger.post(draft("2026-01-05", {{bank, "1000.00"}, {equity, "-1000.00"}}, "Opening"));
    ledger.post(draft("2026-01-20", {{receivables, "250.00"}, {sales, "-250.00"}}, "Sale"));
    ledger.post(draft("2026-02-03", {{service_credits, "40.00"}, {c1, "-40.00"}}, "Credit C1"));
    ledger.post(draft("2026-02-10", {{service_credits, "15.50"}, {c2, "-15.50"}}, "Credit C2"));
    ledger.post(draft("2026-02-15", {{c1, "10.00"}, {receivables, "-10.00"}}, "C1 spends"));
    ledger.post(draft("2026-01-25", {{bank, "100.00"}, {receivables, "-100.00"}}, "Collection"));
    ledger.post(draft("2026-03-01", {{wallet, "80.00"}, {equity_eur, "-80.00"}}, "EUR"));
    ledger.post(draft("2026-03-02", {{rec, "5.00"}, {sales, "-5.00"}}, "Small sale"));
    ledger.reserve(draft("2026-03-03", {{receivables, "999.00"}, {sales, "-999.00"}}, "Hold"));
  }

  AccountId open(std::string_view name, AccountType type, amends::Dimensions dimensions = {},
                 std::string_view currency = "USD") {
    return ledger.create_account(name, type, C(currency), AccountOptions{std::move(dimensions), {}});
  }
};

std::string show(const std::vector<CurrencyAmount>& sums) {
  std::string out;
  for (const CurrencyAmount& sum : sums) out += std::string(sum.currency.code()) + " " + sum.amount.to_string(2) + "; ";
  return out;
}

TEST(LedgerQueries, balance_as_of_a_date_counts_postings_dated_up_to_it) {
  QueryBook q;
  EXPECT_EQ(q.ledger.balance(q.bank).posted, D("1100"));
  EXPECT_EQ(q.ledger.balance(q.receivables).posted, D("140"));
  EXPECT_TRUE(q.ledger.balance(q.bank, day("2026-01-04")).posted.is_zero());
  EXPECT_EQ(q.ledger.balance(q.bank, day("2026-01-05")).posted, D("1000"));
  EXPECT_EQ(q.ledger.balance(q.bank, day("2026-01-24")).posted, D("1000"));
  // Entry 6 was posted after entry 5 but is dated 2026-01-25: it counts from then.
  EXPECT_EQ(q.ledger.balance(q.bank, day("2026-01-25")).posted, D("1100"));
  EXPECT_EQ(q.ledger.balance(q.receivables, day("2026-01-24")).posted, D("250"));
  EXPECT_EQ(q.ledger.balance(q.receivables, day("2026-01-25")).posted, D("150"));
  EXPECT_EQ(q.ledger.balance(q.receivables, day("2026-02-14")).posted, D("150"));
  EXPECT_EQ(q.ledger.balance(q.receivables, day("2026-02-15")).posted, D("140"));
  EXPECT_EQ(q.ledger.balance(q.receivables, day("2026-03-03")).pending_debits, D("999"));
  EXPECT_TRUE(q.ledger.balance(q.receivables, day("2026-03-02")).pending_debits.is_zero());

  const std::vector<Decimal> balances = q.ledger.posted_balances(day("2026-01-31"));
  ASSERT_EQ(balances.size(), q.ledger.account_count());
  EXPECT_EQ(balances[q.bank.value], D("1100"));
  EXPECT_EQ(balances[q.receivables.value], D("150"));
  EXPECT_EQ(balances[q.sales.value], D("-250"));
  EXPECT_TRUE(balances[q.c1.value].is_zero());
  EXPECT_EQ(q.ledger.posted_balances()[q.sales.value], D("-255"));
}

TEST(LedgerQueries, rollup_sums_an_account_and_everything_below_it_by_whole_segments) {
  QueryBook q;
  EXPECT_EQ(show(q.ledger.rollup("Assets")), "EUR 80.00; USD 1245.00; ");
  EXPECT_EQ(show(q.ledger.rollup("Assets:Rec")), "USD 5.00; ");
  EXPECT_EQ(show(q.ledger.rollup("Assets:Receivables")), "USD 140.00; ");
  EXPECT_EQ(show(q.ledger.rollup("Liabilities:CustomerCredits")), "USD -45.50; ");
  EXPECT_EQ(show(q.ledger.rollup("Liabilities:CustomerCredits:C1")), "USD -30.00; ");
  EXPECT_EQ(show(q.ledger.rollup("Revenue")), "USD -199.50; ");
  EXPECT_EQ(show(q.ledger.rollup("Equity:Opening")), "USD -1000.00; ");
  // Not a segment boundary: nothing matches.
  EXPECT_TRUE(q.ledger.rollup("Liab").empty());
  EXPECT_TRUE(q.ledger.rollup("Assets:Ba").empty());
  EXPECT_TRUE(q.ledger.rollup("Nothing").empty());
  // Everything: each currency sums to zero.
  EXPECT_EQ(show(q.ledger.rollup("")), "EUR 0.00; USD 0.00; ");
  // As of a date.
  EXPECT_EQ(show(q.ledger.rollup("Liabilities:CustomerCredits", day("2026-02-12"))), "USD -55.50; ");
  EXPECT_EQ(show(q.ledger.rollup("Assets", day("2026-01-31"))), "EUR 0.00; USD 1250.00; ");
}

TEST(LedgerQueries, balances_by_dimension_group_accounts_by_their_value) {
  QueryBook q;
  auto show_rows = [](const std::vector<DimensionBalance>& rows) {
    std::string out;
    for (const DimensionBalance& row : rows)
      out += row.value + " " + std::string(row.currency.code()) + " " + row.amount.to_string(2) + "; ";
    return out;
  };
  // EU: Receivables 140.00 + C1 -30.00 + Unused 0; US: C2 -15.50. Accounts without the dimension are left out.
  EXPECT_EQ(show_rows(q.ledger.balances_by_dimension("region")), "EU USD 110.00; US USD -15.50; ");
  EXPECT_EQ(show_rows(q.ledger.balances_by_dimension("region", std::nullopt, "Liabilities")),
            "EU USD -30.00; US USD -15.50; ");
  EXPECT_EQ(show_rows(q.ledger.balances_by_dimension("region", day("2026-02-05"), "Liabilities")),
            "EU USD -40.00; US USD 0.00; ");
  EXPECT_EQ(show_rows(q.ledger.balances_by_dimension("region", std::nullopt, "Assets")), "EU USD 140.00; ");
  EXPECT_TRUE(q.ledger.balances_by_dimension("tier").empty());
}

TEST(LedgerQueries, trial_balance_debits_equal_credits_per_currency) {
  QueryBook q;
  const TrialBalance tb = q.ledger.trial_balance();
  struct Row {
    AccountId account;
    const char* debit;
    const char* credit;
  };
  const std::vector<Row> expected = {
      {q.bank, "1100", "0"},
      {q.rec, "5", "0"},
      {q.receivables, "140", "0"},
      {q.wallet, "80", "0"},
      {q.equity, "0", "1000"},
      {q.equity_eur, "0", "80"},
      {q.c1, "0", "30"},
      {q.c2, "0", "15.5"},
      {q.service_credits, "55.5", "0"},
      {q.sales, "0", "255"},
  };
  ASSERT_EQ(tb.rows.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(tb.rows[i].account, expected[i].account) << i << " " << q.ledger.account(tb.rows[i].account).name;
    EXPECT_EQ(tb.rows[i].debit, D(expected[i].debit)) << i;
    EXPECT_EQ(tb.rows[i].credit, D(expected[i].credit)) << i;
  }
  EXPECT_EQ(show(tb.total_debits), "EUR 80.00; USD 1300.50; ");
  EXPECT_EQ(show(tb.total_credits), "EUR 80.00; USD 1300.50; ");

  const TrialBalance january = q.ledger.trial_balance(day("2026-01-31"));
  ASSERT_EQ(january.rows.size(), 4U);
  EXPECT_EQ(january.rows[0].account, q.bank);
  EXPECT_EQ(january.rows[1].account, q.receivables);
  EXPECT_EQ(january.rows[1].debit, D("150"));
  EXPECT_EQ(january.rows[2].account, q.equity);
  EXPECT_EQ(january.rows[3].account, q.sales);
  EXPECT_EQ(january.rows[3].credit, D("250"));
  EXPECT_EQ(show(january.total_debits), "USD 1250.00; ");
  EXPECT_EQ(show(january.total_credits), "USD 1250.00; ");

  EXPECT_TRUE(q.ledger.trial_balance(day("2025-12-31")).rows.empty());
  EXPECT_TRUE(q.ledger.trial_balance(day("2025-12-31")).total_debits.empty());
}

TEST(LedgerQueries, statement_reads_by_date_with_opening_running_and_closing_balances) {
  QueryBook q;
  // Receivables postings in posting order: 01-20 +250 (entry 2), 02-15 -10 (entry 5), 01-25 -100 (entry 6).
  const Statement full = q.ledger.statement(q.receivables);
  EXPECT_EQ(full.account, q.receivables);
  EXPECT_TRUE(full.opening_balance.is_zero());
  ASSERT_EQ(full.lines.size(), 3U);
  EXPECT_EQ(full.lines[0].entry, EntryId{2});
  EXPECT_EQ(full.lines[0].date, day("2026-01-20"));
  EXPECT_EQ(full.lines[0].description, "Sale");
  EXPECT_EQ(full.lines[0].amount, D("250"));
  EXPECT_EQ(full.lines[0].running_balance, D("250"));
  EXPECT_EQ(full.lines[1].entry, EntryId{6});
  EXPECT_EQ(full.lines[1].date, day("2026-01-25"));
  EXPECT_EQ(full.lines[1].amount, D("-100"));
  EXPECT_EQ(full.lines[1].running_balance, D("150"));
  EXPECT_EQ(full.lines[2].entry, EntryId{5});
  EXPECT_EQ(full.lines[2].running_balance, D("140"));
  EXPECT_EQ(full.closing_balance, D("140"));

  const Statement window = q.ledger.statement(q.receivables, day("2026-01-21"), day("2026-02-28"));
  EXPECT_EQ(window.opening_balance, D("250"));
  ASSERT_EQ(window.lines.size(), 2U);
  EXPECT_EQ(window.lines[0].date, day("2026-01-25"));
  EXPECT_EQ(window.lines[0].running_balance, D("150"));
  EXPECT_EQ(window.lines[1].date, day("2026-02-15"));
  EXPECT_EQ(window.lines[1].running_balance, D("140"));
  EXPECT_EQ(window.closing_balance, D("140"));

  const Statement january = q.ledger.statement(q.receivables, std::nullopt, day("2026-01-31"));
  EXPECT_TRUE(january.opening_balance.is_zero());
  ASSERT_EQ(january.lines.size(), 2U);
  EXPECT_EQ(january.closing_balance, D("150"));

  // Bounds are inclusive.
  const Statement one_day = q.ledger.statement(q.receivables, day("2026-01-25"), day("2026-01-25"));
  EXPECT_EQ(one_day.opening_balance, D("250"));
  ASSERT_EQ(one_day.lines.size(), 1U);
  EXPECT_EQ(one_day.closing_balance, D("150"));

  // A window with no activity opens and closes on the same balance.
  const Statement quiet = q.ledger.statement(q.receivables, day("2026-04-01"), day("2026-04-30"));
  EXPECT_EQ(quiet.opening_balance, D("140"));
  EXPECT_TRUE(quiet.lines.empty());
  EXPECT_EQ(quiet.closing_balance, D("140"));

  std::string message = refusal<amends::invalid_argument>(
      [&] { (void)q.ledger.statement(q.receivables, day("2026-02-01"), day("2026-01-31")); });
  EXPECT_CONTAINS(message, "ends (2026-01-31) before it starts (2026-02-01)");
}

TEST(LedgerQueries, activity_sums_debits_and_credits_per_account_and_period) {
  QueryBook q;
  struct Row {
    AccountId account;
    const char* period;
    const char* debits;
    const char* credits;
  };
  auto check = [&](const std::vector<ActivityRow>& rows, const std::vector<Row>& expected) {
    ASSERT_EQ(rows.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const std::string where = std::to_string(i) + " " + q.ledger.account(rows[i].account).name + " " +
                                rows[i].period.to_string();
      EXPECT_EQ(rows[i].account, expected[i].account) << where;
      EXPECT_EQ(rows[i].period, Period::parse(expected[i].period)) << where;
      EXPECT_EQ(rows[i].debits, D(expected[i].debits)) << where;
      EXPECT_EQ(rows[i].credits, D(expected[i].credits)) << where;
      EXPECT_EQ(rows[i].net(), D(expected[i].debits) - D(expected[i].credits)) << where;
    }
  };
  // Rows by account name, then period.
  check(q.ledger.activity(Period(2026, 1), Period(2026, 2)),
        {
            {q.bank, "2026-01", "1100", "0"},
            {q.receivables, "2026-01", "250", "100"},
            {q.receivables, "2026-02", "0", "10"},
            {q.equity, "2026-01", "0", "1000"},
            {q.c1, "2026-02", "10", "40"},
            {q.c2, "2026-02", "0", "15.50"},
            {q.service_credits, "2026-02", "55.50", "0"},
            {q.sales, "2026-01", "0", "250"},
        });
  check(q.ledger.activity(Period(2026, 2), Period(2026, 2)),
        {
            {q.receivables, "2026-02", "0", "10"},
            {q.c1, "2026-02", "10", "40"},
            {q.c2, "2026-02", "0", "15.50"},
            {q.service_credits, "2026-02", "55.50", "0"},
        });
  // Open-ended: March adds the EUR entry and the small sale; the reservation never shows.
  check(q.ledger.activity(Period(2026, 3)),
        {
            {q.rec, "2026-03", "5", "0"},
            {q.wallet, "2026-03", "80", "0"},
            {q.equity_eur, "2026-03", "0", "80"},
            {q.sales, "2026-03", "0", "5"},
        });
  EXPECT_EQ(q.ledger.activity().size(), 12U);
  EXPECT_TRUE(q.ledger.activity(Period(2025, 1), Period(2025, 12)).empty());
  std::string message =
      refusal<amends::invalid_argument>([&] { (void)q.ledger.activity(Period(2026, 3), Period(2026, 2)); });
  EXPECT_CONTAINS(message, "before it starts");
}

TEST(LedgerQueries, balance_report_lists_accounts_with_their_parents_subtotals) {
  QueryBook q;
  struct Line {
    const char* name;
    int depth;
    const char* currency;
    const char* amount;
  };
  const std::vector<Line> expected = {
      {"Assets", 1, "EUR", "80"},
      {"Assets", 1, "USD", "1245"},
      {"Assets:Bank", 2, "USD", "1100"},
      {"Assets:Rec", 2, "USD", "5"},
      {"Assets:Receivables", 2, "USD", "140"},
      {"Assets:Wallet", 2, "EUR", "80"},
      {"Equity", 1, "EUR", "-80"},
      {"Equity", 1, "USD", "-1000"},
      {"Equity:Opening", 2, "USD", "-1000"},
      {"Equity:OpeningEUR", 2, "EUR", "-80"},
      {"Liabilities", 1, "USD", "-45.5"},
      {"Liabilities:CustomerCredits", 2, "USD", "-45.5"},
      {"Liabilities:CustomerCredits:C1", 3, "USD", "-30"},
      {"Liabilities:CustomerCredits:C2", 3, "USD", "-15.5"},
      {"Revenue", 1, "USD", "-199.5"},
      {"Revenue:ContraRevenue", 2, "USD", "55.5"},
      {"Revenue:ContraRevenue:ServiceCredits", 3, "USD", "55.5"},
      {"Revenue:Sales", 2, "USD", "-255"},
  };
  const std::vector<ReportLine> report = q.ledger.balance_report();
  ASSERT_EQ(report.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(report[i].name, expected[i].name) << i;
    EXPECT_EQ(report[i].depth, expected[i].depth) << report[i].name;
    EXPECT_EQ(report[i].currency, C(expected[i].currency)) << report[i].name;
    EXPECT_EQ(report[i].amount, D(expected[i].amount)) << report[i].name;
  }

  // As of January only four accounts hold anything.
  const std::vector<ReportLine> january = q.ledger.balance_report(day("2026-01-31"));
  std::vector<std::string> names;
  for (const ReportLine& line : january) names.push_back(line.name + " " + line.amount.to_string());
  EXPECT_EQ(names, (std::vector<std::string>{"Assets 1250", "Assets:Bank 1100", "Assets:Receivables 150", "Equity -1000",
                                             "Equity:Opening -1000", "Revenue -250", "Revenue:Sales -250"}));
  EXPECT_TRUE(q.ledger.balance_report(day("2025-12-31")).empty());
}

TEST(LedgerJournal, journal_export_matches_the_expected_text_and_leaves_out_reservations) {
  Ledger ledger(LedgerConfig{C("USD"), 1, "demo"});
  AccountId bank = ledger.create_account("Assets:Bank", AccountType::asset, C("USD"));
  AccountId sales = ledger.create_account("Revenue:Sales", AccountType::revenue, C("USD"));
  AccountId yen = ledger.create_account("Assets:Cash:JPY", AccountType::asset, C("JPY"));
  AccountId yen_sales = ledger.create_account("Revenue:Sales:JPY", AccountType::revenue, C("JPY"));

  EntryDraft sale = draft("2026-01-05", {{bank, "100"}, {sales, "-100"}}, "Sale", "k-1");
  sale.metadata = {{"customer", "C1042"}};
  EntryId first = ledger.post(sale).id;
  ledger.post(draft("2026-01-06", {{yen, "1500"}, {yen_sales, "-1500"}}, "Yen\nsale"));
  EntryId hold = ledger.reserve(draft("2026-01-07", {{sales, "20.5"}, {bank, "-20.5"}}, "Hold")).id;
  EntryId voided = ledger.reserve(draft("2026-01-07", {{sales, "1.00"}, {bank, "-1.00"}}, "Dropped")).id;
  ledger.void_pending(voided, day("2026-01-08"), "not needed");
  ledger.reverse(first, day("2026-01-08"), "duplicate");
  ledger.post_pending(hold, day("2026-01-09"));

  const std::string expected =
      "; amends book demo, base currency USD\n"
      "\n"
      "2026-01-05 * Sale\n"
      "    ; amends-entry: 1\n"
      "    ; idempotency-key: k-1\n"
      "    ; customer: C1042\n"
      "    Assets:Bank  100.00 USD\n"
      "    Revenue:Sales  -100.00 USD\n"
      "\n"
      "2026-01-06 * Yen sale\n"
      "    ; amends-entry: 2\n"
      "    Assets:Cash:JPY  1500 JPY\n"
      "    Revenue:Sales:JPY  -1500 JPY\n"
      "\n"
      "2026-01-08 * Reversal of entry #1: duplicate\n"
      "    ; amends-entry: 5\n"
      "    ; reverses: 1\n"
      "    Assets:Bank  -100.00 USD\n"
      "    Revenue:Sales  100.00 USD\n"
      "\n"
      "2026-01-09 * Hold\n"
      "    ; amends-entry: 6\n"
      "    ; completes: 3\n"
      "    Revenue:Sales  20.50 USD\n"
      "    Assets:Bank  -20.50 USD\n"
      "\n";
  EXPECT_EQ(ledger.to_journal(), expected);
  std::ostringstream out;
  ledger.write_journal(out);
  EXPECT_EQ(out.str(), expected);
}

TEST(LedgerJournal, empty_book_exports_only_its_header) {
  Ledger ledger(LedgerConfig{C("EUR"), 4, "shop\nfront"});
  EXPECT_EQ(ledger.to_journal(), "; amends book shop front, base currency EUR\n\n");
}

}  // namespace
