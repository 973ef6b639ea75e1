// RequestParser and target decoding.
#include "http/server_request.h"

#include <algorithm>
#include <boost/beast/http/error.hpp>

namespace modelcar::http::internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace

bool BodyBudget::Take(size_t n) {
  size_t cur = used_.load();
  do {
    if (n > limit_ || cur > limit_ - n) return false;
  } while (!used_.compare_exchange_weak(cur, cur + n));
  return true;
}

bool BodyHold::Take(size_t n) {
  if (!budget_->Take(n)) return false;
  bytes_ += n;
  return true;
}

RequestParser::RequestParser(const RequestLimits& limits, std::shared_ptr<BodyBudget> budget)
    : max_header_count_(limits.max_header_count),
      hold_(std::make_shared<BodyHold>(std::move(budget))) {
  header_limit(static_cast<std::uint32_t>(std::min<size_t>(limits.max_header_bytes, UINT32_MAX)));
  body_limit(limits.max_body_bytes);
}

void RequestParser::on_request_impl(boost::beast::http::verb, string_view method,
                                    string_view target, int version, error_code&) {
  version_ = version;
  request_.method = std::string(View(method));
  target_ = std::string(View(target));
  DecodeTarget(target_, &request_);
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = boost::beast::http::error::bad_version;  // never called for a request parser
}

void RequestParser::on_field_impl(boost::beast::http::field f, string_view name, string_view value,
                                  error_code& ec) {
  if (request_.headers.size() >= max_header_count_) {
    too_many_headers_ = true;
    ec = boost::beast::http::error::header_limit;
    return;
  }
  if (f == boost::beast::http::field::transfer_encoding) transfer_encoding_ = true;
  request_.headers.emplace_back(std::string(View(name)), std::string(View(value)));
}

void RequestParser::on_header_impl(error_code& ec) {
  if (transfer_encoding_ && !chunked()) ec = boost::beast::http::error::bad_transfer_encoding;
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code&) {
  // Content-Length was checked against the body limit already. Reserved up to 1 MiB: a client
  // that declares more and sends slowly makes the body grow only as the bytes come.
  if (content_length) request_.body.reserve(std::min<uint64_t>(*content_length, 1 << 20));
}

bool RequestParser::Append(string_view data, error_code& ec) {
  if (!hold_ || !hold_->Take(data.size())) {
    over_budget_ = true;
    ec = boost::beast::http::error::body_limit;
    return false;
  }
  request_.body.append(data.data(), data.size());
  return true;
}

size_t RequestParser::on_body_impl(string_view body, error_code& ec) {
  return Append(body, ec) ? body.size() : 0;
}

size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) {
  return Append(body, ec) ? body.size() : 0;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void DecodeTarget(std::string_view target, ServerRequest* request) {
  size_t q = target.find('?');
  request->path = PercentDecode(target.substr(0, q), /*plus_is_space=*/false);
  request->query.clear();
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    request->query.emplace_back(PercentDecode(key, true), PercentDecode(value, true));
  }
  std::stable_sort(request->query.begin(), request->query.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

}  // namespace modelcar::http::internal
