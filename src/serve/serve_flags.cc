#include "serve/serve_flags.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "llm/engine/engine.h"
#include "serve/http_limit_flags.h"
#include "serve/tool_parser.h"
#include "serve/vllm_flags.h"

namespace modelcar::serve {
namespace {

// A JSON list of strings (vLLM's --allowed-origins '["https://a"]').
Result<std::vector<std::string>> JsonList(const std::string& value, const std::string& flag) {
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return InvalidArgument(flag + " must be a JSON list of strings, e.g. '[\"*\"]'");
  }
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) return InvalidArgument(flag + " must list strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

// The table flag whose short form `arg` is ("-tp", "-tp=2", "-O3"); its inline value if any.
const VllmFlag* ShortForm(const std::string& arg, std::string* inline_value) {
  for (auto table : {IgnoredVllmFlags(), RefusedVllmFlags()}) {
    for (const VllmFlag& fl : table) {
      if (!fl.alias) continue;
      const std::string al = fl.alias;
      if (arg == al || arg.rfind(al + "=", 0) == 0 ||
          (al == "-O" && arg.size() > 2 && arg.rfind("-O", 0) == 0 && arg[2] != '-')) {
        if (arg.size() > al.size()) *inline_value = arg.substr(al.size() + (arg[al.size()] == '='));
        return &fl;
      }
    }
  }
  return nullptr;
}

std::string Given(const ServeFlags& f, const VllmFlag& fl) {
  std::string given = fl.name;
  if (fl.takes_value) {
    auto it = f.table_value.find(fl.name);
    given += " " + (it == f.table_value.end() ? std::string() : it->second);
  }
  return given;
}

Result<int> BoundedInt(const std::string& value, const char* flag, int64_t min) {
  ASSIGN_OR_RETURN(int64_t v, ParseHumanInt(value, flag));
  if (v < min || v > INT32_MAX) return InvalidArgument(std::string(flag) + " out of range");
  return static_cast<int>(v);
}

}  // namespace

Status TakeRemainingArgs(const std::vector<std::string>& rest, ServeFlags* f, std::string* model) {
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    std::string value;
    if (const VllmFlag* fl = ShortForm(a, &value)) {
      if (value.empty() && fl->takes_value) {
        if (i + 1 >= rest.size()) return InvalidArgument(std::string(fl->alias) + " needs a value");
        value = rest[++i];
      }
      f->table_given.insert(fl->name);
      f->table_value[fl->name] = value;
      if (!fl->takes_value) f->table_switch[fl->name] = true;
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      return InvalidArgument("unrecognized argument: " + a +
                             " (not a vLLM serve flag modelcar knows; see `modelcar serve --help` "
                             "and docs/serve.md)");
    }
    if (!model->empty()) {
      return InvalidArgument("unexpected argument '" + a + "' (MODEL is " + *model + ")");
    }
    *model = a;
  }
  return Status();
}

Status CheckTableFlags(const ServeFlags& f, const std::function<void(std::string)>& warn) {
  for (const VllmFlag& fl : IgnoredVllmFlags()) {
    if (f.table_given.count(fl.name)) warn(Given(f, fl) + " " + fl.why + "; ignored");
  }
  for (const VllmFlag& fl : RefusedVllmFlags()) {
    if (!f.table_given.count(fl.name)) continue;
    if (fl.takes_value) {
      auto it = f.table_value.find(fl.name);
      if (it != f.table_value.end() && IsHarmlessValue(fl, it->second)) continue;
    } else {
      auto it = f.table_switch.find(fl.name);
      if (it != f.table_switch.end() && !it->second) continue;  // --no-<flag>
    }
    return InvalidArgument(Given(f, fl) + " " + fl.why);
  }
  return Status();
}

Status ApplyServeFlags(const ServeFlags& f, std::string_view api_key_env, ServeOptions* s) {
  ModelOptions& mo = s->model;
  if (!f.served_names.empty()) {
    mo.served_model_name = f.served_names[0];
    mo.extra_served_names.assign(f.served_names.begin() + 1, f.served_names.end());
  }
  if (!f.max_model_len.empty() && f.max_model_len != "auto") {
    ASSIGN_OR_RETURN(int v, BoundedInt(f.max_model_len, "--max-model-len", -1));
    mo.max_model_len = v == -1 ? 0 : v;
  }
  if (!f.max_num_batched_tokens.empty()) {
    ASSIGN_OR_RETURN(mo.max_num_batched_tokens,
                     BoundedInt(f.max_num_batched_tokens, "--max-num-batched-tokens", 1));
  }
  if (!f.kv_cache_memory_bytes.empty()) {
    ASSIGN_OR_RETURN(int64_t v, ParseHumanInt(f.kv_cache_memory_bytes, "--kv-cache-memory-bytes"));
    if (v < 1) return InvalidArgument("--kv-cache-memory-bytes must be positive");
    mo.kv_cache_bytes = static_cast<uint64_t>(v);
  }
  const auto precision = llm::ParsePrecision(f.precision);
  if (!precision) return InvalidArgument("--precision must be exact or fast");
  mo.precision = *precision;
  if (f.seed == "None" || f.seed == "none") {
    mo.seed.reset();
  } else if (!f.seed.empty()) {
    ASSIGN_OR_RETURN(int64_t v, ParseHumanInt(f.seed, "--seed"));
    mo.seed = static_cast<uint64_t>(v);
  }
  if (!f.allowed_origins.empty()) {
    ASSIGN_OR_RETURN(s->cors.allowed_origins, JsonList(f.allowed_origins, "--allowed-origins"));
  }
  if (!f.allowed_methods.empty()) {
    ASSIGN_OR_RETURN(s->cors.allowed_methods, JsonList(f.allowed_methods, "--allowed-methods"));
  }
  if (!f.allowed_headers.empty()) {
    ASSIGN_OR_RETURN(s->cors.allowed_headers, JsonList(f.allowed_headers, "--allowed-headers"));
  }
  static const char* kLevels[] = {"critical", "error", "warning", "info", "debug", "trace"};
  if (std::find(std::begin(kLevels), std::end(kLevels), f.uvicorn_log_level) == std::end(kLevels)) {
    return InvalidArgument(
        "--uvicorn-log-level must be one of critical, error, warning, info, debug, trace");
  }
  // uvicorn's access log is at INFO.
  s->access_log = !f.disable_access_log && f.uvicorn_log_level != "critical" &&
                  f.uvicorn_log_level != "error" && f.uvicorn_log_level != "warning";
  for (size_t at = 0; at < f.access_log_exclude.size();) {
    size_t comma = f.access_log_exclude.find(',', at);
    std::string p = f.access_log_exclude.substr(at, comma - at);
    if (!p.empty()) s->access_log_exclude.push_back(p);
    at = comma == std::string::npos ? f.access_log_exclude.size() : comma + 1;
  }
  mo.log_requests = f.log_requests && !f.disable_log_requests;
  if (f.enable_auto_tool_choice && f.tool_call_parser.empty()) {
    return InvalidArgument("--enable-auto-tool-choice requires --tool-call-parser");
  }
  if (!f.tool_call_parser.empty())
    RETURN_IF_ERROR(ToolCallFormatNamed(f.tool_call_parser).status());
  mo.enable_auto_tool_choice = f.enable_auto_tool_choice;
  mo.tool_call_parser = f.tool_call_parser;
  mo.exclude_tools_when_tool_choice_none = f.exclude_tools_when_tool_choice_none;
  if (s->tls_cert_file.empty() != s->tls_key_file.empty()) {
    return InvalidArgument("--ssl-certfile and --ssl-keyfile go together");
  }
  RETURN_IF_ERROR(ApplyHttpLimitFlags(f.http_limits, &s->http));
  if (!api_key_env.empty() && s->api_keys.empty()) s->api_keys.emplace_back(api_key_env);
  return Status();
}

bool LooksLikeHubId(const std::string& m) {
  if (m.empty() || m[0] == '/' || m[0] == '.' || m[0] == '~') return false;
  size_t slash = m.find('/');
  return slash != std::string::npos && m.find('/', slash + 1) == std::string::npos;
}

std::string OciModelName(const std::string& ref) {
  std::string r = ref.substr(0, ref.find('@'));
  size_t slash = r.rfind('/');
  std::string last = slash == std::string::npos ? r : r.substr(slash + 1);
  size_t colon = last.find(':');
  return colon == std::string::npos ? last : last.substr(0, colon);
}

}  // namespace modelcar::serve
