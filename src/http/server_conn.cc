// Conn's life cycle (server_conn_impl.h): start with the TLS handshake or a 503 at the connection
// limit, stop, the deadline timer, close; and StartConnection.
#include "http/server_conn.h"

#include <mutex>

#include "http/server_conn_impl.h"
#include "http/server_response_head.h"

namespace modelcar::http::internal {

template <class Stream>
Conn<Stream>::Conn(std::shared_ptr<ServerState> st, Stream stream, uint64_t id, bool rejecting)
    : st_(std::move(st)),
      o_(st_->options),
      stream_(std::move(stream)),
      timer_(Sock().get_executor()),
      buffer_(o_.max_header_bytes + kReadChunk),
      id_(id),
      rejecting_(rejecting) {}

template <class Stream>
void Conn<Stream>::Begin() {
  net::post(Executor(), [self = Self()] { self->Start(); });
}

template <class Stream>
void Conn<Stream>::Stop() {
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

template <class Stream>
void Conn<Stream>::Arm(std::chrono::steady_clock::duration d) {
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

template <class Stream>
void Conn<Stream>::Disarm() {
  ++timer_gen_;
  timer_.cancel();
}

template <class Stream>
void Conn<Stream>::Close() {
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

template <class Stream>
void Conn<Stream>::Start() {
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

#define MODELCAR_HTTP_CONN_LIFE_CYCLE(S)                                   \
  template Conn<S>::Conn(std::shared_ptr<ServerState>, S, uint64_t, bool); \
  template void Conn<S>::Begin();                                          \
  template void Conn<S>::Stop();                                           \
  template void Conn<S>::Arm(std::chrono::steady_clock::duration);         \
  template void Conn<S>::Disarm();                                         \
  template void Conn<S>::Close();                                          \
  template void Conn<S>::Start();
MODELCAR_HTTP_CONN_LIFE_CYCLE(tcp::socket)
MODELCAR_HTTP_CONN_LIFE_CYCLE(SslStream)
#undef MODELCAR_HTTP_CONN_LIFE_CYCLE

namespace {

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
