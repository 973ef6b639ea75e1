// Server: options, routes, the acceptor and the I/O threads, Start/Stop; the connections are in
// server_conn.cc.
#include "http/server.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "base/prometheus.h"
#include "http/server_conn.h"
#include "http/server_tls.h"

namespace modelcar::http {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

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

// Room for max_connections sockets plus the process's other files.
void RaiseFileLimit(size_t connections) {
  rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = static_cast<rlim_t>(connections) * 2 + 256;
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

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
  internal::RouteTable routes;
  std::shared_ptr<internal::ServerState> state;
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;     // on its own strand
  std::unique_ptr<net::steady_timer> backoff;  // after accept errors (EMFILE)
  std::vector<std::thread> io_threads;
  int port = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool running = false;  // guarded by mu
  bool stopped = false;  // guarded by mu

  Status Listen();
  void Accept();
};

Status Server::Impl::Listen() {
  error_code ec;
  net::ip::address address = net::ip::make_address(options.host, ec);
  if (ec) {  // a host name
    net::io_context resolver_context;
    tcp::resolver resolver(resolver_context);
    auto results =
        resolver.resolve(options.host, std::to_string(options.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return Unavailable("cannot resolve " + options.host + ": " + ec.message());
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, static_cast<uint16_t>(options.port));
  acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*ioc));
  std::string where = fmt::format("{}:{}", options.host, options.port);
  if (acceptor->open(endpoint.protocol(), ec))
    return Internal("socket for " + where + ": " + ec.message());
  acceptor->set_option(tcp::acceptor::reuse_address(true), ec);  // never SO_REUSEPORT
  if (acceptor->bind(endpoint, ec)) {
    return Unavailable("cannot listen on " + where + " (" + ec.message() + ")");
  }
  if (acceptor->listen(options.listen_backlog, ec)) {
    return Unavailable("cannot listen on " + where + " (" + ec.message() + ")");
  }
  port = acceptor->local_endpoint(ec).port();
  return Status();
}

void Server::Impl::Accept() {
  acceptor->async_accept(net::make_strand(*ioc), [this](error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {  // out of descriptors or memory: let connections end, then accept again
      backoff->expires_after(std::chrono::milliseconds(50));
      backoff->async_wait([this](error_code e) {
        if (!e && acceptor->is_open()) Accept();
      });
      return;
    }
    internal::ServerState& st = *state;
    bool reject = false, drop = st.stopping.load();
    {
      std::lock_guard<std::mutex> lock(st.mu);
      if (st.live.size() >= st.options.max_connections) {
        reject = true;
        drop = drop || st.rejecting >= st.options.max_connections;  // refusals are bounded too
      }
    }
    if (drop) {
      error_code ignored;
      socket.close(ignored);
    } else {
      internal::StartConnection(state, std::move(socket), reject);
    }
    Accept();
  });
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

Server::~Server() { Stop(); }

void Server::Handle(std::string method, std::string path, Handler handler) {
  impl_->routes[std::move(path)][std::move(method)] = {std::move(handler), false};
}

void Server::HandleInline(std::string method, std::string path, Handler handler) {
  impl_->routes[std::move(path)][std::move(method)] = {std::move(handler), true};
}

Status Server::Start() {
  Impl& s = *impl_;
  if (s.state) return FailedPrecondition("http server already started");
  ::signal(SIGPIPE, SIG_IGN);
  auto st = std::make_shared<internal::ServerState>();
  ServerOptions& o = st->options;
  o = s.options;
  o.threads = std::max<size_t>(o.threads, 1);
  o.io_threads = std::max<size_t>(o.io_threads, 1);
  o.max_connections = std::max<size_t>(o.max_connections, 1);
  o.max_body_buffer_bytes = std::max(o.max_body_buffer_bytes, o.max_body_bytes);
  o.max_header_bytes = std::max<size_t>(o.max_header_bytes, 1024);
  st->routes = s.routes;
  st->body_budget = std::make_shared<internal::BodyBudget>(o.max_body_buffer_bytes);
  bool tls = !o.tls_cert_file.empty() || !o.tls_key_file.empty();
  if (tls) {
    if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
      return InvalidArgument("TLS needs both a certificate file and a key file");
    }
    st->tls_reloader = std::make_unique<TlsCertReloader>(o.tls_cert_file, o.tls_key_file);
    RETURN_IF_ERROR(st->tls_reloader->LoadNow());
    st->tls_context = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    st->tls_context->set_options(net::ssl::context::default_workarounds |
                                 net::ssl::context::no_compression);
    if (!st->tls_reloader->Install(st->tls_context->native_handle())) {
      return Internal("cannot set up the TLS context");
    }
  }
  s.ioc = std::make_unique<net::io_context>(static_cast<int>(o.io_threads));
  RETURN_IF_ERROR(s.Listen());
  RaiseFileLimit(o.max_connections);
  st->pool = std::make_unique<internal::WorkerPool>(o.threads, o.max_queued_requests);
  s.backoff = std::make_unique<net::steady_timer>(s.acceptor->get_executor());
  s.state = st;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.running = true;
  }
  s.Accept();
  for (size_t i = 0; i < o.io_threads; ++i) {
    s.io_threads.emplace_back([ioc = s.ioc.get()] {
      auto guard = net::make_work_guard(*ioc);  // run until Stop() stops the context
      ioc->run();
    });
  }
  return Status();
}

int Server::port() const { return impl_->port; }

void Server::Stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.running || s.stopped) return;
    s.stopped = true;
  }
  internal::ServerState& st = *s.state;
  st.stopping = true;
  // 1. No new connections.
  std::promise<void> closed;
  net::post(s.acceptor->get_executor(), [&s, &closed] {
    error_code ec;
    s.acceptor->close(ec);
    s.backoff->cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  // 2. Idle and still-reading connections close; the others after their answer.
  std::vector<std::shared_ptr<internal::Connection>> conns;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    for (auto& [id, weak] : st.live) {
      if (auto c = weak.lock()) conns.push_back(std::move(c));
    }
  }
  for (auto& c : conns) c->Stop();
  conns.clear();
  // 3. Handlers finish (streams see Write() == false) and their answers are written.
  st.pool->Shutdown();
  {
    std::unique_lock<std::mutex> lock(st.mu);
    st.cv.wait_for(lock, std::chrono::seconds(st.options.write_timeout_s + 5),
                   [&st] { return st.live.empty() && st.rejecting == 0; });
  }
  // 4. The I/O threads end; what is left (connections past their deadline) is destroyed.
  s.ioc->stop();
  for (std::thread& t : s.io_threads) t.join();
  s.io_threads.clear();
  s.backoff.reset();
  s.acceptor.reset();
  s.ioc.reset();
  std::lock_guard<std::mutex> lock(s.mu);
  s.running = false;
  s.cv.notify_all();
}

void Server::Wait() {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.cv.wait(lock, [&s] { return !s.running; });
}

uint64_t Server::tls_loads() const {
  const auto& st = impl_->state;
  return st && st->tls_reloader ? st->tls_reloader->loads() : 0;
}

ServerStats Server::stats() const {
  ServerStats out;
  const auto& st = impl_->state;
  if (!st) return out;
  out.connections = st->stats.connections.load();
  out.rejected_connections = st->stats.rejected_connections.load();
  out.rejected_busy = st->stats.rejected_busy.load();
  out.rejected_requests = st->stats.rejected_requests.load();
  out.timeouts = st->stats.timeouts.load();
  std::lock_guard<std::mutex> lock(st->mu);
  out.open_connections = st->live.size() + st->rejecting;
  return out;
}

std::string ServerStatsText(const ServerStats& s) {
  PrometheusText p;
  p.Header("modelcar_http_connections_total", "counter",
           "Connections accepted, the refused ones included.");
  p.Sample("modelcar_http_connections_total", "", s.connections);
  p.Header("modelcar_http_open_connections", "gauge", "Connections open now.");
  p.Sample("modelcar_http_open_connections", "", s.open_connections);
  p.Header("modelcar_http_rejected_total", "counter",
           "Connections and requests the HTTP server refused or cut (connection_limit: 503 over "
           "max connections; busy: 503 wait queue or body memory full; bad_request: 400, 413, "
           "431, unread bodies to 404/405; timeout: a header, body or write deadline passed).");
  const std::pair<const char*, uint64_t> reasons[] = {{"connection_limit", s.rejected_connections},
                                                      {"busy", s.rejected_busy},
                                                      {"bad_request", s.rejected_requests},
                                                      {"timeout", s.timeouts}};
  for (const auto& [reason, n] : reasons) {
    p.Sample("modelcar_http_rejected_total", PrometheusText::Label("reason", reason), n);
  }
  return p.Take();
}

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
