// PostgreSQL as the system of record.
//
// A Book is one book in a PostgreSQL database, reached through libpqxx. It
// keeps an in-memory Ledger (the mirror) in step with the database: every
// query reads the mirror after catching up with what other sessions
// committed, so results are the in-memory engine's results. Every write
// runs inside one database transaction that first takes the book's write
// lock (amends.begin_write), catches the mirror up under that lock, applies
// the operation to the mirror -- where the core's checks refuse bad input
// with its typed errors -- and then writes what changed: accounts, entries
// and postings by COPY, resolutions, limits, period states. The database
// checks every invariant again (sql/), so a client that bypasses amends
// can't corrupt the books either.
//
// Entry ids are dense per book (1, 2, 3, ...) and equal in the database and
// in the mirror; account ids likewise (0, 1, 2, ...).
//
// Retries: only on serialization failure or deadlock, up to max_retries. A
// commit whose outcome is unknown (the connection dropped while committing)
// is resolved by looking up the transaction's token in amends.changes: the
// operation either returns normally (it committed) or throws store_error
// (it did not); resubmitting with the same idempotency key posts once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "amends/ledger.hpp"

namespace amends::store {

struct Migration {
  int version;
  std::string_view name;  // the file name under sql/
  std::string_view sql;
};
// The migrations compiled into this build, in order.
std::span<const Migration> migrations();
// The newest schema version this build knows.
int schema_version();

// Applies the migrations the database at `dsn` lacks, each in its own
// transaction, and records them in amends.schema_migrations; returns the
// versions applied. Only the database owner migrates (`amends db migrate`):
// throws schema_error, before running anything, if the login may not create
// in the database or does not own schema amends; and if the database is
// newer than this build.
std::vector<int> migrate(const std::string& dsn);

// Every posting of a book, read by COPY straight into columns (no ledger is
// built): for data frames. The same shape as Ledger::posting_columns().
PostingColumns read_postings(const std::string& dsn, const std::string& book);

class Session;  // a database transaction, inside the store

// Something kept beside a book in the same transactions (the concession
// desk, store::DeskStore): it catches up when the book does, and its changes
// are written in the book's write transaction, or not at all.
class Participant {
 public:
  virtual ~Participant() = default;
  // Catches up with what other sessions committed up to the book's version
  // `version` (inside the book's snapshot, or under its write lock).
  virtual void catch_up(Session& session, std::int64_t version) = 0;
  virtual void begin() = 0;            // a write starts (after catching up)
  virtual bool changed() const = 0;    // the write changed something here
  virtual void write(Session& session, std::int64_t version) = 0;
  virtual void failed() = 0;           // the write failed: undo what it changed in memory
  virtual void committed() = 0;
  virtual void reset() = 0;            // forget everything: the next catch_up loads afresh
};

struct BookOptions {
  std::string name = "main";
  // Used when the book is created; an existing book keeps its own.
  Currency base_currency = Currency::of("USD");
  unsigned fiscal_year_start_month = 1;
  bool create_if_missing = true;
  int max_retries = 5;
  // Run as the amends_app role (no UPDATE or DELETE on the books' records),
  // when the connecting user is a member of it.
  bool use_app_role = true;
  // When the book is created: whether it is a simulation (caller-chosen
  // names and clocks, every event marked simulated) or a real book (the
  // acting person is the login's, times are the database's). Opening an
  // existing book with a different value is refused (invalid_argument);
  // unset, an existing book is opened as what it is and a new one is real.
  std::optional<bool> simulation;
  // A new real book's first person, bound to the creating login with the
  // role admin: this name (its key), or the login's name when empty.
  std::string first_person;
  // For a login of the role amends_service only: the person every write
  // acts for (the transaction-local setting amends.on_behalf_of).
  std::string on_behalf_of;
};

struct BookInfo {
  int id = 0;
  std::string name;
  Currency base_currency = Currency::of("USD");
  unsigned fiscal_year_start_month = 1;
  bool simulation = false;
};

// Who the connection acts as in the book.
struct Identity {
  std::string login;                  // session_user
  bool service = false;               // a login of amends_service (acting for on_behalf_of)
  std::optional<std::string> person;  // the person key the login acts as; none when it is bound to nobody
};

class Book {
 public:
  // Connects and opens (or creates) the book. It never migrates: a database
  // without the amends schema, or with an older one, is refused with
  // schema_error naming `amends db migrate` (run by the database owner), a
  // newer one with schema_error too. The everyday login needs no CREATE: only
  // membership of amends_app. attach() then loads the book into a mirror.
  Book(std::string dsn, BookOptions options = {});
  ~Book();
  Book(const Book&) = delete;
  Book& operator=(const Book&) = delete;

  const BookInfo& info() const;
  // The ledger configuration the mirror must have.
  LedgerConfig ledger_config() const;

  // Loads the book into `mirror` (empty, configured as ledger_config()) by
  // COPY; the Book keeps using it. The mirror must outlive the Book.
  void attach(Ledger& mirror);
  Ledger& mirror();

  // Catches the mirror up with what other sessions committed. Cheap (one
  // query) when nothing changed.
  void sync();

  // Runs `op` against the mirror inside one write transaction and writes
  // what it changed. If `op` throws, or the database refuses, nothing is
  // written and the mirror is as before; the error comes out as thrown
  // (database refusals as the core's error types). Re-entrant: a write
  // inside a write joins it.
  void write(std::string_view operation, const std::function<void()>& op);
  bool in_write() const;
  // Inside a write: its time by the database's clock (microseconds since
  // 1970, taken when it got the book's write lock), the time every event of
  // a real book is dated. Throws outside a write.
  std::int64_t write_time() const;
  // Who this connection acts as (read at open and again at each write).
  const Identity& identity() const;

  // The people of the book and the logins bound to them, and changing
  // them (amends.add_person / amends.bind_login: an admin's, audited).
  struct Person {
    std::string person, display_name;
    std::vector<std::string> roles, teams, logins;
    bool active = true;
  };
  std::vector<Person> people();
  void add_person(const std::string& name, const std::string& display_name, const std::vector<std::string>& roles,
                  const std::vector<std::string>& teams, bool active, const std::string& login);
  void bind_login(const std::string& login, const std::string& person);

  // The book's version: one per committed write transaction.
  std::int64_t version() const;

  // Keeps `participant` in step with the book (loading it now); it must
  // outlive the Book or be removed first.
  void add_participant(Participant& participant);
  void remove_participant(Participant& participant);

  // Closes the connection; the next operation opens a new one.
  void close();

  // Reloads the mirror from the database from scratch.
  void reload();

  // For tests: the next commit drops the connection instead of committing
  // (after sending COMMIT when `after_commit_sent`), as a crash would.
  void simulate_connection_loss_at_commit(bool after_commit_sent);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace amends::store
