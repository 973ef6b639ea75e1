// The OpenAI-compatible endpoints as functions of (model, request) -> response. The routing,
// authentication, readiness and idle tracking live in openai_server.h.
//
// Generation endpoints validate, render, tokenize and queue the request before answering, so
// every error (400/404/503) has a proper status; the body is then produced by a streaming
// callback on the worker thread. A client that goes away is noticed on the next write (SSE
// chunks, or one space of JSON whitespace per second for non-streaming answers) and its
// sequences are cancelled.
//
// Thread safety: every function may run concurrently; `model` must outlive the responses.
#ifndef MODELCAR_SERVE_ENDPOINTS_H_
#define MODELCAR_SERVE_ENDPOINTS_H_

#include <string_view>

#include "base/status.h"
#include "http/server.h"
#include "serve/model_context.h"

namespace modelcar::serve {

// A JSON error response ({"error": {...}}) for `status`.
http::ServerResponse ErrorResponse(const Status& status, std::string_view param = {});

// vLLM's response id: `prefix` + the X-Request-Id header, else the body's request_id, else 32
// random hex digits.
std::string ResponseId(const http::ServerRequest& request, const std::string& request_id,
                       std::string_view prefix);

http::ServerResponse ChatCompletions(ModelContext& model, const http::ServerRequest& request);
http::ServerResponse Completions(ModelContext& model, const http::ServerRequest& request);
http::ServerResponse Tokenize(ModelContext& model, const http::ServerRequest& request);
http::ServerResponse Detokenize(ModelContext& model, const http::ServerRequest& request);
http::ServerResponse Models(ModelContext& model);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_ENDPOINTS_H_
