#include "serve/api_error.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace modelcar::serve {

namespace {

struct ErrorKind {
  Code code;
  int http_status;
  const char* type;
};

// The Status codes an API error can carry; any other is 500 InternalServerError (ApiError's
// defaults).
constexpr ErrorKind kErrorKinds[] = {
    {Code::kInvalidArgument, 400, "BadRequestError"},
    {Code::kFailedPrecondition, 400, "BadRequestError"},
    {Code::kNotFound, 404, "NotFoundError"},
    {Code::kUnauthenticated, 401, "AuthenticationError"},
    {Code::kPermissionDenied, 403, "PermissionDeniedError"},
    {Code::kResourceExhausted, 429, "RateLimitError"},
    {Code::kUnavailable, 503, "ServiceUnavailableError"},
    {Code::kUnimplemented, 501, "NotImplementedError"},
    {Code::kDeadlineExceeded, 504, "TimeoutError"},
};

}  // namespace

ApiError ToApiError(const Status& status, std::string_view param) {
  ApiError e;
  e.message = status.message();
  e.param = std::string(param);
  for (const ErrorKind& k : kErrorKinds) {
    if (k.code == status.code()) {
      e.http_status = k.http_status;
      e.type = k.type;
    }
  }
  return e;
}

std::string ErrorJson(const ApiError& error) {
  nlohmann::ordered_json j;
  j["error"]["message"] = error.message;
  j["error"]["type"] = error.type;
  j["error"]["param"] =
      error.param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(error.param);
  j["error"]["code"] = error.http_status;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status PromptTooLong(int max_model_len, int prompt_tokens) {
  return InvalidArgument(
      fmt::format("This model's maximum context length is {} tokens. However, your request has {} "
                  "input tokens. Please reduce the length of the input messages.",
                  max_model_len, prompt_tokens));
}

Status MaxTokensTooLarge(int max_model_len, int prompt_tokens, int max_tokens) {
  std::string t = std::to_string(max_tokens), m = std::to_string(max_model_len),
              p = std::to_string(prompt_tokens);
  return InvalidArgument("'max_tokens' or 'max_completion_tokens' is too large: " + t +
                         ". This model's maximum context length is " + m +
                         " tokens and your request has " + p + " input tokens (" + t + " > " + m +
                         " - " + p + ").");
}

Status ModelNotFound(std::string_view name) {
  return NotFound("The model `" + std::string(name) + "` does not exist.");
}

}  // namespace modelcar::serve
