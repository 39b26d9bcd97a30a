// The C++ benchmark driver of amends (bench/run.py runs it; see bench/README.md).
//
//   amends_bench post FILE.csv [--sums SUMS.tsv] [--no-keys]
//       Parses the workload CSV into EntryDrafts first (untimed; accounts are
//       created up front), then times Ledger::post of every entry, one thread.
//   amends_bench load-balance FILE.csv [--sums SUMS.tsv]
//       Times Ledger::load_csv (open_missing_accounts) + balance_report(),
//       the report formatted as text like `ledger balance` (and dropped).
//   amends_bench load-monthly FILE.csv [--sums SUMS.tsv]
//       Times Ledger::load_csv + activity() (debits/credits per account and
//       month), formatted as text (and dropped).
//
// Each mode prints one JSON object on stdout. With --sums (the TSV of
// gen_workload.py --sums: account, currency, amount) the result is checked
// exactly after the timed part, and any difference fails the run (exit 1).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "amends/detail/csv_reader.hpp"
#include "amends/ledger.hpp"

namespace {

using amends::AccountId;
using amends::Currency;
using amends::Date;
using amends::Decimal;
using amends::EntryDraft;
using amends::Ledger;
using amends::PostingDraft;
using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "amends_bench: %s\n", message.c_str());
  std::exit(1);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // kilobytes on Linux
}

struct AccountSpec {
  std::string name;
  amends::AccountType type;
  Currency currency;
};

// The workload, parsed: accounts in first-use order and one draft per entry.
struct Workload {
  std::vector<AccountSpec> accounts;
  std::vector<EntryDraft> drafts;
  std::size_t postings = 0;
};

Workload parse_workload(const std::string& path, bool with_keys) {
  // The core's own reader (streamed, RFC 4180); parsing is untimed here.
  amends::detail::CsvReader reader = amends::detail::CsvReader::from_file(path);
  std::vector<std::string_view> fields;
  if (!reader.next(fields)) fail(path + " is empty");
  const std::vector<std::string> want = {"entry_id", "date", "account", "amount", "currency", "description"};
  std::vector<std::size_t> col(want.size(), SIZE_MAX);
  for (std::size_t i = 0; i < fields.size(); ++i)
    for (std::size_t c = 0; c < want.size(); ++c)
      if (fields[i] == want[c]) col[c] = i;
  for (std::size_t c = 0; c < 5; ++c)
    if (col[c] == SIZE_MAX) fail(path + ": the header lacks " + want[c]);

  Workload w;
  std::unordered_map<std::string, std::uint32_t> account_ids;
  std::unordered_map<std::string, Date> dates;
  std::string current;
  while (reader.next(fields)) {
    const std::string_view entry_id = fields[col[0]];
    if (w.drafts.empty() || entry_id != current) {
      current.assign(entry_id);
      EntryDraft& draft = w.drafts.emplace_back();
      const std::string date_text(fields[col[1]]);
      auto found = dates.find(date_text);
      if (found == dates.end()) found = dates.emplace(date_text, Date::parse(date_text)).first;
      draft.date = found->second;
      if (col[5] != SIZE_MAX) draft.description.assign(fields[col[5]]);
      if (with_keys) draft.idempotency_key = current;
    }
    const std::string account(fields[col[2]]);
    const Currency currency = Currency::of(fields[col[4]]);
    // An amends account is a name in one currency: one per (name, currency).
    const std::string key = account + '\t' + std::string(currency.code());
    auto found = account_ids.find(key);
    if (found == account_ids.end()) {
      auto type = amends::account_type_from_name(account);
      if (!type) fail(path + " line " + std::to_string(reader.line()) + ": can't tell the type of " + account);
      found = account_ids.emplace(key, static_cast<std::uint32_t>(w.accounts.size())).first;
      w.accounts.push_back(AccountSpec{account, *type, currency});
    }
    w.drafts.back().postings.push_back(PostingDraft{AccountId{found->second}, Decimal::parse(fields[col[3]]), currency});
    ++w.postings;
  }
  return w;
}

// ------------------------------------------------------------------ validation

// Expected balance report from the generator's sums: every non-zero
// (account, currency) adds to each of its name prefixes, which is what
// Ledger::balance_report (and `ledger balance`) shows.
using ReportKey = std::pair<std::string, std::string>;  // name, currency

struct Sums {
  std::map<ReportKey, Decimal> accounts;  // as in the file, zeros included
  std::map<ReportKey, Decimal> report;    // expected report lines
};

Sums read_sums(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("can't open " + path);
  Sums sums;
  std::string row;
  while (std::getline(in, row)) {
    if (row.empty()) continue;
    const std::size_t tab1 = row.find('\t');
    const std::size_t tab2 = row.find('\t', tab1 + 1);
    if (tab1 == std::string::npos || tab2 == std::string::npos) fail(path + ": malformed row " + row);
    std::string account = row.substr(0, tab1);
    std::string currency = row.substr(tab1 + 1, tab2 - tab1 - 1);
    const Decimal amount = Decimal::parse(row.substr(tab2 + 1));
    sums.accounts[{account, currency}] += amount;
    if (amount.is_zero()) continue;
    for (std::size_t end = 0;; ++end) {
      end = account.find(':', end);
      const std::string prefix = end == std::string::npos ? account : account.substr(0, end);
      sums.report[{prefix, currency}] += amount;
      if (end == std::string::npos) break;
    }
  }
  return sums;
}

int check_report(const Ledger& ledger, const std::vector<amends::ReportLine>& report, const Sums& sums) {
  (void)ledger;
  std::map<ReportKey, Decimal> got;
  for (const amends::ReportLine& line : report) {
    auto [it, inserted] = got.emplace(ReportKey{line.name, std::string(line.currency.code())}, line.amount);
    if (!inserted) fail("balance report has two lines for " + line.name + " " + std::string(line.currency.code()));
  }
  int errors = 0;
  for (const auto& [key, amount] : sums.report) {
    auto found = got.find(key);
    if (found == got.end()) {
      if (++errors <= 10)
        std::fprintf(stderr, "MISMATCH: %s %s: expected %s, missing from the report\n", key.first.c_str(),
                     key.second.c_str(), amount.to_string().c_str());
    } else if (!(found->second == amount)) {
      if (++errors <= 10)
        std::fprintf(stderr, "MISMATCH: %s %s: expected %s, amends says %s\n", key.first.c_str(), key.second.c_str(),
                     amount.to_string().c_str(), found->second.to_string().c_str());
    }
  }
  for (const auto& [key, amount] : got)
    if (!sums.report.count(key) && ++errors <= 10)
      std::fprintf(stderr, "MISMATCH: %s %s: amends reports %s, not in the sums\n", key.first.c_str(),
                   key.second.c_str(), amount.to_string().c_str());
  return errors;
}

// Activity: per account the months must add up to the sums, and every
// (month, currency) must balance (debits == credits), since every entry does.
int check_activity(const Ledger& ledger, const std::vector<amends::ActivityRow>& rows, const Sums& sums) {
  std::map<ReportKey, Decimal> per_account;
  std::map<std::pair<std::int32_t, std::string>, Decimal> per_month;
  for (const amends::ActivityRow& row : rows) {
    const amends::Account& acct = ledger.account(row.account);
    const std::string code(acct.currency.code());
    per_account[{acct.name, code}] += row.net();
    per_month[{row.period.index(), code}] += row.net();
  }
  int errors = 0;
  for (const auto& [key, amount] : sums.accounts) {
    auto found = per_account.find(key);
    const Decimal got = found == per_account.end() ? Decimal() : found->second;
    if (!(got == amount) && ++errors <= 10)
      std::fprintf(stderr, "MISMATCH: %s %s: expected %s, monthly activity adds up to %s\n", key.first.c_str(),
                   key.second.c_str(), amount.to_string().c_str(), got.to_string().c_str());
  }
  for (const auto& [key, amount] : per_account)
    if (!sums.accounts.count(key) && ++errors <= 10)
      std::fprintf(stderr, "MISMATCH: activity of %s %s is not in the sums\n", key.first.c_str(), key.second.c_str());
  for (const auto& [key, amount] : per_month)
    if (!amount.is_zero() && ++errors <= 10)
      std::fprintf(stderr, "MISMATCH: month %s %s does not balance: %s\n",
                   amends::Period::from_index(key.first).to_string().c_str(), key.second.c_str(),
                   amount.to_string().c_str());
  return errors;
}

// ------------------------------------------------------------------ output

// The report as text, roughly as `ledger balance` prints it.
std::size_t format_report(const std::vector<amends::ReportLine>& report, std::string& out) {
  out.clear();
  for (const amends::ReportLine& line : report) {
    out += line.amount.to_string(line.currency.minor_units());
    out += ' ';
    out += line.currency.code();
    out.append(static_cast<std::size_t>(2 * line.depth), ' ');
    out += line.name;
    out += '\n';
  }
  return out.size();
}

std::size_t format_activity(const Ledger& ledger, const std::vector<amends::ActivityRow>& rows, std::string& out) {
  out.clear();
  for (const amends::ActivityRow& row : rows) {
    const amends::Account& acct = ledger.account(row.account);
    const int places = acct.currency.minor_units();
    out += row.period.to_string();
    out += ' ';
    out += acct.name;
    out += ' ';
    out += row.debits.to_string(places);
    out += ' ';
    out += row.credits.to_string(places);
    out += ' ';
    out += row.net().to_string(places);
    out += ' ';
    out += acct.currency.code();
    out += '\n';
  }
  return out.size();
}

// ------------------------------------------------------------------ modes

struct Args {
  std::string mode, file, sums;
  bool keys = true;
};

int run_post(const Args& args) {
  const auto parse_start = Clock::now();
  Workload w = parse_workload(args.file, args.keys);
  const double parse_s = seconds_since(parse_start);

  Ledger ledger;
  for (const AccountSpec& spec : w.accounts) ledger.create_account(spec.name, spec.type, spec.currency);

  const auto start = Clock::now();
  for (const EntryDraft& draft : w.drafts) ledger.post(draft);
  const double post_s = seconds_since(start);
  const long rss = peak_rss_kb();

  if (ledger.entry_count() != w.drafts.size() || ledger.posting_count() != w.postings)
    fail("posted " + std::to_string(ledger.entry_count()) + " entries, expected " + std::to_string(w.drafts.size()));
  int errors = 0;
  if (!args.sums.empty()) errors = check_report(ledger, ledger.balance_report(), read_sums(args.sums));
  std::printf(
      "{\"mode\": \"post\", \"keys\": %s, \"entries\": %zu, \"postings\": %zu, \"accounts\": %zu, "
      "\"parse_s\": %.4f, \"seconds\": %.4f, \"entries_per_s\": %.0f, \"postings_per_s\": %.0f, "
      "\"peak_rss_kb\": %ld, \"validated\": %s, \"mismatches\": %d}\n",
      args.keys ? "true" : "false", w.drafts.size(), w.postings, w.accounts.size(), parse_s, post_s,
      static_cast<double>(w.drafts.size()) / post_s, static_cast<double>(w.postings) / post_s, rss,
      args.sums.empty() ? "false" : "true", errors);
  return errors == 0 ? 0 : 1;
}

int run_load(const Args& args, bool monthly) {
  Sums sums;
  if (!args.sums.empty()) sums = read_sums(args.sums);  // before the clock: not part of the work
  const long rss_before = peak_rss_kb();

  const auto start = Clock::now();
  Ledger ledger;
  Ledger::CsvLoadOptions options;
  options.open_missing_accounts = true;
  const Ledger::CsvLoadResult loaded = ledger.load_csv(args.file, options);
  const double load_s = seconds_since(start);
  std::string text;
  std::size_t lines = 0, bytes = 0;
  std::vector<amends::ReportLine> report;
  std::vector<amends::ActivityRow> activity;
  if (monthly) {
    activity = ledger.activity();
    bytes = format_activity(ledger, activity, text);
    lines = activity.size();
  } else {
    report = ledger.balance_report();
    bytes = format_report(report, text);
    lines = report.size();
  }
  const double total_s = seconds_since(start);
  const long rss = peak_rss_kb();

  int errors = 0;
  if (!args.sums.empty()) errors = monthly ? check_activity(ledger, activity, sums) : check_report(ledger, report, sums);
  std::printf(
      "{\"mode\": \"%s\", \"entries\": %zu, \"postings\": %zu, \"accounts\": %zu, \"load_s\": %.4f, "
      "\"report_s\": %.4f, \"seconds\": %.4f, \"lines\": %zu, \"bytes\": %zu, \"peak_rss_kb\": %ld, "
      "\"rss_before_kb\": %ld, \"validated\": %s, \"mismatches\": %d}\n",
      args.mode.c_str(), loaded.entries_posted, loaded.postings, loaded.accounts_opened, load_s, total_s - load_s,
      total_s, lines, bytes, rss, rss_before, args.sums.empty() ? "false" : "true", errors);
  return errors == 0 ? 0 : 1;
}

void usage() {
  std::fprintf(stderr,
               "usage: amends_bench post FILE.csv [--sums SUMS.tsv] [--no-keys]\n"
               "       amends_bench load-balance FILE.csv [--sums SUMS.tsv]\n"
               "       amends_bench load-monthly FILE.csv [--sums SUMS.tsv]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--sums" && i + 1 < argc) args.sums = argv[++i];
    else if (arg == "--no-keys") args.keys = false;
    else if (arg.rfind("--", 0) == 0) usage();
    else rest.push_back(arg);
  }
  if (rest.size() != 2) usage();
  args.mode = rest[0];
  args.file = rest[1];
  try {
    if (args.mode == "post") return run_post(args);
    if (args.mode == "load-balance") return run_load(args, false);
    if (args.mode == "load-monthly") return run_load(args, true);
  } catch (const std::exception& e) {
    fail(std::string(e.what()));
  }
  usage();
}
