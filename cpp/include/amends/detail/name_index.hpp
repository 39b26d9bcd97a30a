// A string -> uint32 map for the ledger's hot paths (account names, idempotency
// keys): open addressing with linear probing over one contiguous text arena, so
// a million keys cost two allocations rather than a million.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "amends/errors.hpp"

namespace amends::detail {

inline std::uint64_t hash_text(std::string_view text) {
  // FNV-1a over 8-byte words, then a murmur-style finaliser; good enough for
  // identifiers and stable across runs (no per-process seed is needed here).
  std::uint64_t h = 0xcbf29ce484222325ULL ^ text.size();
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word = 0;
    for (std::size_t b = 0; b < 8; ++b) word |= static_cast<std::uint64_t>(static_cast<unsigned char>(text[i + b])) << (8 * b);
    h = (h ^ word) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < text.size(); ++i) h = (h ^ static_cast<unsigned char>(text[i])) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb3fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

class NameIndex {
 public:
  static constexpr std::uint32_t npos = 0xffffffffU;

  std::uint32_t find(std::string_view key) const { return find_hashed(key, hash_text(key)); }

  std::uint32_t find_hashed(std::string_view key, std::uint64_t hash) const {
    if (slots_.empty()) return npos;
    std::size_t mask = slots_.size() - 1;
    for (std::size_t pos = hash & mask;; pos = (pos + 1) & mask) {
      const Slot& slot = slots_[pos];
      if (slot.value == npos) return npos;
      if (slot.hash == hash && text(slot) == key) return slot.value;
    }
  }

  // Inserts a key that is not present (the caller checked with find).
  void insert(std::string_view key, std::uint32_t value) { insert_hashed(key, hash_text(key), value); }

  void insert_hashed(std::string_view key, std::uint64_t hash, std::uint32_t value) {
    AMENDS_ASSERT(value != npos);
    if ((count_ + 1) * 4 > slots_.size() * 3) grow();
    Slot slot{hash, arena_.size(), static_cast<std::uint32_t>(key.size()), value};
    arena_.append(key);
    place(slot);
    ++count_;
  }

  // Removes the most recently inserted key (used to roll back a batch); the
  // arena is trimmed back as well, so removals must come in reverse order.
  void erase_last(std::string_view key) {
    std::uint64_t hash = hash_text(key);
    std::size_t mask = slots_.size() - 1;
    std::size_t pos = hash & mask;
    for (;; pos = (pos + 1) & mask) {
      AMENDS_ASSERT(slots_[pos].value != npos);
      if (slots_[pos].hash == hash && text(slots_[pos]) == key) break;
    }
    std::size_t offset = slots_[pos].offset;
    // Backward-shift deletion keeps every probe chain intact without tombstones.
    std::size_t hole = pos;
    for (std::size_t next = (hole + 1) & mask; slots_[next].value != npos; next = (next + 1) & mask) {
      std::size_t home = slots_[next].hash & mask;
      bool movable = (hole <= next) ? (home <= hole || home > next) : (home <= hole && home > next);
      if (movable) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    slots_[hole] = Slot{};
    --count_;
    AMENDS_ASSERT(offset + key.size() == arena_.size());
    arena_.resize(offset);
  }

  std::size_t size() const { return count_; }
  void reserve(std::size_t keys) {
    while (keys * 4 > slots_.size() * 3) grow();
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::size_t offset = 0;
    std::uint32_t length = 0;
    std::uint32_t value = npos;
  };

  std::string_view text(const Slot& slot) const { return std::string_view(arena_).substr(slot.offset, slot.length); }

  void place(const Slot& slot) {
    std::size_t mask = slots_.size() - 1;
    std::size_t pos = slot.hash & mask;
    while (slots_[pos].value != npos) pos = (pos + 1) & mask;
    slots_[pos] = slot;
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    for (const Slot& slot : old)
      if (slot.value != npos) place(slot);
  }

  std::vector<Slot> slots_;
  std::string arena_;
  std::size_t count_ = 0;
};

}  // namespace amends::detail
