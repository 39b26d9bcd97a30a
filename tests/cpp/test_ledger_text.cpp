// Ledger text: a NUL byte, which PostgreSQL's text can't hold, is refused in
// every piece of text the ledger keeps (account names and dimensions, entry
// descriptions, keys and metadata, reasons, the book's name, CSV cells) with
// invalid_text naming the field, and changes nothing. Other control
// characters stay legal.
#include <string>
#include <string_view>

#include "test_ledger_support.hpp"

namespace {

using namespace amends_test;
using namespace std::string_literals;

const std::string nul_in_middle = "ab\0cd"s;  // a NUL at position 2

EntryDraft credit(const Book& b, std::string description = "credit", std::string key = "") {
  EntryDraft d = draft("2026-01-05", {{b.service_credits, "5.00"}, {b.customer_credit, "-5.00"}});
  d.description = std::move(description);
  d.idempotency_key = std::move(key);
  return d;
}

TEST(LedgerText, invalid_text_is_an_invalid_argument) {
  try {
    amends::check_text("description", nul_in_middle);
    FAIL() << "a NUL byte was accepted";
  } catch (const amends::invalid_argument& e) {
    EXPECT_NE(dynamic_cast<const amends::invalid_text*>(&e), nullptr);
    EXPECT_STREQ(e.what(), "description has a NUL byte at position 2; text can't carry one: remove it");
  }
}

TEST(LedgerText, a_nul_in_an_entrys_text_is_refused_and_changes_nothing) {
  Book b;
  b.grant_credit("2026-01-04", "20.00", "first");
  const std::string before = fingerprint(b.ledger);

  EXPECT_EQ(refusal<amends::invalid_text>([&] { b.ledger.post(credit(b, "credit" + nul_in_middle)); }),
            "description has a NUL byte at position 8; text can't carry one: remove it");
  EXPECT_EQ(refusal<amends::invalid_text>([&] { b.ledger.post(credit(b, "credit", nul_in_middle)); }),
            "idempotency key has a NUL byte at position 2; text can't carry one: remove it");
  EntryDraft meta_key = credit(b);
  meta_key.metadata = {{"ticket", "42"}, {nul_in_middle, "x"}};
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.post(meta_key); }), "metadata key has a NUL byte at position 2");
  EntryDraft meta_value = credit(b);
  meta_value.metadata = {{"ticket", nul_in_middle}};
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.post(meta_value); }),
                  "metadata value for ticket has a NUL byte at position 2");
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.reserve(credit(b, nul_in_middle)); }),
                  "description has a NUL byte");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_by_key(nul_in_middle).has_value());
}

TEST(LedgerText, a_nul_in_a_completion_void_or_reversal_is_refused_and_changes_nothing) {
  Book b;
  const EntryId posted = b.grant_credit("2026-01-04", "20.00").id;
  const EntryId held = b.ledger.reserve(credit(b, "hold")).id;
  const std::string before = fingerprint(b.ledger);

  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.post_pending(held, day("2026-01-06"), {}, nul_in_middle); }),
                  "description has a NUL byte at position 2");
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.void_pending(held, day("2026-01-06"), nul_in_middle); }),
                  "void reason has a NUL byte at position 2");
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.reverse(posted, day("2026-01-06"), nul_in_middle); }),
                  "reversal reason has a NUL byte at position 2");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.status_of(held), EntryStatus::pending);
  EXPECT_EQ(b.ledger.balance(b.customer_credit).pending_credits, D("5.00"));
  EXPECT_FALSE(b.ledger.entry(posted).reversed_by);
}

TEST(LedgerText, a_nul_in_an_account_is_refused_and_changes_nothing) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.open("Expenses:" + nul_in_middle, AccountType::expense); }),
                  "account name has a NUL byte at position 11");
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { amends::validate_account_name("Assets:" + nul_in_middle); }),
                  "account name has a NUL byte at position 9");
  AccountOptions dim_key;
  dim_key.dimensions.emplace(nul_in_middle, "amer");
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.open("Expenses:Goodwill", AccountType::expense, dim_key); }),
                  "dimension key has a NUL byte at position 2");
  AccountOptions customer;
  customer.dimensions.emplace("customer", "C1" + nul_in_middle);
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.open("Liabilities:CustomerCredits:C9", AccountType::liability, customer); }),
                  "value of dimension customer has a NUL byte at position 4");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.account_count(), 6U);
  // A name with a NUL can't name an account either: not "create it first".
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.account_id("Assets:Bank" + nul_in_middle); }),
                  "account name has a NUL byte at position 13");
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.account_id("Assets:Bank" + nul_in_middle, C("USD")); }),
                  "account name has a NUL byte");
}

TEST(LedgerText, a_nul_in_a_book_name_is_refused) {
  LedgerConfig config;
  config.name = "eu" + nul_in_middle;
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { Ledger ledger(config); }), "book name has a NUL byte at position 4");
}

TEST(LedgerText, a_batch_reports_a_nul_as_invalid_text_per_entry) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  const std::vector<EntryDraft> drafts = {credit(b, "one", "k1"), credit(b, "two" + nul_in_middle, "k2"),
                                          credit(b, "three", "k3")};
  BatchResult atomic = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_EQ(atomic.codes, (std::vector<ResultCode>{ResultCode::linked_entry_failed, ResultCode::invalid_text,
                                                   ResultCode::linked_entry_failed}));
  ASSERT_EQ(atomic.failures.size(), 1U);
  EXPECT_EQ(atomic.failures[0].message, "description has a NUL byte at position 5; text can't carry one: remove it");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(amends::to_string(ResultCode::invalid_text), "invalid_text");

  BatchResult independent = b.ledger.post_batch(drafts, BatchMode::independent);
  EXPECT_EQ(independent.codes, (std::vector<ResultCode>{ResultCode::ok, ResultCode::invalid_text, ResultCode::ok}));
  EXPECT_EQ(independent.created, 2U);
  EXPECT_EQ(b.ledger.entry_count(), 2U);
}

TEST(LedgerText, a_nul_in_a_csv_cell_refuses_the_file_naming_line_and_column) {
  const std::string header = "entry_id,date,account,amount,currency,description\n";
  const std::string good = "e1,2026-01-05,Revenue:ContraRevenue:ServiceCredits,5.00,USD,credit\n"
                           "e1,2026-01-05,Liabilities:CustomerCredits:C1042,-5.00,USD,credit\n";
  struct Case {
    std::string row;
    std::string column;
  };
  const std::vector<Case> cases = {
      {"e2,2026-01-05,Revenue:ContraRevenue:ServiceCredits,5.00,USD,cr" + "\0"s + "edit\n", "description"},
      {"e" + "\0"s + "2,2026-01-05,Revenue:ContraRevenue:ServiceCredits,5.00,USD,credit\n", "entry_id"},
      {"e2,2026-01-05,Expenses:" + "\0"s + "New,5.00,USD,credit\n", "account"},
  };
  for (const Case& c : cases) {
    for (BatchMode mode : {BatchMode::atomic, BatchMode::independent}) {
      Book b;
      const std::string before = fingerprint(b.ledger);
      Ledger::CsvLoadOptions options;
      options.open_missing_accounts = true;
      options.mode = mode;
      const std::string text = header + good + c.row + "e2,2026-01-05,Liabilities:CustomerCredits:C1042,-5.00,USD,credit\n";
      const std::string message =
          refusal<amends::invalid_text>([&] { b.ledger.load_csv_text(text, options); });
      EXPECT_EQ(message.substr(0, message.find(';')), "line 4: column " + c.column + " has a NUL byte at position " +
                                                          (c.column == "description" ? "2" : c.column == "entry_id" ? "1" : "9"))
          << c.column;
      EXPECT_EQ(fingerprint(b.ledger), before) << c.column;
    }
  }
}

TEST(LedgerText, a_nul_in_a_key_prefix_or_a_csv_path_is_refused_not_cut_short) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  Ledger::CsvLoadOptions options;
  options.key_prefix = "jan" + nul_in_middle;
  const std::string text = "entry_id,date,account,amount,currency\n"
                           "e1,2026-01-05,Revenue:ContraRevenue:ServiceCredits,5.00,USD\n"
                           "e1,2026-01-05,Liabilities:CustomerCredits:C1042,-5.00,USD\n";
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.load_csv_text(text, options); }),
                  "key prefix has a NUL byte at position 5");
  EXPECT_CONTAINS(refusal<amends::invalid_text>([&] { b.ledger.load_csv("/dev/null" + "\0.csv"s, {}); }),
                  "CSV path has a NUL byte at position 9");
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerText, other_control_characters_stay_legal) {
  Book b;
  const std::string control = "tab\there\nline\r\x01\x7f";
  EntryDraft d = credit(b, control, "key\t" + control);
  d.metadata = {{control, control}};
  const EntryId id = b.ledger.post(d).id;
  const EntryView view = b.ledger.entry(id);
  EXPECT_EQ(view.description, control);
  EXPECT_EQ(view.idempotency_key, "key\t" + control);
  EXPECT_EQ(view.metadata, (Metadata{{control, control}}));
  AccountOptions dims;
  dims.dimensions.emplace("note", control);
  const AccountId noted = b.open("Expenses:Noted", AccountType::expense, dims);
  EXPECT_EQ(b.ledger.account(noted).dimensions.at("note"), control);
  const EntryId reversal = b.ledger.reverse(id, day("2026-01-06"), control);
  EXPECT_EQ(b.ledger.entry(reversal).reason, control);
}

}  // namespace
