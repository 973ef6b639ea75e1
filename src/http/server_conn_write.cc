// Conn's answer side (server_conn_impl.h): a whole response, a streamed one (chunked,
// fixed-length or close-delimited) written chunk by chunk for the worker that runs the stream,
// then the next request or a lingering close.
#include <array>
#include <boost/asio/write.hpp>
#include <string_view>

#include "http/server_conn_impl.h"
#include "http/server_response_head.h"

namespace modelcar::http::internal {
namespace {

constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kCrLf = "\r\n";

}  // namespace

template <class Stream>
bool Conn<Stream>::Sink::Write(std::string_view data) {
  if (failed_ || !Alive()) return false;
  if (data.empty()) return true;
  failed_ = !c_->CallAndWait(
      [data](Conn& c, std::function<void(bool)> done) { c.WriteChunk(data, std::move(done)); });
  return !failed_;
}

template <class Stream>
void Conn<Stream>::RunStream(std::shared_ptr<ServerResponse> resp) {
  bool ok = CallAndWait(
      [resp](Conn& c, std::function<void(bool)> done) { c.StartStream(*resp, std::move(done)); });
  if (ok && !head_only_) {
    Sink sink(this);
    resp->stream(sink);
    ok = !sink.failed();
  }
  net::post(Executor(), [self = Self(), resp, ok] { self->FinishStream(ok); });
}

template <class Stream>
bool Conn<Stream>::ShouldClose() const {
  return !keep_alive_ || stop_requested_ || st_->stopping || peer_gone_ ||
         requests_ >= o_.keep_alive_max_requests;
}

template <class Stream>
void Conn<Stream>::WriteResponse(std::shared_ptr<ServerResponse> resp) {
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

template <class Stream>
void Conn<Stream>::Answer(ServerResponse resp, bool unread_body) {
  if (unread_body) return Reject(std::move(resp));
  WriteResponse(std::make_shared<ServerResponse>(std::move(resp)));
}

template <class Stream>
void Conn<Stream>::Reject(ServerResponse resp) {
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
// kLingerBytes came or kLingerTime passed, so that the answers are not lost to a reset. A client
// that already hung up gets the close at once.
template <class Stream>
void Conn<Stream>::Linger() {
  if (peer_gone_) return Close();
  phase_ = Phase::kLinger;
  error_code ec;
  Sock().shutdown(tcp::socket::shutdown_send, ec);
  linger_left_ = kLingerBytes;
  scratch_ = std::make_unique<char[]>(kLingerChunk);
  Arm(st_->stopping ? kStopLingerTime : kLingerTime);
  Drain();
}

template <class Stream>
void Conn<Stream>::Drain() {
  Sock().async_read_some(net::buffer(scratch_.get(), kLingerChunk),
                         [self = Self()](error_code ec, size_t n) {
                           if (self->closed()) return;
                           if (ec || n >= self->linger_left_) return self->Close();
                           self->linger_left_ -= n;
                           self->Drain();
                         });
}

template <class Stream>
void Conn<Stream>::StartStream(const ServerResponse& resp, std::function<void(bool)> done) {
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

template <class Stream>
void Conn<Stream>::WriteChunk(std::string_view data, std::function<void(bool)> done) {
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
    chunk_head_ = ChunkHead(data.size());
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

template <class Stream>
void Conn<Stream>::FinishStream(bool ok) {
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

#define MODELCAR_HTTP_CONN_WRITE(S)                                                     \
  template bool Conn<S>::Sink::Write(std::string_view);                                 \
  template void Conn<S>::RunStream(std::shared_ptr<ServerResponse>);                    \
  template bool Conn<S>::ShouldClose() const;                                           \
  template void Conn<S>::WriteResponse(std::shared_ptr<ServerResponse>);                \
  template void Conn<S>::Answer(ServerResponse, bool);                                  \
  template void Conn<S>::Reject(ServerResponse);                                        \
  template void Conn<S>::Linger();                                                      \
  template void Conn<S>::Drain();                                                       \
  template void Conn<S>::StartStream(const ServerResponse&, std::function<void(bool)>); \
  template void Conn<S>::WriteChunk(std::string_view, std::function<void(bool)>);       \
  template void Conn<S>::FinishStream(bool);
MODELCAR_HTTP_CONN_WRITE(tcp::socket)
MODELCAR_HTTP_CONN_WRITE(SslStream)
#undef MODELCAR_HTTP_CONN_WRITE

}  // namespace modelcar::http::internal
