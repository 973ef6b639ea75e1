#include "http/client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "base/file.h"
#include "base/log.h"

namespace modelcar::http {
namespace {

std::atomic<bool> g_cancel{false};

constexpr uint64_t kErrorBodyCap = 64 * 1024;
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

const char* HttpVersionName(long v) {
  switch (v) {
    case CURL_HTTP_VERSION_1_0:
      return "HTTP/1.0";
    case CURL_HTTP_VERSION_1_1:
      return "HTTP/1.1";
    case CURL_HTTP_VERSION_2_0:
      return "HTTP/2";
    case CURL_HTTP_VERSION_3:
      return "HTTP/3";
    default:
      return "HTTP/?";
  }
}

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// State of one transfer (one hop of a request), shared with the curl callbacks.
struct Transfer {
  const Request* request = nullptr;
  Response* response = nullptr;
  CURL* handle = nullptr;
  bool follow = false;
  Status error;  // set by a callback that aborted the transfer
  size_t body_pos = 0;
  bool response_seen = false;
  // Stall detection: when a byte last moved either way, and how many had moved then.
  long stall_s = 0;
  curl_off_t moved = -1;
  std::chrono::steady_clock::time_point last_move = std::chrono::steady_clock::now();
};

size_t HeaderCallback(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (after 100 Continue or a redirect)
    t->response->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response->headers.emplace_back(Lower(Trim(line.substr(0, colon))),
                                      std::string(Trim(line.substr(colon + 1))));
  }
  return size * n;
}

size_t WriteCallback(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
  if (t->follow && IsRedirect(status)) return len;  // the redirect's own body is dropped
  bool success = status >= 200 && status < 300;
  if (success && t->request->on_body) {
    if (!t->response_seen) {
      t->response_seen = true;
      if (t->request->on_response) {
        Status s = t->request->on_response(status, t->response->headers);
        if (!s.ok()) {
          t->error = std::move(s);
          return 0;
        }
      }
    }
    Status s = t->request->on_body(std::string_view(data, len));
    if (!s.ok()) {
      t->error = std::move(s);
      return 0;
    }
    return len;
  }
  uint64_t cap = success ? t->request->max_body : kErrorBodyCap;
  std::string& body = t->response->body;
  if (body.size() + len > cap) {
    if (!success) {  // keep the head of an error body, drop the rest
      body.append(data, std::min<size_t>(len, cap - body.size()));
      return len;
    }
    t->error = ResourceExhausted(
        fmt::format("response body of {} exceeds {} bytes", RedactUrl(t->request->url), cap));
    return 0;
  }
  body.append(data, len);
  return len;
}

size_t ReadCallback(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t cap = size * n;
  if (t->request->body_reader) {
    Result<size_t> got = t->request->body_reader(buf, cap);
    if (!got.ok()) {
      t->error = got.status();
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }
  const std::string& body = t->request->body;
  size_t k = std::min(cap, body.size() - t->body_pos);
  std::memcpy(buf, body.data() + t->body_pos, k);
  t->body_pos += k;
  return k;
}

// Called by curl at least once a second: aborts on Ctrl-C, and when no byte has moved either way
// for stall_s seconds (curl's own low-speed limit averages over ~5 s, so a burst followed by
// silence would be noticed only seconds later).
int ProgressCallback(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  if (g_cancel.load(std::memory_order_relaxed)) return 1;
  auto* t = static_cast<Transfer*>(user);
  auto now = std::chrono::steady_clock::now();
  if (dlnow + ulnow != t->moved) {
    t->moved = dlnow + ulnow;
    t->last_move = now;
    return 0;
  }
  if (t->stall_s > 0 && now - t->last_move >= std::chrono::seconds(t->stall_s)) {
    t->error = Unavailable(fmt::format("{} {}: stalled (no data for {} s)", t->request->method,
                                       RedactUrl(t->request->url), t->stall_s));
    return 1;
  }
  return 0;
}

// The environment variable that names a proxy for `url`'s scheme, the one that is set if any
// (its value may hold credentials: only the name is ever printed).
std::string ProxyVariable(const std::string& url) {
  static constexpr const char* kTls[] = {"HTTPS_PROXY", "https_proxy"};
  static constexpr const char* kPlain[] = {"http_proxy", "HTTP_PROXY"};
  const auto& names = url.starts_with("https:") ? kTls : kPlain;
  for (const char* v : names) {
    if (std::getenv(v) != nullptr) return v;
  }
  return names[0];
}

Status MapCurlError(CURLcode rc, const char* errbuf, const Request& req, const std::string& url) {
  std::string what = req.method + " " + RedactUrl(url) + ": ";
  // curl's error buffer may quote the URL (with its query): keep only what follows it.
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (detail.find(url) != std::string::npos || detail.find('?') != std::string::npos) {
    detail = curl_easy_strerror(rc);
  }
  switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
      return Cancelled(what + "interrupted");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return InvalidArgument(what + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
      return Unavailable(what + "cannot resolve host (" + detail + ")");
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Unavailable(what + "cannot resolve the proxy's host (" + detail + "); check " +
                         ProxyVariable(url));
    case CURLE_COULDNT_CONNECT:
      if (std::string var = ProxyVariable(url); std::getenv(var.c_str()) != nullptr) {
        return Unavailable(what + "cannot connect (" + detail + "); " + var +
                           " is set: the proxy may be down, or NO_PROXY should list this host");
      }
      return Unavailable(what + "cannot connect (" + detail + ")");
    case CURLE_OPERATION_TIMEDOUT:
      return Unavailable(what + "timed out or stalled (" + detail + ")");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return FailedPrecondition(what + "TLS certificate not trusted (" + detail +
                                "); pass --ca-file with the registry's CA, or --insecure");
    case CURLE_PARTIAL_FILE:
      return Unavailable(what + "connection closed before the whole body arrived (" + detail + ")");
    default:
      return Unavailable(what + detail);
  }
}

// Fails unless `req` may be sent as it is: an http(s) URL, and credentials only where allowed
// (see client.h).
Status CheckOutbound(const Request& req, const ClientOptions& options) {
  std::string scheme = UrlScheme(req.url);
  if (scheme != "http" && scheme != "https") {
    return InvalidArgument(req.method + " " + RedactUrl(req.url) +
                           ": only http:// and https:// URLs are fetched");
  }
  bool creds = req.carries_credentials ||
               std::any_of(req.headers.begin(), req.headers.end(),
                           [](const auto& kv) { return Lower(kv.first) == "authorization"; });
  if (creds && scheme == "http" && !options.allow_plain_credentials &&
      !IsLoopbackHost(UrlHost(req.url))) {
    return FailedPrecondition(
        req.method + " " + RedactUrl(req.url) +
        ": refusing to send credentials over plain HTTP to " + UrlHost(req.url) +
        " (credentials go only over TLS, to a loopback address, or to a registry marked "
        "--insecure)");
  }
  return Status();
}

}  // namespace

struct Client::Pool {
  std::mutex mu;
  std::vector<CURL*> idle;
  std::string ca_blob;  // [system CAs +] options.ca_file, when a CA file was given

  ~Pool() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }
  CURL* Take() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* h) {
    std::lock_guard<std::mutex> lock(mu);
    idle.push_back(h);
  }
};

std::optional<std::string> Response::Header(std::string_view name) const {
  std::string key = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == key) return v;
  }
  return std::nullopt;
}

Client::Client(ClientOptions options) : options_(std::move(options)), pool_(new Pool) {
  GlobalInit();
  if (!options_.ca_file.empty()) {
    Result<std::string> sys =
        options_.ca_file_only ? Result<std::string>("") : ReadFile(kSystemCaBundle, 64 << 20);
    Result<std::string> extra = ReadFile(options_.ca_file, 64 << 20);
    // A missing CA file is reported on the first request (the blob then stays empty and curl fails
    // verification); keep the constructor infallible.
    if (sys.ok() && !sys->empty()) pool_->ca_blob = *sys + "\n";
    if (extra.ok()) pool_->ca_blob += *extra;
  }
}

Client::~Client() = default;

namespace {

// Sets every option of one transfer of `req` on the (reset) handle `h`: connection, proxy, TLS,
// callbacks into `t`, method and body. `errbuf` receives curl's message.
void SetTransferOptions(CURL* h, const ClientOptions& options, const std::string& ca_blob,
                        const Request& req, Transfer& t, char* errbuf) {
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  // curl reads only the lower-case http_proxy for http:// URLs (the CGI "httpoxy" rule);
  // modelcar is no CGI program, and docker, Go and Kubernetes tooling honour HTTP_PROXY, so do
  // the same. no_proxy/NO_PROXY still apply (curl checks them for an explicit proxy too).
  if (!options.use_env_proxy) {
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // "" disables proxies, the environment's too
  } else if (req.url.starts_with("http://")) {
    const char* lower = std::getenv("http_proxy");
    const char* upper = std::getenv("HTTP_PROXY");
    if ((lower == nullptr || *lower == '\0') && upper != nullptr && *upper != '\0') {
      curl_easy_setopt(h, CURLOPT_PROXY, upper);
    }
  }
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  if (options.insecure) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!ca_blob.empty()) {
    // curl copies nothing (NOCOPY) and reads the blob during the transfer: ca_blob outlives it.
    curl_blob blob{const_cast<char*>(ca_blob.data()), ca_blob.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    // The CA directory (Debian's libcurl defaults to /etc/ssl/certs) would add the system CAs.
    if (options.ca_file_only) curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  }

  bool has_body = req.body_reader || !req.body.empty();
  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD" || req.no_body) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (req.method != "HEAD") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (has_body || req.method == "PUT" || req.method == "PATCH" || req.method == "POST") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadCallback);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
      curl_off_t size = req.body_reader ? req.body_size : static_cast<curl_off_t>(req.body.size());
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
    }
  }
}

// The Status of a transfer curl_easy_perform ended with `rc` (not CURLE_OK): the callbacks' own
// error first, then a proxy's refusal, then curl's.
Status TransferError(CURL* h, CURLcode rc, const Transfer& t, const Request& req,
                     const char* errbuf) {
  if (!t.error.ok()) return t.error;
  if (rc == CURLE_ABORTED_BY_CALLBACK && !CancelRequested()) rc = CURLE_COULDNT_CONNECT;
  long proxy_code = 0;  // a proxy from the environment refused the CONNECT tunnel
  curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &proxy_code);
  if (proxy_code == 407) {
    return Unauthenticated(req.method + " " + RedactUrl(req.url) +
                           ": the proxy refused the credentials (HTTP 407); check the user "
                           "and password in HTTPS_PROXY / https_proxy");
  }
  if (proxy_code >= 400) {
    return Unavailable(fmt::format("{} {}: the proxy answered HTTP {} to CONNECT", req.method,
                                   RedactUrl(req.url), proxy_code));
  }
  return MapCurlError(rc, errbuf, req, req.url);
}

// MODELCAR_LOG=debug: one line per new connection (host only: URLs may carry tokens).
void LogNewConnection(CURL* h, const Request& req) {
  if (!LogEnabled(LogLevel::kDebug)) return;
  long connects = 0, version = 0;
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
  if (connects > 0) {
    LogDebug("modelcar: debug: new connection to {} ({}): {}", UrlHost(req.url),
             req.url.starts_with("https:") ? "TLS" : "plain", HttpVersionName(version));
  }
}

// Turns `req` into the request a redirect answer (`response`, with Location `location`) asks
// for; `first_host`/`first_scheme` are those of the original request. Fails when the redirect
// may not be followed.
Status FollowRedirect(Request& req, const Response& response, const std::string& location,
                      const std::string& first_host, const std::string& first_scheme) {
  if (req.body_reader) {
    return Unimplemented(req.method + " " + RedactUrl(req.url) +
                         ": redirect of a streamed upload to " + UrlHost(location));
  }
  std::string next = ResolveUrl(req.url, location);
  if (next.empty()) return Unavailable(RedactUrl(req.url) + ": bad redirect location");
  if (std::string s = UrlScheme(next); s != "http" && s != "https") {
    return InvalidArgument(req.method + " " + RedactUrl(req.url) + ": redirect to a " +
                           (s.empty() ? "non-HTTP" : s + "://") +
                           " URL refused (only http:// and https:// are followed)");
  }
  // Never carry credentials to another host, nor from https:// down to http://.
  if (UrlHost(next) != first_host || UrlScheme(next) != first_scheme) {
    std::erase_if(req.headers, [](const auto& kv) { return Lower(kv.first) == "authorization"; });
    if (req.carries_credentials && response.status != 303) {
      return FailedPrecondition(req.method + " " + RedactUrl(req.url) +
                                ": a request carrying credentials was redirected to " +
                                UrlHost(next) + "; refused");
    }
  }
  if (response.status == 303) {
    req.method = "GET";
    req.body.clear();
    req.carries_credentials = false;
  }
  req.url = std::move(next);
  return Status();
}

}  // namespace

Result<Response> Client::Do(const Request& request) {
  if (CancelRequested()) {
    return Cancelled(request.method + " " + RedactUrl(request.url) + ": interrupted");
  }
  if (!options_.ca_file.empty() && access(options_.ca_file.c_str(), R_OK) != 0) {
    return ErrnoStatus(errno, "--ca-file " + options_.ca_file);
  }
  if (options_.ca_file_only && pool_->ca_blob.empty() && !options_.insecure) {
    return FailedPrecondition("CA file " + options_.ca_file + " holds no certificate");
  }
  Request req = request;  // a copy whose url, method and headers follow redirects
  const std::string first_host = UrlHost(req.url);
  const std::string first_scheme = UrlScheme(req.url);
  CURL* h = pool_->Take();
  if (h == nullptr) return Internal("curl_easy_init failed");
  struct Giver {
    Pool* p;
    CURL* h;
    ~Giver() { p->Give(h); }
  } giver{pool_.get(), h};

  for (int hop = 0;; ++hop) {
    Response response;
    Transfer t;
    t.request = &req;
    t.response = &response;
    t.handle = h;
    t.follow = req.follow_redirects;
    t.stall_s = options_.low_speed_time_s;
    char errbuf[CURL_ERROR_SIZE] = {0};

    RETURN_IF_ERROR(CheckOutbound(req, options_));
    curl_easy_reset(h);
    SetTransferOptions(h, options_, pool_->ca_blob, req, t, errbuf);
    curl_slist* list = curl_slist_append(nullptr, "Expect:");
    for (const auto& [k, v] : req.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) return TransferError(h, rc, t, req, errbuf);

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    response.url = req.url;
    LogNewConnection(h, req);
    auto location = response.Header("location");
    if (!req.follow_redirects || !IsRedirect(response.status) || !location) return response;
    if (hop >= options_.max_redirects) {
      return Unavailable(req.method + " " + RedactUrl(request.url) + ": too many redirects");
    }
    RETURN_IF_ERROR(FollowRedirect(req, response, *location, first_host, first_scheme));
  }
}

void RequestCancel() { g_cancel.store(true, std::memory_order_relaxed); }
bool CancelRequested() { return g_cancel.load(std::memory_order_relaxed); }

namespace {
extern "C" void OnCancelSignal(int sig) {
  RequestCancel();
  std::signal(sig, SIG_DFL);
}
}  // namespace

void CancelOnSignals() {
  std::signal(SIGINT, OnCancelSignal);
  std::signal(SIGTERM, OnCancelSignal);
}

}  // namespace modelcar::http
