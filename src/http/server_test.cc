// http::Server over real loopback sockets: cpp-httplib's client (an independent implementation)
// for HTTP(S), raw sockets for disconnects, pipelining, 100-continue and plain-HTTP-to-TLS,
// OpenSSL for reading the served certificate. Limits, deadlines and overload:
// server_limits_test.cc.
#include "http/server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "base/file.h"
#include "base/temp_dir.h"
#include "http/server_test_util.h"

namespace modelcar::http {
namespace {

using namespace std::chrono_literals;
using testing::Connect;
using testing::ReadResponse;
using testing::SendAll;
using testing::StatusOf;

ServerOptions Opts() {
  ServerOptions o;
  o.threads = 4;
  o.max_body_bytes = 1024;
  return o;
}

// Sends a Wake() and a SIGTERM together; exits 0 if both come out of Wait(), in some order.
[[noreturn]] void WakeAndTermBothArrive() {
  ::alarm(5);  // a merged or lost signal would leave the second Wait() blocked: fail, not hang
  ShutdownSignals signals;
  ShutdownSignals::Wake();
  ::kill(::getpid(), SIGTERM);
  const int a = signals.Wait();
  const int b = signals.Wait();
  const bool ok = (a == ShutdownSignals::kWoken && b == SIGTERM) ||
                  (a == SIGTERM && b == ShutdownSignals::kWoken);
  std::_Exit(ok ? 0 : 1);
}

// In a child process (death-test fork), so no other thread of the test binary takes the signals.
TEST(ShutdownSignalsDeathTest, WakeNeverHidesATerm) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(WakeAndTermBothArrive(), ::testing::ExitedWithCode(0), "");
}

TEST(ServerTest, RoutesRequestFieldsAndErrors) {
  Server server(Opts());
  server.Handle("GET", "/hello", [](const ServerRequest& r) {
    std::string who(r.Query("name").value_or("nobody"));
    std::string hdr(r.Header("x-TEST").value_or("-"));
    auto resp = ServerResponse::Text(200, "hi " + who + " " + hdr + " " + r.remote_addr);
    resp.headers.push_back({"X-Reply", "yes"});
    return resp;
  });
  server.Handle("POST", "/echo",
                [](const ServerRequest& r) { return ServerResponse::Json(201, r.body); });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.port(), 0);

  httplib::Client c("127.0.0.1", server.port());
  auto res = c.Get("/hello?name=ann", {{"X-Test", "t1"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hi ann t1 127.0.0.1");
  EXPECT_EQ(res->get_header_value("X-Reply"), "yes");

  res = c.Post("/echo", "{\"a\":1}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "{\"a\":1}");
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");

  res = c.Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = c.Get("/echo");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");

  res = c.Post("/echo", std::string(4096, 'x'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  server.Stop();
  server.Stop();  // idempotent
}

TEST(ServerTest, BusyFixedPortIsAnError) {
  Server a(Opts());
  ASSERT_TRUE(a.Start().ok());
  ServerOptions o = Opts();
  o.port = a.port();
  Server b(o);
  Status st = b.Start();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
}

TEST(ServerTest, StreamsChunks) {
  Server server(Opts());
  server.Handle("GET", "/stream", [](const ServerRequest&) {
    ServerResponse r;
    r.content_type = "text/event-stream";
    r.stream = [](StreamSink& sink) {
      for (int i = 0; i < 50; ++i) {
        if (!sink.Write(fmt::format("data: {}\n\n", i))) return;
      }
      sink.Write("data: [DONE]\n\n");
    };
    return r;
  });
  ASSERT_TRUE(server.Start().ok());
  httplib::Client c("127.0.0.1", server.port());
  auto res = c.Get("/stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Transfer-Encoding"), "chunked");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_NE(res->body.find("data: 49\n\ndata: [DONE]\n\n"), std::string::npos);
  EXPECT_EQ(res->body.rfind("data: 0\n\n", 0), 0u);
}

TEST(ServerTest, PrefixRoutesAndFixedLengthStreams) {
  Server server(Opts());
  server.Handle("GET", "/v2/*", [](const ServerRequest& r) {
    ServerResponse resp;
    std::string body = r.path == "/v2/short" ? "0123456789" : "prefix:" + r.path;
    resp.stream_length = r.path == "/v2/short" ? 20 : static_cast<int64_t>(body.size());
    resp.stream = [body](StreamSink& sink) { sink.Write(body); };
    return resp;
  });
  server.Handle("GET", "/v2/a/*", [](const ServerRequest& r) {
    return ServerResponse::Text(200, "longer:" + r.path);
  });
  server.Handle("GET", "/v2/exact",
                [](const ServerRequest&) { return ServerResponse::Text(200, "exact"); });
  ASSERT_TRUE(server.Start().ok());
  httplib::Client c("127.0.0.1", server.port());
  auto res = c.Get("/v2/x/y");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "prefix:/v2/x/y");
  EXPECT_EQ(res->get_header_value("Content-Length"), "14");
  EXPECT_EQ(res->get_header_value("Transfer-Encoding"), "");
  res = c.Get("/v2/a/b");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "longer:/v2/a/b");
  res = c.Get("/v2/exact");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "exact");
  res = c.Get("/v3/x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  // HEAD carries the length without a body.
  res = c.Head("/v2/x/y");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Length"), "14");
  EXPECT_EQ(res->body, "");
  // Range is the handler's business: the answer is sent as the handler made it.
  res = c.Get("/v2/x/y", {{"Range", "bytes=5-"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "prefix:/v2/x/y");
  res = c.Get("/v2/exact", {{"Range", "bytes=1-2"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "exact");
  // A stream shorter than its length leaves the client with a failed transfer.
  res = c.Get("/v2/short");
  EXPECT_FALSE(res && res->status == 200 && res->body.size() == 20);
}

TEST(ServerTest, StreamSeesClientDisconnect) {
  std::promise<int> writes_until_false;
  Server server(Opts());
  server.Handle("GET", "/forever", [&](const ServerRequest&) {
    ServerResponse r;
    r.stream = [&](StreamSink& sink) {
      int n = 0;
      while (sink.Write(std::string(1024, 'z'))) {
        ++n;
        std::this_thread::sleep_for(1ms);
      }
      writes_until_false.set_value(n);
    };
    return r;
  });
  ASSERT_TRUE(server.Start().ok());
  int fd = Connect(server.port());
  ASSERT_GE(fd, 0);
  std::string req = "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  char buf[4096];
  std::string got;
  while (got.find('z') == std::string::npos) {  // read until body data arrives: the stream runs
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto fut = writes_until_false.get_future();
  ASSERT_EQ(fut.wait_for(60s), std::future_status::ready) << "stream never saw the disconnect";
  EXPECT_GE(fut.get(), 1);
}

TEST(ServerTest, StopEndsStreamsAndReturns) {
  std::atomic<bool> started{false};
  Server server(Opts());
  server.Handle("GET", "/forever", [&](const ServerRequest&) {
    ServerResponse r;
    r.stream = [&](StreamSink& sink) {
      started = true;
      while (sink.Write("x")) std::this_thread::sleep_for(1ms);
    };
    return r;
  });
  ASSERT_TRUE(server.Start().ok());
  std::thread client([port = server.port()] {
    httplib::Client c("127.0.0.1", port);
    c.Get("/forever");
  });
  while (!started) std::this_thread::sleep_for(1ms);
  server.Stop();
  client.join();
  httplib::Client c("127.0.0.1", server.port());
  EXPECT_FALSE(c.Get("/forever"));  // no longer listening
}

TEST(ServerTest, ManyConcurrentClients) {
  ServerOptions o = Opts();
  o.threads = 8;
  Server server(o);
  std::atomic<int> served{0};
  server.Handle("GET", "/n", [&](const ServerRequest&) {
    served++;
    return ServerResponse::Text(200, "ok");
  });
  ASSERT_TRUE(server.Start().ok());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, port = server.port()] {
      httplib::Client c("127.0.0.1", port);
      for (int i = 0; i < 25; ++i) {
        auto res = c.Get("/n");
        if (res && res->status == 200 && res->body == "ok") ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(served.load(), 400);
}

TEST(ServerTest, HeadPipeliningAndContinue) {
  Server server(Opts());
  server.Handle("GET", "/a", [](const ServerRequest&) { return ServerResponse::Text(200, "abc"); });
  server.Handle("POST", "/echo",
                [](const ServerRequest& r) { return ServerResponse::Text(200, r.body); });
  ASSERT_TRUE(server.Start().ok());
  int fd = Connect(server.port());
  ASSERT_GE(fd, 0);
  // HEAD: the GET route's headers, no body; then two pipelined requests in one write.
  ASSERT_TRUE(SendAll(fd,
                      "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /a?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  std::string all;
  char buf[4096];
  while (all.find("hello") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0) << all;
    all.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(all.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << all;
  // HEAD: Content-Length of the GET body, and no body before the next response.
  EXPECT_NE(all.find("Content-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\n"), std::string::npos) << all;
  EXPECT_NE(all.find("\r\n\r\nabcHTTP/1.1 200 OK\r\n"), std::string::npos) << all;
  // Expect: 100-continue: the interim answer comes before the body is sent.
  ASSERT_TRUE(SendAll(fd,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                      "Expect: 100-continue\r\n\r\n"));
  std::string cont = ReadResponse(fd);
  EXPECT_EQ(cont, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(SendAll(fd, "ok"));
  std::string r = ReadResponse(fd);
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_EQ(r.substr(r.size() - 2), "ok");
  // A chunked request body.
  ASSERT_TRUE(SendAll(fd,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  r = ReadResponse(fd);
  EXPECT_EQ(r.substr(r.size() - 5), "abcde") << r;
  ::close(fd);
}

TEST(ServerTest, DecodesPathAndQuery) {
  Server server(Opts());
  server.Handle("GET", "/a b/c", [](const ServerRequest& r) {
    std::string out;
    for (const auto& [k, v] : r.query) out += k + "=" + v + ";";
    return ServerResponse::Text(200, out);
  });
  ASSERT_TRUE(server.Start().ok());
  int fd = Connect(server.port());
  ASSERT_TRUE(SendAll(fd, "GET /a%20b/c?z=1&a=x+y&a=%41&flag HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r = ReadResponse(fd);
  ::close(fd);
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "a=x y;a=A;flag=;z=1;");
}

// Inline handlers answer while every worker is busy.
TEST(ServerTest, InlineHandlersAnswerWhileWorkersAreBusy) {
  ServerOptions o = Opts();
  o.threads = 1;
  Server server(o);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> entered{false};
  server.Handle("GET", "/slow", [&](const ServerRequest&) {
    entered = true;
    released.wait();
    return ServerResponse::Text(200, "slow");
  });
  server.HandleInline("GET", "/health",
                      [](const ServerRequest&) { return ServerResponse::Text(200, "ok"); });
  ASSERT_TRUE(server.Start().ok());
  std::thread slow([port = server.port()] {
    httplib::Client c("127.0.0.1", port);
    auto res = c.Get("/slow");
    EXPECT_TRUE(res && res->body == "slow");
  });
  while (!entered) std::this_thread::sleep_for(1ms);
  httplib::Client c("127.0.0.1", server.port());
  auto res = c.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "ok");
  release.set_value();
  slow.join();
}

// The server reads the connection while a handler runs: a client that hangs up is seen without
// any write (Alive() turns false).
TEST(ServerTest, AliveTurnsFalseWhenTheClientLeavesWithoutAWrite) {
  std::promise<bool> saw_gone;
  std::atomic<bool> started{false};
  Server server(Opts());
  server.Handle("GET", "/wait", [&](const ServerRequest&) {
    ServerResponse r;
    r.stream = [&](StreamSink& sink) {
      started = true;
      for (int i = 0; i < 60000 && sink.Alive(); ++i) std::this_thread::sleep_for(1ms);
      saw_gone.set_value(!sink.Alive());
    };
    return r;
  });
  ASSERT_TRUE(server.Start().ok());
  int fd = Connect(server.port());
  ASSERT_TRUE(SendAll(fd, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  while (!started) std::this_thread::sleep_for(1ms);
  ::close(fd);
  EXPECT_TRUE(saw_gone.get_future().get());
}

TEST(ServerTest, StopAnswersTheRequestInFlight) {
  std::atomic<bool> entered{false};
  Server server(Opts());
  server.Handle("GET", "/slow", [&](const ServerRequest&) {
    entered = true;
    std::this_thread::sleep_for(300ms);
    return ServerResponse::Text(200, "done");
  });
  ASSERT_TRUE(server.Start().ok());
  int idle = Connect(server.port());  // an idle keep-alive connection does not delay Stop()
  ASSERT_GE(idle, 0);
  std::string body;
  std::thread client([&, port = server.port()] {
    httplib::Client c("127.0.0.1", port);
    auto res = c.Get("/slow");
    if (res) body = res->body;
  });
  while (!entered) std::this_thread::sleep_for(1ms);
  server.Stop();
  client.join();
  EXPECT_EQ(body, "done");
  EXPECT_EQ(testing::ReadUntilClose(idle), "");  // closed by Stop()
  ::close(idle);
}

class TlsTest : public ::testing::Test {
 protected:
  // Writes a self-signed pair with common name `cn` to cert.pem / key.pem (via temp + rename).
  void MakeCert(const std::string& cn) {
    std::string d = dir_.string();
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-days 2 -subj /CN=" +
        cn + " -addext subjectAltName=IP:127.0.0.1 -keyout " + d + "/k.tmp -out " + d +
        "/c.tmp 2>/dev/null && mv " + d + "/k.tmp " + d + "/key.pem && mv " + d + "/c.tmp " + d +
        "/cert.pem";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  // Handshakes with the server and returns the served certificate's common name.
  static std::string ServedCommonName(int port) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    int fd = Connect(port);
    SSL_set_fd(ssl, fd);
    std::string cn;
    if (SSL_connect(ssl) == 1) {
      X509* cert = SSL_get1_peer_certificate(ssl);
      char buf[256] = {0};
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof(buf));
      cn = buf;
      X509_free(cert);
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
    return cn;
  }

  ServerOptions TlsOpts() {
    ServerOptions o = Opts();
    o.tls_cert_file = (dir_ / "cert.pem").string();
    o.tls_key_file = (dir_ / "key.pem").string();
    return o;
  }

  TempDir tmp_{"mc-server-tls"};
  std::filesystem::path dir_{tmp_.path()};
};

TEST_F(TlsTest, ServesHttpsAndRejectsPlainHttp) {
  MakeCert("first");
  Server server(TlsOpts());
  server.Handle("GET", "/healthz",
                [](const ServerRequest&) { return ServerResponse::Text(200, "ok"); });
  ASSERT_TRUE(server.Start().ok());
  httplib::SSLClient c("127.0.0.1", server.port());
  c.set_ca_cert_path((dir_ / "cert.pem").c_str());
  c.enable_server_certificate_verification(true);
  auto res = c.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->body, "ok");

  httplib::Client plain("127.0.0.1", server.port());
  plain.set_read_timeout(5, 0);
  auto bad = plain.Get("/healthz");
  EXPECT_TRUE(!bad || bad->status != 200);

  res = c.Get("/healthz");  // still serving TLS after the plain-HTTP attempt
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(TlsTest, ReloadsChangedFilesAndKeepsOldPairOnBadFiles) {
  MakeCert("first");
  Server server(TlsOpts());
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(ServedCommonName(server.port()), "first");
  EXPECT_EQ(server.tls_loads(), 1u);

  MakeCert("second");
  std::string cn;
  for (int i = 0; i < 100 && cn != "second"; ++i) {  // re-checked at most once per second
    std::this_thread::sleep_for(100ms);
    cn = ServedCommonName(server.port());
  }
  EXPECT_EQ(cn, "second");
  EXPECT_EQ(server.tls_loads(), 2u);

  ASSERT_TRUE(WriteFileAtomic((dir_ / "cert.pem").string(), "garbage").ok());
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(ServedCommonName(server.port()), "second");  // the bad file was ignored
  EXPECT_EQ(server.tls_loads(), 2u);
}

TEST_F(TlsTest, BadFilesFailStart) {
  ASSERT_TRUE(WriteFileAtomic((dir_ / "cert.pem").string(), "not pem").ok());
  ASSERT_TRUE(WriteFileAtomic((dir_ / "key.pem").string(), "not pem").ok());
  Server server(TlsOpts());
  Status st = server.Start();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("cert.pem"), std::string::npos) << st.ToString();

  ServerOptions missing = TlsOpts();
  missing.tls_key_file.clear();
  Server s2(missing);
  EXPECT_EQ(s2.Start().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace modelcar::http
