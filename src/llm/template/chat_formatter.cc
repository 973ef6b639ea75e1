#include "llm/template/chat_formatter.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/json.h"

namespace modelcar {
namespace {

using OJson = nlohmann::ordered_json;

// A special token is a string or an AddedToken object {"content": ...}; null means unset.
bool TokenString(const OJson& j, std::string* out) {
  if (j.is_string()) {
    *out = j.get<std::string>();
    return true;
  }
  if (j.is_object() && j.contains("content") && j["content"].is_string()) {
    *out = j["content"].get<std::string>();
    return true;
  }
  return false;
}

}  // namespace

Result<ChatFormatter> ChatFormatter::FromConfig(std::string_view tokenizer_config_json,
                                                std::string_view jinja_override,
                                                std::string_view what) {
  OJson cfg;
  try {
    cfg = OJson::parse(tokenizer_config_json);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(what) + ": not valid JSON: " + PrintableAscii(e.what()));
  }
  if (!cfg.is_object()) return InvalidArgument(std::string(what) + ": not a JSON object");
  ChatFormatter f;
  std::map<std::string, std::string> sources;
  if (!jinja_override.empty()) {
    sources["default"] = std::string(jinja_override);
  } else if (cfg.contains("chat_template") && !cfg["chat_template"].is_null()) {
    const OJson& ct = cfg["chat_template"];
    if (ct.is_string()) {
      sources["default"] = ct.get<std::string>();
    } else if (ct.is_array()) {
      for (const OJson& t : ct) {
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string() ||
            !t.contains("template") || !t["template"].is_string()) {
          return InvalidArgument(std::string(what) +
                                 ": chat_template list entries need string \"name\" and "
                                 "\"template\"");
        }
        sources[t["name"].get<std::string>()] = t["template"].get<std::string>();
      }
    } else {
      return InvalidArgument(std::string(what) + ": chat_template must be a string or a list");
    }
  }
  if (sources.empty()) {
    return NotFound(std::string(what) + ": the model has no chat_template");
  }
  for (const auto& [name, src] : sources) {
    Result<ChatTemplate> t = ChatTemplate::Parse(src);
    if (!t.ok()) {
      return t.status().WithContext(std::string(what) + " (template '" + name + "')");
    }
    f.templates_.emplace(name, std::move(*t));
  }
  for (const char* name : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                           "cls_token", "mask_token"}) {
    std::string s;
    if (cfg.contains(name) && TokenString(cfg[name], &s)) f.special_.emplace_back(name, s);
  }
  if (cfg.contains("additional_special_tokens") && cfg["additional_special_tokens"].is_array()) {
    f.has_additional_ = true;
    for (const OJson& t : cfg["additional_special_tokens"]) {
      std::string s;
      if (TokenString(t, &s)) f.additional_special_.push_back(s);
    }
  }
  return f;
}

Result<ChatFormatter> ChatFormatter::Load(const std::string& model_dir) {
  std::string cfg_path = model_dir + "/tokenizer_config.json";
  ASSIGN_OR_RETURN(std::string cfg, ReadFile(cfg_path, 64u << 20));
  std::string jinja;
  std::string jinja_path = model_dir + "/chat_template.jinja";
  struct stat st;
  if (::stat(jinja_path.c_str(), &st) == 0) {
    ASSIGN_OR_RETURN(jinja, ReadFile(jinja_path, 16u << 20));
    if (jinja.empty()) return InvalidArgument(jinja_path + ": empty chat template");
  }
  return FromConfig(cfg, jinja, jinja.empty() ? cfg_path : jinja_path);
}

Result<std::string> ChatFormatter::Apply(const OJson& messages, const OJson& tools,
                                         bool add_generation_prompt, const OJson& kwargs,
                                         std::string_view template_name) const {
  if (!messages.is_array()) return InvalidArgument("messages must be a JSON array");
  if (!tools.is_null() && !tools.is_array()) return InvalidArgument("tools must be a JSON array");
  if (!kwargs.is_null() && !kwargs.is_object()) {
    return InvalidArgument("chat_template_kwargs must be a JSON object");
  }
  const ChatTemplate* t = nullptr;
  if (!template_name.empty()) {
    auto it = templates_.find(std::string(template_name));
    if (it == templates_.end()) {
      return NotFound("no chat template named '" + std::string(template_name) + "'");
    }
    t = &it->second;
  } else if (!tools.is_null() && templates_.count("tool_use")) {
    t = &templates_.at("tool_use");
  } else if (templates_.count("default")) {
    t = &templates_.at("default");
  } else {
    return NotFound("the model's chat templates have no 'default' (names: " + [&] {
      std::string s;
      for (const auto& n : TemplateNames()) s += (s.empty() ? "" : ", ") + n;
      return s;
    }() + ")");
  }
  OJson ctx = OJson::object();
  for (const auto& [k, v] : special_) ctx[k] = v;
  if (has_additional_) ctx["additional_special_tokens"] = additional_special_;
  ctx["documents"] = nullptr;
  if (kwargs.is_object()) {
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
      const std::string& k = it.key();
      if (k == "messages" || k == "tools" || k == "add_generation_prompt") {
        return InvalidArgument("chat_template_kwargs may not set '" + k + "'");
      }
      ctx[k] = it.value();
    }
  }
  ctx["messages"] = messages;
  ctx["tools"] = tools;
  ctx["add_generation_prompt"] = add_generation_prompt;
  return t->Render(ctx);
}

std::vector<std::string> ChatFormatter::TemplateNames() const {
  std::vector<std::string> names;
  for (const auto& [n, t] : templates_) names.push_back(n);
  return names;
}

std::string ChatFormatter::Special(const std::string& name) const {
  for (const auto& [k, v] : special_)
    if (k == name) return v;
  return "";
}

}  // namespace modelcar
