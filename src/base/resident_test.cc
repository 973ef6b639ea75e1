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

}  // namespace
}  // namespace modelcar
