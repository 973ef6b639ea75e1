// /v1/models, /tokenize, /detokenize and the error response helper.
#include <fmt/format.h>

#include "serve/api_error.h"
#include "serve/endpoints.h"
#include "serve/response.h"

namespace modelcar::serve {

http::ServerResponse ErrorResponse(const Status& status, std::string_view param) {
  ApiError e = ToApiError(status, param);
  return http::ServerResponse::Json(e.http_status, ErrorJson(e));
}

std::string ResponseId(const http::ServerRequest& req, const std::string& request_id,
                       std::string_view prefix) {
  if (auto h = req.Header("X-Request-Id")) return std::string(prefix) + std::string(*h);
  if (!request_id.empty()) return std::string(prefix) + request_id;
  return RandomId(prefix);
}

http::ServerResponse Models(ModelContext& m) {
  return http::ServerResponse::Json(
      200, ModelsJson(m.served_names(), m.model_dir(), m.created(), m.max_model_len()));
}

namespace {

Result<std::vector<int32_t>> ChatTokens(const ModelContext& m, const TokenizeRequest& r) {
  ChatPromptInput in;
  in.messages_json = r.messages_json;
  in.tools_json = r.tools_json;
  in.kwargs_json = r.chat_template_kwargs_json;
  in.add_generation_prompt = r.add_generation_prompt;
  in.add_special_tokens = r.add_special_tokens;
  ASSIGN_OR_RETURN(ChatPrompt p, m.RenderChat(in));
  return std::move(p.tokens);
}

}  // namespace

http::ServerResponse Tokenize(ModelContext& m, const http::ServerRequest& req) {
  std::string param;
  auto r = ParseTokenizeRequest(req.body, &param);
  if (!r.ok()) return ErrorResponse(r.status(), param);
  if (Status s = m.CheckModel(r->model); !s.ok()) return ErrorResponse(s, "model");
  Result<std::vector<int32_t>> ids =
      r->is_chat ? ChatTokens(m, *r) : m.tokenizer().Encode(r->prompt, /*parse_special=*/true);
  if (!ids.ok()) return ErrorResponse(ids.status(), r->is_chat ? "messages" : "prompt");
  if (!r->is_chat && r->add_special_tokens) *ids = m.WithSpecialTokens(std::move(*ids));
  std::vector<std::string> strs;
  if (r->return_token_strs) {
    for (int32_t id : *ids) strs.emplace_back(m.tokenizer().TokenText(id));
  }
  return http::ServerResponse::Json(
      200, TokenizeJson(*ids, m.max_model_len(), r->return_token_strs ? &strs : nullptr));
}

http::ServerResponse Detokenize(ModelContext& m, const http::ServerRequest& req) {
  std::string param;
  auto r = ParseDetokenizeRequest(req.body, &param);
  if (!r.ok()) return ErrorResponse(r.status(), param);
  if (Status s = m.CheckModel(r->model); !s.ok()) return ErrorResponse(s, "model");
  for (int32_t t : r->tokens) {
    if (t >= m.tokenizer().vocab_size()) {
      return ErrorResponse(InvalidArgument(fmt::format("token id {} is out of vocabulary", t)),
                           "tokens");
    }
  }
  return http::ServerResponse::Json(200, DetokenizeJson(m.tokenizer().Decode(r->tokens)));
}

}  // namespace modelcar::serve
