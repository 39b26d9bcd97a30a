// Reconciliation on a desk (amends/reconcile_run.hpp).
#include "amends/reconcile_run.hpp"

#include "amends/errors.hpp"

namespace amends::reconcile {

namespace {
constexpr std::int64_t kMicrosPerDay = 86'400'000'000;

std::int32_t utc_day(requests::Timestamp at) {
  std::int64_t day = at / kMicrosPerDay;
  if (at % kMicrosPerDay < 0) --day;
  return static_cast<std::int32_t>(day);
}
}  // namespace

LedgerItems ledger_items(const desk::Desk& desk, Date first, Date last) {
  LedgerItems out;
  for (const auto& [id, r] : desk.records()) {
    const requests::State state = r.state();
    if ((state != requests::State::applied && state != requests::State::reconciled) || !r.amount) continue;
    const auto& history = r.request.history();
    auto applied = history.rbegin();
    while (applied != history.rend() && applied->to != requests::State::applied) ++applied;
    if (applied == history.rend()) continue;
    const std::int32_t day = utc_day(applied->at);
    if (day < first.days_since_epoch() || day > last.days_since_epoch()) continue;
    const Decimal::rep minor = r.amount->minor_units();
    AMENDS_ASSERT(minor >= INT64_MIN && minor <= INT64_MAX);
    out.id.push_back(id);
    out.customer.push_back(r.request.content().customer.id);
    out.currency.emplace_back(r.amount->currency().code());
    out.kind.emplace_back(concessions::to_string(r.request.content().kind));
    out.state.emplace_back(requests::to_string(state));
    out.amount_minor.push_back(static_cast<std::int64_t>(minor));
    out.day.push_back(day);
  }
  return out;
}

std::int64_t record(desk::Desk& desk, desk::ReconciliationRun run, const Items& ledger, const Texts& ledger_text,
                    const SideView& ledger_result, const Items& billing, const Texts& billing_text,
                    const SideView& billing_result, const Report& report) {
  if (const desk::ReconciliationRun* existing = desk.find_run(run.inputs_sha256)) return existing->id;
  run.summary = report.summary_json();
  run.exceptions = static_cast<std::int64_t>(report.exceptions);
  std::vector<std::string> reconciled;
  reconciled.reserve(report.reconciled.size());
  for (std::size_t i : report.reconciled) reconciled.push_back(ledger_text.id(i));
  std::vector<ItemRow> items =
      item_rows(ledger, ledger_text, ledger_result, billing, billing_text, billing_result, report);
  return desk.record_run(std::move(run), reconciled, std::move(items), correction_rows(report)).id;
}

}  // namespace amends::reconcile
