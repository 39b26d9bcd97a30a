// Bulk load of postings from CSV (entry_id,date,account,amount,currency[,description]).
#include <array>
#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

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
  } catch (const invalid_text& e) { throw invalid_text(context + e.what());
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
  check_text("CSV path", path);  // the file system would read a shorter name
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

namespace {

// The loader runs in two threads: a reader that splits records and does the
// conversions that need no ledger state (dates, amounts, currencies, hashes),
// and the caller's thread, which resolves accounts and posts, in file order.
// Conversion failures travel with their row and are raised by the poster at
// the point where a one-thread loader would have raised them, so a refused
// file reports the same error either way.
struct ParsedRow {
  std::size_t line = 0;
  bool width_ok = true;
  std::size_t field_count = 0;
  std::uint32_t entry_offset = 0, entry_length = 0;
  std::uint32_t date_offset = 0, date_length = 0;
  std::uint32_t account_offset = 0, account_length = 0;
  std::uint32_t description_offset = 0, description_length = 0;
  std::uint64_t account_hash = 0;
  std::uint64_t key_hash = 0;  // of key_prefix + entry_id
  Date date;
  std::exception_ptr date_error;
  std::optional<Currency> currency;
  std::exception_ptr currency_error;
  Decimal amount;
  std::exception_ptr amount_error;
  std::exception_ptr text_error;  // a cell with a NUL byte, which no text can carry
};

struct RowBlock {
  static constexpr std::size_t max_rows = 4096;
  std::string text;
  std::vector<ParsedRow> rows;
  bool last = false;
  std::exception_ptr failure;  // a record that could not be read at all
  std::size_t failure_line = 0;

  std::string_view view(std::uint32_t offset, std::uint32_t length) const {
    return std::string_view(text).substr(offset, length);
  }
};

// A bounded queue of blocks between the two threads.
class BlockQueue {
 public:
  static constexpr std::size_t capacity = 4;

  // False when the consumer has stopped listening.
  bool push(std::unique_ptr<RowBlock> block) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return queue_.size() < capacity || stopped_; });
    if (stopped_) return false;
    queue_.push_back(std::move(block));
    not_empty_.notify_one();
    return true;
  }
  std::unique_ptr<RowBlock> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty(); });
    std::unique_ptr<RowBlock> block = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return block;
  }
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    not_full_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::unique_ptr<RowBlock>> queue_;
  bool stopped_ = false;
};

std::uint32_t append_field(std::string& text, std::string_view field) {
  const auto offset = static_cast<std::uint32_t>(text.size());
  text.append(field);
  return offset;
}

void read_blocks(detail::CsvReader& reader, const std::array<std::size_t, column_count>& index, std::size_t width,
                 const std::string& key_prefix, BlockQueue& queue) {
  std::vector<std::string_view> fields;
  std::string cached_date_text, cached_currency_text, key;
  std::optional<Date> cached_date;
  std::optional<Currency> cached_currency;
  while (true) {
    auto block = std::make_unique<RowBlock>();
    block->rows.reserve(RowBlock::max_rows);
    block->text.reserve(RowBlock::max_rows * 64);
    try {
      while (block->rows.size() < RowBlock::max_rows) {
        if (!reader.next(fields)) {
          block->last = true;
          break;
        }
        ParsedRow& row = block->rows.emplace_back();
        row.line = reader.line();
        row.field_count = fields.size();
        if (fields.size() != width) {
          row.width_ok = false;
          continue;
        }
        for (std::size_t c = 0; c < column_count && !row.text_error; ++c) {
          if (index[c] == absent || fields[index[c]].find('\0') == std::string_view::npos) continue;
          try {
            check_text(("column " + std::string(column_names[c])).c_str(), std::string(fields[index[c]]));
          } catch (const error&) {
            row.text_error = std::current_exception();
          }
        }
        const std::string_view entry_id = fields[index[col_entry_id]];
        const std::string_view date_text = fields[index[col_date]];
        const std::string_view account = fields[index[col_account]];
        row.entry_length = static_cast<std::uint32_t>(entry_id.size());
        row.entry_offset = append_field(block->text, entry_id);
        row.date_length = static_cast<std::uint32_t>(date_text.size());
        row.date_offset = append_field(block->text, date_text);
        row.account_length = static_cast<std::uint32_t>(account.size());
        row.account_offset = append_field(block->text, account);
        if (index[col_description] != absent) {
          const std::string_view description = fields[index[col_description]];
          row.description_length = static_cast<std::uint32_t>(description.size());
          row.description_offset = append_field(block->text, description);
        }
        row.account_hash = detail::hash_text(account);
        key.assign(key_prefix).append(entry_id);
        row.key_hash = detail::hash_text(key);
        try {
          if (!cached_date || date_text != cached_date_text) {
            cached_date.reset();
            cached_date = Date::parse(date_text);
            cached_date_text.assign(date_text);
          }
          row.date = *cached_date;
        } catch (const error&) {
          row.date_error = std::current_exception();
        }
        try {
          const std::string_view currency_text = fields[index[col_currency]];
          if (!cached_currency || currency_text != cached_currency_text) {
            cached_currency.reset();
            cached_currency = Currency::of(currency_text);
            cached_currency_text.assign(currency_text);
          }
          row.currency = cached_currency;
        } catch (const error&) {
          row.currency_error = std::current_exception();
        }
        try {
          row.amount = Decimal::parse(fields[index[col_amount]]);
        } catch (const error&) {
          row.amount_error = std::current_exception();
        }
      }
    } catch (...) {
      block->failure = std::current_exception();
      block->failure_line = reader.line();
      block->last = true;
    }
    const bool last = block->last;
    if (!queue.push(std::move(block)) || last) return;
  }
}

}  // namespace

Ledger::CsvLoadResult Ledger::load_rows(detail::CsvReader& reader, std::size_t size_hint, const CsvLoadOptions& options) {
  check_text("key prefix", options.key_prefix);
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

  BlockQueue queue;
  std::thread reader_thread(read_blocks, std::ref(reader), std::cref(index), width, std::cref(options.key_prefix),
                            std::ref(queue));
  struct Join {
    BlockQueue& queue;
    std::thread& thread;
    ~Join() {
      queue.stop();
      thread.join();
    }
  } join{queue, reader_thread};

  EntryDraft draft;
  std::string current_entry, current_date_text;
  std::size_t entry_line = 0;
  std::size_t entry_ordinal = 0;
  std::size_t line = 0;
  bool have_entry = false;
  std::uint64_t key_hash = 0;

  auto context = [&](std::size_t at_line) {
    return "line " + std::to_string(at_line) + " (entry_id " + current_entry + "): ";
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
      result.failures.push_back(BatchFailure{static_cast<std::uint32_t>(entry_ordinal), result_code_of(e), message});
    }
  };

  bool flushing = false;
  try {
    bool done = false;
    while (!done) {
      std::unique_ptr<RowBlock> block = queue.pop();
      done = block->last;
      for (const ParsedRow& row : block->rows) {
        line = row.line;
        if (!row.width_ok)
          throw parse_error("the row has " + std::to_string(row.field_count) + " fields; the header has " +
                            std::to_string(width));
        if (row.text_error) std::rethrow_exception(row.text_error);
        const std::string_view entry_id = block->view(row.entry_offset, row.entry_length);
        const std::string_view date_text = block->view(row.date_offset, row.date_length);
        if (!have_entry || entry_id != current_entry) {
          flushing = true;
          flush();
          flushing = false;
          if (have_entry) ++entry_ordinal;
          if (entry_id.empty()) throw parse_error("entry_id is empty");
          current_entry.assign(entry_id);
          entry_line = row.line;
          draft.clear();
          draft.idempotency_key.append(options.key_prefix).append(entry_id);
          key_hash = row.key_hash;
          key_index_.prefetch(key_hash);
          draft.description.assign(block->view(row.description_offset, row.description_length));
          have_entry = true;
          if (row.date_error) std::rethrow_exception(row.date_error);
          draft.date = row.date;
          current_date_text.assign(date_text);
        } else if (date_text != current_date_text) {
          throw parse_error("entry_id " + current_entry + " has rows with different dates; rows of one entry share its date");
        }
        if (row.currency_error) std::rethrow_exception(row.currency_error);
        const Currency currency = *row.currency;
        const std::string_view account_name = block->view(row.account_offset, row.account_length);
        std::uint32_t account = account_index_.find_hashed(account_name, row.account_hash);
        if (account != detail::NameIndex::npos && !(hot_[account].currency == currency)) {
          // The name in another currency: follow its chain of currencies.
          std::uint32_t sibling = accounts_[account].next_currency;
          while (sibling != detail::NameIndex::npos && !(hot_[sibling].currency == currency))
            sibling = accounts_[sibling].next_currency;
          if (sibling != detail::NameIndex::npos) account = sibling;
          else if (options.open_missing_accounts) {
            // Open the name in this currency too, as the same type with the same dimensions.
            AccountOptions same;
            same.dimensions = accounts_[account].dimensions;
            account = create_account(account_name, accounts_[account].type, currency, std::move(same)).value;
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
            throw unknown_account("can't tell the type of new account " + std::string(account_name) +
                                  " from its root name (Assets, Liabilities, Equity, Revenue, Expenses, Budget); create it first");
          account = create_account(account_name, *type, currency).value;
          ++result.accounts_opened;
        }
        if (row.amount_error) std::rethrow_exception(row.amount_error);
        draft.postings.push_back(PostingDraft{AccountId{account}, row.amount, currency});
      }
      if (block->failure) {
        line = block->failure_line;
        std::rethrow_exception(block->failure);
      }
    }
    flushing = true;
    flush();
  } catch (const error&) {
    // A malformed file is refused as a whole, whatever the mode: fix the file.
    rollback_to(start);
    if (flushing) throw;  // already says which entry
    rethrow_with_context("line " + std::to_string(line) + ": ");
  }
  return result;
}

}  // namespace amends
