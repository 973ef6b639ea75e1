// HTTP/1.1 server over cpp-httplib (Debian libcpp-httplib 0.11), optionally with TLS.
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
//   server.Handle("GET", "/healthz", [](const http::ServerRequest&) {
//     return http::ServerResponse::Text(200, "ok\n");
//   });
//   RETURN_IF_ERROR(server.Start());                 // binds, then serves on worker threads
//   int port = server.port();
//   ...
//   server.Stop();                                   // graceful: finishes in-flight requests
//
// Streaming: set ServerResponse::stream; it runs on the worker thread after the status and headers
// went out, and writes the body with chunked transfer encoding through a StreamSink.
//
// Thread safety: Handle() must be called before Start(). Handlers run concurrently on up to
// `threads` worker threads (one per open connection, keep-alive included), so they must be
// thread-safe. Start(), Stop(), Wait() and port() may be called from any thread.
//
// Process-wide effect: Start() sets SIGPIPE to SIG_IGN (a write to a closed socket must fail with
// EPIPE, not kill the process).
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
  // Sends `data` as one chunk (empty data is ignored). Returns false once the client has gone
  // away or the server is stopping; the stream callback should then stop producing and return.
  // A disconnect is seen by the kernel only after a write, so the first Write after a client
  // closed may still return true; the next one returns false.
  virtual bool Write(std::string_view data) = 0;
  // True while the connection is still usable (cheap; no data sent).
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
  std::string host = "127.0.0.1";   // "0.0.0.0" or "::" for every interface
  int port = 0;                     // 0: the kernel picks a free port; read it with port()
  size_t threads = 8;               // worker threads = connections served at once
  size_t max_body_bytes = 8 << 20;  // larger request bodies are answered with 413
  int read_timeout_s = 10;          // per read of a request (headers or body)
  int write_timeout_s = 30;         // per write of a response
  int keep_alive_timeout_s = 5;
  size_t keep_alive_max_requests = 1000;
  int listen_backlog = 1024;
  // TLS when both are set (PEM files; the cert file may hold the chain after the leaf). The files
  // are checked on every handshake (at most once per second) and reloaded when their inode, size
  // or mtime changes; a pair that fails to load or whose key does not match the certificate is
  // ignored (the previous pair keeps serving) until it is fixed.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers `handler` for `method` (upper case) and `path` (exact, or a prefix when it ends with
  // "*"). REQUIRES: before Start().
  void Handle(std::string method, std::string path, Handler handler);

  // Loads TLS files (if configured), binds host:port and starts serving on a background thread.
  // Fails with InvalidArgument (bad TLS files), Unavailable (address in use) or Internal.
  Status Start();

  // The bound port (valid after a successful Start()).
  int port() const;

  // Stops accepting, lets in-flight requests and streams end (streams see Write() == false), and
  // joins the worker threads. Idempotent.
  void Stop();

  // Blocks until the server has stopped (by Stop() from another thread).
  void Wait();

  // Number of times the TLS pair was (re)loaded, including the first load. For tests and metrics.
  uint64_t tls_loads() const;

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
