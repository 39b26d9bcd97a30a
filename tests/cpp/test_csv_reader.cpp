// Tests of the streaming CSV reader (amends/detail/csv_reader.hpp): RFC 4180
// quoting, line ends, byte order mark, line numbers and errors, the same from
// a file read in chunks of any size as from text in memory, and the same as
// the reader the CSV loader used before (kept below as a reference).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "amends/detail/csv_reader.hpp"
#include "amends/errors.hpp"

namespace {

using amends::detail::CsvReader;

// ------------------------------------------------------------ helpers

// One record as read: its fields (copied) and the line it starts on.
struct Record {
  std::vector<std::string> fields;
  std::size_t line;
  friend bool operator==(const Record&, const Record&) = default;
};

// Everything a reader yields: the records, then either the end or an error
// (its kind and message).
struct Outcome {
  std::vector<Record> records;
  std::string error;  // "" at a clean end, else "parse_error: <message>"
  std::size_t line_after = 0;
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

std::ostream& operator<<(std::ostream& out, const Outcome& outcome) {
  for (const Record& r : outcome.records) {
    out << "\n  line " << r.line << ":";
    for (const std::string& f : r.fields) {
      out << " [";
      for (const char c : f) {
        if (c == '\n') {
          out << "\\n";
        } else if (c == '\r') {
          out << "\\r";
        } else {
          out << c;
        }
      }
      out << "]";
    }
  }
  if (!outcome.error.empty()) out << "\n  error: " << outcome.error;
  return out << "\n  line() after: " << outcome.line_after;
}

template <typename Reader>
Outcome read_all(Reader& reader) {
  Outcome outcome;
  std::vector<std::string_view> fields;
  try {
    while (reader.next(fields)) {
      Record record{{}, reader.line()};
      for (const std::string_view f : fields) record.fields.emplace_back(f);
      outcome.records.push_back(std::move(record));
    }
  } catch (const amends::parse_error& e) {
    outcome.error = std::string("parse_error: ") + e.what();
  }
  outcome.line_after = reader.line();
  return outcome;
}

Outcome read_text(std::string_view text) {
  CsvReader reader = CsvReader::from_text(text);
  return read_all(reader);
}

// A temporary file, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(std::string_view contents) {
    std::string pattern = (std::filesystem::temp_directory_path() / "amends_csv_reader_XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = pattern;
    std::ofstream out(path_, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Outcome read_file(const std::string& path, std::size_t chunk) {
  CsvReader reader = CsvReader::from_file(path, chunk);
  return read_all(reader);
}

std::vector<std::vector<std::string>> fields_of(const Outcome& outcome) {
  std::vector<std::vector<std::string>> out;
  for (const Record& r : outcome.records) out.push_back(r.fields);
  return out;
}

std::vector<std::size_t> lines_of(const Outcome& outcome) {
  std::vector<std::size_t> out;
  for (const Record& r : outcome.records) out.push_back(r.line);
  return out;
}

using Rows = std::vector<std::vector<std::string>>;
using Sizes = std::vector<std::size_t>;

// The message of the parse_error that reading `text` ends with.
std::string error_of(std::string_view text) { return read_text(text).error; }

// ------------------------------------------------------------ the former reader
//
// The reader of ledger_csv.cpp before streaming (whole text in memory), as the
// reference for the behaviour.
class ReferenceReader {
 public:
  explicit ReferenceReader(std::string_view text) : text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
  }

  bool next(std::vector<std::string_view>& fields) {
    fields.clear();
    while (pos_ < text_.size()) {
      ++line_;
      record_line_ = line_;
      if (text_[pos_] == '\n') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') {
        pos_ += 2;
        continue;
      }
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
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '\n') {
        ++pos_;
        return;
      }
      throw amends::parse_error(
          "unexpected text after a quoted field; a quoted field must end at a comma or line end");
    }
  }

  std::string_view read_quoted(std::size_t field_index) {
    const std::size_t start_line = line_;
    ++pos_;
    const std::size_t start = pos_;
    bool doubled = false;
    while (true) {
      if (pos_ >= text_.size())
        throw amends::parse_error("a quoted field opened on line " + std::to_string(start_line) +
                                  " is never closed");
      const char c = text_[pos_];
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
    const std::string_view raw = text_.substr(start, pos_ - start);
    ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    if (!doubled) return raw;
    if (unescaped_.size() <= field_index) unescaped_.resize(field_index + 1);
    std::string& out = unescaped_[field_index];
    out.clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      out += raw[i];
      if (raw[i] == '"') ++i;
    }
    return out;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 0;
  std::size_t record_line_ = 0;
  std::deque<std::string> unescaped_;
};

Outcome read_reference(std::string_view text) {
  ReferenceReader reader(text);
  return read_all(reader);
}

// A small deterministic generator (SplitMix64).
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

// Random text over the bytes that matter to CSV: mostly malformed in places,
// which exercises the errors as well.
std::string random_bytes(Rng& rng, std::size_t max_length) {
  static constexpr char kAlphabet[] = {'a', 'b', ',', ',', '"', '"', '\n', '\n', '\r', ' ', 'x', 'y'};
  std::string text;
  if (rng.below(8) == 0) text = "\xEF\xBB\xBF";
  const std::size_t n = rng.below(max_length + 1);
  for (std::size_t i = 0; i < n; ++i) text += kAlphabet[rng.below(sizeof kAlphabet)];
  return text;
}

// Random well-formed CSV: fields plain or quoted (with doubled quotes, commas
// and line ends inside), LF or CRLF line ends, empty lines, and sometimes no
// final line end.
std::string random_csv(Rng& rng, std::size_t max_records) {
  std::string text;
  if (rng.below(6) == 0) text = "\xEF\xBB\xBF";
  const std::size_t records = rng.below(max_records + 1);
  for (std::size_t r = 0; r < records; ++r) {
    const bool crlf = rng.below(3) == 0;
    const char* const line_end = crlf ? "\r\n" : "\n";
    if (rng.below(8) == 0) text += line_end;  // an empty line
    const std::size_t fields = 1 + rng.below(7);
    for (std::size_t f = 0; f < fields; ++f) {
      if (f > 0) text += ',';
      const std::size_t length = rng.below(rng.below(4) == 0 ? 90 : 14);
      if (rng.below(4) == 0) {
        text += '"';
        for (std::size_t i = 0; i < length; ++i) {
          const std::size_t kind = rng.below(12);
          if (kind == 0) {
            text += "\"\"";
          } else if (kind == 1) {
            text += ',';
          } else if (kind == 2) {
            text += '\n';
          } else if (kind == 3) {
            text += "\r\n";
          } else {
            text += static_cast<char>('a' + rng.below(26));
          }
        }
        text += '"';
      } else {
        for (std::size_t i = 0; i < length; ++i) {
          const std::size_t kind = rng.below(20);
          // A quote first would make the field quoted.
          text += kind == 0 && i > 0 ? '"' : (kind == 1 ? '\r' : static_cast<char>('0' + rng.below(43)));
        }
      }
    }
    if (r + 1 < records || rng.below(3) != 0) text += line_end;
  }
  return text;
}

// Typical rows of the benchmark workload.
std::string typical_rows(std::size_t count) {
  std::string text = "entry_id,date,account,amount,currency,description\n";
  for (std::size_t i = 0; i < count; ++i) {
    const std::string id = std::to_string(100000 + i / 2);
    const std::string customer = "C" + std::to_string(10000 + i % 997);
    text += id + ",2026-03-12,Assets:Receivables:" + customer + "," + (i % 2 ? "-" : "") +
            std::to_string(i % 100000) + "." + std::to_string(10 + i % 90) + ",USD,Subscription invoice " +
            customer + "\n";
  }
  return text;
}

// ------------------------------------------------------------ RFC 4180 cases

TEST(CsvReader, splits_plain_fields_at_commas_and_records_at_line_ends) {
  const Outcome out = read_text("a,b,c\n1,2,3\n");
  EXPECT_EQ(fields_of(out), (Rows{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(lines_of(out), (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(out.error, "");
}

TEST(CsvReader, empty_fields_are_kept) {
  EXPECT_EQ(fields_of(read_text(",a,,\n,\n")), (Rows{{"", "a", "", ""}, {"", ""}}));
  EXPECT_EQ(fields_of(read_text("a,")), (Rows{{"a", ""}}));
  EXPECT_EQ(fields_of(read_text("\"\",\"\"\n")), (Rows{{"", ""}}));
}

TEST(CsvReader, quoted_fields_hold_commas) {
  EXPECT_EQ(fields_of(read_text("\"Smith, John\",x\n\"a,b,c\"\n")), (Rows{{"Smith, John", "x"}, {"a,b,c"}}));
}

TEST(CsvReader, doubled_quotes_in_several_fields_of_one_record_stay_valid_together) {
  const std::string text = "\"say \"\"hi\"\"\",plain,\"\"\"\",\"a\"\"b\"\"c\",\"x,\"\"y\"\"\"\n\"\"\"\"\"\"\n";
  CsvReader reader = CsvReader::from_text(text);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(reader.next(fields));
  // All views of the record are checked only now that the whole record is read.
  ASSERT_EQ(fields.size(), 5U);
  EXPECT_EQ(fields[0], "say \"hi\"");
  EXPECT_EQ(fields[1], "plain");
  EXPECT_EQ(fields[2], "\"");
  EXPECT_EQ(fields[3], "a\"b\"c");
  EXPECT_EQ(fields[4], "x,\"y\"");
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"\"\""}));
  EXPECT_FALSE(reader.next(fields));
}

TEST(CsvReader, a_quote_inside_an_unquoted_field_is_text) {
  EXPECT_EQ(fields_of(read_text("ab\"c,d\"\n")), (Rows{{"ab\"c", "d\""}}));
}

TEST(CsvReader, a_byte_order_mark_at_the_start_is_dropped) {
  EXPECT_EQ(fields_of(read_text("\xEF\xBB\xBF" "a,b\n")), (Rows{{"a", "b"}}));
  EXPECT_EQ(fields_of(read_text("\xEF\xBB\xBF")), Rows{});
  EXPECT_EQ(fields_of(read_text("\xEF\xBB\xBF\"q\"\n")), (Rows{{"q"}}));
  // Only at the start, and only the whole mark.
  EXPECT_EQ(fields_of(read_text("a\n\xEF\xBB\xBF" "b\n")), (Rows{{"a"}, {"\xEF\xBB\xBF" "b"}}));
  EXPECT_EQ(fields_of(read_text("\xEF\xBB" "a\n")), (Rows{{"\xEF\xBB" "a"}}));
}

TEST(CsvReader, crlf_line_ends_are_not_part_of_the_last_field) {
  const Outcome out = read_text("a,b\r\n\"c\"\r\nd\r\n");
  EXPECT_EQ(fields_of(out), (Rows{{"a", "b"}, {"c"}, {"d"}}));
  EXPECT_EQ(lines_of(out), (std::vector<std::size_t>{1, 2, 3}));
  // A CR at the very end goes too; a CR elsewhere is text.
  EXPECT_EQ(fields_of(read_text("a,b\r")), (Rows{{"a", "b"}}));
  EXPECT_EQ(fields_of(read_text("a\rb,c\r,d\n")), (Rows{{"a\rb", "c\r", "d"}}));
  EXPECT_EQ(fields_of(read_text("\r")), (Rows{{""}}));
  EXPECT_EQ(fields_of(read_text("\"a\r\nb\"\r\n")), (Rows{{"a\r\nb"}}));
}

TEST(CsvReader, empty_lines_are_skipped_but_counted) {
  const Outcome out = read_text("\n\na\n\r\n\nb\n\n");
  EXPECT_EQ(fields_of(out), (Rows{{"a"}, {"b"}}));
  EXPECT_EQ(lines_of(out), (std::vector<std::size_t>{3, 6}));
  EXPECT_EQ(fields_of(read_text("\n\n\r\n")), Rows{});
}

TEST(CsvReader, a_quoted_field_may_span_lines_and_later_records_count_them) {
  const Outcome out = read_text("id,note\n1,\"two\nlines\"\n2,\"three\n\nlines\",x\n3,y\n");
  EXPECT_EQ(fields_of(out), (Rows{{"id", "note"}, {"1", "two\nlines"}, {"2", "three\n\nlines", "x"}, {"3", "y"}}));
  EXPECT_EQ(lines_of(out), (std::vector<std::size_t>{1, 2, 4, 7}));
}

TEST(CsvReader, an_unterminated_quote_is_a_parse_error_naming_the_line_it_opened_on) {
  EXPECT_EQ(error_of("a\nb,\"open\nand on\n"), "parse_error: a quoted field opened on line 2 is never closed");
  EXPECT_EQ(error_of("\"x"), "parse_error: a quoted field opened on line 1 is never closed");
  EXPECT_EQ(error_of("\""), "parse_error: a quoted field opened on line 1 is never closed");
  EXPECT_EQ(error_of("a,\"b\"\"\n"), "parse_error: a quoted field opened on line 1 is never closed");
  // The line counts line ends inside earlier quoted fields.
  EXPECT_EQ(error_of("\"1\n2\"\n\"3\n"), "parse_error: a quoted field opened on line 3 is never closed");
  const Outcome out = read_text("ok\n\"never");
  EXPECT_EQ(fields_of(out), (Rows{{"ok"}}));
  EXPECT_EQ(out.line_after, 2U);
}

TEST(CsvReader, text_after_a_closing_quote_is_a_parse_error) {
  const std::string expected =
      "parse_error: unexpected text after a quoted field; a quoted field must end at a comma or line end";
  EXPECT_EQ(error_of("\"a\"b,c\n"), expected);
  EXPECT_EQ(error_of("x\n\"a\" ,c\n"), expected);
  EXPECT_EQ(error_of("\"a\"\r"), expected);   // a CR not followed by LF
  EXPECT_EQ(error_of("\"a\"\rb\n"), expected);
  const Outcome out = read_text("x\n\n\"a\"b\n");
  EXPECT_EQ(out.line_after, 3U);  // line() names the record in error
}

TEST(CsvReader, empty_input_has_no_records) {
  EXPECT_EQ(read_text(""), Outcome{});
  std::vector<std::string_view> fields = {"stale"};
  CsvReader reader = CsvReader::from_text("");
  EXPECT_FALSE(reader.next(fields));
  EXPECT_TRUE(fields.empty());
  EXPECT_FALSE(reader.next(fields));
}

TEST(CsvReader, from_text_agrees_with_the_former_reader_on_random_bytes) {
  Rng rng{1};
  for (int i = 0; i < 20000; ++i) {
    const std::string text = random_bytes(rng, 40);
    ASSERT_EQ(read_text(text), read_reference(text)) << testing::PrintToString(text);
  }
}

TEST(CsvReader, from_text_agrees_with_the_former_reader_on_random_csv) {
  Rng rng{2};
  for (int i = 0; i < 3000; ++i) {
    const std::string text = random_csv(rng, 12);
    const Outcome out = read_text(text);
    ASSERT_EQ(out.error, "") << testing::PrintToString(text);
    ASSERT_EQ(out, read_reference(text)) << testing::PrintToString(text);
  }
}

// ------------------------------------------------------------ streaming

TEST(CsvReader, from_file_in_chunks_of_any_size_agrees_with_from_text) {
  Rng rng{3};
  for (int i = 0; i < 300; ++i) {
    const std::string text = i % 3 == 0 ? random_bytes(rng, 60) : random_csv(rng, 10);
    const Outcome expected = read_text(text);
    const TempFile file(text);
    for (std::size_t chunk = 1; chunk <= 17; ++chunk) {
      ASSERT_EQ(read_file(file.path(), chunk), expected) << "chunk " << chunk << testing::PrintToString(text);
    }
    for (const std::size_t chunk : Sizes{31, 64, 65, 100, 1000, 1 << 20}) {
      ASSERT_EQ(read_file(file.path(), chunk), expected) << "chunk " << chunk << testing::PrintToString(text);
    }
  }
}

TEST(CsvReader, from_file_reads_many_chunks_of_typical_rows) {
  const std::string text = typical_rows(20000);  // ~1.6 MB
  const Outcome expected = read_text(text);
  ASSERT_EQ(expected.records.size(), 20001U);
  const TempFile file(text);
  for (const std::size_t chunk : Sizes{7, 64, 4096, 65537, 1 << 22}) {
    EXPECT_EQ(read_file(file.path(), chunk), expected) << "chunk " << chunk;
  }
}

TEST(CsvReader, a_record_larger_than_the_chunk_grows_the_buffer) {
  const std::string big(100000, 'x');
  const std::string quoted_big = "\"" + std::string(30000, 'q') + "\"\"," + std::string(30000, '\n') + "\"";
  const std::string text = "a,b\n" + big + "," + big + "\n" + quoted_big + ",z\r\nlast\n";
  const TempFile file(text);
  for (const std::size_t chunk : Sizes{1, 3, 16, 4096}) {
    const Outcome out = read_file(file.path(), chunk);
    ASSERT_EQ(out.records.size(), 4U) << chunk;
    EXPECT_EQ(out.records[1].fields, (std::vector<std::string>{big, big})) << chunk;
    EXPECT_EQ(out.records[2].fields,
              (std::vector<std::string>{std::string(30000, 'q') + "\"," + std::string(30000, '\n'), "z"}))
        << chunk;
    EXPECT_EQ(lines_of(out), (std::vector<std::size_t>{1, 2, 3, 30004})) << chunk;
    EXPECT_EQ(out, read_text(text)) << chunk;
  }
}

TEST(CsvReader, a_file_without_a_final_line_end_gives_its_last_record) {
  for (const std::string& text : std::vector<std::string>{"a,b\nc,d", "a,b\r\nc,d\r", "a\n\"c,d\"", "a\n\"c\"\"\"", "a\nc,"}) {
    const TempFile file(text);
    for (const std::size_t chunk : Sizes{1, 2, 3, 5, 100}) {
      const Outcome out = read_file(file.path(), chunk);
      EXPECT_EQ(out, read_text(text)) << chunk << testing::PrintToString(text);
      EXPECT_EQ(out.records.size(), 2U) << chunk << testing::PrintToString(text);
      EXPECT_EQ(out.error, "");
    }
  }
}

TEST(CsvReader, a_byte_order_mark_is_dropped_whatever_the_chunk_size) {
  for (const std::string& text :
       std::vector<std::string>{"\xEF\xBB\xBF" "a,b\n", "\xEF\xBB\xBF", "\xEF\xBB", "\xEF\xBB\xBF" "\n\"x\"\n"}) {
    const TempFile file(text);
    for (const std::size_t chunk : Sizes{1, 2, 3, 4, 64}) {
      EXPECT_EQ(read_file(file.path(), chunk), read_text(text)) << chunk << testing::PrintToString(text);
    }
  }
}

TEST(CsvReader, an_empty_file_has_no_records) {
  const TempFile file("");
  for (const std::size_t chunk : Sizes{1, 4096}) {
    CsvReader reader = CsvReader::from_file(file.path(), chunk);
    std::vector<std::string_view> fields;
    EXPECT_FALSE(reader.next(fields));
    EXPECT_FALSE(reader.next(fields));
    EXPECT_EQ(reader.line(), 0U);
  }
}

TEST(CsvReader, errors_from_a_file_match_those_from_text) {
  for (const std::string& text :
       std::vector<std::string>{"h\n1,\"open\n\n", "h\n\"a\"x\n", "\"a\"\r", std::string(5000, 'a') + "\n\"x"}) {
    const TempFile file(text);
    for (const std::size_t chunk : Sizes{1, 2, 7, 4096}) {
      const Outcome out = read_file(file.path(), chunk);
      EXPECT_NE(out.error, "") << chunk;
      EXPECT_EQ(out, read_text(text)) << chunk << testing::PrintToString(text);
    }
  }
}

TEST(CsvReader, a_missing_file_is_an_io_error_naming_it_and_the_reason) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "amends_csv_reader_no_such_dir" / "missing.csv").string();
  try {
    (void)CsvReader::from_file(path);
    FAIL() << "did not throw";
  } catch (const amends::io_error& e) {
    EXPECT_EQ(std::string(e.what()), "can't open " + path + ": No such file or directory");
  }
}

TEST(CsvReader, reading_a_directory_is_an_io_error) {
  const std::string path = std::filesystem::temp_directory_path().string();
  EXPECT_THROW(
      {
        CsvReader reader = CsvReader::from_file(path);
        std::vector<std::string_view> fields;
        while (reader.next(fields)) {
        }
      },
      amends::io_error);
}

TEST(CsvReader, a_moved_reader_carries_on_where_the_first_stopped) {
  const TempFile file("a\nb\nc\n");
  CsvReader first = CsvReader::from_file(file.path(), 1);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(first.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"a"}));
  CsvReader second = std::move(first);
  ASSERT_TRUE(second.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"b"}));
  EXPECT_EQ(second.line(), 2U);
  ASSERT_TRUE(second.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"c"}));
  EXPECT_FALSE(second.next(fields));
}

}  // namespace
