#include "amends/requests.hpp"

#include <chrono>
#include <cstring>

#include <date/date.h>

namespace amends::requests {

std::string format_timestamp(Timestamp at) {
  const date::sys_time<std::chrono::microseconds> t{std::chrono::microseconds{at}};
  return date::format("%FT%TZ", t);
}

// ---------------------------------------------------------------- states

namespace {

constexpr std::string_view kStates[] = {"draft",    "submitted", "validated",  "pending_approval",
                                        "approved", "declined",  "returned",   "applied",
                                        "reconciled", "cancelled", "expired"};
constexpr std::string_view kActions[] = {"submit", "validate", "route",     "approve", "decline", "return",
                                         "apply",  "reconcile", "cancel",   "expire",  "amend"};

std::optional<State> allowed(State from, Action action) {
  using S = State;
  using A = Action;
  switch (action) {
    case A::submit:
      if (from == S::draft || from == S::returned) return S::submitted;
      break;
    case A::validate:
      if (from == S::submitted) return S::validated;
      break;
    case A::route:
      if (from == S::validated) return S::pending_approval;
      break;
    case A::approve:
      if (from == S::pending_approval) return S::approved;
      break;
    case A::decline:
      if (from == S::submitted || from == S::validated || from == S::pending_approval) return S::declined;
      break;
    case A::return_for_information:
      if (from == S::submitted || from == S::validated || from == S::pending_approval) return S::returned;
      break;
    case A::apply:
      if (from == S::approved) return S::applied;
      break;
    case A::reconcile:
      if (from == S::applied) return S::reconciled;
      break;
    case A::cancel:
      if (!is_final(from) && from != S::applied) return S::cancelled;
      break;
    case A::expire:
      if (from == S::submitted || from == S::validated || from == S::pending_approval || from == S::approved ||
          from == S::returned)
        return S::expired;
      break;
    case A::amend:
      break;  // not a move: Request::amend
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(State state) { return kStates[static_cast<int>(state)]; }

State parse_state(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kStates); ++i)
    if (kStates[i] == name) return static_cast<State>(i);
  throw invalid_argument("unknown request state \"" + std::string(name) + "\"");
}

bool is_final(State state) {
  return state == State::declined || state == State::reconciled || state == State::cancelled || state == State::expired;
}

std::string_view to_string(Action action) { return kActions[static_cast<int>(action)]; }

State next_state(State from, Action action) {
  if (auto to = allowed(from, action)) return *to;
  std::string can;
  for (std::size_t i = 0; i < std::size(kActions); ++i)
    if (allowed(from, static_cast<Action>(i))) can += (can.empty() ? "" : ", ") + std::string(kActions[i]);
  if (from == State::draft || from == State::returned) can += ", amend";
  throw request_state_error("a " + std::string(to_string(from)) + " request can't " + std::string(to_string(action)) +
                            (can.empty() ? "; it is final" : "; it can " + can));
}

// ---------------------------------------------------------------- requests

Request::Request(std::string id, RequestContent content, Timestamp created_at)
    : id_(std::move(id)), created_at_(created_at) {
  if (id_.empty()) throw invalid_argument("a request needs an id");
  if (content.requester.empty()) throw invalid_argument("request " + id_ + " needs a requester");
  if (content.amount && !(content.amount->currency() == content.currency))
    throw currency_mismatch("request " + id_ + " is in " + std::string(content.currency.code()) + " but its amount is " +
                            content.amount->to_string());
  versions_.push_back(std::move(content));
}

Request Request::restore(std::string id, State state, std::vector<RequestContent> versions,
                         std::vector<Transition> history, Timestamp created_at) {
  if (versions.empty()) throw invalid_argument("stored request " + id + " has no version");
  Request r(std::move(id), versions.front(), created_at);
  r.versions_ = std::move(versions);
  State at = State::draft;
  for (const Transition& t : history) {
    if (t.from != at) throw invalid_argument("stored request " + r.id_ + " has a history that does not join up");
    at = t.to;
  }
  if (at != state) throw invalid_argument("stored request " + r.id_ + " is " + std::string(to_string(state)) +
                                          " but its history ends " + std::string(to_string(at)));
  r.history_ = std::move(history);
  r.state_ = state;
  return r;
}

void Request::act(Action action, const std::string& actor, Timestamp at, std::string comment) {
  if (actor.empty()) throw invalid_argument("every step of request " + id_ + " names who took it");
  if (!history_.empty() && at < history_.back().at)
    throw invalid_argument("request " + id_ + ": " + format_timestamp(at) + " is before its last step at " +
                           format_timestamp(history_.back().at));
  const State to = next_state(state_, action);
  history_.push_back(Transition{at, actor, action, state_, to, std::move(comment)});
  state_ = to;
}

void Request::amend(RequestContent content, const std::string& actor, Timestamp at) {
  if (state_ != State::draft && state_ != State::returned)
    throw request_state_error("a " + std::string(to_string(state_)) + " request can't be amended; only a draft or a " +
                              "returned one can");
  if (actor != versions_.back().requester)
    throw invalid_argument("only the requester (" + versions_.back().requester + ") amends request " + id_ +
                           ", not " + actor);
  if (content.kind != versions_.back().kind)
    throw invalid_argument("request " + id_ + " is a " + std::string(concessions::to_string(versions_.back().kind)) +
                           " request; a different kind is a new request");
  if (content.amount && !(content.amount->currency() == content.currency))
    throw currency_mismatch("request " + id_ + " is in " + std::string(content.currency.code()) + " but its amount is " +
                            content.amount->to_string());
  if (!history_.empty() && at < history_.back().at)
    throw invalid_argument("request " + id_ + ": " + format_timestamp(at) + " is before its last step");
  content.requester = versions_.back().requester;
  versions_.push_back(std::move(content));
  history_.push_back(Transition{at, actor, Action::amend, state_, state_,
                                "amended to version " + std::to_string(versions_.size())});
}

std::optional<Timestamp> Request::first_submitted_at() const {
  for (const Transition& t : history_)
    if (t.action == Action::submit) return t.at;
  return std::nullopt;
}

// ---------------------------------------------------------------- amendments

bool RequestChanges::empty() const {
  return !kind && !requester && !customer && !tier && !reason_code && !justification && !team &&
         !original_transaction && !override_reason && !customer_value && !amount && !period_fee &&
         !measured_availability && !discount && !monthly_fee && !currency && !evidence && !service_period && !months &&
         !changes_contract;
}

RequestContent amended(const RequestContent& current, const RequestChanges& ch) {
  if (ch.kind && *ch.kind != current.kind)
    throw invalid_argument("the request is a " + std::string(concessions::to_string(current.kind)) +
                           " request; a different kind is a new request, not an amendment");
  if (ch.requester && *ch.requester != current.requester)
    throw invalid_argument("the request was made by " + current.requester + "; the requester does not change");
  RequestContent c = current;
  if (ch.currency && !(*ch.currency == current.currency)) {
    // Every amount the request carries is in its currency: a new currency restates them all.
    auto restated = [&](const char* field, bool present, bool given) {
      if (present && !given)
        throw invalid_argument(std::string("changing the currency to ") + std::string(ch.currency->code()) +
                               " restates every amount: give " + field + " in it too");
    };
    restated("amount", current.amount.has_value(), ch.amount.has_value());
    restated("customer_value", current.customer.value.has_value(), ch.customer_value.has_value());
    restated("period_fee", current.claim.period_fee.has_value(), ch.period_fee.has_value());
    restated("monthly_fee", current.claim.monthly_fee.has_value(), ch.monthly_fee.has_value());
    c.currency = *ch.currency;
  }
  auto money = [&](const std::optional<std::optional<Decimal>>& given, std::optional<Money>& field) {
    if (given) field = *given ? std::optional<Money>(Money(**given, c.currency)) : std::nullopt;
  };
  money(ch.amount, c.amount);
  money(ch.customer_value, c.customer.value);
  money(ch.period_fee, c.claim.period_fee);
  money(ch.monthly_fee, c.claim.monthly_fee);
  if (ch.customer) c.customer.id = *ch.customer;
  if (ch.tier) c.customer.tier = *ch.tier;
  if (ch.reason_code) c.reason_code = *ch.reason_code;
  if (ch.justification) c.justification = *ch.justification;
  if (ch.team) c.team = *ch.team;
  if (ch.original_transaction) c.claim.original_transaction = *ch.original_transaction;
  if (ch.override_reason) c.claim.override_reason = *ch.override_reason;
  if (ch.measured_availability) c.claim.measured_availability = *ch.measured_availability;
  if (ch.discount) c.claim.discount = *ch.discount;
  if (ch.evidence) c.evidence = *ch.evidence;
  if (ch.service_period) c.service_period = *ch.service_period;
  if (ch.months) c.claim.months = *ch.months;
  if (ch.changes_contract) c.claim.changes_contract = *ch.changes_contract;
  return c;
}

namespace {

std::string shown(const std::string& s) { return s.empty() ? "(none)" : s; }
std::string shown(const std::optional<Money>& m) { return m ? m->to_string() : "(none)"; }
std::string shown(const std::optional<Decimal>& d) { return d ? d->to_string() : "(none)"; }
std::string shown(const std::optional<Period>& p) { return p ? p->to_string() : "(none)"; }
std::string shown(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return shown(out);
}

}  // namespace

std::vector<FieldChange> differences(const RequestContent& a, const RequestContent& b) {
  std::vector<FieldChange> out;
  auto diff = [&](const char* field, std::string before, std::string after) {
    if (before != after) out.push_back(FieldChange{field, std::move(before), std::move(after)});
  };
  diff("customer", shown(a.customer.id), shown(b.customer.id));
  diff("tier", shown(a.customer.tier), shown(b.customer.tier));
  diff("customer_value", shown(a.customer.value), shown(b.customer.value));
  diff("currency", std::string(a.currency.code()), std::string(b.currency.code()));
  diff("amount", a.amount ? a.amount->to_string() : "(computed)", b.amount ? b.amount->to_string() : "(computed)");
  diff("reason", shown(a.reason_code), shown(b.reason_code));
  diff("justification", shown(a.justification), shown(b.justification));
  diff("evidence", shown(a.evidence), shown(b.evidence));
  diff("team", shown(a.team), shown(b.team));
  diff("service_period", shown(a.service_period), shown(b.service_period));
  diff("period_fee", shown(a.claim.period_fee), shown(b.claim.period_fee));
  diff("availability", shown(a.claim.measured_availability), shown(b.claim.measured_availability));
  diff("charge", shown(a.claim.original_transaction), shown(b.claim.original_transaction));
  diff("discount", shown(a.claim.discount), shown(b.claim.discount));
  diff("monthly_fee", shown(a.claim.monthly_fee), shown(b.claim.monthly_fee));
  diff("months", std::to_string(a.claim.months), std::to_string(b.claim.months));
  diff("changes_contract", a.claim.changes_contract ? "yes" : "no", b.claim.changes_contract ? "yes" : "no");
  diff("override_reason", shown(a.claim.override_reason), shown(b.claim.override_reason));
  return out;
}

// ---------------------------------------------------------------- SHA-256 (FIPS 180-4)

namespace {

constexpr std::uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void compress(std::uint32_t state[8], const std::uint8_t block[64]) {
  std::uint32_t w[64];
  for (int i = 0; i < 16; ++i)
    w[i] = (std::uint32_t{block[4 * i]} << 24) | (std::uint32_t{block[4 * i + 1]} << 16) |
           (std::uint32_t{block[4 * i + 2]} << 8) | std::uint32_t{block[4 * i + 3]};
  for (int i = 16; i < 64; ++i) {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6],
                h = state[7];
  for (int i = 0; i < 64; ++i) {
    const std::uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const std::uint32_t ch = (e & f) ^ (~e & g);
    const std::uint32_t t1 = h + s1 + ch + kRound[i] + w[i];
    const std::uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    const std::uint32_t t2 = s0 + maj;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

}  // namespace

Hash sha256(std::string_view data) {
  std::uint32_t state[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::size_t whole = data.size() / 64;
  for (std::size_t i = 0; i < whole; ++i) compress(state, reinterpret_cast<const std::uint8_t*>(data.data()) + 64 * i);
  std::uint8_t tail[128] = {};
  const std::size_t rest = data.size() - 64 * whole;
  if (rest) std::memcpy(tail, data.data() + 64 * whole, rest);
  tail[rest] = 0x80;
  const std::size_t blocks = rest + 9 > 64 ? 2 : 1;
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (std::size_t i = 0; i < 8; ++i) tail[64 * blocks - 1 - i] = static_cast<std::uint8_t>(bits >> (8 * i));
  for (std::size_t i = 0; i < blocks; ++i) compress(state, tail + 64 * i);
  Hash out{};
  for (int i = 0; i < 8; ++i)
    for (int k = 0; k < 4; ++k) out[static_cast<std::size_t>(4 * i + k)] = static_cast<std::uint8_t>(state[i] >> (24 - 8 * k));
  return out;
}

std::string to_hex(const Hash& hash) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : hash) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

// ---------------------------------------------------------------- the audit trail

std::string canonical(const AuditEvent& e) {
  std::string out = "amends-audit-v1;";
  auto field = [&](std::string_view value) {
    out += std::to_string(value.size());
    out += ':';
    out += value;
    out += ';';
  };
  field(std::to_string(e.sequence));
  field(std::to_string(e.at));
  field(e.actor);
  field(e.request);
  field(e.event);
  field(e.details);
  field(to_hex(e.previous));
  return out;
}

const AuditEvent& AuditTrail::append(Timestamp at, std::string actor, std::string request, std::string event,
                                     std::string details) {
  if (actor.empty() || event.empty()) throw invalid_argument("an audit event names who did what");
  if (!events_.empty() && at < events_.back().at)
    throw invalid_argument("audit events are appended in time order: " + format_timestamp(at) + " is before " +
                           format_timestamp(events_.back().at));
  AuditEvent e;
  e.sequence = events_.size() + 1;
  e.at = at;
  e.actor = std::move(actor);
  e.request = std::move(request);
  e.event = std::move(event);
  e.details = std::move(details);
  if (!events_.empty()) e.previous = events_.back().hash;
  e.hash = sha256(canonical(e));
  events_.push_back(std::move(e));
  return events_.back();
}

void AuditTrail::adopt(AuditEvent event) {
  const Hash previous = events_.empty() ? Hash{} : events_.back().hash;
  if (event.sequence != events_.size() + 1 || event.previous != previous || event.hash != sha256(canonical(event)))
    throw invalid_argument("audit event " + std::to_string(event.sequence) + " does not continue the trail (" +
                           std::to_string(events_.size()) + " events)");
  events_.push_back(std::move(event));
}

void AuditTrail::truncate(std::size_t count) {
  if (count < events_.size()) events_.resize(count);
}

AuditTrail::Verification AuditTrail::verify(const std::vector<AuditEvent>& events) {
  Hash previous{};
  for (std::size_t i = 0; i < events.size(); ++i) {
    const AuditEvent& e = events[i];
    auto bad = [&](std::string problem) { return Verification{false, e.sequence, std::move(problem)}; };
    if (e.sequence != i + 1)
      return bad("event " + std::to_string(i + 1) + " carries sequence " + std::to_string(e.sequence) +
                 ": an event is missing or out of order");
    if (e.previous != previous) return bad("event " + std::to_string(e.sequence) + " does not link to the event before it");
    if (sha256(canonical(e)) != e.hash)
      return bad("event " + std::to_string(e.sequence) + " was changed after it was written: its hash does not match");
    previous = e.hash;
  }
  return Verification{};
}

}  // namespace amends::requests
