// Shared helpers of the ledger tests (test_ledger_*.cpp): short constructors
// for amounts, dates and drafts, a standard small book, an exact-type refusal
// check, and a fingerprint of everything observable in a ledger, so a test can
// assert that a refused operation changed nothing at all.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "amends/calendar.hpp"
#include "amends/errors.hpp"
#include "amends/ledger.hpp"
#include "amends/money.hpp"

namespace amends_test {

using amends::AccountId;
using amends::AccountOptions;
using amends::AccountType;
using amends::Balance;
using amends::BalanceLimit;
using amends::BatchMode;
using amends::BatchResult;
using amends::Currency;
using amends::CurrencyAmount;
using amends::Date;
using amends::Decimal;
using amends::EntryDraft;
using amends::EntryId;
using amends::EntryStatus;
using amends::EntryView;
using amends::Ledger;
using amends::LedgerConfig;
using amends::Metadata;
using amends::Period;
using amends::PeriodState;
using amends::PostingDraft;
using amends::PostResult;
using amends::ResultCode;

inline Decimal D(std::string_view text) { return Decimal::parse(text); }
inline Date day(std::string_view text) { return Date::parse(text); }
inline Currency C(std::string_view code) { return Currency::of(code); }

struct Leg {
  AccountId account;
  std::string_view amount;
  std::optional<std::string_view> currency = std::nullopt;
};

inline EntryDraft draft(std::string_view date, std::initializer_list<Leg> legs, std::string_view description = "",
                        std::string_view key = "") {
  EntryDraft d;
  d.date = day(date);
  for (const Leg& leg : legs) {
    std::optional<Currency> currency;
    if (leg.currency) currency = C(*leg.currency);
    d.postings.push_back(PostingDraft{leg.account, D(leg.amount), currency});
  }
  d.description = std::string(description);
  d.idempotency_key = std::string(key);
  return d;
}

// A small book in USD, with one customer-credit liability that may never go
// below zero (its normal, credit side).
struct Book {
  Ledger ledger;
  AccountId bank = open("Assets:Bank", AccountType::asset);
  AccountId receivables = open("Assets:Receivables", AccountType::asset);
  AccountId sales = open("Revenue:Sales", AccountType::revenue);
  AccountId service_credits = open("Revenue:ContraRevenue:ServiceCredits", AccountType::contra_revenue);
  AccountId customer_credit = open("Liabilities:CustomerCredits:C1042", AccountType::liability,
                                   AccountOptions{{}, BalanceLimit{Decimal(0), std::nullopt}});
  AccountId equity = open("Equity:Opening", AccountType::equity);

  AccountId open(std::string_view name, AccountType type, AccountOptions options = {}, std::string_view currency = "USD") {
    return ledger.create_account(name, type, C(currency), std::move(options));
  }

  // Grants `amount` of service credit to customer C1042 (debit contra-revenue,
  // credit the liability).
  PostResult grant_credit(std::string_view date, std::string_view amount, std::string_view key = "") {
    std::string credit = "-" + std::string(amount);
    return ledger.post(draft(date, {{service_credits, amount}, {customer_credit, credit}}, "service credit", key));
  }
};

// Everything observable about a ledger, as text, so that EXPECT_EQ shows
// exactly what a refusal changed.
inline std::string fingerprint(const Ledger& ledger) {
  std::ostringstream out;
  out << "accounts " << ledger.account_count() << ", entries " << ledger.entry_count() << ", postings "
      << ledger.posting_count() << "\n";
  for (std::size_t a = 0; a < ledger.account_count(); ++a) {
    const AccountId id{static_cast<std::uint32_t>(a)};
    const amends::Account& acct = ledger.account(id);
    const Balance bal = ledger.balance(id);
    out << acct.name << (acct.closed ? " (closed)" : "") << ": posted " << bal.posted.to_string() << ", pending +"
        << bal.pending_debits.to_string() << " -" << bal.pending_credits.to_string() << "\n";
  }
  const amends::TrialBalance tb = ledger.trial_balance();
  for (const auto& row : tb.rows)
    out << "tb " << row.account.value << " " << row.debit.to_string() << " " << row.credit.to_string() << "\n";
  for (const auto& total : tb.total_debits) out << "tb debits " << total.currency.code() << " " << total.amount.to_string() << "\n";
  for (const auto& total : tb.total_credits) out << "tb credits " << total.currency.code() << " " << total.amount.to_string() << "\n";
  for (std::size_t e = 1; e <= ledger.entry_count(); ++e) {
    const EntryView view = ledger.entry(EntryId{e});
    out << "entry " << e << " " << amends::to_string(view.status) << " reverses " << view.reverses.value << " reversed_by "
        << view.reversed_by.value << " completes " << view.completes.value << " completed_by " << view.completed_by.value
        << "\n";
  }
  out << ledger.to_journal();
  return out.str();
}

// Runs `f`, which must throw exactly E (not a subclass, not a base); returns
// the message so a test can check that it says what to fix.
template <typename E, typename F>
std::string refusal(F&& f) {
  try {
    f();
  } catch (const E& e) {
    if (typeid(e) != typeid(E))
      ADD_FAILURE() << "expected exactly " << typeid(E).name() << " but got the subclass " << typeid(e).name() << ": "
                    << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << " but got " << typeid(e).name() << ": " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << " but nothing was thrown";
  return {};
}

// Runs `f`, which must throw E or a subclass of it; returns the message.
template <typename E, typename F>
std::string refusal_of_kind(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << " but got " << typeid(e).name() << ": " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << " but nothing was thrown";
  return {};
}

inline ::testing::AssertionResult Contains(const char* text_expr, const char* needle_expr, std::string_view text,
                                           std::string_view needle) {
  if (text.find(needle) != std::string_view::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text_expr << " (\"" << text << "\") does not contain " << needle_expr << " (\""
                                       << needle << "\")";
}

}  // namespace amends_test

#define EXPECT_CONTAINS(text, needle) EXPECT_PRED_FORMAT2(::amends_test::Contains, text, needle)
