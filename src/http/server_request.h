// Request parsing for http::Server (internal to the http module): a Beast parser that fills a
// ServerRequest directly and enforces the per-request limits while bytes arrive, and the decoding
// of the request target into path and query.
//
// Limits: the request line plus headers may take `max_header_bytes` (Beast counts them) and hold
// at most `max_header_count` fields; the body may take `max_body_bytes` (Content-Length or the sum
// of chunks), and its bytes are taken from a server-wide BodyBudget as they arrive (so a client
// holds only what it really sent). Exceeding one fails the parse with header_limit
// (TooManyHeaders() tells the count apart) or body_limit (OverBudget() tells the budget apart),
// before more than the limit is stored. A Transfer-Encoding whose last coding is not chunked fails
// with bad_transfer_encoding (RFC 9112 6.3: the body's end cannot be found; Beast alone would read
// no body and take its bytes for the next request).
//
// Thread safety: one parser per request, used by one thread at a time.
#ifndef MODELCAR_HTTP_SERVER_REQUEST_H_
#define MODELCAR_HTTP_SERVER_REQUEST_H_

#include <atomic>
#include <boost/beast/http/basic_parser.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/server.h"

namespace modelcar::http::internal {

struct RequestLimits {
  size_t max_header_bytes = 64 << 10;
  size_t max_header_count = 100;
  size_t max_body_bytes = 8 << 20;
};

// Bytes of request bodies held in memory, all connections together, against a limit.
// Thread-safe.
class BodyBudget {
 public:
  explicit BodyBudget(size_t limit) : limit_(limit) {}
  // Takes `n` bytes; false (nothing taken) when that would pass the limit.
  bool Take(size_t n);
  void Give(size_t n) { used_ -= n; }
  size_t used() const { return used_.load(); }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

// What one request's body took from the budget; given back on destruction (when the request,
// handed to a handler, is done with).
class BodyHold {
 public:
  explicit BodyHold(std::shared_ptr<BodyBudget> budget) : budget_(std::move(budget)) {}
  ~BodyHold() { budget_->Give(bytes_); }
  BodyHold(const BodyHold&) = delete;
  BodyHold& operator=(const BodyHold&) = delete;
  bool Take(size_t n);

 private:
  std::shared_ptr<BodyBudget> budget_;
  size_t bytes_ = 0;
};

class RequestParser : public boost::beast::http::basic_parser<true> {
 public:
  // Body bytes are taken from `budget` as they arrive (the parse fails with body_limit and
  // OverBudget() when it is spent).
  RequestParser(const RequestLimits& limits, std::shared_ptr<BodyBudget> budget);

  // Valid once the header is parsed. path/query are decoded from the target; body fills as the
  // body is parsed.
  ServerRequest& request() { return request_; }
  const std::string& target() const { return target_; }
  int version() const { return version_; }  // 10 or 11
  bool TooManyHeaders() const { return too_many_headers_; }
  bool OverBudget() const { return over_budget_; }
  // The budget bytes held by the body; the caller keeps them as long as it keeps the body.
  std::shared_ptr<BodyHold> TakeHold() { return std::move(hold_); }

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;
  void on_request_impl(boost::beast::http::verb, string_view method, string_view target,
                       int version, error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(boost::beast::http::field, string_view name, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code&) override;
  size_t on_body_impl(string_view body, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override;
  void on_finish_impl(error_code&) override {}

  const size_t max_header_count_;
  ServerRequest request_;
  std::string target_;
  int version_ = 11;
  bool too_many_headers_ = false;
  bool over_budget_ = false;
  bool transfer_encoding_ = false;  // a Transfer-Encoding field was seen
  std::shared_ptr<BodyHold> hold_;

  bool Append(string_view data, error_code& ec);
};

// Percent-decodes `s` (invalid escapes stay as they are); with `plus_is_space`, '+' becomes ' '
// (query strings).
std::string PercentDecode(std::string_view s, bool plus_is_space);

// Splits an origin-form target ("/p%20ath?b=2&a=1") into the decoded path and the decoded query
// parameters, sorted by name (stable for repeated names).
void DecodeTarget(std::string_view target, ServerRequest* request);

}  // namespace modelcar::http::internal

#endif  // MODELCAR_HTTP_SERVER_REQUEST_H_
