// People's names compared by their key: NFKC with case folding, invisible
// characters removed, whitespace trimmed and collapsed; non-names refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "amends/errors.hpp"
#include "amends/names.hpp"

namespace {

namespace names = amends::names;
using amends::invalid_name;

std::string refusal(const std::string& name) {
  try {
    names::normalise(name);
  } catch (const invalid_name& e) {
    return e.what();
  }
  return "accepted";
}

TEST(Names, CaseSpacesInvisibleAndFullwidthFormsAreOneKey) {
  const std::vector<std::string> spellings = {
      "Lena",         " lena",          "lena\u200b",       "LENA",         "\uff4c\uff45\uff4e\uff41",  // ｌｅｎａ
      "lena\u00a0",   "\u3000lena\t\n", "\ufeffLena",       "le\u200dna",   "l\u2060ena",
      "\u200b lena",  "lena \u200c",    "\u202aLena\u202c", "\uff2c\uff25\uff2e\uff21",  // ＬＥＮＡ
  };
  for (const std::string& s : spellings) EXPECT_EQ(names::normalise(s), "lena") << names::quoted(s);
}

TEST(Names, SharpSAndCaseFoldTogether) {
  EXPECT_TRUE(names::same_person("Stra\u00dfe", "STRASSE"));
  EXPECT_EQ(names::normalise("Stra\u00dfe"), "strasse");
}

TEST(Names, ACombiningSequenceIsItsPrecomposedLetter) {
  EXPECT_EQ(names::normalise("le\u0301na"), "l\u00e9na");
  EXPECT_TRUE(names::same_person("Le\u0301na", "l\u00e9na"));
  EXPECT_TRUE(names::same_person("\u00c9mile", "e\u0301mile"));
}

TEST(Names, InnerWhitespaceCollapsesToOneSpaceButIsNotRemoved) {
  EXPECT_EQ(names::normalise("Ana  Ruiz"), "ana ruiz");
  EXPECT_EQ(names::normalise("Ana\u00a0Ruiz"), "ana ruiz");
  EXPECT_EQ(names::normalise("Ana \u200b Ruiz"), "ana ruiz");
  EXPECT_EQ(names::normalise("Ana\u3000\u2003Ruiz"), "ana ruiz");
  EXPECT_FALSE(names::same_person("Ana Ruiz", "AnaRuiz"));
}

TEST(Names, DifferentNamesStayDifferent) {
  EXPECT_FALSE(names::same_person("lena", "lena2"));
  EXPECT_FALSE(names::same_person("l\u00e9na", "lena"));
  EXPECT_FALSE(names::same_person("lena", "lina"));
  EXPECT_FALSE(names::same_person("omar", "\u043emar"));  // Cyrillic o: another letter, another person
}

TEST(Names, TheKeyIsStable) {
  for (const char* s : {"Lena", "Stra\u00dfe", "Ana  Ruiz", "\uff4c\uff45\uff4e\uff41", "le\u0301na", "\u2163"}) {
    const std::string key = names::normalise(s);
    EXPECT_EQ(names::normalise(key), key) << s;
  }
}

TEST(Names, ControlCharactersAreRefusedEvenInside) {
  EXPECT_EQ(refusal("lena\a"),
            "the name \"lena\\u0007\" holds the control character U+0007; a name is one line of printable text: remove it");
  EXPECT_THROW(names::normalise("le\tna"), invalid_name);
  EXPECT_THROW(names::normalise("lena\nomar"), invalid_name);
  EXPECT_THROW(names::normalise(std::string("le\0na", 5)), invalid_name);
  EXPECT_THROW(names::normalise("lena\x7f"), invalid_name);
  EXPECT_THROW(names::normalise("lena\u0085x"), invalid_name);  // NEL, a C1 control
  EXPECT_THROW(names::normalise("\u009blena"), invalid_name);
}

TEST(Names, BytesThatAreNotUtf8AreRefused) {
  EXPECT_EQ(refusal("lena\xff"),
            "the name \"lena\\xff\" is not valid UTF-8 (a stray byte at position 4): send names as UTF-8 text");
  EXPECT_THROW(names::normalise("\xff"), invalid_name);
  EXPECT_THROW(names::normalise("l\xc3"), invalid_name);          // truncated sequence
  EXPECT_THROW(names::normalise("\xc0\xaf"), invalid_name);       // overlong '/'
  EXPECT_THROW(names::normalise("\xed\xa0\x80lena"), invalid_name);  // an encoded surrogate
}

TEST(Names, EmptyAndBlankNamesAreRefused) {
  EXPECT_EQ(refusal(""), "a name is required, and this one is empty: give the person's name");
  EXPECT_EQ(refusal(" \u200b\u00a0"),
            "the name \" \\u200b\\u00a0\" is empty once spaces and invisible characters are removed: give the person's name");
  EXPECT_THROW(names::normalise("   "), invalid_name);
  EXPECT_THROW(names::normalise("\t\n"), invalid_name);
  EXPECT_THROW(names::normalise("\ufeff"), invalid_name);
  EXPECT_THROW(names::same_person("lena", ""), invalid_name);
}

TEST(Names, InvalidNameIsAnInvalidArgument) {
  EXPECT_THROW(names::normalise(""), amends::invalid_argument);
}

TEST(Names, QuotedShowsInvisibleThingsAndKeepsLetters) {
  EXPECT_EQ(names::quoted("L\u00e9na \"x\"\\"), "\"L\u00e9na \\\"x\\\"\\\\\"");
  EXPECT_EQ(names::quoted("a\u200bb\U000e0001"), "\"a\\u200bb\\U000e0001\"");
}

}  // namespace
