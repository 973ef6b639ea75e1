// The server's route table (internal to the http module): exact method+path routes and
// "/prefix/*" routes, and what a request gets when none fits.
#ifndef MODELCAR_HTTP_SERVER_ROUTES_H_
#define MODELCAR_HTTP_SERVER_ROUTES_H_

#include <map>
#include <string>

#include "http/server.h"

namespace modelcar::http::internal {

struct Route {
  Handler handler;
  bool on_io_thread = false;  // HandleInline: answered without a worker
};
using RouteTable = std::map<std::string, std::map<std::string, Route>>;  // path -> method -> route

// The route for `method` `path` (HEAD takes the GET route): the exact path, else the longest
// "/prefix/*" the path starts with. Without one, `answer` is the server's own: 404 for an
// unknown path, 405 with an Allow header for a method the path has no route for.
struct RouteMatch {
  const Route* route = nullptr;  // points into the table
  ServerResponse answer;         // when route is null
};
RouteMatch MatchRoute(const RouteTable& routes, const std::string& method, const std::string& path);

// The route's handler; an exception it throws becomes a 500.
ServerResponse CallHandler(const Route& route, const ServerRequest& request);

}  // namespace modelcar::http::internal

#endif  // MODELCAR_HTTP_SERVER_ROUTES_H_
