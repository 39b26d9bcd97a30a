// Two-phase (pending) entries: reserve, post in full or in part, void,
// expire, and how reservations count in balances and limits.
#include <array>
#include <string>
#include <vector>

#include "test_ledger_support.hpp"

namespace {

using namespace amends_test;

// A customer with 100.00 of credit, and a reservation of `amount` of it
// against an invoice (debit the liability, credit receivables).
struct CreditBook : Book {
  CreditBook() { grant_credit("2026-03-01", "100.00"); }

  EntryDraft apply_credit(std::string_view date, std::string_view amount, std::string_view description = "apply credit") {
    std::string credit = "-" + std::string(amount);
    return draft(date, {{customer_credit, amount}, {receivables, credit}}, description);
  }
};

TEST(LedgerPending, reservation_shows_as_pending_not_posted) {
  CreditBook b;
  PostResult pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00"), day("2026-03-20"));
  EXPECT_TRUE(pending.created);
  EXPECT_EQ(b.ledger.entry_count(), 2U);

  const Balance credit = b.ledger.balance(b.customer_credit);
  EXPECT_EQ(credit.posted, D("-100"));
  EXPECT_EQ(credit.pending_debits, D("30"));
  EXPECT_TRUE(credit.pending_credits.is_zero());
  EXPECT_EQ(credit.with_pending(), D("-70"));
  const Balance receivables = b.ledger.balance(b.receivables);
  EXPECT_TRUE(receivables.posted.is_zero());
  EXPECT_TRUE(receivables.pending_debits.is_zero());
  EXPECT_EQ(receivables.pending_credits, D("30"));
  EXPECT_EQ(receivables.with_pending(), D("-30"));

  const EntryView view = b.ledger.entry(pending.id);
  EXPECT_EQ(view.status, EntryStatus::pending);
  EXPECT_EQ(view.expires_on, day("2026-03-20"));
  EXPECT_FALSE(view.resolved_on.has_value());
  EXPECT_FALSE(view.completed_by);

  // Posted-only views ignore it.
  EXPECT_EQ(b.ledger.posted_balances()[b.receivables.value], Decimal());
  EXPECT_EQ(b.ledger.statement(b.customer_credit).lines.size(), 1U);
  EXPECT_EQ(b.ledger.trial_balance().rows.size(), 2U);
  const std::vector<CurrencyAmount> rollup = b.ledger.rollup("Assets:Receivables");
  ASSERT_EQ(rollup.size(), 1U);
  EXPECT_TRUE(rollup[0].amount.is_zero());
}

TEST(LedgerPending, reservation_expiry_must_come_after_its_date) {
  CreditBook b;
  const std::string before = fingerprint(b.ledger);
  std::string message =
      refusal<amends::invalid_entry>([&] { b.ledger.reserve(b.apply_credit("2026-03-05", "30.00"), day("2026-03-05")); });
  EXPECT_CONTAINS(message, "expiry must come after");
  refusal<amends::invalid_entry>([&] { b.ledger.reserve(b.apply_credit("2026-03-05", "30.00"), day("2026-03-04")); });
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerPending, reservation_follows_the_posting_rules) {
  CreditBook b;
  const std::string before = fingerprint(b.ledger);
  refusal<amends::unbalanced_entry>(
      [&] { b.ledger.reserve(draft("2026-03-05", {{b.customer_credit, "30.00"}, {b.receivables, "-20.00"}})); });
  refusal<amends::amount_too_precise>(
      [&] { b.ledger.reserve(draft("2026-03-05", {{b.customer_credit, "0.005"}, {b.receivables, "-0.005"}})); });
  b.ledger.set_period_state(Period(2026, 3), PeriodState::locked);
  refusal<amends::period_locked>([&] { b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")); });
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerPending, limits_count_open_reservations) {
  CreditBook b;
  b.ledger.reserve(b.apply_credit("2026-03-05", "80.00"));
  const std::string before = fingerprint(b.ledger);
  // 80.00 of the 100.00 is spoken for: another 30.00 is too much, reserved or posted.
  std::string message =
      refusal<amends::balance_limit_exceeded>([&] { b.ledger.reserve(b.apply_credit("2026-03-06", "30.00")); });
  EXPECT_CONTAINS(message, "Liabilities:CustomerCredits:C1042");
  EXPECT_CONTAINS(message, "-10.00 USD");
  EXPECT_CONTAINS(message, "counting open reservations");
  refusal<amends::balance_limit_exceeded>([&] { b.ledger.post(b.apply_credit("2026-03-06", "30.00")); });
  EXPECT_EQ(fingerprint(b.ledger), before);

  // Exactly what is left is fine.
  EXPECT_TRUE(b.ledger.reserve(b.apply_credit("2026-03-06", "20.00")).created);
  EXPECT_EQ(b.ledger.balance(b.customer_credit).pending_debits, D("100"));
  refusal<amends::balance_limit_exceeded>([&] { b.ledger.post(b.apply_credit("2026-03-07", "0.01")); });
}

TEST(LedgerPending, reserving_more_than_the_customer_credit_is_refused) {
  CreditBook b;
  const std::string before = fingerprint(b.ledger);
  refusal<amends::balance_limit_exceeded>([&] { b.ledger.reserve(b.apply_credit("2026-03-05", "100.01")); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_TRUE(b.ledger.reserve(b.apply_credit("2026-03-05", "100.00")).created);
}

TEST(LedgerPending, posting_a_reservation_in_full_moves_it_from_pending_to_posted) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00", "Invoice 9"), day("2026-03-20")).id;
  EntryId completion = b.ledger.post_pending(pending, day("2026-03-12"));
  EXPECT_EQ(completion, EntryId{3});

  const Balance credit = b.ledger.balance(b.customer_credit);
  EXPECT_EQ(credit.posted, D("-70"));
  EXPECT_TRUE(credit.pending_debits.is_zero());
  EXPECT_TRUE(credit.pending_credits.is_zero());
  const Balance receivables = b.ledger.balance(b.receivables);
  EXPECT_EQ(receivables.posted, D("-30"));
  EXPECT_TRUE(receivables.pending_credits.is_zero());

  const EntryView reservation = b.ledger.entry(pending);
  EXPECT_EQ(reservation.status, EntryStatus::pending_posted);
  EXPECT_EQ(reservation.completed_by, completion);
  EXPECT_EQ(reservation.resolved_on, day("2026-03-12"));
  const EntryView done = b.ledger.entry(completion);
  EXPECT_EQ(done.status, EntryStatus::posted);
  EXPECT_EQ(done.completes, pending);
  EXPECT_EQ(done.date, day("2026-03-12"));
  EXPECT_EQ(done.description, "Invoice 9");
  EXPECT_EQ(done.metadata, (Metadata{{"completes", "2"}}));
  ASSERT_EQ(done.postings.size(), 2U);
  EXPECT_EQ(done.postings[0].amount, D("30"));
  EXPECT_EQ(done.postings[1].amount, D("-30"));

  // It can't be posted twice, or voided afterwards.
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::pending_state_error>([&] { b.ledger.post_pending(pending, day("2026-03-13")); });
  EXPECT_CONTAINS(message, "no longer pending");
  EXPECT_CONTAINS(message, "pending_posted");
  refusal<amends::pending_state_error>([&] { b.ledger.void_pending(pending, day("2026-03-13"), "late"); });
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerPending, posting_a_reservation_with_a_new_description) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00", "hold")).id;
  EntryId completion = b.ledger.post_pending(pending, day("2026-03-05"), {}, "Invoice 9 settled");
  EXPECT_EQ(b.ledger.entry(completion).description, "Invoice 9 settled");
}

TEST(LedgerPending, posting_a_reservation_in_part_releases_the_remainder) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")).id;
  const std::array<Decimal, 2> amounts = {D("20.00"), D("-20.00")};
  EntryId completion = b.ledger.post_pending(pending, day("2026-03-06"), amounts);

  const Balance credit = b.ledger.balance(b.customer_credit);
  EXPECT_EQ(credit.posted, D("-80"));
  EXPECT_TRUE(credit.pending_debits.is_zero());
  const Balance receivables = b.ledger.balance(b.receivables);
  EXPECT_EQ(receivables.posted, D("-20"));
  EXPECT_TRUE(receivables.pending_credits.is_zero());
  EXPECT_EQ(b.ledger.entry(pending).status, EntryStatus::pending_posted);
  const EntryView done = b.ledger.entry(completion);
  ASSERT_EQ(done.postings.size(), 2U);
  EXPECT_EQ(done.postings[0].amount, D("20"));
  EXPECT_EQ(done.postings[1].amount, D("-20"));
  // The released 10.00 is available again.
  EXPECT_TRUE(b.ledger.post(b.apply_credit("2026-03-07", "80.00")).created);
  EXPECT_TRUE(b.ledger.balance(b.customer_credit).posted.is_zero());
}

TEST(LedgerPending, partial_posting_may_leave_out_postings_with_a_zero_amount) {
  Book b;
  AccountId fees = b.open("Revenue:Fees", AccountType::revenue);
  EntryId pending = b.ledger.reserve(
      draft("2026-03-05", {{b.receivables, "30.00"}, {b.sales, "-25.00"}, {fees, "-5.00"}})).id;
  const std::array<Decimal, 3> amounts = {D("25.00"), D("-25.00"), Decimal()};
  EntryId completion = b.ledger.post_pending(pending, day("2026-03-06"), amounts);
  EXPECT_EQ(b.ledger.entry(completion).postings.size(), 2U);
  EXPECT_EQ(b.ledger.balance(b.receivables).posted, D("25"));
  EXPECT_TRUE(b.ledger.balance(fees).posted.is_zero());
  EXPECT_TRUE(b.ledger.balance(fees).pending_credits.is_zero());
}

TEST(LedgerPending, refused_partial_posting_keeps_the_reservation_intact) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")).id;
  const std::string before = fingerprint(b.ledger);

  const std::array<Decimal, 2> unbalanced = {D("20.00"), D("-10.00")};
  std::string message =
      refusal<amends::unbalanced_entry>([&] { b.ledger.post_pending(pending, day("2026-03-06"), unbalanced); });
  EXPECT_CONTAINS(message, "debits exceed credits by 10");

  const std::array<Decimal, 2> too_large = {D("40.00"), D("-40.00")};
  message = refusal<amends::invalid_entry>([&] { b.ledger.post_pending(pending, day("2026-03-06"), too_large); });
  EXPECT_CONTAINS(message, "no larger than");
  EXPECT_CONTAINS(message, "30");

  const std::array<Decimal, 2> flipped = {D("-20.00"), D("20.00")};
  message = refusal<amends::invalid_entry>([&] { b.ledger.post_pending(pending, day("2026-03-06"), flipped); });
  EXPECT_CONTAINS(message, "sign");

  const std::array<Decimal, 1> too_few = {D("20.00")};
  message = refusal<amends::invalid_entry>([&] { b.ledger.post_pending(pending, day("2026-03-06"), too_few); });
  EXPECT_CONTAINS(message, "one amount per reserved posting");

  const std::array<Decimal, 2> all_zero = {Decimal(), Decimal()};
  refusal<amends::invalid_entry>([&] { b.ledger.post_pending(pending, day("2026-03-06"), all_zero); });

  const std::array<Decimal, 2> too_precise = {D("20.001"), D("-20.001")};
  refusal<amends::amount_too_precise>([&] { b.ledger.post_pending(pending, day("2026-03-06"), too_precise); });

  message = refusal<amends::invalid_entry>([&] { b.ledger.post_pending(pending, day("2026-03-04")); });
  EXPECT_CONTAINS(message, "before it was reserved");

  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.entry(pending).status, EntryStatus::pending);
  // And it still posts afterwards.
  const std::array<Decimal, 2> ok = {D("20.00"), D("-20.00")};
  EXPECT_NO_THROW(b.ledger.post_pending(pending, day("2026-03-06"), ok));
  EXPECT_EQ(b.ledger.balance(b.customer_credit).posted, D("-80"));
}

TEST(LedgerPending, completion_refused_by_a_limit_restores_the_reservation) {
  Book b;
  // The credit is granted, reserved, then spent elsewhere behind the limit's back (no limit yet),
  // so posting the reservation would now overdraw it.
  AccountId credit = b.open("Liabilities:CustomerCredits:C9", AccountType::liability);
  b.ledger.post(draft("2026-03-01", {{b.service_credits, "50.00"}, {credit, "-50.00"}}));
  EntryId pending = b.ledger.reserve(draft("2026-03-02", {{credit, "40.00"}, {b.receivables, "-40.00"}})).id;
  b.ledger.post(draft("2026-03-03", {{credit, "30.00"}, {b.receivables, "-30.00"}}));
  b.ledger.set_balance_limit(credit, BalanceLimit{Decimal(0), std::nullopt});
  const std::string before = fingerprint(b.ledger);
  refusal<amends::balance_limit_exceeded>([&] { b.ledger.post_pending(pending, day("2026-03-04")); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.balance(credit).pending_debits, D("40"));
  EXPECT_EQ(b.ledger.entry(pending).status, EntryStatus::pending);
  // Posting only what is left is fine.
  const std::array<Decimal, 2> rest = {D("20.00"), D("-20.00")};
  EXPECT_NO_THROW(b.ledger.post_pending(pending, day("2026-03-04"), rest));
  EXPECT_TRUE(b.ledger.balance(credit).posted.is_zero());
  EXPECT_TRUE(b.ledger.balance(credit).pending_debits.is_zero());
}

TEST(LedgerPending, posting_a_reservation_into_a_locked_period_needs_the_override) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")).id;
  b.ledger.set_period_state(Period(2026, 4), PeriodState::locked);
  const std::string before = fingerprint(b.ledger);
  refusal<amends::period_locked>([&] { b.ledger.post_pending(pending, day("2026-04-02")); });
  EXPECT_EQ(fingerprint(b.ledger), before);
  EntryId completion = b.ledger.post_pending(pending, day("2026-04-02"), {}, {}, true);
  EXPECT_EQ(b.ledger.entry(completion).date, day("2026-04-02"));
}

TEST(LedgerPending, ordinary_entry_is_not_a_reservation) {
  CreditBook b;
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::pending_state_error>([&] { b.ledger.post_pending(EntryId{1}, day("2026-03-05")); });
  EXPECT_CONTAINS(message, "not a reservation");
  refusal<amends::pending_state_error>([&] { b.ledger.void_pending(EntryId{1}, day("2026-03-05"), "x"); });
  refusal<amends::entry_not_found>([&] { b.ledger.post_pending(EntryId{9}, day("2026-03-05")); });
  refusal<amends::entry_not_found>([&] { b.ledger.void_pending(EntryId{0}, day("2026-03-05"), "x"); });
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerPending, voiding_releases_the_reservation) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")).id;
  const std::size_t postings = b.ledger.posting_count();
  b.ledger.void_pending(pending, day("2026-03-08"), "invoice cancelled");
  EXPECT_EQ(b.ledger.entry_count(), 2U);
  EXPECT_EQ(b.ledger.posting_count(), postings);
  const Balance credit = b.ledger.balance(b.customer_credit);
  EXPECT_EQ(credit.posted, D("-100"));
  EXPECT_TRUE(credit.pending_debits.is_zero());
  EXPECT_TRUE(b.ledger.balance(b.receivables).pending_credits.is_zero());
  const EntryView view = b.ledger.entry(pending);
  EXPECT_EQ(view.status, EntryStatus::pending_voided);
  EXPECT_EQ(view.resolved_on, day("2026-03-08"));
  EXPECT_EQ(view.reason, "invoice cancelled");
  // The whole credit is available again.
  EXPECT_TRUE(b.ledger.post(b.apply_credit("2026-03-09", "100.00")).created);
}

TEST(LedgerPending, voided_reservation_cannot_be_posted_or_voided_again) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")).id;
  b.ledger.void_pending(pending, day("2026-03-08"), "invoice cancelled");
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::pending_state_error>([&] { b.ledger.post_pending(pending, day("2026-03-09")); });
  EXPECT_CONTAINS(message, "pending_voided");
  refusal<amends::pending_state_error>([&] { b.ledger.void_pending(pending, day("2026-03-09"), "again"); });
  EXPECT_EQ(fingerprint(b.ledger), before);
}

TEST(LedgerPending, void_needs_a_reason_and_a_date_not_before_the_reservation) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")).id;
  const std::string before = fingerprint(b.ledger);
  std::string message = refusal<amends::invalid_argument>([&] { b.ledger.void_pending(pending, day("2026-03-06"), ""); });
  EXPECT_CONTAINS(message, "reason");
  message = refusal<amends::invalid_entry>([&] { b.ledger.void_pending(pending, day("2026-03-04"), "x"); });
  EXPECT_CONTAINS(message, "before it was reserved");
  EXPECT_EQ(fingerprint(b.ledger), before);
  EXPECT_EQ(b.ledger.entry(pending).status, EntryStatus::pending);
}

TEST(LedgerPending, expire_pending_releases_only_the_reservations_that_are_due) {
  CreditBook b;
  EntryId early = b.ledger.reserve(b.apply_credit("2026-03-05", "10.00"), day("2026-03-10")).id;
  EntryId late = b.ledger.reserve(b.apply_credit("2026-03-05", "20.00"), day("2026-03-20")).id;
  EntryId open_ended = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")).id;
  EXPECT_EQ(b.ledger.balance(b.customer_credit).pending_debits, D("60"));

  EXPECT_TRUE(b.ledger.expire_pending(day("2026-03-09")).empty());
  EXPECT_EQ(b.ledger.expire_pending(day("2026-03-15")), (std::vector<EntryId>{early}));
  EXPECT_EQ(b.ledger.balance(b.customer_credit).pending_debits, D("50"));
  const EntryView expired = b.ledger.entry(early);
  EXPECT_EQ(expired.status, EntryStatus::pending_expired);
  EXPECT_EQ(expired.resolved_on, day("2026-03-10"));
  EXPECT_CONTAINS(expired.reason, "expired on 2026-03-10");
  EXPECT_EQ(b.ledger.entry(late).status, EntryStatus::pending);
  EXPECT_EQ(b.ledger.entry(open_ended).status, EntryStatus::pending);

  // Calling again changes nothing; the expiry date itself is due ("on or before").
  EXPECT_TRUE(b.ledger.expire_pending(day("2026-03-15")).empty());
  EXPECT_EQ(b.ledger.expire_pending(day("2026-03-20")), (std::vector<EntryId>{late}));
  EXPECT_EQ(b.ledger.balance(b.customer_credit).pending_debits, D("30"));
  EXPECT_TRUE(b.ledger.expire_pending(day("2099-12-31")).empty());
  EXPECT_EQ(b.ledger.entry(open_ended).status, EntryStatus::pending);
  EXPECT_EQ(b.ledger.balance(b.customer_credit).posted, D("-100"));
}

TEST(LedgerPending, expire_pending_returns_every_due_reservation_in_entry_order) {
  CreditBook b;
  EntryId first = b.ledger.reserve(b.apply_credit("2026-03-05", "10.00"), day("2026-03-12")).id;
  EntryId second = b.ledger.reserve(b.apply_credit("2026-03-05", "10.00"), day("2026-03-08")).id;
  EntryId third = b.ledger.reserve(b.apply_credit("2026-03-05", "10.00"), day("2026-03-10")).id;
  // Void the first so the open list is reordered, then expire the others.
  b.ledger.void_pending(first, day("2026-03-06"), "cancelled");
  EXPECT_EQ(b.ledger.expire_pending(day("2026-03-31")), (std::vector<EntryId>{second, third}));
  EXPECT_EQ(b.ledger.entry(first).status, EntryStatus::pending_voided);
  EXPECT_TRUE(b.ledger.balance(b.customer_credit).pending_debits.is_zero());
}

TEST(LedgerPending, expired_reservation_cannot_be_posted) {
  CreditBook b;
  EntryId pending = b.ledger.reserve(b.apply_credit("2026-03-05", "10.00"), day("2026-03-10")).id;
  const std::string before = fingerprint(b.ledger);
  // Past its expiry it can't be posted even before expire_pending ran...
  std::string message = refusal<amends::pending_state_error>([&] { b.ledger.post_pending(pending, day("2026-03-10")); });
  EXPECT_CONTAINS(message, "expired on 2026-03-10");
  EXPECT_EQ(fingerprint(b.ledger), before);
  // ...nor after.
  b.ledger.expire_pending(day("2026-03-10"));
  message = refusal<amends::pending_state_error>([&] { b.ledger.post_pending(pending, day("2026-03-09")); });
  EXPECT_CONTAINS(message, "pending_expired");
  refusal<amends::pending_state_error>([&] { b.ledger.void_pending(pending, day("2026-03-09"), "x"); });
  // The day before its expiry it could have been posted.
  EntryId other = b.ledger.reserve(b.apply_credit("2026-03-05", "10.00"), day("2026-03-10")).id;
  EXPECT_NO_THROW(b.ledger.post_pending(other, day("2026-03-09")));
}

TEST(LedgerPending, balance_as_of_shows_a_reservation_only_until_it_is_resolved) {
  CreditBook b;
  EntryId posted = b.ledger.reserve(b.apply_credit("2026-03-05", "30.00")).id;
  EntryId voided = b.ledger.reserve(b.apply_credit("2026-03-06", "20.00")).id;
  EntryId expired = b.ledger.reserve(b.apply_credit("2026-03-07", "10.00"), day("2026-03-15")).id;
  b.ledger.post_pending(posted, day("2026-03-12"));
  b.ledger.void_pending(voided, day("2026-03-10"), "cancelled");
  b.ledger.expire_pending(day("2026-03-31"));

  struct Expected {
    const char* as_of;
    const char* posted;
    const char* pending_debits;
  };
  const Expected expected[] = {
      {"2026-02-28", "0", "0"},
      {"2026-03-01", "-100", "0"},
      {"2026-03-04", "-100", "0"},
      {"2026-03-05", "-100", "30"},
      {"2026-03-06", "-100", "50"},
      {"2026-03-07", "-100", "60"},
      {"2026-03-09", "-100", "60"},
      {"2026-03-10", "-100", "40"},   // the void
      {"2026-03-11", "-100", "40"},
      {"2026-03-12", "-70", "10"},    // the completion
      {"2026-03-14", "-70", "10"},
      {"2026-03-15", "-70", "0"},     // the expiry
      {"2026-12-31", "-70", "0"},
  };
  for (const Expected& e : expected) {
    const Balance bal = b.ledger.balance(b.customer_credit, day(e.as_of));
    EXPECT_EQ(bal.posted, D(e.posted)) << e.as_of;
    EXPECT_EQ(bal.pending_debits, D(e.pending_debits)) << e.as_of;
    EXPECT_TRUE(bal.pending_credits.is_zero()) << e.as_of;
    const Balance other = b.ledger.balance(b.receivables, day(e.as_of));
    EXPECT_EQ(other.pending_credits, D(e.pending_debits)) << e.as_of;
  }
  EXPECT_EQ(b.ledger.entry(expired).status, EntryStatus::pending_expired);
  const Balance now = b.ledger.balance(b.customer_credit);
  EXPECT_EQ(now.posted, D("-70"));
  EXPECT_TRUE(now.pending_debits.is_zero());
}

}  // namespace
