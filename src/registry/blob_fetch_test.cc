// FetchRange, the resume and retry policy of every blob download, against a fake range source (a
// test double: it scripts failures a real registry cannot be made to produce on demand; the
// registry_faults integration tests drive the same code through a real registry and proxy).
#include "registry/blob_fetch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <utility>
#include <vector>

namespace modelcar::registry {
namespace {

// What one attempt of the fake source does: send up to `bytes` bytes from the offset asked for
// (`extra` bytes past the end asked for, if the blob has them), then return `status`.
struct Attempt {
  Attempt(uint64_t b = UINT64_MAX, Status s = Status(), uint64_t e = 0)
      : bytes(b), status(std::move(s)), extra(e) {}
  uint64_t bytes;
  Status status;
  uint64_t extra;
};

class FakeSource {
 public:
  explicit FakeSource(std::string blob) : blob_(std::move(blob)) {}
  void Then(Attempt a) { script_.push_back(std::move(a)); }

  RangeSource source() {
    return [this](uint64_t offset, std::optional<uint64_t> end, const http::BodySink& sink) {
      asked_.push_back({offset, end});
      Attempt a = script_.empty() ? Attempt() : script_.front();
      if (!script_.empty()) script_.pop_front();
      uint64_t from = offset;
      uint64_t to = std::min<uint64_t>(end.value_or(blob_.size()) + a.extra, blob_.size());
      uint64_t n = std::min<uint64_t>(a.bytes, to - from);
      for (uint64_t at = from; at < from + n; at += 1000) {  // in chunks, as a network does
        RETURN_IF_ERROR(
            sink(std::string_view(blob_).substr(at, std::min<uint64_t>(1000, from + n - at))));
      }
      return a.status;
    };
  }
  const std::vector<std::pair<uint64_t, std::optional<uint64_t>>>& asked() const { return asked_; }

 private:
  std::string blob_;
  std::deque<Attempt> script_;
  std::vector<std::pair<uint64_t, std::optional<uint64_t>>> asked_;
};

class FetchRangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    blob_.resize(10000);
    for (size_t i = 0; i < blob_.size(); ++i) blob_[i] = static_cast<char>(i * 7 + i / 251);
    policy_.max_attempts = 3;
    policy_.base_delay = std::chrono::milliseconds(0);
    policy_.max_delay = std::chrono::milliseconds(0);
  }
  Status Fetch(FakeSource& src, uint64_t start, uint64_t end) {
    got_.clear();
    return FetchRange(src.source(), policy_, "blob x", blob_.size(), start, end,
                      [this, start](std::string_view chunk, uint64_t offset) {
                        EXPECT_EQ(offset, start + got_.size()) << "bytes out of order";
                        got_.append(chunk);
                        return Status();
                      });
  }
  std::string blob_, got_;
  RetryPolicy policy_;
};

TEST_F(FetchRangeTest, ResumesAfterEachFailureFromTheFirstMissingByte) {
  FakeSource src(blob_);
  src.Then({2500, Unavailable("reset")});
  src.Then({0, Unavailable("refused")});
  src.Then({3000, Status()});  // a body that ends short is a failure too
  ASSERT_TRUE(Fetch(src, 0, blob_.size()).ok());
  EXPECT_EQ(got_, blob_);
  ASSERT_EQ(src.asked().size(), 4u);
  EXPECT_EQ(src.asked()[1].first, 2500u);
  EXPECT_EQ(src.asked()[2].first, 2500u);
  EXPECT_EQ(src.asked()[3].first, 5500u);
  EXPECT_FALSE(src.asked()[3].second.has_value()) << "to the end: no end offset";
}

TEST_F(FetchRangeTest, ProgressResetsTheFailureCount) {
  FakeSource src(blob_);
  // Each series is two failures without progress and one with: with 4 attempts allowed it never
  // gives up, while 12 failures in all would exceed the budget if progress did not reset it.
  policy_.max_attempts = 4;
  for (int round = 0; round < 4; ++round) {
    src.Then({0, Unavailable("stall")});
    src.Then({0, Unavailable("stall")});
    src.Then({1000, Unavailable("reset")});
  }
  ASSERT_TRUE(Fetch(src, 0, blob_.size()).ok());
  EXPECT_EQ(got_, blob_);
}

TEST_F(FetchRangeTest, GivesUpAfterMaxAttemptsWithoutProgress) {
  FakeSource src(blob_);
  src.Then({100, Unavailable("reset")});  // progress: the first failure of a series
  for (int i = 0; i < 3; ++i) src.Then({0, Unavailable("down")});
  Status s = Fetch(src, 0, blob_.size());
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("gave up after 3 attempts without progress"), std::string::npos)
      << s.ToString();
  EXPECT_EQ(got_, blob_.substr(0, 100));
  EXPECT_EQ(src.asked().size(), 3u);
}

TEST_F(FetchRangeTest, OtherErrorsAreNotRetried) {
  FakeSource src(blob_);
  src.Then({100, NotFound("blob unknown")});
  Status s = Fetch(src, 0, blob_.size());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(src.asked().size(), 1u);
}

TEST_F(FetchRangeTest, AnInnerRangeAsksForItsEndAndRefusesExtraBytes) {
  FakeSource src(blob_);
  // The last chunk crosses the end asked for: none of it is kept, and the rest is asked again.
  src.Then({UINT64_MAX, Status(), /*extra=*/500});
  ASSERT_TRUE(Fetch(src, 2500, 6000).ok());
  EXPECT_EQ(got_, blob_.substr(2500, 3500));
  using Asked = std::pair<uint64_t, std::optional<uint64_t>>;
  ASSERT_EQ(src.asked().size(), 2u);
  EXPECT_EQ(src.asked()[0], (Asked{2500, 6000}));
  EXPECT_EQ(src.asked()[1], (Asked{5500, 6000}));
}

TEST_F(FetchRangeTest, WriterErrorsStopAtOnce) {
  FakeSource src(blob_);
  int calls = 0;
  Status s = FetchRange(src.source(), policy_, "blob x", blob_.size(), 0, blob_.size(),
                        [&](std::string_view, uint64_t) {
                          return ++calls == 3 ? ResourceExhausted("disk full") : Status();
                        });
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_EQ(src.asked().size(), 1u);
}

}  // namespace
}  // namespace modelcar::registry
