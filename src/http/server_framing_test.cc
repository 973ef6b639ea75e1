// http::Server against clients that break HTTP/1.1 framing or flow control (raw sockets over
// loopback): malformed chunked bodies and ambiguous lengths, trailer floods, floods of pipelined
// requests, and readers too slow for a streamed answer. Each gets a 400, its answers in order or
// a cut at the write deadline, and a normal client is served meanwhile.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
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

void AddRoutes(Server* s) {
  s->HandleInline("GET", "/health",
                  [](const ServerRequest&) { return ServerResponse::Text(200, "ok"); });
  s->Handle("POST", "/echo",
            [](const ServerRequest& r) { return ServerResponse::Text(200, r.body); });
}

// Request smuggling shapes and broken chunk framing: each is a 400 and a closed connection; the
// handler never sees a body.
TEST(ServerFramingTest, MalformedFramingIs400AndClosed) {
  Server server{ServerOptions{}};
  std::atomic<int> handled{0};
  server.HandleInline("GET", "/health",
                      [](const ServerRequest&) { return ServerResponse::Text(200, "ok"); });
  server.Handle("POST", "/echo", [&](const ServerRequest& r) {
    ++handled;
    return ServerResponse::Text(200, r.body);
  });
  ASSERT_TRUE(server.Start().ok());
  const std::string post = "POST /echo HTTP/1.1\r\nHost: x\r\n";
  const std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\n";
  const std::vector<std::string> cases = {
      chunked + "zz\r\nabc\r\n0\r\n\r\n",                     // chunk size not hex
      chunked + "3\r\nabcdef\r\n0\r\n\r\n",                   // chunk longer than its size
      chunked + "3\r\nabc0\r\n\r\n",                          // no CRLF after the chunk
      chunked + "fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",  // size overflows 64 bits
      chunked + "-3\r\nabc\r\n0\r\n\r\n",                     // negative size
      chunked + "3 x\r\nabc\r\n0\r\n\r\n",                    // junk after the size
      post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",  // two lengths
      post + "Content-Length: 3, 4\r\n\r\nabcd",
      post + "Content-Length: -1\r\n\r\n",
      post + "Content-Length: 0x10\r\n\r\n",
      post + "Content-Length: 99999999999999999999999\r\n\r\n",
      post + "Transfer-Encoding: gzip\r\n\r\nabc",  // a body whose end cannot be found
      post + "Transfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
      "POST\r\n\r\n",
      "GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
  };
  for (const std::string& c : cases) {
    int fd = Connect(server.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, c));
    std::string got = ReadUntilClose(fd);  // the server closes: nothing more is read as a request
    EXPECT_EQ(StatusOf(got), 400) << c << "\n=> " << got;
    EXPECT_EQ(got.find("HTTP/1.1", 1), std::string::npos) << "a second answer for " << c;
    ::close(fd);
  }
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(server.stats().rejected_requests, cases.size());
  EXPECT_TRUE(HealthOk(server.port()));
}

// Trailers after a chunked body count against the header limits like header fields do.
TEST(ServerFramingTest, TrailerFloodIsRefused) {
  Server server{ServerOptions{}};
  AddRoutes(&server);
  ASSERT_TRUE(server.Start().ok());
  int fd = Connect(server.port());
  ASSERT_GE(fd, 0);
  std::thread writer([fd] {
    SendAll(
        fd,
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n");
    for (int i = 0; i < 20000; ++i) {
      if (!SendAll(fd, "X-Trailer: " + std::string(100, 't') + "\r\n")) return;
    }
    SendAll(fd, "\r\n");
  });
  std::string got = ReadResponse(fd);
  int status = StatusOf(got);
  EXPECT_TRUE(status == 400 || status == 431) << got.substr(0, 200);
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  ::close(fd);
  EXPECT_TRUE(HealthOk(server.port()));
}

// A client whose 4 KB receive window fills at once; its reads block (no timeout).
int ConnectWithSmallReceiveBuffer(int port) {
  return Connect(port, /*recv_timeout_s=*/0, /*recv_buffer=*/4096);
}

// Reads consecutive responses of known length from one connection (pipelined answers may share
// a read). Empty when the connection ended first; reset() then says whether it ended with a reset
// (or a receive error) rather than the server's orderly end of stream.
class ResponseReader {
 public:
  explicit ResponseReader(int fd) : fd_(fd) {}
  std::string Next() {
    for (;;) {
      size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t cl = buf_.find("Content-Length: ");
        if (cl == std::string::npos || cl > end) return Take(end + 4);
        size_t want = end + 4 + std::strtoull(buf_.c_str() + cl + 16, nullptr, 10);
        if (buf_.size() >= want) return Take(want);
      }
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        reset_ = n < 0;
        return std::string();
      }
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
  bool reset() const { return reset_; }

 private:
  std::string Take(size_t n) {
    std::string r = buf_.substr(0, n);
    buf_.erase(0, n);
    return r;
  }
  int fd_;
  std::string buf_;
  bool reset_ = false;
};

// 1,200 requests of 1 KB pipelined in one write, 200 past keep_alive_max_requests (1,000), from a
// client with a small receive window that starts reading late: the first 1,000 are answered in
// order, the last with Connection: close, and the connection ends with an orderly end of stream.
// The server reads no further ahead than its header buffer while it answers, so the requests past
// the limit are still unread when its last answer is still in its send buffer: closing then would
// reset the connection and destroy the answers not yet sent; it lingers (stops sending, reads and
// drops what comes) instead.
TEST(ServerFramingTest, PipelinedFloodIsAnsweredInOrderUpToTheKeepAliveLimit) {
  Server server{ServerOptions{}};
  AddRoutes(&server);
  ASSERT_TRUE(server.Start().ok());
  int fd = ConnectWithSmallReceiveBuffer(server.port());
  ASSERT_GE(fd, 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const int limit = static_cast<int>(ServerOptions{}.keep_alive_max_requests);
  const int kRequests = limit + 200;
  auto body_of = [](int i) {
    std::string b = std::to_string(i);
    return b + std::string(1000 - b.size(), 'b');
  };
  std::thread writer([fd, kRequests, body_of] {
    std::string all;
    for (int i = 0; i < kRequests; ++i) {
      std::string body = body_of(i);
      all += fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
                         body.size(), body);
    }
    SendAll(fd, all);  // fails once the server closed: expected
  });
  std::this_thread::sleep_for(300ms);  // the server's answers fill the window and its buffer
  ResponseReader reader(fd);
  int in_order = 0;
  std::string r;
  for (int i = 0; i < limit; ++i) {
    r = reader.Next();
    if (StatusOf(r) != 200 || r.substr(r.find("\r\n\r\n") + 4) != body_of(i)) {
      ADD_FAILURE() << "answer " << i << ": " << r.substr(0, 200)
                    << (reader.reset() ? " (reset: " + std::string(strerror(errno)) + ")" : "");
      break;
    }
    EXPECT_EQ(r.find("Connection: close") != std::string::npos, i + 1 == limit) << i;
    ++in_order;
  }
  EXPECT_EQ(in_order, limit);
  EXPECT_EQ(reader.Next(), "");  // closed after the limit
  EXPECT_FALSE(reader.reset()) << "the connection was reset, not closed";
  ::shutdown(fd, SHUT_RDWR);  // ends the writer if it is still blocked
  writer.join();
  ::close(fd);
  EXPECT_TRUE(HealthOk(server.port()));
}

// Clients that never read a streamed answer, or the answers to their pipelined requests: each
// blocked write is cut at write_timeout_s (the stream sees Write() == false), holding one worker
// until then; the other worker and the I/O threads serve everyone else meanwhile.
TEST(ServerFramingTest, ReadersThatStopReadingAreCutAtTheWriteDeadline) {
  ServerOptions o;
  o.threads = 2;
  o.write_timeout_s = 1;
  Server server(o);
  AddRoutes(&server);
  std::promise<int> stream_ended;
  server.Handle("GET", "/stream", [&](const ServerRequest&) {
    ServerResponse r;
    r.content_type = "text/event-stream";
    r.stream = [&](StreamSink& sink) {
      int writes = 0;
      const std::string event = "data: " + std::string(16 << 10, 'e') + "\n\n";
      while (writes < 100000 && sink.Write(event)) ++writes;  // up to 1.6 GB: never all buffered
      stream_ended.set_value(writes);
    };
    return r;
  });
  server.Handle("GET", "/big", [](const ServerRequest&) {
    return ServerResponse::Text(200, std::string(64 << 20, 'b'));
  });
  ASSERT_TRUE(server.Start().ok());

  int streamer = ConnectWithSmallReceiveBuffer(server.port());
  ASSERT_GE(streamer, 0);
  ASSERT_TRUE(SendAll(streamer, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  int pipeliner = ConnectWithSmallReceiveBuffer(server.port());
  ASSERT_GE(pipeliner, 0);
  std::string many;
  for (int i = 0; i < 4; ++i) many += "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(SendAll(pipeliner, many));

  auto ended = stream_ended.get_future();
  ASSERT_EQ(ended.wait_for(60s), std::future_status::ready) << "the stream was never cut";
  EXPECT_LT(ended.get(), 100000);
  EXPECT_TRUE(HealthOk(server.port()));
  int fd = Connect(server.port());
  ASSERT_TRUE(SendAll(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"));
  EXPECT_EQ(StatusOf(ReadResponse(fd)), 200);
  ::close(fd);
  for (int i = 0; i < 600 && server.stats().timeouts < 2; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(server.stats().timeouts, 2u);
  // Both are closed: what is left to read ends without a further answer head.
  for (int c : {streamer, pipeliner}) {
    timeval tv{20, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string rest = ReadUntilClose(c);
    EXPECT_EQ(StatusOf(rest), 200);
    EXPECT_LT(rest.size(), size_t{64} << 20) << "a blocked answer was completed";
    ::close(c);
  }
}

}  // namespace
}  // namespace modelcar::http
