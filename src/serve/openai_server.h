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
// Routes: GET /v1/models, POST /v1/chat/completions, POST /v1/completions, POST /tokenize,
// POST /detokenize, GET /health, GET /version, GET /metrics. With api_key, the /v1/* and
// tokenizer routes need "Authorization: Bearer <api_key>" (401 otherwise).
#ifndef MODELCAR_SERVE_OPENAI_SERVER_H_
#define MODELCAR_SERVE_OPENAI_SERVER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "serve/model_context.h"

namespace modelcar::serve {

struct ServeOptions {
  ModelOptions model;
  std::string host = "0.0.0.0";
  int port = 8000;
  std::string api_key;
  int idle_timeout_s = 0;  // 0: never
  size_t max_body_bytes = size_t{8} << 20;
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
