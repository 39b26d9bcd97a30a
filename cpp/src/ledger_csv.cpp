// Bulk load of postings from CSV (entry_id,date,account,amount,currency[,description]).
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "amends/detail/csv_reader.hpp"
#include "amends/ledger.hpp"

namespace amends {

namespace {

// Re-throws the exception being handled as the same type with `context` in
// front of its message, so a caller can still catch it by kind.
[[noreturn]] void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const unbalanced_entry& e) { throw unbalanced_entry(context + e.what());
  } catch (const invalid_entry& e) { throw invalid_entry(context + e.what());
  } catch (const parse_error& e) { throw parse_error(context + e.what());
  } catch (const overflow_error& e) { throw overflow_error(context + e.what());
  } catch (const invalid_argument& e) { throw invalid_argument(context + e.what());
  } catch (const unknown_currency& e) { throw unknown_currency(context + e.what());
  } catch (const currency_mismatch& e) { throw currency_mismatch(context + e.what());
  } catch (const amount_too_precise& e) { throw amount_too_precise(context + e.what());
  } catch (const unknown_account& e) { throw unknown_account(context + e.what());
  } catch (const account_closed& e) { throw account_closed(context + e.what());
  } catch (const period_closed& e) { throw period_closed(context + e.what());
  } catch (const period_locked& e) { throw period_locked(context + e.what());
  } catch (const balance_limit_exceeded& e) { throw balance_limit_exceeded(context + e.what());
  } catch (const idempotency_conflict& e) { throw idempotency_conflict(context + e.what());
  } catch (const account_exists& e) { throw account_exists(context + e.what());
  } catch (const invalid_period_transition& e) { throw invalid_period_transition(context + e.what());
  } catch (const entry_not_found& e) { throw entry_not_found(context + e.what());
  } catch (const already_reversed& e) { throw already_reversed(context + e.what());
  } catch (const pending_state_error& e) { throw pending_state_error(context + e.what());
  } catch (const batch_too_large& e) { throw batch_too_large(context + e.what());
  } catch (const io_error&) { throw;  // already names the file
  } catch (const error& e) { throw error(context + e.what());
  }
}

enum Column : std::size_t { col_entry_id, col_date, col_account, col_amount, col_currency, col_description, column_count };
constexpr std::array<std::string_view, column_count> column_names = {"entry_id", "date", "account", "amount", "currency",
                                                                     "description"};
constexpr std::size_t absent = static_cast<std::size_t>(-1);

}  // namespace

Ledger::CsvLoadResult Ledger::load_csv(const std::string& path, const CsvLoadOptions& options) {
  // The file is read in chunks, never whole: memory stays bounded by the book.
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(path, size_error);
  try {
    detail::CsvReader reader = detail::CsvReader::from_file(path);
    return load_rows(reader, size_error ? 0 : static_cast<std::size_t>(size), options);
  } catch (const error&) {
    rethrow_with_context(path + ": ");
  }
}

Ledger::CsvLoadResult Ledger::load_csv_text(std::string_view text, const CsvLoadOptions& options) {
  detail::CsvReader reader = detail::CsvReader::from_text(text);
  return load_rows(reader, text.size(), options);
}

Ledger::CsvLoadResult Ledger::load_rows(detail::CsvReader& reader, std::size_t size_hint, const CsvLoadOptions& options) {
  std::vector<std::string_view> fields;
  if (!reader.next(fields)) throw parse_error("the CSV is empty; it needs a header row entry_id,date,account,amount,currency[,description]");
  std::array<std::size_t, column_count> index;
  index.fill(absent);
  for (std::size_t i = 0; i < fields.size(); ++i)
    for (std::size_t c = 0; c < column_count; ++c)
      if (fields[i] == column_names[c]) index[c] = i;
  for (std::size_t c = 0; c < col_description; ++c)
    if (index[c] == absent)
      throw parse_error("the CSV header lacks the column " + std::string(column_names[c]) +
                        "; expected entry_id,date,account,amount,currency[,description]");
  const std::size_t width = fields.size();

  CsvLoadResult result;
  const Savepoint start = savepoint();
  // Room for what the file likely holds (rows of ~80 bytes, ~2.4 per entry),
  // so the big arrays don't grow by copying; pages never touched cost nothing.
  reserve_capacity(size_hint / 150, size_hint / 60, size_hint / 4);
  EntryDraft draft;
  std::string current_entry;
  std::size_t entry_line = 0;
  std::size_t entry_ordinal = 0;
  bool have_entry = false;
  std::uint64_t key_hash = 0;

  // Copies: the reader's views last only until its next record.
  std::string cached_date_text, cached_currency_text;
  bool have_cached_date = false;
  Date cached_date;
  std::optional<Currency> cached_currency;

  auto context = [&](std::size_t line) {
    return "line " + std::to_string(line) + " (entry_id " + current_entry + "): ";
  };
  auto flush = [&] {
    if (!have_entry) return;
    try {
      PostResult posted = append_entry(draft, EntryStatus::posted, std::nullopt, 0, 0, key_hash);
      ++(posted.created ? result.entries_posted : result.entries_existing);
      if (posted.created) result.postings += draft.postings.size();
    } catch (const error& e) {
      if (options.mode == BatchMode::atomic) {
        rollback_to(start);
        rethrow_with_context(context(entry_line));
      }
      std::string message;
      try {
        rethrow_with_context(context(entry_line));
      } catch (const error& with_context) {
        message = with_context.what();
      }
      const ResultCode code = result_code_of(e);
      result.failures.push_back(BatchFailure{static_cast<std::uint32_t>(entry_ordinal), code, message});
    }
  };

  bool flushing = false;
  try {
    while (reader.next(fields)) {
      if (fields.size() != width)
        throw parse_error("the row has " + std::to_string(fields.size()) + " fields; the header has " +
                          std::to_string(width));
      const std::string_view entry_id = fields[index[col_entry_id]];
      if (!have_entry || entry_id != current_entry) {
        flushing = true;
        flush();
        flushing = false;
        if (have_entry) ++entry_ordinal;
        if (entry_id.empty()) throw parse_error("entry_id is empty");
        current_entry.assign(entry_id);
        entry_line = reader.line();
        draft.clear();
        draft.idempotency_key.reserve(options.key_prefix.size() + entry_id.size());
        draft.idempotency_key.append(options.key_prefix).append(entry_id);
        key_hash = detail::hash_text(draft.idempotency_key);
        key_index_.prefetch(key_hash);
        if (index[col_description] != absent) draft.description.assign(fields[index[col_description]]);
        have_entry = true;
        const std::string_view date_text = fields[index[col_date]];
        if (!have_cached_date || date_text != cached_date_text) {
          cached_date = Date::parse(date_text);
          cached_date_text.assign(date_text);
          have_cached_date = true;
        }
        draft.date = cached_date;
      } else if (fields[index[col_date]] != cached_date_text) {
        throw parse_error("entry_id " + current_entry +
                          " has rows with different dates; rows of one entry share its date");
      }
      const std::string_view currency_text = fields[index[col_currency]];
      if (currency_text != cached_currency_text || !cached_currency) {
        cached_currency = Currency::of(currency_text);
        cached_currency_text.assign(currency_text);
      }
      const std::string_view account_name = fields[index[col_account]];
      std::uint32_t account = account_index_.find(account_name);
      if (account != detail::NameIndex::npos && !(accounts_[account].currency == *cached_currency)) {
        // The name in another currency: follow its chain of currencies.
        std::uint32_t sibling = accounts_[account].next_currency;
        while (sibling != detail::NameIndex::npos && !(accounts_[sibling].currency == *cached_currency))
          sibling = accounts_[sibling].next_currency;
        if (sibling != detail::NameIndex::npos) account = sibling;
        else if (options.open_missing_accounts) {
          // Open the name in this currency too, as the same type with the same dimensions.
          AccountOptions same;
          same.dimensions = accounts_[account].dimensions;
          account = create_account(account_name, accounts_[account].type, *cached_currency, std::move(same)).value;
          ++result.accounts_opened;
        }
        // Otherwise the entry is refused below with a currency mismatch.
      }
      if (account == detail::NameIndex::npos) {
        if (!options.open_missing_accounts)
          throw unknown_account("no account named " + std::string(account_name) +
                                "; create it first or load with open_missing_accounts");
        std::optional<AccountType> type = account_type_from_name(account_name);
        if (!type)
          throw unknown_account("can't tell the type of new account " +
                                std::string(account_name) +
                                " from its root name (Assets, Liabilities, Equity, Revenue, Expenses, Budget); create it first");
        account = create_account(account_name, *type, *cached_currency).value;
        ++result.accounts_opened;
      }
      draft.postings.push_back(PostingDraft{AccountId{account}, Decimal::parse(fields[index[col_amount]]), cached_currency});
    }
    flushing = true;
    flush();
  } catch (const error&) {
    // A malformed file is refused as a whole, whatever the mode: fix the file.
    rollback_to(start);
    if (flushing) throw;  // already says which entry
    rethrow_with_context("line " + std::to_string(reader.line()) + ": ");
  }
  return result;
}

}  // namespace amends
