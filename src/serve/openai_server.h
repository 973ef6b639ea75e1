// `modelcar serve`: the OpenAI/vLLM-compatible HTTP server around a ModelContext.
//
// RunServe binds the listener first, then prepares (options.prepare: e.g. pull and mount an
// oci:// image) and loads the model on a loader thread; meanwhile GET /health answers 503 and
// the API routes a 503 JSON error ("the model is still loading"). A failed prepare or load stops
// the server and returns that error (the CLI exits non-zero); SIGINT/SIGTERM while loading calls
// options.cancel_prepare, waits for the loader and returns OK. Once loaded it logs the
// start-to-ready time, then serves until SIGINT/SIGTERM or, with
// idle_timeout_s, until no API request has been in flight for that long (then it returns OK, so
// the process exits 0 as scale-to-zero expects). It opens no socket other than its listener.
//
// Routes (vLLM's): GET /v1/models, POST /v1/chat/completions, POST /v1/completions,
// POST /invocations (SageMaker: chat when the body has "messages", else completions),
// POST /tokenize, POST /detokenize, GET /health, GET|POST /ping, GET /load ({"server_load": N}:
// generation requests in flight, counted with enable_server_load_tracking), GET /version,
// GET /metrics. With root_path, every route also answers under that prefix. With api_keys, the
// /v1/*, /invocations and tokenizer routes need "Authorization: Bearer <one of the keys>" (401
// otherwise; vLLM itself leaves /invocations and the tokenizer routes open).
//
// Every response gets CORS headers (cors.h) and, with enable_request_id_headers, X-Request-Id (the
// request's, or a new one). Each request is logged like uvicorn's access log unless access_log
// is off.
#ifndef MODELCAR_SERVE_OPENAI_SERVER_H_
#define MODELCAR_SERVE_OPENAI_SERVER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "http/server.h"
#include "serve/cors.h"
#include "serve/model_context.h"

namespace modelcar::serve {

struct ServeOptions {
  ModelOptions model;
  std::string host = "0.0.0.0";
  int port = 8000;
  std::vector<std::string> api_keys;  // any one of them is accepted; empty: no authentication
  CorsPolicy cors;
  std::string root_path;  // e.g. "/llm": routes also answer as /llm/v1/models ...
  bool enable_request_id_headers = false;
  bool enable_server_load_tracking = false;
  bool access_log = true;
  std::vector<std::string>
      access_log_exclude;                   // paths not logged (--disable-access-log-for-endpoints)
  std::string tls_cert_file, tls_key_file;  // HTTPS when both are set (--ssl-certfile/keyfile)
  int idle_timeout_s = 0;                   // 0: never
  // The HTTP server's limits (docs/serve.md "HTTP limits"; serve/http_limit_flags.h); RunServe
  // takes host, port, TLS files and worker threads from the fields above and the model options.
  http::ServerOptions http = [] {
    http::ServerOptions h;
    h.write_timeout_s = 60;  // an SSE event to a reader that stopped reading
    return h;
  }();
  // Log lines (start, ready, exit). Default: stderr.
  std::function<void(std::string_view)> log;
  // Optional, run on the loader thread after the listener is up and before the model loads; may
  // fill in model.model_dir etc. (a pull of an oci:// image). cancel_prepare (optional) is called
  // from the main thread on SIGINT/SIGTERM to make a running prepare return early.
  std::function<Status(ModelOptions*)> prepare;
  std::function<void()> cancel_prepare;
};

// Blocks until shutdown. REQUIRES: called from the main thread before other threads start
// (signals are blocked for the process).
Status RunServe(const ServeOptions& options);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_OPENAI_SERVER_H_
