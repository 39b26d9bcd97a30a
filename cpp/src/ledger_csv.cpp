// Bulk load of postings from CSV (entry_id,date,account,amount,currency[,description]).
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

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
  } catch (const error& e) { throw error(context + e.what());
  }
}

// Splits CSV records (RFC 4180: quoted fields, doubled quotes, CRLF or LF).
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);  // UTF-8 byte order mark
  }

  // Reads the next non-empty record into `fields`; false at the end.
  bool next(std::vector<std::string_view>& fields) {
    fields.clear();
    while (pos_ < text_.size()) {
      ++line_;
      record_line_ = line_;
      if (text_[pos_] == '\n') { ++pos_; continue; }
      if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') { pos_ += 2; continue; }
      read_record(fields);
      return true;
    }
    return false;
  }

  std::size_t line() const { return record_line_; }

 private:
  void read_record(std::vector<std::string_view>& fields) {
    std::size_t field_index = 0;
    while (true) {
      if (pos_ < text_.size() && text_[pos_] == '"') {
        fields.push_back(read_quoted(field_index));
      } else {
        std::size_t end = pos_;
        while (end < text_.size() && text_[end] != ',' && text_[end] != '\n') ++end;
        std::size_t stop = end;
        if (stop > pos_ && text_[stop - 1] == '\r' && (stop == text_.size() || text_[stop] == '\n')) --stop;
        fields.push_back(text_.substr(pos_, stop - pos_));
        pos_ = end;
      }
      ++field_index;
      if (pos_ >= text_.size()) return;
      if (text_[pos_] == ',') { ++pos_; continue; }
      if (text_[pos_] == '\n') { ++pos_; return; }
      throw parse_error("unexpected text after a quoted field; a quoted field must end at a comma or line end");
    }
  }

  std::string_view read_quoted(std::size_t field_index) {
    const std::size_t start_line = line_;
    ++pos_;  // opening quote
    std::size_t start = pos_;
    bool doubled = false;
    while (true) {
      if (pos_ >= text_.size())
        throw parse_error("a quoted field opened on line " + std::to_string(start_line) + " is never closed");
      char c = text_[pos_];
      if (c == '\n') ++line_;
      if (c == '"') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
          doubled = true;
          pos_ += 2;
          continue;
        }
        break;
      }
      ++pos_;
    }
    std::string_view raw = text_.substr(start, pos_ - start);
    ++pos_;  // closing quote
    if (pos_ < text_.size() && text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    if (!doubled) return raw;
    if (unescaped_.size() <= field_index) unescaped_.resize(field_index + 1);
    std::string& out = unescaped_[field_index];
    out.clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      out += raw[i];
      if (raw[i] == '"') ++i;  // skip the second quote of a pair
    }
    return out;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 0;
  std::size_t record_line_ = 0;
  // A deque, so growing it for a later field keeps earlier fields' text in
  // place: the views handed out for this record point into these strings.
  std::deque<std::string> unescaped_;
};

enum Column : std::size_t { col_entry_id, col_date, col_account, col_amount, col_currency, col_description, column_count };
constexpr std::array<std::string_view, column_count> column_names = {"entry_id", "date", "account", "amount", "currency",
                                                                     "description"};
constexpr std::size_t absent = static_cast<std::size_t>(-1);

}  // namespace

Ledger::CsvLoadResult Ledger::load_csv(const std::string& path, const CsvLoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("can't open " + path + ": " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw io_error("can't read " + path);
  in.seekg(0, std::ios::beg);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), size)) throw io_error("can't read " + path + ": " + std::strerror(errno));
  try {
    return load_rows(text, options);
  } catch (const error&) {
    rethrow_with_context(path + ": ");
  }
}

Ledger::CsvLoadResult Ledger::load_csv_text(std::string_view text, const CsvLoadOptions& options) {
  return load_rows(text, options);
}

Ledger::CsvLoadResult Ledger::load_rows(std::string_view text, const CsvLoadOptions& options) {
  CsvReader reader(text);
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
  reserve_capacity(text.size() / 150, text.size() / 60, text.size() / 4);
  EntryDraft draft;
  std::string current_entry;
  std::size_t entry_line = 0;
  std::size_t entry_ordinal = 0;
  bool have_entry = false;
  std::uint64_t key_hash = 0;

  std::string_view cached_date_text, cached_currency_text;
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
      ResultCode code = ResultCode::invalid_entry;
      if (dynamic_cast<const unbalanced_entry*>(&e)) code = ResultCode::unbalanced;
      else if (dynamic_cast<const unknown_account*>(&e)) code = ResultCode::unknown_account;
      else if (dynamic_cast<const account_closed*>(&e)) code = ResultCode::account_closed;
      else if (dynamic_cast<const currency_mismatch*>(&e)) code = ResultCode::currency_mismatch;
      else if (dynamic_cast<const amount_too_precise*>(&e)) code = ResultCode::amount_too_precise;
      else if (dynamic_cast<const period_closed*>(&e)) code = ResultCode::period_closed;
      else if (dynamic_cast<const period_locked*>(&e)) code = ResultCode::period_locked;
      else if (dynamic_cast<const balance_limit_exceeded*>(&e)) code = ResultCode::balance_limit_exceeded;
      else if (dynamic_cast<const idempotency_conflict*>(&e)) code = ResultCode::idempotency_conflict;
      else if (dynamic_cast<const overflow_error*>(&e)) code = ResultCode::overflow;
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
        if (date_text != cached_date_text) {
          cached_date = Date::parse(date_text);
          cached_date_text = date_text;
        }
        draft.date = cached_date;
      } else if (fields[index[col_date]] != cached_date_text) {
        throw parse_error("entry_id " + current_entry +
                          " has rows with different dates; rows of one entry share its date");
      }
      const std::string_view currency_text = fields[index[col_currency]];
      if (currency_text != cached_currency_text || !cached_currency) {
        cached_currency = Currency::of(currency_text);
        cached_currency_text = currency_text;
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
