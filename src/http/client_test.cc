// Tests of the HTTP client against an in-process cpp-httplib server on 127.0.0.1 (a real HTTP
// server, not a mock): redirects drop Authorization on another host, streaming both ways, and the
// outbound rules (http(s) only, credentials only over TLS or to loopback, redacted URLs).
#include "http/client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace modelcar::http {
namespace {

class Server {
 public:
  Server() {
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Server() {
    svr_.stop();
    thread_.join();
  }
  httplib::Server& svr() { return svr_; }
  std::string url(const std::string& path) const {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
};

TEST(ClientTest, GetCollectsBodyAndHeaders) {
  Server s;
  s.svr().Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Docker-Content-Digest", "sha256:abc");
    res.set_content("hello", "text/plain");
  });
  Client c;
  auto r = c.Do({.url = s.url("/x")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->Header("docker-content-digest").value_or(""), "sha256:abc");
}

TEST(ClientTest, RedirectToOtherHostDropsAuthorization) {
  Server a, b;
  std::string seen_at_b = "unset";
  b.svr().Get("/blob", [&](const httplib::Request& req, httplib::Response& res) {
    seen_at_b = req.get_header_value("Authorization");
    res.set_content("data", "application/octet-stream");
  });
  // a and b are both 127.0.0.1 but differ by port, so they are different hosts.
  a.svr().Get("/v2/r/blobs/x", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 307;
    res.set_header("Location", b.url("/blob"));
  });
  Client c;
  Request req{.url = a.url("/v2/r/blobs/x"), .headers = {{"Authorization", "Bearer secret"}}};
  std::string got;
  req.on_body = [&](std::string_view chunk) {
    got.append(chunk);
    return Status();
  };
  auto r = c.Do(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(got, "data");
  EXPECT_EQ(seen_at_b, "");
}

TEST(ClientTest, SameHostRedirectKeepsAuthorizationAndResolvesRelative) {
  Server a;
  std::string seen;
  a.svr().Get("/final", [&](const httplib::Request& req, httplib::Response& res) {
    seen = req.get_header_value("Authorization");
    res.set_content("ok", "text/plain");
  });
  a.svr().Get("/start", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 302;
    res.set_header("Location", "/final");
  });
  Client c;
  auto r = c.Do({.url = a.url("/start"), .headers = {{"Authorization", "Basic xyz"}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(seen, "Basic xyz");
}

TEST(ClientTest, StreamedUploadArrivesWhole) {
  Server s;
  std::string received;
  s.svr().Put("/up", [&](const httplib::Request& req, httplib::Response& res) {
    received = req.body;
    res.status = 201;
  });
  std::string payload(3 << 20, 'q');
  for (size_t i = 0; i < payload.size(); i += 4096) payload[i] = static_cast<char>(i / 4096);
  size_t pos = 0;
  Request req{.method = "PUT", .url = s.url("/up")};
  req.body_size = static_cast<int64_t>(payload.size());
  req.body_reader = [&](char* buf, size_t n) -> Result<size_t> {
    size_t k = std::min(n, payload.size() - pos);
    std::memcpy(buf, payload.data() + pos, k);
    pos += k;
    return k;
  };
  Client c;
  auto r = c.Do(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(received, payload);
}

TEST(ClientTest, SinkErrorAbortsAndRefusedConnectionIsUnavailable) {
  Server s;
  s.svr().Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(1 << 20, 'a'), "text/plain");
  });
  Client c;
  Request req{.url = s.url("/x")};
  req.on_body = [](std::string_view) { return DataLoss("stop here"); };
  auto r = c.Do(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "stop here");

  auto refused = c.Do({.url = "http://127.0.0.1:1/v2/"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
}

// A body that stops mid-way is a stall after low_speed_time_s seconds without a byte (not after
// curl's ~5 s speed average), and fails with Unavailable so callers resume.
TEST(ClientTest, StalledBodyFailsAfterTheStallTimeout) {
  Server s;
  std::atomic<bool> release{false};
  s.svr().Get("/stall", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(100000, "application/octet-stream",
                             [&](size_t offset, size_t, httplib::DataSink& sink) {
                               if (offset > 0) {  // half sent: go silent
                                 while (!release)
                                   std::this_thread::sleep_for(std::chrono::milliseconds(10));
                                 return false;
                               }
                               std::string half(50000, 'x');
                               sink.write(half.data(), half.size());
                               return true;
                             });
  });
  ClientOptions o;
  o.low_speed_time_s = 1;
  Client c(o);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.Do({.url = s.url("/stall")});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  release = true;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("stalled"), std::string::npos) << r.status().ToString();
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 3.5);
}

// A slow body that keeps moving (a byte every 300 ms for ~2.4 s) outlives a 1 s stall timeout.
TEST(ClientTest, SlowButMovingBodyIsNotCut) {
  Server s;
  s.svr().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(8, "application/octet-stream",
                             [](size_t, size_t, httplib::DataSink& sink) {
                               std::this_thread::sleep_for(std::chrono::milliseconds(300));
                               return sink.write("y", 1);
                             });
  });
  ClientOptions o;
  o.low_speed_time_s = 1;
  Client c(o);
  auto r = c.Do({.url = s.url("/slow")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "yyyyyyyy");
}

TEST(OutboundTest, RedirectToAnotherSchemeIsRefused) {
  Server a;
  a.svr().Get("/v2/r/blobs/x", [](const httplib::Request&, httplib::Response& res) {
    res.status = 302;
    res.set_header("Location", "file:///etc/passwd");
  });
  Client c;
  auto r = c.Do({.url = a.url("/v2/r/blobs/x")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("file://"), std::string::npos) << r.status().ToString();
  auto direct = c.Do({.url = "file:///etc/passwd"});
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.status().code(), Code::kInvalidArgument);
}

// A proxy on a closed local port stands for the network: a request that passes the credential
// check fails to connect (Unavailable); a refused one never leaves the process.
class ClosedProxy {
 public:
  ClosedProxy() { setenv("http_proxy", "http://127.0.0.1:1", 1); }
  ~ClosedProxy() { unsetenv("http_proxy"); }
};

TEST(OutboundTest, CredentialsNeverGoOverPlainHttpToOtherHosts) {
  ClosedProxy proxy;
  Client c;
  Request basic{.url = "http://registry.example.com/token?scope=x",
                .headers = {{"Authorization", "Basic c2VjcmV0"}}};
  auto r = c.Do(basic);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("registry.example.com"), std::string::npos);
  EXPECT_EQ(r.status().message().find("c2VjcmV0"), std::string::npos);

  Request form{.method = "POST",
               .url = "http://localhost.example.com/token",
               .body = "refresh_token=secret",
               .carries_credentials = true};
  auto f = c.Do(form);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kFailedPrecondition) << f.status().ToString();

  // Without credentials, or marked insecure, the request goes out (to the closed proxy).
  auto anon = c.Do({.url = "http://registry.example.com/token"});
  ASSERT_FALSE(anon.ok());
  EXPECT_EQ(anon.status().code(), Code::kUnavailable) << anon.status().ToString();
  ClientOptions o;
  o.allow_plain_credentials = true;
  Client insecure(o);
  auto i = insecure.Do(basic);
  ASSERT_FALSE(i.ok());
  EXPECT_EQ(i.status().code(), Code::kUnavailable) << i.status().ToString();
}

TEST(OutboundTest, CredentialBodyIsNotRedirectedToAnotherHost) {
  Server a, b;
  bool reached_b = false;
  b.svr().Post("/token", [&](const httplib::Request&, httplib::Response& res) {
    reached_b = true;
    res.set_content("{}", "application/json");
  });
  a.svr().Post("/token", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 307;
    res.set_header("Location", b.url("/token"));
  });
  Client c;
  auto r = c.Do({.method = "POST",
                 .url = a.url("/token"),
                 .body = "refresh_token=secret",
                 .carries_credentials = true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status().ToString();
  EXPECT_FALSE(reached_b);
}

TEST(OutboundTest, ErrorsDoNotPrintQueryTokens) {
  Client c;
  auto r = c.Do({.url = "http://127.0.0.1:1/blob?X-Amz-Signature=canary-sig-42"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("canary-sig-42"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("http://127.0.0.1:1/blob?<redacted>"), std::string::npos)
      << r.status().ToString();
}

}  // namespace
}  // namespace modelcar::http
