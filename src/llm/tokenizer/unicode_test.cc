#include "llm/tokenizer/unicode.h"

#include <gtest/gtest.h>

namespace modelcar::llm {
namespace {

TEST(UnicodeTest, Classes) {
  EXPECT_EQ(ClassOf(U'a'), CharClass::kLetter);
  EXPECT_EQ(ClassOf(U'Z'), CharClass::kLetter);
  EXPECT_EQ(ClassOf(U'é'), CharClass::kLetter);
  EXPECT_EQ(ClassOf(U'中'), CharClass::kLetter);
  EXPECT_EQ(ClassOf(U'ب'), CharClass::kLetter);
  EXPECT_EQ(ClassOf(U'7'), CharClass::kNumber);
  EXPECT_EQ(ClassOf(U'٣'), CharClass::kNumber);  // Arabic-Indic digit (Nd)
  EXPECT_EQ(ClassOf(U'Ⅻ'), CharClass::kNumber);  // Nl
  EXPECT_EQ(ClassOf(U'½'), CharClass::kNumber);  // No
  EXPECT_EQ(ClassOf(U'\n'), CharClass::kCrLf);
  EXPECT_EQ(ClassOf(U'\r'), CharClass::kCrLf);
  EXPECT_EQ(ClassOf(U'\t'), CharClass::kSpace);
  EXPECT_EQ(ClassOf(U' '), CharClass::kSpace);
  EXPECT_EQ(ClassOf(0x85), CharClass::kSpace);
  EXPECT_EQ(ClassOf(0xA0), CharClass::kSpace);
  EXPECT_EQ(ClassOf(0x3000), CharClass::kSpace);
  EXPECT_EQ(ClassOf(0x2028), CharClass::kSpace);
  EXPECT_EQ(ClassOf(0xFEFF), CharClass::kOther);  // not White_Space
  EXPECT_EQ(ClassOf(U'!'), CharClass::kOther);
  EXPECT_EQ(ClassOf(0x301), CharClass::kOther);  // combining acute (Mn)
  EXPECT_EQ(ClassOf(U'😀'), CharClass::kOther);
}

TEST(UnicodeTest, NfcComposes) {
  auto r = Nfc("e\xCC\x81");  // e + U+0301
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "\xC3\xA9");  // é
  EXPECT_EQ(*Nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(*Nfc("\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");  // Hangul jamo -> 가
}

TEST(UnicodeTest, NfcQuickCheckIsConservative) {
  EXPECT_TRUE(IsNfcQuick("plain"));
  EXPECT_TRUE(IsNfcQuick("caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80"));  // café 你好 😀
  EXPECT_FALSE(IsNfcQuick("e\xCC\x81"));                 // combining mark
  EXPECT_FALSE(IsNfcQuick("\xE2\x84\xAA"));              // Kelvin sign: NFC maps it to K
  EXPECT_FALSE(IsNfcQuick("\xE1\x84\x80"));              // Hangul jamo
  EXPECT_FALSE(IsNfcQuick("\xE3\x81\x8B\xE3\x82\x99"));  // か + voiced mark
  EXPECT_FALSE(IsNfcQuick("ok \xC3"));                   // invalid UTF-8
  // Whenever the quick check says yes, NFC leaves the text unchanged.
  for (std::string s : {"\xC3\x85ngstr\xC3\xB6m", "\xD0\x99\xD0\xB0", "\xEA\xB0\x80\xEA\xB0\x81",
                        "\xEF\xBC\xA1\xEF\xBC\x91"}) {
    EXPECT_TRUE(IsNfcQuick(s)) << s;
    EXPECT_EQ(*Nfc(s), s);
  }
}

TEST(UnicodeTest, NfcRejectsInvalidUtf8) {
  auto r = Nfc("ok \xC3");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("UTF-8"), std::string::npos);
  EXPECT_FALSE(ValidateUtf8("\xED\xA0\x80").ok());      // surrogate
  EXPECT_FALSE(ValidateUtf8("\xC0\xAF").ok());          // overlong
  EXPECT_FALSE(ValidateUtf8("\xF4\x90\x80\x80").ok());  // > U+10FFFF
  EXPECT_TRUE(ValidateUtf8("\xF0\x9F\x98\x80").ok());
}

}  // namespace
}  // namespace modelcar::llm
