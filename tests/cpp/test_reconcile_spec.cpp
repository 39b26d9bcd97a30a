// The engine against its executable specification (reconcile_spec.cpp, the
// passes as first written): random workloads built to collide -- few
// customers and amounts, days bunched inside the window, repeated ids (with
// other content, and whole), references to other currencies and to nothing,
// every status, splits by accident -- under every coding of the ids the
// engine treats differently, on 1 to 4 threads. Every item's outcome, pass, counterpart and difference
// must be the specification's, exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "amends/reconcile.hpp"
#include "reconcile_spec.hpp"

namespace {

using amends::reconcile::Items;
using amends::reconcile::Options;
using amends::reconcile::Result;
using amends::reconcile::Side;
using amends::reconcile::to_string;

enum class Coding {
  identity,   // ledger ids 0..n-1 in order; billing ids in order of first appearance (what a factorize gives)
  shuffled,   // dense codes in no order, on both sides
  sparse,     // codes far apart: the engine's maps instead of its tables
};

struct Workload {
  std::vector<std::int64_t> l_id, l_customer, l_amount;
  std::vector<std::int32_t> l_currency, l_day;
  std::vector<std::int64_t> b_id, b_reference, b_customer, b_amount;
  std::vector<std::int32_t> b_currency, b_day;
  std::vector<std::uint8_t> b_status;

  Items ledger() const {
    Items it;
    it.id = l_id;
    it.customer = l_customer;
    it.currency = l_currency;
    it.amount = l_amount;
    it.day = l_day;
    return it;
  }
  Items billing() const {
    Items it;
    it.id = b_id;
    it.reference = b_reference;
    it.customer = b_customer;
    it.currency = b_currency;
    it.amount = b_amount;
    it.day = b_day;
    it.status = b_status;
    return it;
  }
};

struct Shape {
  std::size_t n;           // ledger items
  std::int64_t customers;  // few: groups collide
  std::int64_t amounts;    // distinct amounts to draw from: few make ties and accidental sums
  std::int32_t days;       // the spread of dates
  Coding coding;
};

Workload generate(const Shape& shape, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const std::size_t n = shape.n;
  const std::int64_t step = shape.coding == Coding::sparse ? 1'000'003 : 1;
  Workload w;
  std::vector<std::int64_t> code(n);
  std::iota(code.begin(), code.end(), 0);
  if (shape.coding != Coding::identity) std::shuffle(code.begin(), code.end(), rng);
  auto amount = [&] { return 100 * (1 + uniform(0, shape.amounts - 1)) + (chance(0.1) ? uniform(-4, 4) : 0); };
  for (std::size_t i = 0; i < n; ++i) {
    w.l_id.push_back(code[i] * step);
    w.l_customer.push_back(uniform(0, shape.customers - 1) * step);
    w.l_currency.push_back(static_cast<std::int32_t>(chance(0.8) ? 0 : 1));
    w.l_amount.push_back(amount());
    w.l_day.push_back(static_cast<std::int32_t>(20'000 + uniform(0, shape.days)));
  }
  if (n > 3 && chance(0.5)) w.l_id[n - 1] = w.l_id[0];  // a repeated request id: the first item keeps it
  auto status = [&]() -> std::uint8_t {
    const std::int64_t r = uniform(0, 99);
    return r < 80 ? 0 : r < 88 ? 1 : r < 95 ? 2 : 3;
  };
  auto add = [&](std::int64_t reference, std::int64_t customer, std::int32_t currency, std::int64_t amt, std::int32_t day) {
    w.b_reference.push_back(reference);
    w.b_customer.push_back(customer);
    w.b_currency.push_back(currency);
    w.b_amount.push_back(amt);
    w.b_day.push_back(day);
    w.b_status.push_back(status());
  };
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t shift = static_cast<std::int32_t>(uniform(-2, 6));
    const std::int64_t ref = chance(0.5) ? w.l_id[i] : -1;
    const std::int64_t r = uniform(0, 99);
    if (r < 70) {  // its credit, maybe for another amount
      add(ref, w.l_customer[i], w.l_currency[i], chance(0.9) ? w.l_amount[i] : w.l_amount[i] + uniform(-300, 300), w.l_day[i] + shift);
    } else if (r < 78) {  // split in two
      const std::int64_t part = std::max<std::int64_t>(1, w.l_amount[i] / uniform(2, 5));
      add(ref, w.l_customer[i], w.l_currency[i], part, w.l_day[i] + shift);
      add(chance(0.7) ? ref : -1, w.l_customer[i], w.l_currency[i], w.l_amount[i] - part, w.l_day[i] + shift + 1);
    } else if (r < 86) {  // twice
      add(ref, w.l_customer[i], w.l_currency[i], w.l_amount[i], w.l_day[i] + shift);
      add(chance(0.5) ? ref : -1, w.l_customer[i], w.l_currency[i], w.l_amount[i], w.l_day[i] + shift + static_cast<std::int32_t>(uniform(0, 4)));
    } else if (r < 90) {  // naming it, in the other currency or of another customer
      add(w.l_id[i], chance(0.5) ? w.l_customer[i] : uniform(0, shape.customers - 1) * step, 1 - w.l_currency[i], w.l_amount[i],
          w.l_day[i] + shift);
    }  // else: nothing in billing
  }
  // Credits nobody asked for, some naming requests that do not exist.
  for (std::size_t k = 0; k < n / 8 + 1; ++k)
    add(chance(0.3) ? static_cast<std::int64_t>(n + k) * step : -1, uniform(0, shape.customers - 1) * step,
        static_cast<std::int32_t>(chance(0.8) ? 0 : 1), amount(), static_cast<std::int32_t>(20'000 + uniform(0, shape.days)));
  // Shuffle the billing side, then give ids: some objects exported twice.
  const std::size_t m = w.b_amount.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  auto permute = [&](auto& column) {
    auto copy = column;
    for (std::size_t k = 0; k < m; ++k) column[k] = copy[order[k]];
  };
  permute(w.b_reference);
  permute(w.b_customer);
  permute(w.b_currency);
  permute(w.b_amount);
  permute(w.b_day);
  permute(w.b_status);
  std::vector<std::int64_t> ids(m);
  std::iota(ids.begin(), ids.end(), 0);
  if (shape.coding != Coding::identity) std::shuffle(ids.begin(), ids.end(), rng);
  std::int64_t next = 0;
  for (std::size_t k = 0; k < m; ++k) {
    // In first-appearance coding a repeat takes an earlier code; otherwise any earlier item's.
    if (k > 0 && chance(0.03)) {
      w.b_id.push_back(w.b_id[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(k) - 1))]);
    } else {
      w.b_id.push_back((shape.coding == Coding::identity ? next++ : ids[k]) * step);
    }
  }
  // And some exported twice whole: the same id and content, later in billing order.
  for (std::size_t k = 0; k < m / 40 + 1; ++k) {
    const auto r = static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(m) - 1));
    w.b_id.push_back(w.b_id[r]);
    w.b_reference.push_back(w.b_reference[r]);
    w.b_customer.push_back(w.b_customer[r]);
    w.b_currency.push_back(w.b_currency[r]);
    w.b_amount.push_back(w.b_amount[r]);
    w.b_day.push_back(w.b_day[r]);
    w.b_status.push_back(w.b_status[r]);
  }
  return w;
}

void expect_same(const Side& got, const Side& want, const char* side, const std::string& label) {
  ASSERT_EQ(got.outcome.size(), want.outcome.size()) << label << " " << side;
  std::size_t shown = 0;
  for (std::size_t k = 0; k < want.outcome.size(); ++k) {
    if (got.outcome[k] == want.outcome[k] && got.pass[k] == want.pass[k] && got.counterpart[k] == want.counterpart[k] &&
        got.difference[k] == want.difference[k])
      continue;
    ADD_FAILURE() << label << ": " << side << " item " << k << " is " << to_string(got.outcome[k]) << "/" << to_string(got.pass[k])
                  << " counterpart " << got.counterpart[k] << " difference " << got.difference[k] << "; the specification says "
                  << to_string(want.outcome[k]) << "/" << to_string(want.pass[k]) << " counterpart " << want.counterpart[k]
                  << " difference " << want.difference[k];
    if (++shown == 5) return;
  }
}

struct SpecCase {
  const char* name;
  Shape shape;
  int seeds;
};

class ReconcileSpec : public ::testing::TestWithParam<SpecCase> {};

TEST_P(ReconcileSpec, EveryItemAsTheSpecificationOnAnyNumberOfThreads) {
  const SpecCase& c = GetParam();
  std::size_t compared = 0;
  for (int seed = 1; seed <= c.seeds; ++seed) {
    const Workload w = generate(c.shape, static_cast<std::uint64_t>(seed) * 7919);
    for (const Options base : {Options{0, 3, true, false}, Options{5, 2, true, true}, Options{0, 0, false, false}}) {
      const Result want = amends::reconcile::spec::match(w.ledger(), w.billing(), base);
      for (unsigned threads : {1u, 2u, 3u, 4u}) {
        Options options = base;
        options.threads = threads;
        const Result got = amends::reconcile::match(w.ledger(), w.billing(), options);
        const std::string label = std::string(c.name) + " seed " + std::to_string(seed) + " tolerance " +
                                  std::to_string(base.amount_tolerance) + " days " + std::to_string(base.days) + " threads " +
                                  std::to_string(threads);
        expect_same(got.ledger, want.ledger, "ledger", label);
        expect_same(got.billing, want.billing, "billing", label);
        if (::testing::Test::HasFailure()) return;
        compared += got.ledger.outcome.size() + got.billing.outcome.size();
      }
    }
  }
  EXPECT_GT(compared, 0u);
}

const SpecCase kSpecCases[] = {
    {"TinyCrowded", {40, 2, 4, 6, Coding::identity}, 60},
    {"TinyCrowdedShuffled", {40, 2, 4, 6, Coding::shuffled}, 60},
    {"SmallCrowdedSparse", {300, 5, 10, 10, Coding::sparse}, 20},
    {"SmallManyAmounts", {500, 40, 400, 20, Coding::identity}, 20},
    {"MediumShuffled", {3'000, 60, 50, 30, Coding::shuffled}, 4},
    // More keys than one run of the reference pass (8,192): runs over threads.
    {"ManyRuns", {40'000, 2'000, 300, 60, Coding::identity}, 1},
    {"ManyRunsShuffled", {30'000, 500, 100, 60, Coding::shuffled}, 1},
};

std::string spec_case_name(const ::testing::TestParamInfo<SpecCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Reconcile, ReconcileSpec, ::testing::ValuesIn(kSpecCases), spec_case_name);

}  // namespace
