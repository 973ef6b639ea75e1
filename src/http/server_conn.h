// The connections of http::Server (internal to the http module): the state they share with the
// acceptor and the workers, and the entry point that serves one accepted socket.
//
// Model: a few I/O threads run every socket asynchronously (Boost.Beast over Asio, one strand per
// connection); they only read, parse and write, so a slow or idle client costs a socket and a
// small buffer, never a thread. A request is handed to the WorkerPool only once its header and
// body are complete; while its handler runs the connection keeps reading, so a client that hangs
// up is seen at once (streams stop, buffered pipelined bytes are kept). Every phase has a
// deadline: TLS handshake and header (header_timeout_s, from the connection or the first byte),
// body (body_timeout_s), each write (write_timeout_s), idle keep-alive (keep_alive_timeout_s).
// Limits answered by the server itself: 400 bad request, 404/405, 413 body too large, 431 header
// too large or too many fields, 503 (connection limit, body memory budget, full wait queue).
// Errors found before the body was read close the connection after the answer, reading and
// dropping what the client still sends (up to 64 MiB for up to 5 s), so that the client sees the
// answer rather than a reset.
#ifndef MODELCAR_HTTP_SERVER_CONN_H_
#define MODELCAR_HTTP_SERVER_CONN_H_

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/server.h"
#include "http/server_request.h"
#include "http/server_routes.h"
#include "http/server_tls.h"
#include "http/worker_pool.h"

namespace modelcar::http::internal {

class Connection {
 public:
  virtual ~Connection() = default;
  // Idle, handshaking or still-reading connections close; one answering a request closes after
  // the answer. Any thread.
  virtual void Stop() = 0;
};

// Shared by the Server, the acceptor, every connection and the jobs on the workers; kept alive by
// all of them (shared_ptr), so late completions never touch freed state.
struct ServerState {
  ServerOptions options;  // normalized by Server::Start
  RouteTable routes;
  std::unique_ptr<TlsCertReloader> tls_reloader;           // outlives tls_context's callback
  std::unique_ptr<boost::asio::ssl::context> tls_context;  // null: plain HTTP
  std::unique_ptr<WorkerPool> pool;
  std::atomic<bool> stopping{false};
  std::shared_ptr<BodyBudget> body_budget;  // options.max_body_buffer_bytes
  struct {
    std::atomic<uint64_t> connections{0}, rejected_connections{0}, rejected_busy{0},
        rejected_requests{0}, timeouts{0};
  } stats;  // what Server::stats() reports

  std::mutex mu;
  std::condition_variable cv;                          // a connection ended
  std::map<uint64_t, std::weak_ptr<Connection>> live;  // guarded by mu
  size_t rejecting = 0;                                // guarded by mu
  uint64_t next_id = 0;                                // guarded by mu
};

// Serves `socket` (whose executor is a strand of its own) until the client or the server ends it.
// With `reject` the connection limit was reached: plain HTTP gets an immediate 503, TLS a close.
void StartConnection(const std::shared_ptr<ServerState>& state, boost::asio::ip::tcp::socket socket,
                     bool reject);

}  // namespace modelcar::http::internal

#endif  // MODELCAR_HTTP_SERVER_CONN_H_
