// HTTP client on libcurl: connection reuse, HTTP/1.1 and HTTP/2, TLS with the system CAs plus an
// optional extra CA file, proxies from the environment (http_proxy or HTTP_PROXY, https_proxy or
// HTTPS_PROXY, no_proxy or NO_PROXY), connect and stall timeouts, streaming request and response
// bodies, and redirects that never carry the Authorization header to another host or scheme.
//
// Outbound safety, for every request and every redirect hop: only http:// and https:// URLs are
// fetched (a redirect to file:// or any other scheme fails); credentials (an Authorization header,
// or a body marked `carries_credentials`) go only over TLS, to a loopback host (exactly
// "localhost", 127.0.0.0/8, ::1), or when the caller allowed plain HTTP for them
// (ClientOptions::allow_plain_credentials, a registry marked --insecure); URLs in messages are
// redacted (RedactUrl: no user info, no query). With MODELCAR_LOG=debug in the environment, every
// new connection is logged to stderr with its host and negotiated HTTP version (never a URL path
// or query, which may carry tokens).
//
// Thread safety: Client is thread-safe; concurrent Do() calls each take an idle curl handle from a
// pool (so connections are reused by later requests) or create one.
#ifndef MODELCAR_HTTP_CLIENT_H_
#define MODELCAR_HTTP_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/url.h"

namespace modelcar::http {

// Header names are compared case-insensitively; responses store names in lower case.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientOptions {
  std::string ca_file;        // extra PEM CA bundle, used in addition to the system CAs
  bool ca_file_only = false;  // trust ca_file alone, not the system CAs (a cluster's own CA)
  bool insecure = false;      // TLS without certificate or host verification
  long connect_timeout_s = 30;
  // A transfer during which no byte moves (either way) for low_speed_time_s seconds is a stall
  // and fails with Unavailable (retryable). A slow but moving transfer is never killed. 0: off.
  long low_speed_time_s = 60;
  int max_redirects = 5;
  std::string user_agent = "modelcar";
  // Credentials may go over plain HTTP to non-loopback hosts (the user marked the peer insecure).
  bool allow_plain_credentials = false;
  // Proxies from the environment apply; false: always connect directly (a metadata server).
  bool use_env_proxy = true;
};

// Produces the request body: fills up to `n` bytes of `buf`, returns the count (0 = end).
using BodyReader = std::function<Result<size_t>(char* buf, size_t n)>;
// Receives the response body of a 2xx answer piece by piece; an error aborts the transfer.
using BodySink = std::function<Status(std::string_view chunk)>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers = {};
  std::string body = {};        // used when body_reader is empty
  BodyReader body_reader = {};  // streamed body of body_size bytes (-1: unknown, chunked encoding)
  int64_t body_size = -1;
  // When set, a 2xx response body is streamed here instead of collected into Response::body.
  // Non-2xx bodies are always collected (up to 64 KiB) for error messages.
  BodySink on_body = {};
  // Called once with the status and headers of a 2xx response before its first body byte is
  // passed to on_body; an error aborts the transfer. Only used together with on_body.
  std::function<Status(long status, const Headers& headers)> on_response = {};
  uint64_t max_body = uint64_t{8} << 20;  // collected bodies larger than this fail
  bool follow_redirects = true;
  bool no_body = false;  // HEAD-like: do not read a body
  // The body holds credentials (a token request): sent only where an Authorization header could
  // be, and never redirected to another host.
  bool carries_credentials = false;
};

struct Response {
  long status = 0;
  Headers headers;  // names lower-cased, of the final response only
  std::string body;
  std::string url;  // final URL after redirects

  // First header value named `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Performs the request, following redirects when asked. Returns the final response whatever its
  // status; transport failures become Unavailable (connection refused, reset, stall, TLS), or
  // InvalidArgument (bad URL, a scheme other than http/https, a redirect to one), or
  // FailedPrecondition (credentials that would travel in clear), or Cancelled
  // (CancelRequested()). An error returned by on_body or body_reader is returned as is.
  Result<Response> Do(const Request& request);

  const ClientOptions& options() const { return options_; }

 private:
  struct Pool;
  ClientOptions options_;
  std::unique_ptr<Pool> pool_;
};

// Process-wide cancellation (Ctrl-C): once requested, every transfer in progress aborts with
// Cancelled and new ones fail at once. Async-signal-safe.
void RequestCancel();
bool CancelRequested();
// Installs SIGINT and SIGTERM handlers that call RequestCancel(); a second signal kills the
// process the default way.
void CancelOnSignals();

}  // namespace modelcar::http

#endif  // MODELCAR_HTTP_CLIENT_H_
