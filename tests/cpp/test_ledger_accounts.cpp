// Ledger accounts: creation, names, lookup, types, closing.
#include <string>
#include <string_view>

#include "test_ledger_support.hpp"

namespace {

using namespace amends_test;
using amends::account_type_from_name;
using amends::is_debit_normal;
using amends::parse_account_type;
using amends::validate_account_name;

TEST(LedgerAccounts, create_account_assigns_sequential_ids_and_keeps_its_fields) {
  Ledger ledger;
  AccountId bank = ledger.create_account("Assets:Bank", AccountType::asset, C("USD"));
  AccountId credit = ledger.create_account(
      "Liabilities:CustomerCredits:C1042", AccountType::liability, C("EUR"),
      AccountOptions{{{"region", "EU"}, {"tier", "gold"}}, BalanceLimit{Decimal(0), D("500.00")}});
  EXPECT_EQ(bank.value, 0U);
  EXPECT_EQ(credit.value, 1U);
  EXPECT_EQ(ledger.account_count(), 2U);

  const amends::Account& acct = ledger.account(credit);
  EXPECT_EQ(acct.id, credit);
  EXPECT_EQ(acct.name, "Liabilities:CustomerCredits:C1042");
  EXPECT_EQ(acct.type, AccountType::liability);
  EXPECT_EQ(acct.currency, C("EUR"));
  EXPECT_EQ(acct.dimensions.at("region"), "EU");
  EXPECT_EQ(acct.dimensions.at("tier"), "gold");
  ASSERT_TRUE(acct.limit.min_normal.has_value());
  EXPECT_EQ(*acct.limit.min_normal, Decimal(0));
  EXPECT_EQ(*acct.limit.max_normal, D("500"));
  EXPECT_FALSE(acct.closed);

  EXPECT_EQ(ledger.account_id("Assets:Bank"), bank);
  EXPECT_EQ(ledger.find_account("Liabilities:CustomerCredits:C1042"), credit);
  const Balance bal = ledger.balance(bank);
  EXPECT_TRUE(bal.posted.is_zero());
  EXPECT_TRUE(bal.pending_debits.is_zero());
  EXPECT_TRUE(bal.pending_credits.is_zero());
}

TEST(LedgerAccounts, duplicate_account_name_is_refused_and_changes_nothing) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  std::string message =
      refusal<amends::account_exists>([&] { b.ledger.create_account("Assets:Bank", AccountType::asset, C("USD")); });
  EXPECT_CONTAINS(message, "Assets:Bank");
  // Same name in another currency or type is still the same name.
  refusal<amends::account_exists>([&] { b.ledger.create_account("Assets:Bank", AccountType::expense, C("EUR")); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  // Names are case-sensitive, so a different spelling is a different account.
  EXPECT_NO_THROW(b.ledger.create_account("Assets:bank", AccountType::asset, C("USD")));
}

TEST(LedgerAccounts, validate_account_name_accepts_journal_safe_names) {
  for (std::string_view name : {"Assets", "Assets:Bank", "Liabilities:CustomerCredits:C1042", "Assets:Bank Account",
                                "Expenses:Travel & Meals", "Revenue:Sales:\"Big\" Customer"})
    EXPECT_NO_THROW(validate_account_name(name)) << name;
  EXPECT_NO_THROW(validate_account_name(std::string(512, 'A')));
}

TEST(LedgerAccounts, validate_account_name_refuses_what_journal_syntax_cannot_carry_and_says_why) {
  struct Case {
    std::string name;
    std::string_view why;
  };
  const Case cases[] = {
      {"", "empty"},
      {"Assets::Bank", "empty segment"},
      {":Assets", "empty segment"},
      {"Assets:", "empty segment"},
      {" Assets", "leading or trailing"},
      {"Assets :Bank", "leading or trailing"},
      {"Assets: Bank", "leading or trailing"},
      {"Assets:Bank  Account", "two spaces"},
      {"Assets:Bank\tAccount", "tab"},
      {"Assets:Bank\nAccount", "line break"},
      {"Assets:Bank\rAccount", "line break"},
      {"Assets:Bank;note", "';'"},
      {std::string(513, 'A'), "longer than 512"},
  };
  for (const Case& c : cases) {
    std::string message = refusal<amends::invalid_argument>([&] { validate_account_name(c.name); });
    EXPECT_CONTAINS(message, c.why);
  }
}

TEST(LedgerAccounts, create_account_with_an_invalid_name_is_refused_and_opens_nothing) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  refusal<amends::invalid_argument>([&] { b.ledger.create_account("Assets::Bank", AccountType::asset, C("USD")); });
  refusal<amends::invalid_argument>([&] { b.ledger.create_account("Assets:Bank  2", AccountType::asset, C("USD")); });
  refusal<amends::invalid_argument>([&] { b.ledger.create_account("", AccountType::asset, C("USD")); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_account("Assets::Bank").has_value());
}

TEST(LedgerAccounts, create_account_refuses_an_inverted_or_too_precise_balance_limit) {
  Ledger ledger;
  std::string message = refusal<amends::invalid_argument>([&] {
    ledger.create_account("Liabilities:Credit", AccountType::liability, C("USD"),
                          AccountOptions{{}, BalanceLimit{D("10"), D("5")}});
  });
  EXPECT_CONTAINS(message, "max_normal is below min_normal");
  message = refusal<amends::amount_too_precise>([&] {
    ledger.create_account("Liabilities:Credit", AccountType::liability, C("USD"),
                          AccountOptions{{}, BalanceLimit{D("0.001"), std::nullopt}});
  });
  EXPECT_CONTAINS(message, "USD");
  EXPECT_EQ(ledger.account_count(), 0U);
  EXPECT_FALSE(ledger.find_account("Liabilities:Credit").has_value());
}

TEST(LedgerAccounts, unknown_account_lookups_are_refused_with_a_hint) {
  Book b;
  EXPECT_FALSE(b.ledger.find_account("Assets:Nowhere").has_value());
  std::string message = refusal<amends::unknown_account>([&] { (void)b.ledger.account_id("Assets:Nowhere"); });
  EXPECT_CONTAINS(message, "Assets:Nowhere");
  EXPECT_CONTAINS(message, "create it first");
  // Lookups are by whole name, not by prefix.
  EXPECT_FALSE(b.ledger.find_account("Assets").has_value());
  EXPECT_FALSE(b.ledger.find_account("Assets:Ban").has_value());
  const AccountId missing{static_cast<std::uint32_t>(b.ledger.account_count())};
  EXPECT_THROW((void)b.ledger.account(missing), amends::unknown_account);
  EXPECT_THROW((void)b.ledger.balance(missing), amends::unknown_account);
  EXPECT_THROW(b.ledger.close_account(missing), amends::unknown_account);
  EXPECT_THROW((void)b.ledger.statement(missing), amends::unknown_account);
}

TEST(LedgerAccounts, account_with_a_balance_cannot_be_closed_until_it_is_moved_out) {
  Book b;
  b.ledger.post(draft("2026-01-05", {{b.bank, "100.00"}, {b.equity, "-100.00"}}));
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::invalid_argument>([&] { b.ledger.close_account(b.bank); });
  EXPECT_CONTAINS(message, "Assets:Bank");
  EXPECT_CONTAINS(message, "100.00 USD");
  EXPECT_CONTAINS(message, "move the balance out");
  EXPECT_FALSE(b.ledger.account(b.bank).closed);
  EXPECT_EQ(fingerprint(b.ledger), before);

  b.ledger.post(draft("2026-01-06", {{b.receivables, "100.00"}, {b.bank, "-100.00"}}));
  EXPECT_NO_THROW(b.ledger.close_account(b.bank));
  EXPECT_TRUE(b.ledger.account(b.bank).closed);
  // A closed account keeps its history.
  EXPECT_EQ(b.ledger.statement(b.bank).lines.size(), 2U);
}

TEST(LedgerAccounts, account_with_open_reservations_cannot_be_closed_until_they_are_resolved) {
  Book b;
  AccountId hold = b.open("Assets:Holding", AccountType::asset);
  EntryId pending = b.ledger.reserve(draft("2026-01-05", {{b.bank, "5.00"}, {hold, "-5.00"}})).id;
  ASSERT_TRUE(b.ledger.balance(hold).posted.is_zero());
  std::string message = refusal<amends::invalid_argument>([&] { b.ledger.close_account(hold); });
  EXPECT_CONTAINS(message, "open reservations");
  EXPECT_FALSE(b.ledger.account(hold).closed);

  b.ledger.void_pending(pending, day("2026-01-06"), "customer cancelled");
  EXPECT_NO_THROW(b.ledger.close_account(hold));
  EXPECT_TRUE(b.ledger.account(hold).closed);
}

TEST(LedgerAccounts, closed_account_refuses_postings_and_the_refusal_changes_nothing) {
  Book b;
  AccountId old = b.open("Assets:OldBank", AccountType::asset);
  b.ledger.close_account(old);
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::account_closed>(
      [&] { b.ledger.post(draft("2026-01-05", {{old, "10.00"}, {b.equity, "-10.00"}})); });
  EXPECT_CONTAINS(message, "Assets:OldBank");
  EXPECT_CONTAINS(message, "closed");
  refusal<amends::account_closed>(
      [&] { b.ledger.reserve(draft("2026-01-05", {{b.equity, "10.00"}, {old, "-10.00"}})); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  // The other accounts still take postings.
  EXPECT_TRUE(b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {b.equity, "-10.00"}})).created);
}

TEST(LedgerAccounts, account_type_from_name_follows_the_conventional_roots) {
  struct Case {
    std::string_view name;
    std::optional<AccountType> type;
  };
  const Case cases[] = {
      {"Assets", AccountType::asset},
      {"Assets:Bank:Checking", AccountType::asset},
      {"Asset:Cash", AccountType::asset},
      {"Liabilities:CustomerCredits:C1042", AccountType::liability},
      {"Liability:Loan", AccountType::liability},
      {"Equity:Opening", AccountType::equity},
      {"Revenue:Sales", AccountType::revenue},
      {"Revenues:Sales", AccountType::revenue},
      {"Income:Interest", AccountType::revenue},
      {"Revenue:ContraRevenue:ServiceCredits", AccountType::contra_revenue},
      {"Income:ContraRevenue", AccountType::contra_revenue},
      {"ContraRevenue:Refunds", AccountType::contra_revenue},
      {"Expenses:Travel", AccountType::expense},
      {"Expense:Travel", AccountType::expense},
      {"Budget", AccountType::memo},
      {"Budget:Goodwill:2026", AccountType::memo},
      {"Budgets:Goodwill", AccountType::memo},
      {"Memo:Commitments", AccountType::memo},
      // Only whole segments count.
      {"AssetsX:Bank", std::nullopt},
      {"Revenue:ContraRevenueX", AccountType::revenue},
      {"Foo:ContraRevenueBar", std::nullopt},
      {"Customers:C1042", std::nullopt},
      {"assets:bank", std::nullopt},
      {"Cash", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(account_type_from_name(c.name), c.type) << c.name;
}

TEST(LedgerAccounts, parse_account_type_accepts_every_name_and_the_dashed_spelling) {
  for (AccountType type : {AccountType::asset, AccountType::liability, AccountType::equity, AccountType::revenue,
                           AccountType::contra_revenue, AccountType::expense, AccountType::memo})
    EXPECT_EQ(parse_account_type(amends::to_string(type)), type);
  EXPECT_EQ(amends::to_string(AccountType::contra_revenue), "contra_revenue");
  EXPECT_EQ(parse_account_type("contra-revenue"), AccountType::contra_revenue);
  for (std::string_view bad : {"", "Asset", "assets", "contra revenue", "contra_revenu", "contrarevenue"}) {
    std::string message = refusal<amends::invalid_argument>([&] { (void)parse_account_type(bad); });
    EXPECT_CONTAINS(message, "contra_revenue");
  }
}

TEST(LedgerAccounts, debit_normal_types_are_assets_expenses_contra_revenue_and_memo) {
  EXPECT_TRUE(is_debit_normal(AccountType::asset));
  EXPECT_TRUE(is_debit_normal(AccountType::expense));
  EXPECT_TRUE(is_debit_normal(AccountType::contra_revenue));
  EXPECT_TRUE(is_debit_normal(AccountType::memo));
  EXPECT_FALSE(is_debit_normal(AccountType::liability));
  EXPECT_FALSE(is_debit_normal(AccountType::equity));
  EXPECT_FALSE(is_debit_normal(AccountType::revenue));
}

TEST(LedgerAccounts, set_balance_limit_takes_effect_and_refuses_an_inverted_limit) {
  Book b;
  b.ledger.post(draft("2026-01-05", {{b.bank, "50.00"}, {b.sales, "-50.00"}}));
  refusal<amends::invalid_argument>(
      [&] { b.ledger.set_balance_limit(b.bank, BalanceLimit{D("10"), D("1")}); });
  EXPECT_TRUE(b.ledger.account(b.bank).limit.empty());

  b.ledger.set_balance_limit(b.bank, BalanceLimit{Decimal(0), std::nullopt});
  const std::string before = fingerprint(b.ledger);
  refusal<amends::balance_limit_exceeded>(
      [&] { b.ledger.post(draft("2026-01-06", {{b.receivables, "50.01"}, {b.bank, "-50.01"}})); });
  EXPECT_EQ(fingerprint(b.ledger), before);

  // Removing the limit lifts it.
  b.ledger.set_balance_limit(b.bank, BalanceLimit{});
  EXPECT_TRUE(b.ledger.post(draft("2026-01-06", {{b.receivables, "50.01"}, {b.bank, "-50.01"}})).created);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("-0.01"));
}

}  // namespace

TEST(LedgerAccounts, a_name_can_be_opened_in_a_second_currency_and_postings_pick_the_currency) {
  Book b;
  const AccountId bank_eur = b.ledger.create_account("Assets:Bank", AccountType::asset, C("EUR"));
  const AccountId equity_eur = b.ledger.create_account("Equity:Opening", AccountType::equity, C("EUR"));
  EXPECT_EQ(b.ledger.account_id("Assets:Bank", C("EUR")), bank_eur);
  EXPECT_EQ(b.ledger.account_id("Assets:Bank", C("USD")), b.bank);
  refusal<amends::currency_mismatch>([&] { (void)b.ledger.account_id("Assets:Bank", C("GBP")); });
  refusal<amends::unknown_account>([&] { (void)b.ledger.account_id("Assets:Nowhere", C("GBP")); });
  std::string message = refusal<amends::invalid_argument>([&] { (void)b.ledger.account_id("Assets:Bank"); });
  EXPECT_CONTAINS(message, "USD, EUR");
  b.ledger.post(draft("2026-01-05", {{bank_eur, "5.00"}, {equity_eur, "-5.00"}}));
  b.ledger.post(draft("2026-01-05", {{b.bank, "7.00"}, {b.equity, "-7.00"}}));
  EXPECT_EQ(b.ledger.balance(bank_eur).posted, D("5.00"));
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("7.00"));
  // The same name and currency twice is still refused.
  refusal<amends::account_exists>([&] { b.ledger.create_account("Assets:Bank", AccountType::asset, C("EUR")); });
  // Journal lines carry the commodity, so ledger-cli and hledger see one multi-currency account.
  const std::string journal = b.ledger.to_journal();
  EXPECT_CONTAINS(journal, "    Assets:Bank  5.00 EUR\n");
  EXPECT_CONTAINS(journal, "    Assets:Bank  7.00 USD\n");
}

TEST(LedgerAccounts, a_balance_limit_finer_than_the_currency_is_refused_when_set_later_too) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  refusal<amends::amount_too_precise>(
      [&] { b.ledger.set_balance_limit(b.bank, BalanceLimit{Decimal::parse("0.001"), std::nullopt}); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_TRUE(b.ledger.account(b.bank).limit.empty());
}
