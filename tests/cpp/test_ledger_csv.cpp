// Bulk loading of postings from the workload CSV: columns, quoting, line
// endings, account opening, whole-file refusal, idempotent reloads and the
// independent mode.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "test_ledger_support.hpp"

namespace {

using namespace amends_test;
using CsvLoadOptions = Ledger::CsvLoadOptions;
using CsvLoadResult = Ledger::CsvLoadResult;

CsvLoadOptions opening() {
  CsvLoadOptions options;
  options.open_missing_accounts = true;
  return options;
}

const char* const two_entries =
    "entry_id,date,account,amount,currency,description\n"
    "E1,2026-01-05,Assets:Bank,100.00,USD,Opening\n"
    "E1,2026-01-05,Equity:Opening,-100.00,USD,Opening\n"
    "E2,2026-01-06,Revenue:ContraRevenue:ServiceCredits,25.00,USD,Goodwill credit\n"
    "E2,2026-01-06,Liabilities:CustomerCredits:C1042,-25.00,USD,Goodwill credit\n";

TEST(LedgerCsv, load_opens_missing_accounts_with_the_type_their_name_implies) {
  Ledger ledger;
  CsvLoadResult result = ledger.load_csv_text(two_entries, opening());
  EXPECT_EQ(result.entries_posted, 2U);
  EXPECT_EQ(result.entries_existing, 0U);
  EXPECT_EQ(result.postings, 4U);
  EXPECT_EQ(result.accounts_opened, 4U);
  EXPECT_TRUE(result.failures.empty());
  EXPECT_EQ(ledger.entry_count(), 2U);
  EXPECT_EQ(ledger.account_count(), 4U);

  EXPECT_EQ(ledger.account(ledger.account_id("Assets:Bank")).type, AccountType::asset);
  EXPECT_EQ(ledger.account(ledger.account_id("Equity:Opening")).type, AccountType::equity);
  EXPECT_EQ(ledger.account(ledger.account_id("Revenue:ContraRevenue:ServiceCredits")).type, AccountType::contra_revenue);
  const amends::Account& credit = ledger.account(ledger.account_id("Liabilities:CustomerCredits:C1042"));
  EXPECT_EQ(credit.type, AccountType::liability);
  EXPECT_EQ(credit.currency, C("USD"));
  EXPECT_EQ(ledger.balance(credit.id).posted, D("-25"));
  EXPECT_EQ(ledger.balance(ledger.account_id("Assets:Bank")).posted, D("100"));

  const EntryView e2 = ledger.entry(EntryId{2});
  EXPECT_EQ(e2.date, day("2026-01-06"));
  EXPECT_EQ(e2.description, "Goodwill credit");
  EXPECT_EQ(e2.idempotency_key, "E2");
  EXPECT_EQ(ledger.find_by_key("E1"), EntryId{1});
}

TEST(LedgerCsv, key_prefix_namespaces_the_entry_ids) {
  Ledger ledger;
  CsvLoadOptions options = opening();
  options.key_prefix = "import-7:";
  ledger.load_csv_text(two_entries, options);
  EXPECT_EQ(ledger.find_by_key("import-7:E1"), EntryId{1});
  EXPECT_EQ(ledger.find_by_key("import-7:E2"), EntryId{2});
  EXPECT_FALSE(ledger.find_by_key("E1").has_value());
  // The same file under another prefix is another set of entries.
  options.key_prefix = "import-8:";
  CsvLoadResult again = ledger.load_csv_text(two_entries, options);
  EXPECT_EQ(again.entries_posted, 2U);
  EXPECT_EQ(again.accounts_opened, 0U);
  EXPECT_EQ(ledger.balance(ledger.account_id("Assets:Bank")).posted, D("200"));
}

TEST(LedgerCsv, load_without_open_missing_accounts_uses_existing_accounts_and_refuses_unknown_ones) {
  Book b;
  const std::string csv =
      "entry_id,date,account,amount,currency\n"
      "E1,2026-01-05,Assets:Bank,100.00,USD\n"
      "E1,2026-01-05,Revenue:Sales,-100.00,USD\n";
  CsvLoadResult result = b.ledger.load_csv_text(csv, CsvLoadOptions{});
  EXPECT_EQ(result.entries_posted, 1U);
  EXPECT_EQ(result.accounts_opened, 0U);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("100"));
  EXPECT_TRUE(b.ledger.entry(EntryId{1}).description.empty());

  const std::string before = fingerprint(b.ledger);
  const std::string unknown =
      "entry_id,date,account,amount,currency\n"
      "E2,2026-01-06,Assets:Bank,5.00,USD\n"
      "E2,2026-01-06,Revenue:Sales,-5.00,USD\n"
      "E3,2026-01-06,Assets:Bank,7.00,USD\n"
      "E3,2026-01-06,Revenue:Other,-7.00,USD\n";
  std::string message = refusal<amends::unknown_account>([&] { b.ledger.load_csv_text(unknown, CsvLoadOptions{}); });
  EXPECT_CONTAINS(message, "line 5");
  EXPECT_CONTAINS(message, "Revenue:Other");
  EXPECT_CONTAINS(message, "open_missing_accounts");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_by_key("E2").has_value());
}

TEST(LedgerCsv, account_with_an_unconventional_root_is_not_opened_automatically) {
  Ledger ledger;
  const std::string csv =
      "entry_id,date,account,amount,currency\n"
      "E1,2026-01-05,Assets:Bank,100.00,USD\n"
      "E1,2026-01-05,Customers:C1042,-100.00,USD\n";
  std::string message = refusal<amends::unknown_account>([&] { ledger.load_csv_text(csv, opening()); });
  EXPECT_CONTAINS(message, "line 3");
  EXPECT_CONTAINS(message, "Customers:C1042");
  EXPECT_CONTAINS(message, "create it first");
  EXPECT_EQ(ledger.account_count(), 0U);
  EXPECT_EQ(ledger.entry_count(), 0U);
}

TEST(LedgerCsv, quoted_fields_bom_crlf_and_empty_lines_are_read) {
  Ledger ledger;
  const std::string csv =
      "\xEF\xBB\xBF"
      "entry_id,date,account,amount,currency,description\r\n"
      "\r\n"
      "E1,2026-01-05,\"Assets:Bank\",\"100.00\",USD,\"Refund, partial \"\"goodwill\"\"\"\r\n"
      "\n"
      "E1,2026-01-05,Equity:Opening,-100.00,USD,\"Refund, partial \"\"goodwill\"\"\"\r\n"
      "E2,2026-01-06,Assets:Bank,1.00,USD,\"two\r\nlines\"\r\n"
      "E2,2026-01-06,Equity:Opening,-1.00,USD,\"two\r\nlines\"\r\n"
      "E3,2026-01-07,Assets:Bank,2.00,USD,\"\"\r\n"
      "E3,2026-01-07,Equity:Opening,-2.00,USD,\"\"";  // no final line break
  CsvLoadResult result = ledger.load_csv_text(csv, opening());
  EXPECT_EQ(result.entries_posted, 3U);
  EXPECT_EQ(result.accounts_opened, 2U);
  // The BOM is not part of the first column's name, and CR is not part of the last field.
  EXPECT_EQ(ledger.entry(EntryId{1}).idempotency_key, "E1");
  EXPECT_EQ(ledger.entry(EntryId{1}).description, "Refund, partial \"goodwill\"");
  EXPECT_EQ(ledger.entry(EntryId{2}).description, "two\r\nlines");
  EXPECT_EQ(ledger.entry(EntryId{3}).description, "");
  EXPECT_EQ(ledger.balance(ledger.account_id("Assets:Bank")).posted, D("103"));
  EXPECT_EQ(ledger.account(ledger.account_id("Equity:Opening")).currency, C("USD"));
}

TEST(LedgerCsv, columns_may_come_in_any_order_with_extra_ones_ignored) {
  Ledger ledger;
  const std::string csv =
      "currency,amount,note,account,date,entry_id\n"
      "EUR,10.00,x,Assets:Bank,2026-01-05,E1\n"
      "EUR,-10.00,y,Equity:Opening,2026-01-05,E1\n";
  CsvLoadResult result = ledger.load_csv_text(csv, opening());
  EXPECT_EQ(result.entries_posted, 1U);
  const amends::Account& bank = ledger.account(ledger.account_id("Assets:Bank"));
  EXPECT_EQ(bank.currency, C("EUR"));
  EXPECT_EQ(ledger.balance(bank.id).posted, D("10"));
}

TEST(LedgerCsv, quoted_fields_with_doubled_quotes_in_several_columns_keep_their_text) {
  Ledger ledger;
  const std::string csv =
      "entry_id,date,account,amount,currency,description\n"
      "\"E\"\"1\",2026-01-05,Assets:Bank,10.00,USD,\"say \"\"hi\"\" twice\"\n"
      "\"E\"\"1\",2026-01-05,\"Revenue:Sales:\"\"Big\"\" Co\",-10.00,USD,\"say \"\"hi\"\" twice\"\n";
  CsvLoadResult result = ledger.load_csv_text(csv, opening());
  EXPECT_EQ(result.entries_posted, 1U);
  const EntryView entry = ledger.entry(EntryId{1});
  EXPECT_EQ(entry.idempotency_key, "E\"1");
  EXPECT_EQ(entry.description, "say \"hi\" twice");
  EXPECT_TRUE(ledger.find_account("Revenue:Sales:\"Big\" Co").has_value());
}

TEST(LedgerCsv, header_missing_a_column_is_refused_naming_it) {
  Ledger ledger;
  const std::string csv =
      "entry_id,date,account,currency\n"
      "E1,2026-01-05,Assets:Bank,USD\n";
  std::string message = refusal<amends::parse_error>([&] { ledger.load_csv_text(csv, opening()); });
  EXPECT_CONTAINS(message, "lacks the column amount");
  EXPECT_CONTAINS(message, "entry_id,date,account,amount,currency");
  message = refusal<amends::parse_error>([&] { ledger.load_csv_text("", opening()); });
  EXPECT_CONTAINS(message, "empty");
  refusal<amends::parse_error>([&] { ledger.load_csv_text("\n\r\n", opening()); });
  EXPECT_EQ(ledger.account_count(), 0U);
}

TEST(LedgerCsv, header_only_file_loads_nothing) {
  Ledger ledger;
  CsvLoadResult result = ledger.load_csv_text("entry_id,date,account,amount,currency\n", opening());
  EXPECT_EQ(result.entries_posted, 0U);
  EXPECT_EQ(ledger.entry_count(), 0U);
}

TEST(LedgerCsv, bad_amount_refuses_the_whole_file_with_its_line_and_leaves_the_ledger_unchanged) {
  Book b;
  b.ledger.post(draft("2026-01-02", {{b.bank, "1.00"}, {b.equity, "-1.00"}}, "", "E0"));
  const std::string before = fingerprint(b.ledger);
  const std::string csv =
      "entry_id,date,account,amount,currency,description\n"
      "E1,2026-01-05,Assets:NewBank,100.00,USD,ok\n"
      "E1,2026-01-05,Equity:Opening,-100.00,USD,ok\n"
      "\n"
      "E2,2026-01-06,Assets:NewBank,12;50,USD,bad\n"
      "E2,2026-01-06,Equity:Other,-12.50,USD,bad\n";
  std::string message = refusal<amends::parse_error>([&] { b.ledger.load_csv_text(csv, opening()); });
  EXPECT_CONTAINS(message, "line 5");
  EXPECT_CONTAINS(message, "12;50");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_account("Assets:NewBank").has_value());
  EXPECT_FALSE(b.ledger.find_by_key("E1").has_value());
  // Malformed text is refused as a whole in independent mode too.
  CsvLoadOptions independent = opening();
  independent.mode = BatchMode::independent;
  refusal<amends::parse_error>([&] { b.ledger.load_csv_text(csv, independent); });
  EXPECT_EQ(fingerprint(b.ledger), before);

  // Fixed, the same file loads, and the accounts it needs are opened then.
  std::string fixed = csv;
  fixed.replace(fixed.find("12;50"), 5, "12.50");
  CsvLoadResult result = b.ledger.load_csv_text(fixed, opening());
  EXPECT_EQ(result.entries_posted, 2U);
  EXPECT_EQ(result.accounts_opened, 2U);
  EXPECT_EQ(b.ledger.balance(b.ledger.account_id("Assets:NewBank")).posted, D("112.5"));
}

TEST(LedgerCsv, line_numbers_count_physical_lines_across_crlf_blank_lines_and_quoted_line_breaks) {
  Ledger ledger;
  const std::string csv =
      "entry_id,date,account,amount,currency,description\r\n"     // 1
      "E1,2026-01-05,Assets:Bank,1.00,USD,\"first\r\nsecond\"\r\n"  // 2-3
      "E1,2026-01-05,Equity:Opening,-1.00,USD,x\r\n"              // 4
      "\r\n"                                                      // 5
      "\r\n"                                                      // 6
      "E2,2026-01-06,Assets:Bank,abc,USD,x\r\n";                  // 7
  std::string message = refusal<amends::parse_error>([&] { ledger.load_csv_text(csv, opening()); });
  EXPECT_CONTAINS(message, "line 7");
  EXPECT_EQ(ledger.account_count(), 0U);
}

TEST(LedgerCsv, malformed_rows_are_refused_with_their_line) {
  Ledger ledger;
  struct Case {
    std::string body;
    std::string_view expect;
  };
  const std::string header = "entry_id,date,account,amount,currency\n";
  const std::string good = "E1,2026-01-05,Assets:Bank,1.00,USD\nE1,2026-01-05,Equity:Opening,-1.00,USD\n";
  const Case cases[] = {
      {good + "E2,2026-01-06,Assets:Bank,1.00\n", "line 4: the row has 4 fields; the header has 5"},
      {good + "E2,2026-13-06,Assets:Bank,1.00,USD\n", "line 4"},
      {good + "E2,2026-01-06,Assets:Bank,1.00,XYZ\n", "line 4"},
      {good + "E2,2026-01-06,Assets:Bank,1.00,USD\nE2,2026-01-07,Equity:Opening,-1.00,USD\n",
       "rows of one entry share its date"},
      {good + ",2026-01-06,Assets:Bank,1.00,USD\n", "entry_id is empty"},
      {good + "E2,2026-01-06,\"Assets:Bank\"x,1.00,USD\n", "line 4"},
      {good + "E2,2026-01-06,\"Assets:Bank,1.00,USD\n", "never closed"},
  };
  for (const Case& c : cases) {
    std::string message = refusal_of_kind<amends::error>([&] { ledger.load_csv_text(header + c.body, opening()); });
    EXPECT_CONTAINS(message, c.expect);
    EXPECT_EQ(ledger.account_count(), 0U) << c.body;
    EXPECT_EQ(ledger.entry_count(), 0U) << c.body;
  }
  EXPECT_THROW(ledger.load_csv_text(header + good + "E2,2026-13-06,Assets:Bank,1.00,USD\n", opening()), amends::parse_error);
  EXPECT_THROW(ledger.load_csv_text(header + good + "E2,2026-01-06,Assets:Bank,1.00,XYZ\n", opening()),
               amends::unknown_currency);
}

TEST(LedgerCsv, entry_breaking_a_ledger_rule_refuses_the_file_naming_the_entry) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  const std::string csv =
      "entry_id,date,account,amount,currency\n"
      "E1,2026-01-05,Assets:Bank,100.00,USD\n"
      "E1,2026-01-05,Equity:Opening,-100.00,USD\n"
      "E2,2026-01-06,Assets:NewCash,10.00,USD\n"
      "E2,2026-01-06,Revenue:Sales,-9.00,USD\n"
      "E3,2026-01-07,Assets:Bank,1.00,USD\n"
      "E3,2026-01-07,Revenue:Sales,-1.00,USD\n";
  std::string message = refusal<amends::unbalanced_entry>([&] { b.ledger.load_csv_text(csv, opening()); });
  EXPECT_CONTAINS(message, "line 4 (entry_id E2)");
  EXPECT_CONTAINS(message, "debits exceed credits by 1");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_account("Assets:NewCash").has_value());

  // The last entry failing is refused the same way.
  const std::string last_bad =
      "entry_id,date,account,amount,currency\n"
      "E1,2026-01-05,Assets:Bank,100.00,USD\n"
      "E1,2026-01-05,Equity:Opening,-100.00,USD\n"
      "E2,2026-01-06,Liabilities:CustomerCredits:C1042,10.00,USD\n"
      "E2,2026-01-06,Revenue:Sales,-10.00,USD\n";
  message = refusal<amends::balance_limit_exceeded>([&] { b.ledger.load_csv_text(last_bad, opening()); });
  EXPECT_CONTAINS(message, "line 4 (entry_id E2)");
  EXPECT_EQ(fingerprint(b.ledger), before);

  b.ledger.set_period_state(Period(2026, 1), PeriodState::locked);
  message = refusal<amends::period_locked>([&] { b.ledger.load_csv_text(two_entries, opening()); });
  EXPECT_CONTAINS(message, "line 2 (entry_id E1)");
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerCsv, row_in_another_currency_than_its_existing_account_is_refused_without_opening) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  const std::string csv =
      "entry_id,date,account,amount,currency\n"
      "E1,2026-01-05,Assets:Bank,10.00,EUR\n"
      "E1,2026-01-05,Revenue:Sales,-10.00,EUR\n";
  std::string message = refusal<amends::currency_mismatch>([&] { b.ledger.load_csv_text(csv, CsvLoadOptions{}); });
  EXPECT_CONTAINS(message, "line 2 (entry_id E1)");
  EXPECT_CONTAINS(message, "Assets:Bank");
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerCsv, opening_missing_accounts_opens_a_known_name_in_a_new_currency_as_the_same_type) {
  Book b;
  const std::string csv =
      "entry_id,date,account,amount,currency\n"
      "E1,2026-01-05,Assets:Bank,10.00,EUR\n"
      "E1,2026-01-05,Revenue:Sales,-10.00,EUR\n"
      "E2,2026-01-06,Assets:Bank,3.00,USD\n"
      "E2,2026-01-06,Revenue:Sales,-3.00,USD\n";
  CsvLoadResult result = b.ledger.load_csv_text(csv, opening());
  EXPECT_EQ(result.accounts_opened, 2U);
  const AccountId bank_eur = b.ledger.account_id("Assets:Bank", C("EUR"));
  EXPECT_NE(bank_eur, b.bank);
  EXPECT_EQ(b.ledger.account(bank_eur).type, AccountType::asset);
  EXPECT_EQ(b.ledger.balance(bank_eur).posted, D("10.00"));
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("3.00"));
  EXPECT_EQ(b.ledger.account_id("Assets:Bank", C("USD")), b.bank);
  // The bare name is now ambiguous: a caller must say which currency.
  refusal<amends::invalid_argument>([&] { (void)b.ledger.account_id("Assets:Bank"); });
  EXPECT_EQ(b.ledger.accounts_named("Assets:Bank").size(), 2U);
  // Rolling the load back removes the accounts it opened, and the name resolves again.
  Book c;
  const std::string before = fingerprint(c.ledger);
  const std::string bad = std::string(csv) + "E3,2026-01-07,Assets:Bank,1.00,GBP\nE3,2026-01-07,Revenue:Sales,-2.00,GBP\n";
  refusal<amends::unbalanced_entry>([&] { c.ledger.load_csv_text(bad, opening()); });
  EXPECT_EQ(fingerprint(c.ledger), before);
  EXPECT_EQ(c.ledger.account_id("Assets:Bank"), c.bank);
  EXPECT_FALSE(c.ledger.find_account("Assets:Bank", C("EUR")).has_value());
}

TEST(LedgerCsv, reloading_the_same_file_posts_nothing_new) {
  Ledger ledger;
  ledger.load_csv_text(two_entries, opening());
  const std::string before = fingerprint(ledger);
  CsvLoadResult again = ledger.load_csv_text(two_entries, opening());
  EXPECT_EQ(again.entries_posted, 0U);
  EXPECT_EQ(again.entries_existing, 2U);
  EXPECT_EQ(again.postings, 0U);
  EXPECT_EQ(again.accounts_opened, 0U);
  EXPECT_EQ(fingerprint(ledger), before);
  // Without open_missing_accounts too, now that they exist.
  CsvLoadResult third = ledger.load_csv_text(two_entries, CsvLoadOptions{});
  EXPECT_EQ(third.entries_existing, 2U);
  EXPECT_EQ(fingerprint(ledger), before);

  // A file that extends the first one posts only the new entry.
  const std::string extended = std::string(two_entries) +
                               "E3,2026-01-07,Assets:Bank,3.00,USD,More\n"
                               "E3,2026-01-07,Equity:Opening,-3.00,USD,More\n";
  CsvLoadResult fourth = ledger.load_csv_text(extended, opening());
  EXPECT_EQ(fourth.entries_posted, 1U);
  EXPECT_EQ(fourth.entries_existing, 2U);
  EXPECT_EQ(fourth.postings, 2U);
  EXPECT_EQ(ledger.entry_count(), 3U);

  // A changed entry under a known id is a conflict, refused as a whole.
  const std::string before_conflict = fingerprint(ledger);
  std::string changed = extended;
  changed.replace(changed.find("100.00"), 6, "101.00");
  changed.replace(changed.find("-100.00"), 7, "-101.00");
  std::string message = refusal<amends::idempotency_conflict>([&] { ledger.load_csv_text(changed, opening()); });
  EXPECT_CONTAINS(message, "entry_id E1");
  EXPECT_EQ(fingerprint(ledger), before_conflict);
}

TEST(LedgerCsv, independent_mode_posts_the_good_entries_and_reports_the_rest) {
  Book b;
  const std::string csv =
      "entry_id,date,account,amount,currency\n"
      "E1,2026-01-05,Assets:Bank,100.00,USD\n"          // line 2
      "E1,2026-01-05,Equity:Opening,-100.00,USD\n"
      "E2,2026-01-06,Assets:Bank,10.00,USD\n"           // line 4: unbalanced
      "E2,2026-01-06,Revenue:Sales,-9.00,USD\n"
      "E3,2026-01-07,Assets:Bank,0.005,USD\n"           // line 6: too precise
      "E3,2026-01-07,Revenue:Sales,-0.005,USD\n"
      "E4,2026-01-08,Assets:Receivables,7.00,USD\n"     // line 8
      "E4,2026-01-08,Revenue:Sales,-7.00,USD\n";
  CsvLoadOptions options;
  options.mode = BatchMode::independent;
  CsvLoadResult result = b.ledger.load_csv_text(csv, options);
  EXPECT_EQ(result.entries_posted, 2U);
  EXPECT_EQ(result.postings, 4U);
  ASSERT_EQ(result.failures.size(), 2U);
  EXPECT_EQ(result.failures[0].index, 1U);
  EXPECT_EQ(result.failures[0].code, ResultCode::unbalanced);
  EXPECT_CONTAINS(result.failures[0].message, "line 4 (entry_id E2)");
  EXPECT_EQ(result.failures[1].index, 2U);
  EXPECT_EQ(result.failures[1].code, ResultCode::amount_too_precise);
  EXPECT_CONTAINS(result.failures[1].message, "line 6 (entry_id E3)");

  EXPECT_EQ(b.ledger.entry_count(), 2U);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("100"));
  EXPECT_EQ(b.ledger.balance(b.receivables).posted, D("7"));
  EXPECT_EQ(b.ledger.balance(b.sales).posted, D("-7"));
  EXPECT_EQ(b.ledger.find_by_key("E4"), EntryId{2});
  EXPECT_FALSE(b.ledger.find_by_key("E2").has_value());

  // Reloading reports the posted ones as existing and the bad ones again.
  CsvLoadResult again = b.ledger.load_csv_text(csv, options);
  EXPECT_EQ(again.entries_posted, 0U);
  EXPECT_EQ(again.entries_existing, 2U);
  EXPECT_EQ(again.failures.size(), 2U);
  EXPECT_EQ(b.ledger.entry_count(), 2U);
}

TEST(LedgerCsv, load_csv_reads_a_file_and_names_it_in_errors) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::filesystem::path good = dir / ("amends_ledger_test_good_" + std::to_string(::getpid()) + ".csv");
  const std::filesystem::path bad = dir / ("amends_ledger_test_bad_" + std::to_string(::getpid()) + ".csv");
  {
    std::ofstream(good, std::ios::binary) << two_entries;
    std::ofstream(bad, std::ios::binary) << "entry_id,date,account,amount,currency\nE1,2026-01-05,Assets:Bank,1e3,USD\n";
  }
  Ledger ledger;
  CsvLoadResult result = ledger.load_csv(good.string(), opening());
  EXPECT_EQ(result.entries_posted, 2U);
  std::string message = refusal<amends::parse_error>([&] { ledger.load_csv(bad.string(), opening()); });
  EXPECT_CONTAINS(message, bad.string() + ": line 2");
  message = refusal<amends::io_error>([&] { ledger.load_csv((dir / "amends_no_such_file.csv").string(), opening()); });
  EXPECT_CONTAINS(message, "amends_no_such_file.csv");
  EXPECT_EQ(ledger.entry_count(), 2U);
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

}  // namespace

// Rows are read in blocks of 4096 by a second thread; results and errors must
// not depend on where a block ends.
TEST(LedgerCsv, loads_spanning_many_read_blocks_post_every_entry_and_report_errors_by_line) {
  std::string csv = "entry_id,date,account,amount,currency\n";
  const int entries = 5000;  // 10,000 rows: three blocks
  for (int e = 1; e <= entries; ++e) {
    csv += std::to_string(e) + ",2026-01-05,Assets:Bank,1.00,USD\n";
    csv += std::to_string(e) + ",2026-01-05,Revenue:Sales,-1.00,USD\n";
  }
  Ledger good;
  CsvLoadResult loaded = good.load_csv_text(csv, opening());
  EXPECT_EQ(loaded.entries_posted, static_cast<std::size_t>(entries));
  EXPECT_EQ(good.balance(good.account_id("Assets:Bank")).posted, D("5000.00"));

  for (int bad_row : {4095, 4096, 4097, 8192, 9999}) {
    std::string broken = csv;
    // Row r (0-based among data rows) sits on line r + 2; break its amount.
    std::size_t at = 0;
    for (int line = 0; line < bad_row + 1; ++line) at = broken.find('\n', at) + 1;
    const std::size_t amount = broken.find("1.00", at);
    broken.replace(amount, 4, "1.0.0");
    Ledger ledger;
    std::string message = refusal<amends::parse_error>([&] { ledger.load_csv_text(broken, opening()); });
    EXPECT_CONTAINS(message, "line " + std::to_string(bad_row + 2) + ": ");
    EXPECT_EQ(ledger.entry_count(), 0U);
    EXPECT_EQ(ledger.account_count(), 0U);
  }
}
