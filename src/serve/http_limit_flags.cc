#include "serve/http_limit_flags.h"

#include <fmt/format.h>

#include <type_traits>
#include <variant>

#include "serve/vllm_flags.h"

namespace modelcar::serve {
namespace {

using O = http::ServerOptions;

constexpr int64_t kDay = 86400;

// Ranges: at least what makes a working server (a body limit below 1 KiB or a header block below
// 1 KiB refuses ordinary requests); at most what the server can honour (descriptors, memory).
constexpr HttpLimitFlag kFlags[] = {
    {"--max-connections", "Open connections; beyond: 503 + Retry-After, closed", 1, 1000000,
     &O::max_connections},
    {"--max-body-bytes", "Request body size; beyond: 413 before the body is read", 1024,
     int64_t{1} << 30, &O::max_body_bytes},
    {"--max-body-memory",
     "Request bodies held in memory, all clients; beyond: 503 (raised to "
     "--max-body-bytes when smaller)",
     1024, int64_t{16} << 30, &O::max_body_buffer_bytes},
    {"--h11-max-incomplete-event-size", "Request line + header fields in bytes; beyond: 431", 1024,
     int64_t{16} << 20, &O::max_header_bytes},
    {"--h11-max-header-count", "Header fields per request; beyond: 431", 1, 10000,
     &O::max_header_count},
    {"--header-timeout",
     "Seconds for the request line and header (TLS handshake included), "
     "from the first byte; beyond: closed",
     1, kDay, &O::header_timeout_s},
    {"--body-timeout", "Seconds for the whole request body; beyond: closed", 1, kDay,
     &O::body_timeout_s},
    {"--write-timeout",
     "Seconds for each response write (each event of a stream); beyond: the "
     "stream ends",
     1, kDay, &O::write_timeout_s},
    {"--keep-alive-timeout", "Seconds an idle kept-alive connection is kept open", 1, kDay,
     &O::keep_alive_timeout_s},
    {"--max-keep-alive-requests", "Requests per connection; then it is closed", 1, 1000000000,
     &O::keep_alive_max_requests},
};

}  // namespace

std::span<const HttpLimitFlag> HttpLimitFlags() { return kFlags; }

int64_t HttpLimitValue(const HttpLimitFlag& flag, const http::ServerOptions& o) {
  return std::visit([&o](auto field) { return static_cast<int64_t>(o.*field); }, flag.field);
}

Status ApplyHttpLimitFlags(const std::map<std::string, std::string>& values,
                           http::ServerOptions* o) {
  for (const HttpLimitFlag& fl : kFlags) {
    auto it = values.find(fl.name);
    if (it == values.end() || it->second.empty()) continue;
    ASSIGN_OR_RETURN(int64_t v, ParseHumanInt(it->second, fl.name));
    if (v < fl.min || v > fl.max) {
      return InvalidArgument(
          fmt::format("{}: {} is out of range ({} to {})", fl.name, v, fl.min, fl.max));
    }
    std::visit(
        [o, v](auto field) {
          o->*field = static_cast<std::remove_reference_t<decltype(o->*field)>>(v);
        },
        fl.field);
  }
  return Status();
}

}  // namespace modelcar::serve
