// Concession requests and their lifecycle, and the hash-chained audit trail
// every step of a request is written to.
//
// A request moves draft -> submitted -> validated -> pending_approval ->
// approved -> applied -> reconciled; it can be declined, returned for more
// information (then amended and resubmitted), cancelled or expired. Any
// other move is a request_state_error. Amending keeps every earlier version.
//
// The audit trail is append-only; each event's hash covers the previous
// event's hash and the event's own fields, so changing, removing or
// reordering any event breaks every later hash (AuditTrail::verify).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "amends/calendar.hpp"
#include "amends/concessions.hpp"
#include "amends/errors.hpp"
#include "amends/money.hpp"

namespace amends {

// A request moved in a way its lifecycle does not allow.
class request_state_error : public error { using error::error; };

namespace requests {

// Microseconds since 1970-01-01T00:00:00Z; the caller's clock decides.
using Timestamp = std::int64_t;
std::string format_timestamp(Timestamp at);  // "2026-11-23T14:05:09.123456Z"

enum class State : std::uint8_t {
  draft, submitted, validated, pending_approval, approved, declined, returned, applied, reconciled, cancelled, expired
};
std::string_view to_string(State state);
State parse_state(std::string_view name);
bool is_final(State state);  // declined, reconciled, cancelled, expired

enum class Action : std::uint8_t {
  submit, validate, route, approve, decline, return_for_information, apply, reconcile, cancel, expire,
  amend  // recorded by Request::amend (a new version; the state stays); act() refuses it
};
std::string_view to_string(Action action);
// The state an action leads to from `from`, or request_state_error saying
// what the request can do instead.
State next_state(State from, Action action);

struct Customer {
  std::string id;
  std::string tier;
  std::optional<Money> value;  // ARR or lifetime value
};

// What validation needs beyond the amount, per kind.
struct Claim {
  // Service credits: the period's fee and the measured availability (a fraction).
  std::optional<Money> period_fee;
  std::optional<Decimal> measured_availability;
  // Refunds: the billing system's charge or invoice id.
  std::string original_transaction;
  // Retention offers: a discount of the monthly fee for some months (or the
  // request's amount as a one-off credit), and whether the contract changes.
  std::optional<Decimal> discount;
  std::optional<Money> monthly_fee;
  int months = 0;
  bool changes_contract = false;
  // Asks the authority the policy names (its exception role) to override an
  // overridable refusal, such as a claim outside the SLA claim window: why.
  std::string override_reason;
};

// What the requester says; a new version each time it is amended.
struct RequestContent {
  concessions::Kind kind = concessions::Kind::goodwill;
  Customer customer;
  std::optional<Money> amount;  // nullopt: computed (service credits, retention offers)
  Currency currency = Currency::of("USD");
  std::string reason_code;
  std::string justification;
  std::vector<std::string> evidence;  // incident ids, SLA metric references, order or charge ids
  std::string requester;
  std::string team;
  std::optional<Period> service_period;
  Claim claim;
};

// The fields an amendment names; every field left out keeps its value
// (Desk::amend). An inner nullopt clears an optional field (an amount left
// to be computed, say). Amounts are plain decimals: they take the currency
// of the amended request (or the new one, when `currency` is named).
struct RequestChanges {
  std::optional<concessions::Kind> kind;        // must stay the same: a different kind is a new request
  std::optional<std::string> requester;         // must stay the same
  std::optional<std::string> customer, tier, reason_code, justification, team, original_transaction, override_reason;
  std::optional<std::optional<Decimal>> customer_value, amount, period_fee, measured_availability, discount,
      monthly_fee;
  std::optional<Currency> currency;
  std::optional<std::vector<std::string>> evidence;
  std::optional<std::optional<Period>> service_period;
  std::optional<int> months;
  std::optional<bool> changes_contract;
  bool empty() const;
};

// `current` with `changes` applied; invalid_argument when the changes ask
// for another kind or requester, or change the currency without restating
// every amount the request carries.
RequestContent amended(const RequestContent& current, const RequestChanges& changes);

// One field that differs between two versions, as people read it.
struct FieldChange {
  std::string field;  // "amount", "evidence", "period_fee", ...
  std::string before, after;  // "(none)" for an empty field
};
// The fields of `after` that differ from `before`, in a fixed order.
std::vector<FieldChange> differences(const RequestContent& before, const RequestContent& after);

struct Transition {
  Timestamp at;
  std::string actor;
  Action action;
  State from, to;
  std::string comment;
};

class Request {
 public:
  Request(std::string id, RequestContent content, Timestamp created_at);
  // A request as stored (for loading it back); checked for consistency.
  static Request restore(std::string id, State state, std::vector<RequestContent> versions,
                         std::vector<Transition> history, Timestamp created_at);

  const std::string& id() const { return id_; }
  State state() const { return state_; }
  const RequestContent& content() const { return versions_.back(); }
  // Every version, oldest first; version n is versions()[n - 1].
  const std::vector<RequestContent>& versions() const { return versions_; }
  int version() const { return static_cast<int>(versions_.size()); }
  const std::vector<Transition>& history() const { return history_; }
  Timestamp created_at() const { return created_at_; }
  // When it was first submitted (a draft not yet submitted: nullopt). An
  // SLA claim's window is judged at this time, not at a resubmission.
  std::optional<Timestamp> first_submitted_at() const;

  // Moves the request; request_state_error (and no change) if not allowed.
  void act(Action action, const std::string& actor, Timestamp at, std::string comment = {});
  // A new version; only a draft or a returned request can be amended, and
  // only by its requester.
  void amend(RequestContent content, const std::string& actor, Timestamp at);

 private:
  std::string id_;
  State state_ = State::draft;
  std::vector<RequestContent> versions_;
  std::vector<Transition> history_;
  Timestamp created_at_;
};

// ---------------------------------------------------------------- the audit trail

using Hash = std::array<std::uint8_t, 32>;  // SHA-256
std::string to_hex(const Hash& hash);
Hash sha256(std::string_view data);

struct AuditEvent {
  std::uint64_t sequence = 0;  // 1, 2, 3, ...
  Timestamp at = 0;
  std::string actor;
  std::string request;  // request id
  std::string event;    // "submitted", "validated", "flagged", "routed", "approved", ...
  std::string details;  // free text or JSON: the comment, the amount, the rule that matched
  Hash previous{};      // the hash of event sequence - 1 (zeros for the first)
  Hash hash{};          // sha256 of the canonical form of all the fields above
};

// The canonical bytes an event's hash covers: every field, length-prefixed.
std::string canonical(const AuditEvent& event);

class AuditTrail {
 public:
  // Appends an event; its sequence, previous and hash are set here. Times
  // may not go backwards.
  const AuditEvent& append(Timestamp at, std::string actor, std::string request, std::string event,
                           std::string details = {});
  const std::vector<AuditEvent>& events() const { return events_; }

  struct Verification {
    bool ok = true;
    std::uint64_t first_bad = 0;  // the first event whose hash or link does not hold
    std::string problem;
  };
  // Appends an event read back from storage; its link to the last one must hold.
  void adopt(AuditEvent event);
  // Drops the events after the first `count` (a write that did not commit).
  void truncate(std::size_t count);

  // Recomputes the chain of any sequence of events (read back from storage).
  static Verification verify(const std::vector<AuditEvent>& events);

 private:
  std::vector<AuditEvent> events_;
};

}  // namespace requests
}  // namespace amends
