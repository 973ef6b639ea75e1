#include "serve/cors.h"

#include <algorithm>
#include <cctype>

namespace modelcar::serve {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

bool Has(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool AllOrigins(const CorsPolicy& p) { return Has(p.allowed_origins, "*"); }

bool OriginAllowed(const CorsPolicy& p, std::string_view origin) {
  return AllOrigins(p) || Has(p.allowed_origins, origin);
}

std::vector<std::string> Methods(const CorsPolicy& p) {
  if (Has(p.allowed_methods, "*")) {
    return {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};
  }
  return p.allowed_methods;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Allowed request headers, lower case, with the CORS-safelisted ones.
std::vector<std::string> Headers(const CorsPolicy& p) {
  std::vector<std::string> h = {"accept", "accept-language", "content-language", "content-type"};
  for (const std::string& x : p.allowed_headers) {
    if (!Has(h, Lower(x))) h.push_back(Lower(x));
  }
  std::sort(h.begin(), h.end());
  return h;
}

}  // namespace

bool IsPreflight(const http::ServerRequest& request) {
  return request.method == "OPTIONS" && request.Header("Origin") &&
         request.Header("Access-Control-Request-Method");
}

http::ServerResponse PreflightResponse(const CorsPolicy& p, const http::ServerRequest& request) {
  const std::string origin(*request.Header("Origin"));
  const std::string method(*request.Header("Access-Control-Request-Method"));
  auto requested_headers = request.Header("Access-Control-Request-Headers");
  const bool all_headers = Has(p.allowed_headers, "*");
  const bool explicit_origin = !AllOrigins(p) || p.allow_credentials;

  http::Headers h;
  if (!explicit_origin) {
    h.emplace_back("Access-Control-Allow-Origin", "*");
  } else {
    h.emplace_back("Vary", "Origin");
  }
  h.emplace_back("Access-Control-Allow-Methods", Join(Methods(p)));
  h.emplace_back("Access-Control-Max-Age", "600");
  if (!all_headers) h.emplace_back("Access-Control-Allow-Headers", Join(Headers(p)));
  if (p.allow_credentials) h.emplace_back("Access-Control-Allow-Credentials", "true");

  std::vector<std::string> failures;
  if (OriginAllowed(p, origin)) {
    if (explicit_origin) h.emplace_back("Access-Control-Allow-Origin", origin);
  } else {
    failures.push_back("origin");
  }
  if (!Has(Methods(p), method)) failures.push_back("method");
  if (requested_headers && all_headers) {
    h.emplace_back("Access-Control-Allow-Headers", std::string(*requested_headers));
  } else if (requested_headers) {
    const std::vector<std::string> allowed = Headers(p);
    std::string_view rest = *requested_headers;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string one = Trim(Lower(rest.substr(0, comma)));
      if (!one.empty() && !Has(allowed, one)) {
        failures.push_back("headers");
        break;
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  http::ServerResponse r =
      failures.empty() ? http::ServerResponse::Text(200, "OK")
                       : http::ServerResponse::Text(400, "Disallowed CORS " + Join(failures));
  r.headers = std::move(h);
  return r;
}

void AddCorsHeaders(const CorsPolicy& p, const http::ServerRequest& request,
                    http::ServerResponse* response) {
  auto origin = request.Header("Origin");
  if (!origin) return;
  if (AllOrigins(p) && !request.Header("Cookie")) {
    response->headers.emplace_back("Access-Control-Allow-Origin", "*");
  } else if (OriginAllowed(p, *origin)) {
    response->headers.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
    response->headers.emplace_back("Vary", "Origin");
  }
  if (p.allow_credentials)
    response->headers.emplace_back("Access-Control-Allow-Credentials", "true");
}

}  // namespace modelcar::serve
