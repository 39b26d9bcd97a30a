// Matching what the ledger says was granted against what the billing system
// did: the engine behind reconciliation.
//
// Both sides come as columns of integers. Strings (request ids, billing ids,
// customers, currencies) are coded by the caller into dense non-negative
// integers from ONE shared dictionary per column kind, so that a billing
// item's reference code equals the code of the ledger item (the request) it
// names. Amounts are in the currency's minor unit; days since 1970-01-01.
// Currency codes are 0..65535; each side has fewer than 2^32 - 1 items.
//
// An empty billing side is refused (invalid_argument) unless
// Options::allow_empty_billing says the period really had no credits:
// against nothing, every ledger item would be missing in billing, and an
// export that came out empty (a failed download, a header and no rows) would
// propose crediting every customer again. An empty ledger side is fine.
//
// Passes, each over what the earlier ones left:
//   0. billing ids that appear more than once. When every item of the id has
//      the same content (reference, customer, currency, amount, day and
//      status), the first counts and goes on to the passes, the repeats are
//      identical duplicates. When any of them differs, none counts: every
//      item of the id is a conflicting duplicate (which of them billing holds
//      can't be told), and so, at the end, is a ledger item they would
//      settle that nothing else settled: one a conflicting item names by
//      reference (same currency; same customer when asked), else one of the
//      customer and currency of a conflicting item in the date window (the
//      first such item in billing order is its counterpart);
//   1. by reference: billing items that name a ledger item; one or several
//      (a credit split over two credit notes, two refunds for one request)
//      whose sum is the ledger amount match; voided or failed ones are status
//      problems; a second item for the full amount is a duplicate; other sums
//      are amount mismatches;
//   2. by customer, currency and amount within the date window (nearest day
//      first), then within the amount tolerance;
//   3. splits without a reference: one ledger item equal to two billing items
//      of its customer and currency in the window, or one billing item equal
//      to two ledger items;
//   4. an unmatched billing item equal to a matched one of its customer
//      (same currency and amount, in the window) is a duplicate;
//   5. a single unmatched item on each side for a customer and currency in
//      the window: an amount mismatch;
//   what is left is missing in billing (ledger side) or missing in the ledger
//   (billing side; a voided or failed one is not applicable: nothing was given).
//
// The result is a function of the inputs and options alone: the same on any
// number of threads (cpp/src/reconcile.cpp says how the work is divided).
#pragma once

#include <cstdint>
#include <new>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace amends::reconcile {

enum class Outcome : std::uint8_t {
  matched,
  amount_mismatch,
  missing_in_billing,     // ledger side: authorised, never applied in billing
  missing_in_ledger,      // billing side: credited without an authorised request
  duplicate,              // billing side: the same credit again under another id
  identical_duplicate,    // billing side: an id seen again with the same content; the first counts
  conflicting_duplicate,  // an id seen more than once with different content; none counts (both sides)
  status_problem,         // voided credit note, failed refund, still pending
  not_applicable,         // voided or failed in billing and not in the ledger: nothing was given
};
std::string_view to_string(Outcome outcome);

enum class Pass : std::uint8_t { none, duplicate_id, reference, amount_and_date, tolerance, split, same_content, only_candidate };
std::string_view to_string(Pass pass);

enum class Status : std::uint8_t { ok, void_, failed, pending };

struct Items {
  std::span<const std::int64_t> id;         // the item's own id code (ledger: the request's)
  std::span<const std::int64_t> reference;  // billing: the request code it names, or -1; ledger: empty
  std::span<const std::int64_t> customer;
  std::span<const std::int32_t> currency;
  std::span<const std::int64_t> amount;  // minor units, positive: given to the customer
  std::span<const std::int32_t> day;
  std::span<const std::uint8_t> status;  // billing: Status; ledger: empty
  std::size_t size() const { return amount.size(); }
};

struct Options {
  std::int64_t amount_tolerance = 0;  // minor units: a difference up to this still matches
  std::int32_t days = 3;              // the date window, each way
  bool splits = true;
  // A reference match also needs the same customer id on both sides. Off by
  // default: the ledger and billing often name customers differently (C-1042
  // and cus_Nf3...), and the request id a billing item carries is the
  // authorised link. The currency always has to agree.
  bool reference_needs_customer = false;
  // Threads to match on: 0 is what the machine has (at most 8; one for
  // small inputs). The result is the same for any number.
  unsigned threads = 0;
  // The period really had no credits: an empty billing side is matched
  // (every ledger item missing in billing) instead of refused.
  bool allow_empty_billing = false;
  // What the billing side is, for the refusal of an empty one ("the billing
  // export credit_notes.json"); it outlives the call.
  std::string_view billing_name = "the billing side";
};

// Storage for columns of a million items and more: large blocks are
// aligned to 2 MiB and asked for on huge pages (Linux), so that the first
// touch of a fresh block costs one fault per 2 MiB, not one per 4 KiB.
namespace detail {
void* allocate_large(std::size_t bytes);
void deallocate_large(void* p, std::size_t bytes) noexcept;
}  // namespace detail

// An allocator on that storage that leaves new elements of trivial types
// uninitialised: the engine writes every element of its results exactly
// once, so zero-filling them first would only touch the memory twice.
template <class T>
class UninitializedAllocator {
 public:
  using value_type = T;
  UninitializedAllocator() noexcept = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(detail::allocate_large(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { detail::deallocate_large(p, n * sizeof(T)); }
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const UninitializedAllocator<U>&) const noexcept {
    return true;
  }
};
template <class T>
using Values = std::vector<T, UninitializedAllocator<T>>;

struct Side {
  Values<Outcome> outcome;
  Values<Pass> pass;
  // Index on the other side, -1 none; on this side for a billing item's
  // duplicate, identical_duplicate or conflicting_duplicate (the first item of
  // its id; the first's counterpart is its first repeat).
  Values<std::int64_t> counterpart;
  Values<std::int64_t> difference;   // billing minus ledger, minor units (mismatches, tolerance matches)
};

struct Result {
  Side ledger, billing;
  std::size_t count(const Side& side, Outcome outcome) const;
};

// Throws invalid_argument when the columns of a side differ in length, a
// code is negative where it may not be, or the billing side is empty and
// not allowed to be.
Result match(const Items& ledger, const Items& billing, const Options& options = {});

}  // namespace amends::reconcile
