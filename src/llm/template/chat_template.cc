#include "llm/template/chat_template.h"

#include <fmt/format.h>

#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "llm/template/ast.h"
#include "llm/template/lexer.h"
#include "llm/template/parser.h"
#include "llm/template/renderer.h"

namespace modelcar {

struct ChatTemplate::Parsed {
  tmpl::Body body;
};

namespace {

// Deeper JSON is refused (the interpreter's printing and comparisons recurse over values).
constexpr int kMaxJsonDepth = 256;

template <typename Json>
Result<tmpl::Value> FromJson(const Json& j, int depth) {
  using tmpl::Value;
  if (depth > kMaxJsonDepth) {
    return InvalidArgument(
        fmt::format("chat template context nested deeper than {} levels", kMaxJsonDepth));
  }
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value(tmpl::None{});
    case nlohmann::json::value_t::boolean:
      return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) {
        ASSIGN_OR_RETURN(Value v, FromJson(x, depth + 1));
        items.push_back(std::move(v));
      }
      return Value::MakeList(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value d = Value::MakeDict();
      d.as_dict().items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) {
        ASSIGN_OR_RETURN(Value v, FromJson(it.value(), depth + 1));
        d.as_dict().Append(it.key(), std::move(v));
      }
      return d;
    }
    default:
      return Value(tmpl::None{});
  }
}

template <typename Json>
Result<std::string> RenderWith(const tmpl::Body& body, const Json& context) {
  if (!context.is_object()) return InvalidArgument("chat template context must be a JSON object");
  auto root = std::make_shared<tmpl::Dict>();
  for (auto it = context.begin(); it != context.end(); ++it) {
    ASSIGN_OR_RETURN(tmpl::Value v, FromJson(it.value(), 1));
    root->Set(it.key(), std::move(v));
  }
  Result<std::string> r = tmpl::RenderBody(body, std::move(root));
  if (!r.ok()) return r.status().WithContext("chat template");
  return r;
}

// Process-wide cache of parsed templates (servers render the same few templates many times).
class Cache {
 public:
  Result<ChatTemplate> Get(std::string_view source) {
    std::string key(source);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = map_.find(key);
      if (it != map_.end()) return it->second;
    }
    ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::Parse(source));
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.size() >= kMaxEntries) {
      map_.erase(order_.front());
      order_.pop_front();
    }
    if (map_.emplace(key, t).second) order_.push_back(key);
    return t;
  }

 private:
  static constexpr size_t kMaxEntries = 16;
  std::mutex mu_;
  std::unordered_map<std::string, ChatTemplate> map_;
  std::list<std::string> order_;
};

Cache& GlobalCache() {
  static Cache* c = new Cache();
  return *c;
}

}  // namespace

Result<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  Result<std::vector<tmpl::Token>> toks = tmpl::Lex(source);
  if (!toks.ok()) return toks.status().WithContext("chat template");
  Result<tmpl::Body> body = tmpl::Parse(*toks);
  if (!body.ok()) return body.status().WithContext("chat template");
  auto parsed = std::make_shared<Parsed>();
  parsed->body = std::move(*body);
  ChatTemplate t;
  t.parsed_ = std::move(parsed);
  return t;
}

Result<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context) const {
  return RenderWith(parsed_->body, context);
}

Result<std::string> ChatTemplate::Render(const nlohmann::json& context) const {
  return RenderWith(parsed_->body, context);
}

Result<std::string> RenderChatTemplate(std::string_view tmpl,
                                       const nlohmann::ordered_json& context) {
  ASSIGN_OR_RETURN(ChatTemplate t, GlobalCache().Get(tmpl));
  return t.Render(context);
}

Result<std::string> RenderChatTemplate(std::string_view tmpl, const nlohmann::json& context) {
  ASSIGN_OR_RETURN(ChatTemplate t, GlobalCache().Get(tmpl));
  return t.Render(context);
}

}  // namespace modelcar
