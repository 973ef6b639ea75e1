// CORS for the OpenAI server, as vLLM configures Starlette's CORSMiddleware from
// --allowed-origins / --allowed-methods / --allowed-headers / --allow-credentials (defaults:
// every origin, method and header; no credentials).
//
//  - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here: 200
//    "OK" with the allow headers, or 400 "Disallowed CORS origin, method, headers" naming what is
//    not allowed.
//  - Any other request with an Origin header gets Access-Control-Allow-Origin ("*" when every
//    origin is allowed, else the origin itself when it is allowed, with Vary: Origin) and, with
//    credentials, Access-Control-Allow-Credentials.
//
// Pure functions over http::ServerRequest / ServerResponse; thread-safe.
#ifndef MODELCAR_SERVE_CORS_H_
#define MODELCAR_SERVE_CORS_H_

#include <optional>
#include <string>
#include <vector>

#include "http/server.h"

namespace modelcar::serve {

struct CorsPolicy {
  std::vector<std::string> allowed_origins = {"*"};
  std::vector<std::string> allowed_methods = {"*"};
  std::vector<std::string> allowed_headers = {"*"};
  bool allow_credentials = false;
};

// True for a CORS preflight request.
bool IsPreflight(const http::ServerRequest& request);

// The answer to a preflight request. REQUIRES: IsPreflight(request).
http::ServerResponse PreflightResponse(const CorsPolicy& policy,
                                       const http::ServerRequest& request);

// Adds the CORS headers of an actual (non-preflight) request to `response`.
void AddCorsHeaders(const CorsPolicy& policy, const http::ServerRequest& request,
                    http::ServerResponse* response);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_CORS_H_
