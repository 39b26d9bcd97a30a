// Batches: atomic (all or nothing) and independent (each on its own), with
// per-entry result codes in the manner of TigerBeetle's create_transfers.
#include <string>
#include <vector>

#include "test_ledger_support.hpp"

namespace {

using namespace amends_test;

std::vector<EntryDraft> three_drafts(const Book& b, std::string_view second_credit) {
  return {
      draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "first", "k-a"),
      draft("2026-01-06", {{b.receivables, "50.00"}, {b.sales, std::string("-") + std::string(second_credit)}}, "second",
            "k-b"),
      draft("2026-01-07", {{b.bank, "25.00"}, {b.receivables, "-25.00"}}, "third", "k-c"),
  };
}

TEST(LedgerBatch, atomic_batch_of_good_entries_posts_them_all) {
  Book b;
  const std::vector<EntryDraft> drafts = three_drafts(b, "50.00");
  BatchResult result = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.codes, (std::vector<ResultCode>{ResultCode::ok, ResultCode::ok, ResultCode::ok}));
  EXPECT_EQ(result.ids, (std::vector<EntryId>{EntryId{1}, EntryId{2}, EntryId{3}}));
  EXPECT_EQ(result.created, 3U);
  EXPECT_EQ(result.existing, 0U);
  EXPECT_EQ(b.ledger.entry_count(), 3U);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("125"));
  EXPECT_EQ(b.ledger.balance(b.receivables).posted, D("25"));
  EXPECT_EQ(b.ledger.balance(b.sales).posted, D("-150"));
  EXPECT_EQ(b.ledger.find_by_key("k-c"), EntryId{3});
}

TEST(LedgerBatch, atomic_batch_with_one_bad_entry_posts_nothing) {
  Book b;
  b.ledger.post(draft("2026-01-02", {{b.bank, "1.00"}, {b.equity, "-1.00"}}, "before", "k-0"));
  const std::string before = fingerprint(b.ledger);
  const std::vector<EntryDraft> drafts = three_drafts(b, "49.99");
  BatchResult result = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.codes,
            (std::vector<ResultCode>{ResultCode::linked_entry_failed, ResultCode::unbalanced, ResultCode::linked_entry_failed}));
  EXPECT_EQ(result.ids, (std::vector<EntryId>{EntryId{}, EntryId{}, EntryId{}}));
  EXPECT_EQ(result.created, 0U);
  EXPECT_EQ(result.existing, 0U);
  ASSERT_EQ(result.failures.size(), 1U);
  EXPECT_EQ(result.failures[0].index, 1U);
  EXPECT_EQ(result.failures[0].code, ResultCode::unbalanced);
  EXPECT_CONTAINS(result.failures[0].message, "USD debits exceed credits by 0.01");

  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_by_key("k-a").has_value());
  EXPECT_FALSE(b.ledger.find_by_key("k-b").has_value());
  EXPECT_EQ(b.ledger.find_by_key("k-0"), EntryId{1});

  // The same keys post once the bad entry is fixed.
  const std::vector<EntryDraft> fixed = three_drafts(b, "50.00");
  BatchResult retry = b.ledger.post_batch(fixed, BatchMode::atomic);
  EXPECT_TRUE(retry.ok());
  EXPECT_EQ(retry.ids, (std::vector<EntryId>{EntryId{2}, EntryId{3}, EntryId{4}}));
  EXPECT_EQ(b.ledger.find_by_key("k-a"), EntryId{2});
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("126"));
}

TEST(LedgerBatch, atomic_batch_failing_on_its_last_entry_rolls_back_the_earlier_ones) {
  Book b;
  b.grant_credit("2026-01-02", "40.00");
  const std::string before = fingerprint(b.ledger);
  const std::vector<EntryDraft> drafts = {
      draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "", "k-1"),
      draft("2026-01-05", {{b.customer_credit, "30.00"}, {b.receivables, "-30.00"}}, "", "k-2"),
      draft("2026-01-05", {{b.customer_credit, "20.00"}, {b.receivables, "-20.00"}}, "", "k-3"),  // 50 > 40
  };
  BatchResult result = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_EQ(result.codes, (std::vector<ResultCode>{ResultCode::linked_entry_failed, ResultCode::linked_entry_failed,
                                                   ResultCode::balance_limit_exceeded}));
  EXPECT_EQ(result.ids, (std::vector<EntryId>{EntryId{}, EntryId{}, EntryId{}}));
  ASSERT_EQ(result.failures.size(), 1U);
  EXPECT_EQ(result.failures[0].index, 2U);
  EXPECT_CONTAINS(result.failures[0].message, "Liabilities:CustomerCredits:C1042");
  EXPECT_EQ(fingerprint(b.ledger), before);
  for (const char* key : {"k-1", "k-2", "k-3"}) EXPECT_FALSE(b.ledger.find_by_key(key).has_value()) << key;
}

TEST(LedgerBatch, atomic_batch_failure_also_hides_entries_that_already_existed) {
  Book b;
  PostResult earlier = b.ledger.post(draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "first", "k-a"));
  const std::string before = fingerprint(b.ledger);
  const std::vector<EntryDraft> drafts = {
      draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "first", "k-a"),
      draft("2026-01-06", {{b.bank, "1.00"}}, "broken", "k-x"),
  };
  BatchResult result = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_EQ(result.codes, (std::vector<ResultCode>{ResultCode::linked_entry_failed, ResultCode::invalid_entry}));
  EXPECT_EQ(result.ids, (std::vector<EntryId>{EntryId{}, EntryId{}}));
  EXPECT_EQ(result.existing, 0U);
  EXPECT_EQ(fingerprint(b.ledger), before);
  // The entry posted before the batch is of course still there.
  EXPECT_EQ(b.ledger.find_by_key("k-a"), earlier.id);
}

TEST(LedgerBatch, atomic_batch_rolls_back_keys_so_they_can_be_reused_with_other_content) {
  Book b;
  std::vector<EntryDraft> drafts = {
      draft("2026-01-05", {{b.bank, "10.00"}, {b.sales, "-10.00"}}, "", "k-1"),
      draft("2026-01-05", {{b.bank, "10.00"}, {b.sales, "-10.001"}}, "", "k-2"),
  };
  BatchResult failed = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_EQ(failed.codes, (std::vector<ResultCode>{ResultCode::linked_entry_failed, ResultCode::amount_too_precise}));
  // Had k-1 survived, a different entry under the same key would conflict.
  PostResult reused = b.ledger.post(draft("2026-01-09", {{b.bank, "7.00"}, {b.sales, "-7.00"}}, "", "k-1"));
  EXPECT_TRUE(reused.created);
  EXPECT_EQ(reused.id, EntryId{1});
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("7"));
}

TEST(LedgerBatch, independent_batch_posts_the_good_entries_and_reports_the_bad_ones) {
  Book b;
  b.grant_credit("2026-01-02", "40.00");
  const std::vector<EntryDraft> drafts = {
      draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "", "k-1"),
      draft("2026-01-05", {{b.bank, "5.00"}, {AccountId{77}, "-5.00"}}, "", "k-2"),
      draft("2026-01-06", {{b.customer_credit, "30.00"}, {b.receivables, "-30.00"}}, "", "k-3"),
      draft("2026-01-06", {{b.customer_credit, "20.00"}, {b.receivables, "-20.00"}}, "", "k-4"),  // 50 > 40
  };
  BatchResult result = b.ledger.post_batch(drafts, BatchMode::independent);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.codes, (std::vector<ResultCode>{ResultCode::ok, ResultCode::unknown_account, ResultCode::ok,
                                                   ResultCode::balance_limit_exceeded}));
  EXPECT_EQ(result.ids, (std::vector<EntryId>{EntryId{2}, EntryId{}, EntryId{3}, EntryId{}}));
  EXPECT_EQ(result.created, 2U);
  EXPECT_EQ(result.existing, 0U);
  ASSERT_EQ(result.failures.size(), 2U);
  EXPECT_EQ(result.failures[0].index, 1U);
  EXPECT_EQ(result.failures[0].code, ResultCode::unknown_account);
  EXPECT_CONTAINS(result.failures[0].message, "77");
  EXPECT_EQ(result.failures[1].index, 3U);
  EXPECT_EQ(result.failures[1].code, ResultCode::balance_limit_exceeded);

  EXPECT_EQ(b.ledger.entry_count(), 3U);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("100"));
  EXPECT_EQ(b.ledger.balance(b.customer_credit).posted, D("-10"));
  EXPECT_EQ(b.ledger.balance(b.receivables).posted, D("-30"));
  EXPECT_FALSE(b.ledger.find_by_key("k-2").has_value());
  EXPECT_FALSE(b.ledger.find_by_key("k-4").has_value());
  EXPECT_EQ(b.ledger.find_by_key("k-3"), EntryId{3});
}

TEST(LedgerBatch, independent_batch_reports_the_code_of_each_kind_of_refusal) {
  Book b;
  AccountId closed = b.open("Assets:Closed", AccountType::asset);
  b.ledger.close_account(closed);
  b.ledger.set_period_state(Period(2025, 12), PeriodState::closed);
  b.ledger.set_period_state(Period(2026, 2), PeriodState::locked);
  b.ledger.post(draft("2026-01-01", {{b.bank, "1.00"}, {b.equity, "-1.00"}}, "", "taken"));
  // Near the end of the exact range (3.4e20): 37 postings of 9e18 yen.
  const std::string yen_step = "9000000000000000000";
  AccountId yen = b.open("Assets:Yen", AccountType::asset, {}, "JPY");
  AccountId yen_equity = b.open("Equity:Yen", AccountType::equity, {}, "JPY");
  for (int i = 0; i < 37; ++i) b.ledger.post(draft("2026-01-01", {{yen, yen_step}, {yen_equity, "-" + yen_step}}));
  const std::string before = fingerprint(b.ledger);

  struct Case {
    EntryDraft draft;
    ResultCode code;
  };
  const std::vector<Case> cases = {
      {draft("2026-01-05", {{b.bank, "1.00"}}), ResultCode::invalid_entry},
      {draft("2026-01-05", {{b.bank, "1.00"}, {b.sales, "-2.00"}}), ResultCode::unbalanced},
      {draft("2026-01-05", {{b.bank, "1.00"}, {AccountId{99}, "-1.00"}}), ResultCode::unknown_account},
      {draft("2026-01-05", {{closed, "1.00"}, {b.sales, "-1.00"}}), ResultCode::account_closed},
      {draft("2026-01-05", {{b.bank, "1.00", "EUR"}, {b.sales, "-1.00"}}), ResultCode::currency_mismatch},
      {draft("2026-01-05", {{b.bank, "1.005"}, {b.sales, "-1.005"}}), ResultCode::amount_too_precise},
      {draft("2025-12-31", {{b.bank, "1.00"}, {b.sales, "-1.00"}}), ResultCode::period_closed},
      {draft("2026-02-01", {{b.bank, "1.00"}, {b.sales, "-1.00"}}), ResultCode::period_locked},
      {draft("2026-01-05", {{b.customer_credit, "1.00"}, {b.sales, "-1.00"}}), ResultCode::balance_limit_exceeded},
      {draft("2026-01-05", {{b.bank, "2.00"}, {b.equity, "-2.00"}}, "", "taken"), ResultCode::idempotency_conflict},
      {draft("2026-01-05", {{yen, yen_step}, {yen_equity, "-" + yen_step}}), ResultCode::overflow},
  };
  std::vector<EntryDraft> drafts;
  for (const Case& c : cases) drafts.push_back(c.draft);
  BatchResult result = b.ledger.post_batch(drafts, BatchMode::independent);
  ASSERT_EQ(result.codes.size(), cases.size());
  ASSERT_EQ(result.failures.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(result.codes[i], cases[i].code) << i << ": " << amends::to_string(result.codes[i]);
    EXPECT_EQ(result.failures[i].index, i);
    EXPECT_EQ(result.failures[i].code, cases[i].code);
    EXPECT_FALSE(result.failures[i].message.empty());
    EXPECT_FALSE(result.ids[i]);
  }
  EXPECT_EQ(result.created, 0U);
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerBatch, repeated_key_within_a_batch_is_posted_once_and_reported_as_existing) {
  Book b;
  const EntryDraft d = draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "once", "k-1");
  const std::vector<EntryDraft> drafts = {d, draft("2026-01-05", {{b.bank, "1.00"}, {b.sales, "-1.00"}}), d};
  BatchResult result = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.codes, (std::vector<ResultCode>{ResultCode::ok, ResultCode::ok, ResultCode::exists}));
  EXPECT_EQ(result.ids, (std::vector<EntryId>{EntryId{1}, EntryId{2}, EntryId{1}}));
  EXPECT_EQ(result.created, 2U);
  EXPECT_EQ(result.existing, 1U);
  EXPECT_EQ(b.ledger.entry_count(), 2U);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("101"));

  // Replaying the whole batch posts only the entry without a key again.
  BatchResult replay = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_EQ(replay.codes, (std::vector<ResultCode>{ResultCode::exists, ResultCode::ok, ResultCode::exists}));
  EXPECT_EQ(replay.existing, 2U);
  EXPECT_EQ(replay.created, 1U);  // the keyless entry has no idempotency
  EXPECT_EQ(b.ledger.entry_count(), 3U);
  EXPECT_EQ(b.ledger.balance(b.bank).posted, D("102"));
}

TEST(LedgerBatch, conflicting_key_within_an_atomic_batch_fails_the_batch) {
  Book b;
  const std::vector<EntryDraft> drafts = {
      draft("2026-01-05", {{b.bank, "100.00"}, {b.sales, "-100.00"}}, "", "k-1"),
      draft("2026-01-05", {{b.bank, "200.00"}, {b.sales, "-200.00"}}, "", "k-1"),
  };
  const std::string before = fingerprint(b.ledger);
  BatchResult result = b.ledger.post_batch(drafts, BatchMode::atomic);
  EXPECT_EQ(result.codes, (std::vector<ResultCode>{ResultCode::linked_entry_failed, ResultCode::idempotency_conflict}));
  EXPECT_CONTAINS(result.failures.at(0).message, "k-1");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_by_key("k-1").has_value());
}

TEST(LedgerBatch, empty_batch_is_ok_and_posts_nothing) {
  Book b;
  const std::vector<EntryDraft> none;
  for (BatchMode mode : {BatchMode::atomic, BatchMode::independent}) {
    BatchResult result = b.ledger.post_batch(none, mode);
    EXPECT_TRUE(result.ok());
    EXPECT_TRUE(result.codes.empty());
    EXPECT_TRUE(result.ids.empty());
    EXPECT_EQ(result.created, 0U);
  }
  EXPECT_EQ(b.ledger.entry_count(), 0U);
}

TEST(LedgerBatch, rollback_to_a_savepoint_undoes_accounts_entries_reservations_and_keys) {
  Book b;
  b.ledger.post(draft("2026-01-02", {{b.bank, "1.00"}, {b.equity, "-1.00"}}, "kept", "k-0"));
  const std::string before = fingerprint(b.ledger);
  const Ledger::Savepoint savepoint = b.ledger.savepoint();

  AccountId limited = b.open("Liabilities:CustomerCredits:New", AccountType::liability,
                             AccountOptions{{}, BalanceLimit{Decimal(0), std::nullopt}});
  EntryDraft posted = draft("2026-01-05", {{b.service_credits, "9.00"}, {limited, "-9.00"}}, "grant", "k-1");
  posted.metadata = {{"customer", "New"}};
  b.ledger.post(posted);
  b.ledger.reserve(draft("2026-01-06", {{limited, "4.00"}, {b.receivables, "-4.00"}}, "hold", "k-2"), day("2026-02-01"));
  ASSERT_NE(fingerprint(b.ledger), before);

  b.ledger.rollback_to(savepoint);
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_FALSE(b.ledger.find_account("Liabilities:CustomerCredits:New").has_value());
  EXPECT_FALSE(b.ledger.find_by_key("k-1").has_value());
  EXPECT_FALSE(b.ledger.find_by_key("k-2").has_value());
  EXPECT_EQ(b.ledger.find_by_key("k-0"), EntryId{1});
  // The rolled-back reservation is no longer open, so nothing expires.
  EXPECT_TRUE(b.ledger.expire_pending(day("2026-12-31")).empty());

  // Names and keys are free again.
  AccountId again = b.open("Liabilities:CustomerCredits:New", AccountType::liability);
  EXPECT_EQ(again.value, limited.value);
  PostResult reposted = b.ledger.post(draft("2026-01-07", {{b.service_credits, "3.00"}, {again, "-3.00"}}, "", "k-1"));
  EXPECT_TRUE(reposted.created);
  EXPECT_EQ(reposted.id, EntryId{2});
  EXPECT_EQ(b.ledger.balance(again).posted, D("-3"));
  EXPECT_TRUE(b.ledger.balance(b.receivables).pending_credits.is_zero());
}

TEST(LedgerBatch, result_codes_have_stable_names) {
  EXPECT_EQ(amends::to_string(ResultCode::ok), "ok");
  EXPECT_EQ(amends::to_string(ResultCode::exists), "exists");
  EXPECT_EQ(amends::to_string(ResultCode::linked_entry_failed), "linked_entry_failed");
  EXPECT_EQ(amends::to_string(ResultCode::balance_limit_exceeded), "balance_limit_exceeded");
  EXPECT_EQ(amends::to_string(ResultCode::idempotency_conflict), "idempotency_conflict");
  EXPECT_EQ(amends::to_string(EntryStatus::pending_expired), "pending_expired");
}

}  // namespace
