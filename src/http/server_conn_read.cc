// Conn's request side (server_conn_impl.h): idle keep-alive and pipelining, the header and body
// under their deadlines and limits (431, 413, 400, 503 at the body budget), 100-continue, the
// route (404/405) and the hand-off to the handler, inline or on a worker.
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <cctype>
#include <string_view>

#include "http/server_conn_impl.h"
#include "http/server_response_head.h"

namespace modelcar::http::internal {
namespace {

namespace bhttp = boost::beast::http;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool IsContinue(std::optional<std::string_view> expect) {
  constexpr std::string_view k = "100-continue";
  if (!expect || expect->size() != k.size()) return false;
  for (size_t i = 0; i < k.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>((*expect)[i])) != k[i]) return false;
  }
  return true;
}

bool IsParseError(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

}  // namespace

template <class Stream>
void Conn<Stream>::NextRequest() {
  if (stop_requested_ || st_->stopping) return Close();
  if (buffer_.size() > 0 && !watching_) return ReadHeader();  // pipelined
  phase_ = Phase::kIdle;
  Arm(Secs(o_.keep_alive_timeout_s));
  StartRead();  // OnRead continues with ReadHeader (or sees the client go)
}

template <class Stream>
void Conn<Stream>::StartRead() {
  if (watching_ || closed() || buffer_.size() + kReadChunk > buffer_.max_size()) return;
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = Self()](error_code ec, size_t n) { self->OnRead(ec, n); });
}

template <class Stream>
void Conn<Stream>::OnRead(error_code ec, size_t n) {
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

template <class Stream>
void Conn<Stream>::ReadHeader() {
  phase_ = Phase::kHeader;
  parser_.emplace(RequestLimits{o_.max_header_bytes, o_.max_header_count, o_.max_body_bytes},
                  st_->body_budget);
  Arm(Secs(o_.header_timeout_s));
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = Self()](error_code ec, size_t) { self->OnHeader(ec); });
}

template <class Stream>
void Conn<Stream>::OnHeader(error_code ec) {
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

  RouteMatch match = MatchRoute(st_->routes, r.method, r.path);
  if (match.route == nullptr) return Answer(std::move(match.answer), has_body);
  route_ = match.route;
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

template <class Stream>
void Conn<Stream>::ReadBody() {
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

template <class Stream>
void Conn<Stream>::Dispatch() {
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

#define MODELCAR_HTTP_CONN_READ(S)                   \
  template void Conn<S>::NextRequest();              \
  template void Conn<S>::StartRead();                \
  template void Conn<S>::OnRead(error_code, size_t); \
  template void Conn<S>::ReadHeader();               \
  template void Conn<S>::OnHeader(error_code);       \
  template void Conn<S>::ReadBody();                 \
  template void Conn<S>::Dispatch();
MODELCAR_HTTP_CONN_READ(tcp::socket)
MODELCAR_HTTP_CONN_READ(SslStream)
#undef MODELCAR_HTTP_CONN_READ

}  // namespace modelcar::http::internal
