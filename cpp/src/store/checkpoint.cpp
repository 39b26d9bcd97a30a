// Signed checkpoints of an audit trail (amends/checkpoint.hpp), with OpenSSL.
#include "amends/checkpoint.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "amends/errors.hpp"

namespace amends::checkpoint {

requests::Hash hmac_sha256(std::string_view key, std::string_view data) {
  if (key.empty()) throw invalid_argument("the audit key is empty: give a key file or AMENDS_AUDIT_KEY with a secret in it");
  requests::Hash out{};
  unsigned int length = 0;
  const unsigned char* done =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out.data(), &length);
  if (done == nullptr || length != out.size()) throw error("OpenSSL could not compute an HMAC-SHA256");
  return out;
}

std::string message(const Checkpoint& c) {
  std::string out = "amends-checkpoint-v1;";
  auto field = [&](std::string_view value) {
    out += std::to_string(value.size());
    out += ':';
    out += value;
    out += ';';
  };
  field(c.book);
  field(std::to_string(c.sequence));
  field(requests::to_hex(c.hash));
  field(std::to_string(c.at));
  return out;
}

std::string sign(const Checkpoint& c, std::string_view key) { return requests::to_hex(hmac_sha256(key, message(c))); }

requests::Hash parse_hash(std::string_view hex, std::string_view what) {
  requests::Hash h{};
  auto digit = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  bool good = hex.size() == 2 * h.size();
  for (std::size_t i = 0; good && i < h.size(); ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) good = false;
    else h[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  if (!good) throw invalid_argument(std::string(what) + " is a SHA-256 in hex: 64 digits 0-9a-f, not '" + std::string(hex) + "'");
  return h;
}

bool verify(const Checkpoint& c, std::string_view key, std::string_view signature) {
  const requests::Hash want = hmac_sha256(key, message(c));
  requests::Hash got{};
  try {
    got = parse_hash(signature, "a checkpoint's signature");
  } catch (const invalid_argument&) {
    return false;
  }
  return CRYPTO_memcmp(want.data(), got.data(), want.size()) == 0;
}

void check(const Checkpoint& c, std::string_view key, std::string_view signature) {
  if (!verify(c, key, signature))
    throw invalid_argument("the checkpoint's signature does not verify: it was signed with another key, or its book, "
                           "sequence, hash or time was changed after signing");
}

}  // namespace amends::checkpoint
