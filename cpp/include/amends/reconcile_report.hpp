// What reconciliation makes of the engine's per-item result (amends/reconcile.hpp):
// the reason of every item in words, the corrections it proposes for a person
// to approve (never posted), the summary counts, the requests a run moves to
// `reconciled`, the rows a run records, and the checksum of a run's inputs.
//
// The engine works on integer codes; the report also reads the items' strings
// (ids, customers, currencies, ...) through TextColumn, a function from an
// item's position to its text, called only for the items it needs: the
// caller's storage (a vector, or Python objects) stays where it is.
//
// Inputs checksum (scheme 2, `"checksum": 2` among a run's parameters).
// SHA-256 over this byte string, where field(x) is the length of x as an
// unsigned 64-bit little-endian integer followed by the bytes of x:
//
//   field(parameters)                        the run's parameters as canonical JSON (RunParameters::json)
//   for the ledger side, then the billing side:
//     the number of rows, unsigned 64-bit little-endian
//     for each column, in the fixed order kLedgerColumns / kBillingColumns:
//       field(column name), then field(value) for each row, in row order
//
// Values are UTF-8 text; amounts as decimal integers ("-1250"), dates as
// YYYY-MM-DD. Row order counts: the same rows in another order are other
// inputs (as with scheme 1, which hashed pandas' per-row hashes in order).
// Scheme 1 (before this) digested pandas' hash_pandas_object; a book with
// runs recorded under it simply records a new run when rerun.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "amends/reconcile.hpp"

namespace amends::reconcile {

std::string_view to_string(Status status);  // "ok", "void", "failed", "pending"
inline constexpr std::size_t kStatuses = 4;
inline constexpr std::size_t kOutcomes = 9;
inline constexpr std::size_t kPasses = 8;

// What a proposed correction asks a person to do.
enum class Action : std::uint8_t {
  apply_in_billing,          // approved and applied, never credited in billing
  investigate_unauthorised,  // credited in billing without an authorised request
  reverse_refund,            // a refund failed in billing: reverse the one posted
  reissue_or_reverse,        // a credit note voided in billing
  void_duplicate,            // the same credit again under another id
  resolve_conflicting_id,    // one billing id with different contents
  check_repeated_id,         // one billing id twice, the same in every field
  adjust,                    // the amounts differ
};
inline constexpr std::size_t kActions = 8;
std::string_view to_string(Action action);

// The outcomes a person has to look at, most urgent first. A conflicting
// duplicate may hide any amount; an identical one is counted once, but
// billing may have issued it twice.
std::span<const Outcome> exceptions();
bool is_exception(Outcome outcome);

using TextColumn = std::function<std::string(std::size_t)>;

// One side's strings by position. The ledger side needs id, customer and
// currency; the billing side all of them.
struct Texts {
  TextColumn id, customer, currency, object, raw_status, reference;
};

// One side of the engine's result, by reference (a Side, or columns held elsewhere).
struct SideView {
  std::span<const Outcome> outcome;
  std::span<const Pass> pass;
  std::span<const std::int64_t> counterpart;
  std::span<const std::int64_t> difference;
  std::size_t size() const { return outcome.size(); }
};
SideView view(const Side& side);

struct Correction {
  Action action;
  std::string request, billing_id;
  std::int64_t amount_minor = 0;
  std::string currency, reason;
};

struct Report {
  // Reasons: texts[ledger_reason[i]] is the reason of ledger item i. The
  // first kPasses texts say how a matched item matched (by its Pass).
  std::vector<std::string> texts;
  std::vector<std::int32_t> ledger_reason, billing_reason;
  // The counterpart of each item as a position among the ledger items
  // followed by the billing items (a billing duplicate's is on its own
  // side, the others' on the other); -1: none.
  std::vector<std::int64_t> ledger_counterpart, billing_counterpart;
  std::vector<Correction> corrections;
  std::array<std::array<std::size_t, kOutcomes>, 2> counts{};  // [0 ledger, 1 billing][outcome]
  std::size_t exceptions = 0;
  std::vector<std::size_t> reconciled;  // ledger positions matched: their requests move to reconciled
  bool ok() const { return exceptions == 0; }
  // {"ledger_items": n, "billing_items": m, "exceptions": e, "ledger_<outcome>": count, ..., "billing_<outcome>": ...}
  // (outcomes of no item left out, in Outcome order).
  std::string summary_json() const;
};

// The report of a match of `ledger` against `billing` with a date window of `days`.
Report report(const Items& ledger, const Texts& ledger_text, const SideView& ledger_result, const Items& billing,
              const Texts& billing_text, const SideView& billing_result, std::int32_t days);

// One row a run records per item (sql/003_reconciliation.sql), and per correction.
struct ItemRow {
  bool billing = false;
  std::int64_t position = 0;
  std::string item_id, customer, currency;
  std::int64_t amount_minor = 0;
  std::int32_t day = 0;  // days since 1970-01-01
  Outcome outcome = Outcome::matched;
  Pass matched_by = Pass::none;
  std::string counterpart;
  std::int64_t difference_minor = 0;
  std::string reason;
};
struct CorrectionRow {
  std::int64_t correction_id = 0;  // 1, 2, ... in the order proposed
  Correction correction;
};
std::vector<ItemRow> item_rows(const Items& ledger, const Texts& ledger_text, const SideView& ledger_result,
                               const Items& billing, const Texts& billing_text, const SideView& billing_result,
                               const Report& report);
std::vector<CorrectionRow> correction_rows(const Report& report);

// ------------------------------------------------------------------ checksum
inline constexpr int kChecksumScheme = 2;
inline constexpr std::array<std::string_view, 6> kLedgerColumns{"id", "customer", "currency", "amount_minor", "date",
                                                                "kind"};
inline constexpr std::array<std::string_view, 10> kBillingColumns{
    "source", "id", "object", "customer", "currency", "amount_minor", "date", "status", "reference", "parent"};

// A run's parameters, written as canonical JSON: keys sorted, no spaces,
// allow_empty present only when true:
// {"allow_empty":true,"amount_tolerance_minor":0,"checksum":2,"days":3,"period":["2026-10-01","2026-10-31"],"source":"stripe","splits":true}
struct RunParameters {
  std::int64_t amount_tolerance_minor = 0;
  std::int32_t days = 3;
  bool splits = true;
  std::int32_t first = 0, last = 0;  // the period, days since 1970-01-01
  std::string source;
  bool allow_empty = false;
  std::string json() const;
};

// A column of the checksum's input: text, integers (amounts) or days (dates).
struct InputColumn {
  std::string_view name;
  TextColumn text;
  std::span<const std::int64_t> integers;
  std::span<const std::int32_t> days;
  bool is_integers = false, is_days = false;
};

// The checksum (lowercase hex) of a run's inputs, by the encoding above.
// The columns come in the fixed order, each of its side's row count;
// otherwise invalid_argument.
std::string inputs_sha256(std::string_view parameters_json, std::span<const InputColumn> ledger, std::size_t ledger_rows,
                          std::span<const InputColumn> billing, std::size_t billing_rows);

}  // namespace amends::reconcile
