#include "oci/digest.h"

#include <gtest/gtest.h>

#include <string>

namespace modelcar::oci {
namespace {

constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(Sha256Of("").hex(), kEmpty);
  EXPECT_EQ(Sha256Of("abc").ToString(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, StreamingEqualsOneShot) {
  std::string data(1 << 20, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Sha256 h;
  for (size_t off = 0; off < data.size(); off += 4097)
    h.Update(std::string_view(data).substr(off, 4097));
  EXPECT_EQ(h.bytes(), data.size());
  EXPECT_EQ(h.Finish(), Sha256Of(data));
  EXPECT_EQ(h.bytes(), 0u);
  EXPECT_EQ(h.Finish().hex(), kEmpty);  // reset after Finish
}

TEST(DigestTest, ParseRoundTrip) {
  auto d = Digest::Parse(std::string("sha256:") + kEmpty);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->hex(), kEmpty);
  EXPECT_EQ(d->ToString(), std::string("sha256:") + kEmpty);
  EXPECT_EQ(d->RelativePath(), std::string("sha256/") + kEmpty);
  EXPECT_EQ(*d, Sha256Of(""));
  EXPECT_FALSE(d->empty());
  EXPECT_TRUE(Digest().empty());
  EXPECT_NE(Digest(), *d);
}

TEST(DigestTest, ParseRejects) {
  auto other = Digest::Parse("sha512:" + std::string(128, 'a'));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kInvalidArgument);
  EXPECT_NE(other.status().message().find("sha512"), std::string::npos);
  EXPECT_NE(other.status().message().find("only sha256"), std::string::npos);
  EXPECT_FALSE(Digest::Parse(std::string("sha256:") + std::string(63, 'a')).ok());
  EXPECT_FALSE(Digest::Parse(std::string("sha256:") + std::string(65, 'a')).ok());
  EXPECT_FALSE(Digest::Parse(std::string("sha256:") + std::string(64, 'A')).ok());
  EXPECT_FALSE(Digest::Parse(std::string("sha256:") + std::string(63, 'a') + "g").ok());
  EXPECT_FALSE(Digest::Parse(kEmpty).ok());
  EXPECT_FALSE(Digest::Parse("").ok());
  EXPECT_FALSE(Digest::Parse(":abc").ok());
}

TEST(DigestTest, Ordering) {
  auto a = *Digest::FromHex(std::string(64, 'a'));
  auto b = *Digest::FromHex(std::string(64, 'b'));
  EXPECT_LT(a, b);
  EXPECT_EQ(std::hash<Digest>()(a), std::hash<Digest>()(*Digest::FromHex(std::string(64, 'a'))));
}

}  // namespace
}  // namespace modelcar::oci
