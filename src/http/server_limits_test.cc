// http::Server against hostile clients over loopback (raw sockets): header floods, slow headers
// and bodies, more connections and requests than it takes. What is asserted is the answer (431,
// 413, 503 + Retry-After, a close) and that a normal client is still served meanwhile.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http/server_test_util.h"

namespace modelcar::http {
namespace {

using namespace std::chrono_literals;
using testing::Connect;
using testing::HealthOk;
using testing::ReadResponse;
using testing::ReadUntilClose;
using testing::SendAll;
using testing::StatusOf;

// Blocks handlers until released.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void WaitForWaiters(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiting_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

void AddHealth(Server* s) {
  s->Handle("GET", "/health", [](const ServerRequest&) { return ServerResponse::Text(200, "ok"); });
}

// 5,000 header fields of 8 KB (40 MB): answered 431 after at most max_header_bytes were read,
// and the client reads the answer (the server drains what it still sends instead of resetting).
TEST(ServerLimitsTest, HeaderFloodIs431) {
  Server server{ServerOptions{}};
  AddHealth(&server);
  ASSERT_TRUE(server.Start().ok());
  for (bool many_small : {false, true}) {
    int fd = Connect(server.port());
    ASSERT_GE(fd, 0);
    std::thread writer([fd, many_small] {
      SendAll(fd, "GET /health HTTP/1.1\r\nHost: x\r\n");
      std::string field = many_small ? "X-A: b\r\n" : "X-Big: " + std::string(8192, 'v') + "\r\n";
      for (int i = 0; i < 5000; ++i) {
        if (!SendAll(fd, field)) return;  // the server closed: expected
      }
      SendAll(fd, "\r\n");
    });
    std::string resp = ReadResponse(fd);
    EXPECT_EQ(StatusOf(resp), 431) << resp.substr(0, 200);
    EXPECT_NE(resp.find(many_small ? "too many request header fields"
                                   : "request header fields too large"),
              std::string::npos);
    EXPECT_NE(resp.find("Connection: close"), std::string::npos);
    ::shutdown(fd, SHUT_RDWR);
    writer.join();
    ::close(fd);
  }
  EXPECT_EQ(server.stats().rejected_requests, 2u);
  EXPECT_TRUE(HealthOk(server.port()));
}

TEST(ServerLimitsTest, BodyLimitIs413BeforeTheBodyIsRead) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  Server server(o);
  server.Handle("POST", "/p",
                [](const ServerRequest& r) { return ServerResponse::Text(200, r.body); });
  ASSERT_TRUE(server.Start().ok());
  int fd = Connect(server.port());
  ASSERT_TRUE(SendAll(fd, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"));
  std::string resp = ReadResponse(fd);
  EXPECT_EQ(StatusOf(resp), 413);
  ::close(fd);
  // A chunked body is cut when it grows past the limit.
  fd = Connect(server.port());
  std::thread writer([fd] {
    SendAll(fd, "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 100; ++i) {
      if (!SendAll(fd, "100\r\n" + std::string(256, 'c') + "\r\n")) return;
    }
  });
  resp = ReadResponse(fd);
  EXPECT_EQ(StatusOf(resp), 413);
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  ::close(fd);
}

// Connections that send part of a header (slowloris) or of a body, a byte now and then, hold no
// worker and are cut at their deadline; a normal client is served meanwhile by the one worker.
TEST(ServerLimitsTest, SlowHeadersAndBodiesAreCutAndHoldNoWorker) {
  ServerOptions o;
  o.threads = 1;
  o.header_timeout_s = 1;
  o.body_timeout_s = 1;
  Server server(o);
  AddHealth(&server);
  server.Handle("POST", "/p", [](const ServerRequest&) { return ServerResponse::Text(200, "x"); });
  ASSERT_TRUE(server.Start().ok());
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) {
    int fd = Connect(server.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(
        SendAll(fd, i % 2 ? "GET /health HTTP/1.1\r\nHost: x\r\n"
                          : "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab"));
    fds.push_back(fd);
  }
  EXPECT_TRUE(HealthOk(server.port()));
  // Trickling keeps them active, but the deadline counts from the start of the header or body.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<bool> open(fds.size(), true);
  size_t still_open = fds.size();
  while (still_open > 0 && std::chrono::steady_clock::now() - t0 < 30s) {
    for (size_t i = 0; i < fds.size(); ++i) {
      if (open[i] && !SendAll(fds[i], i % 2 ? "X" : "c")) {
        open[i] = false;
        --still_open;
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(still_open, 0u) << "slow connections were never cut";
  for (int fd : fds) {
    EXPECT_EQ(StatusOf(ReadUntilClose(fd)), 0);  // cut without an answer
    ::close(fd);
  }
  EXPECT_GE(server.stats().timeouts, 40u);
  EXPECT_TRUE(HealthOk(server.port()));
}

// With the default options (8 workers, 64 queued): requests beyond both get 503 + Retry-After at
// once; the others are all answered once the workers free up.
TEST(ServerLimitsTest, FullWaitQueueIs503WithDefaultOptions) {
  Gate gate;
  Server server{ServerOptions{}};
  server.Handle("GET", "/slow", [&](const ServerRequest&) {
    gate.Wait();
    return ServerResponse::Text(200, "done");
  });
  ASSERT_TRUE(server.Start().ok());
  const ServerOptions defaults;
  const int capacity = static_cast<int>(defaults.threads + defaults.max_queued_requests);
  std::vector<int> fds;
  for (int i = 0; i < capacity + 5; ++i) {
    int fd = Connect(server.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
    fds.push_back(fd);
    if (i + 1 == static_cast<int>(defaults.threads)) gate.WaitForWaiters(i + 1);
  }
  // Wait until the refusals are out (they come without the gate opening).
  for (int i = 0; i < 500 && server.stats().rejected_busy < 5; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.stats().rejected_busy, 5u);
  gate.Open();
  int ok = 0, busy = 0;
  for (int fd : fds) {
    std::string resp = ReadResponse(fd);
    if (StatusOf(resp) == 200) ++ok;
    if (StatusOf(resp) == 503) {
      ++busy;
      EXPECT_NE(resp.find("Retry-After: 1"), std::string::npos);
    }
    ::close(fd);
  }
  EXPECT_EQ(ok, capacity);
  EXPECT_EQ(busy, 5);
}

// Beyond max_connections a connection gets 503 at once (plain HTTP), without a worker.
TEST(ServerLimitsTest, ConnectionLimitIs503) {
  ServerOptions o;
  o.max_connections = 4;
  Server server(o);
  AddHealth(&server);
  ASSERT_TRUE(server.Start().ok());
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect(server.port()));
  for (int i = 0; i < 100 && server.stats().connections < 4; ++i) std::this_thread::sleep_for(10ms);
  int extra = Connect(server.port());
  SendAll(extra, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string resp = ReadResponse(extra);
  EXPECT_EQ(StatusOf(resp), 503) << resp;
  EXPECT_NE(resp.find("Retry-After: 1"), std::string::npos);
  ::close(extra);
  EXPECT_EQ(server.stats().rejected_connections, 1u);
  EXPECT_GE(server.stats().open_connections, 4u);  // and the refused one until the server saw it go
  const std::string text = ServerStatsText(server.stats());
  EXPECT_NE(text.find("\nmodelcar_http_rejected_total{reason=\"connection_limit\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nmodelcar_http_open_connections "), std::string::npos) << text;
  EXPECT_NE(text.find("\nmodelcar_http_connections_total 5\n"), std::string::npos) << text;
  ::close(idle[0]);
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {  // the slot frees once the server saw the close
    std::this_thread::sleep_for(20ms);
    int fd = Connect(server.port());
    SendAll(fd, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    served = StatusOf(ReadResponse(fd)) == 200;
    ::close(fd);
  }
  EXPECT_TRUE(served);
  for (size_t i = 1; i < idle.size(); ++i) ::close(idle[i]);
}

// Body bytes held by slow uploads count against max_body_buffer_bytes (what they really sent, not
// what they declared): a body that would pass it is refused with 503.
TEST(ServerLimitsTest, BodyMemoryBudgetIs503) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  o.max_body_buffer_bytes = 2000;
  Server server(o);
  server.Handle("POST", "/p", [](const ServerRequest&) { return ServerResponse::Text(200, "x"); });
  ASSERT_TRUE(server.Start().ok());
  std::string head = "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
  int a = Connect(server.port()), b = Connect(server.port());
  ASSERT_TRUE(SendAll(a, head + std::string(995, 'a')));
  ASSERT_TRUE(SendAll(b, head + std::string(995, 'b')));
  std::string resp;
  for (int i = 0; i < 10 && StatusOf(resp) != 503; ++i) {  // until a and b are read
    std::this_thread::sleep_for(100ms);
    int c = Connect(server.port(), /*recv_timeout_s=*/2);
    SendAll(c, head + std::string(20, 'c'));
    resp = ReadResponse(c);
    ::close(c);
  }
  EXPECT_EQ(StatusOf(resp), 503) << resp;
  EXPECT_NE(resp.find("Retry-After: 1"), std::string::npos);
  EXPECT_GE(server.stats().rejected_busy, 1u);
  ASSERT_TRUE(SendAll(a, std::string(5, 'a')));
  EXPECT_EQ(StatusOf(ReadResponse(a)), 200);
  ::close(a);
  ::close(b);
}

}  // namespace
}  // namespace modelcar::http
