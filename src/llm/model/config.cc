#include "llm/model/config.h"

#include <nlohmann/json.hpp>

namespace modelcar::llm {
namespace {

using nlohmann::json;

Status Field(std::string_view what, std::string_view field, std::string_view msg) {
  return InvalidArgument(std::string(what) + ": field \"" + std::string(field) + "\" " +
                         std::string(msg));
}

Status GetInt(const json& j, const char* key, std::string_view what, int* out, bool required,
              int min_value = 1) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return required ? Field(what, key, "is missing") : Status();
  }
  if (!it->is_number_integer()) return Field(what, key, "is not an integer");
  int64_t v = it->get<int64_t>();
  if (v < min_value || v > (int64_t{1} << 30)) return Field(what, key, "is out of range");
  *out = static_cast<int>(v);
  return Status();
}

template <typename T>
Status GetNum(const json& j, const char* key, std::string_view what, std::optional<T>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status();
  if (!it->is_number()) return Field(what, key, "is not a number");
  *out = it->get<T>();
  return Status();
}

Status GetIds(const json& j, const char* key, std::string_view what, std::vector<int>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status();
  auto one = [&](const json& v) -> Status {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1 << 30)) {
      return Field(what, key, "holds an invalid token id");
    }
    out->push_back(v.get<int>());
    return Status();
  };
  if (it->is_array()) {
    for (auto& v : *it) RETURN_IF_ERROR(one(v));
    return Status();
  }
  return one(*it);
}

Result<json> Parse(std::string_view text, std::string_view what) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) return InvalidArgument(std::string(what) + ": not a JSON object");
    return j;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": not valid JSON: " + e.what());
  }
}

}  // namespace

Result<ModelConfig> ParseModelConfig(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(json j, Parse(text, what));
  ModelConfig c;
  try {
    if (auto a = j.find("architectures");
        a != j.end() && a->is_array() && !a->empty() && (*a)[0].is_string()) {
      c.architecture = (*a)[0].get<std::string>();
    }
    if (auto m = j.find("model_type"); m != j.end() && m->is_string()) {
      c.model_type = m->get<std::string>();
    }
    if (c.architecture == "Qwen2ForCausalLM" ||
        (c.architecture.empty() && c.model_type == "qwen2")) {
      c.arch = Arch::kQwen2;
      c.attention_bias = true;
    } else if (c.architecture == "Qwen3ForCausalLM" ||
               (c.architecture.empty() && c.model_type == "qwen3")) {
      c.arch = Arch::kQwen3;
      c.qk_norm = true;
    } else if (c.architecture == "LlamaForCausalLM" ||
               (c.architecture.empty() && c.model_type == "llama")) {
      c.arch = Arch::kLlama;
    } else {
      return Unimplemented(std::string(what) + ": architecture \"" + c.architecture +
                           "\" (model_type \"" + c.model_type +
                           "\") is not supported; supported: Qwen2ForCausalLM, "
                           "Qwen3ForCausalLM, LlamaForCausalLM");
    }
    if (c.architecture.empty()) c.architecture = c.model_type;
    RETURN_IF_ERROR(GetInt(j, "hidden_size", what, &c.hidden_size, true));
    RETURN_IF_ERROR(GetInt(j, "intermediate_size", what, &c.intermediate_size, true));
    RETURN_IF_ERROR(GetInt(j, "num_hidden_layers", what, &c.num_layers, true));
    RETURN_IF_ERROR(GetInt(j, "num_attention_heads", what, &c.num_heads, true));
    c.num_kv_heads = c.num_heads;
    RETURN_IF_ERROR(GetInt(j, "num_key_value_heads", what, &c.num_kv_heads, false));
    RETURN_IF_ERROR(GetInt(j, "vocab_size", what, &c.vocab_size, true));
    RETURN_IF_ERROR(GetInt(j, "max_position_embeddings", what, &c.max_position_embeddings, true));
    if (c.hidden_size % c.num_heads != 0 && !j.contains("head_dim")) {
      return Field(what, "hidden_size", "is not a multiple of num_attention_heads");
    }
    c.head_dim = c.hidden_size / c.num_heads;
    RETURN_IF_ERROR(GetInt(j, "head_dim", what, &c.head_dim, false));
    if (c.head_dim % 2 != 0) return Field(what, "head_dim", "must be even for RoPE");
    if (c.num_heads % c.num_kv_heads != 0) {
      return Field(what, "num_key_value_heads", "does not divide num_attention_heads");
    }
    std::optional<double> d;
    RETURN_IF_ERROR(GetNum(j, "rope_theta", what, &d));
    if (d) c.rope_theta = *d;
    if (!(c.rope_theta > 0)) return Field(what, "rope_theta", "must be positive");
    d.reset();
    RETURN_IF_ERROR(GetNum(j, "rms_norm_eps", what, &d));
    if (d) c.rms_norm_eps = *d;
    if (!(c.rms_norm_eps > 0 && c.rms_norm_eps < 1))
      return Field(what, "rms_norm_eps", "out of range");
    if (auto t = j.find("tie_word_embeddings"); t != j.end() && t->is_boolean()) {
      c.tie_word_embeddings = t->get<bool>();
    }
    if (auto b = j.find("attention_bias"); b != j.end() && b->is_boolean()) {
      c.attention_bias = b->get<bool>();
    }
    if (auto b = j.find("mlp_bias"); b != j.end() && b->is_boolean() && b->get<bool>()) {
      return Unimplemented(std::string(what) + ": \"mlp_bias\": true is not supported");
    }
    if (auto r = j.find("rope_scaling"); r != j.end() && !r->is_null()) {
      return Unimplemented(std::string(what) + ": \"rope_scaling\" is not supported");
    }
    if (auto s = j.find("use_sliding_window"); s != j.end() && s->is_boolean() && s->get<bool>()) {
      return Unimplemented(std::string(what) + ": \"use_sliding_window\": true is not supported");
    }
    if (auto act = j.find("hidden_act");
        act != j.end() && act->is_string() && act->get<std::string>() != "silu") {
      return Unimplemented(std::string(what) + ": \"hidden_act\" \"" + act->get<std::string>() +
                           "\" is not supported (only silu)");
    }
    if (auto t = j.find("torch_dtype"); t != j.end() && t->is_string()) {
      std::string s = t->get<std::string>();
      if (s == "bfloat16")
        c.dtype = DType::kBF16;
      else if (s == "float16")
        c.dtype = DType::kF16;
      else if (s == "float32")
        c.dtype = DType::kF32;
      else
        return Field(what, "torch_dtype", "\"" + s + "\" is not supported");
    }
    int bos = 0;
    if (j.contains("bos_token_id") && !j["bos_token_id"].is_null()) {
      RETURN_IF_ERROR(GetInt(j, "bos_token_id", what, &bos, true, 0));
      c.bos_token_id = bos;
    }
    RETURN_IF_ERROR(GetIds(j, "eos_token_id", what, &c.eos_token_ids));
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": " + e.what());
  }
  return c;
}

Result<GenerationConfig> ParseGenerationConfig(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(json j, Parse(text, what));
  GenerationConfig g;
  try {
    if (auto s = j.find("do_sample"); s != j.end() && s->is_boolean()) g.do_sample = s->get<bool>();
    RETURN_IF_ERROR(GetNum(j, "temperature", what, &g.temperature));
    RETURN_IF_ERROR(GetNum(j, "top_k", what, &g.top_k));
    RETURN_IF_ERROR(GetNum(j, "top_p", what, &g.top_p));
    RETURN_IF_ERROR(GetNum(j, "min_p", what, &g.min_p));
    RETURN_IF_ERROR(GetNum(j, "repetition_penalty", what, &g.repetition_penalty));
    int bos = 0;
    if (j.contains("bos_token_id") && !j["bos_token_id"].is_null()) {
      RETURN_IF_ERROR(GetInt(j, "bos_token_id", what, &bos, true, 0));
      g.bos_token_id = bos;
    }
    RETURN_IF_ERROR(GetIds(j, "eos_token_id", what, &g.eos_token_ids));
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": " + e.what());
  }
  return g;
}

}  // namespace modelcar::llm
