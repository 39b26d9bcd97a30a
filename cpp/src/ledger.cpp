// Accounts, posting, idempotency, two-phase entries, reversal and batches.
#include "amends/ledger.hpp"

#include "amends/detail/wide.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace amends {

namespace {

constexpr std::array<std::string_view, 7> account_type_names = {"asset",          "liability", "equity", "revenue",
                                                                "contra_revenue", "expense",   "memo"};

bool starts_with_segment(std::string_view name, std::string_view root) {
  return name.size() >= root.size() && name.substr(0, root.size()) == root &&
         (name.size() == root.size() || name[root.size()] == ':');
}

std::string amount_text(const Decimal& amount, Currency currency) {
  return amount.round(currency.minor_units(), Rounding::half_even) == amount
             ? amount.to_string(currency.minor_units()) + " " + std::string(currency.code())
             : amount.to_string() + " " + std::string(currency.code());
}

std::string entry_label(std::uint64_t index) { return "entry #" + std::to_string(index + 1); }

// check_text for a view: the copy is made only to word the refusal.
void check_text_view(const char* field, std::string_view value) {
  if (value.find('\0') != std::string_view::npos) check_text(field, std::string(value));
}

// Every piece of text an entry draft carries, before anything looks it up.
void check_draft_text(const EntryDraft& draft) {
  check_text("description", draft.description);
  check_text("idempotency key", draft.idempotency_key);
  for (const auto& [key, value] : draft.metadata) {
    check_text("metadata key", key);
    if (value.find('\0') != std::string::npos) check_text(("metadata value for " + key).c_str(), value);
  }
}

void check_dimensions_text(const Dimensions& dimensions) {
  for (const auto& [key, value] : dimensions) {
    check_text("dimension key", key);
    if (value.find('\0') != std::string::npos) check_text(("value of dimension " + key).c_str(), value);
  }
}

}  // namespace

std::string_view to_string(AccountType type) { return account_type_names[static_cast<std::size_t>(type)]; }

AccountType parse_account_type(std::string_view name) {
  for (std::size_t i = 0; i < account_type_names.size(); ++i) {
    std::string_view candidate = account_type_names[i];
    if (name == candidate) return static_cast<AccountType>(i);
    if (name.size() == candidate.size()) {
      bool same = true;
      for (std::size_t c = 0; c < name.size() && same; ++c)
        same = name[c] == candidate[c] || (candidate[c] == '_' && name[c] == '-');
      if (same) return static_cast<AccountType>(i);
    }
  }
  throw invalid_argument("unknown account type \"" + std::string(name) +
                         "\"; use one of asset, liability, equity, revenue, contra_revenue, expense, memo");
}

bool is_debit_normal(AccountType type) {
  switch (type) {
    case AccountType::asset:
    case AccountType::expense:
    case AccountType::contra_revenue:
    case AccountType::memo:
      return true;
    case AccountType::liability:
    case AccountType::equity:
    case AccountType::revenue:
      return false;
  }
  AMENDS_ASSERT(false);
}

std::optional<AccountType> account_type_from_name(std::string_view name) {
  if (name.find("ContraRevenue") != std::string_view::npos) {
    // Only a whole segment counts: "Revenue:ContraRevenue:ServiceCredits".
    std::size_t start = 0;
    while (start <= name.size()) {
      std::size_t end = name.find(':', start);
      if (end == std::string_view::npos) end = name.size();
      if (name.substr(start, end - start) == "ContraRevenue") return AccountType::contra_revenue;
      start = end + 1;
    }
  }
  static constexpr std::pair<std::string_view, AccountType> roots[] = {
      {"Assets", AccountType::asset},       {"Asset", AccountType::asset},
      {"Liabilities", AccountType::liability}, {"Liability", AccountType::liability},
      {"Equity", AccountType::equity},      {"Revenue", AccountType::revenue},
      {"Revenues", AccountType::revenue},   {"Income", AccountType::revenue},
      {"Expenses", AccountType::expense},   {"Expense", AccountType::expense},
      {"Budget", AccountType::memo},        {"Budgets", AccountType::memo},
      {"Memo", AccountType::memo},
  };
  for (const auto& [root, type] : roots)
    if (starts_with_segment(name, root)) return type;
  return std::nullopt;
}

void validate_account_name(std::string_view name) {
  check_text_view("account name", name);
  auto refuse = [&](const std::string& why) {
    throw invalid_argument("account name \"" + std::string(name) + "\" " + why);
  };
  if (name.empty()) refuse("is empty; give a name like Liabilities:CustomerCredits:C1042");
  if (name.size() > 512) refuse("is longer than 512 characters");
  std::size_t start = 0;
  while (true) {
    std::size_t end = name.find(':', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view segment = name.substr(start, end - start);
    if (segment.empty()) refuse("has an empty segment; segments are separated by single ':'");
    if (segment.front() == ' ' || segment.back() == ' ') refuse("has a segment with leading or trailing spaces");
    if (segment.find("  ") != std::string_view::npos) refuse("contains two spaces in a row, which journal syntax reads as the end of the name");
    for (char c : segment)
      if (c == '\t' || c == '\n' || c == '\r' || c == ';')
        refuse("contains a tab, line break or ';', which journal syntax can't carry");
    if (end == name.size()) break;
    start = end + 1;
  }
}

std::string_view to_string(EntryStatus status) {
  switch (status) {
    case EntryStatus::posted: return "posted";
    case EntryStatus::pending: return "pending";
    case EntryStatus::pending_posted: return "pending_posted";
    case EntryStatus::pending_voided: return "pending_voided";
    case EntryStatus::pending_expired: return "pending_expired";
  }
  AMENDS_ASSERT(false);
}

std::string_view to_string(ResultCode code) {
  switch (code) {
    case ResultCode::ok: return "ok";
    case ResultCode::exists: return "exists";
    case ResultCode::linked_entry_failed: return "linked_entry_failed";
    case ResultCode::invalid_entry: return "invalid_entry";
    case ResultCode::unbalanced: return "unbalanced";
    case ResultCode::unknown_account: return "unknown_account";
    case ResultCode::account_closed: return "account_closed";
    case ResultCode::currency_mismatch: return "currency_mismatch";
    case ResultCode::amount_too_precise: return "amount_too_precise";
    case ResultCode::period_closed: return "period_closed";
    case ResultCode::period_locked: return "period_locked";
    case ResultCode::balance_limit_exceeded: return "balance_limit_exceeded";
    case ResultCode::idempotency_conflict: return "idempotency_conflict";
    case ResultCode::overflow: return "overflow";
    case ResultCode::invalid_text: return "invalid_text";
  }
  AMENDS_ASSERT(false);
}

// The storage per entry and per posting is what bounds a book's memory.
static_assert(sizeof(Ledger::EntryRecord) == 32, "an entry record is 32 bytes");
static_assert(sizeof(Ledger::PostingRecord) == 16, "a posting record is 16 bytes");

Ledger::Ledger(LedgerConfig config) : config_(std::move(config)), fiscal_calendar_(config_.fiscal_year_start_month) {
  check_text("book name", config_.name);
}

// ---------------------------------------------------------------- accounts

namespace {
void check_limit_spec(std::string_view name, Currency currency, const BalanceLimit& limit) {
  if (limit.min_normal && limit.max_normal && *limit.max_normal < *limit.min_normal)
    throw invalid_argument("balance limit of " + std::string(name) + ": max_normal is below min_normal");
  for (const std::optional<Decimal>* bound : {&limit.min_normal, &limit.max_normal})
    if (*bound && !(*bound)->fits_places(currency.minor_units()))
      throw amount_too_precise("balance limit " + (*bound)->to_string() + " of " + std::string(name) + " is finer than " +
                               std::string(currency.code()) + "'s " + std::to_string(currency.minor_units()) +
                               " minor digits");
}
}  // namespace

AccountId Ledger::create_account(std::string_view name, AccountType type, Currency currency, AccountOptions options) {
  validate_account_name(name);
  check_dimensions_text(options.dimensions);
  const std::uint32_t first = account_index_.find(name);
  std::uint32_t last_sibling = detail::NameIndex::npos;
  for (std::uint32_t sibling = first; sibling != detail::NameIndex::npos; sibling = accounts_[sibling].next_currency) {
    const Account& other = accounts_[sibling];
    if (other.currency == currency)
      throw account_exists("account " + std::string(name) + " already exists in " + std::string(currency.code()));
    if (other.type != type)
      throw account_exists("account " + std::string(name) + " exists as " + std::string(to_string(other.type)) + " in " +
                           std::string(other.currency.code()) + "; it can't be opened as " + std::string(to_string(type)) +
                           " in " + std::string(currency.code()));
    last_sibling = sibling;
  }
  if (accounts_.size() >= std::numeric_limits<std::uint32_t>::max() - 1)
    throw invalid_argument("a book holds at most 4,294,967,294 accounts");
  check_limit_spec(name, currency, options.limit);
  AccountId id{static_cast<std::uint32_t>(accounts_.size())};
  accounts_.push_back(Account{id, std::string(name), type, currency, std::move(options.dimensions),
                              std::move(options.limit), false, detail::NameIndex::npos});
  account_states_.emplace_back();
  hot_.push_back(AccountHot{currency, static_cast<std::uint8_t>(currency.minor_units()), false,
                            !accounts_.back().limit.empty()});
  if (first == detail::NameIndex::npos) account_index_.insert(name, id.value);
  else accounts_[last_sibling].next_currency = id.value;
  if (!accounts_.back().limit.empty()) ++limited_accounts_;
  return id;
}

std::optional<AccountId> Ledger::find_account(std::string_view name) const {
  std::uint32_t found = account_index_.find(name);
  if (found == detail::NameIndex::npos) return std::nullopt;
  return AccountId{found};
}

std::optional<AccountId> Ledger::find_account(std::string_view name, Currency currency) const {
  for (std::uint32_t id = account_index_.find(name); id != detail::NameIndex::npos; id = accounts_[id].next_currency)
    if (accounts_[id].currency == currency) return AccountId{id};
  return std::nullopt;
}

std::vector<AccountId> Ledger::accounts_named(std::string_view name) const {
  std::vector<AccountId> out;
  for (std::uint32_t id = account_index_.find(name); id != detail::NameIndex::npos; id = accounts_[id].next_currency)
    out.push_back(AccountId{id});
  return out;
}

AccountId Ledger::account_id(std::string_view name) const {
  std::optional<AccountId> found = find_account(name);
  if (!found) check_text_view("account name", name);  // a name no account can have
  if (!found)
    throw unknown_account("no account named " + std::string(name) + "; create it first (or load with open_missing_accounts)");
  const Account& acct = accounts_[found->value];
  if (acct.next_currency != detail::NameIndex::npos) {
    std::string codes;
    for (AccountId id : accounts_named(name)) codes += (codes.empty() ? "" : ", ") + std::string(accounts_[id.value].currency.code());
    throw invalid_argument("account " + std::string(name) + " is open in several currencies (" + codes +
                           "); say which currency you mean");
  }
  return *found;
}

AccountId Ledger::account_id(std::string_view name, Currency currency) const {
  if (std::optional<AccountId> found = find_account(name, currency)) return *found;
  std::vector<AccountId> named = accounts_named(name);
  if (named.empty()) check_text_view("account name", name);  // a name no account can have
  if (named.empty())
    throw unknown_account("no account named " + std::string(name) + "; create it first (or load with open_missing_accounts)");
  throw currency_mismatch("account " + std::string(name) + " holds " + std::string(accounts_[named.front().value].currency.code()) +
                          (named.size() > 1 ? " (and other currencies)" : "") + ", not " + std::string(currency.code()) +
                          "; open it in " + std::string(currency.code()) + " first");
}

const Account& Ledger::account(AccountId id) const {
  if (id.value >= accounts_.size()) throw unknown_account("no account with id " + std::to_string(id.value));
  return accounts_[id.value];
}

void Ledger::close_account(AccountId id) {
  const Account& acct = account(id);
  const Balance bal = balance_of(id);
  if (!bal.posted.is_zero())
    throw invalid_argument("account " + acct.name + " still holds " + amount_text(bal.posted, acct.currency) +
                           "; move the balance out before closing it");
  if (!bal.pending_debits.is_zero() || !bal.pending_credits.is_zero())
    throw invalid_argument("account " + acct.name + " has open reservations; post, void or expire them before closing it");
  accounts_[id.value].closed = true;
  hot_[id.value].closed = true;
}

void Ledger::set_balance_limit(AccountId id, BalanceLimit limit) {
  const Account& acct = account(id);
  check_limit_spec(acct.name, acct.currency, limit);
  bool had = !acct.limit.empty();
  accounts_[id.value].limit = std::move(limit);
  bool has = !accounts_[id.value].limit.empty();
  hot_[id.value].limited = has;
  if (had && !has) --limited_accounts_;
  if (!had && has) ++limited_accounts_;
}

// ---------------------------------------------------------------- checks

void Ledger::check_draft(const EntryDraft& draft) const {
  const std::size_t count = draft.postings.size();
  if (count < 2)
    throw invalid_entry("an entry needs at least two postings; this one has " + std::to_string(count));
  if (count > max_postings_per_entry)
    throw invalid_entry("an entry holds at most " + std::to_string(max_postings_per_entry) + " postings; this one has " +
                        std::to_string(count));
  // Per-currency sums in minor units; entries rarely touch more than two
  // currencies, so the first few live on the stack.
  struct Sum {
    Currency currency;
    detail::wide_int minor;
  };
  std::array<std::optional<Sum>, 4> sums_inline;
  std::vector<Sum> sums_overflow;
  minor_scratch_.clear();
  for (const PostingDraft& posting : draft.postings) {
    if (posting.account.value >= accounts_.size())
      throw unknown_account("no account with id " + std::to_string(posting.account.value));
    const AccountHot& hot = hot_[posting.account.value];
    const Account& acct = accounts_[posting.account.value];  // read only to word an error
    if (hot.closed) throw account_closed("account " + acct.name + " is closed; it takes no postings");
    if (posting.currency && !(*posting.currency == hot.currency))
      throw currency_mismatch("posting to " + acct.name + " is in " + std::string(posting.currency->code()) +
                              " but the account holds " + std::string(acct.currency.code()));
    if (posting.amount.is_zero())
      throw invalid_entry("posting to " + acct.name + " has a zero amount; leave it out");
    std::int64_t minor = 0;
    try {
      minor = posting.amount.to_minor(hot.minor_units);
    } catch (const amount_too_precise&) {
      throw amount_too_precise("amount " + posting.amount.to_string() + " " + std::string(acct.currency.code()) + " to " +
                               acct.name + " is finer than " + std::string(acct.currency.code()) + "'s " +
                               std::to_string(acct.currency.minor_units()) + " minor digits; round it first");
    } catch (const overflow_error&) {
      const Decimal largest = Decimal::from_scaled(std::numeric_limits<std::int64_t>::max(), acct.currency.minor_units());
      throw overflow_error("a posting of " + posting.amount.to_string() + " " + std::string(acct.currency.code()) + " to " +
                           acct.name + " is beyond what one posting holds (" + largest.to_string() + " " +
                           std::string(acct.currency.code()) + " either way); split it into several postings");
    }
    minor_scratch_.push_back(minor);
    Sum* slot = nullptr;
    for (std::optional<Sum>& sum : sums_inline) {
      if (!sum) {
        sum = Sum{hot.currency, 0};
        slot = &*sum;
        break;
      }
      if (sum->currency == hot.currency) {
        slot = &*sum;
        break;
      }
    }
    for (std::size_t i = 0; !slot && i <= sums_overflow.size(); ++i) {
      if (i == sums_overflow.size()) sums_overflow.push_back(Sum{hot.currency, 0});
      if (sums_overflow[i].currency == hot.currency) slot = &sums_overflow[i];
    }
    slot->minor += minor;
  }
  std::string off;
  auto report = [&](const Sum& sum) {
    if (sum.minor == 0) return;
    if (!off.empty()) off += "; ";
    const std::string code(sum.currency.code());
    const Decimal amount = detail::decimal_from_minor(sum.minor < 0 ? -sum.minor : sum.minor, sum.currency.minor_units());
    off += code + (sum.minor > 0 ? " debits exceed credits by " : " credits exceed debits by ") + amount.to_string();
  };
  for (const std::optional<Sum>& sum : sums_inline)
    if (sum) report(*sum);
  for (const Sum& extra : sums_overflow) report(extra);
  if (!off.empty()) throw unbalanced_entry("entry does not balance: " + off + "; postings must sum to zero per currency");
  periods_.check_postable(draft.date, draft.allow_locked_period);
}

void Ledger::check_limit(AccountId id, const Decimal& delta_posted, const Decimal& delta_pending_debits,
                         const Decimal& delta_pending_credits) const {
  const Account& acct = accounts_[id.value];
  const Balance bal = balance_of(id);
  const bool debit_normal = is_debit_normal(acct.type);
  // The normal balance at its lowest and highest, counting reservations that
  // could still post against it.
  auto low = [&](const Decimal& posted, const Decimal& pending_debits, const Decimal& pending_credits) {
    return debit_normal ? posted - pending_credits : -posted - pending_debits;
  };
  auto high = [&](const Decimal& posted, const Decimal& pending_debits, const Decimal& pending_credits) {
    return debit_normal ? posted + pending_debits : -posted + pending_credits;
  };
  const Decimal posted_after = bal.posted + delta_posted;
  const Decimal debits_after = bal.pending_debits + delta_pending_debits;
  const Decimal credits_after = bal.pending_credits + delta_pending_credits;
  if (acct.limit.min_normal) {
    Decimal before = low(bal.posted, bal.pending_debits, bal.pending_credits);
    Decimal after = low(posted_after, debits_after, credits_after);
    if (after < *acct.limit.min_normal && after < before)
      throw balance_limit_exceeded("this would take " + acct.name + " to " + amount_text(after, acct.currency) +
                                   " (its normal balance, counting open reservations), below its limit of " +
                                   amount_text(*acct.limit.min_normal, acct.currency));
  }
  if (acct.limit.max_normal) {
    Decimal before = high(bal.posted, bal.pending_debits, bal.pending_credits);
    Decimal after = high(posted_after, debits_after, credits_after);
    if (after > *acct.limit.max_normal && after > before)
      throw balance_limit_exceeded("this would take " + acct.name + " to " + amount_text(after, acct.currency) +
                                   " (its normal balance, counting open reservations), above its limit of " +
                                   amount_text(*acct.limit.max_normal, acct.currency));
  }
}

void Ledger::check_limits(std::span<const PostingDraft> postings, bool pending) const {
  if (limited_accounts_ == 0 || !limit_checks_) return;
  for (std::size_t i = 0; i < postings.size(); ++i) {
    const AccountId id = postings[i].account;
    if (!hot_[id.value].limited) continue;
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) seen = postings[j].account == id;
    if (seen) continue;  // checked with its first posting, all postings to it together
    Decimal total_debits, total_credits;
    for (std::size_t j = i; j < postings.size(); ++j) {
      if (!(postings[j].account == id)) continue;
      if (postings[j].amount.sign() > 0) total_debits += postings[j].amount;
      else total_credits -= postings[j].amount;
    }
    if (pending) check_limit(id, Decimal(), total_debits, total_credits);
    else check_limit(id, total_debits - total_credits, Decimal(), Decimal());
  }
}

bool Ledger::same_content(const EntryRecord& rec, const EntryDraft& draft, EntryStatus status,
                          std::optional<Date> expires_on) const {
  const bool rec_is_reservation = rec.status != EntryStatus::posted;
  const bool draft_is_reservation = status != EntryStatus::posted;
  if (rec_is_reservation != draft_is_reservation) return false;
  if (!(rec.date == draft.date) || rec.posting_count != draft.postings.size()) return false;
  if (description_of(rec) != draft.description) return false;
  for (std::size_t i = 0; i < draft.postings.size(); ++i) {
    const PostingRecord& p = postings_[rec.first_posting + i];
    if (!(p.account == draft.postings[i].account) || !(amount_of(p) == draft.postings[i].amount)) return false;
  }
  if (rec_is_reservation) {
    const EntryExtra& extra = extra_of(rec);
    if (extra.has_expiry != expires_on.has_value() || (expires_on && !(extra.expires_on == *expires_on))) return false;
  }
  static const Metadata none;
  const Metadata& meta = rec.metadata_index ? metadata_[rec.metadata_index - 1] : none;
  return meta == draft.metadata;
}

// ---------------------------------------------------------------- storage helpers

std::string_view Ledger::text(std::uint32_t offset, std::uint32_t length) const {
  return std::string_view(text_).substr(offset, length);
}

const Ledger::EntryExtra& Ledger::extra_of(const EntryRecord& rec) const {
  static const EntryExtra none;
  return rec.extra_index ? extras_[rec.extra_index - 1] : none;
}

Ledger::EntryExtra& Ledger::extra_of(std::uint32_t entry_index) {
  EntryRecord& rec = entries_[entry_index];
  if (!rec.extra_index) {
    extras_.emplace_back();
    rec.extra_index = static_cast<std::uint32_t>(extras_.size());
  }
  return extras_[rec.extra_index - 1];
}

Balance Ledger::balance_of(AccountId id) const {
  const AccountState& state = account_states_[id.value];
  const int places = hot_[id.value].minor_units;
  return Balance{detail::decimal_from_minor(state.posted, places), detail::decimal_from_minor(state.pending_debits, places),
                 detail::decimal_from_minor(state.pending_credits, places)};
}

void Ledger::add_minor(AccountId id, wide_minor& total, wide_minor delta) const {
  const wide_minor result = total + delta;
  const wide_minor limit = detail::max_minor_units(hot_[id.value].minor_units);
  const Account& acct = accounts_[id.value];
  if (result > limit || result < -limit)
    throw overflow_error("the balance of " + acct.name + " would leave the exact range (about 3.4e20 " +
                         std::string(acct.currency.code()) + "); split the book or the amounts");
  total = result;
}

void Ledger::apply_posting(const PostingRecord& posting, bool reservation, bool undo) {
  AccountState& state = account_states_[posting.account.value];
  const wide_minor amount = undo ? -static_cast<wide_minor>(posting.amount_minor) : posting.amount_minor;
  if (!reservation) add_minor(posting.account, state.posted, amount);
  else if (posting.amount_minor > 0) add_minor(posting.account, state.pending_debits, amount);
  else add_minor(posting.account, state.pending_credits, -amount);
}

const Ledger::EntryRecord& Ledger::record(EntryId id) const {
  if (id.value == 0 || id.value > entries_.size())
    throw entry_not_found("no entry #" + std::to_string(id.value) + " in this book");
  return entries_[id.value - 1];
}

std::optional<EntryId> Ledger::find_by_key(std::string_view key) const {
  std::uint32_t found = key_index_.find(key, detail::hash_text(key), key_reader());
  if (found == detail::KeyIndex::npos) return std::nullopt;
  return EntryId{static_cast<std::uint64_t>(found) + 1};
}

void Ledger::reserve_capacity(std::size_t entries, std::size_t postings, std::size_t text_bytes) {
  entries_.reserve(entries_.size() + entries);
  postings_.reserve(postings_.size() + postings);
  text_.reserve(text_.size() + text_bytes);
  key_index_.reserve(key_index_.size() + entries, key_reader());
}

// ---------------------------------------------------------------- posting

PostResult Ledger::append_entry(const EntryDraft& draft, EntryStatus status, std::optional<Date> expires_on,
                                std::uint32_t links_reverses, std::uint32_t links_completes,
                                std::optional<std::uint64_t> key_hash_hint) {
  check_draft_text(draft);
  std::uint64_t key_hash = 0;
  if (!draft.idempotency_key.empty()) {
    if (draft.idempotency_key.size() > 256)
      throw invalid_entry("idempotency key is longer than 256 characters");
    key_hash = key_hash_hint ? *key_hash_hint : detail::hash_text(draft.idempotency_key);
    std::uint32_t existing = key_index_.find(draft.idempotency_key, key_hash, key_reader());
    if (existing != detail::KeyIndex::npos) {
      if (same_content(entries_[existing], draft, status, expires_on)) return PostResult{EntryId{existing + 1ULL}, false};
      throw idempotency_conflict("idempotency key \"" + draft.idempotency_key + "\" already belongs to " +
                                 entry_label(existing) +
                                 " with different content; use a new key for a new entry, or resend the original");
    }
  }
  check_draft(draft);
  check_limits(draft.postings, status == EntryStatus::pending);
  if (entries_.size() >= max_entries) throw invalid_argument("the book is full (4,294,967,280 entries)");
  if (postings_.size() + draft.postings.size() > std::numeric_limits<std::uint32_t>::max())
    throw invalid_argument("the book is full (4,294,967,295 postings)");
  const std::size_t text_bytes = draft.description.size() + draft.idempotency_key.size();
  if (text_.size() + text_bytes > std::numeric_limits<std::uint32_t>::max())
    throw invalid_argument("the book's descriptions and keys exceed 4 GiB; split the book");
  // check_draft left each amount in minor units (the form postings are stored in).
  const std::size_t first_new = postings_.size();
  const auto entry_index = static_cast<std::uint32_t>(entries_.size());
  const bool reservation = status == EntryStatus::pending;
  AMENDS_ASSERT(minor_scratch_.size() == draft.postings.size());
  for (std::size_t i = 0; i < draft.postings.size(); ++i)
    postings_.push_back(PostingRecord{entry_index, draft.postings[i].account, minor_scratch_[i]});
  // Balances next: if one would leave the exact decimal range, the entry is
  // refused, and the amounts already applied are taken back.
  std::size_t applied = first_new;
  try {
    for (; applied < postings_.size(); ++applied) apply_posting(postings_[applied], reservation, false);
  } catch (const overflow_error&) {
    while (applied > first_new) apply_posting(postings_[--applied], reservation, true);
    postings_.resize(first_new);
    throw;
  }

  EntryRecord rec;
  rec.date = draft.date;
  rec.status = status;
  rec.first_posting = static_cast<std::uint32_t>(first_new);
  rec.posting_count = static_cast<std::uint16_t>(draft.postings.size());
  rec.text_offset = static_cast<std::uint32_t>(text_.size());
  rec.description_length = static_cast<std::uint32_t>(draft.description.size());
  rec.key_length = static_cast<std::uint32_t>(draft.idempotency_key.size());
  text_.append(draft.description);
  text_.append(draft.idempotency_key);
  if (!draft.metadata.empty()) {
    metadata_.push_back(draft.metadata);
    rec.metadata_index = static_cast<std::uint32_t>(metadata_.size());
  }
  entries_.push_back(rec);
  if (expires_on || links_reverses || links_completes) {
    EntryExtra& extra = extra_of(entry_index);
    extra.has_expiry = expires_on.has_value();
    if (expires_on) extra.expires_on = *expires_on;
    extra.reverses = links_reverses;
    extra.completes = links_completes;
  }
  if (reservation) open_pending_.push_back(entry_index);
  if (!draft.idempotency_key.empty()) key_index_.insert(key_hash, entry_index, key_reader());
  return PostResult{EntryId{entry_index + 1ULL}, true};
}

PostResult Ledger::post(const EntryDraft& draft) { return append_entry(draft, EntryStatus::posted, std::nullopt, 0, 0); }

PostResult Ledger::reserve(const EntryDraft& draft, std::optional<Date> expires_on) {
  if (expires_on && !(draft.date < *expires_on))
    throw invalid_entry("a reservation dated " + draft.date.to_string() + " can't expire on " + expires_on->to_string() +
                        "; the expiry must come after the entry date");
  return append_entry(draft, EntryStatus::pending, expires_on, 0, 0);
}

void Ledger::release_pending(std::uint32_t entry_index) {
  const EntryRecord& rec = entries_[entry_index];
  for (std::uint32_t i = 0; i < rec.posting_count; ++i) {
    const PostingRecord& p = postings_[rec.first_posting + i];
    apply_posting(p, true, true);  // undoing a reservation never leaves the range
    const AccountState& state = account_states_[p.account.value];
    AMENDS_ASSERT(state.pending_debits >= 0 && state.pending_credits >= 0);
  }
  auto it = std::find(open_pending_.begin(), open_pending_.end(), entry_index);
  AMENDS_ASSERT(it != open_pending_.end());
  open_pending_.erase(it);
}

namespace {
void require_pending(std::uint64_t index, EntryStatus status) {
  if (status == EntryStatus::pending) return;
  if (status == EntryStatus::posted)
    throw pending_state_error(entry_label(index) + " is an ordinary entry, not a reservation");
  throw pending_state_error(entry_label(index) + " is no longer pending (it is " + std::string(to_string(status)) + ")");
}
}  // namespace

EntryId Ledger::post_pending(EntryId pending, Date date, std::span<const Decimal> amounts, std::string_view description,
                             bool allow_locked_period) {
  check_text_view("description", description);
  const EntryRecord& rec = record(pending);
  const auto index = static_cast<std::uint32_t>(pending.value - 1);
  require_pending(index, rec.status);
  const EntryExtra& extra = extra_of(rec);
  if (date < rec.date)
    throw invalid_entry("can't post " + entry_label(index) + " on " + date.to_string() + ", before it was reserved on " +
                        rec.date.to_string());
  if (extra.has_expiry && !(date < extra.expires_on))
    throw pending_state_error(entry_label(index) + " expired on " + extra.expires_on.to_string() +
                              "; it can't be posted on " + date.to_string());
  if (!amounts.empty() && amounts.size() != rec.posting_count)
    throw invalid_entry("posting " + entry_label(index) + " in part needs one amount per reserved posting (" +
                        std::to_string(rec.posting_count) + "), got " + std::to_string(amounts.size()));
  EntryDraft draft;
  draft.date = date;
  draft.allow_locked_period = allow_locked_period;
  draft.description = description.empty() ? std::string(description_of(rec)) : std::string(description);
  draft.metadata.emplace_back("completes", std::to_string(pending.value));
  for (std::uint32_t i = 0; i < rec.posting_count; ++i) {
    const PostingRecord& p = postings_[rec.first_posting + i];
    const Decimal reserved = amount_of(p);
    if (amounts.empty()) {
      draft.postings.push_back(PostingDraft{p.account, reserved, std::nullopt});
      continue;
    }
    const Decimal& amount = amounts[i];
    if (amount.is_zero()) continue;
    if (amount.sign() != reserved.sign() || reserved.abs() < amount.abs())
      throw invalid_entry("amount " + amount.to_string() + " for " + accounts_[p.account.value].name +
                          " must have the sign of, and be no larger than, the reserved " + reserved.to_string());
    draft.postings.push_back(PostingDraft{p.account, amount, std::nullopt});
  }
  // The reservation is released first, so the limits see the posted amounts
  // in its place; if the completion is refused the reservation is restored.
  release_pending(index);
  PostResult result;
  try {
    result = append_entry(draft, EntryStatus::posted, std::nullopt, 0, index + 1);
  } catch (...) {
    const EntryRecord& again = entries_[index];
    for (std::uint32_t i = 0; i < again.posting_count; ++i) apply_posting(postings_[again.first_posting + i], true, false);
    open_pending_.push_back(index);
    throw;
  }
  entries_[index].status = EntryStatus::pending_posted;
  EntryExtra& updated = extra_of(index);
  updated.resolved = true;
  updated.resolved_on = date;
  updated.completed_by = static_cast<std::uint32_t>(result.id.value);
  return result.id;
}

void Ledger::void_pending(EntryId pending, Date date, std::string_view reason) {
  check_text_view("void reason", reason);
  const EntryRecord& rec = record(pending);
  const auto index = static_cast<std::uint32_t>(pending.value - 1);
  require_pending(index, rec.status);
  if (date < rec.date)
    throw invalid_entry("can't void " + entry_label(index) + " on " + date.to_string() + ", before it was reserved on " +
                        rec.date.to_string());
  if (reason.empty()) throw invalid_argument("voiding a reservation needs a reason");
  release_pending(index);
  reasons_.emplace_back(reason);
  entries_[index].status = EntryStatus::pending_voided;
  EntryExtra& extra = extra_of(index);
  extra.resolved = true;
  extra.resolved_on = date;
  extra.reason_index = static_cast<std::uint32_t>(reasons_.size());
}

void Ledger::expire_entry(EntryId pending) {
  const EntryRecord& rec = record(pending);
  const auto index = static_cast<std::uint32_t>(pending.value - 1);
  require_pending(index, rec.status);
  if (!extra_of(rec).has_expiry) throw pending_state_error(entry_label(index) + " has no expiry date");
  const auto it = std::find(open_pending_.begin(), open_pending_.end(), index);
  AMENDS_ASSERT(it != open_pending_.end());
  release_pending(index);
  EntryExtra& extra = extra_of(index);
  reasons_.emplace_back("expired on " + extra.expires_on.to_string());
  entries_[index].status = EntryStatus::pending_expired;
  extra.resolved = true;
  extra.resolved_on = extra.expires_on;
  extra.reason_index = static_cast<std::uint32_t>(reasons_.size());
}

std::vector<EntryId> Ledger::open_reservations() const {
  std::vector<EntryId> ids;
  ids.reserve(open_pending_.size());
  for (std::uint32_t index : open_pending_) ids.push_back(EntryId{index + 1ULL});
  return ids;
}

std::vector<EntryId> Ledger::expire_pending(Date as_of) {
  std::vector<std::uint32_t> due;
  for (std::uint32_t index : open_pending_) {
    const EntryExtra& extra = extra_of(entries_[index]);
    if (extra.has_expiry && !(as_of < extra.expires_on)) due.push_back(index);
  }
  std::sort(due.begin(), due.end());
  std::vector<EntryId> expired;
  for (std::uint32_t index : due) {
    release_pending(index);
    EntryExtra& extra = extra_of(index);
    reasons_.emplace_back("expired on " + extra.expires_on.to_string());
    entries_[index].status = EntryStatus::pending_expired;
    extra.resolved = true;
    extra.resolved_on = extra.expires_on;
    extra.reason_index = static_cast<std::uint32_t>(reasons_.size());
    expired.push_back(EntryId{index + 1ULL});
  }
  return expired;
}

EntryId Ledger::reverse(EntryId entry_id, Date date, std::string_view reason, bool allow_locked_period) {
  check_text_view("reversal reason", reason);
  const EntryRecord& rec = record(entry_id);
  const auto index = static_cast<std::uint32_t>(entry_id.value - 1);
  const EntryExtra& extra = extra_of(rec);
  if (rec.status != EntryStatus::posted)
    throw pending_state_error(entry_label(index) + " is a reservation; void it instead of reversing it");
  if (extra.reverses != 0)
    throw invalid_entry(entry_label(index) + " is itself a reversal; post a new entry instead of reversing it");
  if (extra.reversed_by != 0)
    throw already_reversed(entry_label(index) + " was already reversed by " + entry_label(extra.reversed_by - 1ULL));
  if (date < rec.date)
    throw invalid_entry("a reversal of " + entry_label(index) + " can't be dated " + date.to_string() +
                        ", before the entry itself (" + rec.date.to_string() + ")");
  if (reason.empty()) throw invalid_argument("a reversal needs a reason");
  EntryDraft draft;
  draft.date = date;
  draft.allow_locked_period = allow_locked_period;
  draft.description = "Reversal of " + entry_label(index) + ": " + std::string(reason);
  draft.metadata.emplace_back("reverses", std::to_string(entry_id.value));
  for (std::uint32_t i = 0; i < rec.posting_count; ++i) {
    const PostingRecord& p = postings_[rec.first_posting + i];
    draft.postings.push_back(PostingDraft{p.account, -amount_of(p), std::nullopt});
  }
  PostResult result = append_entry(draft, EntryStatus::posted, std::nullopt, index + 1, 0);
  reasons_.emplace_back(reason);
  extra_of(static_cast<std::uint32_t>(result.id.value - 1)).reason_index = static_cast<std::uint32_t>(reasons_.size());
  extra_of(index).reversed_by = static_cast<std::uint32_t>(result.id.value);
  return result.id;
}

// ---------------------------------------------------------------- batches

Ledger::Savepoint Ledger::savepoint() const {
  return Savepoint{accounts_.size(), entries_.size(), postings_.size(), text_.size(),
                   metadata_.size(),  reasons_.size(), extras_.size()};
}

void Ledger::rollback_to(const Savepoint& to) {
  for (std::size_t e = entries_.size(); e > to.entries; --e) {
    const EntryRecord& rec = entries_[e - 1];
    // Batches and loads only append ordinary entries and reservations.
    AMENDS_ASSERT(extra_of(rec).reverses == 0 && extra_of(rec).completes == 0);
    if (rec.status == EntryStatus::posted || rec.status == EntryStatus::pending)
      for (std::uint32_t i = rec.posting_count; i > 0; --i)
        apply_posting(postings_[rec.first_posting + i - 1], rec.status == EntryStatus::pending, true);
    if (rec.key_length != 0) key_index_.erase(key_of(rec), key_reader());
  }
  std::erase_if(open_pending_, [&](std::uint32_t index) { return index >= to.entries; });
  for (std::size_t a = accounts_.size(); a > to.accounts; --a) {
    const Account& acct = accounts_[a - 1];
    if (!acct.limit.empty()) --limited_accounts_;
    const std::uint32_t first = account_index_.find(acct.name);
    if (first == a - 1) {
      account_index_.erase_last(acct.name);
    } else {
      // A later currency of an older name: the last link of its chain.
      std::uint32_t previous = first;
      while (accounts_[previous].next_currency != a - 1) previous = accounts_[previous].next_currency;
      accounts_[previous].next_currency = detail::NameIndex::npos;
    }
  }
  accounts_.erase(accounts_.begin() + static_cast<std::ptrdiff_t>(to.accounts), accounts_.end());
  account_states_.resize(to.accounts);
  hot_.erase(hot_.begin() + static_cast<std::ptrdiff_t>(to.accounts), hot_.end());
  entries_.resize(to.entries);
  postings_.resize(to.postings);
  text_.resize(to.text);
  metadata_.resize(to.metadata);
  reasons_.resize(to.reasons);
  extras_.resize(to.extras);
  if (indexed_postings_ > postings_.size()) indexed_postings_ = 0;
}

ResultCode result_code_of(const error& failure) {
  if (dynamic_cast<const invalid_text*>(&failure)) return ResultCode::invalid_text;
  if (dynamic_cast<const unbalanced_entry*>(&failure)) return ResultCode::unbalanced;
  if (dynamic_cast<const invalid_entry*>(&failure)) return ResultCode::invalid_entry;
  if (dynamic_cast<const unknown_account*>(&failure)) return ResultCode::unknown_account;
  if (dynamic_cast<const account_closed*>(&failure)) return ResultCode::account_closed;
  if (dynamic_cast<const currency_mismatch*>(&failure)) return ResultCode::currency_mismatch;
  if (dynamic_cast<const amount_too_precise*>(&failure)) return ResultCode::amount_too_precise;
  if (dynamic_cast<const period_closed*>(&failure)) return ResultCode::period_closed;
  if (dynamic_cast<const period_locked*>(&failure)) return ResultCode::period_locked;
  if (dynamic_cast<const balance_limit_exceeded*>(&failure)) return ResultCode::balance_limit_exceeded;
  if (dynamic_cast<const idempotency_conflict*>(&failure)) return ResultCode::idempotency_conflict;
  if (dynamic_cast<const overflow_error*>(&failure)) return ResultCode::overflow;
  return ResultCode::invalid_entry;
}

BatchResult Ledger::post_batch(std::span<const EntryDraft> drafts, BatchMode mode) {
  if (drafts.size() > max_batch_entries)
    throw batch_too_large("a batch holds at most " + std::to_string(max_batch_entries) + " entries; got " +
                          std::to_string(drafts.size()) + "; split it");
  BatchResult result;
  result.codes.assign(drafts.size(), ResultCode::ok);
  result.ids.assign(drafts.size(), EntryId{});
  const Savepoint start = savepoint();
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    try {
      PostResult posted = append_entry(drafts[i], EntryStatus::posted, std::nullopt, 0, 0);
      result.ids[i] = posted.id;
      result.codes[i] = posted.created ? ResultCode::ok : ResultCode::exists;
      ++(posted.created ? result.created : result.existing);
    } catch (const error& e) {
      const std::string message = e.what();
      const ResultCode code = result_code_of(e);
      result.codes[i] = code;
      result.failures.push_back(BatchFailure{static_cast<std::uint32_t>(i), code, message});
      if (mode == BatchMode::atomic) {
        rollback_to(start);
        for (std::size_t j = 0; j < drafts.size(); ++j) {
          if (j == i) continue;
          result.codes[j] = ResultCode::linked_entry_failed;
          result.ids[j] = EntryId{};
        }
        result.created = result.existing = 0;
        return result;
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------- entries

EntryView Ledger::entry(EntryId id) const {
  const EntryRecord& rec = record(id);
  const EntryExtra& extra = extra_of(rec);
  EntryView view;
  view.id = id;
  view.date = rec.date;
  view.status = rec.status;
  view.description = std::string(description_of(rec));
  view.idempotency_key = std::string(key_of(rec));
  if (rec.metadata_index) view.metadata = metadata_[rec.metadata_index - 1];
  for (std::uint32_t i = 0; i < rec.posting_count; ++i) {
    const PostingRecord& p = postings_[rec.first_posting + i];
    view.postings.push_back(PostingView{p.account, amount_of(p)});
  }
  view.reverses = EntryId{extra.reverses};
  view.reversed_by = EntryId{extra.reversed_by};
  view.completes = EntryId{extra.completes};
  view.completed_by = EntryId{extra.completed_by};
  if (extra.has_expiry) view.expires_on = extra.expires_on;
  if (extra.resolved) view.resolved_on = extra.resolved_on;
  if (extra.reason_index) view.reason = reasons_[extra.reason_index - 1];
  return view;
}

std::span<const std::uint32_t> Ledger::postings_of(AccountId id) const {
  if (indexed_postings_ != postings_.size() || by_account_offsets_.size() != accounts_.size() + 1) {
    // A counting sort of every posting by account: two passes, one array.
    by_account_offsets_.assign(accounts_.size() + 1, 0);
    for (const PostingRecord& p : postings_) ++by_account_offsets_[p.account.value + 1];
    for (std::size_t a = 0; a < accounts_.size(); ++a) by_account_offsets_[a + 1] += by_account_offsets_[a];
    by_account_.resize(postings_.size());
    std::vector<std::uint32_t> cursor(by_account_offsets_.begin(), by_account_offsets_.end() - 1);
    for (std::size_t i = 0; i < postings_.size(); ++i)
      by_account_[cursor[postings_[i].account.value]++] = static_cast<std::uint32_t>(i);
    indexed_postings_ = postings_.size();
  }
  const std::uint32_t begin = by_account_offsets_[id.value];
  const std::uint32_t end = by_account_offsets_[id.value + 1];
  return std::span<const std::uint32_t>(by_account_).subspan(begin, end - begin);
}

}  // namespace amends
