// The in-memory double-entry ledger: accounts, immutable balanced entries,
// idempotency, reversal, two-phase (pending) entries, batches and queries.
//
// Sign convention, as in ledger-cli and the workload CSV: a positive amount is
// a debit, a negative amount a credit. An account's "normal balance" is its
// balance seen from its normal side (debit for assets, expenses,
// contra-revenue and memo accounts; credit for liabilities, equity, revenue).
//
// Text: every string the ledger keeps (account names and dimensions, entry
// descriptions, idempotency keys and metadata, void and reversal reasons,
// the book's name, CSV cells) may hold any character but a NUL byte, which
// PostgreSQL's text can't hold: that is invalid_text naming the field, and
// changes nothing. Other control characters (tabs, line breaks) are kept
// as given, except in account names (see validate_account_name).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "amends/calendar.hpp"
#include "amends/detail/name_index.hpp"
#include "amends/money.hpp"

namespace amends {

namespace detail {
class CsvReader;
}

enum class AccountType : std::uint8_t { asset, liability, equity, revenue, contra_revenue, expense, memo };
std::string_view to_string(AccountType type);
AccountType parse_account_type(std::string_view name);  // "asset", "contra_revenue" or "contra-revenue", ...
bool is_debit_normal(AccountType type);
// The type implied by a conventional name: Assets, Liabilities, Equity,
// Revenue/Income, Expense(s), Budget/Memo roots; any "ContraRevenue" segment
// makes it contra-revenue. nullopt when the name follows no convention.
std::optional<AccountType> account_type_from_name(std::string_view name);
// Throws invalid_argument unless every ':'-separated segment is non-empty,
// has no tab, newline, ';' or double space, and no leading or trailing space
// (the shapes journal syntax can't carry); invalid_text for a NUL byte.
void validate_account_name(std::string_view name);

struct AccountId {
  std::uint32_t value = 0;
  friend bool operator==(AccountId, AccountId) = default;
  friend auto operator<=>(AccountId, AccountId) = default;
};
struct EntryId {
  std::uint64_t value = 0;  // 1-based; 0 means "none"
  explicit operator bool() const { return value != 0; }
  friend bool operator==(EntryId, EntryId) = default;
  friend auto operator<=>(EntryId, EntryId) = default;
};

using Dimensions = std::map<std::string, std::string, std::less<>>;
using Metadata = std::vector<std::pair<std::string, std::string>>;  // kept in the given order

// Bounds on an account's normal balance, counting pending reservations that
// move it toward the bound. A customer-credit liability uses min_normal = 0.
struct BalanceLimit {
  std::optional<Decimal> min_normal;
  std::optional<Decimal> max_normal;
  bool empty() const { return !min_normal && !max_normal; }
};

struct AccountOptions {
  Dimensions dimensions;
  BalanceLimit limit;
};

// One account: a name in one currency. A name may be opened in several
// currencies (Assets:Cash in USD and in EUR); each is an account of its own,
// with the same type, and postings name the currency they are in.
struct Account {
  AccountId id;
  std::string name;
  AccountType type;
  Currency currency;
  Dimensions dimensions;
  BalanceLimit limit;
  bool closed = false;
  std::uint32_t next_currency = 0xffffffffU;  // the same name in another currency, if any
};

// Totals of one account. posted is signed (debit positive); pending_debits and
// pending_credits are open reservations, both >= 0.
struct Balance {
  Decimal posted;
  Decimal pending_debits;
  Decimal pending_credits;
  // posted + reservations: what the balance would be if every reservation posted in full.
  Decimal with_pending() const { return posted + pending_debits - pending_credits; }
};

enum class EntryStatus : std::uint8_t {
  posted,            // an ordinary entry (also reversals and completions of pending entries)
  pending,           // a reservation not yet resolved
  pending_posted,    // a reservation completed (in full or in part) by a later entry
  pending_voided,    // a reservation released
  pending_expired,   // a reservation released by expiry
};
std::string_view to_string(EntryStatus status);

struct PostingDraft {
  AccountId account;
  Decimal amount;                    // debit positive, credit negative; never zero
  std::optional<Currency> currency;  // when given, must equal the account's currency
};

struct EntryDraft {
  Date date;
  std::vector<PostingDraft> postings;
  std::string description;
  std::string idempotency_key;  // empty: none
  Metadata metadata;
  bool allow_locked_period = false;  // the explicit override a locked period needs

  void clear() {
    postings.clear();
    description.clear();
    idempotency_key.clear();
    metadata.clear();
    allow_locked_period = false;
  }
};

struct PostingView {
  AccountId account;
  Decimal amount;
};

// A copy of one entry, safe to keep while the ledger changes.
struct EntryView {
  EntryId id;
  Date date;
  EntryStatus status;
  std::string description;
  std::string idempotency_key;
  Metadata metadata;
  std::vector<PostingView> postings;
  EntryId reverses;                  // this entry reverses that one
  EntryId reversed_by;
  EntryId completes;                 // this entry posts that pending entry
  EntryId completed_by;
  std::optional<Date> expires_on;    // pending entries only
  std::optional<Date> resolved_on;   // pending entries: when posted, voided or expired
  std::string reason;                // reversal, void or expiry reason
};

struct PostResult {
  EntryId id;
  bool created;  // false when an entry with the same idempotency key and content existed
};

// Per-entry result codes of a batch, in the manner of TigerBeetle's create_transfers.
enum class ResultCode : std::uint8_t {
  ok,
  exists,                  // idempotent repeat: the existing entry is returned
  linked_entry_failed,     // atomic batch: another entry failed, so this one was not posted
  invalid_entry,
  unbalanced,
  unknown_account,
  account_closed,
  currency_mismatch,
  amount_too_precise,
  period_closed,
  period_locked,
  balance_limit_exceeded,
  idempotency_conflict,
  overflow,
  invalid_text,            // text no back end can keep (a NUL byte)
};
std::string_view to_string(ResultCode code);
// The result code a batch reports for a refused entry.
ResultCode result_code_of(const error& failure);

struct BatchFailure {
  std::uint32_t index;
  ResultCode code;
  std::string message;
};

// The outcome of a batch: a code and an entry id per draft (id 0 where
// nothing was posted), and a message for each draft that failed.
struct BatchResult {
  std::vector<ResultCode> codes;
  std::vector<EntryId> ids;
  std::vector<BatchFailure> failures;
  std::size_t created = 0;
  std::size_t existing = 0;
  bool ok() const { return failures.empty(); }
};

enum class BatchMode : std::uint8_t { atomic, independent };

struct LedgerConfig {
  Currency base_currency = Currency::of("USD");
  unsigned fiscal_year_start_month = 1;
  std::string name = "main";
};

struct CurrencyAmount {
  Currency currency;
  Decimal amount;
};

struct TrialBalanceRow {
  AccountId account;
  Decimal debit;   // >= 0
  Decimal credit;  // >= 0; at most one of the two is non-zero
};
struct TrialBalance {
  std::vector<TrialBalanceRow> rows;           // by account name
  std::vector<CurrencyAmount> total_debits;    // per currency, ordered by code
  std::vector<CurrencyAmount> total_credits;
};

struct StatementLine {
  EntryId entry;
  Date date;
  std::string description;
  Decimal amount;
  Decimal running_balance;
};
struct Statement {
  AccountId account;
  Decimal opening_balance;
  std::vector<StatementLine> lines;
  Decimal closing_balance;
};

struct ActivityRow {
  AccountId account;
  Period period;
  Decimal debits;   // >= 0
  Decimal credits;  // >= 0
  Decimal net() const { return debits - credits; }
};

// A balance report line: an account or one of its parents (a name prefix),
// with the sum of every account at or below it, per currency.
struct ReportLine {
  std::string name;
  int depth;  // 1 for a root segment
  Currency currency;
  Decimal amount;
};

struct DimensionBalance {
  std::string value;
  Currency currency;
  Decimal amount;
};

// Every posting as columns, in entry order: for data frames. Amounts are in
// the account currency's minor units.
struct PostingColumns {
  std::vector<std::int64_t> entry_id;
  std::vector<std::int32_t> day;      // days since 1970-01-01
  std::vector<std::int32_t> account;  // index into account_names / account_currency (the account id)
  std::vector<std::int64_t> amount_minor;
  std::vector<std::uint8_t> status;   // EntryStatus of the posting's entry
  std::vector<std::string> account_names;
  std::vector<Currency> account_currency;
};

class Ledger {
 public:
  static constexpr std::size_t max_postings_per_entry = 1024;
  static constexpr std::size_t max_batch_entries = 16'777'216;
  static constexpr std::size_t max_entries = 0xfffffff0U;

  explicit Ledger(LedgerConfig config = {});

  const LedgerConfig& config() const { return config_; }
  const FiscalCalendar& fiscal_calendar() const { return fiscal_calendar_; }

  // Accounts. A name already open in another currency can be opened again
  // in a new one (same type); the same name and currency is account_exists.
  AccountId create_account(std::string_view name, AccountType type, Currency currency, AccountOptions options = {});
  // The account of this name; throws unknown_account, or invalid_argument
  // when the name is open in several currencies (name the currency then).
  AccountId account_id(std::string_view name) const;
  // The account of this name in this currency; throws unknown_account, or
  // currency_mismatch when the name exists only in other currencies.
  AccountId account_id(std::string_view name, Currency currency) const;
  std::optional<AccountId> find_account(std::string_view name) const;  // the first opened of the name
  std::optional<AccountId> find_account(std::string_view name, Currency currency) const;
  std::vector<AccountId> accounts_named(std::string_view name) const;  // every currency of the name
  const Account& account(AccountId id) const;          // throws unknown_account
  std::size_t account_count() const { return accounts_.size(); }
  // Refuses while the account holds a posted balance or open reservations.
  void close_account(AccountId id);
  void set_balance_limit(AccountId id, BalanceLimit limit);

  // Periods.
  PeriodState period_state(Period period) const { return periods_.state(period); }
  void set_period_state(Period period, PeriodState state) { periods_.set(period, state); }
  const PeriodTable& periods() const { return periods_; }

  // Posting. Every refusal throws a typed error and changes nothing.
  PostResult post(const EntryDraft& draft);
  // A two-phase entry: reserves its amounts in pending balances.
  PostResult reserve(const EntryDraft& draft, std::optional<Date> expires_on = std::nullopt);
  // Posts a pending entry in full (amounts empty) or in part: amounts[i] is
  // the amount to post for posting i, same sign and at most the reserved
  // amount; the remainder is released. The result must balance.
  EntryId post_pending(EntryId pending, Date date, std::span<const Decimal> amounts = {},
                       std::string_view description = {}, bool allow_locked_period = false);
  void void_pending(EntryId pending, Date date, std::string_view reason);
  // Releases every reservation whose expiry date is on or before `as_of`.
  std::vector<EntryId> expire_pending(Date as_of);
  // Posts the mirror of a posted entry and links the two; once per entry.
  EntryId reverse(EntryId entry, Date date, std::string_view reason, bool allow_locked_period = false);

  BatchResult post_batch(std::span<const EntryDraft> drafts, BatchMode mode);

  // A savepoint for bulk loads: accounts created and entries posted or
  // reserved after it can be undone with rollback_to. Between the two, only
  // create_account, post and reserve may be called (no reversal, completion,
  // void or expiry, which change earlier entries).
  struct Savepoint {
    std::size_t accounts, entries, postings, text, metadata, reasons, extras;
  };
  Savepoint savepoint() const;
  void rollback_to(const Savepoint& savepoint);

  // Replaying entries another writer already validated (the PostgreSQL
  // store's mirror): with limits off, post/reserve/post_pending skip the
  // balance-limit check, which the database made when they were written.
  void set_limit_checks(bool on) { limit_checks_ = on; }
  bool limit_checks() const { return limit_checks_; }
  // Expires one reservation (as expire_pending does when its day comes).
  void expire_entry(EntryId pending);
  // Entry ids of the open (unresolved) reservations, in no particular order.
  std::vector<EntryId> open_reservations() const;
  EntryStatus status_of(EntryId id) const { return record(id).status; }

  // Entries.
  std::size_t entry_count() const { return entries_.size(); }
  std::size_t posting_count() const { return postings_.size(); }
  EntryView entry(EntryId id) const;  // throws entry_not_found
  std::optional<EntryId> find_by_key(std::string_view idempotency_key) const;

  // Queries. as_of is inclusive; nullopt means everything so far.
  Balance balance(AccountId id, std::optional<Date> as_of = std::nullopt) const;
  std::vector<CurrencyAmount> rollup(std::string_view prefix, std::optional<Date> as_of = std::nullopt) const;
  std::vector<DimensionBalance> balances_by_dimension(std::string_view dimension, std::optional<Date> as_of = std::nullopt,
                                                      std::string_view account_prefix = {}) const;
  TrialBalance trial_balance(std::optional<Date> as_of = std::nullopt) const;
  Statement statement(AccountId id, std::optional<Date> from = std::nullopt, std::optional<Date> to = std::nullopt) const;
  std::vector<ActivityRow> activity(std::optional<Period> first = std::nullopt, std::optional<Period> last = std::nullopt) const;
  // Every account with a non-zero balance and each of its parent names, with
  // subtotals, sorted by name: the shape of `ledger balance`.
  std::vector<ReportLine> balance_report(std::optional<Date> as_of = std::nullopt) const;
  // Signed posted balances of every account (index = AccountId.value) as of a date.
  std::vector<Decimal> posted_balances(std::optional<Date> as_of = std::nullopt) const;

  // Every posting, reservations included, as columns.
  PostingColumns posting_columns() const;

  // Posted entries (not reservations) in ledger-cli / hledger journal syntax.
  void write_journal(std::ostream& out) const;
  std::string to_journal() const;

  // Bulk load of postings in the workload CSV's columns
  // (entry_id,date,account,amount,currency[,description]); rows of one entry
  // are consecutive; entry_id (with key_prefix) becomes the idempotency key.
  struct CsvLoadOptions {
    bool open_missing_accounts = false;
    std::string key_prefix;
    BatchMode mode = BatchMode::atomic;
  };
  struct CsvLoadResult {
    std::size_t entries_posted = 0;
    std::size_t entries_existing = 0;
    std::size_t postings = 0;
    std::size_t accounts_opened = 0;
    std::vector<BatchFailure> failures;  // independent mode only; index = entry ordinal in the file
  };
  CsvLoadResult load_csv(const std::string& path, const CsvLoadOptions& options);
  CsvLoadResult load_csv_text(std::string_view text, const CsvLoadOptions& options);

 public:  // the record layouts are public only for the static_asserts in ledger.cpp
  // 32 bytes per entry; the links and dates of reversals and two-phase
  // entries, which few entries have, live in extras_.
  struct EntryRecord {
    Date date;
    EntryStatus status = EntryStatus::posted;
    std::uint8_t unused = 0;
    std::uint16_t posting_count = 0;
    std::uint32_t first_posting = 0;
    std::uint32_t text_offset = 0;  // the description, then the idempotency key
    std::uint32_t description_length = 0;
    std::uint32_t key_length = 0;
    std::uint32_t metadata_index = 0;  // 0: none; else 1 + index into metadata_
    std::uint32_t extra_index = 0;     // 0: none; else 1 + index into extras_
  };
  struct EntryExtra {
    std::uint32_t reverses = 0, reversed_by = 0, completes = 0, completed_by = 0;  // entry index + 1
    std::uint32_t reason_index = 0;  // 0: none; else 1 + index into reasons_
    bool has_expiry = false;
    bool resolved = false;
    Date expires_on;
    Date resolved_on;
  };
  // 16 bytes per posting: the amount in its currency's minor units (a posting
  // never holds a finer amount), the date and status come from its entry.
  struct PostingRecord {
    std::uint32_t entry_index;
    AccountId account;
    std::int64_t amount_minor;
  };
  // Balances in the account currency's minor units. They stay within what a
  // Decimal can hold (checked on every change), so they always convert back.
  __extension__ typedef __int128 wide_minor;

 private:
  struct AccountState {
    wide_minor posted = 0;
    wide_minor pending_debits = 0;   // >= 0
    wide_minor pending_credits = 0;  // >= 0
  };
  // What the posting path reads of every account, 16 bytes each, so that the
  // whole chart stays in cache during a bulk load (Account is ~200 bytes).
  struct AccountHot {
    Currency currency;
    std::uint8_t minor_units;
    bool closed;
    bool limited;
  };
  Balance balance_of(AccountId id) const;
  // Adds `delta` minor units to one of an account's totals; overflow_error
  // (and no change) if the result would leave the exact decimal range.
  void add_minor(AccountId id, wide_minor& total, wide_minor delta) const;
  void apply_posting(const PostingRecord& posting, bool reservation, bool undo);

  PostResult append_entry(const EntryDraft& draft, EntryStatus status, std::optional<Date> expires_on,
                          std::uint32_t links_reverses, std::uint32_t links_completes,
                          std::optional<std::uint64_t> key_hash_hint = std::nullopt);
  void check_draft(const EntryDraft& draft) const;
  void check_limits(std::span<const PostingDraft> postings, bool pending) const;
  void check_limit(AccountId id, const Decimal& delta_posted, const Decimal& delta_pending_debits,
                   const Decimal& delta_pending_credits) const;
  bool same_content(const EntryRecord& record, const EntryDraft& draft, EntryStatus status,
                    std::optional<Date> expires_on) const;
  auto key_reader() const {
    return [this](std::uint32_t entry_index) { return key_of(entries_[entry_index]); };
  }
  void reserve_capacity(std::size_t entries, std::size_t postings, std::size_t text_bytes);
  const EntryRecord& record(EntryId id) const;
  std::string_view text(std::uint32_t offset, std::uint32_t length) const;
  std::string_view description_of(const EntryRecord& rec) const { return text(rec.text_offset, rec.description_length); }
  std::string_view key_of(const EntryRecord& rec) const {
    return text(rec.text_offset + rec.description_length, rec.key_length);
  }
  const EntryExtra& extra_of(const EntryRecord& rec) const;
  EntryExtra& extra_of(std::uint32_t entry_index);  // creates it when missing
  Decimal amount_of(const PostingRecord& posting) const {
    return Decimal::from_scaled(posting.amount_minor, hot_[posting.account.value].minor_units);
  }
  // Postings of every account, grouped by account (built on demand).
  std::span<const std::uint32_t> postings_of(AccountId id) const;
  void release_pending(std::uint32_t entry_index);
  CsvLoadResult load_rows(detail::CsvReader& reader, std::size_t size_hint, const CsvLoadOptions& options);

  LedgerConfig config_;
  FiscalCalendar fiscal_calendar_;
  PeriodTable periods_;
  std::vector<Account> accounts_;
  std::vector<AccountState> account_states_;
  std::vector<AccountHot> hot_;  // parallel to accounts_
  detail::NameIndex account_index_;  // name -> the first account opened with it
  std::vector<EntryRecord> entries_;
  std::vector<PostingRecord> postings_;
  std::string text_;  // descriptions and idempotency keys, back to back
  detail::KeyIndex key_index_;  // idempotency key -> entry index
  std::vector<EntryExtra> extras_;
  // postings_of: offsets per account into by_account_, valid for the first
  // indexed_postings_ postings.
  mutable std::vector<std::uint32_t> by_account_offsets_;
  mutable std::vector<std::uint32_t> by_account_;
  mutable std::size_t indexed_postings_ = 0;
  std::vector<Metadata> metadata_;
  std::vector<std::string> reasons_;
  std::vector<std::uint32_t> open_pending_;  // entry indices of unresolved reservations
  bool limit_checks_ = true;
  std::size_t limited_accounts_ = 0;  // accounts with a balance limit; 0 skips the limit checks
  // check_draft leaves each posting's amount in minor units here for append_entry.
  mutable std::vector<std::int64_t> minor_scratch_;
};

}  // namespace amends
