// What a person's name is, for comparing people: requesters, approvers, role
// members, delegates. Two names are the same person when their keys from
// normalise() are equal; nowhere else compares names.
//
// The key of a name is, in this order:
//   1. The name must be valid UTF-8 (no stray bytes, no encoded surrogates).
//   2. Surrounding Unicode White_Space is trimmed (spaces, U+00A0 NO-BREAK
//      SPACE, U+3000 IDEOGRAPHIC SPACE, tabs and newlines at either end).
//   3. What is left must hold no control character (general category Cc:
//      U+0000..U+001F, U+007F..U+009F): a tab or newline inside a name is
//      refused, not turned into a space.
//   4. Unicode NFKC with case folding (NFKC_Casefold, ICU's
//      Normalizer2::getNFKCCasefoldInstance): "LENA", fullwidth "ｌｅｎａ"
//      and "lena" are one key; "Straße" and "STRASSE" are one key ("strasse");
//      e + U+0301 COMBINING ACUTE and U+00E9 are one key; default-ignorable
//      code points (U+200B ZERO WIDTH SPACE, U+200C/D, U+2060, U+FEFF, bidi
//      controls, ...) are removed.
//   5. Trimmed again (step 4 can uncover or produce edge whitespace), and
//      every inner run of White_Space becomes one U+0020 SPACE: "Ana  Ruiz",
//      "Ana\u00a0Ruiz" and "Ana Ruiz" are one person. Spaces are never
//      removed altogether: "Ana Ruiz" and "AnaRuiz" stay two people.
//   6. The key must not be empty.
// A name failing 1, 3 or 6 is refused with invalid_name, whose message says
// what to fix and quotes the name escaped ("lena\u0007", "lena\xff").
//
// The key is for comparing only; show people the name as they typed it.
// normalise() is idempotent: normalise(normalise(x)) == normalise(x).
// Accents and letters stay distinct: "léna" and "lena" are two people.
#pragma once

#include <string>
#include <string_view>

namespace amends::names {

// The comparison key of `name` (UTF-8 in, UTF-8 out). Throws invalid_name.
std::string normalise(std::string_view name);

// Whether `a` and `b` name the same person: normalise(a) == normalise(b).
// Throws invalid_name when either is not a name.
bool same_person(std::string_view a, std::string_view b);

// `name` quoted for a message: printable characters as they are, a quote or
// backslash escaped, invisible or control characters as \uXXXX (or
// \UXXXXXXXX), and bytes that are not UTF-8 as \xNN.
std::string quoted(std::string_view name);

}  // namespace amends::names
