// What the server writes before a response body (internal to the http module): the status line
// and headers, the size line of a chunk, and the server's own "busy" answer.
#ifndef MODELCAR_HTTP_SERVER_RESPONSE_HEAD_H_
#define MODELCAR_HTTP_SERVER_RESPONSE_HEAD_H_

#include <cstddef>
#include <optional>
#include <string>

#include "http/server.h"

namespace modelcar::http::internal {

// Status line and headers of `r` (names and values without CR or LF: no response splitting),
// then Content-Length when `content_length` is set, else Transfer-Encoding: chunked when
// `chunked` (else the body is close-delimited), and Connection: close when `close`.
std::string FormatHead(const ServerResponse& r, std::optional<size_t> content_length, bool chunked,
                       bool close);

// "<hex size>\r\n" before a chunk of `size` bytes.
std::string ChunkHead(size_t size);

// 503 with Retry-After: 1 (a full wait queue, the body-memory budget, the connection limit).
ServerResponse Busy();

}  // namespace modelcar::http::internal

#endif  // MODELCAR_HTTP_SERVER_RESPONSE_HEAD_H_
