// The reconciliation engine (amends/reconcile.hpp): synthetic ledger and
// billing columns with every kind of discrepancy put at a known place, and
// the exact outcome, pass, counterpart and difference of every item on both
// sides asserted. Every expectation below is worked out by hand from the
// passes the header describes, never copied from what the engine printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "amends/errors.hpp"
#include "amends/reconcile.hpp"

namespace amends::reconcile {
[[maybe_unused]] static void PrintTo(Outcome o, std::ostream* os) { *os << to_string(o); }
[[maybe_unused]] static void PrintTo(Pass p, std::ostream* os) { *os << to_string(p); }
}  // namespace amends::reconcile

namespace {

using amends::reconcile::Items;
using amends::reconcile::match;
using amends::reconcile::Options;
using amends::reconcile::Outcome;
using amends::reconcile::Pass;
using amends::reconcile::Result;
using amends::reconcile::Side;
using amends::reconcile::Status;

constexpr std::int32_t USD = 0, EUR = 1, JPY = 2;
constexpr std::int32_t d = 20'731;  // 2026-10-05, days since 1970-01-01
constexpr std::int64_t kNone = -1;
constexpr std::int64_t kNoRef = -1;

// One ledger item (an applied request) and one billing item.
struct L {
  std::int64_t id, customer;
  std::int32_t currency;
  std::int64_t amount;
  std::int32_t day;
};
struct B {
  std::int64_t id, reference, customer;
  std::int32_t currency;
  std::int64_t amount;
  std::int32_t day;
  Status status = Status::ok;
};

// Columns that own their storage; items() views them.
struct LedgerColumns {
  std::vector<std::int64_t> id, customer, amount;
  std::vector<std::int32_t> currency, day;
  explicit LedgerColumns(const std::vector<L>& rows) {
    for (const L& r : rows) {
      id.push_back(r.id);
      customer.push_back(r.customer);
      currency.push_back(r.currency);
      amount.push_back(r.amount);
      day.push_back(r.day);
    }
  }
  Items items() const {
    Items it;
    it.id = id;
    it.customer = customer;
    it.currency = currency;
    it.amount = amount;
    it.day = day;
    return it;
  }
};
struct BillingColumns {
  std::vector<std::int64_t> id, reference, customer, amount;
  std::vector<std::int32_t> currency, day;
  std::vector<std::uint8_t> status;
  explicit BillingColumns(const std::vector<B>& rows) {
    for (const B& r : rows) {
      id.push_back(r.id);
      reference.push_back(r.reference);
      customer.push_back(r.customer);
      currency.push_back(r.currency);
      amount.push_back(r.amount);
      day.push_back(r.day);
      status.push_back(static_cast<std::uint8_t>(r.status));
    }
  }
  Items items() const {
    Items it;
    it.id = id;
    it.reference = reference;
    it.customer = customer;
    it.currency = currency;
    it.amount = amount;
    it.day = day;
    it.status = status;
    return it;
  }
};

// What one item should come out as.
struct Want {
  Outcome outcome;
  Pass pass;
  std::int64_t counterpart;
  std::int64_t difference;
  bool operator==(const Want&) const = default;
};
[[maybe_unused]] void PrintTo(const Want& w, std::ostream* os) {
  *os << "{" << amends::reconcile::to_string(w.outcome) << ", " << amends::reconcile::to_string(w.pass)
      << ", counterpart " << w.counterpart << ", difference " << w.difference << "}";
}

Want got(const Side& side, std::size_t k) { return {side.outcome[k], side.pass[k], side.counterpart[k], side.difference[k]}; }

void expect_side(const Side& side, const std::vector<Want>& want, const char* which) {
  ASSERT_EQ(side.outcome.size(), want.size()) << which;
  ASSERT_EQ(side.pass.size(), want.size()) << which;
  ASSERT_EQ(side.counterpart.size(), want.size()) << which;
  ASSERT_EQ(side.difference.size(), want.size()) << which;
  for (std::size_t k = 0; k < want.size(); ++k) EXPECT_EQ(got(side, k), want[k]) << which << " item " << k;
}

Result run(const std::vector<L>& ledger, const std::vector<B>& billing, const Options& options = {}) {
  const LedgerColumns lc(ledger);
  const BillingColumns bc(billing);
  return match(lc.items(), bc.items(), options);
}

// Shorthands for the table (in their own namespace: the property test below
// names the kinds of discrepancy the same way).
namespace table {
constexpr Outcome matched = Outcome::matched, mismatch = Outcome::amount_mismatch,
                  missing_in_billing = Outcome::missing_in_billing, missing_in_ledger = Outcome::missing_in_ledger,
                  duplicate = Outcome::duplicate, identical = Outcome::identical_duplicate,
                  conflicting = Outcome::conflicting_duplicate, status_problem = Outcome::status_problem,
                  not_applicable = Outcome::not_applicable;
constexpr Pass none = Pass::none, duplicate_id = Pass::duplicate_id, reference = Pass::reference,
               amount_and_date = Pass::amount_and_date, tolerance = Pass::tolerance, split = Pass::split,
               same_content = Pass::same_content, only_candidate = Pass::only_candidate;
constexpr Status ok = Status::ok, void_ = Status::void_, failed = Status::failed, pending = Status::pending;

Options with_tolerance(std::int64_t t) { return Options{t, 3, true}; }
Options with_days(std::int32_t days) { return Options{0, days, true}; }
Options without_splits() { return Options{0, 3, false}; }

struct Scenario {
  const char* name;
  std::vector<L> ledger;
  std::vector<B> billing;
  Options options;
  std::vector<Want> ledger_want, billing_want;
};

// Customer 7 and 8; request ids 1, 2, ...; billing ids 100, 101, ...
const std::vector<Scenario> kScenarios = {
    // --- by reference ---
    {"ExactReference",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d + 1}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}}},
    {"ReferenceIgnoresTheDateWindow",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d + 40}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}}},
    {"ReferenceFindsItsRequestAmongOthers",
     {{1, 7, USD, 5000, d}, {2, 7, USD, 5000, d}, {3, 8, EUR, 7000, d}},
     {{100, 3, 8, EUR, 7000, d}, {101, 2, 7, USD, 5000, d}, {102, 1, 7, USD, 5000, d}},
     {},
     {{matched, reference, 2, 0}, {matched, reference, 1, 0}, {matched, reference, 0, 0}},
     {{matched, reference, 2, 0}, {matched, reference, 1, 0}, {matched, reference, 0, 0}}},
    {"ReferenceSplitOverTwoItems",  // one ledger 100.00 = billing 60.00 + 40.00
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 6000, d}, {101, 1, 7, USD, 4000, d + 2}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {matched, reference, 0, 0}}},
    {"ReferenceSplitOverThreeItems",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 5000, d}, {101, 1, 7, USD, 3000, d}, {102, 1, 7, USD, 2000, d}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {matched, reference, 0, 0}, {matched, reference, 0, 0}}},
    {"ReferenceSecondFullAmountIsADuplicate",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d}, {101, 1, 7, USD, 10000, d + 1}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {duplicate, reference, 0, 0}}},
    {"ReferenceDuplicateKeepsTheFirstInBillingOrder",  // not the lower id
     {{1, 7, USD, 10000, d}},
     {{105, 1, 7, USD, 10000, d}, {100, 1, 7, USD, 10000, d}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {duplicate, reference, 0, 0}}},
    {"ReferenceAmountMismatchUnderpaid",  // difference is billing - ledger
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 9500, d}},
     {},
     {{mismatch, reference, 0, -500}},
     {{mismatch, reference, 0, -500}}},
    {"ReferenceAmountMismatchOverpaid",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 12000, d}},
     {},
     {{mismatch, reference, 0, 2000}},
     {{mismatch, reference, 0, 2000}}},
    {"ReferenceSplitThatDoesNotAddUp",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 6000, d}, {101, 1, 7, USD, 3000, d}},
     {},
     {{mismatch, reference, 0, -1000}},
     {{mismatch, reference, 0, -1000}, {mismatch, reference, 0, -1000}}},
    {"ReferenceWholeAmountAndAnExtraItem",  // the extra one differs by all of its amount
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d}, {101, 1, 7, USD, 2500, d}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {mismatch, reference, 0, 2500}}},
    {"ReferenceWithinTolerance",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 9998, d}},
     with_tolerance(5),
     {{matched, reference, 0, -2}},
     {{matched, reference, 0, -2}}},
    {"ReferenceSplitWithinTolerance",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 6001, d}, {101, 1, 7, USD, 4002, d}},
     with_tolerance(5),
     {{matched, reference, 0, 3}},
     {{matched, reference, 0, 3}, {matched, reference, 0, 3}}},
    {"ReferenceBeyondTolerance",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 9994, d}},
     with_tolerance(5),
     {{mismatch, reference, 0, -6}},
     {{mismatch, reference, 0, -6}}},

    // --- status problems ---
    {"VoidByReference",  // nothing was given: the ledger side differs by all of its amount
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d, void_}},
     {},
     {{status_problem, reference, 0, -10000}},
     {{status_problem, reference, 0, 0}}},
    {"FailedByReference",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d, failed}},
     {},
     {{status_problem, reference, 0, -10000}},
     {{status_problem, reference, 0, 0}}},
    {"VoidAndFailedByReferenceTheFirstIsTheCounterpart",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d, failed}, {101, 1, 7, USD, 9000, d + 1, void_}},
     {},
     {{status_problem, reference, 0, -10000}},
     {{status_problem, reference, 0, 0}, {status_problem, reference, 0, -1000}}},
    {"FailedThenRetriedOkMatchesTheOkOne",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d, failed}, {101, 1, 7, USD, 10000, d + 1}},
     {},
     {{matched, reference, 1, 0}},
     {{status_problem, reference, 0, 0}, {matched, reference, 0, 0}}},
    {"OkThenFailedMatchesTheOkOne",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d}, {101, 1, 7, USD, 10000, d + 1, failed}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {status_problem, reference, 0, 0}}},
    {"PendingByReference",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 10000, d, pending}},
     {},
     {{status_problem, reference, 0, 0}},
     {{status_problem, reference, 0, 0}}},
    {"PendingPartOfASplitHoldsTheLedgerItem",
     {{1, 7, USD, 10000, d}},
     {{100, 1, 7, USD, 6000, d}, {101, 1, 7, USD, 4000, d, pending}},
     {},
     {{status_problem, reference, 0, 0}},
     {{matched, reference, 0, 0}, {status_problem, reference, 0, 0}}},
    {"PendingWithoutReferenceByAmountAndDate",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 10000, d + 1, pending}},
     {},
     {{status_problem, amount_and_date, 0, 0}},
     {{status_problem, amount_and_date, 0, 0}}},

    // --- customer, currency and amount within the date window ---
    {"AmountAndDateWithoutReference",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d + 2}},
     {},
     {{matched, amount_and_date, 0, 0}},
     {{matched, amount_and_date, 0, 0}}},
    {"AReferenceToAnUnknownRequestFallsThroughToAmountAndDate",
     {{1, 7, USD, 5000, d}},
     {{100, 999, 7, USD, 5000, d}},
     {},
     {{matched, amount_and_date, 0, 0}},
     {{matched, amount_and_date, 0, 0}}},
    {"NearestDayWins",
     {{1, 7, USD, 5000, d}, {2, 7, USD, 5000, d + 4}},
     {{100, kNoRef, 7, USD, 5000, d + 3}},
     {},
     {{missing_in_billing, none, kNone, 0}, {matched, amount_and_date, 0, 0}},
     {{matched, amount_and_date, 1, 0}}},
    {"NearestDayWinsWhateverTheLedgerOrder",
     {{1, 7, USD, 5000, d + 4}, {2, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d + 3}},
     {},
     {{matched, amount_and_date, 0, 0}, {missing_in_billing, none, kNone, 0}},
     {{matched, amount_and_date, 0, 0}}},
    {"NearestDayTieGoesToTheEarlierDay",
     {{1, 7, USD, 5000, d + 6}, {2, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d + 3}},
     {},
     {{missing_in_billing, none, kNone, 0}, {matched, amount_and_date, 0, 0}},
     {{matched, amount_and_date, 1, 0}}},
    {"TheWindowIsInclusiveBothWays",
     {{1, 7, USD, 5000, d}, {2, 7, USD, 6000, d}},
     {{100, kNoRef, 7, USD, 5000, d + 3}, {101, kNoRef, 7, USD, 6000, d - 3}},
     {},
     {{matched, amount_and_date, 0, 0}, {matched, amount_and_date, 1, 0}},
     {{matched, amount_and_date, 0, 0}, {matched, amount_and_date, 1, 0}}},
    {"OutsideTheWindowNoMatch",  // and not the only candidate either: that needs the window too
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d + 4}},
     {},
     {{missing_in_billing, none, kNone, 0}},
     {{missing_in_ledger, none, kNone, 0}}},
    {"AWiderWindowMatches",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d + 4}},
     with_days(5),
     {{matched, amount_and_date, 0, 0}},
     {{matched, amount_and_date, 0, 0}}},
    {"AZeroDayWindowIsTheSameDay",
     {{1, 7, USD, 5000, d}, {2, 7, USD, 6000, d}},
     {{100, kNoRef, 7, USD, 5000, d}, {101, kNoRef, 7, USD, 6000, d + 1}},
     with_days(0),
     {{matched, amount_and_date, 0, 0}, {missing_in_billing, none, kNone, 0}},
     {{matched, amount_and_date, 0, 0}, {missing_in_ledger, none, kNone, 0}}},
    {"AnotherCustomerOrCurrencyNeverMatches",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 8, USD, 5000, d}, {101, kNoRef, 7, EUR, 5000, d}},
     {},
     {{missing_in_billing, none, kNone, 0}},
     {{missing_in_ledger, none, kNone, 0}, {missing_in_ledger, none, kNone, 0}}},
    {"ZeroDecimalYenMatchesByAmountAndDate",
     {{1, 7, JPY, 1500, d}, {2, 7, USD, 1500, d}},
     {{100, kNoRef, 7, JPY, 1500, d + 1}},
     {},
     {{matched, amount_and_date, 0, 0}, {missing_in_billing, none, kNone, 0}},
     {{matched, amount_and_date, 0, 0}}},

    // --- tolerance ---
    {"WithinTolerance",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 10003, d + 1}},
     with_tolerance(5),
     {{matched, tolerance, 0, 3}},
     {{matched, tolerance, 0, 3}}},
    {"ToleranceIsInclusive",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 9995, d}},
     with_tolerance(5),
     {{matched, tolerance, 0, -5}},
     {{matched, tolerance, 0, -5}}},
    {"WithoutToleranceTheSameIsTheOnlyCandidate",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 10003, d + 1}},
     {},
     {{mismatch, only_candidate, 0, 3}},
     {{mismatch, only_candidate, 0, 3}}},
    {"BeyondToleranceTheOnlyCandidate",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 10006, d}},
     with_tolerance(5),
     {{mismatch, only_candidate, 0, 6}},
     {{mismatch, only_candidate, 0, 6}}},
    {"ToleranceNearestDayBeforeSmallerDifference",
     {{1, 7, USD, 10001, d + 2}, {2, 7, USD, 10004, d}},
     {{100, kNoRef, 7, USD, 10000, d}},
     with_tolerance(5),
     {{missing_in_billing, none, kNone, 0}, {matched, tolerance, 0, -4}},
     {{matched, tolerance, 1, -4}}},
    {"ToleranceSmallerDifferenceOnTheSameDay",
     {{1, 7, USD, 10004, d}, {2, 7, USD, 9999, d}},
     {{100, kNoRef, 7, USD, 10000, d}},
     with_tolerance(5),
     {{missing_in_billing, none, kNone, 0}, {matched, tolerance, 0, 1}},
     {{matched, tolerance, 1, 1}}},
    {"AnExactAmountBeatsANearerDayWithinTolerance",
     {{1, 7, USD, 10002, d}, {2, 7, USD, 10000, d + 2}},
     {{100, kNoRef, 7, USD, 10000, d}},
     with_tolerance(5),
     {{missing_in_billing, none, kNone, 0}, {matched, amount_and_date, 0, 0}},
     {{matched, amount_and_date, 1, 0}}},

    // --- splits without a reference ---
    {"SplitOneLedgerIsTwoBilling",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 6000, d}, {101, kNoRef, 7, USD, 4000, d + 1}},
     {},
     {{matched, split, 0, 0}},
     {{matched, split, 0, 0}, {matched, split, 0, 0}}},
    {"SplitOneBillingIsTwoLedger",
     {{1, 7, USD, 6000, d}, {2, 7, USD, 4000, d + 1}},
     {{100, kNoRef, 7, USD, 10000, d + 2}},
     {},
     {{matched, split, 0, 0}, {matched, split, 0, 0}},
     {{matched, split, 0, 0}}},
    {"SplitPicksTheTwoThatAddUp",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 6000, d}, {101, kNoRef, 7, USD, 3500, d}, {102, kNoRef, 7, USD, 4000, d}},
     {},
     {{matched, split, 0, 0}},
     {{matched, split, 0, 0}, {missing_in_ledger, none, kNone, 0}, {matched, split, 0, 0}}},
    {"SplitsTurnedOff",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 6000, d}, {101, kNoRef, 7, USD, 4000, d}},
     without_splits(),
     {{missing_in_billing, none, kNone, 0}},
     {{missing_in_ledger, none, kNone, 0}, {missing_in_ledger, none, kNone, 0}}},
    {"SplitPartOutsideTheWindow",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 6000, d}, {101, kNoRef, 7, USD, 4000, d + 4}},
     {},
     {{missing_in_billing, none, kNone, 0}},
     {{missing_in_ledger, none, kNone, 0}, {missing_in_ledger, none, kNone, 0}}},
    {"SplitOfAnotherCurrencyIsNoSplit",
     {{1, 7, USD, 10000, d}},
     {{100, kNoRef, 7, USD, 6000, d}, {101, kNoRef, 7, EUR, 4000, d}},
     {},
     {{mismatch, only_candidate, 0, -4000}},
     {{mismatch, only_candidate, 0, -4000}, {missing_in_ledger, none, kNone, 0}}},

    // --- duplicates ---
    {"DuplicateBillingIds",  // the same object exported twice: the first counts
     {{1, 7, USD, 5000, d}},
     {{100, 1, 7, USD, 5000, d}, {100, 1, 7, USD, 5000, d}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {identical, duplicate_id, 0, 0}}},
    {"DuplicateBillingIdsWithoutReference",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d}, {101, kNoRef, 7, USD, 7000, d}, {100, kNoRef, 7, USD, 5000, d}},
     {},
     {{matched, amount_and_date, 0, 0}},
     {{matched, amount_and_date, 0, 0}, {missing_in_ledger, none, kNone, 0}, {identical, duplicate_id, 0, 0}}},
    // One credit note id, 9,999.99 and 80.00: neither counts, the request they name is in doubt too
    // (not missing in billing: that would propose crediting it again).
    {"ConflictingBillingIdsNameTheirRequest",
     {{1, 7, USD, 8000, d}},
     {{100, 1, 7, USD, 999999, d}, {100, 1, 7, USD, 8000, d}},
     {},
     {{conflicting, duplicate_id, 0, 0}},
     {{conflicting, duplicate_id, 1, 0}, {conflicting, duplicate_id, 0, 0}}},
    {"ConflictingBillingIdsAfterAnIdenticalRepeatAreAllConflicting",
     {{1, 7, USD, 5000, d}},
     {{100, 1, 7, USD, 5000, d}, {100, 1, 7, USD, 5000, d}, {100, 1, 7, USD, 6000, d}},
     {},
     {{conflicting, duplicate_id, 0, 0}},
     {{conflicting, duplicate_id, 1, 0}, {conflicting, duplicate_id, 0, 0}, {conflicting, duplicate_id, 0, 0}}},
    {"BillingIdsDifferingInStatusConflict",
     {{1, 7, USD, 5000, d}},
     {{100, 1, 7, USD, 5000, d, ok}, {100, 1, 7, USD, 5000, d, void_}},
     {},
     {{conflicting, duplicate_id, 0, 0}},
     {{conflicting, duplicate_id, 1, 0}, {conflicting, duplicate_id, 0, 0}}},
    {"BillingIdsDifferingInDayConflictAndClaimTheirCustomersRequestInTheWindow",
     {{1, 7, USD, 5000, d}, {2, 8, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d}, {100, kNoRef, 7, USD, 5000, d + 1}, {101, kNoRef, 8, USD, 5000, d}},
     {},
     {{conflicting, duplicate_id, 0, 0}, {matched, amount_and_date, 2, 0}},
     {{conflicting, duplicate_id, 1, 0}, {conflicting, duplicate_id, 0, 0}, {matched, amount_and_date, 1, 0}}},
    {"BillingIdsDifferingInCustomerOrCurrencyConflict",
     {},
     {{100, kNoRef, 7, USD, 5000, d}, {100, kNoRef, 8, USD, 5000, d}, {101, kNoRef, 7, USD, 5000, d},
      {101, kNoRef, 7, EUR, 5000, d}},
     {},
     {},
     {{conflicting, duplicate_id, 1, 0}, {conflicting, duplicate_id, 0, 0}, {conflicting, duplicate_id, 3, 0},
      {conflicting, duplicate_id, 2, 0}}},
    {"ConflictingBillingIdsOutsideTheWindowLeaveTheRequestMissing",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d + 10}, {100, kNoRef, 7, USD, 6000, d + 10}},
     {},
     {{missing_in_billing, none, kNone, 0}},
     {{conflicting, duplicate_id, 1, 0}, {conflicting, duplicate_id, 0, 0}}},
    {"ARequestSettledElsewhereIsNotClaimedByAConflict",
     {{1, 7, USD, 5000, d}},
     {{101, 1, 7, USD, 5000, d}, {100, 1, 7, USD, 5000, d}, {100, 1, 7, USD, 4000, d}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {conflicting, duplicate_id, 2, 0}, {conflicting, duplicate_id, 1, 0}}},
    {"SameContentDuplicate",
     {{1, 7, USD, 5000, d}},
     {{100, 1, 7, USD, 5000, d}, {101, kNoRef, 7, USD, 5000, d + 2}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {duplicate, same_content, 0, 0}}},
    {"SameContentDuplicateBeforeItsOriginal",
     {{1, 7, USD, 5000, d}},
     {{101, kNoRef, 7, USD, 5000, d - 1}, {100, 1, 7, USD, 5000, d}},
     {},
     {{matched, reference, 1, 0}},
     {{duplicate, same_content, 1, 0}, {matched, reference, 0, 0}}},
    {"TwoUnreferencedCopiesTheFirstMatches",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d}, {101, kNoRef, 7, USD, 5000, d}},
     {},
     {{matched, amount_and_date, 0, 0}},
     {{matched, amount_and_date, 0, 0}, {duplicate, same_content, 0, 0}}},
    {"SameContentOutsideTheWindowIsMissingInLedger",
     {{1, 7, USD, 5000, d}},
     {{100, 1, 7, USD, 5000, d}, {101, kNoRef, 7, USD, 5000, d + 4}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {missing_in_ledger, none, kNone, 0}}},
    {"SameContentOfAnotherCustomerIsMissingInLedger",
     {{1, 7, USD, 5000, d}},
     {{100, 1, 7, USD, 5000, d}, {101, kNoRef, 8, USD, 5000, d}},
     {},
     {{matched, reference, 0, 0}},
     {{matched, reference, 0, 0}, {missing_in_ledger, none, kNone, 0}}},

    // --- the only candidate ---
    {"OnlyCandidateMismatch",
     {{1, 7, USD, 5000, d}, {2, 8, USD, 9000, d}},
     {{100, kNoRef, 7, USD, 4800, d + 1}, {101, 2, 8, USD, 9000, d}},
     {},
     {{mismatch, only_candidate, 0, -200}, {matched, reference, 1, 0}},
     {{mismatch, only_candidate, 0, -200}, {matched, reference, 1, 0}}},
    {"TwoCandidatesNoMismatch",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 4800, d}, {101, kNoRef, 7, USD, 4700, d}},
     {},
     {{missing_in_billing, none, kNone, 0}},
     {{missing_in_ledger, none, kNone, 0}, {missing_in_ledger, none, kNone, 0}}},
    {"OnlyCandidateOutsideTheWindowIsNone",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 4800, d + 4}},
     {},
     {{missing_in_billing, none, kNone, 0}},
     {{missing_in_ledger, none, kNone, 0}}},

    // --- missing and not applicable ---
    {"MissingOnEachSide",
     {{1, 7, USD, 5000, d}},
     {{100, 999, 8, USD, 3000, d}},
     {},
     {{missing_in_billing, none, kNone, 0}},
     {{missing_in_ledger, none, kNone, 0}}},
    {"UnmatchedVoidAndFailedAreNotApplicable",
     {},
     {{100, kNoRef, 7, USD, 5000, d, void_}, {101, 999, 7, USD, 5000, d, failed}},
     {},
     {},
     {{not_applicable, none, kNone, 0}, {not_applicable, none, kNone, 0}}},
    {"AVoidWithoutReferenceNeverMatchesByAmount",
     {{1, 7, USD, 5000, d}},
     {{100, kNoRef, 7, USD, 5000, d, void_}},
     {},
     {{missing_in_billing, none, kNone, 0}},
     {{not_applicable, none, kNone, 0}}},
    {"UnmatchedPendingIsMissingInLedger",
     {},
     {{100, kNoRef, 7, USD, 5000, d, pending}},
     {},
     {},
     {{missing_in_ledger, none, kNone, 0}}},
    // An empty billing side is matched only when the period is said to have had no credits.
    {"NothingAtAll", {}, {}, Options{.allow_empty_billing = true}, {}, {}},
    {"NoBilling",
     {{1, 7, USD, 5000, d}, {2, 8, EUR, 5000, d}},
     {},
     Options{.allow_empty_billing = true},
     {{missing_in_billing, none, kNone, 0}, {missing_in_billing, none, kNone, 0}},
     {}},
};
}  // namespace table

class ReconcileScenario : public ::testing::TestWithParam<table::Scenario> {};

TEST_P(ReconcileScenario, EveryItemComesOutAsWorkedOut) {
  const table::Scenario& s = GetParam();
  const Result r = run(s.ledger, s.billing, s.options);
  expect_side(r.ledger, s.ledger_want, "ledger");
  expect_side(r.billing, s.billing_want, "billing");
}

std::string scenario_name(const ::testing::TestParamInfo<table::Scenario>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Reconcile, ReconcileScenario, ::testing::ValuesIn(table::kScenarios), scenario_name);

TEST(ReconcileResult, CountsOutcomesPerSide) {
  const Result r = run({{1, 7, USD, 10000, d}, {2, 7, USD, 3000, d}, {3, 8, USD, 100, d}},
                       {{100, 1, 7, USD, 10000, d}, {101, 1, 7, USD, 10000, d}, {102, 2, 7, USD, 2000, d},
                        {103, kNoRef, 9, USD, 7, d}, {104, kNoRef, 9, USD, 8, d, Status::void_}});
  EXPECT_EQ(r.count(r.ledger, Outcome::matched), 1u);
  EXPECT_EQ(r.count(r.ledger, Outcome::amount_mismatch), 1u);
  EXPECT_EQ(r.count(r.ledger, Outcome::missing_in_billing), 1u);
  EXPECT_EQ(r.count(r.billing, Outcome::matched), 1u);
  EXPECT_EQ(r.count(r.billing, Outcome::duplicate), 1u);
  EXPECT_EQ(r.count(r.billing, Outcome::amount_mismatch), 1u);
  EXPECT_EQ(r.count(r.billing, Outcome::missing_in_ledger), 1u);
  EXPECT_EQ(r.count(r.billing, Outcome::not_applicable), 1u);
  EXPECT_EQ(r.count(r.billing, Outcome::status_problem), 0u);
}

TEST(ReconcileNames, EveryOutcomeAndPassHasAName) {
  EXPECT_EQ(amends::reconcile::to_string(Outcome::missing_in_billing), "missing_in_billing");
  EXPECT_EQ(amends::reconcile::to_string(Outcome::not_applicable), "not_applicable");
  EXPECT_EQ(amends::reconcile::to_string(Outcome::identical_duplicate), "identical_duplicate");
  EXPECT_EQ(amends::reconcile::to_string(Outcome::conflicting_duplicate), "conflicting_duplicate");
  EXPECT_EQ(amends::reconcile::to_string(Pass::only_candidate), "only_candidate");
  EXPECT_EQ(amends::reconcile::to_string(Pass::none), "none");
}

// A reference names the request, but the credit went to another customer or
// in another currency: not the request's credit. The engine matches these
// today (reported; the fix is in by_reference). Enable when it is fixed.
TEST(ReconcileReference, AnotherCurrencyIsNotTheRequestsCredit) {
  // 100.00 USD granted; billing credited 10,000 JPY naming the request.
  const Result r = run({{1, 7, USD, 10000, d}}, {{100, 1, 7, JPY, 10000, d}});
  expect_side(r.ledger, {{Outcome::missing_in_billing, Pass::none, kNone, 0}}, "ledger");
  expect_side(r.billing, {{Outcome::missing_in_ledger, Pass::none, kNone, 0}}, "billing");
}

TEST(ReconcileReference, AnotherCustomerIsNotTheRequestsCreditWhenCustomersMustAgree) {
  Options same_customer;
  same_customer.reference_needs_customer = true;
  const Result r = run({{1, 7, USD, 10000, d}}, {{100, 1, 8, USD, 10000, d}}, same_customer);
  expect_side(r.ledger, {{Outcome::missing_in_billing, Pass::none, kNone, 0}}, "ledger");
  expect_side(r.billing, {{Outcome::missing_in_ledger, Pass::none, kNone, 0}}, "billing");
}

TEST(ReconcileReference, ByDefaultTheReferenceLinksCustomersNamedDifferently) {
  // The ledger's C-1042 is billing's cus_Nf3...: the request id the credit note carries is the link.
  const Result r = run({{1, 7, USD, 10000, d}}, {{100, 1, 8, USD, 10000, d}});
  expect_side(r.ledger, {{Outcome::matched, Pass::reference, 0, 0}}, "ledger");
  expect_side(r.billing, {{Outcome::matched, Pass::reference, 0, 0}}, "billing");
}

// --- refusals ---

struct BadColumn {
  const char* name;
  bool billing;
  const char* column;
};

class ReconcileColumnLength : public ::testing::TestWithParam<BadColumn> {};

TEST_P(ReconcileColumnLength, AShortColumnIsRefused) {
  const BadColumn& bad = GetParam();
  LedgerColumns lc({{1, 7, USD, 5000, d}, {2, 7, USD, 6000, d}});
  BillingColumns bc({{100, 1, 7, USD, 5000, d}, {101, kNoRef, 7, USD, 6000, d}});
  const std::string column = bad.column;
  if (!bad.billing) {
    if (column == "id") lc.id.pop_back();
    if (column == "customer") lc.customer.pop_back();
    if (column == "currency") lc.currency.pop_back();
    if (column == "day") lc.day.pop_back();
    if (column == "amount") lc.amount.pop_back();
  } else {
    if (column == "id") bc.id.pop_back();
    if (column == "reference") bc.reference.pop_back();
    if (column == "customer") bc.customer.pop_back();
    if (column == "currency") bc.currency.pop_back();
    if (column == "day") bc.day.pop_back();
    if (column == "status") bc.status.pop_back();
    if (column == "amount") bc.amount.pop_back();
  }
  try {
    match(lc.items(), bc.items());
    FAIL() << "no exception";
  } catch (const amends::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(bad.billing ? "billing" : "ledger"), std::string::npos) << message;
    // The amount column sets the length: the others are named when they differ.
    if (column != "amount") {
      EXPECT_NE(message.find(column), std::string::npos) << message;
    }
  }
}

const BadColumn kBadColumns[] = {
    {"LedgerId", false, "id"},           {"LedgerCustomer", false, "customer"}, {"LedgerCurrency", false, "currency"},
    {"LedgerDay", false, "day"},         {"LedgerAmount", false, "amount"},     {"BillingId", true, "id"},
    {"BillingReference", true, "reference"}, {"BillingCustomer", true, "customer"}, {"BillingCurrency", true, "currency"},
    {"BillingDay", true, "day"},         {"BillingStatus", true, "status"},     {"BillingAmount", true, "amount"},
};

std::string bad_column_name(const ::testing::TestParamInfo<BadColumn>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Reconcile, ReconcileColumnLength, ::testing::ValuesIn(kBadColumns), bad_column_name);

TEST(ReconcileRefuses, ANegativeToleranceOrWindow) {
  const std::vector<L> ledger = {{1, 7, USD, 5000, d}};
  const std::vector<B> billing = {{100, 1, 7, USD, 5000, d}};
  EXPECT_THROW(run(ledger, billing, Options{-1, 3, true}), amends::invalid_argument);
  EXPECT_THROW(run(ledger, billing, Options{0, -1, true}), amends::invalid_argument);
  EXPECT_NO_THROW(run(ledger, billing, Options{0, 0, true}));
}

TEST(ReconcileRefuses, AnEmptyBillingSideNamingItUnlessItIsAllowed) {
  const std::vector<L> ledger{{1, 7, USD, 5000, d}};
  Options options;
  options.billing_name = "the billing export empty.csv";
  for (const std::vector<L>& side : {ledger, std::vector<L>{}}) {
    try {
      run(side, {}, options);
      FAIL() << "no exception";
    } catch (const amends::invalid_argument& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("the billing export empty.csv has no items"), std::string::npos) << message;
      EXPECT_NE(message.find("allow"), std::string::npos) << message;
    }
  }
  options.allow_empty_billing = true;
  const Result r = run(ledger, {}, options);
  EXPECT_EQ(r.count(r.ledger, Outcome::missing_in_billing), 1u);
  // An empty ledger side is fine: the billing items are missing in the ledger.
  const Result other = run({}, {{100, kNoRef, 7, USD, 5000, d}});
  EXPECT_EQ(other.count(other.billing, Outcome::missing_in_ledger), 1u);
}

TEST(ReconcileRefuses, NegativeIds) {
  EXPECT_THROW(run({{-1, 7, USD, 5000, d}}, {}), amends::invalid_argument);
  EXPECT_THROW(run({}, {{-5, kNoRef, 7, USD, 5000, d}}), amends::invalid_argument);
}

TEST(ReconcileRefuses, ACurrencyCodeOutsideSixteenBits) {
  // Currency codes come from one dictionary of the currencies: 0..65535.
  LedgerColumns ok({{1, 7, 65'535, 5000, d}});
  BillingColumns none({});
  const Options empty_allowed{.allow_empty_billing = true};
  EXPECT_NO_THROW(match(ok.items(), none.items(), empty_allowed));
  LedgerColumns too_large({{1, 7, 65'536, 5000, d}});
  EXPECT_THROW(match(too_large.items(), none.items(), empty_allowed), amends::invalid_argument);
  BillingColumns negative({{100, kNoRef, 7, -1, 5000, d}});
  LedgerColumns empty({});
  EXPECT_THROW(match(empty.items(), negative.items()), amends::invalid_argument);
}

TEST(ReconcileRefuses, AnUnknownStatusCode) {
  LedgerColumns lc({});
  BillingColumns bc({{100, kNoRef, 7, USD, 5000, d}});
  bc.status[0] = 4;
  EXPECT_THROW(match(lc.items(), bc.items()), amends::invalid_argument);
}

// --- a randomized property: untouched pairs match, every injected item is found as injected ---

enum class Kind {
  missing_in_billing,        // the ledger item has no billing item
  missing_in_ledger,         // a billing item no ledger item asked for (no reference, or an unknown one)
  mismatch_by_reference,     // billing names the request, another amount
  mismatch_only_candidate,   // no reference, another amount, alone in its customer and currency
  duplicate_by_reference,    // a second full-amount item naming the request
  duplicate_same_content,    // a copy without a reference, another id
  duplicate_id,              // the same object exported twice
  void_by_reference,
  failed_by_reference,
  failed_then_retried,       // failed, then an ok one: the ok one matches
  pending,                   // with or without a reference
  split_by_reference,        // two items naming the request add up to it
  split_without_reference,   // two items, no reference, add up to it
  split_of_two_requests,     // one billing item, no reference, is two ledger items
  within_tolerance,          // only with a tolerance: the amount differs by 1..tolerance
  outside_window,            // no reference, same amount, 4..10 days away
  unmatched_void,            // void or failed, no ledger item: not applicable
  count_
};

struct PropertyCase {
  const char* name;
  std::uint64_t seed;
  std::size_t n;        // ledger items
  std::size_t per_kind; // injected discrepancies of each kind
  std::int64_t tolerance;
  bool sparse_codes;    // ids far apart: the engine's hash maps instead of its dense tables
};

class ReconcileProperty : public ::testing::TestWithParam<PropertyCase> {};

TEST_P(ReconcileProperty, FindsExactlyTheInjectedDiscrepancies) {
  const PropertyCase& pc = GetParam();
  std::mt19937_64 rng(pc.seed);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  const std::size_t n = pc.n;
  const std::int64_t customers = static_cast<std::int64_t>(n / 5);
  const std::int64_t code_step = pc.sparse_codes ? 1'000'003 : 1;
  // Request ids, and billing ids from another range (both sides' codes are separate kinds).
  auto request_id = [&](std::size_t k) { return static_cast<std::int64_t>(k) * code_step + 17; };
  std::int64_t next_billing_id = 3;
  auto billing_id = [&] { return (next_billing_id++) * code_step + 5; };

  // Ledger amounts are distinct and 10 apart (more than twice the tolerance),
  // so that nothing matches by amount what it should not.
  std::vector<std::int64_t> amount_rank(n);
  std::iota(amount_rank.begin(), amount_rank.end(), 0);
  std::shuffle(amount_rank.begin(), amount_rank.end(), rng);
  std::vector<L> ledger(n);
  for (std::size_t k = 0; k < n; ++k)
    ledger[k] = {request_id(k), uniform(0, customers - 1), static_cast<std::int32_t>(uniform(0, 2)),
                 10'000 + 10 * amount_rank[k], d + static_cast<std::int32_t>(uniform(0, 90))};

  // The injected ones each get a customer of their own, so that no two
  // discrepancies share a customer and currency (where they would rightly
  // be taken for one another: an only candidate, a split).
  std::int64_t next_customer = customers + 1;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::size_t taken = 0;
  auto take = [&] {
    const std::size_t i = order.at(taken++);
    ledger[i].customer = next_customer++;
    return i;
  };

  // Billing items carry their expectations: filled in after the shuffle,
  // since counterparts are positions and some outcomes depend on billing order.
  struct Item {
    B row;
    std::size_t instance;  // which injected instance, or SIZE_MAX: an untouched pair
    int role;              // within the instance
  };
  struct Instance {
    Kind kind;
    std::vector<std::size_t> ledger;  // ledger positions
    std::vector<std::size_t> items;   // pre-shuffle billing positions, by role
  };
  constexpr std::size_t kUntouched = SIZE_MAX;
  std::vector<Item> items;
  std::vector<Instance> instances;
  std::vector<bool> injected(n, false);
  std::vector<std::int64_t> untouched_item(n, -1);

  auto add = [&](std::size_t instance, int role, B row) {
    items.push_back({row, instance, role});
    if (instance != kUntouched) instances[instance].items.push_back(items.size() - 1);
    return items.size() - 1;
  };
  auto copy_of = [&](std::size_t i, std::int64_t ref, std::int32_t shift = 0) {
    const L& l = ledger[i];
    return B{billing_id(), ref, l.customer, l.currency, l.amount, l.day + shift};
  };

  const int kinds = static_cast<int>(Kind::count_);
  for (int kk = 0; kk < kinds; ++kk) {
    const Kind kind = static_cast<Kind>(kk);
    if (kind == Kind::within_tolerance && pc.tolerance == 0) continue;
    for (std::size_t c = 0; c < pc.per_kind; ++c) {
      instances.push_back({kind, {}, {}});
      const std::size_t at = instances.size() - 1;
      auto ledger_item = [&] {
        const std::size_t i = take();
        injected[i] = true;
        instances[at].ledger.push_back(i);
        return i;
      };
      const bool with_ref = uniform(0, 1) == 1;
      switch (kind) {
        case Kind::missing_in_billing: ledger_item(); break;
        case Kind::missing_in_ledger:
          add(at, 0, B{billing_id(), with_ref ? request_id(n + 1000 + c) : kNoRef, next_customer++,
                       static_cast<std::int32_t>(uniform(0, 2)), uniform(100, 99'999), d + static_cast<std::int32_t>(uniform(0, 90))});
          break;
        case Kind::mismatch_by_reference: {
          const std::size_t i = ledger_item();
          B b = copy_of(i, ledger[i].id, static_cast<std::int32_t>(uniform(-10, 10)));
          b.amount += (uniform(0, 1) ? 1 : -1) * uniform(pc.tolerance + 1, 5000);
          add(at, 0, b);
          break;
        }
        case Kind::mismatch_only_candidate: {
          const std::size_t i = ledger_item();
          B b = copy_of(i, kNoRef, static_cast<std::int32_t>(uniform(-3, 3)));
          b.amount += (uniform(0, 1) ? 1 : -1) * uniform(pc.tolerance + 1, 5000);
          add(at, 0, b);
          break;
        }
        case Kind::duplicate_by_reference: {
          const std::size_t i = ledger_item();
          add(at, 0, copy_of(i, ledger[i].id, static_cast<std::int32_t>(uniform(-10, 10))));
          add(at, 1, copy_of(i, ledger[i].id, static_cast<std::int32_t>(uniform(-10, 10))));
          break;
        }
        case Kind::duplicate_same_content: {
          const std::size_t i = ledger_item();
          const B original = copy_of(i, with_ref ? ledger[i].id : kNoRef, static_cast<std::int32_t>(uniform(-2, 2)));
          add(at, 0, original);
          B again = original;
          again.id = billing_id();
          again.reference = kNoRef;
          again.day = original.day + static_cast<std::int32_t>(uniform(-1, 1));
          add(at, 1, again);
          break;
        }
        case Kind::duplicate_id: {
          const std::size_t i = ledger_item();
          const B original = copy_of(i, with_ref ? ledger[i].id : kNoRef, static_cast<std::int32_t>(uniform(-3, 3)));
          add(at, 0, original);
          add(at, 1, original);
          break;
        }
        case Kind::void_by_reference:
        case Kind::failed_by_reference: {
          const std::size_t i = ledger_item();
          B b = copy_of(i, ledger[i].id, static_cast<std::int32_t>(uniform(-10, 10)));
          b.status = kind == Kind::void_by_reference ? Status::void_ : Status::failed;
          add(at, 0, b);
          break;
        }
        case Kind::failed_then_retried: {
          const std::size_t i = ledger_item();
          B bad = copy_of(i, ledger[i].id);
          bad.status = Status::failed;
          add(at, 0, bad);
          add(at, 1, copy_of(i, ledger[i].id, 1));
          break;
        }
        case Kind::pending: {
          const std::size_t i = ledger_item();
          B b = copy_of(i, with_ref ? ledger[i].id : kNoRef, static_cast<std::int32_t>(uniform(-3, 3)));
          b.status = Status::pending;
          add(at, 0, b);
          break;
        }
        case Kind::split_by_reference:
        case Kind::split_without_reference: {
          const std::size_t i = ledger_item();
          const std::int64_t ref = kind == Kind::split_by_reference ? ledger[i].id : kNoRef;
          B first = copy_of(i, ref, static_cast<std::int32_t>(uniform(-3, 3)));
          B second = copy_of(i, ref, static_cast<std::int32_t>(uniform(-3, 3)));
          first.amount = uniform(1000, ledger[i].amount - 1000);
          second.amount = ledger[i].amount - first.amount;
          add(at, 0, first);
          add(at, 1, second);
          break;
        }
        case Kind::split_of_two_requests: {
          const std::size_t i1 = ledger_item();
          const std::size_t i2 = ledger_item();
          // Both requests of one customer and currency, within the window of the one billing item.
          ledger[i2].customer = ledger[i1].customer;
          ledger[i2].currency = ledger[i1].currency;
          ledger[i2].day = ledger[i1].day + static_cast<std::int32_t>(uniform(-2, 2));
          B b = copy_of(i1, kNoRef, static_cast<std::int32_t>(uniform(0, 1)));
          b.amount = ledger[i1].amount + ledger[i2].amount;
          b.day = std::max(ledger[i1].day, ledger[i2].day);
          add(at, 0, b);
          break;
        }
        case Kind::within_tolerance: {
          const std::size_t i = ledger_item();
          B b = copy_of(i, with_ref ? ledger[i].id : kNoRef, static_cast<std::int32_t>(uniform(-3, 3)));
          b.amount += (uniform(0, 1) ? 1 : -1) * uniform(1, pc.tolerance);
          add(at, 0, b);
          break;
        }
        case Kind::outside_window: {
          const std::size_t i = ledger_item();
          const auto shift = static_cast<std::int32_t>(uniform(4, 10));
          add(at, 0, copy_of(i, kNoRef, uniform(0, 1) ? shift : -shift));
          break;
        }
        case Kind::unmatched_void: {
          B b{billing_id(), with_ref ? request_id(n + 5000 + c) : kNoRef, next_customer++, USD, uniform(100, 9999), d};
          b.status = uniform(0, 1) ? Status::void_ : Status::failed;
          add(at, 0, b);
          break;
        }
        case Kind::count_: break;
      }
    }
  }
  // Everything else: one billing item each, 70% naming the request (any day),
  // 30% not (within the window).
  for (std::size_t i = 0; i < n; ++i) {
    if (injected[i]) continue;
    const bool named = uniform(1, 10) <= 7;
    untouched_item[i] = static_cast<std::int64_t>(
        add(kUntouched, 0, copy_of(i, named ? ledger[i].id : kNoRef, static_cast<std::int32_t>(named ? uniform(-15, 15) : uniform(-3, 3)))));
  }

  // Shuffle the billing side; where[k] is the position of pre-shuffle item k.
  std::vector<std::size_t> perm(items.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<std::size_t> where(items.size());
  std::vector<B> billing(items.size());
  for (std::size_t k = 0; k < perm.size(); ++k) {
    where[perm[k]] = k;
    billing[k] = items[perm[k]].row;
  }

  // Expectations.
  std::vector<Want> lw(n), bw(billing.size());
  auto both = [&](std::size_t i, std::size_t item, Outcome o, Pass p, std::int64_t diff) {
    lw[i] = {o, p, static_cast<std::int64_t>(where[item]), diff};
    bw[where[item]] = {o, p, static_cast<std::int64_t>(i), diff};
  };
  auto ref_pass = [&](std::size_t item) { return items[item].row.reference >= 0 ? Pass::reference : Pass::amount_and_date; };
  for (std::size_t i = 0; i < n; ++i)
    if (!injected[i]) both(i, static_cast<std::size_t>(untouched_item[i]), Outcome::matched, ref_pass(static_cast<std::size_t>(untouched_item[i])), 0);
  std::map<Kind, std::size_t> per_kind;
  for (const Instance& in : instances) {
    ++per_kind[in.kind];
    const std::size_t i = in.ledger.empty() ? 0 : in.ledger[0];
    const auto& it = in.items;
    auto amount = [&](std::size_t item) { return items[item].row.amount; };
    switch (in.kind) {
      case Kind::missing_in_billing: lw[i] = {Outcome::missing_in_billing, Pass::none, kNone, 0}; break;
      case Kind::missing_in_ledger: bw[where[it[0]]] = {Outcome::missing_in_ledger, Pass::none, kNone, 0}; break;
      case Kind::mismatch_by_reference: both(i, it[0], Outcome::amount_mismatch, Pass::reference, amount(it[0]) - ledger[i].amount); break;
      case Kind::mismatch_only_candidate:
        both(i, it[0], Outcome::amount_mismatch, Pass::only_candidate, amount(it[0]) - ledger[i].amount);
        break;
      case Kind::duplicate_by_reference: {
        // The first in billing order is kept.
        const std::size_t keep = where[it[0]] < where[it[1]] ? it[0] : it[1], other = keep == it[0] ? it[1] : it[0];
        both(i, keep, Outcome::matched, Pass::reference, 0);
        bw[where[other]] = {Outcome::duplicate, Pass::reference, static_cast<std::int64_t>(where[keep]), 0};
        break;
      }
      case Kind::duplicate_same_content: {
        // With a reference the original matches first; without, whichever
        // of the two comes first in billing order takes the request.
        std::size_t keep = it[0], other = it[1];
        if (items[it[0]].row.reference < 0 && where[it[1]] < where[it[0]]) std::swap(keep, other);
        both(i, keep, Outcome::matched, ref_pass(keep), 0);
        bw[where[other]] = {Outcome::duplicate, Pass::same_content, static_cast<std::int64_t>(where[keep]), 0};
        break;
      }
      case Kind::duplicate_id: {
        const std::size_t keep = where[it[0]] < where[it[1]] ? it[0] : it[1], other = keep == it[0] ? it[1] : it[0];
        both(i, keep, Outcome::matched, ref_pass(keep), 0);
        bw[where[other]] = {Outcome::identical_duplicate, Pass::duplicate_id, static_cast<std::int64_t>(where[keep]), 0};
        break;
      }
      case Kind::void_by_reference:
      case Kind::failed_by_reference:
        lw[i] = {Outcome::status_problem, Pass::reference, static_cast<std::int64_t>(where[it[0]]), -ledger[i].amount};
        bw[where[it[0]]] = {Outcome::status_problem, Pass::reference, static_cast<std::int64_t>(i), 0};
        break;
      case Kind::failed_then_retried:
        both(i, it[1], Outcome::matched, Pass::reference, 0);
        bw[where[it[0]]] = {Outcome::status_problem, Pass::reference, static_cast<std::int64_t>(i), 0};
        break;
      case Kind::pending: both(i, it[0], Outcome::status_problem, ref_pass(it[0]), 0); break;
      case Kind::split_by_reference:
      case Kind::split_without_reference: {
        // The ledger side names the first of the two in billing order.
        const Pass p = in.kind == Kind::split_by_reference ? Pass::reference : Pass::split;
        const std::size_t first = where[it[0]] < where[it[1]] ? it[0] : it[1];
        lw[i] = {Outcome::matched, p, static_cast<std::int64_t>(where[first]), 0};
        for (std::size_t item : it) bw[where[item]] = {Outcome::matched, p, static_cast<std::int64_t>(i), 0};
        break;
      }
      case Kind::split_of_two_requests: {
        // The billing side names the first of the two in ledger order.
        const std::size_t i1 = std::min(in.ledger[0], in.ledger[1]);
        for (std::size_t l : in.ledger) lw[l] = {Outcome::matched, Pass::split, static_cast<std::int64_t>(where[it[0]]), 0};
        bw[where[it[0]]] = {Outcome::matched, Pass::split, static_cast<std::int64_t>(i1), 0};
        break;
      }
      case Kind::within_tolerance:
        both(i, it[0], Outcome::matched, items[it[0]].row.reference >= 0 ? Pass::reference : Pass::tolerance,
             amount(it[0]) - ledger[i].amount);
        break;
      case Kind::outside_window:
        lw[i] = {Outcome::missing_in_billing, Pass::none, kNone, 0};
        bw[where[it[0]]] = {Outcome::missing_in_ledger, Pass::none, kNone, 0};
        break;
      case Kind::unmatched_void: bw[where[it[0]]] = {Outcome::not_applicable, Pass::none, kNone, 0}; break;
      case Kind::count_: break;
    }
  }

  const Result r = run(ledger, billing, Options{pc.tolerance, 3, true});
  ASSERT_EQ(r.ledger.outcome.size(), n);
  ASSERT_EQ(r.billing.outcome.size(), billing.size());
  // Every item, both sides; stop after a few differences so a failure stays readable.
  int wrong = 0;
  for (std::size_t i = 0; i < n && wrong < 10; ++i)
    if (got(r.ledger, i) != lw[i]) {
      ++wrong;
      ADD_FAILURE() << "ledger item " << i << ": got " << ::testing::PrintToString(got(r.ledger, i)) << ", want "
                    << ::testing::PrintToString(lw[i]);
    }
  for (std::size_t j = 0; j < billing.size() && wrong < 10; ++j)
    if (got(r.billing, j) != bw[j]) {
      ++wrong;
      ADD_FAILURE() << "billing item " << j << ": got " << ::testing::PrintToString(got(r.billing, j)) << ", want "
                    << ::testing::PrintToString(bw[j]);
    }
  // And the totals, as a reader of a report would check them.
  const std::size_t k = pc.per_kind;
  EXPECT_EQ(r.count(r.ledger, Outcome::missing_in_billing), 2 * k);  // missing + outside the window
  EXPECT_EQ(r.count(r.billing, Outcome::missing_in_ledger), 2 * k);
  EXPECT_EQ(r.count(r.billing, Outcome::duplicate), 2 * k);  // by reference, same content
  EXPECT_EQ(r.count(r.billing, Outcome::identical_duplicate), k);  // the same object exported twice
  EXPECT_EQ(r.count(r.ledger, Outcome::amount_mismatch), 2 * k);
  EXPECT_EQ(r.count(r.ledger, Outcome::status_problem), 3 * k);  // void, failed, pending
  EXPECT_EQ(r.count(r.billing, Outcome::status_problem), 4 * k);  // ... and the failed one retried
  EXPECT_EQ(r.count(r.billing, Outcome::not_applicable), k);
  EXPECT_EQ(per_kind.size(), static_cast<std::size_t>(kinds) - (pc.tolerance == 0 ? 1 : 0));
}

const PropertyCase kPropertyCases[] = {
    {"Seed1", 1, 5000, 12, 0, false},           {"Seed2Tolerance5", 2, 5000, 12, 5, false},
    {"Seed3SparseCodes", 3, 5000, 12, 0, true}, {"Seed4SparseTolerance3", 4, 8000, 20, 3, true},
    {"Seed5Small", 5, 400, 5, 2, false},        {"Seed6Large", 6, 60000, 80, 4, false},
};

std::string property_case_name(const ::testing::TestParamInfo<PropertyCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Reconcile, ReconcileProperty, ::testing::ValuesIn(kPropertyCases), property_case_name);

}  // namespace
