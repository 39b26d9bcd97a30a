// Balances, trial balance, statements, activity, reports and journal export.
#include <algorithm>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

#include "amends/detail/wide.hpp"
#include "amends/ledger.hpp"

namespace amends {

namespace {

bool matches_prefix(std::string_view name, std::string_view prefix) {
  if (prefix.empty()) return true;
  if (name.size() < prefix.size() || name.substr(0, prefix.size()) != prefix) return false;
  return name.size() == prefix.size() || name[prefix.size()] == ':';
}

void add_to(std::vector<CurrencyAmount>& sums, Currency currency, const Decimal& amount) {
  for (CurrencyAmount& sum : sums)
    if (sum.currency == currency) {
      sum.amount += amount;
      return;
    }
  sums.push_back(CurrencyAmount{currency, amount});
}

void sort_by_code(std::vector<CurrencyAmount>& sums) {
  std::sort(sums.begin(), sums.end(), [](const CurrencyAmount& a, const CurrencyAmount& b) { return a.currency < b.currency; });
}

// Sums of minor units: 2^32 postings of at most 2^63 each can't overflow 2^127.
using wide_sum = detail::wide_int;

Decimal from_wide(wide_sum units, int places) { return detail::decimal_from_minor(units, places); }

// "-1234.50" from -123450 minor units and 2 places, without going through Decimal.
void append_minor(std::string& out, std::int64_t units, int places) {
  char digits[24];
  std::size_t n = 0;
  const bool negative = units < 0;
  auto magnitude = negative ? 0ULL - static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
  do {
    digits[n++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0 || n <= static_cast<std::size_t>(places));
  if (negative) out += '-';
  for (std::size_t i = n; i > 0; --i) {
    out += digits[i - 1];
    if (places > 0 && i - 1 == static_cast<std::size_t>(places)) out += '.';
  }
}

// One line of journal text: no line breaks inside.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return out;
}

}  // namespace

Balance Ledger::balance(AccountId id, std::optional<Date> as_of) const {
  account(id);  // throws unknown_account
  if (!as_of) return balance_of(id);
  Balance result;
  for (std::uint32_t posting_index : postings_of(id)) {
    const PostingRecord& p = postings_[posting_index];
    const EntryRecord& rec = entries_[p.entry_index];
    if (*as_of < rec.date) continue;
    if (rec.status == EntryStatus::posted) {
      result.posted += amount_of(p);
      continue;
    }
    // A reservation counts as pending from its date until it was resolved.
    const EntryExtra& extra = extra_of(rec);
    if (extra.resolved && !(*as_of < extra.resolved_on)) continue;
    if (p.amount_minor > 0) result.pending_debits += amount_of(p);
    else result.pending_credits -= amount_of(p);
  }
  return result;
}

std::vector<Decimal> Ledger::posted_balances(std::optional<Date> as_of) const {
  std::vector<Decimal> balances(accounts_.size());
  if (!as_of) {
    for (std::size_t a = 0; a < accounts_.size(); ++a)
      balances[a] = from_wide(account_states_[a].posted, accounts_[a].currency.minor_units());
    return balances;
  }
  std::vector<wide_sum> sums(accounts_.size(), 0);
  for (const PostingRecord& p : postings_) {
    const EntryRecord& rec = entries_[p.entry_index];
    if (rec.status == EntryStatus::posted && !(*as_of < rec.date)) sums[p.account.value] += p.amount_minor;
  }
  for (std::size_t a = 0; a < accounts_.size(); ++a)
    if (sums[a] != 0) balances[a] = from_wide(sums[a], accounts_[a].currency.minor_units());
  return balances;
}

std::vector<CurrencyAmount> Ledger::rollup(std::string_view prefix, std::optional<Date> as_of) const {
  std::vector<CurrencyAmount> sums;
  std::vector<Decimal> balances = posted_balances(as_of);
  for (const Account& acct : accounts_)
    if (matches_prefix(acct.name, prefix)) add_to(sums, acct.currency, balances[acct.id.value]);
  sort_by_code(sums);
  return sums;
}

std::vector<DimensionBalance> Ledger::balances_by_dimension(std::string_view dimension, std::optional<Date> as_of,
                                                            std::string_view account_prefix) const {
  std::vector<Decimal> balances = posted_balances(as_of);
  std::map<std::pair<std::string, std::string_view>, DimensionBalance> grouped;
  for (const Account& acct : accounts_) {
    if (!matches_prefix(acct.name, account_prefix)) continue;
    auto found = acct.dimensions.find(dimension);
    if (found == acct.dimensions.end()) continue;
    auto key = std::make_pair(found->second, acct.currency.code());
    auto [it, inserted] = grouped.try_emplace(key, DimensionBalance{found->second, acct.currency, Decimal()});
    it->second.amount += balances[acct.id.value];
  }
  std::vector<DimensionBalance> rows;
  rows.reserve(grouped.size());
  for (auto& [key, row] : grouped) rows.push_back(std::move(row));
  return rows;
}

TrialBalance Ledger::trial_balance(std::optional<Date> as_of) const {
  std::vector<Decimal> balances = posted_balances(as_of);
  TrialBalance tb;
  std::vector<const Account*> order;
  for (const Account& acct : accounts_)
    if (!balances[acct.id.value].is_zero()) order.push_back(&acct);
  std::sort(order.begin(), order.end(), [](const Account* a, const Account* b) { return a->name < b->name; });
  for (const Account* acct : order) {
    const Decimal& amount = balances[acct->id.value];
    TrialBalanceRow row{acct->id, {}, {}};
    if (amount.sign() > 0) {
      row.debit = amount;
      add_to(tb.total_debits, acct->currency, amount);
    } else {
      row.credit = -amount;
      add_to(tb.total_credits, acct->currency, -amount);
    }
    tb.rows.push_back(row);
  }
  // Every currency that appears on one side appears on the other with the same total.
  for (const CurrencyAmount& debit : tb.total_debits) add_to(tb.total_credits, debit.currency, Decimal());
  for (const CurrencyAmount& credit : tb.total_credits) add_to(tb.total_debits, credit.currency, Decimal());
  sort_by_code(tb.total_debits);
  sort_by_code(tb.total_credits);
  AMENDS_ASSERT(tb.total_debits.size() == tb.total_credits.size());
  for (std::size_t i = 0; i < tb.total_debits.size(); ++i) AMENDS_ASSERT(tb.total_debits[i].amount == tb.total_credits[i].amount);
  return tb;
}

Statement Ledger::statement(AccountId id, std::optional<Date> from, std::optional<Date> to) const {
  account(id);
  if (from && to && *to < *from)
    throw invalid_argument("statement range ends (" + to->to_string() + ") before it starts (" + from->to_string() + ")");
  Statement st;
  st.account = id;
  std::vector<std::uint32_t> lines;
  for (std::uint32_t posting_index : postings_of(id)) {
    const PostingRecord& p = postings_[posting_index];
    const EntryRecord& rec = entries_[p.entry_index];
    if (rec.status != EntryStatus::posted) continue;
    if (from && rec.date < *from) {
      st.opening_balance += amount_of(p);
      continue;
    }
    if (to && *to < rec.date) continue;
    lines.push_back(posting_index);
  }
  // Entries may be posted out of date order; a statement reads by date, then entry.
  std::stable_sort(lines.begin(), lines.end(), [&](std::uint32_t a, std::uint32_t b) {
    return entries_[postings_[a].entry_index].date < entries_[postings_[b].entry_index].date;
  });
  Decimal running = st.opening_balance;
  st.lines.reserve(lines.size());
  for (std::uint32_t posting_index : lines) {
    const PostingRecord& p = postings_[posting_index];
    const EntryRecord& rec = entries_[p.entry_index];
    const Decimal amount = amount_of(p);
    running += amount;
    st.lines.push_back(StatementLine{EntryId{p.entry_index + 1ULL}, rec.date, std::string(description_of(rec)), amount,
                                     running});
  }
  st.closing_balance = running;
  return st;
}

std::vector<ActivityRow> Ledger::activity(std::optional<Period> first, std::optional<Period> last) const {
  if (first && last && *last < *first)
    throw invalid_argument("activity range ends (" + last->to_string() + ") before it starts (" + first->to_string() + ")");
  const Date from = first ? first->first_day() : Date::from_days(std::numeric_limits<std::int32_t>::min());
  const Date to = last ? last->last_day() : Date::from_days(std::numeric_limits<std::int32_t>::max());
  // Keyed by (account, period index); an ordered map yields rows sorted by account id then period.
  std::unordered_map<std::uint64_t, std::pair<wide_sum, wide_sum>> cells;
  // Period::of is the costly part of this loop; consecutive postings mostly share a date.
  Date cached_date = Date::from_days(std::numeric_limits<std::int32_t>::min());
  std::int32_t cached_period = 0;
  for (const PostingRecord& p : postings_) {
    const EntryRecord& rec = entries_[p.entry_index];
    if (rec.status != EntryStatus::posted || rec.date < from || to < rec.date) continue;
    if (!(rec.date == cached_date)) {
      cached_date = rec.date;
      cached_period = Period::of(rec.date).index();
    }
    const std::uint64_t key = (static_cast<std::uint64_t>(p.account.value) << 32) | static_cast<std::uint32_t>(cached_period);
    auto& cell = cells[key];
    if (p.amount_minor > 0) cell.first += p.amount_minor;
    else cell.second -= p.amount_minor;
  }
  std::vector<ActivityRow> rows;
  rows.reserve(cells.size());
  for (const auto& [key, sums] : cells) {
    const AccountId account{static_cast<std::uint32_t>(key >> 32)};
    const int places = accounts_[account.value].currency.minor_units();
    rows.push_back(ActivityRow{account, Period::from_index(static_cast<std::int32_t>(key & 0xffffffffU)),
                               from_wide(sums.first, places), from_wide(sums.second, places)});
  }
  std::sort(rows.begin(), rows.end(), [&](const ActivityRow& a, const ActivityRow& b) {
    if (!(a.account == b.account)) return accounts_[a.account.value].name < accounts_[b.account.value].name;
    return a.period < b.period;
  });
  return rows;
}

std::vector<ReportLine> Ledger::balance_report(std::optional<Date> as_of) const {
  std::vector<Decimal> balances = posted_balances(as_of);
  std::map<std::pair<std::string_view, std::string_view>, ReportLine> lines;
  for (const Account& acct : accounts_) {
    const Decimal& amount = balances[acct.id.value];
    if (amount.is_zero()) continue;
    std::string_view name = acct.name;
    int depth = 0;
    for (std::size_t pos = 0;;) {
      const std::size_t end = name.find(':', pos);
      const std::string_view prefix = end == std::string_view::npos ? name : name.substr(0, end);
      ++depth;
      auto [it, inserted] = lines.try_emplace(std::make_pair(prefix, acct.currency.code()),
                                              ReportLine{std::string(prefix), depth, acct.currency, Decimal()});
      it->second.amount += amount;
      if (end == std::string_view::npos) break;
      pos = end + 1;
    }
  }
  std::vector<ReportLine> report;
  report.reserve(lines.size());
  for (auto& [key, line] : lines) report.push_back(std::move(line));
  return report;
}

void Ledger::write_journal(std::ostream& out) const {
  out << "; amends book " << one_line(config_.name) << ", base currency " << config_.base_currency.code() << "\n\n";
  std::string line;
  for (std::size_t e = 0; e < entries_.size(); ++e) {
    const EntryRecord& rec = entries_[e];
    if (rec.status != EntryStatus::posted) continue;  // reservations are not in the books
    line.clear();
    line += rec.date.to_string();
    line += " * ";
    line += one_line(description_of(rec));
    line += "\n    ; amends-entry: ";
    line += std::to_string(e + 1);
    line += '\n';
    if (rec.key_length) {
      line += "    ; idempotency-key: ";
      line += one_line(key_of(rec));
      line += '\n';
    }
    if (rec.metadata_index)
      for (const auto& [key, value] : metadata_[rec.metadata_index - 1]) {
        line += "    ; ";
        line += one_line(key);
        line += ": ";
        line += one_line(value);
        line += '\n';
      }
    for (std::uint32_t i = 0; i < rec.posting_count; ++i) {
      const PostingRecord& p = postings_[rec.first_posting + i];
      const Account& acct = accounts_[p.account.value];
      line += "    ";
      line += acct.name;
      line += "  ";
      append_minor(line, p.amount_minor, acct.currency.minor_units());
      line += ' ';
      line += acct.currency.code();
      line += '\n';
    }
    line += '\n';
    out << line;
  }
}

std::string Ledger::to_journal() const {
  std::ostringstream out;
  write_journal(out);
  return out.str();
}

PostingColumns Ledger::posting_columns() const {
  PostingColumns c;
  const std::size_t rows = postings_.size();
  c.entry_id.reserve(rows);
  c.day.reserve(rows);
  c.account.reserve(rows);
  c.amount_minor.reserve(rows);
  c.status.reserve(rows);
  for (std::size_t e = 0; e < entries_.size(); ++e) {
    const EntryRecord& rec = entries_[e];
    for (std::uint32_t i = 0; i < rec.posting_count; ++i) {
      const PostingRecord& p = postings_[rec.first_posting + i];
      c.entry_id.push_back(static_cast<std::int64_t>(e + 1));
      c.day.push_back(rec.date.days_since_epoch());
      c.account.push_back(static_cast<std::int32_t>(p.account.value));
      c.amount_minor.push_back(p.amount_minor);
      c.status.push_back(static_cast<std::uint8_t>(rec.status));
    }
  }
  c.account_names.reserve(accounts_.size());
  for (const Account& a : accounts_) {
    c.account_names.push_back(a.name);
    c.account_currency.push_back(a.currency);
  }
  return c;
}

}  // namespace amends
