// Signed checkpoints of an audit trail.
//
// A checkpoint is a book's chain head -- the book, the sequence and hash of
// its last audit event, and when it was taken -- signed with HMAC-SHA256
// under a key that is kept outside the database. Kept somewhere the
// database's superuser can't write, it proves later that no event up to its
// sequence was rewritten: the event at that sequence must still have its
// hash (store::verify_audit checks it), which no recomputation of the chain
// gives back. Signing and checking use OpenSSL's libcrypto.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "amends/requests.hpp"

namespace amends::checkpoint {

// HMAC-SHA256 (RFC 2104) of `data` under `key`. An empty key is an
// invalid_argument: it would sign nothing a reader couldn't forge.
requests::Hash hmac_sha256(std::string_view key, std::string_view data);

struct Checkpoint {
  std::string book;                // the book's name
  std::uint64_t sequence = 0;      // the last event's sequence (>= 1)
  requests::Hash hash{};           // and its hash
  requests::Timestamp at = 0;      // when the checkpoint was taken
};

// The bytes signed: a tag, then every field as "<length>:<value>;"
// (sequence and time in decimal, the hash in lowercase hex).
std::string message(const Checkpoint& checkpoint);

// The signature, in lowercase hex (64 digits).
std::string sign(const Checkpoint& checkpoint, std::string_view key);

// True when `signature` (hex, either case) is the checkpoint's under `key`;
// compared in constant time.
bool verify(const Checkpoint& checkpoint, std::string_view key, std::string_view signature);

// Throws invalid_argument("the checkpoint's signature does not verify ...")
// unless verify() holds.
void check(const Checkpoint& checkpoint, std::string_view key, std::string_view signature);

// 64 hex digits as a hash; anything else is an invalid_argument naming `what`.
requests::Hash parse_hash(std::string_view hex, std::string_view what);

}  // namespace amends::checkpoint
