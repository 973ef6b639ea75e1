#include "base/status.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cerrno>

namespace modelcar {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument(fmt::format("odd: {}", x));
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status();
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status().ok());
  Status s = NotFound("blob sha256:abc");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "not found: blob sha256:abc");
  EXPECT_EQ(s.WithContext("pull").message(), "pull: blob sha256:abc");
  EXPECT_EQ(s.WithContext("pull").code(), Code::kNotFound);
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd: 3");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), Code::kInvalidArgument);
}

TEST(StatusTest, ErrnoMapping) {
  EXPECT_EQ(ErrnoStatus(ENOENT, "open x").code(), Code::kNotFound);
  EXPECT_EQ(ErrnoStatus(ENOSPC, "write x").code(), Code::kResourceExhausted);
  EXPECT_EQ(ExitCode(InvalidArgument("x")), 2);
  EXPECT_EQ(ExitCode(DataLoss("x")), 1);
  EXPECT_EQ(ExitCode(Status()), 0);
}

}  // namespace
}  // namespace modelcar
