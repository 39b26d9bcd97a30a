#include "amends/desk.hpp"

#include "amends/names.hpp"

#include <algorithm>
#include <sstream>

namespace amends::desk {

namespace {

using concessions::Kind;
using requests::Action;
using requests::State;

constexpr Timestamp kDay = 86'400'000'000;
const std::string kSystem = "amends";

Date day_of(Timestamp at) {
  const Timestamp days = at >= 0 ? at / kDay : -((-at + kDay - 1) / kDay);
  return Date::from_days(static_cast<std::int32_t>(days));
}

// Every step is an audit event, and the trail's times never go backwards:
// refuse an operation dated before the last event before it changes
// anything (the ledger's completions and voids can't be rolled back).
void check_clock(const requests::AuditTrail& audit, Timestamp at) {
  if (!audit.events().empty() && at < audit.events().back().at)
    throw invalid_argument("the desk records its steps in time order: " + requests::format_timestamp(at) +
                           " is before its last step at " + requests::format_timestamp(audit.events().back().at));
}

// Whether two names given for people name the same person (names.hpp).
bool same_person(const std::string& a, const std::string& b) { return names::same_person(a, b); }

bool among(const std::vector<std::string>& people, const std::string& person) {
  return std::any_of(people.begin(), people.end(), [&](const std::string& p) { return same_person(p, person); });
}

// When a request's approval completed (0: not approved).
Timestamp approved_at(const RequestRecord& r) {
  for (auto t = r.request.history().rbegin(); t != r.request.history().rend(); ++t)
    if (t->to == State::approved) return t->at;
  return 0;
}

// Whether another request counts towards a limit: granted (approved or
// later; with `approved_before`, only if approved before that time), or
// also pending approval when `in_flight`.
bool counts_towards(const RequestRecord& other, bool in_flight, std::optional<Timestamp> approved_before) {
  const State s = other.state();
  if (s == State::approved || s == State::applied || s == State::reconciled)
    return !approved_before || approved_at(other) < *approved_before;
  return in_flight && s == State::pending_approval;  // a blocked request can only be declined or cancelled
}

// The desk's own text fields: nothing a back end can't keep.
void check_content(const requests::RequestContent& c) {
  check_text("customer id", c.customer.id);
  check_text("customer tier", c.customer.tier);
  check_text("reason", c.reason_code);
  check_text("justification", c.justification);
  for (const std::string& e : c.evidence) check_text("evidence id", e);
  check_text("requester", c.requester);
  if (!c.requester.empty()) names::normalise(c.requester);  // a requester is a name (invalid_name says why not)
  check_text("team", c.team);
  check_text("charge id", c.claim.original_transaction);
  check_text("override reason", c.claim.override_reason);
}

Date last_day(Period p) { return Date::from_ymd(p.next().year(), p.next().month(), 1).plus_days(-1); }
Date first_day(Period p) { return Date::from_ymd(p.year(), p.month(), 1); }

// JSON string literal.
std::string q(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// A small JSON object builder for audit details.
class Json {
 public:
  Json& add(std::string_view key, std::string_view value) { return raw(key, q(value)); }
  Json& add(std::string_view key, const char* value) { return raw(key, q(value)); }
  Json& add(std::string_view key, const std::string& value) { return raw(key, q(value)); }
  Json& add(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }
  Json& add(std::string_view key, std::int64_t value) { return raw(key, std::to_string(value)); }
  Json& add(std::string_view key, const std::vector<std::string>& values) {
    std::string a = "[";
    for (std::size_t i = 0; i < values.size(); ++i) a += (i ? "," : "") + q(values[i]);
    return raw(key, a + "]");
  }
  Json& raw(std::string_view key, std::string_view value) {
    body_ += (body_.empty() ? "" : ",") + q(key) + ":" + std::string(value);
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

std::string kind_label(Kind kind) {
  switch (kind) {
    case Kind::goodwill: return "goodwill credit";
    case Kind::service_credit: return "service credit";
    case Kind::refund: return "refund";
    case Kind::retention_offer: return "retention offer";
  }
  return "concession";
}

AccountType type_of(std::string_view account) {
  if (account.starts_with("ContraRevenue:")) return AccountType::contra_revenue;
  if (account.starts_with("Liabilities:")) return AccountType::liability;
  if (account.starts_with("Expense:") || account.starts_with("Expenses:")) return AccountType::expense;
  if (account.starts_with("Assets:")) return AccountType::asset;
  if (account.starts_with("Revenue:")) return AccountType::revenue;
  throw invalid_argument("the accounting policy names an account outside Assets, Liabilities, Revenue, ContraRevenue "
                         "and Expense: " + std::string(account));
}

}  // namespace

std::string CloseReport::text() const {
  std::ostringstream out;
  out << "Close report for " << period.to_string() << "\n";
  if (posted.empty()) out << "  no concessions posted in the period\n";
  const int places = base_currency.minor_units();
  for (const KindTotal& k : posted)
    out << "  posted  " << k.kind << ": " << k.count << " for " << k.amount.to_string(places) << " "
        << base_currency.code() << "\n";
  auto list = [&](const char* what, const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    out << "  " << what << ": ";
    for (std::size_t i = 0; i < ids.size(); ++i) out << (i ? ", " : "") << ids[i];
    out << "\n";
  };
  list("accrued at close", accrued);
  list("out-of-period adjustments", out_of_period);
  list("still awaiting approval", in_flight);
  for (const Utilisation& u : budgets)
    out << "  budget " << u.owner << " " << u.kind << ": allocated " << u.allocated.to_string(places) << ", consumed "
        << u.consumed.to_string(places) << ", reserved " << u.reserved.to_string(places) << ", available "
        << u.available.to_string(places) << " " << u.currency.code() << "\n";
  return out.str();
}

Desk::Desk(Ledger& book) : book_(&book) {}

void Desk::clear() {
  policies_.clear();
  policy_texts_.clear();
  policy_order_.clear();
  published_.clear();
  rates_.clear();
  charges_.clear();
  records_.clear();
  by_customer_.clear();
  by_requester_.clear();
  audit_ = requests::AuditTrail();
  outbox_.clear();
  runs_.clear();
  new_run_rows_.clear();
  load_findings_.clear();
  next_number_ = 1;
  before_.clear();
  op_before_.clear();
  changed_order_.clear();
  new_charges_.clear();
  added_rates_.clear();
  marked_ = false;
  in_op_ = false;
}

// ---------------------------------------------------------------- the undo log

Desk::Mark Desk::mark() {
  marked_ = true;
  new_run_rows_.clear();
  before_.clear();
  changed_order_.clear();
  new_charges_.clear();
  added_rates_.clear();
  return counts();
}

Desk::Mark Desk::counts() const {
  return Mark{audit_.events().size(), outbox_.size(), policy_order_.size(), next_number_, runs_.size()};
}

void Desk::undo(std::map<std::string, std::optional<RequestRecord>, std::less<>>& before, const Mark& m,
                std::size_t charges_kept, std::size_t rates_kept) {
  for (auto& [id, old] : before) {
    if (old) {
      records_.insert_or_assign(id, std::move(*old));
    } else {
      records_.erase(id);
    }
  }
  before.clear();
  while (new_charges_.size() > charges_kept) {
    charges_.erase(new_charges_.back());
    new_charges_.pop_back();
  }
  while (added_rates_.size() > rates_kept) {
    const Currency code = added_rates_.back().currency;
    const Date day = added_rates_.back().day;
    std::erase_if(rates_, [&](const FxRate& r) { return r.currency == code && r.day == day; });
    added_rates_.pop_back();
  }
  audit_.truncate(m.audit);
  outbox_.resize(std::min(outbox_.size(), m.outbox));
  while (policy_order_.size() > m.policies) {
    policies_.erase(policy_order_.back());
    policy_texts_.erase(policy_order_.back());
    published_.erase(policy_order_.back());
    policy_order_.pop_back();
  }
  next_number_ = m.next_id;
  if (runs_.size() > m.runs) {
    const std::size_t added = runs_.size() - m.runs;
    runs_.resize(m.runs);
    new_run_rows_.resize(new_run_rows_.size() >= added ? new_run_rows_.size() - added : 0);
  }
}

void Desk::rollback(const Mark& m) {
  undo(before_, m, 0, 0);
  op_before_.clear();
  commit_mark();
}

void Desk::commit_mark() {
  new_run_rows_.clear();
  before_.clear();
  changed_order_.clear();
  new_charges_.clear();
  added_rates_.clear();
  marked_ = false;
}

void Desk::touch_new(const std::string& id) {
  op_before_.try_emplace(id, std::nullopt);
  if (marked_ && before_.try_emplace(id, std::nullopt).second) changed_order_.push_back(id);
}

RequestRecord& Desk::touch(const std::string& id) {
  auto it = records_.find(id);
  if (it == records_.end()) throw not_found("there is no request " + id);
  op_before_.try_emplace(id, it->second);
  if (marked_ && before_.try_emplace(id, it->second).second) changed_order_.push_back(id);
  return it->second;
}

// Runs one desk operation with the strong guarantee: when it throws, the
// desk is as before, and so is the ledger -- inside a store write the store
// restores it; outside one, the entries the operation appended are rolled
// back here (operations change earlier entries only as their last ledger
// step, so nothing else needs undoing).
template <class F>
auto Desk::atomically(F&& f) -> decltype(f()) {
  if (in_op_) return f();
  in_op_ = true;
  const Mark m = counts();
  const std::size_t charges_kept = new_charges_.size(), rates_kept = added_rates_.size();
  const std::size_t changed_kept = changed_order_.size();
  const Ledger::Savepoint sp = book_->savepoint();
  const bool in_store_write = marked_;
  op_before_.clear();
  try {
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      in_op_ = false;
      op_before_.clear();
      if (!in_store_write) {
        new_charges_.clear();
        added_rates_.clear();
        new_run_rows_.clear();
      }
    } else {
      decltype(auto) result = f();
      in_op_ = false;
      op_before_.clear();
      if (!in_store_write) {
        new_charges_.clear();
        added_rates_.clear();
        new_run_rows_.clear();
      }
      return result;
    }
  } catch (...) {
    in_op_ = false;
    // Records first touched by this operation leave the write's undo log too.
    for (std::size_t i = changed_kept; i < changed_order_.size(); ++i) before_.erase(changed_order_[i]);
    changed_order_.resize(changed_kept);
    undo(op_before_, m, charges_kept, rates_kept);
    if (!in_store_write && book_->entry_count() >= sp.entries) book_->rollback_to(sp);
    throw;
  }
}

// ---------------------------------------------------------------- reference data

const policy::Policy& Desk::publish_policy(std::string_view toml_text, const std::string& actor, Timestamp at) {
  if (authenticated_) acting(actor);  // who acts, before anything is judged
  return atomically([&]() -> const policy::Policy& {
    check_text("policy text", std::string(toml_text));
    auto parsed = std::make_unique<policy::Policy>(policy::Policy::parse(toml_text));
    if (!(parsed->base_currency == book_->config().base_currency))
      throw policy::policy_error("the policy is in " + std::string(parsed->base_currency.code()) + " but book " +
                                 book_->config().name + " keeps its books in " +
                                 std::string(book_->config().base_currency.code()));
    const std::string version = parsed->version;
    if (auto it = policy_texts_.find(version); it != policy_texts_.end()) {
      if (it->second == toml_text) return *policies_.at(version);
      throw policy::policy_error("policy version " + version +
                                 " is already published with other text; give the new policy a new version");
    }
    check_clock(audit_, at);
    published_.insert_or_assign(version, Publication{actor, at});
    event(at, actor, "", "policy_published", Json().add("version", version).add("rules", static_cast<std::int64_t>(parsed->rules.size())).str());
    policy_texts_.emplace(version, std::string(toml_text));
    policy_order_.push_back(version);
    return *policies_.emplace(version, std::move(parsed)).first->second;
  });
}

const policy::Policy& Desk::policy() const {
  if (policy_order_.empty()) throw policy::policy_error("no policy is published for book " + book_->config().name);
  return *policies_.at(policy_order_.back());
}

const policy::Policy& Desk::policy(std::string_view version) const {
  auto it = policies_.find(version);
  if (it == policies_.end()) throw not_found("there is no policy version " + std::string(version));
  return *it->second;
}

void Desk::load_policy(const std::string& text) {
  auto parsed = std::make_unique<policy::Policy>(policy::Policy::parse(text));
  const std::string version = parsed->version;
  if (policies_.count(version)) return;
  policy_texts_.emplace(version, text);
  policy_order_.push_back(version);
  policies_.emplace(version, std::move(parsed));
}

void Desk::set_rate(Currency currency, Date day, const Decimal& rate) {
  atomically([&] {
    if (currency == book_->config().base_currency)
      throw invalid_argument("the base currency " + std::string(currency.code()) + " needs no rate");
    if (rate.sign() <= 0) throw invalid_argument("an exchange rate is positive, not " + rate.to_string());
    for (const FxRate& r : rates_) {
      if (r.currency == currency && r.day == day) {
        if (r.rate == rate) return;
        throw invalid_argument("the " + std::string(currency.code()) + " rate for " + day.to_string() + " is already " +
                               r.rate.to_string() + "; rates are not changed once set");
      }
    }
    load_rate(FxRate{currency, day, rate});
    added_rates_.push_back(FxRate{currency, day, rate});
  });
}

void Desk::load_rate(FxRate rate) {
  auto at = std::lower_bound(rates_.begin(), rates_.end(), rate, [](const FxRate& a, const FxRate& b) {
    return a.currency.code() != b.currency.code() ? a.currency.code() < b.currency.code() : a.day < b.day;
  });
  if (at != rates_.end() && at->currency == rate.currency && at->day == rate.day) return;
  rates_.insert(at, std::move(rate));
}

Money Desk::to_base(const Money& amount, Date day, std::string* how) const {
  const Currency base = book_->config().base_currency;
  if (amount.currency() == base) {
    if (how) how->clear();
    return amount;
  }
  const FxRate* found = nullptr;
  for (const FxRate& r : rates_)
    if (r.currency == amount.currency() && r.day <= day) found = &r;
  if (!found)
    throw invalid_argument("there is no " + std::string(amount.currency().code()) + " rate on or before " +
                           day.to_string() + " to convert " + amount.to_string() + " to " + std::string(base.code()) +
                           "; set one first");
  if (how)
    *how = "1 " + std::string(amount.currency().code()) + " = " + found->rate.to_string() + " " +
           std::string(base.code()) + " (rate of " + found->day.to_string() + "), rounded half-even";
  return amount.convert(base, found->rate, Rounding::half_even);
}

void Desk::record_charge(Charge charge) {
  atomically([&] {
    if (charge.id.empty()) throw invalid_argument("a charge needs its billing id");
    check_text("charge id", charge.id);
    check_text("charge customer", charge.customer);
    if (charge.amount.amount().sign() <= 0) throw invalid_argument("charge " + charge.id + " must be positive");
    if (charge.refunded_in_billing.sign() < 0 || charge.amount.amount() < charge.refunded_in_billing)
      throw invalid_argument("charge " + charge.id + " can't have refunded " + charge.refunded_in_billing.to_string() +
                             " of " + charge.amount.to_string());
    if (auto it = charges_.find(charge.id); it != charges_.end()) {
      const Charge& c = it->second;
      if (c.customer == charge.customer && c.amount == charge.amount && c.day == charge.day &&
          c.refunded_in_billing == charge.refunded_in_billing)
        return;
      throw invalid_argument("charge " + charge.id + " is already recorded with other details");
    }
    new_charges_.push_back(charge.id);
    charges_.emplace(charge.id, std::move(charge));
  });
}

void Desk::load_charge(Charge charge) {
  const std::string id = charge.id;
  charges_.insert_or_assign(id, std::move(charge));
}

const Charge& Desk::charge(std::string_view id) const {
  auto it = charges_.find(id);
  if (it == charges_.end()) throw not_found("there is no charge " + std::string(id) + "; record it from billing first");
  return it->second;
}

// ---------------------------------------------------------------- budgets

std::string Desk::budget_root(const std::string& owner, Kind kind, Period period) const {
  if (owner.empty() || owner.find(':') != std::string::npos || owner != owner.substr(owner.find_first_not_of(' ')))
    throw invalid_argument("a budget owner is a non-empty name without ':', not \"" + owner + "\"");
  return "Budget:" + owner + ":" + std::string(concessions::to_string(kind)) + ":" + period.to_string();
}

AccountId Desk::ensure_account(const std::string& name, AccountType type, Currency currency) {
  if (auto id = book_->find_account(name, currency)) return *id;
  AccountOptions options;
  if (type == AccountType::liability && name.starts_with("Liabilities:CustomerCredits:"))
    options.limit.min_normal = Decimal();  // a customer's credit balance can't go below zero
  return book_->create_account(name, type, currency, std::move(options));
}

EntryId Desk::allocate(const std::string& owner, Kind kind, Period period, const Decimal& amount, bool hard, Date on,
                       const std::string& actor, std::optional<Timestamp> when) {
  return atomically([&] {
    const std::string root = budget_root(owner, kind, period);
    const Currency base = book_->config().base_currency;
    if (amount.sign() <= 0) throw invalid_argument("a budget allocation is positive, not " + amount.to_string());
    if (auto existing = book_->find_account(root + ":Available", base)) {
      const bool was_hard = book_->account(*existing).limit.min_normal.has_value();
      if (was_hard != hard)
        throw invalid_argument("the budget " + root + " is " + (was_hard ? "hard" : "soft") + "; it stays so");
    } else {
      Dimensions dims{{"owner", owner}, {"kind", std::string(concessions::to_string(kind))}, {"period", period.to_string()}};
      AccountOptions available{dims, {}};
      if (hard) available.limit.min_normal = Decimal();
      book_->create_account(root + ":Available", AccountType::memo, base, available);
      book_->create_account(root + ":Allocated", AccountType::memo, base, AccountOptions{dims, {}});
      book_->create_account(root + ":Consumed", AccountType::memo, base, AccountOptions{dims, {}});
    }
    EntryDraft d;
    d.date = on;
    d.description = "Budget allocation " + owner + " " + std::string(concessions::to_string(kind)) + " " + period.to_string();
    d.postings = {{book_->account_id(root + ":Available", base), amount, std::nullopt},
                  {book_->account_id(root + ":Allocated", base), -amount, std::nullopt}};
    const EntryId id = book_->post(d).id;
    // The database takes a posting to a budget account only with this event
    // in the same write (sql/007_money_checks.sql), by the person who
    // allocates. Dated `when`, else at the start of its day, or at the last
    // step when that is later (the trail's times never go backwards).
    Timestamp at = when ? *when : static_cast<Timestamp>(on.days_since_epoch()) * kDay;
    if (!audit_.events().empty()) at = std::max(at, audit_.events().back().at);
    event(at, actor, "", "budget_allocated",
          Json().add("owner", owner).add("kind", std::string(concessions::to_string(kind))).add("period", period.to_string())
              .add("amount", Money(amount, base).to_string()).add("hard", hard)
              .add("entry", static_cast<std::int64_t>(id.value)).str());
    return id;
  });
}

Utilisation Desk::utilisation(const std::string& owner, Kind kind, Period period) const {
  const std::string root = budget_root(owner, kind, period);
  const Currency base = book_->config().base_currency;
  auto available = book_->find_account(root + ":Available", base);
  if (!available)
    throw not_found("there is no " + std::string(concessions::to_string(kind)) + " budget for " + owner + " in " +
                    period.to_string());
  Utilisation u{owner, std::string(concessions::to_string(kind)), period, base,
                book_->account(*available).limit.min_normal.has_value(), {}, {}, {}, {}};
  const Balance a = book_->balance(*available);
  u.allocated = -book_->balance(book_->account_id(root + ":Allocated", base)).posted;
  u.consumed = book_->balance(book_->account_id(root + ":Consumed", base)).posted;
  u.reserved = a.pending_credits;
  u.available = u.allocated - u.reserved - u.consumed;
  return u;
}

std::vector<Utilisation> Desk::budgets() const {
  std::vector<Utilisation> out;
  for (std::size_t i = 0; i < book_->account_count(); ++i) {
    const Account& a = book_->account(AccountId{static_cast<std::uint32_t>(i)});
    if (!a.name.starts_with("Budget:") || !a.name.ends_with(":Available")) continue;
    std::vector<std::string> parts;
    std::stringstream ss(a.name);
    for (std::string part; std::getline(ss, part, ':');) parts.push_back(part);
    if (parts.size() != 5) continue;
    out.push_back(utilisation(parts[1], concessions::parse_kind(parts[2]), Period::parse(parts[3])));
  }
  return out;
}

// ---------------------------------------------------------------- helpers

bool Desk::system_event(std::string_view actor, std::string_view what) {
  if (actor.rfind("policy:", 0) == 0) return what == "approved";
  if (actor != kSystem) return false;
  static constexpr std::string_view kConsequences[] = {
      "validated", "refused", "flagged", "declined", "incomplete", "routed", "blocked", "budget_escalated",
      "over_budget", "reserved", "notified", "expired", "escalated"};
  return std::find(std::begin(kConsequences), std::end(kConsequences), what) != std::end(kConsequences);
}

const std::string& Desk::acting(const std::string& actor) const {
  if (!authenticated_) return actor;
  if (authenticated_->empty())
    throw not_authorised("this login is bound to no person of the book, so it can't act in it: an admin binds it "
                         "(amends people bind LOGIN PERSON)");
  if (!names::same_person(actor, *authenticated_))
    throw impersonation(names::quoted(actor) + " is not the logged-in person (" + *authenticated_ +
                        "): a person acts only as themself");
  return *authenticated_;
}

void Desk::event(Timestamp at, const std::string& actor, const std::string& request, const std::string& what,
                 std::string details) {
  check_text("actor", actor);  // the operation is undone by atomically()
  if (authenticated_ && !system_event(actor, what)) {
    audit_.append(at, acting(actor), request, what, std::move(details));
    return;
  }
  audit_.append(at, actor, request, what, std::move(details));
}

const RequestRecord& Desk::get(std::string_view id) const {
  auto it = records_.find(id);
  if (it == records_.end()) throw not_found("there is no request " + std::string(id));
  return it->second;
}

void Desk::index(const RequestRecord& r) {
  auto& ids = by_customer_[r.request.content().customer.id];
  if (std::find(ids.begin(), ids.end(), r.id()) == ids.end()) ids.push_back(r.id());
  // The requester never changes (Request::amend keeps it).
  auto& mine = by_requester_[names::normalise(r.request.content().requester)];
  if (mine.empty() || (mine.back() != r.id() && std::find(mine.begin(), mine.end(), r.id()) == mine.end()))
    mine.push_back(r.id());
}

Money Desk::goodwill_trailing(const std::string& customer, const std::string& except, Timestamp at,
                              bool in_flight, std::optional<Timestamp> approved_before) const {
  Money total = Money::zero(book_->config().base_currency);
  auto ids = by_customer_.find(customer);
  if (ids == by_customer_.end()) return total;
  for (const std::string& id : ids->second) {
    if (id == except) continue;
    auto found = records_.find(id);
    if (found == records_.end()) continue;
    const RequestRecord& r = found->second;
    const auto& c = r.request.content();
    if (c.kind != Kind::goodwill || c.customer.id != customer) continue;
    if (!counts_towards(r, in_flight, approved_before)) continue;
    if (r.request.created_at() + 365 * kDay < at) continue;
    total += Money(r.base_amount, total.currency());
  }
  return total;
}

std::vector<concessions::Finding> Desk::limit_findings(const RequestRecord& r, Timestamp at, bool in_flight,
                                                       std::optional<Timestamp> approved_before) const {
  std::vector<concessions::Finding> out;
  const auto& c = r.request.content();
  const policy::Policy& pol = policy(r.policy_version);
  const Currency base = book_->config().base_currency;
  const Money mine(r.base_amount, base);
  if (c.kind == Kind::goodwill) {
    if (auto cap = pol.terms.goodwill.trailing_cap.find(c.customer.tier); cap != pol.terms.goodwill.trailing_cap.end()) {
      const Money before = goodwill_trailing(c.customer.id, r.id(), at, in_flight, approved_before);
      if (cap->second < (before + mine).amount())
        out.push_back({"above_trailing_cap", concessions::Severity::exception, false,
                       "with " + before.to_string() + (in_flight ? " granted or pending" : " granted") +
                           " in the last 12 months, " + mine.to_string() + " more is over the " + c.customer.tier +
                           " tier's trailing cap of " + Money(cap->second, base).to_string()});
    }
  }
  for (const policy::Accumulation& acc : pol.accumulation) {
    if (std::find(acc.kinds.begin(), acc.kinds.end(), c.kind) == acc.kinds.end()) continue;
    const bool by_customer = acc.per == policy::Accumulation::Per::customer;
    const std::string& who = by_customer ? c.customer.id : c.requester;
    Money total = mine;
    std::vector<std::string> ids;
    const auto& index = by_customer ? by_customer_ : by_requester_;
    auto of = index.find(by_customer ? who : names::normalise(who));
    if (of == index.end()) continue;
    for (const std::string& id : of->second) {
      if (id == r.id()) continue;
      auto found = records_.find(id);
      if (found == records_.end()) continue;
      const RequestRecord& other = found->second;
      const auto& oc = other.request.content();
      if (std::find(acc.kinds.begin(), acc.kinds.end(), oc.kind) == acc.kinds.end()) continue;
      if (by_customer && oc.customer.id != who) continue;  // the customer it names now
      if (!counts_towards(other, in_flight, approved_before)) continue;
      if (other.request.created_at() + acc.window_days * kDay < at) continue;
      total += Money(other.base_amount, base);
      ids.push_back(id);
    }
    if (acc.threshold < total.amount()) {
      std::string list;
      for (const std::string& id : ids) list += (list.empty() ? "" : ", ") + id;
      out.push_back({"accumulation_threshold", concessions::Severity::exception, false,
                     "accumulation \"" + acc.name + "\": " + (by_customer ? "customer " : "requester ") + who +
                         " has " + total.to_string() + " over " + std::to_string(acc.window_days) +
                         " days with this request, over its threshold of " + Money(acc.threshold, base).to_string() +
                         (list.empty() ? std::string() : " (" + list + ")")});
    }
  }
  return out;
}

bool Desk::recheck_limits(RequestRecord& r, Timestamp at) {
  if (!r.chain) return false;
  const policy::Policy& pol = policy(r.policy_version);
  bool added = false;
  for (concessions::Finding& f : limit_findings(r, at, false)) {
    if (r.assessment.has(f.code)) continue;  // the route already asks the exception's role
    auto named = pol.exception_roles.find(f.code);
    const std::string role = named != pol.exception_roles.end() ? named->second : pol.exception_role;
    event(at, kSystem, r.id(), "flagged", Json().add("code", f.code).add("message", f.message).add("at", "approval").str());
    r.assessment.findings.push_back(f);
    if (role.empty()) continue;
    r.chain->add_step(policy::Step{false, {role}, std::nullopt, {}}, at);
    r.route.steps.push_back(policy::Step{false, {role}, std::nullopt, {}});
    r.route.explanation.push_back("at approval: " + f.message + ", so " + role + " approves it too");
    added = true;
  }
  return added;
}

void Desk::check_apply_limits(const RequestRecord& r, Timestamp at) const {
  // What was granted before this request's own approval: what its approval
  // weighed (requests approved after it were weighed against it).
  for (const concessions::Finding& f : limit_findings(r, at, false, approved_at(r)))
    if (!r.assessment.has(f.code))
      throw approvals::approval_error("request " + r.id() + " can't be applied: " + f.message +
                                      ", and nobody with the exception's authority approved it; return it for review");
}

std::string Desk::duplicate_claim(const RequestRecord& r) const {
  const auto& c = r.request.content();
  if (c.kind != Kind::service_credit || !c.service_period || c.evidence.empty()) return {};
  auto ids = by_customer_.find(c.customer.id);
  if (ids == by_customer_.end()) return {};
  std::vector<std::pair<Timestamp, std::string>> found;
  for (const std::string& id : ids->second) {
    if (id == r.id()) continue;
    auto it = records_.find(id);
    if (it == records_.end()) continue;
    const RequestRecord& other = it->second;
    const auto& oc = other.request.content();
    const State s = other.state();
    if (oc.kind != Kind::service_credit || oc.customer.id != c.customer.id || oc.service_period != c.service_period ||
        s == State::declined || s == State::cancelled || s == State::draft)
      continue;
    for (const std::string& e : c.evidence)
      if (std::find(oc.evidence.begin(), oc.evidence.end(), e) != oc.evidence.end()) {
        found.emplace_back(other.request.created_at(), id + " (" + std::string(requests::to_string(s)) + ", " + e + ")");
        break;
      }
  }
  if (found.empty()) return {};
  std::sort(found.begin(), found.end());
  return found.front().second;
}

std::vector<std::string> Desk::missing_requirements(const RequestRecord& r, const policy::Policy& pol) const {
  std::vector<std::string> missing;
  const auto& c = r.request.content();
  for (const policy::Requirement& req : pol.requirements) {
    if (std::find(req.kinds.begin(), req.kinds.end(), c.kind) == req.kinds.end()) continue;
    if (req.over && !(*req.over < r.base_amount)) continue;
    if (req.up_to && *req.up_to < r.base_amount) continue;
    if (!req.tiers.empty() && std::find(req.tiers.begin(), req.tiers.end(), c.customer.tier) == req.tiers.end()) continue;
    auto need = [&](std::string what) {
      if (std::find(missing.begin(), missing.end(), what) == missing.end()) missing.push_back(std::move(what));
    };
    if (!req.reasons.empty() && std::find(req.reasons.begin(), req.reasons.end(), c.reason_code) == req.reasons.end()) {
      std::string list;
      for (const std::string& reason : req.reasons) list += (list.empty() ? "" : ", ") + reason;
      need(c.reason_code.empty() ? "a reason (one of " + list + ")"
                                 : "a reason from the list (" + list + "), not \"" + c.reason_code + "\"");
    }
    if (req.justification && c.justification.find_first_not_of(" \t\r\n") == std::string::npos) need("a justification");
    for (const std::string& type : req.evidence) {
      const bool has = std::any_of(c.evidence.begin(), c.evidence.end(),
                                   [&](const std::string& e) { return pol.evidence_type(e) == type; });
      if (!has) {
        std::string prefixes;
        if (auto p = pol.evidence_types.find(type); p != pol.evidence_types.end())
          for (const std::string& prefix : p->second) prefixes += (prefixes.empty() ? "" : " or ") + prefix + "...";
        need("evidence of type " + type + (prefixes.empty() ? std::string() : " (an id " + prefixes + ")"));
      }
    }
  }
  return missing;
}

bool Desk::has_authority(const RequestRecord& r, const std::string& person, Date on, Authority over) const {
  if (same_person(person, r.request.content().requester)) return false;
  const policy::Policy& pol = policy(r.policy_version.empty() ? policy_order_.back() : r.policy_version);
  const bool exception_role = !pol.exception_role.empty() && among(pol.people_for(pol.exception_role, on), person);
  switch (over) {
    case Authority::current_step:
      return r.chain && among(r.chain->waiting_for(on), person);
    case Authority::blocked:
      return exception_role;
    case Authority::any_step:
      if (exception_role) return true;
      if (!r.chain) return false;
      for (const approvals::StepState& s : r.chain->steps()) {
        for (const std::string& role : s.step.roles)
          if (among(pol.people_for(role, on), person)) return true;
        if (s.escalated && !s.step.escalate_to.empty() && among(pol.people_for(s.step.escalate_to, on), person))
          return true;
      }
      return false;
  }
  return false;
}

void Desk::notify(const RequestRecord& r, const std::string& what, Timestamp at) {
  const auto& c = r.request.content();
  Notification n;
  n.id = static_cast<std::int64_t>(outbox_.size()) + 1;
  n.request = r.id();
  n.event = what;
  n.customer = c.customer.id;
  n.created_at = at;
  const std::string amount = r.amount ? r.amount->to_string() : (c.amount ? c.amount->to_string() : "");
  if (what == "applied") {
    n.subject = "Your " + kind_label(c.kind) + " of " + amount;
    std::string how;
    switch (c.kind) {
      case Kind::refund:
        how = "It will be returned to the original payment method (" + c.claim.original_transaction +
              ") and usually appears within 5 to 10 business days.";
        break;
      case Kind::retention_offer:
        how = c.claim.discount && c.claim.months > 0
                  ? "It appears as a " + (*c.claim.discount * 100).round(2).to_string() + "% discount on your next " +
                        std::to_string(c.claim.months) + " monthly invoices."
                  : "It appears as a credit on your next invoice.";
        break;
      default:
        how = "It is held as a credit on your account and is taken off your next invoice.";
    }
    n.body = "We have applied a " + kind_label(c.kind) + " of " + amount + " to your account" +
             (c.service_period ? " for " + c.service_period->to_string() : std::string()) +
             (c.reason_code.empty() ? std::string() : " (reason: " + c.reason_code + ")") + ". " + how +
             " Reference: " + r.id() + ".";
  } else {
    n.subject = "About your " + kind_label(c.kind) + " request " + r.id();
    const std::string why = r.request.history().empty() ? std::string() : r.request.history().back().comment;
    n.body = "We are sorry: we could not approve the " + kind_label(c.kind) + (amount.empty() ? "" : " of " + amount) +
             " you asked for." + (why.empty() ? std::string() : " Reason: " + why + ".");
    if (!r.alternatives.empty()) {
      n.body += " What we can offer instead:";
      for (const std::string& alt : r.alternatives) n.body += " " + alt + ";";
      n.body.back() = '.';
    }
    n.body += " Reference: " + r.id() + ".";
  }
  outbox_.push_back(std::move(n));
  event(at, kSystem, r.id(), "notified", Json().add("message", outbox_.back().id).add("event", what).add("customer", c.customer.id).str());
}

void Desk::load_notification(Notification n) {
  if (static_cast<std::size_t>(n.id) != outbox_.size() + 1) return;
  outbox_.push_back(std::move(n));
}

void Desk::load_audit(requests::AuditEvent e) { audit_.adopt(std::move(e)); }

void Desk::load_unreadable(const std::string& id, const std::string& problem) {
  if (id.size() == 8 && id.starts_with("R-") && id.find_first_not_of("0123456789", 2) == std::string::npos)
    next_number_ = std::max(next_number_, static_cast<std::size_t>(std::stoul(id.substr(2))) + 1);
  load_findings_.push_back(RecordFinding{id, problem});
}

void Desk::load_record(RequestRecord record) {
  const std::string id = record.id();
  // Ids "R-000123" keep the counter ahead of every stored request.
  if (id.size() == 8 && id.starts_with("R-")) {
    std::size_t n = 0;
    for (char c : id.substr(2)) n = n * 10 + static_cast<std::size_t>(c - '0');
    next_number_ = std::max(next_number_, n + 1);
  }
  index(record);
  records_.insert_or_assign(id, std::move(record));
}

// ---------------------------------------------------------------- validation and routing

void Desk::validate_and_route(RequestRecord& r, const std::string& actor, Timestamp at) {
  const policy::Policy& pol = policy();
  const auto& c = r.request.content();
  const Date today = day_of(at);
  const Currency base = book_->config().base_currency;
  r.request.act(Action::submit, actor, at);
  // A resubmission is routed afresh, under the policy in force now.
  r.policy_version = pol.version;
  r.route = {};
  r.blocked.clear();
  r.incomplete.clear();
  event(at, actor, r.id(), "submitted", Json().add("version", static_cast<std::int64_t>(r.request.version()))
                                            .add("kind", concessions::to_string(c.kind))
                                            .add("customer", c.customer.id)
                                            .add("amount", c.amount ? c.amount->to_string() : std::string("computed"))
                                            .add("evidence", c.evidence)
                                            .add("policy", pol.version).str());
  // An SLA claim is in time when it was first submitted in time: returning
  // it for information must not cost the customer a contractual credit.
  const Date claimed_on = day_of(r.request.first_submitted_at().value_or(at));
  concessions::Assessment a{Money::zero(c.currency), {}};
  auto refuse = [&](std::string code, std::string message) {
    a.findings.push_back({std::move(code), concessions::Severity::refusal, false, std::move(message)});
  };
  switch (c.kind) {
    case Kind::service_credit: {
      if (!c.claim.period_fee || !c.claim.measured_availability || !c.service_period) {
        refuse("incomplete_claim", "a service credit claim needs the period's fee, the measured availability and the "
                                   "service period");
        break;
      }
      if (!(c.claim.period_fee->currency() == c.currency)) {
        refuse("currency_differs", "the period's fee is in " + std::string(c.claim.period_fee->currency().code()) +
                                       " but the request is in " + std::string(c.currency.code()));
        break;
      }
      a = concessions::assess_service_credit(
          pol.terms.service_credit, {*c.claim.period_fee, *c.claim.measured_availability, *c.service_period, claimed_on, c.amount});
      if (const std::string first = duplicate_claim(r); !first.empty()) {
        const bool hold = pol.duplicate_claims == policy::DuplicateClaims::hold;
        a.findings.push_back({"duplicate_claim", hold ? concessions::Severity::exception : concessions::Severity::refusal,
                              false,
                              "customer " + c.customer.id + " already claimed a service credit for " +
                                  c.service_period->to_string() + " on the same incident or evidence: " + first +
                                  (hold ? "; held for review" : "; a second claim is refused")});
      }
      break;
    }
    case Kind::refund: {
      if (!c.amount) {
        refuse("no_amount", "a refund names its amount");
        break;
      }
      auto ch = charges_.find(c.claim.original_transaction);
      if (c.claim.original_transaction.empty() || ch == charges_.end()) {
        refuse("no_original_transaction",
               c.claim.original_transaction.empty()
                   ? "a refund ties to an original charge or invoice; name it"
                   : "charge " + c.claim.original_transaction + " is not known; record it from billing first");
        a.amount = *c.amount;
        break;
      }
      if (ch->second.customer != c.customer.id) {
        refuse("other_customer", "charge " + ch->first + " belongs to customer " + ch->second.customer + ", not " +
                                     c.customer.id);
        a.amount = *c.amount;
        break;
      }
      Money refunded = Money(ch->second.refunded_in_billing, ch->second.amount.currency());
      // Earlier refunds of the charge through amends (not this request).
      static const std::vector<std::string> none;
      auto of_customer = by_customer_.find(c.customer.id);
      for (const std::string& id : of_customer == by_customer_.end() ? none : of_customer->second) {
        if (id == r.id() || !records_.count(id)) continue;
        const RequestRecord& other = records_.at(id);
        const auto& oc = other.request.content();
        if (oc.kind != Kind::refund || oc.claim.original_transaction != ch->first || !other.amount) continue;
        const State s = other.state();
        if ((s == State::approved || s == State::applied || s == State::reconciled || s == State::pending_approval) &&
            other.amount->currency() == refunded.currency())
          refunded += *other.amount;
      }
      a = concessions::assess_refund(pol.terms.refund,
                                     {ch->first, ch->second.amount, ch->second.day, refunded}, *c.amount, today);
      break;
    }
    case Kind::goodwill: {
      if (!c.amount) {
        refuse("no_amount", "a goodwill credit names its amount");
        break;
      }
      a.amount = *c.amount;
      if (c.amount->amount().sign() <= 0) {
        refuse("not_positive", "a goodwill credit is a positive amount, not " + c.amount->to_string());
        break;
      }
      const Money in_base = to_base(*c.amount, today);
      concessions::CustomerContext ctx{c.customer.id, c.customer.tier,
                                       c.customer.value ? to_base(*c.customer.value, today) : Money::zero(base),
                                       goodwill_trailing(c.customer.id, r.id(), at, true)};
      if (pol.terms.goodwill.per_request_cap.empty() && pol.terms.goodwill.trailing_cap.empty()) {
        a.findings.push_back({"customer_context", concessions::Severity::note, false,
                              "customer " + ctx.id + " (" + ctx.tier + ", value " + ctx.value.to_string() + ") had " +
                                  ctx.goodwill_trailing_12_months.to_string() + " of goodwill in the last 12 months"});
      } else {
        a = concessions::assess_goodwill(pol.terms.goodwill, ctx, in_base);
        a.amount = *c.amount;
      }
      break;
    }
    case Kind::retention_offer: {
      if (!c.customer.value) {
        refuse("no_customer_value", "a retention offer is weighed against the customer's value; give it");
        break;
      }
      concessions::RetentionOffer offer;
      offer.discount = c.claim.discount;
      offer.monthly_fee = c.claim.monthly_fee;
      offer.months = c.claim.months;
      offer.credit = c.claim.discount ? std::nullopt : c.amount;
      offer.changes_contract = c.claim.changes_contract;
      // The offer and the value in one currency: the request's when the value
      // is given in it, else the base currency.
      const Money value =
          c.customer.value->currency() == c.currency ? *c.customer.value : to_base(*c.customer.value, today);
      a = concessions::assess_retention(
          pol.terms.retention,
          concessions::CustomerContext{c.customer.id, c.customer.tier, value, Money::zero(value.currency())}, offer);
      break;
    }
  }
  // What is granted: the requested amount (an exception when above the
  // computed one) or the computed amount; in the base currency for the
  // limits that weigh it against the book's other requests.
  Money granted = c.amount && c.kind != Kind::retention_offer ? *c.amount : a.amount;
  if (c.kind == Kind::retention_offer) granted = a.amount;
  // An overridable refusal, with an override asked for, becomes an exception
  // for the policy's exception role to decide.
  for (concessions::Finding& f : a.findings)
    if (f.severity == concessions::Severity::refusal && f.overridable && !c.claim.override_reason.empty()) {
      f.severity = concessions::Severity::exception;
      f.message += " (override asked: " + c.claim.override_reason + ")";
    }
  if (!a.refused() && granted.amount().sign() > 0) {
    r.base_amount = to_base(granted, today, &r.conversion).amount();
    for (concessions::Finding& f : limit_findings(r, at, true))
      if (!a.has(f.code)) a.findings.push_back(std::move(f));
  }
  std::vector<std::string> exceptions;
  bool refused = false;
  std::string refusals;
  for (const concessions::Finding& f : a.findings) {
    if (f.severity == concessions::Severity::refusal) {
      refused = true;
      refusals += (refusals.empty() ? "" : "; ") + f.message;
    }
    if (f.severity == concessions::Severity::exception) exceptions.push_back(f.code);
  }
  r.assessment = a;
  if (!refused && granted.amount().sign() <= 0) {
    refused = true;
    refusals = "nothing is owed";
    for (const auto& f : a.findings)
      if (f.severity == concessions::Severity::note) refusals += "; " + f.message;
  }
  r.amount = granted;
  r.request.act(Action::validate, kSystem, at);
  {
    Json findings;
    std::string list = "[";
    for (std::size_t i = 0; i < a.findings.size(); ++i)
      list += (i ? "," : "") + Json().add("code", a.findings[i].code)
                                   .add("severity", concessions::to_string(a.findings[i].severity))
                                   .add("message", a.findings[i].message).str();
    event(at, kSystem, r.id(), refused ? "refused" : "validated",
          Json().add("amount", granted.to_string()).raw("findings", list + "]").str());
    for (const auto& f : a.findings)
      if (f.severity == concessions::Severity::exception)
        event(at, kSystem, r.id(), "flagged", Json().add("code", f.code).add("message", f.message).str());
  }
  if (refused) {
    r.request.act(Action::decline, kSystem, at, refusals);
    event(at, kSystem, r.id(), "declined", Json().add("reason", refusals).str());
    notify(r, "declined", at);
    return;
  }
  // What the policy requires of a request like this one (a reason, a
  // justification, evidence): without it, it goes back to the requester.
  if (const std::vector<std::string> missing = missing_requirements(r, pol); !missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : "; ") + m;
    r.incomplete = "incomplete under policy " + pol.version + ": it needs " + list +
                   "; amend it and submit it again";
    r.request.act(Action::route, kSystem, at);
    r.request.act(Action::return_for_information, kSystem, at, r.incomplete);
    event(at, kSystem, r.id(), "incomplete", Json().add("policy", pol.version).add("missing", missing).str());
    return;
  }
  r.route = policy::route(pol, policy::RouteInput{c.kind, r.base_amount, c.customer.tier, !exceptions.empty(), exceptions});
  r.routed_exceptions = exceptions;
  r.budget_owner = c.team;
  r.budget_period = Period::of(day_of(r.request.created_at()));
  Json routed;
  routed.add("policy", pol.version).add("outcome", policy::to_string(r.route.outcome)).add("rule", r.route.rule)
      .add("base_amount", r.base_amount.to_string()).add("explanation", r.route.explanation);
  event(at, kSystem, r.id(), "routed", routed.str());
  switch (r.route.outcome) {
    case policy::Outcome::blocked:
      r.blocked = r.route.reason;
      event(at, kSystem, r.id(), "blocked", Json().add("reason", r.route.reason).str());
      return;
    case policy::Outcome::auto_approved:
      r.request.act(Action::route, kSystem, at);
      r.request.act(Action::approve, "policy:" + r.route.rule, at, "auto-approved by rule " + r.route.rule);
      event(at, "policy:" + r.route.rule, r.id(), "approved", Json().add("auto", true).add("rule", r.route.rule).str());
      on_chain_complete(r, at);
      return;
    case policy::Outcome::needs_approval:
      r.request.act(Action::route, kSystem, at);
      r.chain.emplace(pol, r.route, c.requester, at);
      return;
  }
}

// The chain is complete (or the request auto-approved): reserve the budget.
// A hard budget without room refuses (budget_exceeded); a soft one adds the
// policy's budget step once, or records the overrun.
void Desk::on_chain_complete(RequestRecord& r, Timestamp at) {
  const auto& c = r.request.content();
  const policy::Policy& pol = policy(r.policy_version);
  if (!pol.terms.draws_on_budget(c.kind)) return;
  const Currency base = book_->config().base_currency;
  const std::string root = budget_root(r.budget_owner, c.kind, *r.budget_period);
  auto available = book_->find_account(root + ":Available", base);
  if (!available)
    throw budget_exceeded("there is no " + std::string(concessions::to_string(c.kind)) + " budget for " + r.budget_owner +
                          " in " + r.budget_period->to_string() + "; allocate one before approving " + r.id());
  const Utilisation u = utilisation(r.budget_owner, c.kind, *r.budget_period);
  const Money need(r.base_amount, base);
  if (u.available < r.base_amount) {
    const std::string message = "the " + r.budget_owner + " " + std::string(concessions::to_string(c.kind)) +
                                " budget for " + r.budget_period->to_string() + " has " +
                                Money(u.available, base).to_string() + " left; " + r.id() + " needs " + need.to_string();
    if (u.hard) throw budget_exceeded(message);
    // Nobody approves twice: when someone with the budget role approved
    // already, they have decided on the whole amount; no step is added.
    bool authority_approved = false;
    if (r.chain && !pol.terms.budget_escalate_to.empty())
      for (const approvals::StepState& s : r.chain->steps())
        for (const approvals::Approval& ap : s.approvals) {
          const auto people = pol.people_for(pol.terms.budget_escalate_to, day_of(ap.at));
          if (std::find(people.begin(), people.end(), ap.person) != people.end()) authority_approved = true;
        }
    if (!pol.terms.budget_escalate_to.empty() && !r.budget_escalated && r.chain && !authority_approved) {
      r.budget_escalated = true;
      r.chain->add_step(policy::Step{false, {pol.terms.budget_escalate_to}, std::nullopt, {}}, at);
      event(at, kSystem, r.id(), "budget_escalated", Json().add("to", pol.terms.budget_escalate_to).add("reason", message).str());
      return;  // still pending: the budget step decides
    }
    event(at, kSystem, r.id(), "over_budget", Json().add("reason", message).str());
  }
  EntryDraft d;
  d.date = day_of(at);
  d.description = "Reserved for " + r.id();
  d.idempotency_key = "budget:" + r.id();
  d.metadata = {{"request", r.id()}};
  d.postings = {{book_->account_id(root + ":Consumed", base), r.base_amount, std::nullopt},
                {*available, -r.base_amount, std::nullopt}};
  try {
    r.reservation = book_->reserve(d).id;
  } catch (const balance_limit_exceeded& e) {
    throw budget_exceeded("the " + r.budget_owner + " budget has no room for " + r.id() + ": " + e.what());
  }
  event(at, kSystem, r.id(), "reserved",
        Json().add("budget", root).add("amount", need.to_string()).add("entry", static_cast<std::int64_t>(r.reservation.value)).str());
}

void Desk::release(RequestRecord& r, Date on, const std::string& why) {
  if (!r.reservation || book_->status_of(r.reservation) != EntryStatus::pending) return;
  book_->void_pending(r.reservation, on, why);
}

// ---------------------------------------------------------------- the lifecycle

const RequestRecord& Desk::submit(requests::RequestContent content, Timestamp at, bool submit_now, std::string id) {
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    if (id.empty()) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "R-%06zu", next_number_);
      id = buf;
    }
    check_text("request id", id);
    check_content(content);
    if (records_.count(id)) throw invalid_argument("request " + id + " exists already");
    if (content.team.empty()) throw invalid_argument("request " + id + " names the requester's team");
    if (content.customer.id.empty()) throw invalid_argument("request " + id + " names the customer");
    if (content.customer.id.find(':') != std::string::npos)
      throw invalid_argument("request " + id + ": customer id \"" + content.customer.id +
                             "\" has a ':', which no Liabilities:CustomerCredits:<customer> account can carry");
    if (authenticated_) content.requester = acting(content.requester);  // filed by the person logged in, under their key
    const std::string actor = content.requester;
    touch_new(id);
    RequestRecord& r = records_.emplace(id, RequestRecord{requests::Request(id, std::move(content), at)}).first->second;
    ++next_number_;
    index(r);
    event(at, actor, id, "created", Json().add("kind", concessions::to_string(r.request.content().kind)).str());
    if (submit_now) validate_and_route(r, actor, at);
    return r;
  });
}

const RequestRecord& Desk::amend(const std::string& id, requests::RequestContent content, const std::string& actor,
                                 Timestamp at) {
  if (authenticated_) acting(actor);  // who acts, before anything is judged
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    check_content(content);
    RequestRecord& r = touch(id);
    if (!same_person(actor, r.request.content().requester))
      throw approvals::approval_error("only the requester (" + r.request.content().requester + ") amends request " + id +
                                      ", not " + actor);
    const requests::RequestContent before = r.request.content();
    r.request.amend(std::move(content), before.requester, at);  // a copy: amend() reallocates the versions
    index(r);
    std::string changes = "[";
    for (const requests::FieldChange& f : requests::differences(before, r.request.content()))
      changes += (changes.size() > 1 ? "," : "") +
                 Json().add("field", f.field).add("before", f.before).add("after", f.after).str();
    event(at, actor, id, "amended",
          Json().add("version", static_cast<std::int64_t>(r.request.version())).raw("changes", changes + "]").str());
    return r;
  });
}

const RequestRecord& Desk::amend(const std::string& id, const requests::RequestChanges& changes,
                                 const std::string& actor, Timestamp at) {
  if (changes.empty()) throw invalid_argument("an amendment of request " + id + " names at least one field to change");
  return amend(id, requests::amended(get(id).request.content(), changes), actor, at);
}

const RequestRecord& Desk::resubmit(const std::string& id, const std::string& actor, Timestamp at) {
  if (authenticated_) acting(actor);  // who acts, before anything is judged
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    RequestRecord& r = touch(id);
    if (!same_person(actor, r.request.content().requester))
      throw approvals::approval_error("only the requester (" + r.request.content().requester + ") submits request " + id +
                                      ", not " + actor);
    r.chain.reset();
    r.route = {};
    r.blocked.clear();
    r.budget_escalated = false;
    validate_and_route(r, actor, at);
    return r;
  });
}

const RequestRecord& Desk::approve(const std::string& id, const std::string& person, Timestamp at,
                                   const std::string& comment) {
  if (authenticated_) acting(person);  // who acts, before anything is judged
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    check_text("comment", comment);
    RequestRecord& r = touch(id);
    if (r.state() != State::pending_approval) {
      if (r.state() == State::validated && !r.blocked.empty())
        throw approvals::approval_error("request " + id + " is blocked: " + r.blocked + "; nobody can approve it");
      requests::next_state(r.state(), Action::approve);  // throws, saying what it can do
    }
    const bool done = r.chain->approve(person, day_of(at), at, comment);
    const approvals::Approval* given = nullptr;
    for (const auto& step : r.chain->steps())
      for (const auto& a : step.approvals)
        if (a.person == person) given = &a;
    AMENDS_ASSERT(given != nullptr);
    event(at, person, id, "approved",
          Json().add("role", given->role).add("delegate", given->as_delegate).add("comment", comment).add("complete", done).str());
    if (!done) return r;
    // The limits that weigh this request against the others, again: what
    // was approved meanwhile counts now (the book's write lock orders this).
    if (recheck_limits(r, at)) return r;
    on_chain_complete(r, at);
    if (!r.chain->complete()) return r;  // a budget step was added
    r.request.act(Action::approve, person, at, comment);
    return r;
  });
}

void Desk::check_decider(const RequestRecord& r, const std::string& person, Timestamp at, const char* what) const {
  if (same_person(person, r.request.content().requester))
    throw approvals::approval_error(person + " requested " + r.id() + "; nobody decides their own request");
  if (r.state() == State::pending_approval) {
    if (!has_authority(r, person, day_of(at), Authority::current_step))
      throw approvals::approval_error(person + " is not an approver of the step request " + r.id() +
                                      " waits on; only they " + what + " it");
    return;
  }
  if (r.state() == State::validated && !r.blocked.empty()) {
    const policy::Policy& pol = policy(r.policy_version);
    if (pol.exception_role.empty())
      throw approvals::approval_error("request " + r.id() + " is blocked and policy " + pol.version +
                                      " names no exception role to decide it; publish one that does");
    if (!has_authority(r, person, day_of(at), Authority::blocked))
      throw approvals::approval_error("request " + r.id() + " is blocked; only the exception role (" +
                                      pol.exception_role + ") " + what + " it, not " + person);
    return;
  }
  requests::next_state(r.state(), Action::decline);  // a final or applied request: says what it can do
  throw approvals::approval_error("request " + r.id() + " is " + std::string(requests::to_string(r.state())) +
                                  ", not awaiting a decision");
}

const RequestRecord& Desk::decline(const std::string& id, const std::string& person, Timestamp at,
                                   const std::string& comment, std::vector<std::string> alternatives) {
  if (authenticated_) acting(person);  // who acts, before anything is judged
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    RequestRecord& r = touch(id);
    if (comment.empty()) throw invalid_argument("a decline says why");
    check_text("comment", comment);
    for (const std::string& alt : alternatives) check_text("alternative", alt);
    check_decider(r, person, at, "declines");
    r.request.act(Action::decline, person, at, comment);
    r.alternatives = std::move(alternatives);
    release(r, day_of(at), "declined: " + comment);
    event(at, person, id, "declined", Json().add("comment", comment).add("alternatives", r.alternatives).str());
    notify(r, "declined", at);
    return r;
  });
}

const RequestRecord& Desk::return_for_information(const std::string& id, const std::string& person, Timestamp at,
                                                  const std::string& comment) {
  if (authenticated_) acting(person);  // who acts, before anything is judged
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    RequestRecord& r = touch(id);
    if (comment.empty()) throw invalid_argument("returning a request says what is missing");
    check_text("comment", comment);
    check_decider(r, person, at, "returns");
    r.request.act(Action::return_for_information, person, at, comment);
    r.chain.reset();
    event(at, person, id, "returned", Json().add("comment", comment).str());
    return r;
  });
}

const RequestRecord& Desk::cancel(const std::string& id, const std::string& actor, Timestamp at,
                                  const std::string& reason) {
  if (authenticated_) acting(actor);  // who acts, before anything is judged
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    RequestRecord& r = touch(id);
    if (r.state() == State::approved && r.accrued)
      throw request_state_error("request " + id + " was accrued at a period close; reverse it instead of cancelling");
    requests::next_state(r.state(), Action::cancel);  // a final or applied request: says what it can do
    if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
      throw invalid_argument("cancelling request " + id + " says why (a reason)");
    check_text("reason", reason);
    if (r.state() == State::approved) {
      if (!has_authority(r, actor, day_of(at), Authority::any_step))
        throw approvals::approval_error(
            "request " + id + " is approved; only an approver with authority over it (a member of a role of its "
            "chain, or of the exception role) cancels it now, not " + actor);
    } else if (!same_person(actor, r.request.content().requester)) {
      throw approvals::approval_error("only the requester (" + r.request.content().requester + ") cancels request " +
                                      id + " before it is approved, not " + actor +
                                      "; an approver declines or returns it instead");
    }
    r.request.act(Action::cancel, actor, at, reason);
    release(r, day_of(at), "cancelled: " + reason);
    event(at, actor, id, "cancelled", Json().add("reason", reason).str());
    return r;
  });
}

const RequestRecord& Desk::expire(const std::string& id, Timestamp at, const std::string& reason) {
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    check_text("reason", reason);
    RequestRecord& r = touch(id);
    if (r.state() == State::approved && r.accrued)
      throw request_state_error("request " + id + " was accrued at a period close; it can't expire");
    r.request.act(Action::expire, kSystem, at, reason);
    release(r, day_of(at), "expired: " + reason);
    event(at, kSystem, id, "expired", Json().add("reason", reason).str());
    return r;
  });
}

std::vector<EntryId> Desk::post_concession(RequestRecord& r, const std::string& actor, Timestamp at,
                                           std::optional<Period> into) {
  const auto& c = r.request.content();
  const policy::Policy& pol = policy(r.policy_version);
  const Date today = day_of(at);
  const Period service = c.service_period.value_or(Period::of(today));
  concessions::PostingPeriod pp;
  if (into) {
    pp.period = *into;
    pp.out_of_period = service < *into;
    if (pp.out_of_period) pp.note = "out-of-period adjustment for " + service.to_string();
  } else {
    pp = concessions::posting_period(book_->periods(), service);
  }
  const Period now = Period::of(today);
  const Date date = pp.period == now ? today : (pp.period < now ? last_day(pp.period) : first_day(pp.period));
  const concessions::Event ev = concessions::applied_event(c.kind);
  // A discount over several months posts once per invoiced month; anything
  // else posts once. allocate() splits the total without losing a cent.
  std::vector<std::pair<Date, Money>> parts;
  if (c.kind == Kind::retention_offer && c.claim.discount && c.claim.months > 1) {
    const std::vector<Money> shares = allocate_evenly(*r.amount, static_cast<std::size_t>(c.claim.months));
    for (int m = 0; m < c.claim.months; ++m)
      parts.emplace_back(m == 0 ? date : first_day(pp.period.plus_months(m)), shares[static_cast<std::size_t>(m)]);
  } else {
    parts.emplace_back(date, *r.amount);
  }
  std::vector<EntryId> ids;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EntryDraft d;
    d.date = parts[i].first;
    d.description = std::string(concessions::to_string(ev)) + " for " + c.customer.id + ": " + r.id() +
                    (pp.note.empty() ? std::string() : " (" + pp.note + ")");
    d.idempotency_key = "request:" + r.id() + ":" + std::to_string(i + 1);
    d.allow_locked_period = into.has_value();  // accruing at a close: the period being closed may be locked
    d.metadata = {{"request", r.id()},
                  {"kind", std::string(concessions::to_string(c.kind))},
                  {"service_period", service.to_string()},
                  {"policy", r.policy_version},
                  {"applied_by", actor}};
    if (pp.out_of_period) d.metadata.emplace_back("out_of_period", service.to_string());
    if (!c.reason_code.empty()) d.metadata.emplace_back("reason", c.reason_code);
    for (const concessions::PostingLine& line : concessions::postings_for(ev, c.customer.id, parts[i].second, pol.terms.accounting)) {
      const AccountId account = ensure_account(line.account, type_of(line.account), parts[i].second.currency());
      d.postings.push_back({account, line.amount, std::nullopt});
    }
    ids.push_back(book_->post(d).id);
  }
  r.posting_period = pp.period;
  r.out_of_period = pp.out_of_period;
  return ids;
}

const RequestRecord& Desk::apply(const std::string& id, const std::string& actor, Timestamp at) {
  if (authenticated_) acting(actor);  // who acts, before anything is judged
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    RequestRecord& r = touch(id);
    requests::next_state(r.state(), Action::apply);  // throws unless approved
    if (!r.accrued) {
      check_apply_limits(r, at);
      r.entries = post_concession(r, actor, at);
      if (r.reservation && book_->status_of(r.reservation) == EntryStatus::pending)
        book_->post_pending(r.reservation, day_of(at), {}, "Consumed by " + id);
    }
    r.request.act(Action::apply, actor, at);
    std::vector<std::string> entries;
    for (EntryId e : r.entries) entries.push_back(std::to_string(e.value));
    event(at, actor, id, "applied",
          Json().add("amount", r.amount->to_string()).add("entries", entries).add("posting_period", r.posting_period->to_string())
              .add("out_of_period", r.out_of_period).add("accrued", r.accrued).str());
    notify(r, "applied", at);
    return r;
  });
}

const RequestRecord& Desk::reconcile(const std::string& id, const std::string& actor, Timestamp at,
                                     const std::string& reference) {
  if (authenticated_) acting(actor);  // who acts, before anything is judged
  return atomically([&]() -> const RequestRecord& {
    check_clock(audit_, at);
    check_text("reference", reference);
    RequestRecord& r = touch(id);
    r.request.act(Action::reconcile, actor, at, reference);
    event(at, actor, id, "reconciled", Json().add("reference", reference).str());
    return r;
  });
}

const ReconciliationRun& Desk::record_run(ReconciliationRun run, const std::vector<std::string>& reconciled,
                                          std::vector<reconcile::ItemRow> items,
                                          std::vector<reconcile::CorrectionRow> corrections) {
  return atomically([&]() -> const ReconciliationRun& {
    check_clock(audit_, run.at);
    if (run.actor.empty()) throw invalid_argument("a reconciliation run names who ran it");
    if (run.inputs_sha256.size() != 64) throw invalid_argument("a run's inputs checksum is a SHA-256 in hex");
    if (find_run(run.inputs_sha256))
      throw invalid_argument("a reconciliation run of these inputs is recorded already (" + run.inputs_sha256 + ")");
    run.id = static_cast<std::int64_t>(runs_.size()) + 1;
    const std::string comment = "reconciliation run " + std::to_string(run.id) + " (" + run.source + ")";
    for (const std::string& id : reconciled) {
      auto found = records_.find(id);
      if (found == records_.end()) throw not_found("a reconciliation run names request " + id + ", which the desk has not");
      if (found->second.state() != State::applied) continue;  // reconciled already, or not applied: left as it is
      RequestRecord& r = touch(id);
      r.request.act(Action::reconcile, run.actor, run.at, comment);
      event(run.at, run.actor, id, "reconciled", Json().add("run", run.id).add("source", run.source).str());
    }
    event(run.at, run.actor, "", "reconciliation_run",
          Json().add("run", run.id).add("source", run.source).add("first", run.first.to_string())
              .add("last", run.last.to_string()).add("inputs_sha256", run.inputs_sha256)
              .add("exceptions", run.exceptions).raw("summary", run.summary).str());
    runs_.push_back(std::move(run));
    new_run_rows_.push_back(RunRows{std::move(items), std::move(corrections)});
    return runs_.back();
  });
}

const ReconciliationRun* Desk::find_run(std::string_view sha) const {
  for (const ReconciliationRun& r : runs_)
    if (r.inputs_sha256 == sha) return &r;
  return nullptr;
}

void Desk::load_run(ReconciliationRun run) {
  if (static_cast<std::size_t>(run.id) != runs_.size() + 1) return;
  runs_.push_back(std::move(run));
}

std::vector<std::string> Desk::escalate_due(Timestamp now) {
  return atomically([&] {
    check_clock(audit_, now);
    std::vector<std::string> out;
    std::vector<std::string> ids;
    for (const auto& [id, r] : records_)
      if (r.state() == State::pending_approval && r.chain) ids.push_back(id);
    for (const std::string& id : ids) {
      RequestRecord probe = records_.at(id);
      if (probe.chain->escalate_due(now).empty()) continue;
      RequestRecord& r = touch(id);
      for (const approvals::Escalation& e : r.chain->escalate_due(now))
        event(now, kSystem, id, "escalated", Json().add("step", static_cast<std::int64_t>(e.step) + 1).add("to", e.to_role).str());
      out.push_back(id);
    }
    return out;
  });
}

CloseReport Desk::close_period(Period period, const std::string& actor, Timestamp at, bool accrue) {
  if (authenticated_) acting(actor);  // who acts, before anything is judged
  return atomically([&] {
    check_clock(audit_, at);
    CloseReport report;
    report.period = period;
    report.base_currency = book_->config().base_currency;
    std::vector<std::string> stranded;
    for (const auto& [id, r] : records_) {
      if (r.state() != State::approved || r.accrued) continue;
      const Period service = r.request.content().service_period.value_or(*r.budget_period);
      if (service <= period || (r.budget_period && *r.budget_period <= period)) stranded.push_back(id);
    }
    if (!stranded.empty() && !accrue) {
      std::string list;
      for (const std::string& s : stranded) list += (list.empty() ? "" : ", ") + s;
      throw close_refused("closing " + period.to_string() + " would strand " + std::to_string(stranded.size()) +
                          " approved, unapplied request(s) and their budget reservations: " + list +
                          "; apply them, or close with accrual to post them into " + period.to_string());
    }
    // Entries first (appended: undone on failure), then the reservations'
    // completions, which change earlier entries and so come last.
    for (const std::string& id : stranded) {
      RequestRecord& r = touch(id);
      r.entries = post_concession(r, actor, at, period);
      r.accrued = true;
      event(at, actor, id, "accrued", Json().add("period", period.to_string()).str());
      report.accrued.push_back(id);
    }
    for (const std::string& id : stranded) {
      RequestRecord& r = records_.at(id);
      if (r.reservation && book_->status_of(r.reservation) == EntryStatus::pending)
        book_->post_pending(r.reservation, day_of(at), {}, "Consumed at the close of " + period.to_string());
    }
    book_->set_period_state(period, PeriodState::closed);
    std::map<std::string, CloseReport::KindTotal> totals;
    for (const auto& [id, r] : records_) {
      const auto& c = r.request.content();
      if (r.posting_period == period && !r.entries.empty()) {
        auto& t = totals[std::string(concessions::to_string(c.kind))];
        t.kind = concessions::to_string(c.kind);
        ++t.count;
        t.amount += r.base_amount;
        if (r.out_of_period) report.out_of_period.push_back(id);
      }
      const State s = r.state();
      if ((s == State::submitted || s == State::validated || s == State::pending_approval || s == State::returned) &&
          c.service_period.value_or(*r.budget_period) <= period)
        report.in_flight.push_back(id);
    }
    for (auto& [k, t] : totals) report.posted.push_back(t);
    for (const Utilisation& u : budgets())
      if (u.period == period) report.budgets.push_back(u);
    event(at, actor, "", "period_closed",
          Json().add("period", period.to_string()).add("accrued", report.accrued).add("in_flight", report.in_flight).str());
    return report;
  });
}

// ---------------------------------------------------------------- reading

std::vector<std::string> Desk::pending_for(const std::string& person, Date on) const {
  std::vector<std::pair<Timestamp, std::string>> found;
  for (const auto& [id, r] : records_) {
    if (r.state() != State::pending_approval || !r.chain) continue;
    auto who = r.chain->waiting_for(on);
    if (std::find(who.begin(), who.end(), person) != who.end()) found.emplace_back(r.request.created_at(), id);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::string Desk::explain(std::string_view id) const {
  const RequestRecord& r = get(id);
  const auto& c = r.request.content();
  std::ostringstream out;
  out << "Request " << r.id() << ": " << kind_label(c.kind) << " for customer " << c.customer.id << " (" << c.customer.tier
      << "), requested by " << c.requester << " of " << c.team << "; now " << requests::to_string(r.state()) << ".\n";
  if (r.amount) {
    out << "Amount: " << r.amount->to_string();
    if (!r.conversion.empty()) out << " = " << r.base_amount.to_string() << " " << book_->config().base_currency.code() << " (" << r.conversion << ")";
    out << ".\n";
  }
  for (std::size_t v = 1; v < r.request.versions().size(); ++v) {
    out << "Amended to version " << v + 1 << ":";
    const auto changes = requests::differences(r.request.versions()[v - 1], r.request.versions()[v]);
    if (changes.empty()) out << " nothing changed";
    for (std::size_t k = 0; k < changes.size(); ++k)
      out << (k ? ";" : "") << " " << changes[k].field << ": " << changes[k].before << " \u2192 " << changes[k].after;
    out << ".\n";
  }
  if (!r.incomplete.empty()) out << "Returned to the requester: " << r.incomplete << ".\n";
  for (const concessions::Finding& f : r.assessment.findings)
    out << "Validation " << concessions::to_string(f.severity) << " [" << f.code << "]: " << f.message << "\n";
  if (!r.policy_version.empty()) {
    out << "Routed by policy " << r.policy_version << ": " << policy::to_string(r.route.outcome);
    if (!r.route.rule.empty()) out << " by rule \"" << r.route.rule << "\"";
    if (!r.route.reason.empty()) out << " (" << r.route.reason << ")";
    out << ".\n";
    for (const std::string& line : r.route.explanation) out << "  " << line << "\n";
  }
  if (r.chain) {
    for (std::size_t i = 0; i < r.chain->steps().size(); ++i) {
      const auto& s = r.chain->steps()[i];
      out << "Step " << i + 1 << " (" << (s.step.all_of ? "all of " : "any of ");
      for (std::size_t k = 0; k < s.step.roles.size(); ++k) out << (k ? ", " : "") << s.step.roles[k];
      out << "): " << (s.done ? "done" : (i == r.chain->current_step() ? "waiting" : "later"));
      if (s.escalated) out << ", escalated to " << s.step.escalate_to;
      for (const auto& a : s.approvals)
        out << "; approved by " << a.person << " as " << a.role << (a.as_delegate ? " (delegate)" : "");
      out << "\n";
    }
  }
  if (r.reservation) out << "Budget " << r.budget_owner << " " << r.budget_period->to_string() << ": reservation entry " << r.reservation.value << ".\n";
  if (!r.entries.empty()) {
    out << "Posted in " << r.posting_period->to_string() << (r.out_of_period ? " (out-of-period adjustment)" : "") << " as entr" << (r.entries.size() == 1 ? "y" : "ies");
    for (EntryId e : r.entries) out << " " << e.value;
    out << ".\n";
  }
  return out.str();
}

std::vector<RecordFinding> Desk::check_records() const {
  std::vector<RecordFinding> out = load_findings_;
  for (const auto& [id, r] : records_) {
    if (r.policy_version.empty() || r.state() == State::draft) continue;
    if (!policies_.count(r.policy_version)) {
      out.push_back({id, "names policy " + r.policy_version + ", which the book does not have"});
      continue;
    }
    if (r.route.policy_version.empty()) continue;  // refused or returned before routing
    const auto& c = r.request.content();
    const policy::Route again =
        policy::route(policy(r.policy_version), policy::RouteInput{c.kind, r.base_amount, c.customer.tier,
                                                                   !r.routed_exceptions.empty(), r.routed_exceptions});
    if (again.outcome != r.route.outcome || again.rule != r.route.rule)
      out.push_back({id, "was routed " + std::string(policy::to_string(r.route.outcome)) + " by rule \"" + r.route.rule +
                             "\" under policy " + r.policy_version + ", which now routes it " +
                             std::string(policy::to_string(again.outcome)) + " by rule \"" + again.rule +
                             "\"; what was decided stands"});
  }
  return out;
}

}  // namespace amends::desk
