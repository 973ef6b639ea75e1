#include "serve/openai_server.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/server.h"
#include "serve/endpoints.h"

namespace modelcar::serve {
namespace {

using Clock = std::chrono::steady_clock;

// Readiness and activity shared by the handlers and the idle watchdog.
struct State {
  std::atomic<ModelContext*> model{nullptr};
  std::atomic<int> in_flight{0};
  std::atomic<int64_t> last_activity_ns{0};

  void Touch() { last_activity_ns = Clock::now().time_since_epoch().count(); }
};

// Counts a request as in flight from its start until its response (streamed body included) is
// destroyed.
struct InFlight {
  explicit InFlight(State* s) : state(s) {
    ++state->in_flight;
    state->Touch();
  }
  ~InFlight() {
    state->Touch();
    --state->in_flight;
  }
  State* state;
};

bool Authorized(const http::ServerRequest& req, const std::string& key) {
  auto h = req.Header("Authorization");
  if (!h) return false;
  std::string_view v = *h;
  constexpr std::string_view kBearer = "Bearer ";
  if (v.size() < kBearer.size() || v.substr(0, kBearer.size()) != kBearer) return false;
  std::string_view got = v.substr(kBearer.size());
  // Length and content compared without an early exit.
  unsigned diff = got.size() != key.size();
  for (size_t i = 0; i < key.size(); ++i) diff |= key[i] ^ (i < got.size() ? got[i] : 0);
  return diff == 0;
}

using ModelHandler = std::function<http::ServerResponse(ModelContext&, const http::ServerRequest&)>;

http::Handler Api(State* state, const std::string* api_key, ModelHandler fn) {
  return [state, api_key, fn](const http::ServerRequest& req) -> http::ServerResponse {
    if (!api_key->empty() && !Authorized(req, *api_key)) {
      return ErrorResponse(
          Unauthenticated("Unauthorized: a valid 'Authorization: Bearer <key>' "
                          "header is required"));
    }
    ModelContext* m = state->model.load();
    if (!m) return ErrorResponse(Unavailable("the model is still loading"));
    auto guard = std::make_shared<InFlight>(state);
    http::ServerResponse resp = fn(*m, req);
    if (resp.stream) {
      resp.stream = [inner = std::move(resp.stream), guard](http::StreamSink& sink) {
        inner(sink);
      };
    }
    return resp;
  };
}

}  // namespace

Status RunServe(const ServeOptions& o) {
  const auto t0 = Clock::now();
  auto log = o.log ? o.log : [](std::string_view line) {
    std::fprintf(stderr, "modelcar serve: %.*s\n", static_cast<int>(line.size()), line.data());
  };
  http::ShutdownSignals signals;
  State state;
  state.Touch();

  http::ServerOptions so;
  so.host = o.host;
  so.port = o.port;
  // A generation holds its worker until it ends (streamed or not): a worker for every request the
  // scheduler may run or queue, so its own bounded queue (503 beyond max_waiting) is the limit
  // that triggers, plus a few for the quick endpoints.
  so.threads = static_cast<size_t>(std::max(1, o.model.max_num_seqs) +
                                   std::max(0, o.model.max_waiting) + 16);
  so.max_body_bytes = o.max_body_bytes;
  so.write_timeout_s = 60;
  http::Server server(so);

  const std::string api_key = o.api_key;
  server.Handle("GET", "/v1/models",
                Api(&state, &api_key, [](ModelContext& m, const auto&) { return Models(m); }));
  server.Handle("POST", "/v1/chat/completions", Api(&state, &api_key, ChatCompletions));
  server.Handle("POST", "/v1/completions", Api(&state, &api_key, Completions));
  server.Handle("POST", "/tokenize", Api(&state, &api_key, Tokenize));
  server.Handle("POST", "/detokenize", Api(&state, &api_key, Detokenize));
  // Probes and metrics answer on the I/O threads, even when every worker is busy.
  server.HandleInline("GET", "/health", [&state](const http::ServerRequest&) {
    return http::ServerResponse::Text(state.model.load() ? 200 : 503, "");
  });
  server.HandleInline("GET", "/version", [](const http::ServerRequest&) {
    return http::ServerResponse::Json(200,
                                      nlohmann::json{{"version", MODELCAR_SERVE_VERSION}}.dump());
  });
  server.HandleInline("GET", "/metrics", [&state](const http::ServerRequest&) {
    ModelContext* m = state.model.load();
    http::ServerResponse r = http::ServerResponse::Text(200, m ? m->metrics().Render() : "");
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });

  RETURN_IF_ERROR(server.Start());
  log("listening on http://" + o.host + ":" + std::to_string(server.port()));

  // Prepare (pull) and load on a loader thread, so the main thread keeps waiting for signals;
  // the loader wakes it when done.
  Result<std::unique_ptr<ModelContext>> ctx = Unavailable("not loaded");
  Clock::time_point t_load, t_ready;
  std::thread loader([&] {
    ModelOptions mo = o.model;
    Status st = o.prepare ? o.prepare(&mo) : Status();
    t_load = Clock::now();
    if (st.ok()) {
      ctx = ModelContext::Load(mo);
    } else {
      ctx = st;
    }
    t_ready = Clock::now();
    http::ShutdownSignals::Wake();
  });
  int sig = signals.Wait();
  if (sig != http::ShutdownSignals::kWoken) {
    log(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
        " while loading: stopping");
    if (o.cancel_prepare) o.cancel_prepare();
    loader.join();
    server.Stop();
    return Status();
  }
  loader.join();
  if (!ctx.ok()) {
    server.Stop();
    return ctx.status();
  }
  state.model = ctx->get();
  state.Touch();
  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  char line[512];
  std::snprintf(line, sizeof(line),
                "ready in %.3f s from start (load %.3f s: weights %.3f s, tokenizer %.3f s in "
                "parallel, chat template %.3f s): %s, max_model_len %d, fingerprint %s",
                secs(t_ready - t0), secs(t_ready - t_load), (*ctx)->weights_seconds(),
                (*ctx)->tokenizer_seconds(), (*ctx)->template_seconds(),
                (*ctx)->served_name().c_str(), (*ctx)->max_model_len(),
                (*ctx)->fingerprint().c_str());
  log(line);

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
  do {
    sig = signals.Wait();
  } while (sig == http::ShutdownSignals::kWoken && !idle_exit);
  done = true;
  if (watchdog.joinable()) watchdog.join();
  if (idle_exit) {
    log("no request for " + std::to_string(o.idle_timeout_s) + " s: exiting (idle timeout)");
  } else {
    log(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": shutting down");
  }
  state.model = nullptr;
  (*ctx)->scheduler().Stop();  // open streams end with "abort" and return
  server.Stop();
  return Status();
}

}  // namespace modelcar::serve
