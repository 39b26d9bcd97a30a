#include "amends/reconcile.hpp"

#include <algorithm>
#include <compare>
#include <cstdlib>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "amends/errors.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

// How it is fast. A million items a side do not fit in the caches, so the
// engine is built around the memory it touches, not the comparisons it makes:
//   - what a pass decides about an item is 8 bytes (one cache line to
//     touch); the result columns are written once from those at the end, in
//     item order, never zero-filled first, on huge pages where Linux has them;
//   - ids coded in order of first appearance (what a factorize gives) need
//     no table: the first item of code c is where c first shows up;
//   - the reference pass partitions the billing items by the key they name
//     into runs of 8,192 keys, each run copied with the fields the pass needs,
//     so that each run's work on the ledger side stays in the L2 cache; a
//     request named by exactly one billing item of its amount (nearly all)
//     is marked by key, and one sequential pass writes those billing items;
//   - the amount-and-date pass is a hash join on (customer, currency,
//     amount) over the open ledger items, not a sorted search, and fetches
//     the slots of the look-ups a few items ahead, so that the cache misses
//     overlap instead of queueing;
//   - the passes over all items run on several threads (Options::threads),
//     each on its own part: billing items by position, keys by run, the
//     amount-and-date look-ups by the hash of their key (billing items
//     compete only with those of the same key, each thread in billing
//     order), so the result is the same on any number of threads;
//   - the later passes work on what is left, which is small, and find the
//     matched items an open one could repeat through a hash of its keys.
// tests/cpp/reconcile_spec.cpp keeps the straightforward engine these passes
// were first written as; the tests hold this one to it on random workloads.

namespace amends::reconcile {

namespace detail {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
bool large(std::size_t bytes) { return bytes >= kHugePage; }
std::size_t rounded(std::size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
}  // namespace

void* allocate_large(std::size_t bytes) {
  if (!large(bytes)) return ::operator new(bytes);
  void* p = std::aligned_alloc(kHugePage, rounded(bytes));
  if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  ::madvise(p, rounded(bytes), MADV_HUGEPAGE);  // a hint: without huge pages the block still works
#endif
  return p;
}

void deallocate_large(void* p, std::size_t bytes) noexcept {
  if (!large(bytes)) {
    ::operator delete(p);
  } else {
    std::free(p);
  }
}

}  // namespace detail

namespace {

constexpr std::int64_t kNone = -1;
constexpr std::uint32_t kNo = std::numeric_limits<std::uint32_t>::max();
// Splits are looked for among at most this many unmatched items of one
// customer and currency (pairs: quadratic).
constexpr std::size_t kSplitGroupLimit = 256;
// Keys per run of the reference pass (2^13 = 8,192).
constexpr unsigned kRunBits = 13;
constexpr std::size_t kRunMask = (std::size_t{1} << kRunBits) - 1;
// Currency codes fit in 16 bits (there are fewer than 200 currencies).
constexpr std::int32_t kMaxCurrency = 65'535;

// An item's state during the passes.
enum : std::uint8_t {
  kOpen = 0,
  kDone = 1,
  kSetAside = 2,  // billing: names a request of another currency (or customer): open again after the reference pass
};

bool usable(std::uint8_t status) {
  return status == static_cast<std::uint8_t>(Status::ok) || status == static_cast<std::uint8_t>(Status::pending);
}
bool pending(std::uint8_t status) { return status == static_cast<std::uint8_t>(Status::pending); }

std::int64_t abs64(std::int64_t v) { return v < 0 ? -v : v; }

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}
std::uint64_t key_hash(std::int64_t customer, std::int32_t currency, std::int64_t amount) {
  return mix(static_cast<std::uint64_t>(customer) * 0x9E3779B97F4A7C15ULL ^
             mix(static_cast<std::uint64_t>(amount) ^ (static_cast<std::uint64_t>(static_cast<std::uint32_t>(currency)) << 40)));
}
std::size_t table_size(std::size_t entries) {
  std::size_t size = 16;
  while (size < 2 * entries) size *= 2;
  return size;
}

// The threads a match runs on: as asked, else what the machine has (at
// most 8), and one for fewer than 200,000 items, where starting threads
// costs more than it saves. The result does not depend on it.
unsigned thread_count(const Options& options, std::size_t items) {
  if (options.threads > 0) return std::min(options.threads, 64u);
  if (items < 200'000) return 1;
  return std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
}

void check(const Items& items, const char* side, bool billing) {
  const std::size_t n = items.size();
  if (n >= kNo) throw invalid_argument(std::string("the ") + side + " side has more than 4,294,967,294 items");
  auto same = [&](std::size_t size, const char* column) {
    if (size != n)
      throw invalid_argument(std::string("the ") + side + " column " + column + " has " + std::to_string(size) +
                             " values, not " + std::to_string(n));
  };
  same(items.id.size(), "id");
  same(items.customer.size(), "customer");
  same(items.currency.size(), "currency");
  same(items.day.size(), "day");
  for (std::int32_t c : items.currency)
    if (c < 0 || c > kMaxCurrency)
      throw invalid_argument(std::string("a currency code is 0..65535 (one per currency in the shared dictionary), not ") + std::to_string(c));
  if (billing) {
    same(items.reference.size(), "reference");
    same(items.status.size(), "status");
    for (std::uint8_t s : items.status)
      if (s > static_cast<std::uint8_t>(Status::pending))
        throw invalid_argument(std::string("a billing status code is 0..3 (ok, void, failed, pending), not ") + std::to_string(s));
  }
  for (std::size_t i = 0; i < n; ++i)
    if (items.id[i] < 0) throw invalid_argument(std::string("the ") + side + " id codes are not negative");
}

// A dense table from codes to indices when the codes allow one, else a hash map.
class CodeIndex {
 public:
  explicit CodeIndex(std::int64_t max_code, std::size_t expected) {
    dense_ = max_code >= 0 && max_code < static_cast<std::int64_t>(std::max<std::size_t>(expected * 8, 1 << 16));
    if (dense_) {
      table_.assign(static_cast<std::size_t>(max_code) + 1, kNo);
    } else {
      map_.reserve(expected);
    }
  }
  bool dense() const { return dense_; }
  void prefetch(std::int64_t code) const {
    if (dense_ && code >= 0 && code < static_cast<std::int64_t>(table_.size())) __builtin_prefetch(&table_[static_cast<std::size_t>(code)]);
  }
  std::size_t table_size() const { return table_.size(); }
  std::uint32_t get(std::int64_t code) const {
    if (code < 0) return kNo;
    if (dense_) return code < static_cast<std::int64_t>(table_.size()) ? table_[static_cast<std::size_t>(code)] : kNo;
    auto it = map_.find(code);
    return it == map_.end() ? kNo : it->second;
  }
  // Sets the code's index unless it has one; returns the index it has.
  std::uint32_t put(std::int64_t code, std::uint32_t index) {
    if (dense_) {
      std::uint32_t& slot = table_[static_cast<std::size_t>(code)];
      if (slot == kNo) slot = index;
      return slot;
    }
    return map_.try_emplace(code, index).first->second;
  }

 private:
  bool dense_ = false;
  std::vector<std::uint32_t> table_;
  std::unordered_map<std::int64_t, std::uint32_t> map_;
};

struct Engine {
  const Items& L;
  const Items& B;
  const Options& opt;

  // What the passes decide about an item, in 8 bytes: deciding about an item
  // touches one cache line. The result columns are written from these at the
  // end, in item order; the few non-zero differences are kept aside.
  struct Verdict {
    std::uint32_t counterpart;  // kNo: none
    Outcome outcome;
    Pass pass;
    std::uint8_t state;
    bool differs;  // a difference was recorded (a later one replaces it)
  };
  static_assert(sizeof(Verdict) == 8);
  Values<Verdict> lv, bv;
  using Diffs = std::vector<std::pair<std::uint32_t, std::int64_t>>;
  Diffs ldiff, bdiff;  // in the order the passes recorded them
  // What one thread records beside the verdicts, and its scratch. The items
  // a pass gives its threads are disjoint, so after each pass the threads'
  // differences are gathered in thread order.
  struct Work {
    Diffs ldiff, bdiff;
    std::vector<std::uint32_t> usable;
  };
  unsigned threads;
  std::vector<Work> work;

  Engine(const Items& ledger, const Items& billing, const Options& options)
      : L(ledger), B(billing), opt(options), threads(thread_count(options, ledger.size() + billing.size())), work(threads) {
    const Verdict open{kNo, Outcome::matched, Pass::none, kOpen, false};
    lv.resize(L.size());
    bv.resize(B.size());
    parallel([&](unsigned t) {
      const auto [l0, l1] = slice(t, L.size());
      std::fill(lv.begin() + l0, lv.begin() + l1, open);
      const auto [b0, b1] = slice(t, B.size());
      std::fill(bv.begin() + b0, bv.begin() + b1, open);
    });
  }

  // The part of n items thread t of `threads` takes.
  std::pair<std::ptrdiff_t, std::ptrdiff_t> slice(unsigned t, std::size_t n) const {
    return {static_cast<std::ptrdiff_t>(n * t / threads), static_cast<std::ptrdiff_t>(n * (t + 1) / threads)};
  }
  // Runs f(t) for every thread t, t = 0 on this one.
  template <class F>
  void parallel(F&& f) const {
    if (threads == 1) {
      f(0u);
      return;
    }
    std::exception_ptr error;
    std::mutex failed;
    auto run = [&](unsigned t) {
      try {
        f(t);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(failed);
        if (!error) error = std::current_exception();
      }
    };
    {
      std::vector<std::jthread> others;
      others.reserve(threads - 1);
      for (unsigned t = 1; t < threads; ++t) others.emplace_back(run, t);
      run(0);
    }
    if (error) std::rethrow_exception(error);
  }
  void gather() {
    for (Work& w : work) {
      ldiff.insert(ldiff.end(), w.ldiff.begin(), w.ldiff.end());
      bdiff.insert(bdiff.end(), w.bdiff.begin(), w.bdiff.end());
      w.ldiff.clear();
      w.bdiff.clear();
    }
  }

  bool ldone(std::size_t i) const { return lv[i].state == kDone; }
  bool bdone(std::size_t j) const { return bv[j].state == kDone; }

  static void decide(Verdict& v, Diffs& diffs, std::size_t k, Outcome o, Pass p, std::int64_t counterpart, std::int64_t difference) {
    v.counterpart = counterpart < 0 ? kNo : static_cast<std::uint32_t>(counterpart);
    v.outcome = o;
    v.pass = p;
    v.state = kDone;
    if (difference != 0 || v.differs) {
      diffs.emplace_back(static_cast<std::uint32_t>(k), difference);
      v.differs = true;
    }
  }
  void set_billing(Work& w, std::size_t j, Outcome o, Pass p, std::int64_t counterpart, std::int64_t difference = 0) {
    decide(bv[j], w.bdiff, j, o, p, counterpart, difference);
  }
  void set_ledger(Work& w, std::size_t i, Outcome o, Pass p, std::int64_t counterpart, std::int64_t difference = 0) {
    decide(lv[i], w.ldiff, i, o, p, counterpart, difference);
  }
  // The same for an item no pass has decided yet, with no difference: a
  // store, no load (an open item has recorded no difference), so that a
  // cache miss on it does not hold up the pass.
  static void decide_open(Verdict& v, std::size_t counterpart, Outcome o, Pass p) {
    v = Verdict{static_cast<std::uint32_t>(counterpart), o, p, kDone, false};
  }
  // A match of ledger i with billing j, both open, for the whole amount.
  void pair_open(std::size_t i, std::size_t j, Pass p) {
    const Outcome o = pending(B.status[j]) ? Outcome::status_problem : Outcome::matched;
    decide_open(bv[j], i, o, p);
    decide_open(lv[i], j, o, p);
  }
  // A match of ledger i with billing j (and more billing items in splits):
  // pending in billing is a status problem on both sides.
  void pair(Work& w, std::size_t i, std::size_t j, Pass p, std::int64_t difference) {
    const bool wait = pending(B.status[j]);
    set_billing(w, j, wait ? Outcome::status_problem : Outcome::matched, p, static_cast<std::int64_t>(i), difference);
    if (!ldone(i) || lv[i].outcome == Outcome::matched)
      set_ledger(w, i, wait ? Outcome::status_problem : Outcome::matched, p, static_cast<std::int64_t>(j), difference);
  }
  bool near(std::size_t i, std::size_t j) const { return std::abs(L.day[i] - B.day[j]) <= opt.days; }

  // ---------------------------------------------------------------- 0. billing ids seen more than once

  // Each repeat of an id with the id's first item: (repeat, first), in billing order.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> repeats_;
  // The billing items of conflicting ids, in billing order (few: they are looked through at the end).
  std::vector<std::uint32_t> conflicting_;

  bool same_content(std::size_t a, std::size_t b) const {
    return B.reference[a] == B.reference[b] && B.customer[a] == B.customer[b] && B.currency[a] == B.currency[b] &&
           B.amount[a] == B.amount[b] && B.day[a] == B.day[b] && B.status[a] == B.status[b];
  }

  void duplicate_ids() {
    const std::size_t m = B.size();
    // Codes in order of first appearance: the first item of code c is the c-th new one.
    Values<std::uint32_t> first;
    first.reserve(m);
    std::int64_t next = 0;
    std::size_t j = 0;
    for (; j < m; ++j) {
      const std::int64_t code = B.id[j];
      if (code == next) {
        first.push_back(static_cast<std::uint32_t>(j));
        ++next;
      } else if (code < next) {
        repeats_.emplace_back(static_cast<std::uint32_t>(j), first[static_cast<std::size_t>(code)]);
      } else {
        break;
      }
    }
    if (j < m) {
      // Any other coding: a table (or a map) of first items.
      repeats_.clear();
      std::int64_t max_id = -1;
      for (std::int64_t id : B.id) max_id = std::max(max_id, id);
      CodeIndex index(max_id, m);
      for (j = 0; j < m; ++j) {
        if (j + 16 < m) index.prefetch(B.id[j + 16]);
        const std::uint32_t at = index.put(B.id[j], static_cast<std::uint32_t>(j));
        if (at != j) repeats_.emplace_back(static_cast<std::uint32_t>(j), at);
      }
    }
    if (!repeats_.empty()) classify_repeats();
  }

  // An id whose items all have the first's content: the first counts, the
  // repeats are identical duplicates. Otherwise every item of the id is a
  // conflicting duplicate: the first's counterpart is its first repeat, a
  // repeat's the first.
  void classify_repeats() {
    Work& w = work[0];
    std::vector<std::uint32_t> conflicted;  // first items of conflicting ids
    for (const auto& [j, f] : repeats_)
      if (!same_content(j, f)) conflicted.push_back(f);
    std::sort(conflicted.begin(), conflicted.end());
    conflicted.erase(std::unique(conflicted.begin(), conflicted.end()), conflicted.end());
    for (const auto& [j, f] : repeats_) {
      if (!std::binary_search(conflicted.begin(), conflicted.end(), f)) {
        set_billing(w, j, Outcome::identical_duplicate, Pass::duplicate_id, f);
        continue;
      }
      if (!bdone(f)) {
        set_billing(w, f, Outcome::conflicting_duplicate, Pass::duplicate_id, j);  // j: its first repeat
        conflicting_.push_back(f);
      }
      set_billing(w, j, Outcome::conflicting_duplicate, Pass::duplicate_id, f);
      conflicting_.push_back(j);
    }
    std::sort(conflicting_.begin(), conflicting_.end());
  }

  // The ledger items conflicting billing items would settle, among those no
  // pass settled: first each one a conflicting item names by reference (its
  // currency, and its customer when asked; the first such item in billing
  // order), then each one of the customer and currency of a conflicting item
  // within the window (the first in billing order).
  void claimed_by_conflicts() {
    if (conflicting_.empty()) return;
    Work& w = work[0];
    // Reference code -> the conflicting items naming it; customer -> the conflicting items; both in billing order.
    std::unordered_map<std::int64_t, std::vector<std::uint32_t>> naming, of_customer;
    for (std::uint32_t j : conflicting_) {
      if (B.reference[j] >= 0) naming[B.reference[j]].push_back(j);
      of_customer[B.customer[j]].push_back(j);
    }
    // A reference names the first ledger item of its code.
    for (std::size_t i = 0; i < L.size(); ++i) {
      auto it = naming.find(L.id[i]);
      if (it == naming.end()) continue;
      const std::vector<std::uint32_t> items = std::move(it->second);
      naming.erase(it);
      if (ldone(i)) continue;
      for (std::uint32_t j : items) {
        if (B.currency[j] != L.currency[i] || (opt.reference_needs_customer && B.customer[j] != L.customer[i])) continue;
        set_ledger(w, i, Outcome::conflicting_duplicate, Pass::duplicate_id, j);
        break;
      }
    }
    for (std::size_t i = 0; i < L.size(); ++i) {
      if (ldone(i)) continue;
      auto it = of_customer.find(L.customer[i]);
      if (it == of_customer.end()) continue;
      for (std::uint32_t j : it->second) {
        if (B.currency[j] != L.currency[i] || !near(i, j)) continue;
        set_ledger(w, i, Outcome::conflicting_duplicate, Pass::duplicate_id, j);
        break;
      }
    }
    gather();
  }

  // ---------------------------------------------------------------- 1. by reference

  // A billing item that names a request, with what the pass reads of it,
  // in 16 bytes: its key's place in the run (13 bits), its status (2), a
  // flag and its currency (16) share a word.
  struct Named {
    std::uint32_t j;
    std::uint32_t packed;
    std::int64_t amount;
    static Named of(std::size_t j, std::size_t key, std::int64_t amount, std::uint8_t status, std::int32_t currency) {
      return {static_cast<std::uint32_t>(j),
              static_cast<std::uint32_t>((key & kRunMask) | std::size_t{status} << kRunBits | static_cast<std::size_t>(currency) << 16),
              amount};
    }
    std::size_t offset() const { return packed & kRunMask; }
    // Names a request of another currency (or customer): not its credit.
    void set_aside() { packed |= 1u << (kRunBits + 2); }
    bool aside() const { return packed >> (kRunBits + 2) & 1u; }
    std::uint8_t status() const { return static_cast<std::uint8_t>(packed >> kRunBits & 3u); }
    std::int32_t currency() const { return static_cast<std::int32_t>(packed >> 16); }
  };
  static_assert(sizeof(Named) == 16 && kRunBits + 3 <= 16);

  void by_reference() {
    const std::size_t n = L.size(), m = B.size();
    // Keys: what a billing item's reference becomes, and the ledger item of a key.
    //   identity: the ledger's id codes are 0..n-1 in order (the ledger ids coded first): key = code = item;
    //   dense:    key = code, item = table[key];
    //   sparse:   codes too far apart for a table: key = item, found through a map, for every billing item first.
    bool identity = true;
    std::int64_t max_code = -1;
    for (std::size_t i = 0; i < n; ++i) {
      identity = identity && L.id[i] == static_cast<std::int64_t>(i);
      max_code = std::max(max_code, L.id[i]);
    }
    std::vector<std::uint32_t> item_of;   // dense
    std::vector<std::int64_t> item_keys;  // sparse
    std::span<const std::int64_t> ref = B.reference;
    std::size_t keys = n;
    if (!identity) {
      CodeIndex index(max_code, n);
      for (std::size_t i = 0; i < n; ++i) index.put(L.id[i], static_cast<std::uint32_t>(i));
      if (index.dense()) {
        keys = index.table_size();
        item_of.resize(keys);
        for (std::size_t k = 0; k < keys; ++k) item_of[k] = index.get(static_cast<std::int64_t>(k));
      } else {
        item_keys.resize(m);
        for (std::size_t j = 0; j < m; ++j) {
          const std::uint32_t i = index.get(B.reference[j]);
          item_keys[j] = i == kNo ? kNone : static_cast<std::int64_t>(i);
        }
        ref = item_keys;
      }
    }
    auto item = [&](std::size_t key) -> std::uint32_t { return item_of.empty() ? static_cast<std::uint32_t>(key) : item_of[key]; };
    auto key_of = [&](std::size_t j) -> std::size_t {
      const std::int64_t c = ref[j];
      return c >= 0 && static_cast<std::uint64_t>(c) < keys ? static_cast<std::size_t>(c) : kNo;
    };

    // The named billing items, in runs of 2^kRunBits keys, billing order
    // within a run: each thread counts and copies its part of the billing
    // items, and its part goes after the earlier threads' in every run.
    const std::size_t runs = (keys >> kRunBits) + 1;
    std::vector<std::vector<std::uint32_t>> fill(threads, std::vector<std::uint32_t>(runs, 0));
    parallel([&](unsigned t) {
      const auto [lo, hi] = slice(t, m);
      std::vector<std::uint32_t>& count = fill[t];
      for (auto j = static_cast<std::size_t>(lo); j < static_cast<std::size_t>(hi); ++j) {
        if (bv[j].state != kOpen) continue;
        const std::size_t key = key_of(j);
        if (key != kNo) ++count[key >> kRunBits];
      }
    });
    std::vector<std::uint32_t> start(runs + 1, 0);
    std::uint32_t total = 0;
    for (std::size_t run = 0; run < runs; ++run) {
      start[run] = total;
      for (unsigned t = 0; t < threads; ++t) {
        const std::uint32_t c = fill[t][run];
        fill[t][run] = total;
        total += c;
      }
    }
    start[runs] = total;
    Values<Named> named(total);
    parallel([&](unsigned t) {
      const auto [lo, hi] = slice(t, m);
      std::vector<std::uint32_t>& at = fill[t];
      for (auto j = static_cast<std::size_t>(lo); j < static_cast<std::size_t>(hi); ++j) {
        if (bv[j].state != kOpen) continue;
        const std::size_t key = key_of(j);
        if (key == kNo) continue;
        named[at[key >> kRunBits]++] = Named::of(j, key, B.amount[j], B.status[j], B.currency[j]);
      }
    });

    // Per run: the billing items of each key, and the ledger item's verdict.
    // A key whose only billing item is the whole amount, settled, is marked
    // `simple`; the billing item is written after all runs, in billing order.
    // The threads take consecutive runs of about equal numbers of items.
    std::vector<std::size_t> first_run(threads + 1, runs);
    for (unsigned t = 0; t < threads; ++t)
      first_run[t] = static_cast<std::size_t>(
          std::lower_bound(start.begin(), start.end() - 1, static_cast<std::uint32_t>(std::uint64_t{total} * t / threads)) - start.begin());
    Values<std::uint8_t> simple(keys, 0);
    parallel([&](unsigned t) {
      Work& w = work[t];
      constexpr std::size_t width = std::size_t{1} << kRunBits;
      std::vector<std::uint32_t> count(width + 1);
      std::vector<std::uint32_t> order;
      std::vector<const Named*> several;
      for (std::size_t run = first_run[t]; run < first_run[t + 1]; ++run) {
        Named* from = named.data() + start[run];
        Named* to = named.data() + start[run + 1];
        if (from == to) continue;
        const std::size_t base = run << kRunBits;
        std::fill(count.begin(), count.end(), 0);
        for (Named* x = from; x != to; ++x) {
          const std::uint32_t i = item(base + x->offset());
          // A reference to a request in another currency (or of another customer, when asked) is not its credit.
          if (i == kNo || x->currency() != L.currency[i] || (opt.reference_needs_customer && B.customer[x->j] != L.customer[i])) {
            bv[x->j].state = kSetAside;
            x->set_aside();
            continue;
          }
          ++count[x->offset() + 1];
        }
        std::partial_sum(count.begin(), count.end(), count.begin());
        order.resize(count.back());
        for (const Named* x = from; x != to; ++x)
          if (!x->aside()) order[count[x->offset()]++] = static_cast<std::uint32_t>(x - from);
        // count[k] is now where key k's items end; they begin where key k-1's end.
        std::uint32_t begin = 0;
        for (std::size_t k = 0; k < width; ++k) {
          const std::uint32_t end = count[k];
          if (begin == end) continue;
          const std::size_t key = base + k;
          const std::uint32_t i = item(key);
          if (end - begin == 1) {
            const Named& x = from[order[begin]];
            if (x.status() == static_cast<std::uint8_t>(Status::ok) && x.amount == L.amount[i]) {
              decide_open(lv[i], x.j, Outcome::matched, Pass::reference);
              simple[key] = 1;
              begin = end;
              continue;
            }
          }
          several.clear();
          for (std::uint32_t k2 = begin; k2 < end; ++k2) several.push_back(&from[order[k2]]);
          request_by_reference(w, i, several);
          begin = end;
        }
      }
    });
    gather();

    // The billing side of the simple ones; what was set aside is open again.
    // What stays open and could be a credit goes on to the next passes.
    open_billing_.assign(threads, {});
    parallel([&](unsigned t) {
      const auto [lo, hi] = slice(t, m);
      Values<std::uint32_t>& open = open_billing_[t];
      for (auto j = static_cast<std::size_t>(lo); j < static_cast<std::size_t>(hi); ++j) {
        std::uint8_t& state = bv[j].state;
        if (state == kSetAside) {
          state = kOpen;
        } else if (state == kOpen) {
          const std::size_t key = key_of(j);
          if (key != kNo && simple[key]) {
            decide_open(bv[j], item(key), Outcome::matched, Pass::reference);
            continue;
          }
        }
        if (state == kOpen && usable(B.status[j])) open.push_back(static_cast<std::uint32_t>(j));
      }
    });
    gather();
  }
  // The open billing items that could be credits after the reference pass,
  // per thread, in billing order.
  std::vector<Values<std::uint32_t>> open_billing_;

  // The billing items naming ledger item i (in billing order), when they are not simply one for its amount.
  void request_by_reference(Work& w, std::size_t i, const std::vector<const Named*>& items) {
    std::vector<std::uint32_t>& ok = w.usable;
    ok.clear();
    std::int64_t first_bad = kNone;
    for (const Named* x : items) {
      if (usable(x->status())) {
        ok.push_back(x->j);
      } else {
        set_billing(w, x->j, Outcome::status_problem, Pass::reference, static_cast<std::int64_t>(i), x->amount - L.amount[i]);
        if (first_bad == kNone) first_bad = x->j;
      }
    }
    if (ok.empty()) {
      set_ledger(w, i, Outcome::status_problem, Pass::reference, first_bad, -L.amount[i]);
      return;
    }
    std::int64_t sum = 0;
    for (std::uint32_t j : ok) sum += B.amount[j];
    const std::int64_t diff = sum - L.amount[i];
    if (abs64(diff) <= opt.amount_tolerance) {
      for (std::uint32_t j : ok) pair(w, i, j, Pass::reference, diff);
      lv[i].counterpart = ok.front();
      return;
    }
    // One of them is the whole amount: the others repeat it or differ.
    auto whole = std::find_if(ok.begin(), ok.end(),
                              [&](std::uint32_t j) { return abs64(B.amount[j] - L.amount[i]) <= opt.amount_tolerance; });
    if (whole != ok.end()) {
      const std::uint32_t keep = *whole;
      pair(w, i, keep, Pass::reference, B.amount[keep] - L.amount[i]);
      for (std::uint32_t j : ok) {
        if (j == keep) continue;
        if (B.amount[j] == B.amount[keep]) {
          set_billing(w, j, Outcome::duplicate, Pass::reference, keep);
        } else {
          set_billing(w, j, Outcome::amount_mismatch, Pass::reference, static_cast<std::int64_t>(i), B.amount[j]);
        }
      }
      return;
    }
    set_ledger(w, i, Outcome::amount_mismatch, Pass::reference, ok.front(), diff);
    for (std::uint32_t j : ok) set_billing(w, j, Outcome::amount_mismatch, Pass::reference, static_cast<std::int64_t>(i), diff);
  }

  // ---------------------------------------------------------------- 2. amount and date, tolerance

  // An unmatched ledger item, copied out so that the search runs over contiguous memory.
  struct Open {
    std::int64_t customer;
    std::int64_t amount;
    std::int32_t currency;
    std::int32_t day;
    std::uint32_t index;
    std::uint32_t next;  // the next open item of the same customer, currency and amount (the hash join), or kNo
  };
  // The open ledger items after the reference pass, in ledger order.
  Values<Open> open_ledger_;

  // A billing item to look up, and its slot in the table.
  struct Probe {
    std::uint32_t j;
    std::uint32_t slot;
  };

  // The exact amount: a hash join of the open billing items (in billing
  // order) with the open ledger items on (customer, currency, amount); of
  // the ledger items within the window, the nearest in days, then the
  // earlier day, then the first. Billing items compete only with those of
  // the same customer, currency and amount, so the threads take the keys
  // by their hash, each in billing order.
  void by_amount_and_date() {
    // The open ledger items: each thread counts, then copies, its part.
    std::vector<std::size_t> at(threads + 1, 0);
    parallel([&](unsigned t) {
      const auto [lo, hi] = slice(t, L.size());
      at[t + 1] = static_cast<std::size_t>(
          std::count_if(lv.begin() + lo, lv.begin() + hi, [](const Verdict& v) { return v.state == kOpen; }));
    });
    std::partial_sum(at.begin(), at.end(), at.begin());
    Values<Open>& open = open_ledger_;
    open.resize(at[threads]);
    parallel([&](unsigned t) {
      const auto [lo, hi] = slice(t, L.size());
      std::size_t k = at[t];
      for (auto i = static_cast<std::size_t>(lo); i < static_cast<std::size_t>(hi); ++i)
        if (lv[i].state == kOpen) open[k++] = {L.customer[i], L.amount[i], L.currency[i], L.day[i], static_cast<std::uint32_t>(i), kNo};
    });
    if (open.empty()) return;
    const std::size_t size = table_size(open.size());
    const std::size_t mask = size - 1;
    // The table and the items are larger than the caches: every look-up is
    // a miss. The slot a few items ahead is fetched while this one is read,
    // so that the misses overlap instead of queueing.
    constexpr std::size_t ahead = 16;
    Values<std::uint32_t> home(open.size());
    parallel([&](unsigned t) {
      const auto [lo, hi] = slice(t, open.size());
      for (auto k = static_cast<std::size_t>(lo); k < static_cast<std::size_t>(hi); ++k)
        home[k] = static_cast<std::uint32_t>(key_hash(open[k].customer, open[k].currency, open[k].amount) & mask);
    });
    Values<std::uint32_t> head(size, kNo);
    for (std::size_t k = open.size(); k-- > 0;) {  // backwards: each chain in ledger order
      if (k >= ahead) __builtin_prefetch(&head[home[k - ahead]], 1);
      Open& o = open[k];
      for (std::size_t s = home[k];; s = (s + 1) & mask) {
        const std::uint32_t h = head[s];
        if (h == kNo) {
          head[s] = static_cast<std::uint32_t>(k);
          break;
        }
        const Open& other = open[h];
        if (other.customer == o.customer && other.amount == o.amount && other.currency == o.currency) {
          o.next = h;
          head[s] = static_cast<std::uint32_t>(k);
          break;
        }
      }
    }
    // The billing items to look up, by the thread of their key: parts[t][p]
    // holds thread t's billing items for thread p, in billing order.
    std::vector<std::vector<std::vector<Probe>>> parts(threads, std::vector<std::vector<Probe>>(threads));
    parallel([&](unsigned t) {
      for (std::uint32_t j : open_billing_[t]) {
        const std::uint64_t h = key_hash(B.customer[j], B.currency[j], B.amount[j]);
        parts[t][(h >> 40) % threads].push_back({j, static_cast<std::uint32_t>(h & mask)});
      }
    });
    // Only this pass takes open ledger items: whether one is taken is kept beside them.
    Values<std::uint8_t> taken(open.size(), 0);
    parallel([&](unsigned p) {
      std::vector<Probe> probes;
      for (unsigned t = 0; t < threads; ++t) probes.insert(probes.end(), parts[t][p].begin(), parts[t][p].end());
      for (std::size_t k = 0; k < probes.size(); ++k) {
        if (k + 2 * ahead < probes.size()) __builtin_prefetch(&head[probes[k + 2 * ahead].slot]);
        if (k + ahead < probes.size()) {
          const std::uint32_t h = head[probes[k + ahead].slot];
          if (h != kNo) __builtin_prefetch(&open[h]);
        }
        if (k + ahead / 2 < probes.size()) {  // and the verdict of the ledger item it will likely take
          const std::uint32_t h = head[probes[k + ahead / 2].slot];
          if (h != kNo) __builtin_prefetch(&lv[open[h].index], 1);
        }
        const std::uint32_t j = probes[k].j;
        const std::int64_t customer = B.customer[j], amount = B.amount[j];
        const std::int32_t currency = B.currency[j], day = B.day[j];
        std::uint32_t h = kNo;
        for (std::size_t s = probes[k].slot;; s = (s + 1) & mask) {
          h = head[s];
          if (h == kNo) break;
          const Open& other = open[h];
          if (other.customer == customer && other.amount == amount && other.currency == currency) break;
        }
        std::uint32_t best = kNo;
        std::int32_t best_days = 0, best_day = 0;
        for (; h != kNo; h = open[h].next) {
          const Open& o = open[h];
          const std::int32_t days = std::abs(o.day - day);
          if (days > opt.days || taken[h]) continue;
          if (best == kNo || days < best_days || (days == best_days && o.day < best_day)) {
            best = h;
            best_days = days;
            best_day = o.day;
          }
        }
        if (best != kNo) {
          taken[best] = 1;
          pair_open(open[best].index, j, Pass::amount_and_date);
        }
      }
    });
    gather();
    if (opt.amount_tolerance > 0) by_tolerance();
  }

  // Within the tolerance: the open ledger items of the billing item's
  // customer and currency with an amount in [amount - tolerance, amount +
  // tolerance] and a day in the window, by a sorted search; the nearest day
  // first, then the smaller difference, then the first in (amount, day)
  // order.
  void by_tolerance() {
    Work& w = work[0];
    std::vector<Open> sorted;
    for (const Open& o : open_ledger_)
      if (!ldone(o.index)) sorted.push_back(o);
    if (sorted.empty()) return;
    std::sort(sorted.begin(), sorted.end(), [](const Open& a, const Open& b) {
      return std::tie(a.customer, a.currency, a.amount, a.day, a.index) < std::tie(b.customer, b.currency, b.amount, b.day, b.index);
    });
    for (const Values<std::uint32_t>& part : open_billing_) {
      for (std::uint32_t j : part) {
        if (bv[j].state != kOpen) continue;
        const std::int64_t customer = B.customer[j];
        const std::int32_t currency = B.currency[j];
        const std::int64_t low = B.amount[j] - opt.amount_tolerance, high = B.amount[j] + opt.amount_tolerance;
        auto it = std::lower_bound(sorted.begin(), sorted.end(), low, [&](const Open& o, std::int64_t amount) {
          return std::tie(o.customer, o.currency, o.amount) < std::tie(customer, currency, amount);
        });
        std::int64_t best = kNone;
        std::int64_t best_score = std::numeric_limits<std::int64_t>::max();
        for (; it != sorted.end(); ++it) {
          if (it->customer != customer || it->currency != currency || it->amount > high) break;
          const std::int64_t days = std::abs(it->day - B.day[j]);
          if (ldone(it->index) || days > opt.days) continue;
          const std::int64_t score = days * (2 * opt.amount_tolerance + 1) + abs64(it->amount - B.amount[j]);
          if (score < best_score) {
            best_score = score;
            best = it->index;
          }
        }
        if (best != kNone)
          pair(w, static_cast<std::size_t>(best), j, Pass::tolerance, B.amount[j] - L.amount[static_cast<std::size_t>(best)]);
      }
    }
    gather();
  }

  // ---------------------------------------------------------------- 3-5. what is left, per customer and currency

  void by_group() {
    Work& w = work[0];
    // What is still open was open after the reference pass.
    std::vector<std::uint32_t> ls, bs;
    for (const Open& o : open_ledger_)
      if (!ldone(o.index)) ls.push_back(o.index);
    for (const Values<std::uint32_t>& part : open_billing_)
      for (std::uint32_t j : part)
        if (!bdone(j)) bs.push_back(j);
    if (bs.empty()) return;
    auto lkey = [&](std::uint32_t i) { return std::pair(L.customer[i], L.currency[i]); };
    auto bkey = [&](std::uint32_t j) { return std::pair(B.customer[j], B.currency[j]); };
    std::sort(ls.begin(), ls.end(), [&](std::uint32_t a, std::uint32_t b) { return std::pair(lkey(a), a) < std::pair(lkey(b), b); });
    std::sort(bs.begin(), bs.end(), [&](std::uint32_t a, std::uint32_t b) { return std::pair(bkey(a), a) < std::pair(bkey(b), b); });
    const std::vector<std::uint32_t> matched = matched_billing(bs);
    std::size_t li = 0;
    for (std::size_t bi = 0; bi < bs.size();) {
      const auto key = bkey(bs[bi]);
      std::size_t bend = bi;
      while (bend < bs.size() && bkey(bs[bend]) == key) ++bend;
      while (li < ls.size() && lkey(ls[li]) < key) ++li;
      std::size_t lend = li;
      while (lend < ls.size() && lkey(ls[lend]) == key) ++lend;
      group(w, {ls.data() + li, lend - li}, {bs.data() + bi, bend - bi}, matched);
      bi = bend;
      li = lend;
    }
    gather();
  }

  struct Key {
    std::int64_t customer;
    std::int64_t amount;
    std::int32_t currency;
    bool operator==(const Key&) const = default;
  };

  // The matched billing items an open one could repeat (the same customer,
  // currency and amount), sorted by (customer, currency, amount, day):
  // a scan of the matched items against a hash of the open ones' keys, with
  // a bitmap of their customers in front, each thread over its part.
  std::vector<std::uint32_t> matched_billing(const std::vector<std::uint32_t>& open) const {
    const std::size_t size = table_size(open.size());
    const std::size_t mask = size - 1;
    std::vector<Key> slots(size);
    std::vector<std::uint8_t> used(size, 0);
    constexpr std::size_t kBitmap = std::size_t{1} << 20;
    std::vector<std::uint64_t> customers(kBitmap / 64, 0);
    auto bit = [](std::int64_t customer) { return static_cast<std::size_t>(static_cast<std::uint64_t>(customer) & (kBitmap - 1)); };
    for (std::uint32_t j : open) {
      const Key k{B.customer[j], B.amount[j], B.currency[j]};
      customers[bit(k.customer) / 64] |= std::uint64_t{1} << (bit(k.customer) % 64);
      for (std::size_t s = key_hash(k.customer, k.currency, k.amount) & mask;; s = (s + 1) & mask) {
        if (!used[s]) {
          used[s] = 1;
          slots[s] = k;
          break;
        }
        if (slots[s] == k) break;
      }
    }
    std::vector<std::vector<std::uint32_t>> found(threads);
    parallel([&](unsigned t) {
      const auto [lo, hi] = slice(t, B.size());
      for (auto j = static_cast<std::size_t>(lo); j < static_cast<std::size_t>(hi); ++j) {
        if (!bdone(j) || bv[j].outcome != Outcome::matched) continue;
        const std::int64_t customer = B.customer[j];
        if (!(customers[bit(customer) / 64] >> (bit(customer) % 64) & 1)) continue;
        const Key k{customer, B.amount[j], B.currency[j]};
        for (std::size_t s = key_hash(k.customer, k.currency, k.amount) & mask; used[s]; s = (s + 1) & mask)
          if (slots[s] == k) {
            found[t].push_back(static_cast<std::uint32_t>(j));
            break;
          }
      }
    });
    std::vector<std::uint32_t> out;
    for (const auto& part : found) out.insert(out.end(), part.begin(), part.end());
    std::sort(out.begin(), out.end(), [&](std::uint32_t a, std::uint32_t b) {
      return std::tuple(B.customer[a], B.currency[a], B.amount[a], B.day[a], a) <
             std::tuple(B.customer[b], B.currency[b], B.amount[b], B.day[b], b);
    });
    return out;
  }

  void group(Work& w, std::span<const std::uint32_t> ls, std::span<const std::uint32_t> bs, const std::vector<std::uint32_t>& matched) {
    if (opt.splits && ls.size() <= kSplitGroupLimit && bs.size() <= kSplitGroupLimit) {
      // One ledger item = two billing items.
      for (std::uint32_t i : ls) {
        if (ldone(i)) continue;
        for (std::size_t a = 0; a < bs.size() && !ldone(i); ++a) {
          const std::uint32_t j1 = bs[a];
          if (bdone(j1) || !near(i, j1)) continue;
          for (std::size_t b = a + 1; b < bs.size(); ++b) {
            const std::uint32_t j2 = bs[b];
            if (bdone(j2) || !near(i, j2) || B.amount[j1] + B.amount[j2] != L.amount[i]) continue;
            pair(w, i, j1, Pass::split, 0);
            pair(w, i, j2, Pass::split, 0);
            lv[i].counterpart = j1;
            break;
          }
        }
      }
      // One billing item = two ledger items.
      for (std::uint32_t j : bs) {
        if (bdone(j)) continue;
        for (std::size_t a = 0; a < ls.size() && !bdone(j); ++a) {
          const std::uint32_t i1 = ls[a];
          if (ldone(i1) || !near(i1, j)) continue;
          for (std::size_t b = a + 1; b < ls.size(); ++b) {
            const std::uint32_t i2 = ls[b];
            if (ldone(i2) || !near(i2, j) || L.amount[i1] + L.amount[i2] != B.amount[j]) continue;
            pair(w, i1, j, Pass::split, 0);
            set_ledger(w, i2, lv[i1].outcome, Pass::split, j);
            break;
          }
        }
      }
    }
    // The same credit again: an unmatched billing item equal to a matched one.
    for (std::uint32_t j : bs) {
      if (bdone(j)) continue;
      auto it = std::lower_bound(matched.begin(), matched.end(), j, [&](std::uint32_t m, std::uint32_t x) {
        return std::tuple(B.customer[m], B.currency[m], B.amount[m], B.day[m]) <
               std::tuple(B.customer[x], B.currency[x], B.amount[x], B.day[x] - opt.days);
      });
      for (; it != matched.end(); ++it) {
        const std::uint32_t m = *it;
        if (B.customer[m] != B.customer[j] || B.currency[m] != B.currency[j] || B.amount[m] != B.amount[j] ||
            B.day[m] > B.day[j] + opt.days)
          break;
        set_billing(w, j, Outcome::duplicate, Pass::same_content, m);
        break;
      }
    }
    // One of each left in the window: the same credit, for another amount.
    std::int64_t lone_l = kNone, lone_b = kNone;
    int nl = 0, nb = 0;
    for (std::uint32_t i : ls)
      if (!ldone(i)) ++nl, lone_l = i;
    for (std::uint32_t j : bs)
      if (!bdone(j)) ++nb, lone_b = j;
    if (nl == 1 && nb == 1 && near(static_cast<std::size_t>(lone_l), static_cast<std::size_t>(lone_b))) {
      const std::int64_t diff = B.amount[static_cast<std::size_t>(lone_b)] - L.amount[static_cast<std::size_t>(lone_l)];
      set_ledger(w, static_cast<std::size_t>(lone_l), Outcome::amount_mismatch, Pass::only_candidate, lone_b, diff);
      set_billing(w, static_cast<std::size_t>(lone_b), Outcome::amount_mismatch, Pass::only_candidate, lone_l, diff);
    }
  }

  // The result columns, from the verdicts; what no pass decided is missing
  // in billing (ledger side), or missing in the ledger (billing side; a
  // voided or failed one is not applicable: nothing was given).
  Result finish() {
    Result r;
    for (Side* side : {&r.ledger, &r.billing}) {
      const std::size_t n = side == &r.ledger ? L.size() : B.size();
      side->outcome.resize(n);
      side->pass.resize(n);
      side->counterpart.resize(n);
      side->difference.resize(n);
    }
    parallel([&](unsigned t) {
      const auto [l0, l1] = slice(t, L.size());
      for (auto i = static_cast<std::size_t>(l0); i < static_cast<std::size_t>(l1); ++i)
        write(r.ledger, i, lv[i], Outcome::missing_in_billing);
      const auto [b0, b1] = slice(t, B.size());
      for (auto j = static_cast<std::size_t>(b0); j < static_cast<std::size_t>(b1); ++j)
        write(r.billing, j, bv[j], usable(B.status[j]) ? Outcome::missing_in_ledger : Outcome::not_applicable);
    });
    for (const auto& [i, difference] : ldiff) r.ledger.difference[i] = difference;
    for (const auto& [j, difference] : bdiff) r.billing.difference[j] = difference;
    return r;
  }
  static void write(Side& side, std::size_t k, const Verdict& v, Outcome left) {
    const bool done = v.state == kDone;
    side.outcome[k] = done ? v.outcome : left;
    side.pass[k] = done ? v.pass : Pass::none;
    side.counterpart[k] = !done || v.counterpart == kNo ? kNone : static_cast<std::int64_t>(v.counterpart);
    side.difference[k] = 0;
  }
};

}  // namespace

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::matched: return "matched";
    case Outcome::amount_mismatch: return "amount_mismatch";
    case Outcome::missing_in_billing: return "missing_in_billing";
    case Outcome::missing_in_ledger: return "missing_in_ledger";
    case Outcome::duplicate: return "duplicate";
    case Outcome::identical_duplicate: return "identical_duplicate";
    case Outcome::conflicting_duplicate: return "conflicting_duplicate";
    case Outcome::status_problem: return "status_problem";
    case Outcome::not_applicable: return "not_applicable";
  }
  return "matched";
}

std::string_view to_string(Pass pass) {
  switch (pass) {
    case Pass::none: return "none";
    case Pass::duplicate_id: return "duplicate_id";
    case Pass::reference: return "reference";
    case Pass::amount_and_date: return "amount_and_date";
    case Pass::tolerance: return "tolerance";
    case Pass::split: return "split";
    case Pass::same_content: return "same_content";
    case Pass::only_candidate: return "only_candidate";
  }
  return "none";
}

std::size_t Result::count(const Side& side, Outcome outcome) const {
  return static_cast<std::size_t>(std::count(side.outcome.begin(), side.outcome.end(), outcome));
}

Result match(const Items& ledger, const Items& billing, const Options& options) {
  check(ledger, "ledger", false);
  check(billing, "billing", true);
  if (options.amount_tolerance < 0 || options.days < 0)
    throw invalid_argument("the amount tolerance and the date window are not negative");
  if (billing.size() == 0 && !options.allow_empty_billing)
    throw invalid_argument(std::string(options.billing_name) +
                           " has no items: against it every ledger item would be missing in billing. Check that the "
                           "export is complete and covers the period; if the period really had no credits, say so by "
                           "allowing an empty billing side (allow_empty=True in Python, amends reconcile --allow-empty)");
  Engine e(ledger, billing, options);
  e.duplicate_ids();
  e.gather();
  e.by_reference();
  e.by_amount_and_date();
  e.by_group();
  e.claimed_by_conflicts();
  return e.finish();
}

}  // namespace amends::reconcile
