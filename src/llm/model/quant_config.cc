#include "llm/model/quant_config.h"

#include <fmt/format.h>

namespace modelcar::llm {
namespace {

using nlohmann::json;

Status Bad(std::string_view what, const std::string& msg) {
  return Unimplemented(std::string(what) + ": quantization_config: " + msg);
}

// The first of `keys` present: an integer, a bool or a string.
const json* First(const json& q, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (auto it = q.find(k); it != q.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

Status Int(const json& q, std::initializer_list<const char*> keys, std::string_view what,
           int* out) {
  const json* v = First(q, keys);
  if (!v) return Status();
  if (!v->is_number_integer()) {
    return InvalidArgument(std::string(what) + ": quantization_config." + *keys.begin() +
                           " is not an integer");
  }
  *out = v->get<int>();
  return Status();
}

Status Bool(const json& q, const char* key, std::string_view what, bool* out) {
  const json* v = First(q, {key});
  if (!v) return Status();
  if (!v->is_boolean()) {
    return InvalidArgument(std::string(what) + ": quantization_config." + key +
                           " is not a boolean");
  }
  *out = v->get<bool>();
  return Status();
}

std::string Str(const json& q, std::initializer_list<const char*> keys) {
  const json* v = First(q, keys);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

Status CheckGroup(const QuantConfig& c, std::string_view what) {
  if (c.group_size == -1) return Status();
  if (c.group_size <= 0 || c.group_size % 32 != 0) {
    return Bad(what, fmt::format("group_size {} is not supported (-1 or a positive multiple of 32)",
                                 c.group_size));
  }
  return Status();
}

}  // namespace

std::string_view QuantMethodName(QuantConfig::Method m) {
  switch (m) {
    case QuantConfig::Method::kGptq:
      return "gptq";
    case QuantConfig::Method::kAwq:
      return "awq";
    case QuantConfig::Method::kInt8:
      return "int8";
    case QuantConfig::Method::kNone:
      break;
  }
  return "none";
}

Result<QuantConfig::Method> ParseQuantMethod(std::string_view name) {
  for (auto m : {QuantConfig::Method::kNone, QuantConfig::Method::kGptq, QuantConfig::Method::kAwq,
                 QuantConfig::Method::kInt8}) {
    if (name == QuantMethodName(m)) return m;
  }
  return InvalidArgument("quantization \"" + std::string(name) +
                         "\" is not supported (int8, gptq, awq or none)");
}

Status ParseQuantConfig(const json& q, std::string_view what, QuantConfig* out) {
  if (!q.is_object()) {
    return InvalidArgument(std::string(what) + ": quantization_config is not an object");
  }
  const std::string method = Str(q, {"quant_method"});
  QuantConfig c;
  if (method == "gptq") {
    c.method = QuantConfig::Method::kGptq;
    c.bits = 0;
    RETURN_IF_ERROR(Int(q, {"bits"}, what, &c.bits));
    c.group_size = -1;
    RETURN_IF_ERROR(Int(q, {"group_size"}, what, &c.group_size));
    RETURN_IF_ERROR(Bool(q, "desc_act", what, &c.desc_act));
    RETURN_IF_ERROR(Bool(q, "sym", what, &c.sym));
    const std::string format = Str(q, {"checkpoint_format", "format"});
    if (format.empty() || format == "gptq") {
      c.zero_offset = 1;
    } else if (format != "gptq_v2") {
      return Bad(what, "checkpoint_format \"" + format + "\" is not supported (gptq or gptq_v2)");
    }
    bool flag = false;
    RETURN_IF_ERROR(Bool(q, "is_marlin_format", what, &flag));
    if (flag) return Bad(what, "is_marlin_format true is not supported");
    RETURN_IF_ERROR(Bool(q, "lm_head", what, &flag));
    if (flag) return Bad(what, "lm_head true (a quantized LM head) is not supported");
    if (const json* d = First(q, {"dynamic"}); d && !(d->is_object() && d->empty())) {
      return Bad(what, "\"dynamic\" (per-module overrides) is not supported");
    }
  } else if (method == "awq") {
    c.method = QuantConfig::Method::kAwq;
    c.bits = 0;
    RETURN_IF_ERROR(Int(q, {"bits", "w_bit"}, what, &c.bits));
    c.group_size = 0;
    RETURN_IF_ERROR(Int(q, {"group_size", "q_group_size"}, what, &c.group_size));
    std::string version = Str(q, {"version"});
    for (char& ch : version) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!version.empty() && version != "gemm") {
      return Bad(what, "AWQ version \"" + version + "\" is not supported (gemm)");
    }
    bool zero_point = true;
    RETURN_IF_ERROR(Bool(q, "zero_point", what, &zero_point));
    if (!zero_point) return Bad(what, "AWQ zero_point false is not supported");
    if (c.bits != 4) {
      return Bad(what, fmt::format("AWQ bits {} is not supported (4)", c.bits));
    }
    if (const json* m = First(q, {"modules_to_not_convert"}); m) {
      if (!m->is_array()) {
        return InvalidArgument(std::string(what) +
                               ": quantization_config.modules_to_not_convert is not a list");
      }
      for (const json& s : *m) {
        if (s.is_string()) c.modules_to_not_convert.push_back(s.get<std::string>());
      }
    }
  } else {
    return Bad(what, "quant_method \"" + (method.empty() ? q.dump() : method) +
                         "\" is not supported (gptq, awq)");
  }
  if (c.bits != 4 && c.bits != 8) {
    return Bad(what, fmt::format("bits {} is not supported (4 or 8)", c.bits));
  }
  RETURN_IF_ERROR(CheckGroup(c, what));
  *out = c;
  return Status();
}

}  // namespace modelcar::llm
