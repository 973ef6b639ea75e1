// `modelcar serve`'s HTTP limit flags (docs/serve.md "HTTP limits"): one table gives each flag's
// name, help, accepted range and the http::ServerOptions field it sets, so the CLI registers them
// from it and ApplyHttpLimitFlags validates them. A limit not given keeps ServeOptions' default.
// Values are vLLM's human-readable integers (ParseHumanInt: "16M" is 16 MiB, "16m" 16,000,000).
//
// Pure functions over constant data; thread-safe.
#ifndef MODELCAR_SERVE_HTTP_LIMIT_FLAGS_H_
#define MODELCAR_SERVE_HTTP_LIMIT_FLAGS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>

#include "base/status.h"
#include "http/server.h"

namespace modelcar::serve {

struct HttpLimitFlag {
  const char* name;  // "--max-connections"
  const char* help;  // what it limits and what happens beyond it
  int64_t min, max;  // accepted values, inclusive
  std::variant<size_t http::ServerOptions::*, int http::ServerOptions::*> field;
};

std::span<const HttpLimitFlag> HttpLimitFlags();

// The flag's current value in `options` (for the CLI's help: the default).
int64_t HttpLimitValue(const HttpLimitFlag& flag, const http::ServerOptions& options);

// Sets the limits given in `values` (flag name -> value as typed; empty: not given) on `options`.
// InvalidArgument naming the flag, its value and the accepted range for a value that is not a
// whole number in range.
Status ApplyHttpLimitFlags(const std::map<std::string, std::string>& values,
                           http::ServerOptions* options);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_HTTP_LIMIT_FLAGS_H_
