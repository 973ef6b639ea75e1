// `modelcar serve`'s command line after parsing, turned into ServeOptions: the vLLM flags whose
// values vLLM itself interprets (human-readable ints, JSON lists, log levels, `--seed None`), the
// short forms CLI11 cannot register (`-tp 2`, `-O3`), the positional MODEL, the ignored and
// refused flags of vllm_flags.h (one warning each, or an error naming the flag), and the
// defaults that follow vLLM (the model id is MODEL as given). The CLI (src/cli/serve_cmd.cc)
// registers the flags and fills ServeFlags; everything it then decides lives here, without CLI11.
//
// Pure functions; thread-compatible.
#ifndef MODELCAR_SERVE_SERVE_FLAGS_H_
#define MODELCAR_SERVE_SERVE_FLAGS_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "serve/openai_server.h"

namespace modelcar::serve {

// The flags as given; empty strings: not given.
struct ServeFlags {
  std::vector<std::string> served_names;
  std::string max_model_len;           // 4096, 4k, 4K, auto, -1
  std::string max_num_batched_tokens;  // human-readable int
  std::string kv_cache_memory_bytes;   // human-readable int; wins over the CLI's --kv-cache-memory
  std::string allowed_origins, allowed_methods, allowed_headers;  // JSON lists of strings
  std::string uvicorn_log_level = "info";
  bool disable_access_log = false;
  std::string access_log_exclude;  // comma-separated paths
  bool log_requests = false, disable_log_requests = false;
  std::string seed;                // an int, or None
  std::string precision = "fast";  // modelcar's --precision: fast | exact
  bool enable_auto_tool_choice = false;
  std::string tool_call_parser;
  bool exclude_tools_when_tool_choice_none = false;
  // The HTTP limit flags given (serve/http_limit_flags.h): flag name -> value as typed.
  std::map<std::string, std::string> http_limits;
  // The vLLM flags of vllm_flags.h's tables that were given (long or short form), with the value
  // (value flags) or the switch state (false for --no-<name>).
  std::set<std::string> table_given;
  std::map<std::string, std::string> table_value;
  std::map<std::string, bool> table_switch;
};

// Sorts the arguments the CLI parser left over: the short forms of the tables (`-tp 2`, `-tp=2`,
// `-O3`) go to `flags` as given, one non-flag argument is the positional MODEL; anything else
// fails ("unrecognized argument: --foo", or an unexpected second MODEL).
Status TakeRemainingArgs(const std::vector<std::string>& rest, ServeFlags* flags,
                         std::string* model);

// The table flags given: `warn` gets one line per ignored flag ("--dtype auto has no effect:
// ...; ignored"); a refused flag with a harmful value is an InvalidArgument naming it.
Status CheckTableFlags(const ServeFlags& flags, const std::function<void(std::string)>& warn);

// Applies `flags` to `options` (after CheckTableFlags): served names, limits, seed, CORS lists,
// access log, request log, tool flags, HTTP limits; fails naming the flag whose value is wrong.
// `api_key_env`: VLLM_API_KEY's value (used when no --api-key was given).
Status ApplyServeFlags(const ServeFlags& flags, std::string_view api_key_env,
                       ServeOptions* options);

// "org/name" that is not an existing path: what `vllm serve` would download from a hub.
bool LooksLikeHubId(const std::string& model);
// The model id of oci://REF without --served-model-name: the repository's last path element.
std::string OciModelName(const std::string& ref);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_SERVE_FLAGS_H_
