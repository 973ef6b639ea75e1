#include "base/direct_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "base/temp_dir.h"

namespace modelcar {
namespace {

// Writes pieces of every kind (tiny, unaligned, big aligned, big at an unaligned offset) and
// checks the file holds exactly the concatenation, wherever `dir` is (disk or tmpfs).
void CheckRoundTrip(const std::string& dir) {
  TempDir tmp = TempDir::In(dir, "modelcar-dio");
  std::string path = tmp.path() + "/f";
  auto fd = OpenFile(path, O_WRONLY | O_CREAT | O_EXCL);
  ASSERT_TRUE(fd.ok());
  AlignedBuffer big(4 << 20);
  std::mt19937 rng(7);
  for (size_t i = 0; i < big.size(); ++i) big.data()[i] = static_cast<char>(rng());
  std::string expected;
  Appender out(fd->get(), path, 1 << 20);
  auto put = [&](std::string_view piece) {
    ASSERT_TRUE(out.Append(piece).ok());
    expected.append(piece);
  };
  put(std::string(512, 'h'));                            // a tar header: buffered
  put(std::string_view(big.data(), 2 << 20));            // aligned: direct where supported
  put(std::string_view(big.data() + 1, (1 << 20) + 3));  // unaligned address and length
  put(std::string_view(big.data(), 2 << 20));            // offset now unaligned: buffered
  put("tail");
  EXPECT_EQ(out.size(), expected.size());
  ASSERT_EQ(fsync(fd->get()), 0);
  EXPECT_EQ(*ReadFile(path), expected);
}

TEST(DirectIoTest, SameBytesOnDisk) { CheckRoundTrip("/var/tmp"); }
TEST(DirectIoTest, SameBytesOnTmpfs) { CheckRoundTrip("/dev/shm"); }

TEST(DirectIoTest, AlignedBigPiecesGoDirectOnExt4) {
  std::string path = fmt::format("/var/tmp/modelcar-dio-probe-{}", getpid());
  auto fd = OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC);
  ASSERT_TRUE(fd.ok());
  AlignedBuffer buf(2 << 20);
  Appender out(fd->get(), path, 1 << 20);
  ASSERT_TRUE(out.Append(std::string_view(buf.data(), buf.size())).ok());
  ASSERT_TRUE(out.Append(std::string_view(buf.data(), 100)).ok());
  unlink(path.c_str());
  // /var/tmp is ext4 on the machines this project runs its tests on; elsewhere, skip.
  if (out.direct_bytes() == 0) GTEST_SKIP() << "/var/tmp has no direct I/O";
  EXPECT_EQ(out.direct_bytes(), buf.size());
  EXPECT_EQ(out.size(), buf.size() + 100);
}

}  // namespace
}  // namespace modelcar
