// Ledger entries: the posting rules (balance, postings, amounts, currencies,
// periods, balance limits), idempotency and reversal. Every refusal is checked
// to leave the ledger exactly as it was.
#include <string>
#include <string_view>

#include "test_ledger_support.hpp"

namespace {

using namespace amends_test;

// ---------------------------------------------------------------- posting rules

TEST(LedgerEntries, balanced_entry_is_accepted_and_moves_both_balances) {
  Book b;
  EntryDraft d = draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "Invoice 7 paid", "inv-7");
  d.metadata = {{"customer", "C1042"}, {"channel", "web"}};
  PostResult result = b.ledger.post(d);
  EXPECT_TRUE(result.created);
  EXPECT_EQ(result.id, EntryId{1});
  EXPECT_EQ(b.ledger.entry_count(), 1U);
  EXPECT_EQ(b.ledger.posting_count(), 2U);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("100"));
  EXPECT_EQ(b.ledger.balance(b.sales).posted, D("-100"));
  EXPECT_TRUE(b.ledger.balance(b.bank).pending_debits.is_zero());

  const EntryView view = b.ledger.entry(result.id);
  EXPECT_EQ(view.id, result.id);
  EXPECT_EQ(view.date, day("2026-01-05"));
  EXPECT_EQ(view.status, EntryStatus::posted);
  EXPECT_EQ(view.description, "Invoice 7 paid");
  EXPECT_EQ(view.idempotency_key, "inv-7");
  EXPECT_EQ(view.metadata, (Metadata{{"customer", "C1042"}, {"channel", "web"}}));
  ASSERT_EQ(view.postings.size(), 2U);
  EXPECT_EQ(view.postings[0].account, b.bank);
  EXPECT_EQ(view.postings[0].amount, D("100"));
  EXPECT_EQ(view.postings[1].account, b.sales);
  EXPECT_EQ(view.postings[1].amount, D("-100"));
  EXPECT_FALSE(view.reverses);
  EXPECT_FALSE(view.reversed_by);
  EXPECT_FALSE(view.expires_on.has_value());
  EXPECT_FALSE(view.resolved_on.has_value());
  EXPECT_EQ(b.ledger.find_by_key("inv-7"), result.id);

  // Several postings, one account twice.
  PostResult second = b.ledger.post(
      draft("2026-01-06", {{b.bank, "30.00"}, {b.bank, "20.00"}, {b.sales, "-45.00"}, {b.equity, "-5.00"}}));
  EXPECT_EQ(second.id, EntryId{2});
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("150"));
  EXPECT_EQ(b.ledger.balance(b.sales).posted, D("-145"));
  EXPECT_EQ(b.ledger.posting_count(), 6U);
}

TEST(LedgerEntries, unbalanced_entry_is_rejected_and_changes_nothing) {
  Book b;
  b.ledger.post(draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}));
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::unbalanced_entry>(
      [&] { b.ledger.post(draft("2026-01-06", {{b.bank, "10.00"}, {b.sales, "-9.99"}}, "", "k-unbalanced")); });
  EXPECT_CONTAINS(message, "USD debits exceed credits by 0.01");
  message = refusal<amends::unbalanced_entry>(
      [&] { b.ledger.post(draft("2026-01-06", {{b.bank, "10.00"}, {b.sales, "-12.50"}})); });
  EXPECT_CONTAINS(message, "USD credits exceed debits by 2.5");
  EXPECT_CONTAINS(message, "sum to zero");
  // An unbalanced entry is also an invalid entry, for callers that catch the general kind.
  EXPECT_THROW(b.ledger.post(draft("2026-01-06", {{b.bank, "1.00"}, {b.sales, "-2.00"}})), amends::invalid_entry);
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_by_key("k-unbalanced").has_value());
}

TEST(LedgerEntries, multi_currency_entry_must_balance_in_each_currency) {
  Book b;
  AccountId eur_bank = b.open("Assets:Bank:EUR", AccountType::asset, {}, "EUR");
  AccountId eur_equity = b.open("Equity:Opening:EUR", AccountType::equity, {}, "EUR");
  const std::string before = fingerprint(b.ledger);
  // Balanced overall by number but not per currency.
  std::string message = refusal<amends::unbalanced_entry>(
      [&] { b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {eur_equity, "-10.00"}})); });
  EXPECT_CONTAINS(message, "USD debits exceed credits by 10");
  EXPECT_CONTAINS(message, "EUR credits exceed debits by 10");
  // A currency exchange: each side balanced in its own currency, but the two legs disagree.
  refusal<amends::unbalanced_entry>([&] {
    b.ledger.post(draft("2026-01-05", {{b.bank, "11.00"}, {b.equity, "-11.00"}, {eur_bank, "10.00"}, {eur_equity, "-9.00"}}));
  });
  EXPECT_EQ(fingerprint(b.ledger), before);

  PostResult ok = b.ledger.post(
      draft("2026-01-05", {{b.bank, "11.00"}, {eur_bank, "10.00"}, {b.equity, "-11.00"}, {eur_equity, "-10.00"}}));
  EXPECT_TRUE(ok.created);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("11"));
  EXPECT_EQ(b.ledger.balance(eur_bank).posted, D("10"));
  EXPECT_EQ(b.ledger.balance(eur_equity).posted, D("-10"));
}

TEST(LedgerEntries, entry_with_fewer_than_two_postings_is_refused) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  EntryDraft none;
  none.date = day("2026-01-05");
  std::string message = refusal<amends::invalid_entry>([&] { b.ledger.post(none); });
  EXPECT_CONTAINS(message, "at least two postings");
  EXPECT_CONTAINS(message, "has 0");
  message = refusal<amends::invalid_entry>([&] { b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}})); });
  EXPECT_CONTAINS(message, "has 1");
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerEntries, entry_with_more_postings_than_the_maximum_is_refused) {
  Book b;
  EntryDraft d;
  d.date = day("2026-01-05");
  for (std::size_t i = 0; i < Ledger::max_postings_per_entry / 2 + 1; ++i) {
    d.postings.push_back(PostingDraft{b.bank, D("0.01"), std::nullopt});
    d.postings.push_back(PostingDraft{b.sales, D("-0.01"), std::nullopt});
  }
  std::string message = refusal<amends::invalid_entry>([&] { b.ledger.post(d); });
  EXPECT_CONTAINS(message, "at most 1024 postings");
  EXPECT_EQ(b.ledger.entry_count(), 0U);
  d.postings.resize(Ledger::max_postings_per_entry);
  EXPECT_TRUE(b.ledger.post(d).created);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("5.12"));
}

TEST(LedgerEntries, zero_amount_posting_is_refused) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::invalid_entry>(
      [&] { b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {b.equity, "0.00"}, {b.sales, "-10.00"}})); });
  EXPECT_CONTAINS(message, "Equity:Opening");
  EXPECT_CONTAINS(message, "zero amount");
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerEntries, posting_in_another_currency_than_its_account_is_refused) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::currency_mismatch>(
      [&] { b.ledger.post(draft("2026-01-05", {{b.bank, "10.00", "EUR"}, {b.sales, "-10.00", "EUR"}})); });
  EXPECT_CONTAINS(message, "Assets:Bank");
  EXPECT_CONTAINS(message, "EUR");
  EXPECT_CONTAINS(message, "USD");
  EXPECT_EQ(fingerprint(b.ledger), before);
  // Naming the account's own currency is fine.
  EXPECT_TRUE(b.ledger.post(draft("2026-01-05", {{b.bank, "10.00", "USD"}, {b.sales, "-10.00"}})).created);
}

TEST(LedgerEntries, amount_finer_than_the_currency_minor_unit_is_refused) {
  Book b;
  AccountId yen = b.open("Assets:Cash:JPY", AccountType::asset, {}, "JPY");
  AccountId yen_sales = b.open("Revenue:Sales:JPY", AccountType::revenue, {}, "JPY");
  AccountId dinar = b.open("Assets:Cash:KWD", AccountType::asset, {}, "KWD");
  AccountId dinar_sales = b.open("Revenue:Sales:KWD", AccountType::revenue, {}, "KWD");
  const std::string before = fingerprint(b.ledger);

  std::string message = refusal<amends::amount_too_precise>(
      [&] { b.ledger.post(draft("2026-01-05", {{b.bank, "0.001"}, {b.sales, "-0.001"}})); });
  EXPECT_CONTAINS(message, "0.001 USD");
  EXPECT_CONTAINS(message, "2 minor digits");
  EXPECT_CONTAINS(message, "round it first");
  message = refusal<amends::amount_too_precise>(
      [&] { b.ledger.post(draft("2026-01-05", {{yen, "1.5"}, {yen_sales, "-1.5"}})); });
  EXPECT_CONTAINS(message, "1.5 JPY");
  EXPECT_CONTAINS(message, "0 minor digits");
  EXPECT_EQ(fingerprint(b.ledger), before);

  // Trailing zeros are not extra precision, and three places are fine in KWD.
  EXPECT_TRUE(b.ledger.post(draft("2026-01-05", {{b.bank, "1.100"}, {b.sales, "-1.100"}})).created);
  EXPECT_TRUE(b.ledger.post(draft("2026-01-05", {{yen, "1500"}, {yen_sales, "-1500"}})).created);
  EXPECT_TRUE(b.ledger.post(draft("2026-01-05", {{dinar, "0.001"}, {dinar_sales, "-0.001"}})).created);
  EXPECT_EQ(b.ledger.balance(dinar).posted, D("0.001"));
  EXPECT_EQ(b.ledger.balance(yen).posted, D("1500"));
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("1.1"));
}

TEST(LedgerEntries, posting_to_an_unknown_account_id_is_refused) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  const AccountId missing{99};
  std::string message = refusal<amends::unknown_account>(
      [&] { b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {missing, "-10.00"}})); });
  EXPECT_CONTAINS(message, "99");
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerEntries, closed_period_refuses_postings_even_with_the_override) {
  Book b;
  b.ledger.set_period_state(Period(2026, 1), PeriodState::closed);
  const std::string before = fingerprint(b.ledger);
  EntryDraft d = draft("2026-01-31", {{b.bank, "10.00"}, {b.sales, "-10.00"}});
  std::string message = refusal<amends::period_closed>([&] { b.ledger.post(d); });
  EXPECT_CONTAINS(message, "2026-01");
  EXPECT_CONTAINS(message, "open period");
  d.allow_locked_period = true;
  refusal<amends::period_closed>([&] { b.ledger.post(d); });
  refusal<amends::period_closed>([&] { b.ledger.reserve(d); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  // The neighbouring periods are open.
  EXPECT_TRUE(b.ledger.post(draft("2025-12-31", {{b.bank, "1.00"}, {b.sales, "-1.00"}})).created);
  EXPECT_TRUE(b.ledger.post(draft("2026-02-01", {{b.bank, "2.00"}, {b.sales, "-2.00"}})).created);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("3"));
}

TEST(LedgerEntries, locked_period_needs_the_explicit_override) {
  Book b;
  b.ledger.set_period_state(Period(2026, 1), PeriodState::locked);
  EXPECT_EQ(b.ledger.period_state(Period(2026, 1)), PeriodState::locked);
  const std::string before = fingerprint(b.ledger);
  EntryDraft d = draft("2026-01-15", {{b.bank, "10.00"}, {b.sales, "-10.00"}}, "late adjustment", "adj-1");
  std::string message = refusal<amends::period_locked>([&] { b.ledger.post(d); });
  EXPECT_CONTAINS(message, "2026-01");
  EXPECT_CONTAINS(message, "override");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_by_key("adj-1").has_value());

  d.allow_locked_period = true;
  PostResult result = b.ledger.post(d);
  EXPECT_TRUE(result.created);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("10"));

  // Once unlocked, no override is needed.
  b.ledger.set_period_state(Period(2026, 1), PeriodState::open);
  EXPECT_TRUE(b.ledger.post(draft("2026-01-16", {{b.bank, "1.00"}, {b.sales, "-1.00"}})).created);
}

TEST(LedgerEntries, closed_period_never_reopens) {
  Book b;
  b.ledger.set_period_state(Period(2026, 1), PeriodState::locked);
  b.ledger.set_period_state(Period(2026, 1), PeriodState::closed);
  EXPECT_EQ(b.ledger.period_state(Period(2026, 1)), PeriodState::closed);
  EXPECT_THROW(b.ledger.set_period_state(Period(2026, 1), PeriodState::open), amends::invalid_period_transition);
  EXPECT_THROW(b.ledger.set_period_state(Period(2026, 1), PeriodState::locked), amends::invalid_period_transition);
  EXPECT_EQ(b.ledger.period_state(Period(2026, 1)), PeriodState::closed);
  EXPECT_EQ(b.ledger.period_state(Period(2026, 2)), PeriodState::open);
  refusal<amends::period_closed>([&] { b.ledger.post(draft("2026-01-01", {{b.bank, "1.00"}, {b.sales, "-1.00"}})); });
}

TEST(LedgerEntries, customer_credit_cannot_be_spent_below_zero) {
  Book b;
  b.grant_credit("2026-01-05", "50.00");
  EXPECT_EQ(b.ledger.balance(b.customer_credit).posted, D("-50"));
  const std::string before = fingerprint(b.ledger);
  // Applying 60.00 of a 50.00 credit to an invoice.
  std::string message = refusal<amends::balance_limit_exceeded>(
      [&] { b.ledger.post(draft("2026-01-06", {{b.customer_credit, "60.00"}, {b.receivables, "-60.00"}})); });
  EXPECT_CONTAINS(message, "Liabilities:CustomerCredits:C1042");
  EXPECT_CONTAINS(message, "-10.00 USD");
  EXPECT_CONTAINS(message, "below its limit of 0.00 USD");
  // Two postings to the account in one entry count together.
  refusal<amends::balance_limit_exceeded>([&] {
    b.ledger.post(draft("2026-01-06",
                        {{b.customer_credit, "30.00"}, {b.customer_credit, "30.00"}, {b.receivables, "-60.00"}}));
  });
  EXPECT_EQ(fingerprint(b.ledger), before);

  // Exactly the whole credit is fine, and then not a cent more.
  EXPECT_TRUE(b.ledger.post(draft("2026-01-06", {{b.customer_credit, "50.00"}, {b.receivables, "-50.00"}})).created);
  EXPECT_TRUE(b.ledger.balance(b.customer_credit).posted.is_zero());
  refusal<amends::balance_limit_exceeded>(
      [&] { b.ledger.post(draft("2026-01-07", {{b.customer_credit, "0.01"}, {b.receivables, "-0.01"}})); });
  EXPECT_TRUE(b.ledger.balance(b.customer_credit).posted.is_zero());
}

TEST(LedgerEntries, maximum_normal_balance_is_enforced_on_debit_normal_accounts) {
  Book b;
  AccountId goodwill = b.open("Budget:Goodwill", AccountType::memo,
                              AccountOptions{{}, BalanceLimit{std::nullopt, D("100.00")}});
  AccountId available = b.open("Budget:Available", AccountType::memo);
  EXPECT_TRUE(b.ledger.post(draft("2026-01-05", {{goodwill, "60.00"}, {available, "-60.00"}})).created);
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::balance_limit_exceeded>(
      [&] { b.ledger.post(draft("2026-01-06", {{goodwill, "40.01"}, {available, "-40.01"}})); });
  EXPECT_CONTAINS(message, "Budget:Goodwill");
  EXPECT_CONTAINS(message, "100.01 USD");
  EXPECT_CONTAINS(message, "above its limit of 100.00 USD");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_TRUE(b.ledger.post(draft("2026-01-06", {{goodwill, "40.00"}, {available, "-40.00"}})).created);
  EXPECT_EQ(b.ledger.balance(goodwill).posted, D("100"));
  // Moving away from the limit is always fine.
  EXPECT_TRUE(b.ledger.post(draft("2026-01-07", {{available, "25.00"}, {goodwill, "-25.00"}})).created);
  EXPECT_EQ(b.ledger.balance(goodwill).posted, D("75"));
}

TEST(LedgerEntries, maximum_normal_balance_is_enforced_on_credit_normal_accounts) {
  Book b;
  AccountId capped = b.open("Liabilities:CustomerCredits:Capped", AccountType::liability,
                            AccountOptions{{}, BalanceLimit{Decimal(0), D("25.00")}});
  EXPECT_TRUE(b.ledger.post(draft("2026-01-05", {{b.service_credits, "25.00"}, {capped, "-25.00"}})).created);
  refusal<amends::balance_limit_exceeded>(
      [&] { b.ledger.post(draft("2026-01-06", {{b.service_credits, "0.01"}, {capped, "-0.01"}})); });
  EXPECT_EQ(b.ledger.balance(capped).posted, D("-25"));
}

TEST(LedgerEntries, account_already_past_a_new_limit_may_move_back_toward_it_but_not_further_away) {
  Book b;
  AccountId credit = b.open("Liabilities:CustomerCredits:C7", AccountType::liability);
  // Overdrawn by 10.00 before any limit was set.
  b.ledger.post(draft("2026-01-05", {{credit, "10.00"}, {b.receivables, "-10.00"}}));
  b.ledger.set_balance_limit(credit, BalanceLimit{Decimal(0), std::nullopt});
  EXPECT_TRUE(b.ledger.post(draft("2026-01-06", {{b.service_credits, "4.00"}, {credit, "-4.00"}})).created);
  EXPECT_EQ(b.ledger.balance(credit).posted, D("6"));
  refusal<amends::balance_limit_exceeded>(
      [&] { b.ledger.post(draft("2026-01-07", {{credit, "0.01"}, {b.receivables, "-0.01"}})); });
  EXPECT_EQ(b.ledger.balance(credit).posted, D("6"));
}

// A posting is stored in its currency's minor units, so one posting holds at
// most 2^63-1 of them; balances are exact decimals that end near 1.7e20.
// In yen (no minor digits) a balance overflows at the 38th posting of 9e18.
const std::string yen_step = "9000000000000000000";

TEST(LedgerEntries, posting_beyond_the_int64_range_of_minor_units_is_refused_and_changes_nothing) {
  Book b;
  const std::string before = fingerprint(b.ledger);
  const std::string huge = "100000000000000000";  // 1e17 USD is 1e19 cents > 2^63
  std::string message = refusal<amends::overflow_error>(
      [&] { b.ledger.post(draft("2026-01-05", {{b.bank, huge}, {b.equity, "-" + huge}})); });
  EXPECT_CONTAINS(message, "beyond what one posting holds");
  EXPECT_EQ(fingerprint(b.ledger), before);
  // Just inside the range posts.
  EXPECT_TRUE(b.ledger.post(draft("2026-01-05", {{b.bank, "92233720368547758.07"}, {b.equity, "-92233720368547758.07"}})).created);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("92233720368547758.07"));
}

TEST(LedgerEntries, balance_overflow_is_refused_and_changes_nothing) {
  Book b;
  AccountId yen = b.open("Assets:Yen", AccountType::asset, {}, "JPY");
  AccountId yen_equity = b.open("Equity:Yen", AccountType::equity, {}, "JPY");
  AccountId yen_sales = b.open("Revenue:Yen", AccountType::revenue, {}, "JPY");
  for (int i = 0; i < 37; ++i) b.ledger.post(draft("2026-01-05", {{yen, yen_step}, {yen_equity, "-" + yen_step}}));
  const std::string before = fingerprint(b.ledger);
  refusal<amends::overflow_error>([&] { b.ledger.post(draft("2026-01-06", {{yen, yen_step}, {yen_equity, "-" + yen_step}})); });
  // The second posting overflows after the first was applied: still nothing changes.
  refusal<amends::overflow_error>([&] { b.ledger.post(draft("2026-01-06", {{yen_sales, "-" + yen_step}, {yen, yen_step}})); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  ASSERT_EQ(b.ledger.statement(yen).lines.size(), 37U);
  // Statements and queries still work on the untouched book.
  EXPECT_EQ(b.ledger.statement(yen).closing_balance, D(yen_step) * 37);
  EXPECT_TRUE(b.ledger.post(draft("2026-01-06", {{yen_sales, yen_step}, {yen, "-" + yen_step}})).created);
  EXPECT_EQ(b.ledger.balance(yen).posted, D(yen_step) * 36);
}

TEST(LedgerEntries, pending_balance_overflow_is_refused_and_changes_nothing) {
  Book b;
  AccountId yen = b.open("Assets:Yen", AccountType::asset, {}, "JPY");
  AccountId yen_equity = b.open("Equity:Yen", AccountType::equity, {}, "JPY");
  for (int i = 0; i < 37; ++i) b.ledger.reserve(draft("2026-01-05", {{yen_equity, "-" + yen_step}, {yen, yen_step}}));
  const std::string before = fingerprint(b.ledger);
  refusal<amends::overflow_error>([&] { b.ledger.reserve(draft("2026-01-06", {{yen_equity, "-" + yen_step}, {yen, yen_step}})); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.balance(yen_equity).pending_credits, D(yen_step) * 37);
  EXPECT_EQ(b.ledger.balance(yen).pending_debits, D(yen_step) * 37);
}

// ---------------------------------------------------------------- idempotency

TEST(LedgerIdempotency, same_key_and_same_content_returns_the_original_and_posts_nothing) {
  Book b;
  EntryDraft d = draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "Invoice 7", "inv-7");
  d.metadata = {{"customer", "C1042"}};
  PostResult first = b.ledger.post(d);
  ASSERT_TRUE(first.created);
  const std::string before = fingerprint(b.ledger);
  PostResult again = b.ledger.post(d);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("100"));

  // The same content with the currency spelled out, or with the override set, is still the same entry.
  EntryDraft spelled = d;
  spelled.postings[0].currency = C("USD");
  spelled.allow_locked_period = true;
  PostResult third = b.ledger.post(spelled);
  EXPECT_FALSE(third.created);
  EXPECT_EQ(third.id, first.id);
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerIdempotency, retry_succeeds_even_after_the_period_was_locked) {
  Book b;
  EntryDraft d = draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "Invoice 7", "inv-7");
  PostResult first = b.ledger.post(d);
  b.ledger.set_period_state(Period(2026, 1), PeriodState::locked);
  PostResult retry = b.ledger.post(d);
  EXPECT_FALSE(retry.created);
  EXPECT_EQ(retry.id, first.id);
  EXPECT_EQ(b.ledger.entry_count(), 1U);
}

TEST(LedgerIdempotency, same_key_with_different_content_is_a_conflict_and_changes_nothing) {
  Book b;
  EntryDraft d = draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "Invoice 7", "inv-7");
  d.metadata = {{"customer", "C1042"}};
  b.ledger.post(d);
  const std::string before = fingerprint(b.ledger);

  EntryDraft other_amount = d;
  other_amount.postings[0].amount = D("100.01");
  other_amount.postings[1].amount = D("-100.01");
  std::string message = refusal<amends::idempotency_conflict>([&] { b.ledger.post(other_amount); });
  EXPECT_CONTAINS(message, "\"inv-7\"");
  EXPECT_CONTAINS(message, "entry #1");
  EXPECT_CONTAINS(message, "use a new key");

  EntryDraft other_date = d;
  other_date.date = day("2026-01-06");
  EntryDraft other_description = d;
  other_description.description = "Invoice 8";
  EntryDraft other_metadata = d;
  other_metadata.metadata = {{"customer", "C1043"}};
  EntryDraft other_account = d;
  other_account.postings[0].account = b.receivables;
  EntryDraft swapped = d;
  std::swap(swapped.postings[0], swapped.postings[1]);
  EntryDraft extra_posting = d;
  extra_posting.postings[1].amount = D("-60.00");
  extra_posting.postings.push_back(PostingDraft{b.equity, D("-40.00"), std::nullopt});
  for (const EntryDraft* variant : {&other_date, &other_description, &other_metadata, &other_account, &swapped, &extra_posting})
    refusal<amends::idempotency_conflict>([&] { b.ledger.post(*variant); });
  // A reservation is never the same entry as a posting.
  refusal<amends::idempotency_conflict>([&] { b.ledger.reserve(d); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.find_by_key("inv-7"), EntryId{1});
}

TEST(LedgerIdempotency, reserve_with_a_repeated_key_returns_the_original_reservation) {
  Book b;
  EntryDraft d = draft("2026-01-05", {{b.receivables, "20.00"}, {b.sales, "-20.00"}}, "hold", "hold-1");
  PostResult first = b.ledger.reserve(d, day("2026-02-01"));
  const std::string before = fingerprint(b.ledger);
  PostResult again = b.ledger.reserve(d, day("2026-02-01"));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.balance(b.receivables).pending_debits, D("20"));
  refusal<amends::idempotency_conflict>([&] { b.ledger.post(d); });
}

TEST(LedgerIdempotency, overlong_key_is_refused) {
  Book b;
  EntryDraft d = draft("2026-01-05", {{b.bank, "1.00"}, {b.sales, "-1.00"}}, "", std::string(257, 'k'));
  std::string message = refusal<amends::invalid_entry>([&] { b.ledger.post(d); });
  EXPECT_CONTAINS(message, "256");
  EXPECT_EQ(b.ledger.entry_count(), 0U);
  d.idempotency_key = std::string(256, 'k');
  EXPECT_TRUE(b.ledger.post(d).created);
}

TEST(LedgerIdempotency, refused_entry_does_not_claim_its_key) {
  Book b;
  EntryDraft bad = draft("2026-01-05", {{b.bank, "1.00"}, {b.sales, "-2.00"}}, "", "k-1");
  refusal<amends::unbalanced_entry>([&] { b.ledger.post(bad); });
  EXPECT_FALSE(b.ledger.find_by_key("k-1").has_value());
  EntryDraft good = draft("2026-01-05", {{b.bank, "2.00"}, {b.sales, "-2.00"}}, "", "k-1");
  PostResult result = b.ledger.post(good);
  EXPECT_TRUE(result.created);
  EXPECT_EQ(b.ledger.find_by_key("k-1"), result.id);
}

// ---------------------------------------------------------------- reversal

TEST(LedgerReversal, reversal_posts_the_mirror_links_both_ways_and_nets_to_zero) {
  Book b;
  EntryId original = b.ledger.post(
      draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-80.00"}, {b.equity, "-20.00"}}, "Invoice 7", "inv-7")).id;
  EntryId reversal = b.ledger.reverse(original, day("2026-01-10"), "duplicate invoice");
  EXPECT_EQ(reversal, EntryId{2});
  EXPECT_EQ(b.ledger.entry_count(), 2U);
  EXPECT_EQ(b.ledger.posting_count(), 6U);

  const EntryView orig = b.ledger.entry(original);
  const EntryView rev = b.ledger.entry(reversal);
  EXPECT_EQ(orig.reversed_by, reversal);
  EXPECT_FALSE(orig.reverses);
  EXPECT_EQ(rev.reverses, original);
  EXPECT_FALSE(rev.reversed_by);
  EXPECT_EQ(rev.status, EntryStatus::posted);
  EXPECT_EQ(rev.date, day("2026-01-10"));
  EXPECT_EQ(rev.reason, "duplicate invoice");
  EXPECT_CONTAINS(rev.description, "Reversal of entry #1");
  EXPECT_CONTAINS(rev.description, "duplicate invoice");
  EXPECT_TRUE(rev.idempotency_key.empty());
  EXPECT_EQ(rev.metadata, (Metadata{{"reverses", "1"}}));
  ASSERT_EQ(rev.postings.size(), orig.postings.size());
  for (std::size_t i = 0; i < rev.postings.size(); ++i) {
    EXPECT_EQ(rev.postings[i].account, orig.postings[i].account);
    EXPECT_EQ(rev.postings[i].amount, -orig.postings[i].amount);
  }
  for (AccountId id : {b.bank, b.sales, b.equity}) EXPECT_TRUE(b.ledger.balance(id).posted.is_zero());
  EXPECT_TRUE(b.ledger.trial_balance().rows.empty());
  // Between the two dates the original still shows.
  EXPECT_EQ(b.ledger.balance(b.bank, day("2026-01-09")).posted, D("100"));
  EXPECT_TRUE(b.ledger.balance(b.bank, day("2026-01-10")).posted.is_zero());
}

TEST(LedgerReversal, entry_can_be_reversed_only_once) {
  Book b;
  EntryId original = b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {b.sales, "-10.00"}})).id;
  EntryId reversal = b.ledger.reverse(original, day("2026-01-06"), "mistake");
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::already_reversed>([&] { b.ledger.reverse(original, day("2026-01-07"), "again"); });
  EXPECT_CONTAINS(message, "entry #1");
  EXPECT_CONTAINS(message, "entry #" + std::to_string(reversal.value));
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerReversal, reversal_itself_cannot_be_reversed) {
  Book b;
  EntryId original = b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {b.sales, "-10.00"}})).id;
  EntryId reversal = b.ledger.reverse(original, day("2026-01-06"), "mistake");
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::invalid_entry>([&] { b.ledger.reverse(reversal, day("2026-01-07"), "undo"); });
  EXPECT_CONTAINS(message, "itself a reversal");
  EXPECT_CONTAINS(message, "post a new entry");
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerReversal, reversal_dated_before_the_original_is_refused_but_the_same_day_is_fine) {
  Book b;
  EntryId original = b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {b.sales, "-10.00"}})).id;
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::invalid_entry>([&] { b.ledger.reverse(original, day("2026-01-04"), "mistake"); });
  EXPECT_CONTAINS(message, "2026-01-04");
  EXPECT_CONTAINS(message, "2026-01-05");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.entry(original).reversed_by);
  EntryId reversal = b.ledger.reverse(original, day("2026-01-05"), "mistake");
  EXPECT_EQ(b.ledger.entry(original).reversed_by, reversal);
}

TEST(LedgerReversal, reservation_cannot_be_reversed) {
  Book b;
  EntryId pending = b.ledger.reserve(draft("2026-01-05", {{b.receivables, "10.00"}, {b.sales, "-10.00"}})).id;
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::pending_state_error>([&] { b.ledger.reverse(pending, day("2026-01-06"), "no"); });
  EXPECT_CONTAINS(message, "void it");
  EXPECT_EQ(fingerprint(b.ledger), before);
  // Nor once it was posted; its completion entry is the one to reverse.
  EntryId completion = b.ledger.post_pending(pending, day("2026-01-06"));
  refusal<amends::pending_state_error>([&] { b.ledger.reverse(pending, day("2026-01-07"), "no"); });
  EntryId reversal = b.ledger.reverse(completion, day("2026-01-07"), "refund");
  EXPECT_EQ(b.ledger.entry(completion).reversed_by, reversal);
  EXPECT_TRUE(b.ledger.balance(b.receivables).posted.is_zero());
}

TEST(LedgerReversal, reversal_needs_a_reason_and_an_existing_entry) {
  Book b;
  EntryId original = b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {b.sales, "-10.00"}})).id;
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::invalid_argument>([&] { b.ledger.reverse(original, day("2026-01-06"), ""); });
  EXPECT_CONTAINS(message, "reason");
  refusal<amends::entry_not_found>([&] { b.ledger.reverse(EntryId{0}, day("2026-01-06"), "x"); });
  message = refusal<amends::entry_not_found>([&] { b.ledger.reverse(EntryId{2}, day("2026-01-06"), "x"); });
  EXPECT_CONTAINS(message, "#2");
  EXPECT_THROW((void)b.ledger.entry(EntryId{2}), amends::entry_not_found);
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerReversal, reversal_follows_the_period_rules) {
  Book b;
  EntryId original = b.ledger.post(draft("2026-01-05", {{b.bank, "10.00"}, {b.sales, "-10.00"}})).id;
  b.ledger.set_period_state(Period(2026, 2), PeriodState::locked);
  b.ledger.set_period_state(Period(2026, 3), PeriodState::closed);
  const std::string before = fingerprint(b.ledger);
  refusal<amends::period_closed>([&] { b.ledger.reverse(original, day("2026-03-02"), "late", true); });
  refusal<amends::period_locked>([&] { b.ledger.reverse(original, day("2026-02-02"), "late"); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.entry(original).reversed_by);
  EntryId reversal = b.ledger.reverse(original, day("2026-02-02"), "late", true);
  EXPECT_EQ(b.ledger.entry(original).reversed_by, reversal);
}

TEST(LedgerReversal, reversal_that_would_break_a_balance_limit_is_refused_and_the_entry_stays_reversible) {
  Book b;
  EntryId grant = b.grant_credit("2026-01-05", "50.00").id;
  b.ledger.post(draft("2026-01-06", {{b.customer_credit, "30.00"}, {b.receivables, "-30.00"}}));
  const std::string before = fingerprint(b.ledger);
  // Taking back the whole grant would leave the customer at -30.00.
  refusal<amends::balance_limit_exceeded>([&] { b.ledger.reverse(grant, day("2026-01-07"), "granted by mistake"); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.entry(grant).reversed_by);
  // After the spend is refunded the grant can be reversed.
  b.ledger.post(draft("2026-01-08", {{b.receivables, "30.00"}, {b.customer_credit, "-30.00"}}));
  EntryId reversal = b.ledger.reverse(grant, day("2026-01-09"), "granted by mistake");
  EXPECT_EQ(b.ledger.entry(grant).reversed_by, reversal);
  EXPECT_TRUE(b.ledger.balance(b.customer_credit).posted.is_zero());
}

}  // namespace
