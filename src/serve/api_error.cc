#include "serve/api_error.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace modelcar::serve {

ApiError ToApiError(const Status& status, std::string_view param) {
  ApiError e;
  e.message = status.message();
  e.param = std::string(param);
  switch (status.code()) {
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition:
      e.http_status = 400;
      e.type = "BadRequestError";
      break;
    case Code::kNotFound:
      e.http_status = 404;
      e.type = "NotFoundError";
      break;
    case Code::kUnauthenticated:
      e.http_status = 401;
      e.type = "AuthenticationError";
      break;
    case Code::kPermissionDenied:
      e.http_status = 403;
      e.type = "PermissionDeniedError";
      break;
    case Code::kResourceExhausted:
      e.http_status = 429;
      e.type = "RateLimitError";
      break;
    case Code::kUnavailable:
      e.http_status = 503;
      e.type = "ServiceUnavailableError";
      break;
    case Code::kUnimplemented:
      e.http_status = 501;
      e.type = "NotImplementedError";
      break;
    case Code::kDeadlineExceeded:
      e.http_status = 504;
      e.type = "TimeoutError";
      break;
    default:
      e.http_status = 500;
      e.type = "InternalServerError";
      break;
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
