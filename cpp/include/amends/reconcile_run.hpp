// Reconciliation on a desk: the ledger side of a period (the applied
// concessions), and recording a run once per inputs checksum.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "amends/calendar.hpp"
#include "amends/desk.hpp"
#include "amends/reconcile_report.hpp"

namespace amends::reconcile {

// The requests of `desk` that are applied or reconciled (a run's inputs are
// the same either way), have an amount, and whose last move to applied is
// dated (UTC) first..last; in id order.
struct LedgerItems {
  std::vector<std::string> id, customer, currency, kind, state;
  std::vector<std::int64_t> amount_minor;  // the amount granted, in the currency's minor unit
  std::vector<std::int32_t> day;           // of the application, days since 1970-01-01
  std::size_t size() const { return id.size(); }
};
LedgerItems ledger_items(const desk::Desk& desk, Date first, Date last);

// Records a run unless one of the same inputs_sha256 is recorded already
// (then its id, and nothing changes): the run, its items and corrections,
// and the matched requests moved to reconciled, in one Desk::record_run.
// Called under the book's write lock, caught up, it records each inputs once.
std::int64_t record(desk::Desk& desk, desk::ReconciliationRun run, const Items& ledger, const Texts& ledger_text,
                    const SideView& ledger_result, const Items& billing, const Texts& billing_text,
                    const SideView& billing_result, const Report& report);

}  // namespace amends::reconcile
