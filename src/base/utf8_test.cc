#include "base/utf8.h"

#include <gtest/gtest.h>

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
