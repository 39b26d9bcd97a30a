// The judgement around the matching engine: reasons, corrections, summary,
// a run's rows and its inputs checksum (amends/reconcile_report.hpp).
#include "amends/reconcile_report.hpp"

#include <openssl/evp.h>

#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "amends/calendar.hpp"
#include "amends/detail/json_string.hpp"
#include "amends/errors.hpp"
#include "amends/money.hpp"

namespace amends::reconcile {

std::string_view to_string(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::void_: return "void";
    case Status::failed: return "failed";
    case Status::pending: return "pending";
  }
  return "ok";
}

std::string_view to_string(Action action) {
  switch (action) {
    case Action::apply_in_billing: return "apply_in_billing";
    case Action::investigate_unauthorised: return "investigate_unauthorised";
    case Action::reverse_refund: return "reverse_refund";
    case Action::reissue_or_reverse: return "reissue_or_reverse";
    case Action::void_duplicate: return "void_duplicate";
    case Action::resolve_conflicting_id: return "resolve_conflicting_id";
    case Action::check_repeated_id: return "check_repeated_id";
    case Action::adjust: return "adjust";
  }
  return "adjust";
}

namespace {

constexpr std::array<Outcome, 7> kExceptions{Outcome::missing_in_ledger, Outcome::conflicting_duplicate,
                                             Outcome::status_problem,    Outcome::duplicate,
                                             Outcome::identical_duplicate, Outcome::amount_mismatch,
                                             Outcome::missing_in_billing};

bool same_side(Outcome o) {
  return o == Outcome::duplicate || o == Outcome::identical_duplicate || o == Outcome::conflicting_duplicate;
}

// `minor` units of 10^-places as a decimal ("50.00", "-0.05", "5000"), with "+" for a non-negative one when asked.
std::string decimal(std::int64_t minor, int places, bool plus = false) {
  const bool negative = minor < 0;
  const auto magnitude = negative ? 0ULL - static_cast<unsigned long long>(minor) : static_cast<unsigned long long>(minor);
  std::string digits = std::to_string(magnitude);
  if (places > 0) {
    if (digits.size() <= static_cast<std::size_t>(places))
      digits.insert(0, static_cast<std::size_t>(places) + 1 - digits.size(), '0');
    digits.insert(digits.size() - static_cast<std::size_t>(places), 1, '.');
  }
  if (negative) return "-" + digits;
  return plus ? "+" + digits : digits;
}

std::string signed_integer(std::int64_t v) { return (v >= 0 ? "+" : "") + std::to_string(v); }

// What the reasons of one side read: its items, strings, result and currencies' minor units.
struct Reader {
  const Items& items;
  const Texts& text;
  const SideView& result;
  std::unordered_map<std::int32_t, int> places{};

  int places_of(std::size_t i) {
    auto found = places.find(items.currency[i]);
    if (found != places.end()) return found->second;
    const int p = Currency::of(text.currency(i)).minor_units();
    places.emplace(items.currency[i], p);
    return p;
  }
};

struct Namer {
  const Texts& ledger;
  const Texts& billing;
  std::size_t ledger_size;
  std::string operator()(std::int64_t position) const {
    if (position < 0) return {};
    const auto p = static_cast<std::size_t>(position);
    return p < ledger_size ? ledger.id(p) : billing.id(p - ledger_size);
  }
};

std::string reason_of(Reader& r, std::size_t i, bool billing, const std::string& cp, std::int32_t days) {
  const int p = r.places_of(i);
  const std::string currency = r.text.currency(i);
  const std::string amount = decimal(r.items.amount[i], p) + " " + currency;
  const std::string diff = decimal(r.result.difference[i], p, true) + " " + currency;
  switch (r.result.outcome[i]) {
    case Outcome::matched: return "matched " + cp;
    case Outcome::amount_mismatch:
      return amount + " here, but " + cp + " differs by " + diff +
             (r.result.pass[i] == Pass::only_candidate
                  ? " (the only candidate of this customer and currency within " + std::to_string(days) + " days)"
                  : "");
    case Outcome::missing_in_billing:
      return "approved and applied (" + amount + ") but not found in billing within " + std::to_string(days) +
             " days: the credit was never applied";
    case Outcome::missing_in_ledger:
      return amount + " credited to " + r.text.customer(i) + " in billing with no authorised request in the ledger";
    case Outcome::duplicate: return "the same " + amount + " as " + cp;
    case Outcome::identical_duplicate:
      return cp + " again, the same " + amount + " and everything else: counted once; billing may have issued it twice";
    case Outcome::conflicting_duplicate:
      if (billing)
        return r.text.id(i) + " is in billing more than once with different content (here " + amount + " on " +
               Date::from_days(r.items.day[i]).to_string() + ", " +
               std::string(to_string(static_cast<Status>(r.items.status[i]))) + "): none of them is matched";
      return "billing holds " + cp + " more than once with different content: whether it settles this request can't be told";
    case Outcome::status_problem:
      if (billing)
        return r.text.raw_status(i) + " in billing (" + std::string(to_string(static_cast<Status>(r.items.status[i]))) +
               ") for " + cp;
      return "the billing item for it (" + cp + ") is not final or was undone";
    case Outcome::not_applicable: break;
  }
  return (billing ? r.text.raw_status(i) : std::string()) + " in billing and not in the ledger: nothing was given";
}

std::string_view pass_words(Pass pass) {
  switch (pass) {
    case Pass::reference: return "matched by reference";
    case Pass::amount_and_date: return "matched by customer, amount and date";
    case Pass::tolerance: return "matched within the amount tolerance";
    case Pass::split: return "matched as part of a split";
    default: return "matched";
  }
}

// Counterparts as positions among ledger then billing items, reasons, counts.
void describe(Report& out, Reader& r, bool billing, std::size_t ledger_size, const Namer& name, std::int32_t days) {
  const std::size_t n = r.result.size();
  auto& reasons = billing ? out.billing_reason : out.ledger_reason;
  auto& counterparts = billing ? out.billing_counterpart : out.ledger_counterpart;
  reasons.resize(n);
  counterparts.resize(n);
  auto& counts = out.counts[billing ? 1 : 0];
  for (std::size_t i = 0; i < n; ++i) {
    const Outcome o = r.result.outcome[i];
    const std::int64_t cp = r.result.counterpart[i];
    const bool own = billing && same_side(o);
    counterparts[i] = cp < 0 ? -1 : ((billing == own) ? cp + static_cast<std::int64_t>(ledger_size) : cp);
    ++counts[static_cast<std::size_t>(o)];
    if (is_exception(o)) ++out.exceptions;
    if (o == Outcome::matched) {
      reasons[i] = static_cast<std::int32_t>(r.result.pass[i]);
      if (!billing) out.reconciled.push_back(i);
      continue;
    }
    reasons[i] = static_cast<std::int32_t>(out.texts.size());
    out.texts.push_back(reason_of(r, i, billing, name(counterparts[i]), days));
  }
}

}  // namespace

std::span<const Outcome> exceptions() { return kExceptions; }

bool is_exception(Outcome outcome) {
  for (Outcome o : kExceptions)
    if (o == outcome) return true;
  return false;
}

SideView view(const Side& side) { return {side.outcome, side.pass, side.counterpart, side.difference}; }

namespace {

Correction correction(Action action, std::string request, std::string billing_id, std::int64_t amount,
                      std::string currency, std::string reason) {
  return Correction{action, std::move(request), std::move(billing_id), amount, std::move(currency), std::move(reason)};
}

// The corrections of the ledger side's missing and billing-only items, and of billing's status problems.
void propose_first(Report& out, const Items& ledger, const Texts& lt, const SideView& lr, const Items& billing,
                   const Texts& bt, const SideView& br) {
  for (std::size_t i = 0; i < lr.size(); ++i)
    if (lr.outcome[i] == Outcome::missing_in_billing) {
      const std::string id = lt.id(i);
      out.corrections.push_back(correction(Action::apply_in_billing, id, "", ledger.amount[i], lt.currency(i),
                                           id + " was approved and applied in the ledger but billing has no credit for "
                                                "it: apply it in billing"));
    }
  for (std::size_t i = 0; i < br.size(); ++i)
    if (br.outcome[i] == Outcome::missing_in_ledger) {
      const std::string id = bt.id(i);
      out.corrections.push_back(correction(Action::investigate_unauthorised, "", id, billing.amount[i], bt.currency(i),
                                           bt.object(i) + " " + id + " credited customer " + bt.customer(i) +
                                               " without an authorised request: void it in billing, or submit a "
                                               "request for it"));
    }
  // A request another billing item settled (a failed refund retried) has nothing to undo.
  std::unordered_set<std::int64_t> settled;
  for (std::size_t i = 0; i < lr.size(); ++i)
    if (lr.outcome[i] == Outcome::matched) settled.insert(ledger.id[i]);
  for (std::size_t i = 0; i < br.size(); ++i) {
    if (br.outcome[i] != Outcome::status_problem) continue;
    const std::int64_t cp = br.counterpart[i];
    if (cp >= 0 && settled.contains(ledger.id[static_cast<std::size_t>(cp)])) continue;
    const std::string request = cp >= 0 ? lt.id(static_cast<std::size_t>(cp)) : std::string();
    const auto status = static_cast<Status>(billing.status[i]);
    const std::string id = bt.id(i), object = bt.object(i);
    if (status == Status::failed && object == "refund")
      out.corrections.push_back(correction(Action::reverse_refund, request, id, billing.amount[i], bt.currency(i),
                                           "refund " + id + " failed in billing: reverse the refund posted for " + request));
    else if (status == Status::void_)
      out.corrections.push_back(correction(Action::reissue_or_reverse, request, id, billing.amount[i], bt.currency(i),
                                           object + " " + id + " was voided in billing: reissue it, or reverse " + request));
  }
}

// The corrections of billing's repeats and of the amounts that differ.
void propose_rest(Report& out, const Items& ledger, const Texts& lt, const SideView& lr, const Items& billing,
                  const Texts& bt, const SideView& br) {
  auto own = [&](std::size_t i) { return br.counterpart[i] >= 0 ? bt.id(static_cast<std::size_t>(br.counterpart[i])) : ""; };
  auto other = [&](std::int64_t cp) { return cp >= 0 ? lt.id(static_cast<std::size_t>(cp)) : std::string(); };
  for (std::size_t i = 0; i < br.size(); ++i)
    if (br.outcome[i] == Outcome::duplicate)
      out.corrections.push_back(correction(Action::void_duplicate, "", bt.id(i), billing.amount[i], bt.currency(i),
                                           bt.object(i) + " " + bt.id(i) + " repeats " + own(i) + ": void it in billing"));
  for (std::size_t i = 0; i < br.size(); ++i)
    if (br.outcome[i] == Outcome::conflicting_duplicate)
      out.corrections.push_back(correction(
          Action::resolve_conflicting_id, bt.reference(i), bt.id(i), billing.amount[i], bt.currency(i),
          bt.object(i) + " " + bt.id(i) + " is in the billing export more than once with different content, this row for " +
              std::to_string(billing.amount[i]) + " minor units: find what billing holds, correct the export and run again"));
  for (std::size_t i = 0; i < br.size(); ++i)
    if (br.outcome[i] == Outcome::identical_duplicate)
      out.corrections.push_back(correction(Action::check_repeated_id, "", bt.id(i), billing.amount[i], bt.currency(i),
                                           bt.object(i) + " " + bt.id(i) +
                                               " is in the billing export twice, the same in every field; it was counted "
                                               "once: if billing issued it twice, void the repeat in billing"));
  std::unordered_set<std::int64_t> mismatched;
  for (std::size_t i = 0; i < lr.size(); ++i) {
    if (lr.outcome[i] != Outcome::amount_mismatch) continue;
    mismatched.insert(ledger.id[i]);
    const std::string id = lt.id(i);
    const std::int64_t cp = lr.counterpart[i];
    out.corrections.push_back(correction(Action::adjust, id, cp >= 0 ? bt.id(static_cast<std::size_t>(cp)) : "",
                                         lr.difference[i], lt.currency(i),
                                         "billing credited " + signed_integer(lr.difference[i]) + " minor units against " +
                                             id + ": correct one side"));
  }
  for (std::size_t i = 0; i < br.size(); ++i) {
    if (br.outcome[i] != Outcome::amount_mismatch) continue;
    const std::int64_t cp = br.counterpart[i];
    if (cp >= 0 && mismatched.contains(ledger.id[static_cast<std::size_t>(cp)])) continue;
    const std::string request = other(cp);
    out.corrections.push_back(correction(Action::adjust, request, bt.id(i), br.difference[i], bt.currency(i),
                                         bt.object(i) + " " + bt.id(i) + " credited " + signed_integer(br.difference[i]) +
                                             " minor units against " + request +
                                             ", already settled by another item: void or correct it"));
  }
}

void check_side(const Items& items, const SideView& result, const char* side) {
  if (result.size() != items.size() || result.pass.size() != items.size() || result.counterpart.size() != items.size() ||
      result.difference.size() != items.size())
    throw invalid_argument(std::string("the ") + side + " result has another number of items than its inputs");
}

}  // namespace

Report report(const Items& ledger, const Texts& ledger_text, const SideView& ledger_result, const Items& billing,
              const Texts& billing_text, const SideView& billing_result, std::int32_t days) {
  check_side(ledger, ledger_result, "ledger");
  check_side(billing, billing_result, "billing");
  Report out;
  for (std::size_t p = 0; p < kPasses; ++p) out.texts.emplace_back(pass_words(static_cast<Pass>(p)));
  const Namer name{ledger_text, billing_text, ledger.size()};
  Reader l{ledger, ledger_text, ledger_result};
  Reader b{billing, billing_text, billing_result};
  describe(out, l, false, ledger.size(), name, days);
  describe(out, b, true, ledger.size(), name, days);
  propose_first(out, ledger, ledger_text, ledger_result, billing, billing_text, billing_result);
  propose_rest(out, ledger, ledger_text, ledger_result, billing, billing_text, billing_result);
  return out;
}

std::string Report::summary_json() const {
  const std::size_t sizes[2] = {ledger_reason.size(), billing_reason.size()};
  std::string out = "{\"ledger_items\": " + std::to_string(sizes[0]) + ", \"billing_items\": " + std::to_string(sizes[1]) +
                    ", \"exceptions\": " + std::to_string(exceptions);
  for (std::size_t side = 0; side < 2; ++side)
    for (std::size_t o = 0; o < kOutcomes; ++o)
      if (counts[side][o])
        out += std::string(", \"") + (side ? "billing_" : "ledger_") + std::string(to_string(static_cast<Outcome>(o))) +
               "\": " + std::to_string(counts[side][o]);
  return out + "}";
}

std::vector<ItemRow> item_rows(const Items& ledger, const Texts& ledger_text, const SideView& ledger_result,
                               const Items& billing, const Texts& billing_text, const SideView& billing_result,
                               const Report& report) {
  AMENDS_ASSERT(report.ledger_reason.size() == ledger.size() && report.billing_reason.size() == billing.size());
  const Namer name{ledger_text, billing_text, ledger.size()};
  std::vector<ItemRow> rows;
  rows.reserve(ledger.size() + billing.size());
  for (int side = 0; side < 2; ++side) {
    const bool b = side == 1;
    const Items& items = b ? billing : ledger;
    const Texts& text = b ? billing_text : ledger_text;
    const SideView& result = b ? billing_result : ledger_result;
    const auto& reasons = b ? report.billing_reason : report.ledger_reason;
    const auto& counterparts = b ? report.billing_counterpart : report.ledger_counterpart;
    for (std::size_t i = 0; i < items.size(); ++i)
      rows.push_back(ItemRow{b, static_cast<std::int64_t>(i), text.id(i), text.customer(i), text.currency(i),
                             items.amount[i], items.day[i], result.outcome[i], result.pass[i], name(counterparts[i]),
                             result.difference[i], report.texts[static_cast<std::size_t>(reasons[i])]});
  }
  return rows;
}

std::vector<CorrectionRow> correction_rows(const Report& report) {
  std::vector<CorrectionRow> rows;
  rows.reserve(report.corrections.size());
  for (const Correction& c : report.corrections) rows.push_back(CorrectionRow{static_cast<std::int64_t>(rows.size()) + 1, c});
  return rows;
}

// ------------------------------------------------------------------ checksum

namespace {

class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    AMENDS_ASSERT(ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1);
  }
  void number(std::uint64_t n) {
    unsigned char bytes[8];
    for (int k = 0; k < 8; ++k) bytes[k] = static_cast<unsigned char>(n >> (8 * k));
    bytes_of(bytes, 8);
  }
  void field(std::string_view s) {
    number(s.size());
    bytes_of(s.data(), s.size());
  }
  std::string hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    AMENDS_ASSERT(EVP_DigestFinal_ex(ctx_.get(), out, &size) == 1);
    static const char* digits = "0123456789abcdef";
    std::string h;
    for (unsigned int k = 0; k < size; ++k) {
      h += digits[out[k] >> 4];
      h += digits[out[k] & 15];
    }
    return h;
  }

 private:
  void bytes_of(const void* p, std::size_t n) { AMENDS_ASSERT(EVP_DigestUpdate(ctx_.get(), p, n) == 1); }
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

template <std::size_t N>
void digest_side(Digest& d, std::span<const InputColumn> columns, std::size_t rows, const std::array<std::string_view, N>& order,
                 const char* side) {
  if (columns.size() != N) throw invalid_argument(std::string("the checksum's ") + side + " side has " + std::to_string(N) + " columns");
  d.number(rows);
  for (std::size_t c = 0; c < N; ++c) {
    const InputColumn& col = columns[c];
    if (col.name != order[c])
      throw invalid_argument(std::string("the checksum's ") + side + " column " + std::to_string(c + 1) + " is " +
                             std::string(order[c]) + ", not " + std::string(col.name));
    const std::size_t size = col.is_integers ? col.integers.size() : col.is_days ? col.days.size() : rows;
    if (size != rows || (!col.is_integers && !col.is_days && !col.text))
      throw invalid_argument(std::string("the checksum's ") + side + " column " + std::string(col.name) + " has not " +
                             std::to_string(rows) + " values");
    d.field(col.name);
    for (std::size_t i = 0; i < rows; ++i) {
      if (col.is_integers) d.field(std::to_string(col.integers[i]));
      else if (col.is_days) d.field(Date::from_days(col.days[i]).to_string());
      else d.field(col.text(i));
    }
  }
}

}  // namespace

std::string RunParameters::json() const {
  std::string out = "{";
  if (allow_empty) out += "\"allow_empty\":true,";
  out += "\"amount_tolerance_minor\":" + std::to_string(amount_tolerance_minor) + ",\"checksum\":" +
         std::to_string(kChecksumScheme) + ",\"days\":" + std::to_string(days) + ",\"period\":[\"" +
         Date::from_days(first).to_string() + "\",\"" + Date::from_days(last).to_string() + "\"],\"source\":";
  amends::detail::append_json_string(out, source);
  out += std::string(",\"splits\":") + (splits ? "true" : "false") + "}";
  return out;
}

std::string inputs_sha256(std::string_view parameters_json, std::span<const InputColumn> ledger, std::size_t ledger_rows,
                          std::span<const InputColumn> billing, std::size_t billing_rows) {
  Digest d;
  d.field(parameters_json);
  digest_side(d, ledger, ledger_rows, kLedgerColumns, "ledger");
  digest_side(d, billing, billing_rows, kBillingColumns, "billing");
  return d.hex();
}

}  // namespace amends::reconcile
