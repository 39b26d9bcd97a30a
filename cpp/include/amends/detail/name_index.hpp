// A string -> uint32 map for the ledger's hot paths (account names, idempotency
// keys): open addressing with linear probing over one contiguous text arena, so
// a million keys cost two allocations rather than a million.
#pragma once

#include <cstdint>
#include <cstring>
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
    std::memcpy(&word, text.data() + i, sizeof word);
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

namespace amends::detail {

// A text -> uint32 index whose key text lives elsewhere (the ledger keeps
// idempotency keys in its own text arena): a slot is 8 bytes, a hash tag and
// the value, and `key_of(value)` recovers a key to compare or rehash.
class KeyIndex {
 public:
  static constexpr std::uint32_t npos = 0xffffffffU;

  template <typename KeyOf>
  std::uint32_t find(std::string_view key, std::uint64_t hash, const KeyOf& key_of) const {
    if (slots_.empty()) return npos;
    const std::size_t mask = slots_.size() - 1;
    const auto tag = static_cast<std::uint32_t>(hash >> 32);
    for (std::size_t pos = hash & mask;; pos = (pos + 1) & mask) {
      const Slot& slot = slots_[pos];
      if (slot.value == npos) return npos;
      if (slot.tag == tag && key_of(slot.value) == key) return slot.value;
    }
  }

  // Inserts a key that is not present (the caller checked with find).
  template <typename KeyOf>
  void insert(std::uint64_t hash, std::uint32_t value, const KeyOf& key_of) {
    AMENDS_ASSERT(value != npos);
    if ((count_ + 1) * 4 > slots_.size() * 3) rehash(slots_.empty() ? 64 : slots_.size() * 2, key_of);
    place(hash, value);
    ++count_;
  }

  template <typename KeyOf>
  void erase(std::string_view key, const KeyOf& key_of) {
    const std::uint64_t hash = hash_text(key);
    const std::size_t mask = slots_.size() - 1;
    std::size_t pos = hash & mask;
    for (;; pos = (pos + 1) & mask) {
      AMENDS_ASSERT(slots_[pos].value != npos);
      if (slots_[pos].tag == static_cast<std::uint32_t>(hash >> 32) && key_of(slots_[pos].value) == key) break;
    }
    // Backward-shift deletion keeps every probe chain intact without tombstones.
    std::size_t hole = pos;
    for (std::size_t next = (hole + 1) & mask; slots_[next].value != npos; next = (next + 1) & mask) {
      const std::size_t home = hash_text(key_of(slots_[next].value)) & mask;
      const bool movable = (hole <= next) ? (home <= hole || home > next) : (home <= hole && home > next);
      if (movable) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    slots_[hole] = Slot{};
    --count_;
  }

  template <typename KeyOf>
  void reserve(std::size_t keys, const KeyOf& key_of) {
    std::size_t size = slots_.empty() ? 64 : slots_.size();
    while (keys * 4 > size * 3) size *= 2;
    if (size != slots_.size()) rehash(size, key_of);
  }

  std::size_t size() const { return count_; }

  // Starts loading the slot a key with this hash probes first, so a lookup
  // issued a little later finds it in cache (bulk loads know the next key
  // several rows before they post its entry).
  void prefetch(std::uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
  }

 private:
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t value = npos;
  };

  void place(std::uint64_t hash, std::uint32_t value) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t pos = hash & mask;
    while (slots_[pos].value != npos) pos = (pos + 1) & mask;
    slots_[pos] = Slot{static_cast<std::uint32_t>(hash >> 32), value};
  }

  template <typename KeyOf>
  void rehash(std::size_t size, const KeyOf& key_of) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(size, Slot{});
    for (const Slot& slot : old)
      if (slot.value != npos) place(hash_text(key_of(slot.value)), slot.value);
  }

  std::vector<Slot> slots_;
  std::size_t count_ = 0;
};

}  // namespace amends::detail
