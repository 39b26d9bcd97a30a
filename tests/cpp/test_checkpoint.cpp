// Signed audit checkpoints: HMAC-SHA256 against RFC 4231, signing and checking.
#include <gtest/gtest.h>

#include "amends/checkpoint.hpp"
#include "amends/errors.hpp"

namespace {

using namespace amends;

TEST(Checkpoint, HmacSha256MatchesRfc4231) {
  // Test case 1: a 20-byte key of 0x0b, "Hi There".
  EXPECT_EQ(requests::to_hex(checkpoint::hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the block.
  EXPECT_EQ(requests::to_hex(checkpoint::hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a 131-byte key, longer than the block, is hashed first.
  EXPECT_EQ(requests::to_hex(checkpoint::hmac_sha256(std::string(131, '\xaa'),
                                                     "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_THROW(checkpoint::hmac_sha256("", "data"), invalid_argument);
}

checkpoint::Checkpoint sample() {
  checkpoint::Checkpoint c;
  c.book = "main";
  c.sequence = 42;
  c.hash = requests::sha256("event 42");
  c.at = 1795435200000000;
  return c;
}

TEST(Checkpoint, SignsItsCanonicalMessage) {
  const checkpoint::Checkpoint c = sample();
  EXPECT_EQ(checkpoint::message(c),
            "amends-checkpoint-v1;4:main;2:42;64:" + requests::to_hex(c.hash) + ";16:1795435200000000;");
  const std::string signature = checkpoint::sign(c, "k");
  EXPECT_EQ(signature, requests::to_hex(checkpoint::hmac_sha256("k", checkpoint::message(c))));
  EXPECT_TRUE(checkpoint::verify(c, "k", signature));
  std::string upper = signature;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_TRUE(checkpoint::verify(c, "k", upper));
  EXPECT_NO_THROW(checkpoint::check(c, "k", signature));
}

TEST(Checkpoint, RefusesAnotherKeyOrAnyChangedField) {
  const checkpoint::Checkpoint c = sample();
  const std::string signature = checkpoint::sign(c, "k");
  EXPECT_FALSE(checkpoint::verify(c, "K", signature));
  auto changed = [&](auto edit) {
    checkpoint::Checkpoint d = sample();
    edit(d);
    return checkpoint::verify(d, "k", signature);
  };
  EXPECT_FALSE(changed([](checkpoint::Checkpoint& d) { d.book = "other"; }));
  EXPECT_FALSE(changed([](checkpoint::Checkpoint& d) { d.sequence = 41; }));
  EXPECT_FALSE(changed([](checkpoint::Checkpoint& d) { d.hash[0] ^= 1; }));
  EXPECT_FALSE(changed([](checkpoint::Checkpoint& d) { d.at += 1; }));
  EXPECT_FALSE(checkpoint::verify(c, "k", "not hex"));
  EXPECT_FALSE(checkpoint::verify(c, "k", signature.substr(2)));
  try {
    checkpoint::check(c, "K", signature);
    FAIL() << "a wrong key is refused";
  } catch (const invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("the checkpoint's signature does not verify"), std::string::npos);
  }
}

TEST(Checkpoint, ParsesHashes) {
  const requests::Hash h = requests::sha256("x");
  EXPECT_EQ(checkpoint::parse_hash(requests::to_hex(h), "hash"), h);
  EXPECT_THROW(checkpoint::parse_hash("abc", "hash"), invalid_argument);
  EXPECT_THROW(checkpoint::parse_hash(std::string(64, 'g'), "hash"), invalid_argument);
}

}  // namespace
