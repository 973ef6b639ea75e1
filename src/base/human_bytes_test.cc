#include "base/human_bytes.h"

#include <gtest/gtest.h>

namespace modelcar {
namespace {

TEST(HumanBytesTest, IecAndSiSteps) {
  EXPECT_EQ(HumanBytes(0, ByteUnits::kIec), "0 B");
  EXPECT_EQ(HumanBytes(1023, ByteUnits::kIec), "1023 B");
  EXPECT_EQ(HumanBytes(1536, ByteUnits::kIec), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3.0 * (1 << 30), ByteUnits::kIec), "3.0 GiB");
  EXPECT_EQ(HumanBytes(5.0 * (uint64_t{1} << 50), ByteUnits::kIec), "5120.0 TiB");
  EXPECT_EQ(HumanBytes(999, ByteUnits::kSi), "999 B");
  EXPECT_EQ(HumanBytes(1500, ByteUnits::kSi), "1.5 KB");
  EXPECT_EQ(HumanBytes(2.5e9, ByteUnits::kSi), "2.5 GB");
}

}  // namespace
}  // namespace modelcar
