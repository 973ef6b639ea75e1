#include "base/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ios>
#include <string>

namespace modelcar {
namespace {

TEST(Utf8Test, Validates) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("mod\xc3\xa8le"));
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong, 3 bytes
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_EQ(FindInvalidUtf8("ab\xc3\xa9x\x80"), 5u);
  EXPECT_EQ(FindInvalidUtf8("ab"), std::string_view::npos);
}

TEST(Utf8Test, ScanReportsLengths) {
  auto scan = [](std::string_view s, size_t* len) {
    return ScanUtf8(reinterpret_cast<const unsigned char*>(s.data()), s.size(), len);
  };
  size_t len = 0;
  EXPECT_EQ(scan("\xe2\x82\xac", &len), Utf8Scan::kValid);
  EXPECT_EQ(len, 3u);
  EXPECT_EQ(scan("\xe2\x82", &len), Utf8Scan::kIncomplete);
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(scan("\xe2\x82z", &len), Utf8Scan::kInvalid);
  EXPECT_EQ(len, 2u);  // the maximal invalid subpart
  EXPECT_EQ(scan("\xc0\x80", &len), Utf8Scan::kInvalid);
  EXPECT_EQ(len, 1u);
}

TEST(Utf8Test, EncodesEachLengthUpToItsBoundary) {
  auto enc = [](char32_t cp) {
    std::string out = "<";  // appends, keeps what is there
    AppendUtf8(cp, &out);
    return out.substr(1);
  };
  EXPECT_EQ(enc(0), std::string(1, '\0'));
  EXPECT_EQ(enc(0x7F), "\x7f");
  EXPECT_EQ(enc(0x80), "\xc2\x80");
  EXPECT_EQ(enc(0x7FF), "\xdf\xbf");
  EXPECT_EQ(enc(0x800), "\xe0\xa0\x80");
  EXPECT_EQ(enc(0xFFFF), "\xef\xbf\xbf");
  EXPECT_EQ(enc(0x10000), "\xf0\x90\x80\x80");
  EXPECT_EQ(enc(0x10FFFF), "\xf4\x8f\xbf\xbf");
  std::string out = "x";
  AppendUtf8(0xE9, &out);
  EXPECT_EQ(out, "x\xc3\xa9");
  // Every character round-trips through the decoder.
  for (char32_t cp = 0; cp <= 0x10FFFF; cp += cp < 0x1000 ? 1 : 97) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s = enc(cp);
    ASSERT_TRUE(IsValidUtf8(s)) << std::hex << static_cast<uint32_t>(cp);
    char32_t back = 0;
    EXPECT_EQ(DecodeUtf8(s, 0, &back), static_cast<int>(s.size()));
    EXPECT_EQ(back, cp);
  }
}

TEST(Utf8Test, EncodesSurrogatesAsThreeBytesAndBeyondUnicodeAsReplacement) {
  std::string out;
  AppendUtf8(0xD800, &out);
  EXPECT_EQ(out, "\xed\xa0\x80");
  EXPECT_FALSE(IsValidUtf8(out));  // the caller's to keep out
  out.clear();
  AppendUtf8(0xDFFF, &out);
  EXPECT_EQ(out, "\xed\xbf\xbf");
  for (char32_t cp : {char32_t{0x110000}, char32_t{0x7FFFFFFF}, char32_t{0xFFFFFFFF}}) {
    out.clear();
    AppendUtf8(cp, &out);
    EXPECT_EQ(out, "\xef\xbf\xbd") << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_EQ(EncodeUtf8(U"a\u00e9\u20ac\U0001F600"), "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  EXPECT_EQ(EncodeUtf8(std::u32string{U'a', 0x110000}), "a\xef\xbf\xbd");
  EXPECT_EQ(EncodeUtf8(U""), "");
  const std::u32string text = U"mod\u00e8le \U0001F600 \u20ac";
  EXPECT_EQ(Utf8ToCodePoints(EncodeUtf8(text)), text);
}

TEST(Utf8Test, DecodesEveryLength) {
  std::string s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // a é € 😀
  std::u32string got;
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    i += static_cast<size_t>(DecodeUtf8(s, i, &cp));
    got.push_back(cp);
  }
  EXPECT_EQ(got, (std::u32string{U'a', 0xE9, 0x20AC, 0x1F600}));
  EXPECT_EQ(Utf8ToCodePoints(s), got);
}

TEST(Utf8Test, ForEachCodePointStopsWhereAsked) {
  std::u32string seen;
  auto keep = [&](char32_t cp) {
    seen.push_back(cp);
    return cp != U'!';
  };
  EXPECT_EQ(ForEachCodePoint("a\xc3\xa9"
                             "b",
                             keep),
            std::string_view::npos);
  EXPECT_EQ(seen, (std::u32string{U'a', 0xE9, U'b'}));
  seen.clear();
  EXPECT_EQ(ForEachCodePoint("\xc3\xa9"
                             "!x",
                             keep),
            2u);  // refused by f
  EXPECT_EQ(seen, (std::u32string{0xE9, U'!'}));
  seen.clear();
  EXPECT_EQ(ForEachCodePoint("ab\xe2\x82", keep), 2u);  // truncated
  EXPECT_EQ(seen, (std::u32string{U'a', U'b'}));
}

TEST(Utf8Test, CodePointsReplaceEachBadByte) {
  EXPECT_EQ(Utf8ToCodePoints("a\xe2\x82z\xff"),
            (std::u32string{U'a', 0xFFFD, 0xFFFD, U'z', 0xFFFD}));
  EXPECT_EQ(Utf8ToCodePoints("\xed\xa0\x80"), (std::u32string{0xFFFD, 0xFFFD, 0xFFFD}));
}

TEST(Utf8Test, CompletePrefixHoldsPartialCharacter) {
  EXPECT_EQ(CompleteUtf8Prefix("ab"), 2u);
  EXPECT_EQ(CompleteUtf8Prefix("a\xF0\x9F"), 1u);
  EXPECT_EQ(CompleteUtf8Prefix("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(CompleteUtf8Prefix("a\xF0\x9F\x98\x80"), 5u);
  EXPECT_EQ(CompleteUtf8Prefix("\xFF"), 1u);      // invalid: ready (becomes U+FFFD)
  EXPECT_EQ(CompleteUtf8Prefix("\xF0\x41"), 2u);  // broken sequence: ready
}

TEST(Utf8Test, LossyReplacesMaximalSubparts) {
  std::string out;
  AppendUtf8Lossy("a\xF0\x9F\x98z\xFF\xC3", &out);
  EXPECT_EQ(out, "a\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD");
  out.clear();
  AppendUtf8Lossy("\xE2\x82\xAC ok", &out);
  EXPECT_EQ(out, "\xE2\x82\xAC ok");
}

}  // namespace
}  // namespace modelcar
