// A streaming CSV record reader (RFC 4180: quoted fields, doubled quotes, CRLF
// or LF line ends), reading a file in fixed-size chunks so that memory stays
// bounded whatever the file size, or reading text already in memory.
//
//   auto reader = CsvReader::from_file(path);      // or CsvReader::from_text(text)
//   std::vector<std::string_view> fields;
//   while (reader.next(fields)) use(fields, reader.line());
//
// Rules, the same for both sources:
//   - a UTF-8 byte order mark at the very start is dropped;
//   - empty lines ("\n" or "\r\n" alone) are skipped;
//   - a field is quoted if its first byte is '"'; inside, "" stands for one
//     '"', and commas and line ends are text. A quoted field must end at a
//     comma, a line end or the end of the input, otherwise parse_error
//     ("unexpected text after a quoted field"); an unclosed quote is a
//     parse_error naming the line it opened on;
//   - an unquoted field runs to the next ',' or '\n'; a '\r' right before the
//     '\n' (or the end of the input) is dropped, any other '\r' or '"' is text;
//   - line() is the 1-based line where the current record starts, counting
//     the line ends inside quoted fields.
//
// The views that next() hands out stay valid until the next call to next():
// a record never straddles a refill (an incomplete record is moved to the
// front of the buffer, which grows only if one record is larger than it),
// and the unescaped text of quoted fields with doubled quotes is kept per
// field index in a deque, whose strings never move while it grows.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "amends/errors.hpp"

namespace amends::detail {

class CsvReader {
 public:
  static constexpr std::size_t default_chunk_size = std::size_t{4} << 20;  // 4 MiB

  // Opens `path` for reading in chunks of `chunk_size` bytes (at least 1; the
  // buffer starts at that size). Throws io_error if the file can't be opened;
  // read errors later throw io_error too.
  static CsvReader from_file(const std::string& path, std::size_t chunk_size = default_chunk_size) {
    int fd = -1;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      const int code = errno;
      throw io_error("can't open " + path + ": " + std::strerror(code));
    }
    CsvReader reader;
    reader.fd_ = fd;
    reader.path_ = path;
    reader.chunk_ = std::max<std::size_t>(chunk_size, 1);
    reader.grow(reader.chunk_);
    reader.eof_ = false;
    reader.bom_checked_ = false;
    return reader;
  }

  // Reads `text`, which must outlive the reader; nothing is copied.
  static CsvReader from_text(std::string_view text) {
    CsvReader reader;
    reader.data_ = text.data();
    reader.end_ = text.size();
    reader.eof_ = true;
    reader.bom_checked_ = true;
    if (text.substr(0, 3) == kBom) reader.pos_ = 3;
    return reader;
  }

  CsvReader(CsvReader&& other) noexcept { *this = std::move(other); }
  CsvReader& operator=(CsvReader&& other) noexcept {
    if (this != &other) {
      close_file();
      fd_ = std::exchange(other.fd_, -1);
      path_ = std::move(other.path_);
      buffer_ = std::move(other.buffer_);
      capacity_ = std::exchange(other.capacity_, 0);
      chunk_ = other.chunk_;
      data_ = std::exchange(other.data_, nullptr);
      pos_ = std::exchange(other.pos_, 0);
      end_ = std::exchange(other.end_, 0);
      eof_ = std::exchange(other.eof_, true);
      bom_checked_ = std::exchange(other.bom_checked_, true);
      line_ = std::exchange(other.line_, 0);
      record_line_ = std::exchange(other.record_line_, 0);
      block_ = std::exchange(other.block_, kNoBlock);
      mask_ = std::exchange(other.mask_, 0);
      unescaped_ = std::move(other.unescaped_);
    }
    return *this;
  }
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;
  ~CsvReader() { close_file(); }

  // Reads the next non-empty record into `fields`; false at the end of the
  // input. The views stay valid until the next call.
  bool next(std::vector<std::string_view>& fields) {
    fields.clear();
    if (!bom_checked_) strip_bom();
    while (true) {
      if (pos_ == end_) {
        if (eof_) return false;
        refill();
        continue;
      }
      const std::size_t line_before = line_;
      ++line_;
      record_line_ = line_;
      const char c = data_[pos_];
      if (c == '\n') {
        ++pos_;
        continue;
      }
      if (c == '\r') {
        if (pos_ + 1 == end_ && !eof_) {  // is it "\r\n"? read on to know
          line_ = line_before;
          refill();
          continue;
        }
        if (pos_ + 1 < end_ && data_[pos_ + 1] == '\n') {
          pos_ += 2;
          continue;
        }
      }
      if (read_record(fields)) return true;
      // The record runs past the data read so far: read more, then parse it
      // again from its start.
      fields.clear();
      line_ = line_before;
      refill();
    }
  }

  // The line (1-based) where the current record starts.
  std::size_t line() const { return record_line_; }

 private:
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  static constexpr std::size_t kNoBlock = static_cast<std::size_t>(-1);
  static constexpr std::size_t kBlock = 64;  // bytes per delimiter mask

  CsvReader() = default;

  void close_file() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Parses one record starting at pos_ (not an empty line). True when the
  // record is complete and pos_ is past its line end; false when the data
  // read so far ends inside it (never once eof_).
  bool read_record(std::vector<std::string_view>& fields) {
    const char* const data = data_;
    const std::size_t end = end_;
    std::size_t p = pos_;
    std::size_t field_index = 0;
    while (true) {
      if (p < end && data[p] == '"') {
        if (!read_quoted(p, field_index, fields)) return false;
      } else {
        const std::size_t delimiter = find_delimiter(p);
        std::size_t stop = delimiter;
        if (delimiter == end) {
          if (!eof_) return false;
        }
        if (stop > p && data[stop - 1] == '\r' && (stop == end || data[stop] == '\n')) --stop;
        fields.emplace_back(data + p, stop - p);
        p = delimiter;
      }
      ++field_index;
      if (p >= end) {  // only at the end of the input (read_quoted checked)
        pos_ = p;
        return true;
      }
      if (data[p] == ',') {
        ++p;
        continue;
      }
      if (data[p] == '\n') {
        pos_ = p + 1;
        return true;
      }
      throw parse_error("unexpected text after a quoted field; a quoted field must end at a comma or line end");
    }
  }

  // Reads the quoted field opening at data_[p]; p moves past the closing
  // quote (and the '\r' of a "\r\n" right after it). False if the data read
  // so far ends before it can tell where the field ends.
  bool read_quoted(std::size_t& p, std::size_t field_index, std::vector<std::string_view>& fields) {
    const char* const data = data_;
    const std::size_t end = end_;
    const std::size_t start_line = line_;
    const std::size_t start = p + 1;
    std::size_t q = start;
    bool doubled = false;
    std::size_t closing = 0;
    while (true) {
      const void* found = q < end ? std::memchr(data + q, '"', end - q) : nullptr;
      if (found == nullptr) {
        if (!eof_) return false;
        throw parse_error("a quoted field opened on line " + std::to_string(start_line) + " is never closed");
      }
      const auto r = static_cast<std::size_t>(static_cast<const char*>(found) - data);
      line_ += static_cast<std::size_t>(std::count(data + q, data + r, '\n'));
      if (r + 1 == end && !eof_) return false;  // a doubled quote, or the end of the field?
      if (r + 1 < end && data[r + 1] == '"') {
        doubled = true;
        q = r + 2;
        continue;
      }
      closing = r;
      break;
    }
    std::size_t after = closing + 1;
    if (after < end && data[after] == '\r') {
      if (after + 1 == end && !eof_) return false;
      if (after + 1 < end && data[after + 1] == '\n') ++after;
    }
    const std::string_view raw(data + start, closing - start);
    if (!doubled) {
      fields.push_back(raw);
    } else {
      if (unescaped_.size() <= field_index) unescaped_.resize(field_index + 1);
      std::string& out = unescaped_[field_index];
      out.clear();
      std::size_t i = 0;
      while (i < raw.size()) {  // copy up to and including each quote, skip its twin
        const std::size_t quote = raw.find('"', i);
        if (quote == std::string_view::npos) {
          out.append(raw, i, std::string_view::npos);
          break;
        }
        out.append(raw, i, quote + 1 - i);
        i = quote + 2;
      }
      fields.emplace_back(out);
    }
    p = after;
    return true;
  }

  // The index of the first ',' or '\n' at or after p, or end_ if none. Uses a
  // cached bit mask of the delimiters in a 64-byte block, so the fields of one
  // line cost about one block scan in all.
  std::size_t find_delimiter(std::size_t p) {
    while (true) {
      if (p >= block_ && p - block_ < kBlock) {
        const std::uint64_t pending = mask_ & (~std::uint64_t{0} << (p - block_));
        if (pending != 0) return block_ + static_cast<std::size_t>(__builtin_ctzll(pending));
        p = block_ + kBlock;
      }
      if (p >= end_) return end_;
      block_ = p;
      mask_ = delimiter_mask(data_ + p, end_ - p);
    }
  }

  // Bit i set iff text[i] is ',' or '\n', for i < min(size, 64).
  static std::uint64_t delimiter_mask(const char* text, std::size_t size) {
#if defined(__SSE2__)
    if (size >= kBlock) {
      const __m128i comma = _mm_set1_epi8(',');
      const __m128i newline = _mm_set1_epi8('\n');
      std::uint64_t mask = 0;
      for (unsigned i = 0; i < 4; ++i) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text + 16 * i));
        const __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(bytes, comma), _mm_cmpeq_epi8(bytes, newline));
        mask |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(hits))) << (16 * i);
      }
      return mask;
    }
#endif
    std::uint64_t mask = 0;
    const std::size_t n = std::min(size, kBlock);
    for (std::size_t i = 0; i < n; ++i) {
      if (text[i] == ',' || text[i] == '\n') mask |= std::uint64_t{1} << i;
    }
    return mask;
  }

  // Reads at least the first three bytes (or the whole input if shorter) and
  // drops a byte order mark.
  void strip_bom() {
    bom_checked_ = true;
    while (end_ - pos_ < kBom.size() && !eof_) refill();
    if (std::string_view(data_ + pos_, end_ - pos_).substr(0, kBom.size()) == kBom) pos_ += kBom.size();
  }

  void grow(std::size_t capacity) {
    std::unique_ptr<char[]> bigger(new char[capacity]);  // uninitialised: read() fills it
    if (end_ > pos_) std::memcpy(bigger.get(), data_ + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
    buffer_ = std::move(bigger);
    capacity_ = capacity;
    data_ = buffer_.get();
    block_ = kNoBlock;
  }

  // Moves the unread bytes to the front of the buffer, doubles the buffer if
  // they fill it, then reads until the buffer is full or the file ends (in
  // reads of at most chunk_ bytes). Sets eof_ at the end of the file. Only
  // called for a file that is not at its end.
  void refill() {
    if (pos_ > 0) {
      std::memmove(buffer_.get(), data_ + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (end_ == capacity_) grow(capacity_ * 2);
    block_ = kNoBlock;
    char* const buffer = buffer_.get();
    while (end_ < capacity_) {
      const ssize_t n = ::read(fd_, buffer + end_, std::min(chunk_, capacity_ - end_));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int code = errno;
        throw io_error("can't read " + path_ + ": " + std::strerror(code));
      }
      if (n == 0) {
        eof_ = true;
        close_file();
        break;
      }
      end_ += static_cast<std::size_t>(n);
    }
  }

  int fd_ = -1;
  std::string path_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
  std::size_t chunk_ = default_chunk_size;
  const char* data_ = nullptr;  // the buffer, or the text of from_text
  std::size_t pos_ = 0;         // next unread byte
  std::size_t end_ = 0;         // end of the bytes read so far
  bool eof_ = true;             // nothing more to read beyond end_
  bool bom_checked_ = true;
  std::size_t line_ = 0;
  std::size_t record_line_ = 0;
  std::size_t block_ = kNoBlock;  // start of the block that mask_ describes
  std::uint64_t mask_ = 0;
  // Unescaped text of quoted fields with doubled quotes, by field index: a
  // deque, so growing it for a later field keeps earlier fields' text in place.
  std::deque<std::string> unescaped_;
};

}  // namespace amends::detail
