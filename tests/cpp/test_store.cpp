// The PostgreSQL store through its C++ API, against a real server: a private
// cluster started for this test process with `python3 -m amends db start`
// (the embedded default's manager; ci/setup.sh installs amends first) in a
// temporary directory, and stopped at the end.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "amends/errors.hpp"
#include "amends/ledger.hpp"
#include "amends/store.hpp"

namespace {

using amends::AccountType;
using amends::Currency;
using amends::Date;
using amends::Decimal;
using amends::EntryDraft;
using amends::EntryId;
using amends::Ledger;
using amends::PostingDraft;
namespace store = amends::store;

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return {};
  std::string out;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe.get())) out += buffer.data();
  return out;
}

class Store : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/amends-cpp-XXXXXX";
    const char* made = mkdtemp(pattern);
    ASSERT_NE(made, nullptr);
    dir_ = new std::string(made);
    std::string out = run("python3 -m amends db start --data-dir " + *dir_ + "/data 2>&1");
    while (!out.empty() && out.back() == '\n') out.pop_back();
    dsn_ = new std::string(out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1));
    ASSERT_NE(dsn_->find("dbname=amends"), std::string::npos) << "could not start PostgreSQL: " << out;
  }
  static void TearDownTestSuite() {
    if (dir_) {
      run("python3 -m amends db stop --data-dir " + *dir_ + "/data 2>&1");
      std::error_code ignored;
      std::filesystem::remove_all(*dir_, ignored);
    }
    delete dir_;
    delete dsn_;
    dir_ = dsn_ = nullptr;
  }
  static store::BookOptions book(const std::string& name) {
    store::BookOptions options;
    options.name = name;
    return options;
  }
  static EntryDraft draft(Ledger& l, const char* debit, const char* credit, const char* amount, const char* key = "") {
    EntryDraft d;
    d.date = Date::parse("2026-11-02");
    d.postings = {PostingDraft{l.account_id(debit), Decimal::parse(amount), std::nullopt},
                  PostingDraft{l.account_id(credit), -Decimal::parse(amount), std::nullopt}};
    d.idempotency_key = key;
    return d;
  }
  static inline std::string* dir_ = nullptr;
  static inline std::string* dsn_ = nullptr;
};

TEST_F(Store, MigrationsAreOrderedAndTheSchemaVersionIsTheLast) {
  ASSERT_FALSE(store::migrations().empty());
  int previous = 0;
  for (const store::Migration& m : store::migrations()) {
    EXPECT_GT(m.version, previous) << m.name;  // increasing; a number may be skipped (reserved by a migration to come)
    previous = m.version;
  }
  EXPECT_EQ(store::schema_version(), previous);
  store::migrate(*dsn_);
  EXPECT_TRUE(store::migrate(*dsn_).empty());  // once migrated, nothing more to apply
}

TEST_F(Store, AWriteIsDurableAndASecondBookSeesIt) {
  store::Book first(*dsn_, book("cpp-durable"));
  Ledger mirror(first.ledger_config());
  first.attach(mirror);
  first.write("setup", [&] {
    mirror.create_account("Assets:Cash", AccountType::asset, Currency::of("USD"));
    mirror.create_account("Liabilities:Credits", AccountType::liability, Currency::of("USD"));
  });
  first.write("post", [&] { mirror.post(draft(mirror, "Assets:Cash", "Liabilities:Credits", "12.34", "k-1")); });

  store::Book second(*dsn_, book("cpp-durable"));
  Ledger other(second.ledger_config());
  second.attach(other);
  EXPECT_EQ(other.entry_count(), 1U);
  EXPECT_EQ(other.balance(other.account_id("Assets:Cash")).posted, Decimal::parse("12.34"));
  EXPECT_EQ(other.find_by_key("k-1"), std::optional<EntryId>(EntryId{1}));
  EXPECT_EQ(second.version(), first.version());

  // The other session writes; the first catches up on its next sync.
  second.write("post", [&] { other.post(draft(other, "Assets:Cash", "Liabilities:Credits", "0.66")); });
  first.sync();
  EXPECT_EQ(mirror.entry_count(), 2U);
  EXPECT_EQ(mirror.balance(mirror.account_id("Assets:Cash")).posted, Decimal::parse("13.00"));
}

TEST_F(Store, ARefusedWriteWritesNothingAndLeavesTheMirrorAsItWas) {
  store::Book b(*dsn_, book("cpp-refused"));
  Ledger mirror(b.ledger_config());
  b.attach(mirror);
  b.write("setup", [&] {
    mirror.create_account("Assets:Cash", AccountType::asset, Currency::of("USD"));
    mirror.create_account("Liabilities:Credits", AccountType::liability, Currency::of("USD"),
                          amends::AccountOptions{{}, amends::BalanceLimit{Decimal::parse("0"), std::nullopt}});
  });
  const auto version = b.version();

  // A credit liability debited below zero: the core refuses inside the write.
  EXPECT_THROW(b.write("post", [&] { mirror.post(draft(mirror, "Liabilities:Credits", "Assets:Cash", "5.00")); }),
               amends::balance_limit_exceeded);
  // An operation that fails after it changed the mirror is undone too.
  EXPECT_THROW(b.write("post",
                       [&] {
                         mirror.post(draft(mirror, "Assets:Cash", "Liabilities:Credits", "1.00"));
                         throw amends::invalid_argument("the caller changed its mind");
                       }),
               amends::invalid_argument);
  EXPECT_EQ(mirror.entry_count(), 0U);
  EXPECT_EQ(b.version(), version);
  b.reload();
  EXPECT_EQ(mirror.entry_count(), 0U);
  EXPECT_EQ(b.version(), version);
}

TEST_F(Store, ReadPostingsGivesEveryPostingInMinorUnits) {
  store::Book b(*dsn_, book("cpp-read"));
  Ledger mirror(b.ledger_config());
  b.attach(mirror);
  b.write("setup", [&] {
    mirror.create_account("Assets:Cash", AccountType::asset, Currency::of("USD"));
    mirror.create_account("Revenue:Fees", AccountType::revenue, Currency::of("USD"));
  });
  b.write("post", [&] {
    for (int i = 1; i <= 3; ++i)
      mirror.post(draft(mirror, "Assets:Cash", "Revenue:Fees", (std::to_string(i) + ".05").c_str()));
  });

  const amends::PostingColumns c = store::read_postings(*dsn_, "cpp-read");
  ASSERT_EQ(c.entry_id.size(), 6U);
  EXPECT_EQ(c.entry_id, (std::vector<std::int64_t>{1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(c.amount_minor, (std::vector<std::int64_t>{105, -105, 205, -205, 305, -305}));
  EXPECT_EQ(c.account_names, (std::vector<std::string>{"Assets:Cash", "Revenue:Fees"}));
  EXPECT_THROW(store::read_postings(*dsn_, "no-such-book"), amends::store_error);
}

}  // namespace
