#include "base/resident.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace modelcar {
namespace {

// Populate never changes what a block holds: pages already written keep their bytes (advice that
// discards pages, such as MADV_DONTNEED, would zero them), whatever the alignment of the range.
TEST(ResidentTest, PopulateKeepsContents) {
  std::vector<uint32_t> v(3 << 20);  // 12 MB: huge-page-sized middle and 4 KB edges
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint32_t>(i * 2654435761u);
  Populate(v.data(), v.size() * sizeof(uint32_t));
  Populate(reinterpret_cast<char*>(v.data()) + 4097, 5 << 20);  // unaligned both ends
  Populate(v.data() + 7, 100);                                  // under a page: nothing
  Populate(v.data(), 0);
  for (size_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(v[i], static_cast<uint32_t>(i * 2654435761u)) << i;
  }
}

TEST(ResidentTest, ReserveResidentKeepsElementsAndReserves) {
  std::vector<int64_t> v = {1, 2, 3};
  ReserveResident(v, 1 << 20);
  EXPECT_GE(v.capacity(), size_t{1} << 20);
  EXPECT_EQ(v, (std::vector<int64_t>{1, 2, 3}));
  const int64_t* data = v.data();
  for (int64_t i = 0; i < (1 << 20) - 3; ++i) v.push_back(i);  // no reallocation
  EXPECT_EQ(v.data(), data);

  std::vector<int> a = {7, 8};
  AssignResident(a, 5000, 3);
  EXPECT_EQ(a, std::vector<int>(5000, 3));

  std::string s = "head";
  ReserveResident(s, 8 << 20);
  EXPECT_GE(s.capacity(), size_t{8} << 20);
  EXPECT_EQ(s, "head");
  s.append(size_t{8} << 19, 'x');
  EXPECT_EQ(s.size(), 4 + (size_t{8} << 19));
  EXPECT_EQ(s.substr(0, 5), "headx");
}

// Large blocks start on a 2 MB boundary (where their huge pages begin); small ones come from
// operator new; both hold what the vector writes, and growth copies it.
TEST(ResidentTest, ResidentAllocatorAlignsLargeBlocks) {
  using Vec = std::vector<uint32_t, ResidentAllocator<uint32_t>>;
  Vec big((kHugeAlignMin / sizeof(uint32_t)) * 3 + 5, 0);  // 3 MB and a little more
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % (uintptr_t{2} << 20), 0u);
  for (size_t i = 0; i < big.size(); ++i) ASSERT_EQ(big[i], 0u) << i;
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint32_t>(i * 2654435761u);
  Vec small(100, 7);
  EXPECT_EQ(small, Vec(100, 7));
  small.resize(kHugeAlignMin / sizeof(uint32_t), 9);  // grows from operator new to aligned
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % (uintptr_t{2} << 20), 0u);
  EXPECT_EQ(small[99], 7u);
  EXPECT_EQ(small.back(), 9u);
  Vec copy = big;
  for (size_t i = 0; i < copy.size(); ++i) {
    ASSERT_EQ(copy[i], static_cast<uint32_t>(i * 2654435761u)) << i;
  }
}

}  // namespace
}  // namespace modelcar
