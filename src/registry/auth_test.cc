#include "registry/auth.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "base/base64.h"
#include "registry/auth_file.h"
#include "registry/retry.h"

namespace modelcar::registry {
namespace {

TEST(ChallengeTest, ParsesBearerWithQuotedCommas) {
  auto c = ParseChallenge(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.example.com/token");
  EXPECT_EQ(c->params["service"], "registry.example.com");
  EXPECT_EQ(c->params["scope"], "repository:a/b:pull,push");
  auto b = ParseChallenge(R"(Basic realm="r")");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->scheme, "basic");
}

TEST(AuthFileTest, DockerAndKubernetesForms) {
  std::string json = R"({"auths": {
      "https://index.docker.io/v1/": {"auth": ")" +
                     Base64Encode("u1:p1") + R"("},
      "ghcr.io": {"username": "u2", "password": "p2"},
      "https://Reg.Example.com:5000/v2/": {"identitytoken": "tok"}},
    "credsStore": "desktop"})";
  auto f = AuthFile::Parse(json, "/x/config.json");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto d = f->Lookup("docker.io");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->username, "u1");
  EXPECT_EQ(d->password, "p1");
  EXPECT_EQ(f->Lookup("ghcr.io")->password, "p2");
  EXPECT_EQ(f->Lookup("reg.example.com:5000")->identity_token, "tok");
  EXPECT_FALSE(f->Lookup("quay.io").has_value());
  EXPECT_EQ(f->path(), "/x/config.json");
}

TEST(AuthFileTest, BadFileNamesPathNotSecret) {
  auto f = AuthFile::Parse(R"({"auths": {"h": {"auth": "bm9jb2xvbg=="}}})", "/p/c.json");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("/p/c.json"), std::string::npos);
  EXPECT_EQ(f.status().message().find("bm9jb2xvbg"), std::string::npos);
  EXPECT_FALSE(AuthFile::Parse("[1]", "/p").ok());
  EXPECT_FALSE(AuthFile::Load("/nonexistent/modelcar/auth.json").ok());
}

TEST(AuthFileTest, NormalizeKeys) {
  EXPECT_EQ(NormalizeRegistryKey("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeRegistryKey("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(NormalizeRegistryKey("http://127.0.0.1:5000"), "127.0.0.1:5000");
}

// A credential source that answers `first`, then `second` when asked to refresh; counts calls.
struct TwoCredentials {
  Credential first, second;
  int calls = 0, refreshes = 0;
  CredentialFn Fn() {
    return [this](bool refresh) -> Result<ResolvedCredential> {
      ++calls;
      if (refresh) ++refreshes;
      return ResolvedCredential{refresh ? second : first, "test source"};
    };
  }
};

Credential UserPassword(const std::string& u, const std::string& p) {
  Credential c;
  c.username = u;
  c.password = p;
  return c;
}

TEST(AuthenticatorTest, LazyAndBasicRefreshedOnceWhenRejected) {
  http::Client client;
  TwoCredentials src{UserPassword("u", "old"), UserPassword("u", "new")};
  Authenticator auth(&client, "reg.example", src.Fn(), "described");
  EXPECT_EQ(auth.HeaderFor("repository:a:pull"), "");
  EXPECT_EQ(src.calls, 0);  // nothing resolved before a challenge
  EXPECT_EQ(auth.auth_source(), "described");
  ASSERT_TRUE(auth.Authorize(R"(Basic realm="r")", "repository:a:pull", "").ok());
  std::string old_header = auth.HeaderFor("repository:a:pull");
  EXPECT_EQ(old_header, "Basic " + Base64Encode("u:old"));
  EXPECT_EQ(auth.auth_source(), "test source");
  // Rejected: asked again, and the new credential is used.
  ASSERT_TRUE(auth.Authorize(R"(Basic realm="r")", "repository:a:pull", old_header).ok());
  std::string new_header = auth.HeaderFor("repository:a:pull");
  EXPECT_EQ(new_header, "Basic " + Base64Encode("u:new"));
  // Rejected again: no third try.
  Status s = auth.Authorize(R"(Basic realm="r")", "repository:a:pull", new_header);
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("rejected the username/password from test source"), std::string::npos);
  EXPECT_EQ(s.message().find("new"), std::string::npos);
  EXPECT_EQ(src.refreshes, 1);
}

TEST(AuthenticatorTest, TokenEndpointRefusalAsksTheSourceAgain) {
  httplib::Server svr;
  std::string good = "Basic " + Base64Encode("u:new");
  svr.Get("/token", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != good) {
      res.status = 401;
      return;
    }
    res.set_content(R"({"token":"registry-token","expires_in":300})", "application/json");
  });
  int port = svr.bind_to_any_port("127.0.0.1");
  std::thread t([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http::Client client;
  TwoCredentials src{UserPassword("u", "expired"), UserPassword("u", "new")};
  Authenticator auth(&client, "reg.example", src.Fn(), "described");
  std::string challenge =
      R"(Bearer realm="http://127.0.0.1:)" + std::to_string(port) + R"(/token",service="s")";
  Status s = auth.Authorize(challenge, "repository:a:pull", "");
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(auth.HeaderFor("repository:a:pull"), "Bearer registry-token");
  EXPECT_EQ(src.refreshes, 1);
  svr.stop();
  t.join();
}

TEST(RetryTest, PolicyAndRetryAfter) {
  EXPECT_TRUE(IsRetryableHttp(503));
  EXPECT_TRUE(IsRetryableHttp(429));
  EXPECT_TRUE(IsRetryableHttp(408));
  EXPECT_FALSE(IsRetryableHttp(501));
  EXPECT_FALSE(IsRetryableHttp(404));
  EXPECT_EQ(ParseRetryAfter("3"), std::chrono::milliseconds(3000));
  EXPECT_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  RetryPolicy p;
  for (int a = 1; a < 30; ++a) {
    auto d = BackoffDelay(p, a, std::nullopt);
    EXPECT_LE(d, p.max_delay);
    EXPECT_GE(d.count(), 0);
  }
  EXPECT_EQ(BackoffDelay(p, 1, std::chrono::milliseconds(1500)), std::chrono::milliseconds(1500));
  int calls = 0;
  RetryPolicy fast{.max_attempts = 3,
                   .base_delay = std::chrono::milliseconds(1),
                   .max_delay = std::chrono::milliseconds(2)};
  Status s = WithRetries(fast, [&](auto*) {
    ++calls;
    return Unavailable("down");
  });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  calls = 0;
  s = WithRetries(fast, [&](auto*) {
    ++calls;
    return NotFound("gone");
  });
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace modelcar::registry
