// Conn<Stream>: one client connection, plain (tcp::socket) or TLS (ssl::stream over it). Every
// member runs on the connection's strand except Stop(), the Sink and RunStream, which run on other
// threads and reach the strand through net::post.
#include "http/server_conn.h"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string_view>
#include <type_traits>

#include "http/server_request.h"

namespace modelcar::http::internal {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using SslStream = net::ssl::stream<tcp::socket>;

constexpr size_t kReadChunk = 16 << 10;
// Before a connection closes after an answer, what the client still sends is read and dropped,
// up to this much for up to this long (kStopLingerTime once the server is stopping): closing a
// socket with unread bytes resets it, and the reset destroys answers the client has not read yet
// (an early answer to a client still sending its body, as Node's fetch reads the answer only once
// its body is sent; answers to requests pipelined past the keep-alive limit).
constexpr size_t kLingerBytes = 64 << 20;
constexpr auto kLingerTime = std::chrono::seconds(5);
constexpr auto kStopLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerChunk = 64 << 10;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kCrLf = "\r\n";

// Header names and values as given, minus CR and LF (no response splitting).
void AppendClean(std::string* out, std::string_view s) {
  for (char c : s) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
}

// Status line and headers. `content_length` nullopt: chunked (HTTP/1.1) or close-delimited.
std::string FormatHead(const ServerResponse& r, std::optional<size_t> content_length, bool chunked,
                       bool close) {
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(r.status)));
  std::string h = "HTTP/1.1 " + std::to_string(r.status) + " ";
  h.append(reason.empty() ? "Unknown" : std::string_view(reason.data(), reason.size()));
  h += "\r\n";
  if (!r.content_type.empty()) {
    h += "Content-Type: ";
    AppendClean(&h, r.content_type);
    h += "\r\n";
  }
  for (const auto& [name, value] : r.headers) {
    AppendClean(&h, name);
    h += ": ";
    AppendClean(&h, value);
    h += "\r\n";
  }
  if (content_length) {
    h += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  } else if (chunked) {
    h += "Transfer-Encoding: chunked\r\n";
  }
  if (close) h += "Connection: close\r\n";
  h += "\r\n";
  return h;
}

ServerResponse CallHandler(const Route& route, const ServerRequest& request) {
  try {
    return route.handler(request);
  } catch (const std::exception&) {
    return ServerResponse::Text(500, "internal error\n");
  }
}

ServerResponse Busy() {
  ServerResponse r = ServerResponse::Text(503, "server busy: try again\n");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

bool IsContinue(std::optional<std::string_view> expect) {
  constexpr std::string_view k = "100-continue";
  if (!expect || expect->size() != k.size()) return false;
  for (size_t i = 0; i < k.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>((*expect)[i])) != k[i]) return false;
  }
  return true;
}

// The route table entry for `path`: the exact path, else the longest "/prefix/*" it starts with.
const std::map<std::string, Route>* FindRoutes(const RouteTable& routes, const std::string& path) {
  auto it = routes.find(path);
  if (it != routes.end()) return &it->second;
  const std::map<std::string, Route>* best = nullptr;
  size_t best_len = 0;
  for (const auto& [p, methods] : routes) {
    if (p.empty() || p.back() != '*' || (best && p.size() - 1 <= best_len)) continue;
    if (std::string_view(path).starts_with(std::string_view(p).substr(0, p.size() - 1))) {
      best = &methods;
      best_len = p.size() - 1;
    }
  }
  return best;
}

bool IsParseError(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

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

  Conn(std::shared_ptr<ServerState> st, Stream stream, uint64_t id, bool rejecting)
      : st_(std::move(st)),
        o_(st_->options),
        stream_(std::move(stream)),
        timer_(Sock().get_executor()),
        buffer_(o_.max_header_bytes + kReadChunk),
        id_(id),
        rejecting_(rejecting) {}

  void Begin() {
    net::post(Executor(), [self = Self()] { self->Start(); });
  }

  void Stop() override {
    net::post(Executor(), [self = Self()] {
      self->stop_requested_ = true;
      switch (self->phase_) {
        case Phase::kHandshake:
        case Phase::kIdle:
        case Phase::kHeader:
        case Phase::kBody:
          self->Close();
          break;
        case Phase::kLinger:
          self->Arm(kStopLingerTime);
          break;
        default:  // answering: closes after the answer and a linger
          break;
      }
    });
  }

  // Runs a streaming response on the calling worker thread.
  void RunStream(std::shared_ptr<ServerResponse> resp) {
    bool ok = CallAndWait(
        [resp](Conn& c, std::function<void(bool)> done) { c.StartStream(*resp, std::move(done)); });
    if (ok && !head_only_) {
      Sink sink(this);
      resp->stream(sink);
      ok = !sink.failed();
    }
    net::post(Executor(), [self = Self(), resp, ok] { self->FinishStream(ok); });
  }

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

  class Sink : public StreamSink {
   public:
    explicit Sink(Conn* c) : c_(c) {}
    bool Write(std::string_view data) override {
      if (failed_ || !Alive()) return false;
      if (data.empty()) return true;
      failed_ = !c_->CallAndWait(
          [data](Conn& c, std::function<void(bool)> done) { c.WriteChunk(data, std::move(done)); });
      return !failed_;
    }
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

  // Posts `op` to the strand and blocks the calling (worker) thread until it calls done(ok).
  template <class Op>
  bool CallAndWait(Op op) {
    auto c = std::make_shared<Completion>();
    net::post(Executor(), [self = Self(), c, op = std::move(op)]() mutable {
      op(*self, [c](bool ok) { c->Done(ok); });
    });
    return c->Wait();
  }

  void Arm(std::chrono::steady_clock::duration d) {
    uint64_t gen = ++timer_gen_;
    timer_.expires_after(d);
    timer_.async_wait([self = Self(), gen](error_code ec) {
      if (ec || gen != self->timer_gen_ || self->closed()) return;
      if (self->phase_ != Phase::kLinger && self->phase_ != Phase::kIdle) {
        self->st_->stats.timeouts++;
      }
      self->Close();
    });
  }
  void Disarm() {
    ++timer_gen_;
    timer_.cancel();
  }
  static std::chrono::seconds Secs(int s) { return std::chrono::seconds(s); }

  void Close() {
    if (closed()) return;
    phase_ = Phase::kClosed;
    closed_flag_ = true;
    Disarm();
    error_code ec;
    Sock().shutdown(tcp::socket::shutdown_both, ec);
    Sock().close(ec);
    // parser_ and buffer_ stay: a pending Beast read still uses them until its completion runs
    // (with an error); they go with the connection.
    std::lock_guard<std::mutex> lock(st_->mu);
    if (rejecting_) {
      --st_->rejecting;
    } else {
      st_->live.erase(id_);
    }
    st_->cv.notify_all();
  }

  void Start() {
    if (stop_requested_ || st_->stopping) return Close();
    error_code ec;
    tcp::endpoint peer = Sock().remote_endpoint(ec);
    if (!ec) {
      remote_addr_ = peer.address().to_string();
      remote_port_ = peer.port();
    }
    Sock().set_option(tcp::no_delay(true), ec);
    if (rejecting_) {
      if constexpr (kTls) {
        return Close();  // no handshake spent on a connection that is refused anyway
      } else {
        return Reject(Busy());
      }
    }
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      Arm(Secs(o_.header_timeout_s));
      stream_.async_handshake(net::ssl::stream_base::server, [self = Self()](error_code ec) {
        if (self->closed()) return;
        if (ec) return self->Close();  // plain HTTP on the TLS port lands here
        self->ReadHeader();
      });
    } else {
      ReadHeader();
    }
  }

  // After an answer: the next request on a kept-alive connection.
  void NextRequest() {
    if (stop_requested_ || st_->stopping) return Close();
    if (buffer_.size() > 0 && !watching_) return ReadHeader();  // pipelined
    phase_ = Phase::kIdle;
    Arm(Secs(o_.keep_alive_timeout_s));
    StartRead();  // OnRead continues with ReadHeader (or sees the client go)
  }

  // Reads what the client sends while idle or while its request is answered: data is kept for
  // the next request, end of stream or an error means the client is gone.
  void StartRead() {
    if (watching_ || closed() || buffer_.size() + kReadChunk > buffer_.max_size()) return;
    watching_ = true;
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = Self()](error_code ec, size_t n) { self->OnRead(ec, n); });
  }
  void OnRead(error_code ec, size_t n) {
    watching_ = false;
    if (closed()) return;
    if (ec) {
      peer_gone_ = true;
      return Close();
    }
    buffer_.commit(n);
    if (phase_ == Phase::kIdle) return ReadHeader();
    // Answering: pipelined bytes wait in the buffer; no further watch, so that the next
    // ReadHeader never overlaps a pending read.
  }

  void ReadHeader() {
    phase_ = Phase::kHeader;
    parser_.emplace(RequestLimits{o_.max_header_bytes, o_.max_header_count, o_.max_body_bytes},
                    st_->body_budget);
    Arm(Secs(o_.header_timeout_s));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = Self()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    if (closed()) return;
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return Reject(ServerResponse::Text(431, parser_->TooManyHeaders()
                                                  ? "too many request header fields\n"
                                                  : "request header fields too large\n"));
    }
    if (ec == bhttp::error::body_limit) {
      return Reject(ServerResponse::Text(413, "request body too large\n"));
    }
    if (ec) {
      if (IsParseError(ec)) return Reject(ServerResponse::Text(400, "bad request\n"));
      return Close();
    }
    ServerRequest& r = parser_->request();
    r.remote_addr = remote_addr_;
    r.remote_port = remote_port_;
    head_only_ = r.method == "HEAD";
    version_ = parser_->version();
    keep_alive_ = parser_->keep_alive() && version_ >= 11;
    const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;

    const std::map<std::string, Route>* methods = FindRoutes(st_->routes, r.path);
    if (methods == nullptr) {
      return Answer(ServerResponse::Text(404, "not found: " + r.path + "\n"), has_body);
    }
    auto it = methods->find(head_only_ ? "GET" : r.method);
    if (it == methods->end()) {
      std::string allow;
      for (const auto& [m, h] : *methods) allow += (allow.empty() ? "" : ", ") + m;
      ServerResponse resp =
          ServerResponse::Text(405, "method not allowed: " + r.method + " " + r.path + "\n");
      resp.headers.emplace_back("Allow", allow);
      return Answer(std::move(resp), has_body);
    }
    route_ = &it->second;
    if (!has_body) return Dispatch();
    phase_ = Phase::kBody;
    Arm(Secs(o_.body_timeout_s));
    if (IsContinue(r.Header("Expect"))) {  // the client waits for this before sending the body
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = Self()](error_code ec, size_t) {
                         if (self->closed()) return;
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_, [self = Self()](error_code ec, size_t) {
      if (self->closed()) return;
      if (ec == bhttp::error::body_limit) {
        if (self->parser_->OverBudget()) {
          self->st_->stats.rejected_busy++;
          return self->Reject(Busy());
        }
        return self->Reject(ServerResponse::Text(413, "request body too large\n"));
      }
      if (ec) {
        if (IsParseError(ec)) return self->Reject(ServerResponse::Text(400, "bad request\n"));
        return self->Close();
      }
      self->Dispatch();
    });
  }

  void Dispatch() {
    Disarm();
    ++requests_;
    auto req = std::make_shared<ServerRequest>(std::move(parser_->request()));
    std::shared_ptr<BodyHold> reservation = parser_->TakeHold();  // given back with the body
    parser_.reset();
    const Route* route = route_;
    if (route->on_io_thread) {
      auto resp = std::make_shared<ServerResponse>(CallHandler(*route, *req));
      if (resp->stream) *resp = ServerResponse::Text(500, "internal error: inline stream\n");
      return WriteResponse(std::move(resp));
    }
    phase_ = Phase::kHandling;
    bool queued = st_->pool->TrySubmit([self = Self(), route, req, reservation]() mutable {
      auto resp = std::make_shared<ServerResponse>(CallHandler(*route, *req));
      req.reset();
      reservation.reset();
      if (resp->stream) return self->RunStream(std::move(resp));
      net::post(self->Executor(), [self, resp] { self->WriteResponse(resp); });
    });
    if (!queued) {
      st_->stats.rejected_busy++;
      return WriteResponse(std::make_shared<ServerResponse>(Busy()));
    }
    if (buffer_.size() == 0) StartRead();
  }

  bool ShouldClose() const {
    return !keep_alive_ || stop_requested_ || st_->stopping || peer_gone_ ||
           requests_ >= o_.keep_alive_max_requests;
  }

  // A whole answer to a request whose body was read (or absent).
  void WriteResponse(std::shared_ptr<ServerResponse> resp) {
    if (closed()) return;
    phase_ = Phase::kWriting;
    const bool close = ShouldClose();
    out_head_ = FormatHead(*resp, resp->body.size(), false, close);
    std::array<net::const_buffer, 2> bufs = {
        net::buffer(out_head_),
        head_only_ ? net::const_buffer() : net::buffer(resp->body.data(), resp->body.size())};
    Arm(Secs(o_.write_timeout_s));
    net::async_write(stream_, bufs, [self = Self(), resp, close](error_code ec, size_t) {
      if (self->closed()) return;
      self->Disarm();
      if (ec) return self->Close();
      if (close) return self->Linger();
      self->NextRequest();
    });
  }

  // An answer given before the request was read to its end: then the connection closes.
  void Answer(ServerResponse resp, bool unread_body) {
    if (unread_body) return Reject(std::move(resp));
    WriteResponse(std::make_shared<ServerResponse>(std::move(resp)));
  }

  // Answers, then closes gently (Linger).
  void Reject(ServerResponse resp) {
    if (resp.status != 503) st_->stats.rejected_requests++;
    phase_ = Phase::kWriting;
    auto r = std::make_shared<ServerResponse>(std::move(resp));
    out_head_ = FormatHead(*r, r->body.size(), false, /*close=*/true);
    std::array<net::const_buffer, 2> bufs = {net::buffer(out_head_), net::buffer(r->body)};
    Arm(Secs(o_.write_timeout_s));
    net::async_write(stream_, bufs, [self = Self(), r](error_code ec, size_t) {
      if (self->closed()) return;
      if (ec) return self->Close();
      self->Linger();
    });
  }

  // Closes gently after the last answer: stops sending (the client reads the end of the stream
  // after every answer), then reads and drops what the client still sends until it closes too,
  // kLingerBytes came or kLingerTime passed, so that the answers are not lost to a reset. A
  // client that already hung up gets the close at once.
  void Linger() {
    if (peer_gone_) return Close();
    phase_ = Phase::kLinger;
    error_code ec;
    Sock().shutdown(tcp::socket::shutdown_send, ec);
    linger_left_ = kLingerBytes;
    scratch_ = std::make_unique<char[]>(kLingerChunk);
    Arm(st_->stopping ? kStopLingerTime : kLingerTime);
    Drain();
  }
  void Drain() {
    Sock().async_read_some(net::buffer(scratch_.get(), kLingerChunk),
                           [self = Self()](error_code ec, size_t n) {
                             if (self->closed()) return;
                             if (ec || n >= self->linger_left_) return self->Close();
                             self->linger_left_ -= n;
                             self->Drain();
                           });
  }

  void StartStream(const ServerResponse& resp, std::function<void(bool)> done) {
    if (closed()) return done(false);
    phase_ = Phase::kWriting;
    fixed_length_ = resp.stream_length;
    stream_written_ = 0;
    const bool known = fixed_length_ >= 0;
    chunked_ = !known && version_ >= 11 && !head_only_;
    stream_close_ = ShouldClose() || (!known && version_ < 11);
    out_head_ = FormatHead(
        resp, known ? std::optional<size_t>(static_cast<size_t>(fixed_length_)) : std::nullopt,
        /*chunked=*/!known && version_ >= 11, stream_close_);
    Arm(Secs(o_.write_timeout_s));
    net::async_write(stream_, net::buffer(out_head_),
                     [self = Self(), done = std::move(done)](error_code ec, size_t) {
                       if (self->closed()) return done(false);
                       self->Disarm();
                       if (ec) {
                         self->Close();
                         return done(false);
                       }
                       done(true);
                     });
  }

  void WriteChunk(std::string_view data, std::function<void(bool)> done) {
    if (closed()) return done(false);
    if (fixed_length_ >= 0) {  // never more than the Content-Length sent
      if (data.size() > static_cast<uint64_t>(fixed_length_) - stream_written_) {
        Close();
        return done(false);
      }
      stream_written_ += data.size();
    }
    // `data` stays valid: the worker that owns it waits for done().
    std::array<net::const_buffer, 3> bufs;
    size_t n = 0;
    if (chunked_) {
      char size[24];
      int len = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
      chunk_head_.assign(size, static_cast<size_t>(len));
      bufs[n++] = net::buffer(chunk_head_);
    }
    bufs[n++] = net::buffer(data.data(), data.size());
    if (chunked_) bufs[n++] = net::buffer(kCrLf.data(), kCrLf.size());
    Arm(Secs(o_.write_timeout_s));
    net::async_write(stream_, bufs, [self = Self(), done = std::move(done)](error_code ec, size_t) {
      // Written, though the client may have left meanwhile: the next Write() sees that.
      if (self->closed()) return done(!ec);
      self->Disarm();
      if (ec) {
        self->Close();
        return done(false);
      }
      done(true);
    });
  }

  void FinishStream(bool ok) {
    if (closed()) return;
    if (!ok) return Close();
    if (head_only_) return stream_close_ ? Linger() : NextRequest();  // no body at all
    if (fixed_length_ >= 0) {
      // Short of its Content-Length: closing is how the client learns the transfer failed.
      if (stream_written_ != static_cast<uint64_t>(fixed_length_)) return Close();
      return stream_close_ ? Linger() : NextRequest();
    }
    if (!chunked_) return Linger();  // HTTP/1.0: the body ends with the connection
    Arm(Secs(o_.write_timeout_s));
    net::async_write(stream_, net::buffer(kLastChunk.data(), kLastChunk.size()),
                     [self = Self()](error_code ec, size_t) {
                       if (self->closed()) return;
                       self->Disarm();
                       if (ec) return self->Close();
                       if (self->stream_close_) return self->Linger();
                       self->NextRequest();
                     });
  }

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

template <class Stream>
void Launch(const std::shared_ptr<ServerState>& st, Stream stream, bool reject) {
  std::shared_ptr<Conn<Stream>> conn;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    uint64_t id = ++st->next_id;
    conn = std::make_shared<Conn<Stream>>(st, std::move(stream), id, reject);
    if (reject) {
      ++st->rejecting;
    } else {
      st->live[id] = conn;
    }
  }
  conn->Begin();
}

}  // namespace

void StartConnection(const std::shared_ptr<ServerState>& state, tcp::socket socket, bool reject) {
  state->stats.connections++;
  if (reject) state->stats.rejected_connections++;
  if (state->tls_context) {
    Launch(state, SslStream(std::move(socket), *state->tls_context), reject);
  } else {
    Launch(state, std::move(socket), reject);
  }
}

}  // namespace modelcar::http::internal
