#include "serve/openai_server.h"

#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/json.h"
#include "base/log.h"
#include "http/server.h"
#include "serve/endpoints.h"
#include "serve/request.h"
#include "serve/response.h"

namespace modelcar::serve {
namespace {

using Clock = std::chrono::steady_clock;

// Readiness and activity shared by the handlers and the idle watchdog.
struct State {
  std::atomic<ModelContext*> model{nullptr};
  std::atomic<int> in_flight{0};
  std::atomic<int> server_load{0};  // generation requests in flight (/load)
  std::atomic<int64_t> last_activity_ns{0};

  void Touch() { last_activity_ns = Clock::now().time_since_epoch().count(); }
};

// Counts a request in `counter` from its start until its response (streamed body included) is
// destroyed.
struct InFlight {
  InFlight(State* s, std::atomic<int>* c) : state(s), counter(c) {
    ++*counter;
    state->Touch();
  }
  ~InFlight() {
    state->Touch();
    --*counter;
  }
  State* state;
  std::atomic<int>* counter;
};

// Keeps `guard` alive until the response's streamed body (if any) is done.
void HoldUntilDone(http::ServerResponse* resp, std::shared_ptr<void> guard) {
  if (resp->stream) {
    resp->stream = [inner = std::move(resp->stream), guard](http::StreamSink& sink) {
      inner(sink);
    };
  }
}

bool Authorized(const http::ServerRequest& req, const std::vector<std::string>& keys) {
  auto h = req.Header("Authorization");
  if (!h) return false;
  std::string_view v = *h;
  constexpr std::string_view kBearer = "Bearer ";
  if (v.size() < kBearer.size() || v.substr(0, kBearer.size()) != kBearer) return false;
  std::string_view got = v.substr(kBearer.size());
  bool ok = false;
  for (const std::string& key : keys) {
    // Length and content compared without an early exit.
    unsigned diff = got.size() != key.size();
    for (size_t i = 0; i < key.size(); ++i) diff |= key[i] ^ (i < got.size() ? got[i] : 0);
    ok |= diff == 0;
  }
  return ok;
}

using ModelHandler = std::function<http::ServerResponse(ModelContext&, const http::ServerRequest&)>;

// An API route: authentication, readiness, in-flight counting (and /load counting for
// generation routes).
http::Handler Api(State* state, const std::vector<std::string>* api_keys, bool load_aware,
                  bool track_load, ModelHandler fn) {
  return [=](const http::ServerRequest& req) -> http::ServerResponse {
    if (!api_keys->empty() && !Authorized(req, *api_keys)) {
      return ErrorResponse(
          Unauthenticated("Unauthorized: a valid 'Authorization: Bearer <key>' "
                          "header is required"));
    }
    ModelContext* m = state->model.load();
    if (!m) return ErrorResponse(Unavailable("the model is still loading"));
    auto guard = std::make_shared<InFlight>(state, &state->in_flight);
    std::shared_ptr<InFlight> load;
    if (load_aware && track_load) load = std::make_shared<InFlight>(state, &state->server_load);
    http::ServerResponse resp = fn(*m, req);
    HoldUntilDone(&resp,
                  std::make_shared<std::pair<std::shared_ptr<InFlight>, std::shared_ptr<InFlight>>>(
                      guard, load));
    return resp;
  };
}

// SageMaker's /invocations: the body's shape picks the endpoint, as vLLM does.
// The shape is decided and the document dropped before the endpoint parses the body again.
http::ServerResponse Invocations(ModelContext& m, const http::ServerRequest& req) {
  enum { kChat, kCompletion, kNeither } kind;
  {
    BodyParseTurn turn(req.body);
    if (!turn.status().ok()) return ErrorResponse(turn.status());
    Result<nlohmann::json> parsed = ParseJsonLimited(req.body, "", RequestJsonLimits());
    if (!parsed.ok()) {
      kind = kChat;  // the usual malformed-JSON 400
    } else if (parsed->is_object() && parsed->contains("messages")) {
      kind = kChat;
    } else if (parsed->is_object() && parsed->contains("prompt")) {
      kind = kCompletion;
    } else {
      kind = kNeither;
    }
  }
  if (kind == kChat) return ChatCompletions(m, req);
  if (kind == kCompletion) return Completions(m, req);
  return ErrorResponse(InvalidArgument(
      "Cannot find suitable handler for request. Expected one of: ChatCompletionRequest "
      "(\"messages\"), CompletionRequest (\"prompt\")"));
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Request Entity Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "";
  }
}

// What every route shares: CORS, X-Request-Id and the access log.
http::Handler Frame(const ServeOptions* o, const std::function<void(std::string_view)>* log,
                    http::Handler inner) {
  return [=](const http::ServerRequest& req) -> http::ServerResponse {
    http::ServerResponse resp =
        IsPreflight(req) ? PreflightResponse(o->cors, req)
        : req.method == "OPTIONS"
            ? http::ServerResponse::Json(405, R"({"detail":"Method Not Allowed"})")
            : inner(req);
    if (!IsPreflight(req)) AddCorsHeaders(o->cors, req, &resp);
    if (o->enable_request_id_headers) {
      auto id = req.Header("X-Request-Id");
      resp.headers.emplace_back("X-Request-Id", id ? std::string(*id) : RandomId(""));
    }
    if (o->access_log && std::find(o->access_log_exclude.begin(), o->access_log_exclude.end(),
                                   req.path) == o->access_log_exclude.end()) {
      (*log)(fmt::format("{}:{} - \"{} {} HTTP/1.1\" {} {}", req.remote_addr, req.remote_port,
                         req.method, req.path, resp.status, Reason(resp.status)));
    }
    return resp;
  };
}

using LogFn = std::function<void(std::string_view)>;

// Fixed allocator thresholds instead of glibc's adaptive ones, which rise to the largest block
// freed (up to 32 MiB) so request bodies and parse buffers end up in the worker threads' arenas
// and stay resident there: hostile wide bodies took 422 MiB of RSS with the adaptive
// thresholds, 246 MiB with these (2 parses at a time of 3 MB bodies from 20 clients).
void TuneAllocator() {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 4 << 20);
}

http::ServerOptions HttpOptions(const ServeOptions& o) {
  http::ServerOptions so = o.http;
  so.host = o.host;
  so.port = o.port;
  // A generation holds its worker until it ends (streamed or not): a worker for every request the
  // scheduler may run or queue, so its own bounded queue (503 beyond max_waiting) is the limit
  // that triggers, plus a few for the quick endpoints.
  so.threads = static_cast<size_t>(std::max(1, o.model.max_num_seqs) +
                                   std::max(0, o.model.max_waiting) + 16);
  so.tls_cert_file = o.tls_cert_file;
  so.tls_key_file = o.tls_key_file;
  return so;
}

// Puts every route at its path and under --root-path, with an OPTIONS twin for CORS preflights.
class Router {
 public:
  Router(const ServeOptions* o, const LogFn* log, http::Server* server)
      : o_(o), log_(log), server_(server), root_(o->root_path) {
    while (!root_.empty() && root_.back() == '/') root_.pop_back();
    if (!root_.empty() && root_[0] != '/') root_ = "/" + root_;
  }

  // A route answered on a worker.
  void Route(const std::string& method, const std::string& path, http::Handler h) {
    Add(false, method, path, std::move(h));
  }
  // Probes and metrics answer on the I/O threads, even when every worker is busy.
  void Probe(const std::string& method, const std::string& path, http::Handler h) {
    Add(true, method, path, std::move(h));
  }

 private:
  void Add(bool on_io_thread, const std::string& method, const std::string& path, http::Handler h) {
    http::Handler framed = Frame(o_, log_, std::move(h));
    std::vector<std::string> paths = {path};
    if (!root_.empty()) paths.push_back(root_ + path);
    for (const std::string& p : paths) {
      if (on_io_thread) {
        server_->HandleInline(method, p, framed);
      } else {
        server_->Handle(method, p, framed);
      }
      if (preflight_paths_.insert(p).second) server_->HandleInline("OPTIONS", p, framed);
    }
  }

  const ServeOptions* o_;
  const LogFn* log_;
  http::Server* server_;
  std::string root_;
  std::set<std::string> preflight_paths_;
};

// vLLM's routes (openai_server.h).
void AddRoutes(const ServeOptions& o, const LogFn* log, State* state, http::Server* server) {
  Router r(&o, log, server);
  const std::vector<std::string>* keys = &o.api_keys;
  const bool track = o.enable_server_load_tracking;
  r.Route("GET", "/v1/models",
          Api(state, keys, false, track, [](ModelContext& m, const auto&) { return Models(m); }));
  r.Route("POST", "/v1/chat/completions", Api(state, keys, true, track, ChatCompletions));
  r.Route("POST", "/v1/completions", Api(state, keys, true, track, Completions));
  r.Route("POST", "/invocations", Api(state, keys, true, track, Invocations));
  r.Route("POST", "/tokenize", Api(state, keys, false, track, Tokenize));
  r.Route("POST", "/detokenize", Api(state, keys, false, track, Detokenize));
  const http::Handler health = [state](const http::ServerRequest&) {
    return http::ServerResponse::Text(state->model.load() ? 200 : 503, "");
  };
  r.Probe("GET", "/health", health);
  r.Probe("GET", "/ping", health);
  r.Probe("POST", "/ping", health);
  r.Probe("GET", "/load", [state](const http::ServerRequest&) {
    return http::ServerResponse::Json(
        200, nlohmann::json{{"server_load", state->server_load.load()}}.dump());
  });
  r.Probe("GET", "/version", [](const http::ServerRequest&) {
    return http::ServerResponse::Json(200,
                                      nlohmann::json{{"version", MODELCAR_SERVE_VERSION}}.dump());
  });
  r.Probe("GET", "/metrics", [state, server](const http::ServerRequest&) {
    ModelContext* m = state->model.load();
    http::ServerResponse resp = http::ServerResponse::Text(
        200, (m ? m->metrics().Render() : "") + http::ServerStatsText(server->stats()));
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return resp;
  });
}

const char* SignalName(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

struct Loaded {
  Result<std::unique_ptr<ModelContext>> ctx = Unavailable("not loaded");
  Clock::time_point t_load, t_ready;  // prepare done, load done
};

// Prepares (pull) and loads on a loader thread, so the main thread keeps waiting for signals;
// the loader wakes it when done. False when SIGINT/SIGTERM came first (the prepare cancelled).
bool LoadWhileListening(const ServeOptions& o, const LogFn& log, http::ShutdownSignals& signals,
                        Loaded* loaded) {
  std::thread loader([&] {
    ModelOptions mo = o.model;
    if (!mo.log) mo.log = log;
    Status st = o.prepare ? o.prepare(&mo) : Status();
    loaded->t_load = Clock::now();
    if (st.ok()) {
      loaded->ctx = ModelContext::Load(mo);
    } else {
      loaded->ctx = st;
    }
    loaded->t_ready = Clock::now();
    http::ShutdownSignals::Wake();
  });
  const int sig = signals.Wait();
  if (sig != http::ShutdownSignals::kWoken) {
    log(std::string("received ") + SignalName(sig) + " while loading: stopping");
    if (o.cancel_prepare) o.cancel_prepare();
    loader.join();
    return false;
  }
  loader.join();
  return true;
}

void LogReady(const LogFn& log, Clock::time_point t0, const Loaded& loaded) {
  const ModelContext& ctx = **loaded.ctx;
  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  char line[512];
  std::snprintf(line, sizeof(line),
                "ready in %.3f s from start (load %.3f s: weights %.3f s, tokenizer %.3f s in "
                "parallel, chat template %.3f s): %s, max_model_len %d, fingerprint %s",
                secs(loaded.t_ready - t0), secs(loaded.t_ready - loaded.t_load),
                ctx.weights_seconds(), ctx.tokenizer_seconds(), ctx.template_seconds(),
                ctx.served_name().c_str(), ctx.max_model_len(), ctx.fingerprint().c_str());
  log(line);
}

// Serves until SIGINT/SIGTERM or, with idle_timeout_s, until no API request has been in flight
// for that long (a watchdog thread checks every 100 ms).
void ServeUntilShutdown(const ServeOptions& o, const LogFn& log, http::ShutdownSignals& signals,
                        const State& state) {
  std::atomic<bool> idle_exit{false}, done{false};
  std::thread watchdog;
  if (o.idle_timeout_s > 0) {
    watchdog = std::thread([&] {
      const int64_t limit_ns = int64_t{o.idle_timeout_s} * 1000000000;
      while (!done) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        int64_t idle = Clock::now().time_since_epoch().count() - state.last_activity_ns.load();
        if (state.in_flight.load() == 0 && idle >= limit_ns) {
          idle_exit = true;
          http::ShutdownSignals::Wake();
          return;
        }
      }
    });
  }
  int sig;
  do {
    sig = signals.Wait();
  } while (sig == http::ShutdownSignals::kWoken && !idle_exit);
  done = true;
  if (watchdog.joinable()) watchdog.join();
  if (idle_exit) {
    log(fmt::format("no request for {} s: exiting (idle timeout)", o.idle_timeout_s));
  } else {
    log(std::string("received ") + SignalName(sig) + ": shutting down");
  }
}

}  // namespace

Status RunServe(const ServeOptions& o) {
  const auto t0 = Clock::now();
  TuneAllocator();
  const LogFn log =
      o.log ? o.log : [](std::string_view line) { LogInfo("modelcar serve: {}", line); };
  http::ShutdownSignals signals;
  State state;
  state.Touch();
  http::Server server(HttpOptions(o));
  AddRoutes(o, &log, &state, &server);
  RETURN_IF_ERROR(server.Start());
  log(fmt::format("listening on {}://{}:{}", o.tls_cert_file.empty() ? "http" : "https", o.host,
                  server.port()));

  Loaded loaded;
  if (!LoadWhileListening(o, log, signals, &loaded)) {
    server.Stop();
    return Status();
  }
  if (!loaded.ctx.ok()) {
    server.Stop();
    return loaded.ctx.status();
  }
  state.model = loaded.ctx->get();
  state.Touch();
  LogReady(log, t0, loaded);

  ServeUntilShutdown(o, log, signals, state);
  state.model = nullptr;
  (*loaded.ctx)->scheduler().Stop();  // open streams end with "abort" and return
  server.Stop();
  return Status();
}

}  // namespace modelcar::serve
