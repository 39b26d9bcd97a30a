// The database transaction a store Participant reads and writes through.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>
#include <pqxx/tablewriter>

namespace amends::store {

// COPY FROM STDIN of pre-formatted text. libpqxx 6 gives raw COPY lines only
// through tablewriter (deprecated there in favour of stream_to, whose raw
// line writer is private); a "line" may hold many rows.
class CopyIn {
 public:
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  CopyIn(pqxx::transaction_base& tx, const std::string& table, const std::vector<std::string>& columns)
      : writer_(tx, table, columns.begin(), columns.end()) {}
#pragma GCC diagnostic pop
  void write(const std::string& rows) { writer_.write_raw_line(rows); }
  void complete() { writer_.complete(); }

 private:
  pqxx::tablewriter writer_;
};


class Session {
 public:
  Session(pqxx::transaction_base& tx, int book_id) : tx_(tx), book_id_(book_id) {}
  pqxx::transaction_base& tx() { return tx_; }
  int book_id() const { return book_id_; }

 private:
  pqxx::transaction_base& tx_;
  int book_id_;
};

}  // namespace amends::store
