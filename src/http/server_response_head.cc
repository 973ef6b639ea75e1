#include "http/server_response_head.h"

#include <fmt/format.h>

#include <boost/beast/http/status.hpp>
#include <cstdio>
#include <string_view>

namespace modelcar::http::internal {
namespace {

namespace bhttp = boost::beast::http;

// Header names and values as given, minus CR and LF (no response splitting).
void AppendClean(std::string* out, std::string_view s) {
  for (char c : s) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
}

}  // namespace

std::string FormatHead(const ServerResponse& r, std::optional<size_t> content_length, bool chunked,
                       bool close) {
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(r.status)));
  std::string h = fmt::format("HTTP/1.1 {} ", r.status);
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
    h += fmt::format("Content-Length: {}\r\n", *content_length);
  } else if (chunked) {
    h += "Transfer-Encoding: chunked\r\n";
  }
  if (close) h += "Connection: close\r\n";
  h += "\r\n";
  return h;
}

std::string ChunkHead(size_t size) {
  char buf[24];
  const int len = std::snprintf(buf, sizeof(buf), "%zx\r\n", size);
  return std::string(buf, static_cast<size_t>(len));
}

ServerResponse Busy() {
  ServerResponse r = ServerResponse::Text(503, "server busy: try again\n");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace modelcar::http::internal
