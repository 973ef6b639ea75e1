#include "http/server_routes.h"

#include <exception>
#include <string_view>

namespace modelcar::http::internal {
namespace {

// The route table entry for `path`: the exact path, else the longest "/prefix/*" it starts with.
const std::map<std::string, Route>* FindRoutes(const RouteTable& routes, const std::string& path) {
  auto it = routes.find(path);
  if (it != routes.end()) return &it->second;
  const std::map<std::string, Route>* best = nullptr;
  size_t best_len = 0;
  for (const auto& [p, methods] : routes) {
    if (p.empty() || p.back() != '*' || (best && p.size() - 1 <= best_len)) continue;
    if (std::string_view(path).starts_with(std::string_view(p).substr(0, p.size() - 1))) {
      best = &methods;
      best_len = p.size() - 1;
    }
  }
  return best;
}

}  // namespace

RouteMatch MatchRoute(const RouteTable& routes, const std::string& method,
                      const std::string& path) {
  RouteMatch match;
  const std::map<std::string, Route>* methods = FindRoutes(routes, path);
  if (methods == nullptr) {
    match.answer = ServerResponse::Text(404, "not found: " + path + "\n");
    return match;
  }
  auto it = methods->find(method == "HEAD" ? "GET" : method);
  if (it == methods->end()) {
    std::string allow;
    for (const auto& [m, h] : *methods) allow += (allow.empty() ? "" : ", ") + m;
    match.answer = ServerResponse::Text(405, "method not allowed: " + method + " " + path + "\n");
    match.answer.headers.emplace_back("Allow", allow);
    return match;
  }
  match.route = &it->second;
  return match;
}

ServerResponse CallHandler(const Route& route, const ServerRequest& request) {
  try {
    return route.handler(request);
  } catch (const std::exception&) {
    return ServerResponse::Text(500, "internal error\n");
  }
}

}  // namespace modelcar::http::internal
