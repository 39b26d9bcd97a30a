// The reconciliation passes as first written (and the rule for billing ids
// seen more than once, added since): straightforward, item by item, sorted
// searches, no threads. It is the executable specification the
// engine in cpp/src/reconcile.cpp is held to (test_reconcile_spec.cpp): the
// same outcome, pass, counterpart and difference for every item, on random
// workloads full of ties, repeats and collisions. It lives with the tests
// and is never used by amends itself.
#include "reconcile_spec.hpp"

#include <algorithm>
#include <compare>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <unordered_map>

#include "amends/errors.hpp"

namespace amends::reconcile::spec {

namespace {


constexpr std::int64_t kNone = -1;
// Splits are looked for among at most this many unmatched items of one
// customer and currency (pairs: quadratic).
constexpr std::size_t kSplitGroupLimit = 256;

bool usable(std::uint8_t status) {
  return status == static_cast<std::uint8_t>(Status::ok) || status == static_cast<std::uint8_t>(Status::pending);
}
bool pending(std::uint8_t status) { return status == static_cast<std::uint8_t>(Status::pending); }

std::int64_t abs64(std::int64_t v) { return v < 0 ? -v : v; }

void check(const Items& items, const char* side, bool billing) {
  const std::size_t n = items.size();
  auto same = [&](std::size_t size, const char* column) {
    if (size != n)
      throw invalid_argument(std::string("the ") + side + " column " + column + " has " + std::to_string(size) +
                             " values, not " + std::to_string(n));
  };
  same(items.id.size(), "id");
  same(items.customer.size(), "customer");
  same(items.currency.size(), "currency");
  same(items.day.size(), "day");
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
      table_.assign(static_cast<std::size_t>(max_code) + 1, kNone);
    } else {
      map_.reserve(expected);
    }
  }
  std::int64_t get(std::int64_t code) const {
    if (code < 0) return kNone;
    if (dense_) return code < static_cast<std::int64_t>(table_.size()) ? table_[static_cast<std::size_t>(code)] : kNone;
    auto it = map_.find(code);
    return it == map_.end() ? kNone : it->second;
  }
  // Sets the code's index unless it has one; returns the index it has.
  std::int64_t put(std::int64_t code, std::int64_t index) {
    if (dense_) {
      std::int64_t& slot = table_[static_cast<std::size_t>(code)];
      if (slot == kNone) slot = index;
      return slot;
    }
    return map_.try_emplace(code, index).first->second;
  }

 private:
  bool dense_ = false;
  std::vector<std::int64_t> table_;
  std::unordered_map<std::int64_t, std::int64_t> map_;
};

struct Engine {
  const Items& L;
  const Items& B;
  const Options& opt;
  Result r;
  std::vector<bool> ldone, bdone;

  Engine(const Items& ledger, const Items& billing, const Options& options) : L(ledger), B(billing), opt(options) {
    auto init = [](Side& s, std::size_t n) {
      s.outcome.assign(n, Outcome::matched);
      s.pass.assign(n, Pass::none);
      s.counterpart.assign(n, kNone);
      s.difference.assign(n, 0);
    };
    init(r.ledger, L.size());
    init(r.billing, B.size());
    ldone.assign(L.size(), false);
    bdone.assign(B.size(), false);
  }

  void set_billing(std::size_t j, Outcome o, Pass p, std::int64_t counterpart, std::int64_t difference = 0) {
    r.billing.outcome[j] = o;
    r.billing.pass[j] = p;
    r.billing.counterpart[j] = counterpart;
    r.billing.difference[j] = difference;
    bdone[j] = true;
  }
  void set_ledger(std::size_t i, Outcome o, Pass p, std::int64_t counterpart, std::int64_t difference = 0) {
    r.ledger.outcome[i] = o;
    r.ledger.pass[i] = p;
    r.ledger.counterpart[i] = counterpart;
    r.ledger.difference[i] = difference;
    ldone[i] = true;
  }
  // A match of ledger i with billing j (and more billing items in splits):
  // pending in billing is a status problem on both sides.
  void pair(std::size_t i, std::size_t j, Pass p, std::int64_t difference) {
    const bool wait = pending(B.status[j]);
    set_billing(j, wait ? Outcome::status_problem : Outcome::matched, p, static_cast<std::int64_t>(i), difference);
    if (!ldone[i] || r.ledger.outcome[i] == Outcome::matched)
      set_ledger(i, wait ? Outcome::status_problem : Outcome::matched, p, static_cast<std::int64_t>(j), difference);
  }
  bool near(std::size_t i, std::size_t j) const { return std::abs(L.day[i] - B.day[j]) <= opt.days; }

  // Billing ids seen more than once: all of one content, the first counts
  // and the repeats are identical duplicates; otherwise none counts.
  std::vector<std::uint32_t> conflicting;  // in billing order

  void duplicate_ids() {
    std::unordered_map<std::int64_t, std::vector<std::uint32_t>> items_of;
    for (std::size_t j = 0; j < B.size(); ++j) items_of[B.id[j]].push_back(static_cast<std::uint32_t>(j));
    auto same = [&](std::size_t a, std::size_t b) {
      return std::tuple(B.reference[a], B.customer[a], B.currency[a], B.amount[a], B.day[a], B.status[a]) ==
             std::tuple(B.reference[b], B.customer[b], B.currency[b], B.amount[b], B.day[b], B.status[b]);
    };
    for (const auto& [id, items] : items_of) {
      if (items.size() < 2) continue;
      const std::uint32_t f = items[0];
      const bool identical = std::all_of(items.begin() + 1, items.end(), [&](std::uint32_t j) { return same(j, f); });
      for (std::size_t k = 1; k < items.size(); ++k)
        set_billing(items[k], identical ? Outcome::identical_duplicate : Outcome::conflicting_duplicate, Pass::duplicate_id, f);
      if (!identical) {
        set_billing(f, Outcome::conflicting_duplicate, Pass::duplicate_id, items[1]);
        conflicting.insert(conflicting.end(), items.begin(), items.end());
      }
    }
    std::sort(conflicting.begin(), conflicting.end());
  }

  // What conflicting billing items would settle, of what nothing settled:
  // the ledger item one names by reference, else one of its customer and
  // currency in the window; the first such billing item is the counterpart.
  void claimed_by_conflicts() {
    std::int64_t max_code = -1;
    for (std::int64_t id : L.id) max_code = std::max(max_code, id);
    CodeIndex ledger_of(max_code, L.size());
    for (std::size_t i = 0; i < L.size(); ++i) ledger_of.put(L.id[i], static_cast<std::int64_t>(i));
    for (std::uint32_t j : conflicting) {
      const std::int64_t i = ledger_of.get(B.reference[j]);
      if (i == kNone) continue;
      const auto k = static_cast<std::size_t>(i);
      if (ldone[k] || B.currency[j] != L.currency[k] || (opt.reference_needs_customer && B.customer[j] != L.customer[k])) continue;
      set_ledger(k, Outcome::conflicting_duplicate, Pass::duplicate_id, j);
    }
    for (std::size_t i = 0; i < L.size(); ++i) {
      if (ldone[i]) continue;
      for (std::uint32_t j : conflicting) {
        if (B.customer[j] != L.customer[i] || B.currency[j] != L.currency[i] || !near(i, j)) continue;
        set_ledger(i, Outcome::conflicting_duplicate, Pass::duplicate_id, j);
        break;
      }
    }
  }

  void by_reference() {
    std::int64_t max_code = -1;
    for (std::int64_t id : L.id) max_code = std::max(max_code, id);
    CodeIndex ledger_of(max_code, L.size());
    for (std::size_t i = 0; i < L.size(); ++i) ledger_of.put(L.id[i], static_cast<std::int64_t>(i));
    // Billing items per ledger item (counting sort keeps billing order).
    std::vector<std::int64_t> target(B.size(), kNone);
    std::vector<std::uint32_t> count(L.size() + 1, 0);
    for (std::size_t j = 0; j < B.size(); ++j) {
      if (bdone[j] || B.reference[j] < 0) continue;
      const std::int64_t i = ledger_of.get(B.reference[j]);
      // A reference to a request in another currency (or of another customer, when asked) is not its credit.
      if (i == kNone || B.currency[j] != L.currency[static_cast<std::size_t>(i)] ||
          (opt.reference_needs_customer && B.customer[j] != L.customer[static_cast<std::size_t>(i)]))
        continue;
      target[j] = i;
      ++count[static_cast<std::size_t>(i) + 1];
    }
    std::partial_sum(count.begin(), count.end(), count.begin());
    std::vector<std::uint32_t> items(count.back());
    std::vector<std::uint32_t> fill(count.begin(), count.end() - 1);
    for (std::size_t j = 0; j < B.size(); ++j)
      if (target[j] != kNone) items[fill[static_cast<std::size_t>(target[j])]++] = static_cast<std::uint32_t>(j);
    std::vector<std::uint32_t> ok;
    for (std::size_t i = 0; i < L.size(); ++i) {
      const std::uint32_t from = count[i], to = count[i + 1];
      if (from == to) continue;
      ok.clear();
      std::int64_t first_bad = kNone;
      for (std::uint32_t k = from; k < to; ++k) {
        const std::uint32_t j = items[k];
        if (usable(B.status[j])) {
          ok.push_back(j);
        } else {
          set_billing(j, Outcome::status_problem, Pass::reference, static_cast<std::int64_t>(i), B.amount[j] - L.amount[i]);
          if (first_bad == kNone) first_bad = j;
        }
      }
      if (ok.empty()) {
        set_ledger(i, Outcome::status_problem, Pass::reference, first_bad, -L.amount[i]);
        continue;
      }
      std::int64_t sum = 0;
      for (std::uint32_t j : ok) sum += B.amount[j];
      const std::int64_t diff = sum - L.amount[i];
      if (abs64(diff) <= opt.amount_tolerance) {
        for (std::uint32_t j : ok) pair(i, j, Pass::reference, diff);
        r.ledger.counterpart[i] = ok.front();
        continue;
      }
      // One of them is the whole amount: the others repeat it or differ.
      auto whole = std::find_if(ok.begin(), ok.end(),
                                [&](std::uint32_t j) { return abs64(B.amount[j] - L.amount[i]) <= opt.amount_tolerance; });
      if (whole != ok.end()) {
        const std::uint32_t keep = *whole;
        pair(i, keep, Pass::reference, B.amount[keep] - L.amount[i]);
        for (std::uint32_t j : ok) {
          if (j == keep) continue;
          if (B.amount[j] == B.amount[keep]) {
            set_billing(j, Outcome::duplicate, Pass::reference, keep);
          } else {
            set_billing(j, Outcome::amount_mismatch, Pass::reference, static_cast<std::int64_t>(i), B.amount[j]);
          }
        }
        continue;
      }
      set_ledger(i, Outcome::amount_mismatch, Pass::reference, ok.front(), diff);
      for (std::uint32_t j : ok) set_billing(j, Outcome::amount_mismatch, Pass::reference, static_cast<std::int64_t>(i), diff);
    }
  }

  // An unmatched ledger item, copied out so that the search runs over contiguous memory.
  struct Open {
    std::int64_t customer;
    std::int64_t amount;
    std::int32_t currency;
    std::int32_t day;
    std::uint32_t index;
  };

  // Unmatched ledger items sorted by (customer, currency, amount, day).
  std::vector<Open> open_ledger() const {
    std::vector<Open> out;
    for (std::size_t i = 0; i < L.size(); ++i)
      if (!ldone[i]) out.push_back({L.customer[i], L.amount[i], L.currency[i], L.day[i], static_cast<std::uint32_t>(i)});
    std::sort(out.begin(), out.end(), [](const Open& a, const Open& b) {
      return std::tie(a.customer, a.currency, a.amount, a.day, a.index) < std::tie(b.customer, b.currency, b.amount, b.day, b.index);
    });
    return out;
  }

  // The open ledger item of the billing item's customer and currency with
  // an amount in [low, high] nearest in days (within the window), or none.
  std::int64_t nearest(const std::vector<Open>& sorted, std::size_t j, std::int64_t low, std::int64_t high) const {
    const std::int64_t customer = B.customer[j];
    const std::int32_t currency = B.currency[j];
    auto it = std::lower_bound(sorted.begin(), sorted.end(), low, [&](const Open& o, std::int64_t amount) {
      return std::tie(o.customer, o.currency, o.amount) < std::tie(customer, currency, amount);
    });
    std::int64_t best = kNone;
    std::int64_t best_score = std::numeric_limits<std::int64_t>::max();
    for (; it != sorted.end(); ++it) {
      if (it->customer != customer || it->currency != currency || it->amount > high) break;
      const std::int64_t days = std::abs(it->day - B.day[j]);
      if (ldone[it->index] || days > opt.days) continue;
      // Nearest day first, then the smaller amount difference.
      const std::int64_t score = days * (2 * opt.amount_tolerance + 1) + abs64(it->amount - B.amount[j]);
      if (score < best_score) {
        best_score = score;
        best = it->index;
      }
    }
    return best;
  }

  void by_amount_and_date() {
    const std::vector<Open> sorted = open_ledger();
    if (sorted.empty()) return;
    for (std::size_t j = 0; j < B.size(); ++j) {
      if (bdone[j] || !usable(B.status[j])) continue;
      const std::int64_t i = nearest(sorted, j, B.amount[j], B.amount[j]);
      if (i != kNone) pair(static_cast<std::size_t>(i), j, Pass::amount_and_date, 0);
    }
    if (opt.amount_tolerance <= 0) return;
    for (std::size_t j = 0; j < B.size(); ++j) {
      if (bdone[j] || !usable(B.status[j])) continue;
      const std::int64_t i = nearest(sorted, j, B.amount[j] - opt.amount_tolerance, B.amount[j] + opt.amount_tolerance);
      if (i != kNone) pair(static_cast<std::size_t>(i), j, Pass::tolerance, B.amount[j] - L.amount[static_cast<std::size_t>(i)]);
    }
  }

  // What is left, per customer and currency.
  void by_group() {
    std::vector<std::uint32_t> ls, bs;
    for (std::size_t i = 0; i < L.size(); ++i)
      if (!ldone[i]) ls.push_back(static_cast<std::uint32_t>(i));
    for (std::size_t j = 0; j < B.size(); ++j)
      if (!bdone[j] && usable(B.status[j])) bs.push_back(static_cast<std::uint32_t>(j));
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
      group({ls.data() + li, lend - li}, {bs.data() + bi, bend - bi}, matched);
      bi = bend;
      li = lend;
    }
  }

  struct Key {
    std::int64_t customer;
    std::int32_t currency;
    std::int64_t amount;
    auto operator<=>(const Key&) const = default;
  };

  // The matched billing items an open one could repeat (the same customer,
  // currency and amount), sorted by (customer, currency, amount, day).
  std::vector<std::uint32_t> matched_billing(const std::vector<std::uint32_t>& open) const {
    std::vector<Key> keys;
    keys.reserve(open.size());
    for (std::uint32_t j : open) keys.push_back({B.customer[j], B.currency[j], B.amount[j]});
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::vector<std::uint32_t> out;
    for (std::size_t j = 0; j < B.size(); ++j)
      if (bdone[j] && r.billing.outcome[j] == Outcome::matched &&
          std::binary_search(keys.begin(), keys.end(), Key{B.customer[j], B.currency[j], B.amount[j]}))
        out.push_back(static_cast<std::uint32_t>(j));
    std::sort(out.begin(), out.end(), [&](std::uint32_t a, std::uint32_t b) {
      return std::tuple(B.customer[a], B.currency[a], B.amount[a], B.day[a], a) <
             std::tuple(B.customer[b], B.currency[b], B.amount[b], B.day[b], b);
    });
    return out;
  }

  void group(std::span<const std::uint32_t> ls, std::span<const std::uint32_t> bs, const std::vector<std::uint32_t>& matched) {
    if (opt.splits && ls.size() <= kSplitGroupLimit && bs.size() <= kSplitGroupLimit) {
      // One ledger item = two billing items.
      for (std::uint32_t i : ls) {
        if (ldone[i]) continue;
        for (std::size_t a = 0; a < bs.size() && !ldone[i]; ++a) {
          const std::uint32_t j1 = bs[a];
          if (bdone[j1] || !near(i, j1)) continue;
          for (std::size_t b = a + 1; b < bs.size(); ++b) {
            const std::uint32_t j2 = bs[b];
            if (bdone[j2] || !near(i, j2) || B.amount[j1] + B.amount[j2] != L.amount[i]) continue;
            pair(i, j1, Pass::split, 0);
            pair(i, j2, Pass::split, 0);
            r.ledger.counterpart[i] = j1;
            break;
          }
        }
      }
      // One billing item = two ledger items.
      for (std::uint32_t j : bs) {
        if (bdone[j]) continue;
        for (std::size_t a = 0; a < ls.size() && !bdone[j]; ++a) {
          const std::uint32_t i1 = ls[a];
          if (ldone[i1] || !near(i1, j)) continue;
          for (std::size_t b = a + 1; b < ls.size(); ++b) {
            const std::uint32_t i2 = ls[b];
            if (ldone[i2] || !near(i2, j) || L.amount[i1] + L.amount[i2] != B.amount[j]) continue;
            pair(i1, j, Pass::split, 0);
            set_ledger(i2, r.ledger.outcome[i1], Pass::split, j);
            break;
          }
        }
      }
    }
    // The same credit again: an unmatched billing item equal to a matched one.
    for (std::uint32_t j : bs) {
      if (bdone[j]) continue;
      auto it = std::lower_bound(matched.begin(), matched.end(), j, [&](std::uint32_t m, std::uint32_t x) {
        return std::tuple(B.customer[m], B.currency[m], B.amount[m], B.day[m]) <
               std::tuple(B.customer[x], B.currency[x], B.amount[x], B.day[x] - opt.days);
      });
      for (; it != matched.end(); ++it) {
        const std::uint32_t m = *it;
        if (B.customer[m] != B.customer[j] || B.currency[m] != B.currency[j] || B.amount[m] != B.amount[j] ||
            B.day[m] > B.day[j] + opt.days)
          break;
        set_billing(j, Outcome::duplicate, Pass::same_content, m);
        break;
      }
    }
    // One of each left in the window: the same credit, for another amount.
    std::int64_t lone_l = kNone, lone_b = kNone;
    int nl = 0, nb = 0;
    for (std::uint32_t i : ls)
      if (!ldone[i]) ++nl, lone_l = i;
    for (std::uint32_t j : bs)
      if (!bdone[j]) ++nb, lone_b = j;
    if (nl == 1 && nb == 1 && near(static_cast<std::size_t>(lone_l), static_cast<std::size_t>(lone_b))) {
      const std::int64_t diff = B.amount[static_cast<std::size_t>(lone_b)] - L.amount[static_cast<std::size_t>(lone_l)];
      set_ledger(static_cast<std::size_t>(lone_l), Outcome::amount_mismatch, Pass::only_candidate, lone_b, diff);
      set_billing(static_cast<std::size_t>(lone_b), Outcome::amount_mismatch, Pass::only_candidate, lone_l, diff);
    }
  }

  void rest() {
    for (std::size_t i = 0; i < L.size(); ++i)
      if (!ldone[i]) set_ledger(i, Outcome::missing_in_billing, Pass::none, kNone);
    for (std::size_t j = 0; j < B.size(); ++j)
      if (!bdone[j])
        set_billing(j, usable(B.status[j]) ? Outcome::missing_in_ledger : Outcome::not_applicable, Pass::none, kNone);
  }
};

}  // namespace

Result match(const Items& ledger, const Items& billing, const Options& options) {
  check(ledger, "ledger", false);
  check(billing, "billing", true);
  if (options.amount_tolerance < 0 || options.days < 0)
    throw invalid_argument("the amount tolerance and the date window are not negative");
  if (billing.size() == 0 && !options.allow_empty_billing)
    throw invalid_argument(std::string(options.billing_name) + " has no items");
  Engine e(ledger, billing, options);
  e.duplicate_ids();
  e.by_reference();
  e.by_amount_and_date();
  e.by_group();
  e.claimed_by_conflicts();
  e.rest();
  return std::move(e.r);
}

}  // namespace amends::reconcile::spec
