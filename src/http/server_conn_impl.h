// Conn<Stream>: one client connection of http::Server, plain (tcp::socket) or TLS (ssl::stream
// over it); internal to the http module (server_conn.h has the model). Its members are defined in
// three files, each instantiating them for both streams:
//   server_conn.cc        life cycle: start (TLS handshake), stop, deadlines, close
//   server_conn_read.cc   the request: header, body, routing, the hand-off to a worker
//   server_conn_write.cc  the answer: whole or streamed, then keep-alive or a lingering close
// Every member runs on the connection's strand except Stop(), the Sink and RunStream, which run
// on other threads and reach the strand through net::post.
#ifndef MODELCAR_HTTP_SERVER_CONN_IMPL_H_
#define MODELCAR_HTTP_SERVER_CONN_IMPL_H_

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "http/server_conn.h"
#include "http/server_request.h"
#include "http/server_routes.h"

namespace modelcar::http::internal {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using SslStream = net::ssl::stream<tcp::socket>;

constexpr size_t kReadChunk = 16 << 10;
// Before a connection closes after an answer, what the client still sends is read and dropped,
// up to kLingerBytes for up to kLingerTime (kStopLingerTime once the server is stopping): closing
// a socket with unread bytes resets it, and the reset destroys answers the client has not read
// yet (an early answer to a client still sending its body, as Node's fetch reads the answer only
// once its body is sent; answers to requests pipelined past the keep-alive limit).
constexpr size_t kLingerBytes = 64 << 20;
constexpr auto kLingerTime = std::chrono::seconds(5);
constexpr auto kStopLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerChunk = 64 << 10;

// One blocking hand-off from a worker to the strand and back.
class Completion {
 public:
  void Done(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    ok_ = ok;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    return ok_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool ok_ = false;
};

template <class Stream>
class Conn : public Connection, public std::enable_shared_from_this<Conn<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, SslStream>;

  Conn(std::shared_ptr<ServerState> st, Stream stream, uint64_t id, bool rejecting);

  void Begin();  // starts serving on the strand
  void Stop() override;
  // Runs a streaming response on the calling worker thread.
  void RunStream(std::shared_ptr<ServerResponse> resp);

 private:
  enum class Phase {
    kStart,
    kHandshake,
    kIdle,
    kHeader,
    kBody,
    kHandling,
    kWriting,
    kLinger,
    kClosed
  };

  // The StreamSink a streaming handler writes to: each Write waits until its chunk is written.
  class Sink : public StreamSink {
   public:
    explicit Sink(Conn* c) : c_(c) {}
    bool Write(std::string_view data) override;
    bool Alive() const override { return !failed_ && !c_->Gone(); }
    bool failed() const { return failed_; }

   private:
    Conn* c_;
    bool failed_ = false;
  };

  std::shared_ptr<Conn> Self() { return this->shared_from_this(); }
  tcp::socket& Sock() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }
  auto Executor() { return Sock().get_executor(); }
  bool closed() const { return phase_ == Phase::kClosed; }
  // Any thread: the client left, the connection closed or the server is stopping.
  bool Gone() const { return closed_flag_.load() || peer_gone_.load() || st_->stopping.load(); }
  static std::chrono::seconds Secs(int s) { return std::chrono::seconds(s); }

  // Posts `op` to the strand and blocks the calling (worker) thread until it calls done(ok).
  template <class Op>
  bool CallAndWait(Op op) {
    auto c = std::make_shared<Completion>();
    net::post(Executor(), [self = Self(), c, op = std::move(op)]() mutable {
      op(*self, [c](bool ok) { c->Done(ok); });
    });
    return c->Wait();
  }

  // Life cycle (server_conn.cc).
  void Arm(std::chrono::steady_clock::duration d);  // the deadline of the current phase
  void Disarm();
  void Close();
  void Start();

  // The request (server_conn_read.cc).
  void NextRequest();  // after an answer, on a kept-alive connection
  // Reads what the client sends while idle or while its request is answered: data is kept for
  // the next request, end of stream or an error means the client is gone.
  void StartRead();
  void OnRead(error_code ec, size_t n);
  void ReadHeader();
  void OnHeader(error_code ec);
  void ReadBody();
  void Dispatch();  // the handler, inline or on a worker

  // The answer (server_conn_write.cc).
  bool ShouldClose() const;
  // A whole answer to a request whose body was read (or absent).
  void WriteResponse(std::shared_ptr<ServerResponse> resp);
  // An answer given before the request was read to its end: then the connection closes.
  void Answer(ServerResponse resp, bool unread_body);
  void Reject(ServerResponse resp);  // answers, then closes gently (Linger)
  void Linger();
  void Drain();
  void StartStream(const ServerResponse& resp, std::function<void(bool)> done);
  void WriteChunk(std::string_view data, std::function<void(bool)> done);
  void FinishStream(bool ok);

  const std::shared_ptr<ServerState> st_;
  const ServerOptions& o_;
  Stream stream_;
  net::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  boost::beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  const Route* route_ = nullptr;
  const uint64_t id_;
  const bool rejecting_;
  std::string remote_addr_;
  int remote_port_ = 0;
  Phase phase_ = Phase::kStart;
  std::atomic<bool> closed_flag_{false};
  std::atomic<bool> peer_gone_{false};
  bool stop_requested_ = false;
  bool watching_ = false;
  bool keep_alive_ = false;
  bool head_only_ = false;
  bool chunked_ = false;
  bool stream_close_ = false;
  int64_t fixed_length_ = -1;    // the stream's Content-Length; -1: chunked or close-delimited
  uint64_t stream_written_ = 0;  // body bytes of a fixed-length stream written so far
  int version_ = 11;
  size_t requests_ = 0;
  size_t linger_left_ = 0;
  std::string out_head_;
  std::string chunk_head_;
  std::unique_ptr<char[]> scratch_;  // while lingering
};

}  // namespace modelcar::http::internal

#endif  // MODELCAR_HTTP_SERVER_CONN_IMPL_H_
