// Server: routing, request/response conversion and lifecycle over httplib::Server / SSLServer.
#include "http/server.h"

#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "http/server_tls.h"

namespace modelcar::http {
namespace {

// Exposes the listening socket so that Start() can raise httplib's fixed listen backlog (5).
template <class Base>
class ExposedServer : public Base {
 public:
  using Base::Base;
  int listen_socket() const { return this->svr_sock_; }
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

class HttplibSink : public StreamSink {
 public:
  HttplibSink(httplib::DataSink& sink, const std::atomic<bool>& stopping)
      : sink_(sink), stopping_(stopping) {}
  bool Write(std::string_view data) override {
    if (failed_ || stopping_.load()) return false;
    if (data.empty()) return true;
    if (!sink_.is_writable() || !sink_.write(data.data(), data.size())) failed_ = true;
    return !failed_;
  }
  bool Alive() const override { return !failed_ && !stopping_.load() && sink_.is_writable(); }

 private:
  httplib::DataSink& sink_;
  const std::atomic<bool>& stopping_;
  bool failed_ = false;
};

}  // namespace

std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> ServerRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

ServerResponse ServerResponse::Text(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

ServerResponse ServerResponse::Json(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

struct Server::Impl {
  ServerOptions options;
  std::map<std::string, std::map<std::string, Handler>> routes;  // path -> method -> handler
  std::unique_ptr<httplib::Server> server;
  std::unique_ptr<TlsCertReloader> tls;
  std::thread thread;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  bool running = false;  // guarded by mu

  void Dispatch(const httplib::Request& req, httplib::Response& res);
};

void Server::Impl::Dispatch(const httplib::Request& req, httplib::Response& res) {
  auto path_it = routes.find(req.path);
  if (path_it == routes.end()) {  // the longest prefix route ("/v2/*") that matches
    size_t best = 0;
    for (auto it = routes.begin(); it != routes.end(); ++it) {
      const std::string& p = it->first;
      if (p.empty() || p.back() != '*' || p.size() - 1 < best) continue;
      if (std::string_view(req.path).starts_with(std::string_view(p).substr(0, p.size() - 1))) {
        best = p.size() - 1;
        path_it = it;
      }
    }
  }
  if (path_it == routes.end()) {
    res.status = 404;
    res.set_content("not found: " + req.path + "\n", "text/plain; charset=utf-8");
    return;
  }
  std::string method = req.method == "HEAD" ? "GET" : req.method;
  auto it = path_it->second.find(method);
  if (it == path_it->second.end()) {
    std::string allow;
    for (const auto& [m, h] : path_it->second) allow += (allow.empty() ? "" : ", ") + m;
    res.status = 405;
    res.set_header("Allow", allow);
    res.set_content("method not allowed: " + req.method + " " + req.path + "\n",
                    "text/plain; charset=utf-8");
    return;
  }
  ServerRequest r;
  r.method = req.method;
  r.path = req.path;
  r.query.assign(req.params.begin(), req.params.end());
  r.headers.assign(req.headers.begin(), req.headers.end());
  r.body = req.body;
  r.remote_addr = req.remote_addr;
  r.remote_port = req.remote_port;
  ServerResponse out = it->second(r);
  res.status = out.status;
  for (auto& [k, v] : out.headers) res.set_header(k, v);
  if (out.stream && out.stream_length >= 0) {
    // Fixed length: httplib calls the provider until `length` bytes went out; the stream runs
    // once, and a short stream makes the next call fail, which closes the connection.
    std::atomic<bool>* stopping_flag = &stopping;
    auto ran = std::make_shared<bool>(false);
    res.set_content_provider(static_cast<size_t>(out.stream_length), out.content_type,
                             [stream = std::move(out.stream), stopping_flag, ran](
                                 size_t, size_t, httplib::DataSink& sink) {
                               if (*ran) return false;
                               *ran = true;
                               HttplibSink adapter(sink, *stopping_flag);
                               stream(adapter);
                               return true;
                             });
  } else if (out.stream) {
    std::atomic<bool>* stopping_flag = &stopping;
    res.set_chunked_content_provider(
        out.content_type,
        [stream = std::move(out.stream), stopping_flag](size_t, httplib::DataSink& sink) {
          HttplibSink adapter(sink, *stopping_flag);
          stream(adapter);
          sink.done();
          return true;
        });
  } else {
    res.set_content(std::move(out.body), out.content_type);
  }
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

Server::~Server() { Stop(); }

void Server::Handle(std::string method, std::string path, Handler handler) {
  impl_->routes[std::move(path)][std::move(method)] = std::move(handler);
}

Status Server::Start() {
  Impl& s = *impl_;
  if (s.server) return FailedPrecondition("http server already started");
  ::signal(SIGPIPE, SIG_IGN);
  const ServerOptions& o = s.options;
  bool tls = !o.tls_cert_file.empty() || !o.tls_key_file.empty();
  if (tls) {
    if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
      return InvalidArgument("TLS needs both a certificate file and a key file");
    }
    s.tls = std::make_unique<TlsCertReloader>(o.tls_cert_file, o.tls_key_file);
    RETURN_IF_ERROR(s.tls->LoadNow());
    TlsCertReloader* reloader = s.tls.get();
    auto ssl = std::make_unique<ExposedServer<httplib::SSLServer>>(
        [reloader](SSL_CTX& ctx) { return reloader->Install(&ctx); });
    if (!ssl->is_valid()) return Internal("cannot create the TLS context");
    s.server = std::move(ssl);
  } else {
    s.server = std::make_unique<ExposedServer<httplib::Server>>();
  }
  httplib::Server& h = *s.server;
  h.set_socket_options([](int sock) {
    int yes = 1;  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would share a busy port
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  h.set_tcp_nodelay(true);
  h.set_payload_max_length(o.max_body_bytes);
  h.set_read_timeout(o.read_timeout_s, 0);
  h.set_write_timeout(o.write_timeout_s, 0);
  h.set_keep_alive_timeout(o.keep_alive_timeout_s);
  h.set_keep_alive_max_count(o.keep_alive_max_requests);
  size_t threads = o.threads == 0 ? 1 : o.threads;
  h.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  auto route = [&s](const httplib::Request& req, httplib::Response& res) {
    // Handlers answer Range requests themselves (they see the header); httplib must not slice
    // their answers a second time. The request object is httplib's own mutable one.
    const_cast<httplib::Request&>(req).ranges.clear();
    s.Dispatch(req, res);
  };
  h.Get(".*", route);
  h.Post(".*", route);
  h.Put(".*", route);
  h.Patch(".*", route);
  h.Delete(".*", route);
  h.Options(".*", route);
  h.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string msg = res.status == 413 ? "request body too large" : "request failed";
        res.set_content(msg + "\n", "text/plain; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
      }));
  h.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content("internal error\n", "text/plain; charset=utf-8");
  });

  if (o.port == 0) {
    s.port = h.bind_to_any_port(o.host);
    if (s.port <= 0) return Unavailable("cannot listen on " + o.host + ":0");
  } else {
    if (!h.bind_to_port(o.host, o.port)) {
      return Unavailable("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                         " (address in use or not available)");
    }
    s.port = o.port;
  }
  int sock = tls ? static_cast<ExposedServer<httplib::SSLServer>&>(h).listen_socket()
                 : static_cast<ExposedServer<httplib::Server>&>(h).listen_socket();
  ::listen(sock, o.listen_backlog);  // raises the backlog of the already listening socket
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.running = true;
  }
  s.thread = std::thread([&s] {
    s.server->listen_after_bind();
    std::lock_guard<std::mutex> lock(s.mu);
    s.running = false;
    s.cv.notify_all();
  });
  return Status();
}

int Server::port() const { return impl_->port; }

void Server::Stop() {
  Impl& s = *impl_;
  if (!s.server) return;
  s.stopping = true;
  // httplib's stop() is a no-op until its accept loop has started: repeat until the loop ends.
  std::unique_lock<std::mutex> lock(s.mu);
  while (s.running) {
    lock.unlock();
    s.server->stop();
    lock.lock();
    s.cv.wait_for(lock, std::chrono::milliseconds(5), [&s] { return !s.running; });
  }
  lock.unlock();
  if (s.thread.joinable()) s.thread.join();
}

void Server::Wait() {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.cv.wait(lock, [&s] { return !s.running; });
}

uint64_t Server::tls_loads() const { return impl_->tls ? impl_->tls->loads() : 0; }

namespace {
sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}
}  // namespace

ShutdownSignals::ShutdownSignals() {
  sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int ShutdownSignals::Wait() {
  sigset_t set = ShutdownSet();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig == SIGUSR1 ? kWoken : sig;
}

void ShutdownSignals::Wake() { ::kill(::getpid(), SIGUSR1); }

}  // namespace modelcar::http
