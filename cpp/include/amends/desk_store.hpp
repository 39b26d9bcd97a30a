// The concession desk of a book kept in PostgreSQL (sql/002_desk.sql).
//
// A DeskStore joins a desk to a store::Book: every desk operation run inside
// Book::write is written in the same transaction as the ledger entries it
// posts -- the request's record, its audit events, the customer
// notifications, policies, rates and charges -- or not at all. Reads catch
// up with what other sessions committed, as the book's mirror does.
#pragma once

#include <string>

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

// Reads a book's audit trail afresh from the database and recomputes its
// hash chain.
requests::AuditTrail::Verification verify_audit(const std::string& dsn, const std::string& book,
                                                std::size_t* events = nullptr);

// JSON form of a request record (the requests.record column); the desk
// holds the policy that says whether its kind draws on a budget.
std::string record_to_json(const desk::RequestRecord& record, const desk::Desk& desk);
desk::RequestRecord record_from_json(const std::string& json, const desk::Desk& desk);

}  // namespace amends::store
