// OpenAI/vLLM error responses: one table from Status codes to HTTP statuses and error types, and
// the `{"error": {"message", "type", "param", "code"}}` body vLLM sends.
//
// Pure functions; thread-safe.
#ifndef MODELCAR_SERVE_API_ERROR_H_
#define MODELCAR_SERVE_API_ERROR_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::serve {

// An error ready to send: HTTP status, OpenAI error type ("BadRequestError", ...), message and
// the request parameter it concerns (empty: JSON null).
struct ApiError {
  int http_status = 500;
  std::string type = "InternalServerError";
  std::string message;
  std::string param;
};

// kInvalidArgument and kFailedPrecondition -> 400 BadRequestError, kNotFound -> 404
// NotFoundError, kUnauthenticated -> 401 AuthenticationError, kPermissionDenied -> 403
// PermissionDeniedError, kResourceExhausted -> 429 RateLimitError, kUnavailable -> 503
// ServiceUnavailableError, kUnimplemented -> 501 NotImplementedError, kDeadlineExceeded -> 504
// TimeoutError, others -> 500 InternalServerError.
ApiError ToApiError(const Status& status, std::string_view param = {});

// {"error": {"message": ..., "type": ..., "param": ..., "code": <http status>}}
std::string ErrorJson(const ApiError& error);

// vLLM's wording for requests longer than the context.
// Prompt alone too long: "This model's maximum context length is M tokens. However, your request
// has P input tokens. Please reduce the length of the input messages."
Status PromptTooLong(int max_model_len, int prompt_tokens);
// max_tokens too large: "'max_tokens' or 'max_completion_tokens' is too large: T. This model's
// maximum context length is M tokens and your request has P input tokens (T > M - P)."
Status MaxTokensTooLarge(int max_model_len, int prompt_tokens, int max_tokens);

// vLLM's "The model `NAME` does not exist." (NotFound).
Status ModelNotFound(std::string_view name);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_API_ERROR_H_
