// Internal to serve/request*.cc: typed field readers over an already parsed JSON body. A bad value
// throws BadParam, which the public Parse* functions turn into InvalidArgument naming the field.
#ifndef MODELCAR_SERVE_REQUEST_JSON_H_
#define MODELCAR_SERVE_REQUEST_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "serve/request.h"

namespace modelcar::serve::request_json {

using json = nlohmann::ordered_json;

struct BadParam {
  std::string param;
  std::string message;
};

[[noreturn]] void Fail(std::string param, std::string message);

// The member `key`, or nullptr when absent or JSON null.
const json* Find(const json& j, const char* key);
std::optional<double> Number(const json& j, const char* key, double lo, double hi,
                             const char* range);
std::optional<int64_t> Integer(const json& j, const char* key, int64_t lo, int64_t hi);
std::optional<bool> Bool(const json& j, const char* key);
std::optional<std::string> String(const json& j, const char* key);
std::vector<int32_t> TokenList(const json& v, const char* key);
// A field that must be absent, null or equal to its no-op value (`is_default`).
void RefuseUnless(const json& j, const char* key, bool is_default, const std::string& why);

// Sampling fields of chat and completions, with `d` for the fields the body leaves out.
void ParseSampling(const json& j, const RequestDefaults& d, SamplingOptions* s);
// Output-side fields of both endpoints (request_id, truncation, token ids, ...) and the vLLM
// fields this server refuses. `chat` selects the chat-only refusals.
void ParseExtras(const json& j, const RequestDefaults& d, bool chat, RequestExtras* e);
// response_format and structured_outputs (vLLM's validation and wording).
void ParseStructured(const json& j, StructuredOutput* so);
// stream / stream_options.
void ParseStream(const json& j, bool* stream, bool* include_usage, RequestExtras* e);
// vLLM's logprobs limits: `k` alternatives asked through `param` (-1: the whole vocabulary).
void CheckLogprobs(int k, const char* param, const RequestDefaults& d);
// Fields of `j` that vLLM's request model for the endpoint does not have.
std::vector<std::string> UnknownFields(const json& j, bool chat);

}  // namespace modelcar::serve::request_json

#endif  // MODELCAR_SERVE_REQUEST_JSON_H_
