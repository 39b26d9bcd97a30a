// The PostgreSQL store: migrations, the mirror's catch-up, the write protocol.
#include "amends/store.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include <pqxx/pqxx>
#include <pqxx/tablewriter>

#include "amends/desk.hpp"
#include "amends/names.hpp"
#include "amends/requests.hpp"
#include "session.hpp"
#include "text.hpp"

namespace amends::store {

int schema_version() {
  int newest = 0;
  for (const Migration& m : migrations()) newest = std::max(newest, m.version);
  return newest;
}

namespace {

constexpr std::int64_t kMigrationLock = 0x616d656e6473;  // "amends"

// The first line of a server error, without the "ERROR:  " prefix.
std::string primary_message(const std::exception& e) {
  std::string text = e.what();
  if (text.rfind("ERROR:  ", 0) == 0) text = text.substr(8);
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text;
}

// A database refusal, as the core's error type.
[[noreturn]] void throw_mapped(const pqxx::sql_error& e) {
  const std::string state = e.sqlstate();
  const std::string message = primary_message(e);
  if (state == "AM001") throw unbalanced_entry(message);
  if (state == "AM002") throw invalid_entry(message);
  if (state == "AM003") throw unknown_account(message);
  if (state == "AM004") throw account_closed(message);
  if (state == "AM005") throw currency_mismatch(message);
  if (state == "AM006") throw amount_too_precise(message);
  if (state == "AM007") throw period_closed(message);
  if (state == "AM008") throw period_locked(message);
  if (state == "AM009") throw invalid_period_transition(message);
  if (state == "AM010") throw balance_limit_exceeded(message);
  if (state == "AM011") throw idempotency_conflict(message);
  if (state == "AM012") throw entry_not_found(message);
  if (state == "AM013") throw already_reversed(message);
  if (state == "AM014") throw pending_state_error(message);
  if (state == "AM015") throw invalid_entry(message);
  if (state == "AM016") throw store_error(message);
  if (state == "AM017") throw invalid_argument(message);
  if (state == "AM018") throw store_error("the audit trail refused an event: " + message);
  if (state == "AM019") throw request_state_error(message);
  if (state == "AM020") throw invalid_argument(message);
  if (state == "AM021" || state == "AM022" || state == "AM023") throw request_state_error(message);
  if (state == "AM024") throw invalid_entry(message);
  if (state == "AM025") throw close_refused(message);
  if (state == "AM026") throw impersonation(message);
  if (state == "AM027") throw not_authorised(message);
  if (state == "23505") {
    if (message.find("entries_idempotency_key") != std::string::npos)
      throw idempotency_conflict("the database refused a reused idempotency key: " + message);
    if (message.find("entries_reverses") != std::string::npos) throw already_reversed(message);
  }
  throw store_error("the database refused the write (" + state + "): " + message);
}

// A serialization failure or a deadlock: the whole write may be run again.
// libpqxx 6 reports an error that ends a COPY as a plain failure, without
// its SQLSTATE; there it is known by the server's message (not translated:
// lc_messages C in the embedded default).
bool is_retryable(const pqxx::failure& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    if (!state.empty()) return state == "40001" || state == "40P01";
  }
  const std::string message = e.what();
  return message.find("deadlock detected") != std::string::npos ||
         message.find("could not serialize access") != std::string::npos;
}

std::optional<Decimal> optional_decimal(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return Decimal::parse(f.c_str());
}

std::unique_ptr<pqxx::connection> connect_to(const std::string& dsn) {
  try {
    return std::make_unique<pqxx::connection>(dsn);
  } catch (const pqxx::broken_connection& e) {
    throw store_error("can't connect to PostgreSQL (" + primary_message(e) + "); check the DSN or start the server");
  }
}

// Migrations are the owner's: a login that may not create in the database,
// or does not own (is not a member of the owner of) schema amends, is refused
// before anything runs, also when there would be nothing to apply.
void require_owner(pqxx::transaction_base& tx) {
  const pqxx::row r = tx.exec1(
      "SELECT current_user, current_database(), has_database_privilege(current_database(), 'CREATE'), "
      "coalesce((SELECT pg_has_role(nspowner, 'USAGE') FROM pg_namespace WHERE nspname = 'amends'), true), "
      "(SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'amends')");
  const bool may_create = r[2].as<bool>();
  const bool owns_schema = r[3].as<bool>();
  if (may_create && owns_schema) return;
  const std::string who = r[0].c_str();
  const std::string owner = r[4].is_null() ? "the database owner" : r[4].c_str();
  throw schema_error("user " + who + " may not migrate database " + r[1].c_str() +
                     (owns_schema ? " (no CREATE on the database)" : " (schema amends belongs to " + owner + ")") +
                     ": run `amends db migrate` as " + owner);
}

}  // namespace

std::vector<int> migrate(const std::string& dsn) {
  auto conn = connect_to(dsn);
  std::vector<int> applied;
  try {
    {
      pqxx::work tx(*conn);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
      require_owner(tx);
      tx.exec0("CREATE SCHEMA IF NOT EXISTS amends");
      tx.exec0(
          "CREATE TABLE IF NOT EXISTS amends.schema_migrations ("
          " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
      tx.commit();
    }
    for (const Migration& m : migrations()) {
      pqxx::work tx(*conn);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
      const int newest = tx.exec1("SELECT coalesce(max(version), 0) FROM amends.schema_migrations")[0].as<int>();
      if (newest > schema_version())
        throw schema_error("the database's amends schema is version " + std::to_string(newest) +
                           ", newer than this amends knows (" + std::to_string(schema_version()) +
                           "); upgrade amends to open it");
      if (!tx.exec_params("SELECT 1 FROM amends.schema_migrations WHERE version = $1", m.version).empty()) continue;
      tx.exec0(std::string(m.sql));
      tx.exec_params("INSERT INTO amends.schema_migrations (version, name) VALUES ($1, $2)", m.version,
                     std::string(m.name));
      tx.exec0("GRANT SELECT ON amends.schema_migrations TO amends_app");
      tx.commit();
      applied.push_back(m.version);
    }
    pqxx::work tx(*conn);
    const int newest = tx.exec1("SELECT coalesce(max(version), 0) FROM amends.schema_migrations")[0].as<int>();
    if (newest > schema_version())
      throw schema_error("the database's amends schema is version " + std::to_string(newest) +
                         ", newer than this amends knows (" + std::to_string(schema_version()) +
                         "); upgrade amends to open it");
  } catch (const pqxx::sql_error& e) {
    throw schema_error("migrating the database failed: " + primary_message(e));
  } catch (const pqxx::broken_connection& e) {
    throw store_error("lost the connection while migrating: " + primary_message(e));
  }
  return applied;
}

namespace {

constexpr const char* kRunMigrate = "run `amends db migrate` (as the database owner)";

// A book opens only a database whose schema is this build's: opening never
// migrates (the everyday login has no CREATE). Missing or older schemas are
// refused with what to run, newer ones with what to upgrade.
void require_schema(pqxx::connection& conn) {
  pqxx::read_transaction tx(conn);
  const bool recorded = tx.exec1(
      "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'amends' AND c.relname = 'schema_migrations')")[0].as<bool>();
  if (!recorded)
    throw schema_error("the database " + std::string(conn.dbname()) + " has no amends schema: " + kRunMigrate);
  pqxx::result rows;
  try {
    rows = tx.exec("SELECT version FROM amends.schema_migrations ORDER BY version");
  } catch (const pqxx::sql_error& e) {
    throw schema_error("can't read the amends schema version (" + primary_message(e) +
                       "); grant the login amends_app (or amends_auditor)");
  }
  std::vector<int> present;
  for (const auto& row : rows) present.push_back(row[0].as<int>());
  const int newest = present.empty() ? 0 : present.back();
  if (newest > schema_version())
    throw schema_error("the database's amends schema is version " + std::to_string(newest) +
                       ", newer than this amends knows (" + std::to_string(schema_version()) +
                       "); upgrade amends to open it");
  std::string missing;
  for (const Migration& m : migrations()) {
    if (std::binary_search(present.begin(), present.end(), m.version)) continue;
    missing += (missing.empty() ? "" : ", ") + std::string(m.name);
  }
  if (!missing.empty())
    throw schema_error("the database's amends schema is version " + std::to_string(newest) + ", older than this amends (" +
                       std::to_string(schema_version()) + "); it lacks " + missing + ": " + kRunMigrate);
}

}  // namespace

// ---------------------------------------------------------------- the book

// Reads that must agree with each other (the book's counters, its entries,
// their postings): one snapshot for the whole transaction.
using Snapshotted = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

struct Book::Impl {
  std::string dsn;
  BookOptions options;
  BookInfo info;
  std::unique_ptr<pqxx::connection> conn;
  Ledger* mirror = nullptr;
  std::int64_t version = 0;  // the version the mirror reflects
  bool in_write = false;
  int fail_at_commit = 0;  // test hook: 1 drop before commit, 2 after commit
  std::mt19937_64 random{std::random_device{}()};
  std::vector<Participant*> participants;
  Identity identity;
  std::int64_t tx_micros = 0;  // the current write's time (database clock)
  pqxx::work* tx_now = nullptr;  // the current write's transaction
  // The current write changed rows through a database function (people,
  // logins), which the mirror and participants learn by catching up.
  bool written_by_database = false;

  pqxx::work& current_tx() {
    if (!tx_now) throw invalid_argument("there is no write under way");
    return *tx_now;
  }

  struct DbState {
    std::int64_t version = 0;
    std::int64_t last_entry = 0;
    std::int64_t accounts = 0;
  };

  // What a write changed in the mirror, found by comparing with a snapshot.
  struct Snapshot {
    Ledger::Savepoint savepoint{};
    std::size_t accounts = 0, entries = 0;
    std::vector<EntryId> open;
    std::map<Period, PeriodState> periods;
    std::vector<std::pair<bool, BalanceLimit>> flags;
  };

  void connect() {
    conn = connect_to(dsn);
    if (options.use_app_role) {
      pqxx::nontransaction tx(*conn);
      // (A server never migrated has no amends_app yet: require_schema then says what to run.)
      if (tx.exec1("SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'amends_app') "
                   "THEN pg_has_role('amends_app', 'MEMBER') ELSE false END")[0].as<bool>())
        tx.exec0("SET ROLE amends_app");
    }
  }

  void open_book() {
    pqxx::work tx(*conn);
    auto find = [&] {
      return tx.exec_params(
          "SELECT book_id, base_currency, fiscal_start_month, simulation FROM amends.books WHERE name = $1", options.name);
    };
    pqxx::result r = find();
    bool created = false;
    if (r.empty()) {
      if (!options.create_if_missing) throw store_error("there is no book named " + options.name + " in the database");
      created = tx.exec_params(
                      "INSERT INTO amends.books (name, base_currency, fiscal_start_month, simulation) VALUES ($1, $2, $3, $4) "
                      "ON CONFLICT (name) DO NOTHING",
                      options.name, std::string(options.base_currency.code()), options.fiscal_year_start_month,
                      options.simulation.value_or(false))
                    .affected_rows() == 1;
      r = find();
    }
    info.id = r[0][0].as<int>();
    info.name = options.name;
    info.base_currency = Currency::of(r[0][1].c_str());
    info.fiscal_year_start_month = r[0][2].as<unsigned>();
    info.simulation = r[0][3].as<bool>();
    if (options.simulation && *options.simulation != info.simulation)
      throw invalid_argument("book " + options.name + (info.simulation ? " is a simulation" : " is not a simulation") +
                             ": a book stays what it was created as; open it without asking for " +
                             (*options.simulation ? "a simulation" : "a real book"));
    if (created && !info.simulation) {
      // Its first person: whoever creates it, bound to their login, its admin.
      const std::string login = tx.exec1("SELECT session_user")[0].c_str();
      const std::string& name = options.first_person.empty() ? login : options.first_person;
      tx.exec_params("SELECT amends.add_person($1, $2, $3, ARRAY['admin'], '{}'::text[], true, session_user)", info.id,
                     names::normalise(name), name);
    }
    read_identity(tx);
    tx.commit();
  }

  void read_identity(pqxx::transaction_base& tx) {
    const pqxx::row who = tx.exec_params1(
        "SELECT session_user, amends.is_service(), (SELECT person FROM amends.logins WHERE book_id = $1 AND login = session_user)",
        info.id);
    identity.login = who[0].c_str();
    identity.service = who[1].as<bool>();
    if (identity.service) {
      identity.person = options.on_behalf_of.empty() ? std::nullopt : std::optional<std::string>(names::normalise(options.on_behalf_of));
    } else {
      identity.person = who[2].is_null() ? std::nullopt : std::optional<std::string>(who[2].c_str());
    }
  }

  DbState read_state(pqxx::transaction_base& tx) {
    pqxx::row row = tx.exec_params1(
        "SELECT version, last_entry_id, (SELECT coalesce(max(account_id) + 1, 0) FROM amends.accounts a WHERE a.book_id = b.book_id) FROM amends.books b WHERE book_id = $1", info.id);
    return DbState{row[0].as<std::int64_t>(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>()};
  }

  // ------------------------------------------------------------ catching up

  void catch_up(pqxx::transaction_base& tx, const DbState& db) {
    Ledger& book = *mirror;
    if (db.version == version && static_cast<std::size_t>(db.last_entry) == book.entry_count() &&
        static_cast<std::size_t>(db.accounts) == book.account_count())
      return;
    catch_up_ledger(tx, db);
    Session session(tx, info.id);
    for (Participant* p : participants) p->catch_up(session, db.version);
    version = db.version;
  }

  void catch_up_ledger(pqxx::transaction_base& tx, const DbState& db) {
    Ledger& book = *mirror;
    const bool limits = book.limit_checks();
    book.set_limit_checks(false);
    try {
      const auto first_new_account = static_cast<std::int64_t>(book.account_count());
      load_new_accounts(tx, db);
      if (static_cast<std::size_t>(db.last_entry) > book.entry_count()) replay_entries(tx, db.last_entry);
      apply_resolutions(tx);
      apply_account_changes(tx, first_new_account);
      apply_periods(tx);
    } catch (...) {
      book.set_limit_checks(limits);
      throw;
    }
    book.set_limit_checks(limits);
  }

  void load_new_accounts(pqxx::transaction_base& tx, const DbState& db) {
    Ledger& book = *mirror;
    if (static_cast<std::size_t>(db.accounts) <= book.account_count()) return;
    pqxx::result rows = tx.exec_params(
        "SELECT account_id, name, currency, type, dimensions::text FROM amends.accounts "
        "WHERE book_id = $1 AND account_id >= $2 ORDER BY account_id",
        info.id, static_cast<std::int64_t>(book.account_count()));
    for (const auto& row : rows) {
      AccountOptions account_options;
      for (auto& [key, value] : text::parse_json_object(row[4].c_str())) account_options.dimensions.emplace(key, value);
      AccountId id = book.create_account(row[1].c_str(), parse_account_type(row[3].c_str()), Currency::of(row[2].c_str()),
                                         std::move(account_options));
      if (id.value != row[0].as<std::uint32_t>())
        throw store_error("the mirror of book " + info.name + " is out of step at account " + row[1].c_str());
    }
  }

  struct EntryRow {
    std::int64_t id = 0;
    Date date;
    bool pending = false;
    std::string description, key, metadata, reason;
    std::int64_t reverses = 0, completes = 0;
    std::optional<Date> expires_on;
  };

  // Entries after the mirror's last, up to `last` (the book's count in the
  // same snapshot, so a write committed meanwhile is left for the next sync).
  void replay_entries(pqxx::transaction_base& tx, std::int64_t last) {
    Ledger& book = *mirror;
    const std::string from = std::to_string(book.entry_count());
    const std::string id = std::to_string(info.id);
    std::vector<EntryRow> rows;
    rows.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, last)) - book.entry_count());
    std::vector<std::string> fields;
    std::vector<bool> nulls;
    std::string line;
    {
      pqxx::stream_from copy(tx,
                             "(SELECT entry_id, date, kind, description, idempotency_key, metadata, reverses, "
                             "completes, expires_on, reason FROM amends.entries WHERE book_id = " +
                                 id + " AND entry_id > " + from + " AND entry_id <= " + std::to_string(last) +
                                 " ORDER BY entry_id)");
      while (copy.get_raw_line(line)) {
        text::split_copy_line(line, fields, nulls);
        EntryRow row;
        row.id = std::stoll(fields[0]);
        row.date = Date::parse(fields[1]);
        row.pending = fields[2] == "pending";
        row.description = std::move(fields[3]);
        if (!nulls[4]) row.key = std::move(fields[4]);
        row.metadata = std::move(fields[5]);
        if (!nulls[6]) row.reverses = std::stoll(fields[6]);
        if (!nulls[7]) row.completes = std::stoll(fields[7]);
        if (!nulls[8]) row.expires_on = Date::parse(fields[8]);
        if (!nulls[9]) row.reason = std::move(fields[9]);
        rows.push_back(std::move(row));
      }
      copy.complete();
    }
    pqxx::stream_from copy(tx,
                           "(SELECT entry_id, account_id, amount FROM amends.postings WHERE book_id = " + id +
                               " AND entry_id > " + from + " AND entry_id <= " + std::to_string(last) +
                               " ORDER BY entry_id, line)");
    std::size_t next = 0;
    EntryDraft draft;
    std::int64_t current = -1;
    auto flush = [&] {
      if (current < 0) return;
      while (next < rows.size() && rows[next].id < current) ++next;
      if (next == rows.size() || rows[next].id != current)
        throw store_error("postings of entry " + std::to_string(current) + " have no entry row");
      apply_entry(rows[next], draft);
      ++next;
    };
    while (copy.get_raw_line(line)) {
      text::split_copy_line(line, fields, nulls);
      const std::int64_t entry = std::stoll(fields[0]);
      if (entry != current) {
        flush();
        current = entry;
        draft.clear();
      }
      const AccountId account{static_cast<std::uint32_t>(std::stoul(fields[1]))};
      draft.postings.push_back(PostingDraft{account, Decimal::parse(fields[2]), std::nullopt});
    }
    copy.complete();
    flush();
    if (book.entry_count() != rows.size() + static_cast<std::size_t>(std::stoll(from)))
      throw store_error("the mirror of book " + info.name + " is out of step after loading entries");
  }

  void apply_entry(EntryRow& row, EntryDraft& draft) {
    Ledger& book = *mirror;
    EntryId made;
    if (row.reverses) {
      made = book.reverse(EntryId{static_cast<std::uint64_t>(row.reverses)}, row.date, row.reason, true);
    } else if (row.completes) {
      const EntryId pending{static_cast<std::uint64_t>(row.completes)};
      const EntryView reserved = book.entry(pending);
      std::vector<Decimal> amounts(reserved.postings.size());
      std::size_t j = 0;
      for (std::size_t i = 0; i < reserved.postings.size(); ++i) {
        if (j < draft.postings.size() && draft.postings[j].account == reserved.postings[i].account &&
            draft.postings[j].amount.sign() == reserved.postings[i].amount.sign() &&
            !(reserved.postings[i].amount.abs() < draft.postings[j].amount.abs()))
          amounts[i] = draft.postings[j++].amount;
      }
      if (j != draft.postings.size())
        throw store_error("entry " + std::to_string(row.id) + " does not match the reservation it completes");
      made = book.post_pending(pending, row.date, amounts, row.description, true);
    } else {
      draft.date = row.date;
      draft.description = std::move(row.description);
      draft.idempotency_key = std::move(row.key);
      draft.metadata = text::parse_json_pairs(row.metadata);
      draft.allow_locked_period = true;
      PostResult result = row.pending ? book.reserve(draft, row.expires_on) : book.post(draft);
      made = result.created ? result.id : EntryId{};
    }
    if (made.value != static_cast<std::uint64_t>(row.id))
      throw store_error("the mirror of book " + info.name + " is out of step at entry " + std::to_string(row.id));
  }

  void apply_resolutions(pqxx::transaction_base& tx) {
    Ledger& book = *mirror;
    pqxx::result rows = tx.exec_params(
        "SELECT entry_id, kind, on_date::text, reason FROM amends.resolutions "
        "WHERE book_id = $1 AND version > $2 ORDER BY version, entry_id",
        info.id, version);
    for (const auto& row : rows) {
      const EntryId id{row[0].as<std::uint64_t>()};
      if (book.status_of(id) != EntryStatus::pending) continue;
      if (std::string_view(row[1].c_str()) == "voided") book.void_pending(id, Date::parse(row[2].c_str()), row[3].c_str());
      else book.expire_entry(id);
    }
  }

  // Limits and closures: of accounts changed since the mirror's version, and
  // of the accounts just loaded (opened without them, so entries replay).
  void apply_account_changes(pqxx::transaction_base& tx, std::int64_t first_new_account) {
    Ledger& book = *mirror;
    pqxx::result rows = tx.exec_params(
        "SELECT account_id, closed, min_normal::text, max_normal::text FROM amends.accounts "
        "WHERE book_id = $1 AND (version > $2 OR account_id >= $3) ORDER BY account_id",
        info.id, version, first_new_account);
    for (const auto& row : rows) {
      const AccountId id{row[0].as<std::uint32_t>()};
      BalanceLimit limit{optional_decimal(row[2]), optional_decimal(row[3])};
      const Account& account = book.account(id);
      if (account.limit.min_normal != limit.min_normal || account.limit.max_normal != limit.max_normal)
        book.set_balance_limit(id, limit);
      if (row[1].as<bool>() && !account.closed) book.close_account(id);
    }
  }

  void apply_periods(pqxx::transaction_base& tx) {
    Ledger& book = *mirror;
    pqxx::result rows = tx.exec_params(
        "SELECT to_char(period_start, 'YYYY-MM'), state FROM amends.periods WHERE book_id = $1 AND version > $2",
        info.id, version);
    for (const auto& row : rows) {
      const Period period = Period::parse(row[0].c_str());
      const PeriodState state = parse_period_state(row[1].c_str());
      if (book.period_state(period) != state) book.set_period_state(period, state);
    }
  }

  // ------------------------------------------------------------ writing

  Snapshot snapshot() const {
    const Ledger& book = *mirror;
    Snapshot s;
    s.savepoint = book.savepoint();
    s.accounts = book.account_count();
    s.entries = book.entry_count();
    s.open = book.open_reservations();
    std::sort(s.open.begin(), s.open.end());
    s.periods = book.periods().states();
    s.flags.reserve(s.accounts);
    for (std::uint32_t i = 0; i < s.accounts; ++i) {
      const Account& a = book.account(AccountId{i});
      s.flags.emplace_back(a.closed, a.limit);
    }
    return s;
  }

  struct Changes {
    std::vector<AccountId> changed_accounts;
    std::vector<EntryId> resolved;
    std::vector<std::pair<Period, PeriodState>> periods;
    bool linked_entries = false;  // new entries that reverse or complete older ones
    bool empty(const Snapshot& s, const Ledger& book) const {
      return changed_accounts.empty() && resolved.empty() && periods.empty() && book.entry_count() == s.entries &&
             book.account_count() == s.accounts;
    }
    bool appended_only() const { return changed_accounts.empty() && resolved.empty() && periods.empty() && !linked_entries; }
  };

  // with_links: also find whether new entries reverse or complete older
  // ones (needed only to undo a failed write; it reads every new entry).
  Changes changes_since(const Snapshot& s, bool with_links = false) const {
    const Ledger& book = *mirror;
    Changes c;
    for (std::uint32_t i = 0; i < s.accounts; ++i) {
      const Account& a = book.account(AccountId{i});
      if (a.closed != s.flags[i].first || a.limit.min_normal != s.flags[i].second.min_normal ||
          a.limit.max_normal != s.flags[i].second.max_normal)
        c.changed_accounts.push_back(AccountId{i});
    }
    std::vector<EntryId> open = book.open_reservations();
    std::sort(open.begin(), open.end());
    std::set_difference(s.open.begin(), s.open.end(), open.begin(), open.end(), std::back_inserter(c.resolved));
    const auto& now = book.periods().states();
    auto state_in = [](const std::map<Period, PeriodState>& m, Period p) {
      auto it = m.find(p);
      return it == m.end() ? PeriodState::open : it->second;
    };
    std::map<Period, PeriodState> all = s.periods;
    all.insert(now.begin(), now.end());
    for (const auto& [period, ignored] : all)
      if (state_in(s.periods, period) != state_in(now, period)) c.periods.emplace_back(period, state_in(now, period));
    for (std::size_t e = s.entries + 1; with_links && e <= book.entry_count() && !c.linked_entries; ++e) {
      const EntryView v = book.entry(EntryId{e});
      c.linked_entries = bool(v.reverses) || bool(v.completes);
    }
    return c;
  }

  // Undoes what a failed write did to the mirror: a rollback when it only
  // appended, else a reload from the database. After a lost or doubtful
  // connection (`reconnect`), the next operation connects afresh, and a
  // reload that can't reach the database is left to the next operation.
  void restore(const Snapshot& s, bool reconnect = false) {
    if (reconnect) conn.reset();
    Ledger& book = *mirror;
    Changes c = changes_since(s, true);
    if (c.empty(s, book)) return;
    if (c.appended_only()) {
      book.rollback_to(s.savepoint);
      return;
    }
    if (!reconnect) return reload_mirror();
    try {
      connect();
      reload_mirror();
    } catch (const std::exception&) {
      book = Ledger(book.config());  // rebuilt from the database by the next call
      for (Participant* p : participants) p->reset();
      version = -1;
    }
  }

  void reload_mirror() {
    Ledger& book = *mirror;
    book = Ledger(book.config());
    for (Participant* p : participants) p->reset();
    version = 0;
    Snapshotted tx(*conn);
    catch_up(tx, read_state(tx));
  }

  void write_changes(pqxx::work& tx, const Snapshot& s, const Changes& c) {
    Ledger& book = *mirror;
    // Accounts opened.
    if (book.account_count() > s.accounts) {
      CopyIn copy(tx, "amends.accounts",
                  std::vector<std::string>{"book_id", "account_id", "name", "currency", "type", "dimensions",
                                           "min_normal", "max_normal"});
      std::string rows;
      for (std::size_t i = s.accounts; i < book.account_count(); ++i) {
        const Account& a = book.account(AccountId{static_cast<std::uint32_t>(i)});
        const int places = a.currency.minor_units();
        if (!rows.empty()) rows += '\n';
        rows += std::to_string(info.id) + '\t' + std::to_string(i) + '\t';
        text::append_copy_field(rows, a.name);
        rows += '\t';
        rows += a.currency.code();
        rows += '\t';
        rows += to_string(a.type);
        rows += '\t';
        text::append_copy_field(rows, text::json_object(a.dimensions));
        rows += '\t';
        rows += a.limit.min_normal ? a.limit.min_normal->to_string(places) : "\\N";
        rows += '\t';
        rows += a.limit.max_normal ? a.limit.max_normal->to_string(places) : "\\N";
      }
      copy.write(rows);
      copy.complete();
    }
    // Entries and their postings.
    if (book.entry_count() > s.entries) write_entries(tx, s.entries);
    // Reservations voided or expired.
    for (EntryId e : c.resolved) {
      const EntryView v = book.entry(e);
      if (v.status == EntryStatus::pending_posted) continue;  // its completing entry says so
      check_text("void reason", v.reason);  // a parameter would end at the NUL
      tx.exec_params(
          "INSERT INTO amends.resolutions (book_id, entry_id, kind, on_date, reason) VALUES ($1, $2, $3, $4::date, $5)",
          info.id, static_cast<std::int64_t>(e.value), v.status == EntryStatus::pending_voided ? "voided" : "expired",
          v.resolved_on ? v.resolved_on->to_string() : v.date.to_string(), v.reason);
    }
  }

  // Limits and closures: after everything else of the write, since the
  // database appends an audit event for each (sql/010_authority.sql), which
  // the next catch-up reads back. Entries went first, so their postings were
  // checked against the limits as they were before this write: a limit
  // lifted and restored around them changes nothing the database sees.
  void write_account_flags(pqxx::work& tx, const Changes& c) {
    if (c.changed_accounts.empty()) return;
    Ledger& book = *mirror;
    if (!info.simulation && !tx.exec("SELECT pg_has_role(session_user, 'amends_admin', 'MEMBER')")[0][0].as<bool>())
      throw not_authorised("login " + identity.login + (identity.person ? " (" + *identity.person + ")" : std::string()) +
                           " may not change the balance limits or close accounts of book " + info.name +
                           ": that needs an admin (a login holding amends_admin)");
    written_by_database = true;
    for (AccountId a : c.changed_accounts) {
      const Account& account = book.account(a);
      const int places = account.currency.minor_units();
      const std::string min = account.limit.min_normal ? account.limit.min_normal->to_string(places) : "";
      const std::string max = account.limit.max_normal ? account.limit.max_normal->to_string(places) : "";
      tx.exec_params(
          "UPDATE amends.accounts SET closed = $3, min_normal = $4::numeric, max_normal = $5::numeric "
          "WHERE book_id = $1 AND account_id = $2",
          info.id, static_cast<std::int64_t>(a.value), account.closed,
          account.limit.min_normal ? min.c_str() : nullptr, account.limit.max_normal ? max.c_str() : nullptr);
    }
  }

  void write_periods(pqxx::work& tx, const Changes& c) {
    // Period states.
    for (const auto& [period, state] : c.periods)
      tx.exec_params(
          "INSERT INTO amends.periods (book_id, period_start, state) VALUES ($1, $2::date, $3) "
          "ON CONFLICT (book_id, period_start) DO UPDATE SET state = EXCLUDED.state",
          info.id, period.first_day().to_string(), std::string(to_string(state)));
  }

  // Entries and postings as COPY text. A formatter thread turns the
  // mirror's new entries into chunks while this thread sends them, so the
  // server does not wait for the formatting; the postings text is complete
  // when the entries are, and goes second.
  void write_entries(pqxx::work& tx, std::size_t first) {
    const Ledger& book = *mirror;
    const std::string id = std::to_string(info.id);
    constexpr std::size_t chunk = 1 << 20;
    struct Pipe {
      std::mutex mutex;
      std::condition_variable changed;
      std::deque<std::string> chunks;
      bool done = false, stop = false;
      std::exception_ptr failure;
    } pipe;
    std::string postings_text;
    std::thread formatter([&] {
      try {
        std::string out;
        auto hand_over = [&] {
          std::unique_lock lock(pipe.mutex);
          pipe.changed.wait(lock, [&] { return pipe.chunks.size() < 8 || pipe.stop; });
          pipe.chunks.push_back(std::move(out));
          out.clear();
          pipe.changed.notify_all();
          return !pipe.stop;
        };
        for (std::size_t e = first + 1; e <= book.entry_count(); ++e) {
          const EntryView v = book.entry(EntryId{e});
          if (!out.empty()) out += '\n';
          out += id;
          out += '\t';
          out += std::to_string(e);
          out += '\t';
          out += v.date.to_string();
          out += v.status == EntryStatus::posted ? "\tposted\t" : "\tpending\t";
          text::append_copy_field(out, v.description);
          out += '\t';
          if (v.idempotency_key.empty()) out += "\\N";
          else text::append_copy_field(out, v.idempotency_key);
          out += '\t';
          text::append_copy_field(out, text::json_pairs(v.metadata));
          out += '\t';
          out += std::to_string(v.postings.size());
          out += '\t';
          out += v.reverses ? std::to_string(v.reverses.value) : "\\N";
          out += '\t';
          out += v.completes ? std::to_string(v.completes.value) : "\\N";
          out += '\t';
          out += v.status != EntryStatus::posted && v.expires_on ? v.expires_on->to_string() : "\\N";
          out += '\t';
          if (v.reverses && !v.reason.empty()) text::append_copy_field(out, v.reason);
          else out += "\\N";
          out += book.period_state(Period::of(v.date)) == PeriodState::locked ? "\tt" : "\tf";
          for (std::size_t line = 0; line < v.postings.size(); ++line) {
            const PostingView& p = v.postings[line];
            if (!postings_text.empty()) postings_text += '\n';
            postings_text += id;
            postings_text += '\t';
            postings_text += std::to_string(e);
            postings_text += '\t';
            postings_text += std::to_string(line + 1);
            postings_text += '\t';
            postings_text += std::to_string(p.account.value);
            postings_text += '\t';
            postings_text += p.amount.to_string(book.account(p.account).currency.minor_units());
          }
          if (out.size() >= chunk && !hand_over()) return;
        }
        if (!out.empty()) hand_over();
      } catch (...) {
        std::lock_guard lock(pipe.mutex);
        pipe.failure = std::current_exception();
      }
      std::lock_guard lock(pipe.mutex);
      pipe.done = true;
      pipe.changed.notify_all();
    });
    struct Join {
      Pipe& pipe;
      std::thread& thread;
      ~Join() {
        {
          std::lock_guard lock(pipe.mutex);
          pipe.stop = true;
          pipe.changed.notify_all();
        }
        if (thread.joinable()) thread.join();
      }
    } join{pipe, formatter};
    {
      CopyIn copy(tx, "amends.entries",
                  std::vector<std::string>{"book_id", "entry_id", "date", "kind", "description", "idempotency_key",
                                           "metadata", "posting_count", "reverses", "completes", "expires_on",
                                           "reason", "period_override"});
      while (true) {
        std::string next;
        {
          std::unique_lock lock(pipe.mutex);
          pipe.changed.wait(lock, [&] { return !pipe.chunks.empty() || pipe.done; });
          if (pipe.chunks.empty()) break;
          next = std::move(pipe.chunks.front());
          pipe.chunks.pop_front();
          pipe.changed.notify_all();
        }
        copy.write(next);
      }
      formatter.join();
      if (pipe.failure) std::rethrow_exception(pipe.failure);
      copy.complete();
    }
    CopyIn copy(tx, "amends.postings", std::vector<std::string>{"book_id", "entry_id", "line", "account_id", "amount"});
    for (std::size_t at = 0; at < postings_text.size();) {
      std::size_t end = std::min(postings_text.size(), at + chunk);
      end = postings_text.find('\n', end);
      if (end == std::string::npos) end = postings_text.size();
      copy.write(postings_text.substr(at, end - at));
      at = end + 1;
    }
    copy.complete();
  }

  std::string new_token() {
    static constexpr char hex[] = "0123456789abcdef";
    std::string token;
    for (int i = 0; i < 2; ++i) {
      std::uint64_t v = random();
      for (int k = 0; k < 16; ++k, v >>= 4) token += hex[v & 15];
    }
    return token;
  }

  // After the connection dropped during COMMIT: did it commit?
  std::optional<std::int64_t> committed_version(const std::string& token) {
    std::string last_error;
    for (int attempt = 0; attempt < 60; ++attempt) {
      try {
        connect();
        pqxx::read_transaction tx(*conn);
        pqxx::result r =
            tx.exec_params("SELECT version FROM amends.changes WHERE book_id = $1 AND token = $2", info.id, token);
        if (r.empty()) return std::nullopt;
        return r[0][0].as<std::int64_t>();
      } catch (const pqxx::broken_connection& e) {
        last_error = e.what();
      } catch (const store_error& e) {
        last_error = e.what();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    throw store_error("the connection dropped while committing and the database stayed unreachable for 30 s (" +
                      last_error + "); the write may or may not have committed: reopen the book and look it up by "
                      "its idempotency key");
  }

  void write(std::string_view operation, const std::function<void()>& op) {
    check_text("operation name", std::string(operation));  // the change log keeps it
    if (in_write) {
      op();
      return;
    }
    struct Flag {
      bool& flag;
      explicit Flag(bool& f) : flag(f) { flag = true; }
      ~Flag() { flag = false; }
    } guard(in_write);
    for (int attempt = 0;; ++attempt) {
      const std::string token = new_token();
      std::optional<Snapshot> snap;
      try {
        if (!conn || !conn->is_open()) connect();
        bool in_doubt = false;
        std::int64_t new_version = 0;
        {
          pqxx::work tx(*conn);
          if (!options.on_behalf_of.empty())
            tx.exec_params("SELECT set_config('amends.on_behalf_of', $1, true)", options.on_behalf_of);
          pqxx::row begun = tx.exec_params1(
              "SELECT b.version, b.previous_version, b.last_entry_id, b.account_count, b.tx_micros, "
              "(SELECT l.person FROM amends.logins l WHERE l.book_id = $1 AND l.login = session_user) "
              "FROM amends.begin_write($1, $2, $3) b",
              info.id, std::string(operation), token);
          new_version = begun[0].as<std::int64_t>();
          tx_micros = begun[4].as<std::int64_t>();
          written_by_database = false;
          struct Current {
            pqxx::work*& slot;
            Current(pqxx::work*& s, pqxx::work& t) : slot(s) { slot = &t; }
            ~Current() { slot = nullptr; }
          } current(tx_now, tx);
          if (!identity.service) identity.person = begun[5].is_null() ? std::nullopt : std::optional<std::string>(begun[5].c_str());
          catch_up(tx, DbState{begun[1].as<std::int64_t>(), begun[2].as<std::int64_t>(), begun[3].as<std::int64_t>()});
          snap = snapshot();
          for (Participant* p : participants) p->begin();
          try {
            op();
          } catch (...) {
            for (Participant* p : participants) p->failed();
            tx.abort();  // restoring may read the book afresh, in a transaction of its own
            restore(*snap);
            throw;
          }
          const Changes changes = changes_since(*snap);
          const bool others = std::any_of(participants.begin(), participants.end(), [](Participant* p) { return p->changed(); });
          if (changes.empty(*snap, *mirror) && !others && !written_by_database) {
            for (Participant* p : participants) p->committed();
            return;  // nothing to write: the transaction rolls back
          }
          write_changes(tx, *snap, changes);
          write_periods(tx, changes);
          if (others) {
            Session session(tx, info.id);
            for (Participant* p : participants)
              if (p->changed()) p->write(session, new_version);
          }
          write_account_flags(tx, changes);
          if (fail_at_commit == 1) {
            fail_at_commit = 0;
            conn->disconnect();
          }
          try {
            tx.commit();
            if (fail_at_commit == 2) {
              fail_at_commit = 0;
              conn->disconnect();
              throw pqxx::in_doubt_error("simulated: the connection dropped after COMMIT was sent");
            }
          } catch (const pqxx::in_doubt_error&) {
            in_doubt = true;
          } catch (const pqxx::broken_connection&) {
            in_doubt = true;
          }
        }  // the transaction object goes before any reconnection
        if (in_doubt) return resolve_in_doubt(*snap, token);
        version = new_version;
        // What the database wrote itself is read back by the next catch-up.
        if (written_by_database) version = new_version - 1;
        written_by_database = false;
        for (Participant* p : participants) p->committed();
        return;
      } catch (const pqxx::broken_connection& e) {
        if (snap) fail_participants();
        if (snap) restore(*snap, true);
        throw store_error("lost the connection to PostgreSQL before committing; nothing was written (" +
                          primary_message(e) + ")");
      } catch (const pqxx::failure& e) {
        const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
        // A refusal leaves the connection usable; a failed COPY may not.
        if (snap) fail_participants();
        if (snap) restore(*snap, !sql && !is_retryable(e));
        if (is_retryable(e)) {
          if (attempt < options.max_retries) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(attempt, 8)));
            continue;
          }
          throw store_error("gave up after " + std::to_string(attempt + 1) + " tries: " + primary_message(e));
        }
        if (sql) throw_mapped(*sql);
        throw store_error("the database connection failed before committing; nothing was written (" +
                          primary_message(e) + ")");
      } catch (...) {
        // Anything else after the mirror changed (it is already restored if op() itself threw).
        if (snap) fail_participants();
        if (snap) restore(*snap, true);
        throw;
      }
    }
  }

  // After a failed write: participants undo their part (idempotent: a
  // participant whose operation already failed has nothing left to undo).
  void fail_participants() {
    for (Participant* p : participants) p->failed();
  }

  void resolve_in_doubt(const Snapshot& s, const std::string& token) {
    std::optional<std::int64_t> committed = committed_version(token);
    if (committed) {
      version = *committed;
      for (Participant* p : participants) p->committed();
      return;
    }
    fail_participants();
    restore(s, true);
    throw store_error("the connection dropped while committing and the database did not commit the write; nothing "
                      "was written: submit it again (an idempotency key makes that safe)");
  }

  void sync() {
    if (in_write) return;
    try {
      if (!conn || !conn->is_open()) connect();
      Snapshotted tx(*conn);
      if (version < 0) {
        *mirror = Ledger(mirror->config());
        for (Participant* p : participants) p->reset();
        version = 0;
      }
      catch_up(tx, read_state(tx));
    } catch (const pqxx::broken_connection& e) {
      throw store_error("lost the connection to PostgreSQL: " + primary_message(e));
    } catch (const pqxx::sql_error& e) {
      throw store_error("reading the book failed: " + primary_message(e));
    }
  }
};

Book::Book(std::string dsn, BookOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->dsn = std::move(dsn);
  impl_->options = std::move(options);
  // A parameter would end at the NUL, naming another book.
  check_text("book name", impl_->options.name);
  // The service names the person by their key, as the database compares them.
  if (!impl_->options.on_behalf_of.empty()) impl_->options.on_behalf_of = names::normalise(impl_->options.on_behalf_of);
  impl_->connect();
  try {
    require_schema(*impl_->conn);
    impl_->open_book();
  } catch (const pqxx::sql_error& e) {
    throw store_error("opening book " + impl_->options.name + " failed: " + primary_message(e));
  }
}

Book::~Book() = default;

const BookInfo& Book::info() const { return impl_->info; }

LedgerConfig Book::ledger_config() const {
  LedgerConfig config;
  config.base_currency = impl_->info.base_currency;
  config.fiscal_year_start_month = impl_->info.fiscal_year_start_month;
  config.name = impl_->info.name;
  return config;
}

void Book::attach(Ledger& mirror) {
  if (mirror.entry_count() != 0 || mirror.account_count() != 0)
    throw invalid_argument("a book loads into an empty ledger");
  impl_->mirror = &mirror;
  impl_->version = 0;
  impl_->sync();
}

Ledger& Book::mirror() {
  if (!impl_->mirror) throw invalid_argument("the book is not attached to a ledger yet");
  return *impl_->mirror;
}

void Book::sync() {
  mirror();
  impl_->sync();
}

void Book::write(std::string_view operation, const std::function<void()>& op) {
  mirror();
  impl_->write(operation, op);
}

bool Book::in_write() const { return impl_->in_write; }
std::int64_t Book::version() const { return impl_->version; }

void Book::add_participant(Participant& participant) {
  mirror();
  if (impl_->in_write) throw invalid_argument("a participant joins a book outside a write");
  if (std::find(impl_->participants.begin(), impl_->participants.end(), &participant) != impl_->participants.end()) return;
  participant.reset();
  try {
    if (!impl_->conn || !impl_->conn->is_open()) impl_->connect();
    Snapshotted tx(*impl_->conn);
    Impl::DbState db = impl_->read_state(tx);
    impl_->catch_up(tx, db);
    Session session(tx, impl_->info.id);
    participant.catch_up(session, impl_->version);
  } catch (const pqxx::broken_connection& e) {
    throw store_error("lost the connection to PostgreSQL: " + primary_message(e));
  } catch (const pqxx::sql_error& e) {
    throw store_error("reading the book failed: " + primary_message(e));
  }
  impl_->participants.push_back(&participant);
}

void Book::remove_participant(Participant& participant) {
  std::erase(impl_->participants, &participant);
}

void Book::close() {
  if (impl_->in_write) throw invalid_argument("a book can't be closed inside a write");
  impl_->conn.reset();
}

void Book::reload() {
  mirror();
  try {
    if (!impl_->conn || !impl_->conn->is_open()) impl_->connect();
    impl_->reload_mirror();
  } catch (const pqxx::broken_connection& e) {
    throw store_error("lost the connection to PostgreSQL: " + primary_message(e));
  }
}

std::int64_t Book::write_time() const {
  if (!impl_->in_write) throw invalid_argument("a write's time is known only inside the write");
  return impl_->tx_micros;
}

const Identity& Book::identity() const { return impl_->identity; }

namespace {
// Items joined by U+001F (which no role, team or login holds).
std::vector<std::string> split_units(std::string_view joined) {
  std::vector<std::string> out;
  if (joined.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = joined.find('\x1f', start);
    out.emplace_back(joined.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}
}  // namespace

std::vector<Book::Person> Book::people() {
  if (!impl_->conn || !impl_->conn->is_open()) impl_->connect();
  pqxx::read_transaction tx(*impl_->conn);
  std::vector<Person> out;
  for (const auto& row : tx.exec_params(
           "SELECT p.person, p.display_name, array_to_string(p.roles, chr(31)), array_to_string(p.teams, chr(31)), p.active, "
           "coalesce((SELECT string_agg(l.login::text, chr(31) ORDER BY l.login) FROM amends.logins l "
           "WHERE l.book_id = p.book_id AND l.person = p.person), '') "
           "FROM amends.people p WHERE p.book_id = $1 ORDER BY p.person",
           impl_->info.id)) {
    Person p;
    p.person = row[0].c_str();
    p.display_name = row[1].c_str();
    p.roles = split_units(row[2].c_str());
    p.teams = split_units(row[3].c_str());
    p.active = row[4].as<bool>();
    p.logins = split_units(row[5].c_str());
    out.push_back(std::move(p));
  }
  return out;
}

namespace {
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const std::string& item : items) {
    check_text("role or team", item);
    if (item.empty()) throw invalid_argument("a role or team name is not empty");
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}
}  // namespace

void Book::add_person(const std::string& name, const std::string& display_name, const std::vector<std::string>& roles,
                      const std::vector<std::string>& teams, bool active, const std::string& login) {
  const std::string key = names::normalise(name);
  const std::string shown = display_name.empty() ? name : display_name;
  check_text("display name", shown);
  check_text("login", login);
  write("add_person", [&] {
    pqxx::work& tx = impl_->current_tx();
    impl_->written_by_database = true;
    tx.exec_params("SELECT amends.add_person($1, $2, $3, $4::text[], $5::text[], $6, $7::name)", impl_->info.id, key, shown,
                   text_array(roles), text_array(teams), active, login.empty() ? nullptr : login.c_str());
  });
}

void Book::bind_login(const std::string& login, const std::string& person) {
  const std::string key = names::normalise(person);
  check_text("login", login);
  if (login.empty()) throw invalid_argument("name the login to bind");
  write("bind_login", [&] {
    impl_->written_by_database = true;
    impl_->current_tx().exec_params("SELECT amends.bind_login($1, $2::name, $3)", impl_->info.id, login, key);
  });
}

void Book::simulate_connection_loss_at_commit(bool after_commit_sent) { impl_->fail_at_commit = after_commit_sent ? 2 : 1; }

}  // namespace amends::store

namespace amends::store {

namespace {

// "-123.45" -> -12345 at 2 places; the database holds amounts at most as
// fine as their currency (checked when they were posted).
std::int64_t parse_minor(std::string_view text, int places) {
  bool negative = false;
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  std::int64_t units = 0;
  int fraction = -1;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      fraction = 0;
      continue;
    }
    if (c < '0' || c > '9') throw store_error("unexpected amount in the database: " + std::string(text));
    if (fraction >= 0 && ++fraction > places) {
      if (c != '0') throw store_error("an amount in the database is finer than its currency: " + std::string(text));
      continue;
    }
    units = units * 10 + (c - '0');
  }
  for (int k = std::max(fraction, 0); k < places; ++k) units *= 10;
  return negative ? -units : units;
}

}  // namespace

PostingColumns read_postings(const std::string& dsn, const std::string& book) {
  check_text("book name", book);  // a parameter would end at the NUL, naming another book
  auto conn = connect_to(dsn);
  PostingColumns out;
  struct Row {
    std::int64_t entry;
    std::int32_t line, account;
    std::int64_t minor;
  };
  std::vector<Row> rows;
  std::exception_ptr reader_failure;
  std::thread reader;
  try {
    // One snapshot for both reads; the postings stream on a second
    // connection while this one reads the entries.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(*conn);
    pqxx::result found = tx.exec_params("SELECT book_id FROM amends.books WHERE name = $1", book);
    if (found.empty()) throw store_error("there is no book named " + book + " in the database");
    const std::string id = found[0][0].c_str();
    for (const auto& row : tx.exec_params(
             "SELECT name, currency FROM amends.accounts WHERE book_id = $1 ORDER BY account_id", id)) {
      out.account_names.emplace_back(row[0].c_str());
      out.account_currency.push_back(Currency::of(row[1].c_str()));
    }
    const std::string snapshot = tx.exec1("SELECT pg_export_snapshot()")[0].c_str();
    // About two and a half postings an entry: one allocation, not a doubling series.
    rows.reserve(static_cast<std::size_t>(
        tx.exec_params1("SELECT last_entry_id FROM amends.books WHERE book_id = $1", id)[0].as<std::int64_t>() * 3));
    reader = std::thread([&, snapshot, id] {
      try {
        auto second = connect_to(dsn);
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx2(*second);
        tx2.exec0("SET TRANSACTION SNAPSHOT " + tx2.quote(snapshot));
        pqxx::stream_from copy(tx2, "(SELECT entry_id, line, account_id, amount FROM amends.postings WHERE book_id = " +
                                        id + ")");
        std::string line;
        while (copy.get_raw_line(line)) {
          std::string_view rest(line);
          if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
          std::string_view part[4];
          for (int k = 0; k < 4; ++k) {
            const auto tab = rest.find('\t');
            part[k] = rest.substr(0, tab);
            rest = tab == std::string_view::npos ? std::string_view() : rest.substr(tab + 1);
          }
          Row r{};
          std::from_chars(part[0].data(), part[0].data() + part[0].size(), r.entry);
          std::from_chars(part[1].data(), part[1].data() + part[1].size(), r.line);
          std::from_chars(part[2].data(), part[2].data() + part[2].size(), r.account);
          if (r.account < 0 || static_cast<std::size_t>(r.account) >= out.account_currency.size())
            throw store_error("a posting names an account the book does not have");
          r.minor = parse_minor(part[3], out.account_currency[static_cast<std::size_t>(r.account)].minor_units());
          rows.push_back(r);
        }
        copy.complete();
      } catch (...) {
        reader_failure = std::current_exception();
      }
    });
    // Entry dates and statuses, indexed by entry id (dense from 1).
    const auto count = tx.exec_params1("SELECT last_entry_id FROM amends.books WHERE book_id = $1", id)[0].as<std::int64_t>();
    std::vector<std::int32_t> day_of(static_cast<std::size_t>(count) + 1);
    std::vector<std::uint8_t> status_of(static_cast<std::size_t>(count) + 1, 0);
    std::vector<std::string> fields;
    std::vector<bool> nulls;
    std::string line;
    {
      pqxx::stream_from copy(tx, "(SELECT entry_id, date, kind = 'pending' FROM amends.entries WHERE book_id = " + id + ")");
      while (copy.get_raw_line(line)) {
        text::split_copy_line(line, fields, nulls);
        const auto e = static_cast<std::size_t>(std::stoll(fields[0]));
        if (e >= day_of.size()) continue;
        day_of[e] = Date::parse(fields[1]).days_since_epoch();
        status_of[e] = static_cast<std::uint8_t>(fields[2] == "t" ? EntryStatus::pending : EntryStatus::posted);
      }
      copy.complete();
    }
    for (const auto& row : tx.exec_params(
             "SELECT completes FROM amends.entries WHERE book_id = $1 AND completes IS NOT NULL", id))
      status_of[row[0].as<std::size_t>()] = static_cast<std::uint8_t>(EntryStatus::pending_posted);
    for (const auto& row : tx.exec_params("SELECT entry_id, kind FROM amends.resolutions WHERE book_id = $1", id))
      status_of[row[0].as<std::size_t>()] = static_cast<std::uint8_t>(
          std::string_view(row[1].c_str()) == "voided" ? EntryStatus::pending_voided : EntryStatus::pending_expired);
    reader.join();
    if (reader_failure) std::rethrow_exception(reader_failure);
    auto before = [](const Row& x, const Row& y) { return x.entry < y.entry || (x.entry == y.entry && x.line < y.line); };
    if (!std::is_sorted(rows.begin(), rows.end(), before)) std::sort(rows.begin(), rows.end(), before);
    out.entry_id.reserve(rows.size());
    out.day.reserve(rows.size());
    out.account.reserve(rows.size());
    out.amount_minor.reserve(rows.size());
    out.status.reserve(rows.size());
    for (const Row& r : rows) {
      const auto e = static_cast<std::size_t>(r.entry);
      if (e >= day_of.size()) throw store_error("a posting names an entry the book does not have");
      out.entry_id.push_back(r.entry);
      out.day.push_back(day_of[e]);
      out.account.push_back(r.account);
      out.amount_minor.push_back(r.minor);
      out.status.push_back(status_of[e]);
    }
  } catch (const pqxx::broken_connection& e) {
    if (reader.joinable()) reader.join();
    throw store_error("lost the connection to PostgreSQL: " + primary_message(e));
  } catch (const pqxx::sql_error& e) {
    if (reader.joinable()) reader.join();
    throw store_error("reading the book failed: " + primary_message(e));
  } catch (...) {
    if (reader.joinable()) reader.join();
    throw;
  }
  return out;
}

}  // namespace amends::store
