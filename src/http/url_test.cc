#include "http/url.h"

#include <gtest/gtest.h>

namespace modelcar::http {
namespace {

TEST(UrlTest, ResolveHostScheme) {
  EXPECT_EQ(ResolveUrl("http://h:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u?_state=x"),
            "http://h:5000/v2/a/blobs/uploads/u?_state=x");
  EXPECT_EQ(UrlHost("https://Registry.example.com/v2/"), "registry.example.com:443");
  EXPECT_EQ(UrlHost("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
  EXPECT_EQ(UrlScheme("HTTPS://x/"), "https");
  EXPECT_EQ(UrlScheme("file:///etc/passwd"), "file");
  EXPECT_EQ(UrlScheme("/relative/path"), "");
}

TEST(UrlTest, LoopbackIsExact) {
  for (const char* h : {"localhost", "LOCALHOST:5000", "127.0.0.1", "127.0.0.1:5000", "127.9.8.7",
                        "[::1]", "[::1]:5000", "::1", "[::ffff:127.0.0.1]:80"}) {
    EXPECT_TRUE(IsLoopbackHost(h)) << h;
  }
  for (const char* h : {"localhost.example.com", "localhost.example.com:5000", "localhostx",
                        "127.0.0.1.nip.io", "127.evil.example", "128.0.0.1", "10.0.0.1:5000",
                        "[::2]", "[::1", "", "registry.example.com"}) {
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
  }
}

TEST(UrlTest, RedactDropsQueryAndUserInfo) {
  EXPECT_EQ(RedactUrl("https://bucket.s3.example/blob?X-Amz-Signature=abc&X-Amz-Credential=k"),
            "https://bucket.s3.example/blob?<redacted>");
  EXPECT_EQ(RedactUrl("https://user:pw@h:5000/v2/x/blobs/uploads/u?_state=s#frag"),
            "https://h:5000/v2/x/blobs/uploads/u?<redacted>");
  EXPECT_EQ(RedactUrl("http://h/v2/"), "http://h/v2/");
  EXPECT_EQ(RedactUrl("http://h/p?"), "http://h/p");
  EXPECT_EQ(RedactUrl("http://u:p@h"), "http://h");
  EXPECT_EQ(RedactUrl("not a url?secret"), "not a url?<redacted>");
}

}  // namespace
}  // namespace modelcar::http
