// The concession desk of a book kept in PostgreSQL (sql/002_desk.sql).
//
// A DeskStore joins a desk to a store::Book: every desk operation run inside
// Book::write is written in the same transaction as the ledger entries it
// posts -- the request's record, its audit events, the customer
// notifications, policies, rates and charges -- or not at all. Reads catch
// up with what other sessions committed, as the book's mirror does. A write
// that appends audit events also anchors each request it writes at that
// request's last event (requests.audit_seq/audit_hash) and moves the book's
// audit head (amends.audit_heads, sql/005_audit_anchors.sql).
#pragma once

#include <string>

#include "amends/checkpoint.hpp"
#include "amends/desk.hpp"
#include "amends/store.hpp"

namespace amends::store {

class DeskStore final : public Participant {
 public:
  // Loads the desk (empty, over `book`'s mirror) from the database.
  DeskStore(Book& book, desk::Desk& desk);
  ~DeskStore() override;
  DeskStore(const DeskStore&) = delete;
  DeskStore& operator=(const DeskStore&) = delete;

  void catch_up(Session& session, std::int64_t version) override;
  void begin() override;
  bool changed() const override;
  void write(Session& session, std::int64_t version) override;
  void failed() override;
  void committed() override;
  void reset() override;

 private:
  void write_runs(Session& session);

  Book* book_;
  desk::Desk* desk_;
  std::int64_t version_ = 0;
  std::size_t charges_loaded_ = 0;
  bool active_ = false;
  desk::Desk::Mark mark_{};
};

// What verify_audit found. first_bad and problem name the first
// inconsistency, by sequence: a break in the hash chain, a head that is not
// the trail's last event, a request anchor the trail does not bear out, or an
// event that no longer has the hash a checkpoint recorded.
struct AuditVerification : requests::AuditTrail::Verification {
  std::string kind;              // of the first inconsistency: "chain", "head", "anchor" or "checkpoint"
  std::size_t events = 0;        // events read
  std::uint64_t last = 0;        // the last event's sequence (0: none)
  requests::Hash last_hash{};    // and its hash
  std::uint64_t head = 0;        // the head recorded for the book (0: none)
  std::size_t anchored = 0;      // requests whose anchor was checked (NULL anchors, from before 005, are not)
  std::uint64_t checkpoint = 0;  // the checkpoint's sequence checked against (0: none)
  // With `records`, when the trail verifies: Desk::check_records over the
  // book's policies and request records as stored (no ledger, no trail).
  std::vector<desk::RecordFinding> findings;
};

// Reads a book's audit trail afresh from the database (one repeatable-read
// snapshot, streamed) and recomputes its hash chain; then checks it against
// the book's recorded head (amends.audit_heads: a trail cut short, wiped or
// appended to outside amends) and against every anchored request (its
// anchor must be its last event, with that hash), and, given a checkpoint
// (whose signature the caller has checked, checkpoint::check), that the
// event at the checkpoint's sequence still has the checkpoint's hash. A
// checkpoint of another book is an invalid_argument. With `records`, the
// request records are checked too (findings), as a loaded desk would.
AuditVerification verify_audit(const std::string& dsn, const std::string& book, std::size_t* events = nullptr,
                               const checkpoint::Checkpoint* checkpoint = nullptr, bool records = false);

// JSON form of a request record (the requests.record column); the desk
// holds the policy that says whether its kind draws on a budget.
std::string record_to_json(const desk::RequestRecord& record, const desk::Desk& desk);
desk::RequestRecord record_from_json(const std::string& json, const desk::Desk& desk);

}  // namespace amends::store
