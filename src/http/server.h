// HTTP/1.1 server (Boost.Beast over Asio), optionally with TLS (OpenSSL).
//
// Used by the admission webhook (HTTPS), the OpenAI-compatible server (plain HTTP, SSE streaming)
// and the cache agent. Routes are exact method + path matches, or prefix matches for a path
// registered with a trailing "*" ("/v2/*" matches every path starting with "/v2/"; the exact
// match wins, then the longest prefix); a request whose path matches no route gets 404, a known
// path with another method gets 405. GET handlers also answer HEAD (ServerRequest::method says
// which; the body is not sent).
//
//   http::ServerOptions opts;
//   opts.port = 0;                                   // pick a free port
//   http::Server server(opts);
//   server.HandleInline("GET", "/healthz", [](const http::ServerRequest&) {
//     return http::ServerResponse::Text(200, "ok\n");
//   });
//   server.Handle("POST", "/work", DoWork);            // runs on a worker thread
//   RETURN_IF_ERROR(server.Start());                 // binds, then serves on background threads
//   int port = server.port();
//   ...
//   server.Stop();                                   // graceful: finishes in-flight requests
//
// No request can take the server down or hold it: sockets are served asynchronously by
// `io_threads` threads, so slow or idle clients cost a socket and a small buffer, never a thread;
// a handler runs on one of `threads` workers only once its request is complete. Every phase has a
// deadline (handshake and header, body, each write, keep-alive idle), the header and body have size
// limits (431, 413), and overload is answered at once with 503 + Retry-After: beyond
// `max_connections` open connections, beyond `max_queued_requests` complete requests waiting for a
// worker, and beyond `max_body_buffer_bytes` of request bodies held. See server_conn.h.
//
// Streaming: set ServerResponse::stream; it runs on the worker thread after the status and headers
// went out, and writes the body with chunked transfer encoding through a StreamSink. Each Write()
// returns once the chunk is written (or failed, bounded by write_timeout_s). While a handler or
// stream runs, the server keeps reading the connection, so a client that hangs up makes Alive()
// and Write() false without a write being needed.
//
// Thread safety: Handle*() must be called before Start(). Handlers run concurrently on the worker
// threads (inline ones on the I/O threads), so they must be thread-safe. Start(), Stop(), Wait(),
// port() and stats() may be called from any thread, Stop() not from a handler.
//
// Process-wide effects: Start() sets SIGPIPE to SIG_IGN (a write to a closed socket must fail with
// EPIPE, not kill the process) and raises the soft RLIMIT_NOFILE towards the hard limit when
// max_connections needs more descriptors.
#ifndef MODELCAR_HTTP_SERVER_H_
#define MODELCAR_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace modelcar::http {

// Header list; names compared case-insensitively by the helpers below. (Same alias as client.h.)
using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup of the first header named `name`; nullopt when absent.
std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name);

struct ServerRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string, percent-decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, sorted by name
  Headers headers;                                         // as received
  std::string body;                                        // whole body (bounded by max_body_bytes)
  std::string remote_addr;                                 // peer IP address
  int remote_port = 0;

  // First query parameter named `name`; nullopt when absent.
  std::optional<std::string_view> Query(std::string_view name) const;
  // Case-insensitive header lookup.
  std::optional<std::string_view> Header(std::string_view name) const {
    return FindHeader(headers, name);
  }
};

// Writes the body of a streaming response. Valid only during the ServerResponse::stream call.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Sends `data` as one chunk (empty data is ignored) and returns once it is written. Returns
  // false once the client has gone away, a write failed or timed out, or the server is stopping;
  // the stream callback should then stop producing and return.
  virtual bool Write(std::string_view data) = 0;
  // True while the connection is still usable (cheap; no data sent; false soon after the client
  // hangs up, since the server keeps reading the connection).
  virtual bool Alive() const = 0;
};

struct ServerResponse {
  int status = 200;
  Headers headers;  // extra headers; Content-Type and Content-Length are set by the server
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // When set, the body above is ignored and `stream` produces it (chunked transfer encoding).
  std::function<void(StreamSink&)> stream;
  // With `stream`: the exact body length when known (>= 0). It is sent as Content-Length instead
  // of chunked encoding, a HEAD answer carries it without running `stream`, and a stream that
  // returns before writing that many bytes leaves the client with a short body (the connection is
  // closed), which clients treat as a failed transfer.
  int64_t stream_length = -1;

  static ServerResponse Text(int status, std::string body);
  static ServerResponse Json(int status, std::string body);  // application/json
};

using Handler = std::function<ServerResponse(const ServerRequest&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";   // "0.0.0.0" or "::" for every interface, or a host name
  int port = 0;                     // 0: the kernel picks a free port; read it with port()
  size_t threads = 8;               // worker threads: requests handled at once
  size_t io_threads = 2;            // threads that read, parse and write every socket
  size_t max_connections = 1024;    // open connections; beyond: 503 (plain HTTP) or close (TLS)
  size_t max_queued_requests = 64;  // complete requests waiting for a worker; beyond: 503
  size_t max_body_bytes = 8 << 20;  // a larger request body is answered 413 (before it is read)
  // Bytes of request bodies held (received, or handed to a handler), all connections together;
  // a body that would pass it gets 503. Raised to max_body_bytes when smaller.
  size_t max_body_buffer_bytes = 64 << 20;
  size_t max_header_bytes = 64 << 10;  // request line + header fields; beyond: 431
  size_t max_header_count = 100;       // header fields; beyond: 431
  int header_timeout_s = 10;     // TLS handshake + request line and header, from accept or 1st byte
  int body_timeout_s = 30;       // the whole request body
  int write_timeout_s = 30;      // each write of a response (each chunk of a stream)
  int keep_alive_timeout_s = 5;  // idle time allowed before the next request on a connection
  size_t keep_alive_max_requests = 1000;
  int listen_backlog = 1024;
  // TLS when both are set (PEM files; the cert file may hold the chain after the leaf). The files
  // are checked on every handshake (at most once per second) and reloaded when their inode, size
  // or mtime changes; a pair that fails to load or whose key does not match the certificate is
  // ignored (the previous pair keeps serving) until it is fixed.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// What the server refused or cut since Start() (for tests and metrics).
struct ServerStats {
  uint64_t connections = 0;           // accepted, the refused ones included
  uint64_t rejected_connections = 0;  // over max_connections
  uint64_t rejected_busy = 0;         // 503: wait queue full or body budget spent
  uint64_t rejected_requests = 0;     // 400, 404/405 with an unread body, 413, 431
  uint64_t timeouts = 0;              // connections cut by a header, body or write deadline
  uint64_t open_connections = 0;      // now (a gauge)
};

// `stats` as Prometheus text exposition lines, for a server's /metrics:
// modelcar_http_connections_total, modelcar_http_open_connections and
// modelcar_http_rejected_total{reason="connection_limit"|"busy"|"bad_request"|"timeout"}.
std::string ServerStatsText(const ServerStats& stats);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers `handler` for `method` (upper case) and `path` (exact, or a prefix when it ends with
  // "*"); it runs on a worker thread. GET handlers also answer HEAD (without the body).
  // REQUIRES: before Start().
  void Handle(std::string method, std::string path, Handler handler);
  // Like Handle(), but the handler runs on the I/O thread that read the request, so it answers
  // even when every worker is busy: for probes and metrics. REQUIRES: the handler is quick, never
  // blocks (no I/O, no lock held for long) and returns no stream.
  void HandleInline(std::string method, std::string path, Handler handler);

  // Loads TLS files (if configured), binds host:port and starts serving on a background thread.
  // Fails with InvalidArgument (bad TLS files), Unavailable (address in use) or Internal.
  Status Start();

  // The bound port (valid after a successful Start()).
  int port() const;

  // Stops accepting, closes idle and still-reading connections, lets the requests being handled
  // finish and their answers go out (streams see Write() == false), and joins every thread.
  // Idempotent.
  void Stop();

  // Blocks until the server has stopped (by Stop() from another thread).
  void Wait();

  // Number of times the TLS pair was (re)loaded, including the first load. For tests and metrics.
  uint64_t tls_loads() const;

  // Counters since Start() (zero before).
  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread (and threads it creates later) so they
// can be waited for with Wait(). Construct it in main's thread BEFORE starting servers or threads.
// Other threads wake the waiter with Wake() (SIGUSR1): a wake never merges with or hides a
// SIGINT/SIGTERM arriving at the same time (different signals stay pending separately).
class ShutdownSignals {
 public:
  static constexpr int kWoken = 0;
  ShutdownSignals();
  // Returns SIGINT or SIGTERM once one arrives, or kWoken after a Wake().
  int Wait();
  // Makes the next Wait() return kWoken (if no SIGINT/SIGTERM comes first). Any thread.
  static void Wake();
};

}  // namespace modelcar::http

#endif  // MODELCAR_HTTP_SERVER_H_
