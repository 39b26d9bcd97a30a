// The concession desk: the four processes end to end on one book.
//
// A request is submitted with its evidence, validated against the terms of
// the book's policy (concessions.hpp), routed by the policy in force
// (policy.hpp), approved along its chain (approvals.hpp), reserved against a
// budget when the chain completes, posted to the ledger by the accounting
// table when it is applied, and finally reconciled. Declines, cancellations
// and expiries release the reservation. Every step appends to the
// hash-chained audit trail; applying and declining write a customer
// notification to the outbox.
//
// Budgets are memo accounts in the same book:
//   Budget:<owner>:<kind>:<period>:Available   (hard: minimum balance 0)
//   Budget:<owner>:<kind>:<period>:Allocated   (the funding side)
//   Budget:<owner>:<kind>:<period>:Consumed
// a reservation is a pending entry Consumed / Available, consumed by posting
// it and released by voiding it. The budget period is the month the request
// was submitted in; the owner is the request's team.
//
// The controls weigh a request against the book's other requests: goodwill
// caps and the policy's accumulation thresholds count what is granted and
// what is pending at submission, and what is granted when a chain completes
// and at apply; a duplicate SLA claim is held or refused as the policy
// says; the policy's requirements (reason, justification, evidence) send an
// incomplete request back to its requester. Deciding (declining, returning)
// needs the authority of the step a request waits on; cancelling is the
// requester's before approval and an approver's after. People are compared
// by their name key (names.hpp). An SLA claim's window is judged at its
// first submission. A resubmission is routed afresh under the policy in
// force; loading a stored request replays its route (check_records says
// where the core now disagrees).
//
// Every operation either completes or throws a typed error and changes
// nothing (desk state, ledger and audit trail). With the PostgreSQL store the
// desk's changes are written in the same transaction as the ledger's
// (store::DeskStore).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "amends/approvals.hpp"
#include "amends/concessions.hpp"
#include "amends/ledger.hpp"
#include "amends/policy.hpp"
#include "amends/reconcile_report.hpp"
#include "amends/requests.hpp"

namespace amends {

// No budget, or not enough of a hard one, for an approval.
class budget_exceeded : public balance_limit_exceeded { using balance_limit_exceeded::balance_limit_exceeded; };
// No request, charge or policy of that name.
class not_found : public error { using error::error; };
// A period close that would strand approved or reserved concessions.
class close_refused : public error { using error::error; };

namespace desk {

using requests::Timestamp;

// What a request records about its route and progress, beside the Request.
struct RequestRecord {
  explicit RequestRecord(requests::Request r)
      : request(std::move(r)), assessment{Money::zero(request.content().currency), {}} {}

  requests::Request request;
  std::string policy_version;           // the policy that routed it (empty before routing)
  concessions::Assessment assessment;   // of the current version
  std::optional<Money> amount;          // what is granted (computed or requested), once validated
  Decimal base_amount;                  // `amount` in the book's base currency
  std::string conversion;               // how it was converted ("1 EUR = 1.0850 USD on 2026-11-02, half-even")
  policy::Route route;
  std::vector<std::string> routed_exceptions;  // the exception codes the route was given
  std::optional<approvals::ApprovalChain> chain;
  std::string budget_owner;
  std::optional<Period> budget_period;
  bool budget_escalated = false;        // over a soft budget: the policy's budget step was added
  EntryId reservation{};                // the budget reservation (0: none)
  std::vector<EntryId> entries;         // what applying (or accruing) posted
  std::optional<Period> posting_period;
  bool out_of_period = false;
  bool accrued = false;                 // posted at a period close, before it was applied
  std::vector<std::string> alternatives;  // offered with a decline
  std::string blocked;                  // why routing blocked it (it then waits in `validated`)
  std::string incomplete;               // what the policy's requirements found missing (it was returned)

  const std::string& id() const { return request.id(); }
  requests::State state() const { return request.state(); }
};

struct Notification {
  std::int64_t id = 0;  // dense per book
  std::string request;
  std::string event;  // "applied" or "declined"
  std::string customer;
  std::string subject;
  std::string body;
  Timestamp created_at = 0;
};

struct Utilisation {
  std::string owner, kind;
  Period period;
  Currency currency = Currency::of("USD");
  bool hard = true;
  Decimal allocated, reserved, consumed, available;  // available = allocated - reserved - consumed
};

struct Charge {  // an original transaction from billing, for refunds
  std::string id;
  std::string customer;
  Money amount;
  Date day;
  Decimal refunded_in_billing;  // refunded before amends knew of it
};

struct FxRate {
  Currency currency;
  Date day;
  Decimal rate;  // 1 unit of `currency` = rate units of the base currency
};

struct CloseReport {
  Period period;
  Currency base_currency = Currency::of("USD");
  struct KindTotal {
    std::string kind;
    std::size_t count = 0;
    Decimal amount;  // base currency
  };
  std::vector<KindTotal> posted;               // concessions posted in the period, by kind
  std::vector<std::string> accrued;            // requests accrued by this close
  std::vector<std::string> out_of_period;      // adjustments posted in the period for earlier periods
  std::vector<std::string> in_flight;          // requests still awaiting approval for the period (informational)
  std::vector<Utilisation> budgets;            // budgets of the period, at close
  std::string text() const;                    // for people
};

// A disagreement between what a book's storage says of a request and what
// the core makes of it (a record that does not read back, a route its
// policy would no longer give). The book still opens; `amends audit verify`
// reports these.
struct RecordFinding {
  std::string request;
  std::string problem;
};

// A reconciliation run as the desk records it (sql/003_reconciliation.sql).
struct ReconciliationRun {
  std::int64_t id = 0;  // dense per book
  std::string source;
  Date first, last;
  std::string parameters;  // JSON
  std::string inputs_sha256;
  std::string summary;     // JSON
  std::int64_t exceptions = 0;
  Timestamp at = 0;
  std::string actor;
};

class Desk {
 public:
  // The desk of `book`, whose chart it extends with the accounts it posts to.
  explicit Desk(Ledger& book);
  Desk(const Desk&) = delete;
  Desk& operator=(const Desk&) = delete;
  Ledger& book() { return *book_; }
  const Ledger& book() const { return *book_; }

  // ------------------------------------------------------------ reference data
  // Publishes a policy version; it routes every request submitted from now
  // on (requests in flight keep theirs). The same version again with the
  // same text is a no-op; with other text, policy_error.
  const policy::Policy& publish_policy(std::string_view toml_text, const std::string& actor, Timestamp at);
  const policy::Policy& policy() const;  // the newest; policy_error when none
  const policy::Policy& policy(std::string_view version) const;
  const std::map<std::string, std::string, std::less<>>& policy_texts() const { return policy_texts_; }
  const std::vector<std::string>& policy_order() const { return policy_order_; }

  void set_rate(Currency currency, Date day, const Decimal& rate);
  // `amount` in the base currency at the latest rate on or before `day`,
  // rounded half-even to the base currency's minor unit.
  Money to_base(const Money& amount, Date day, std::string* how = nullptr) const;
  const std::vector<FxRate>& rates() const { return rates_; }

  void record_charge(Charge charge);
  const Charge& charge(std::string_view id) const;
  const std::map<std::string, Charge, std::less<>>& charges() const { return charges_; }

  // ------------------------------------------------------------ budgets
  // Adds to a budget: an entry dated `on` and a budget_allocated audit event
  // by `actor` at `at` (unset: the start of `on`), never before the trail's
  // last event.
  EntryId allocate(const std::string& owner, concessions::Kind kind, Period period, const Decimal& amount, bool hard,
                   Date on, const std::string& actor = "amends", std::optional<Timestamp> at = std::nullopt);
  Utilisation utilisation(const std::string& owner, concessions::Kind kind, Period period) const;
  std::vector<Utilisation> budgets() const;

  // ------------------------------------------------------------ requests
  // Creates a request (a draft unless `submit`), validates and routes it.
  // `id` empty: the next "R-000001"-style id.
  const RequestRecord& submit(requests::RequestContent content, Timestamp at, bool submit = true, std::string id = {});
  // Amends a draft or returned request (a new version); submitting it again
  // validates and routes it again under the policy now in force.
  const RequestRecord& amend(const std::string& id, requests::RequestContent content, const std::string& actor,
                             Timestamp at);
  // Changes exactly the fields named and keeps every other; the audit event
  // and explain() say what changed (old -> new).
  const RequestRecord& amend(const std::string& id, const requests::RequestChanges& changes, const std::string& actor,
                             Timestamp at);
  const RequestRecord& resubmit(const std::string& id, const std::string& actor, Timestamp at);
  const RequestRecord& approve(const std::string& id, const std::string& person, Timestamp at,
                               const std::string& comment = {});
  const RequestRecord& decline(const std::string& id, const std::string& person, Timestamp at,
                               const std::string& comment, std::vector<std::string> alternatives = {});
  const RequestRecord& return_for_information(const std::string& id, const std::string& person, Timestamp at,
                                              const std::string& comment);
  const RequestRecord& cancel(const std::string& id, const std::string& actor, Timestamp at,
                              const std::string& reason);
  const RequestRecord& expire(const std::string& id, Timestamp at, const std::string& reason);
  // Posts the accounting entries (unless accrued), consumes the reservation,
  // writes the notification.
  const RequestRecord& apply(const std::string& id, const std::string& actor, Timestamp at);
  const RequestRecord& reconcile(const std::string& id, const std::string& actor, Timestamp at,
                                 const std::string& reference);
  // Records a reconciliation run and moves the applied requests it matched
  // to reconciled, in one operation. `items` and `corrections` are the
  // run's rows (amends/reconcile_report.hpp), which the store writes. A run
  // with the same inputs_sha256 exists: invalid_argument.
  const ReconciliationRun& record_run(ReconciliationRun run, const std::vector<std::string>& reconciled,
                                      std::vector<reconcile::ItemRow> items,
                                      std::vector<reconcile::CorrectionRow> corrections);
  const ReconciliationRun* find_run(std::string_view inputs_sha256) const;
  const std::vector<ReconciliationRun>& runs() const { return runs_; }
  // The rows of the runs recorded since mark(), for the store.
  struct RunRows {
    std::vector<reconcile::ItemRow> items;
    std::vector<reconcile::CorrectionRow> corrections;
  };
  const std::vector<RunRows>& new_run_rows() const { return new_run_rows_; }
  void load_run(ReconciliationRun run);

  // Escalates every overdue approval step; returns the requests escalated.
  std::vector<std::string> escalate_due(Timestamp now);

  // Closes a period of the book. Refuses (close_refused, naming them) while
  // approved requests for the period or earlier are unapplied and not
  // accrued, or budget reservations of the period are open -- unless
  // `accrue`, which first posts those requests' entries into the period.
  CloseReport close_period(Period period, const std::string& actor, Timestamp at, bool accrue = false);

  // ------------------------------------------------------------ reading
  const RequestRecord& get(std::string_view id) const;
  bool contains(std::string_view id) const { return records_.find(id) != records_.end(); }
  const std::map<std::string, RequestRecord, std::less<>>& records() const { return records_; }
  // Requests `person` may approve now (SoD and delegation applied), oldest first.
  std::vector<std::string> pending_for(const std::string& person, Date on) const;
  // The route and findings of a request, for auditors.
  std::string explain(std::string_view id) const;
  // Every stored request checked against the core: its route again under
  // the policy version that routed it, and the records that did not load.
  std::vector<RecordFinding> check_records() const;
  const std::vector<RecordFinding>& load_findings() const { return load_findings_; }
  void load_finding(RecordFinding finding) { load_findings_.push_back(std::move(finding)); }
  const requests::AuditTrail& audit() const { return audit_; }
  const std::vector<Notification>& outbox() const { return outbox_; }

  // ------------------------------------------------------------ for the store
  // Changes since mark(): the records changed, audit events and
  // notifications appended, policies added.
  struct Mark {
    std::size_t audit = 0, outbox = 0, policies = 0;
    std::size_t next_id = 0;
    std::size_t runs = 0;
  };
  Mark mark();
  // Undoes everything since the mark (the write failed).
  void rollback(const Mark& mark);
  // The write committed: forget the undo log.
  void commit_mark();
  bool marked() const { return marked_; }
  // Ids of the records changed since the mark, and the charges recorded.
  const std::vector<std::string>& changed_records() const { return changed_order_; }
  const std::vector<std::string>& new_charges() const { return new_charges_; }
  const std::vector<FxRate>& new_rates() const { return added_rates_; }
  // Who published a policy version of this session, and when (none for policies loaded from storage).
  struct Publication {
    std::string by;
    Timestamp at = 0;
  };
  const Publication* publication(std::string_view version) const {
    auto it = published_.find(version);
    return it == published_.end() ? nullptr : &it->second;
  }
  // Forgets everything (the store reloads the desk from scratch).
  void clear();
  // Loading what another session wrote (no checks, no audit events).
  void load_policy(const std::string& text);
  void load_rate(FxRate rate);
  void load_charge(Charge charge);
  void load_record(RequestRecord record);
  // A request whose stored record does not read back: its id stays taken.
  void load_unreadable(const std::string& id, const std::string& problem);
  void load_audit(requests::AuditEvent event);
  void load_notification(Notification n);
  std::size_t next_number() const { return next_number_; }

  // Who acts. Unset (the default, and an in-memory desk): a single-user
  // simulation, where every action is taken in the name it is given. Set,
  // as the store sets it for a book that is not a simulation: the person
  // key the login is authenticated as; every action must be that person's
  // (same_person with the actor or requester given, else impersonation;
  // an empty key, a login bound to nobody: not_authorised), and is recorded
  // under that key. amends itself ("amends", "policy:<rule>") writes only
  // the events that follow from a person's action (system_event).
  void authenticate(std::optional<std::string> person) { authenticated_ = std::move(person); }
  const std::optional<std::string>& authenticated() const { return authenticated_; }
  // Whether amends itself may write event `what` (as "amends", or as
  // "policy:<rule>" for an auto-approval): the consequences of an action.
  static bool system_event(std::string_view actor, std::string_view what);

 private:
  // The name an action is recorded under: `actor` itself in a simulation,
  // else the authenticated person's key (refusing anyone else).
  const std::string& acting(const std::string& actor) const;
  void index(const RequestRecord& record);
  // Copy-on-write for the undo log: the record as it is before this write changes it.
  RequestRecord& touch(const std::string& id);
  void touch_new(const std::string& id);
  template <class F>
  auto atomically(F&& f) -> decltype(f());
  Mark counts() const;
  void undo(std::map<std::string, std::optional<RequestRecord>, std::less<>>& before, const Mark& mark,
            std::size_t charges_kept, std::size_t rates_kept);
  void event(Timestamp at, const std::string& actor, const std::string& request, const std::string& what,
             std::string details);
  void validate_and_route(RequestRecord& r, const std::string& actor, Timestamp at);
  void on_chain_complete(RequestRecord& r, Timestamp at);
  void release(RequestRecord& r, Date on, const std::string& why);
  std::vector<EntryId> post_concession(RequestRecord& r, const std::string& actor, Timestamp at,
                                       std::optional<Period> into = std::nullopt);
  void notify(const RequestRecord& r, const std::string& what, Timestamp at);
  std::string budget_root(const std::string& owner, concessions::Kind kind, Period period) const;
  // What other requests of the customer hold of goodwill over the 12 months
  // before `at`: granted (approved or later; with `approved_before`, approved
  // before that time), or also those pending approval (`in_flight`).
  Money goodwill_trailing(const std::string& customer, const std::string& except, Timestamp at, bool in_flight,
                          std::optional<Timestamp> approved_before = std::nullopt) const;
  // Findings that depend on the other requests of the book: the goodwill
  // trailing cap and the policy's accumulation thresholds. At submission
  // they count what is granted or pending; when a chain completes, what is
  // granted; at apply, what was granted before this request's approval.
  std::vector<concessions::Finding> limit_findings(const RequestRecord& r, Timestamp at, bool in_flight,
                                                   std::optional<Timestamp> approved_before = std::nullopt) const;
  // Re-checks those limits when a chain completes or a request is applied:
  // a new exception adds its role's step (returns true: still pending).
  bool recheck_limits(RequestRecord& r, Timestamp at);
  void check_apply_limits(const RequestRecord& r, Timestamp at) const;
  std::string duplicate_claim(const RequestRecord& r) const;
  std::vector<std::string> missing_requirements(const RequestRecord& r, const policy::Policy& pol) const;
  // Whether `person` (never the requester) holds the authority to decline,
  // return or cancel: of the step the request waits on, of the exception
  // role (a blocked request), or of any step of its chain or the exception
  // role (an approved request).
  enum class Authority : std::uint8_t { current_step, blocked, any_step };
  bool has_authority(const RequestRecord& r, const std::string& person, Date on, Authority over) const;
  // Refuses (approval_error) `person` deciding on `r` now (declining, returning).
  void check_decider(const RequestRecord& r, const std::string& person, Timestamp at, const char* what) const;
  AccountId ensure_account(const std::string& name, AccountType type, Currency currency);

  Ledger* book_;
  std::map<std::string, std::unique_ptr<policy::Policy>, std::less<>> policies_;
  std::map<std::string, std::string, std::less<>> policy_texts_;
  std::vector<std::string> policy_order_;
  std::map<std::string, Publication, std::less<>> published_;
  std::vector<FxRate> rates_;  // sorted by (currency, day)
  std::map<std::string, Charge, std::less<>> charges_;
  std::map<std::string, RequestRecord, std::less<>> records_;
  std::optional<std::string> authenticated_;
  // Request ids by every customer they have named (filter on the current one).
  std::map<std::string, std::vector<std::string>, std::less<>> by_customer_;
  // Request ids by their requester's name key (names.hpp).
  std::map<std::string, std::vector<std::string>, std::less<>> by_requester_;
  requests::AuditTrail audit_;
  std::vector<Notification> outbox_;
  std::vector<ReconciliationRun> runs_;
  std::vector<RunRows> new_run_rows_;
  std::vector<RecordFinding> load_findings_;
  std::size_t next_number_ = 1;

  // The undo log of the write in progress.
  bool marked_ = false;
  bool in_op_ = false;
  std::map<std::string, std::optional<RequestRecord>, std::less<>> before_;     // this write
  std::map<std::string, std::optional<RequestRecord>, std::less<>> op_before_;  // this operation
  std::vector<FxRate> added_rates_;
  std::vector<std::string> changed_order_;
  std::vector<std::string> new_charges_;
};

}  // namespace desk
}  // namespace amends
